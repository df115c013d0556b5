package control

// This file decides the failure tolerances.

import (
	"fmt"
	"math"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

type tolerance struct {
	pct   float64
	count int64
}

// only keeps the fields of want that the run uses and the others of cur.
//
// Each tolerance set is a threshold the run fails past. A run that set only
// a percentage (its count reads 0) would get a new, possibly tighter,
// threshold if the count were set, so the tuner only moves the tolerances a
// run uses; a run that set neither gets the percentage, unless the policy
// speaks only of counts.
func (want tolerance) only(cur tolerance, start maprun.Settings, tc Tolerance) tolerance {
	pctUsed := start.ToleratedFailurePercentage > 0 || start.ToleratedFailureCount == 0 && (tc.BaselinePercent > 0 || tc.CeilingPercent > 0)
	countUsed := start.ToleratedFailureCount > 0 || !pctUsed
	if !pctUsed {
		want.pct = cur.pct
	}
	if !countUsed {
		want.count = cur.count
	}
	return want
}

const (
	// recentWindow is how far back fail-fast and the failing-run hold look
	// at most, and recentItems how many finished items are enough to stop
	// looking further back.
	recentWindow = 3 * time.Minute
	recentItems  = 50
)

// recent returns the items finished and failed since the latest earlier
// observation that leaves at least recentItems finished, or the oldest
// within recentWindow.
func recent(ticks []Tick) (done, failed int64) {
	if len(ticks) < 2 {
		return 0, 0
	}
	last := ticks[len(ticks)-1]
	for i := len(ticks) - 2; i >= 0 && !ticks[i].At.Before(last.At.Add(-recentWindow)); i-- {
		done, failed = last.Done-ticks[i].Done, last.Failed-ticks[i].Failed
		if done >= recentItems {
			break
		}
	}
	return done, failed
}

// otherShare is the share of recent failures not caused by throttling: from
// the newest sample of the last few minutes; none of them during a
// throttling episode; unknown otherwise. Fail-fast takes unknown as 0 (no
// verdict without evidence), the growth hold as 1 (holding is safe).
func otherShare(cfg Config, st State, at time.Time, unknown float64) float64 {
	switch {
	case st.Sample.Sampled > 0 && at.Sub(st.SampleAt) <= recentWindow:
		return 1 - st.Sample.ThrottleShare()
	case !st.ThrottledAt.IsZero() && at.Sub(st.ThrottledAt) < cfg.RecoveryTime:
		return 0
	}
	return unknown
}

// notExceeded keeps the fields of cur where want would set a threshold the
// run has already passed: that would fail it at once.
func (want tolerance) notExceeded(cur tolerance, items maprun.Counts) tolerance {
	if want.pct != cur.pct && want.pct < items.FailurePercent() {
		want.pct = cur.pct
	}
	if want.count != cur.count && want.count < items.Failures() {
		want.count = cur.count
	}
	return want
}
func decideTolerance(cfg Config, st *State, obs Observation, limitReason Reason) (tolerance, Reason, string) {
	want, reason, msg := tolerances(cfg, st, obs, limitReason)
	if reason == ReasonFailFast {
		return want, reason, msg
	}
	cur := tolerance{obs.Run.Settings.ToleratedFailurePercentage, obs.Run.Settings.ToleratedFailureCount}
	if safe := want.notExceeded(cur, obs.Run.Items); safe != want {
		if safe == cur {
			return cur, "", ""
		}
		return safe, reason, fmt.Sprintf("%s (a tolerance below what already failed is left as it was.)", msg)
	}
	return want, reason, msg
}
func tolerances(cfg Config, st *State, obs Observation, limitReason Reason) (tolerance, Reason, string) {
	tc := cfg.Tolerance
	items := obs.Run.Items
	cur := tolerance{obs.Run.Settings.ToleratedFailurePercentage, obs.Run.Settings.ToleratedFailureCount}
	failures, pct := items.Failures(), items.FailurePercent()

	if st.FailedFast {
		return cur, "", ""
	}
	if tc.FailFast && items.Done() >= tc.FailFastMinItems {
		// Judge the last few minutes: a deployment that broke an hour into
		// the job fails its items now, whatever the hour before did.
		done, failed := recent(st.Ticks)
		nonThrottle := float64(failed) * otherShare(cfg, *st, obs.At, 0)
		if done >= recentItems && nonThrottle/float64(done) > tc.FailFastRate {
			st.FailedFast = true
			return tolerance{0, 0}, ReasonFailFast, fmt.Sprintf("Fail-fast: %.0f of the %d items finished in the last minutes failed for other reasons than throttling (over %.0f%%): tolerances set to 0 so the run fails now.", nonThrottle, done, 100*tc.FailFastRate)
		}
	}

	if !tc.RaiseUnset && st.Start.ToleratedFailurePercentage == 0 && st.Start.ToleratedFailureCount == 0 {
		// The run's definition fails it on its first failed item: that is
		// what the job means, unless the policy says otherwise.
		return cur, "", ""
	}
	baseline := tolerance{max(tc.BaselinePercent, st.Start.ToleratedFailurePercentage), max(tc.BaselineCount, st.Start.ToleratedFailureCount)}
	baseline = baseline.only(tolerance{st.Start.ToleratedFailurePercentage, st.Start.ToleratedFailureCount}, st.Start, tc)
	throttling := limitReason == ReasonThrottled || limitReason == ReasonThrottleFails || limitReason == ReasonLiveThrottled || limitReason == ReasonCollapse ||
		failures > st.Prev.Failures() && obs.Failures.Sampled > 0 && obs.Failures.ThrottleShare() >= 0.5
	if throttling {
		// Headroom of twice what has failed so far, up to the ceiling, never below what is set.
		want := tolerance{
			pct:   min(max(cur.pct, baseline.pct, math.Ceil(2*pct)+1), max(tc.CeilingPercent, cur.pct)),
			count: min(max(cur.count, baseline.count, 2*failures+10), max(tc.CeilingCount, cur.count)),
		}.only(cur, st.Start, tc)
		if want != cur {
			st.Raised = true
			return want, ReasonThrottleFails, fmt.Sprintf("Throttling: tolerances raised to %.4g%% and %d items (%d failed so far).", want.pct, want.count, failures)
		}
		return cur, "", ""
	}
	if !st.Raised && (cur.pct < baseline.pct || cur.count < baseline.count) {
		// Raising to the policy's baseline is always safe.
		want := tolerance{max(cur.pct, baseline.pct), max(cur.count, baseline.count)}
		return want, ReasonBaseline, fmt.Sprintf("Tolerances set to the policy's baseline %.4g%% and %d items.", want.pct, want.count)
	}
	if st.Raised && obs.At.Sub(st.ThrottledAt) >= cfg.RecoveryTime && failures == st.Prev.Failures() {
		// Recovered: back toward the baseline, never below what has already failed.
		floor := tolerance{}
		if failures > 0 {
			floor = tolerance{math.Ceil(pct) + 1, failures + max(10, failures/2)}
		}
		want := tolerance{
			pct:   min(cur.pct, max(baseline.pct, floor.pct)),
			count: min(cur.count, max(baseline.count, floor.count)),
		}.only(cur, st.Start, tc)
		if want == baseline {
			st.Raised = false
		}
		if want != cur {
			return want, ReasonRecovered, fmt.Sprintf("Throttling over: tolerances back to %.4g%% and %d items.", want.pct, want.count)
		}
	}
	return cur, "", ""
}
