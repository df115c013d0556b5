package control

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

// unlimited is what a maxConcurrency of 0 means in arithmetic: the Step
// Functions ceiling of parallel children.
const unlimited = 10000

// minute is the period of every CloudWatch datapoint the controller reads.
const minute = time.Minute

// Decide returns the settings a run should have at obs.At, given the policy
// cfg and the state st kept from the previous decision. It never reads the
// clock and never fails: on doubt it holds.
func Decide(cfg Config, st State, obs Observation) Decision {
	run := obs.Run
	cur := run.Settings
	d := Decision{Old: cur, New: cur}
	st = observe(st, obs)
	d.Signals = signals(st, obs)

	if run.Status != maprun.StatusRunning {
		d.Reason = ReasonEnded
		d.Message = fmt.Sprintf("map run is %s: nothing to tune", run.Status)
		d.State = remember(st, obs)
		return d
	}

	limit, reason, msg := decideLimit(cfg, &st, obs, &d.Signals)
	d.New.MaxConcurrency = limit
	d.Reason, d.Message = reason, msg

	tol, treason, tmsg := decideTolerance(cfg, &st, obs, d.Reason)
	if treason == ReasonFailFast || st.FailedFast {
		// A run that is failing on purpose gains nothing from more children.
		d.New.MaxConcurrency = min(d.New.MaxConcurrency, cur.MaxConcurrency)
		if d.New.MaxConcurrency == 0 {
			d.New.MaxConcurrency = cur.MaxConcurrency
		}
		d.Reason, d.Message = ReasonFailFast, fmt.Sprintf("fail-fast is on for this run: holding maxConcurrency at %d.", d.New.MaxConcurrency)
	}
	if tol != (tolerance{cur.ToleratedFailurePercentage, cur.ToleratedFailureCount}) {
		d.New.ToleratedFailurePercentage, d.New.ToleratedFailureCount = tol.pct, tol.count
		d.ToleranceReason = treason
		d.Message += " " + tmsg
	}
	d.Update = d.New != d.Old
	if d.New.MaxConcurrency != cur.MaxConcurrency {
		st.History = append(st.History, Setting{From: obs.At, MaxConcurrency: d.New.MaxConcurrency})
	}
	d.State = remember(st, obs)
	return d
}

// observe folds the observed settings into the history: a limit changed by
// someone else, or one we set, is recorded from when it was first seen.
func observe(st State, obs Observation) State {
	cur := obs.Run.Settings.MaxConcurrency
	if len(st.History) == 0 {
		from := obs.At
		if !obs.Run.StartDate.IsZero() && obs.Run.StartDate.Before(from) {
			from = obs.Run.StartDate
		}
		st.History = []Setting{{From: from, MaxConcurrency: cur}}
		st.Phase = PhaseSlowStart
		st.Start = obs.Run.Settings
		return st
	}
	if st.History[len(st.History)-1].MaxConcurrency != cur {
		st.History = append(slices.Clone(st.History), Setting{From: obs.At, MaxConcurrency: cur})
	}
	return st
}

// remember prunes the history and keeps the counts for the next throughput.
func remember(st State, obs Observation) State {
	st.Prev, st.PrevAt = obs.Run.Items, obs.At
	// Keep what a datapoint up to an hour late can still refer to.
	horizon := obs.At.Add(-time.Hour)
	i := 0
	for i < len(st.History)-1 && !st.History[i+1].From.After(horizon) {
		i++
	}
	st.History = slices.Clone(st.History[i:])
	return st
}

func signals(st State, obs Observation) Signals {
	s := Signals{
		Running:        obs.Run.Items.Running,
		FailurePercent: obs.Run.Items.FailurePercent(),
		ThrottleShare:  obs.Failures.ThrottleShare(),
	}
	if !st.PrevAt.IsZero() && obs.At.After(st.PrevAt) {
		s.Throughput = float64(obs.Run.Items.Done()-st.Prev.Done()) / obs.At.Sub(st.PrevAt).Seconds()
	}
	for _, p := range obs.Throttles {
		if p.Minute.After(s.NewestMinute) {
			s.NewestMinute, s.NewestValue = p.Minute, p.Value
		}
	}
	return s
}

// effective turns a maxConcurrency into a number of children: 0 is unlimited.
func effective(limit int32) int32 {
	if limit <= 0 || limit > unlimited {
		return unlimited
	}
	return limit
}

// limitDuring is the highest limit in effect at any time in [from, to).
// Before the first recorded setting, the first one is assumed.
func limitDuring(h []Setting, from, to time.Time) int32 {
	var best int32
	for i, s := range h {
		end := time.Time{}
		if i+1 < len(h) {
			end = h[i+1].From
		}
		if s.From.Before(to) && (end.IsZero() || end.After(from)) || i == 0 && !s.From.Before(to) {
			best = max(best, effective(s.MaxConcurrency))
		}
	}
	return best
}

// steadyDuring reports whether one limit covered all of [from, to), and which.
func steadyDuring(h []Setting, from, to time.Time) (int32, bool) {
	for i, s := range h {
		end := time.Time{}
		if i+1 < len(h) {
			end = h[i+1].From
		}
		if !s.From.After(from) && (end.IsZero() || !end.Before(to)) {
			return effective(s.MaxConcurrency), true
		}
	}
	return 0, false
}

func decideLimit(cfg Config, st *State, obs Observation, sig *Signals) (int32, Reason, string) {
	cur := obs.Run.Settings.MaxConcurrency
	eff := effective(cur)
	at := obs.At

	// A run starting outside the policy's range starts at its initial limit.
	if len(st.History) == 1 && (cur == 0 && !cfg.Unlimited || cur != 0 && (cur < cfg.MinConcurrency || cur > cfg.MaxConcurrency)) {
		return cfg.InitialConcurrency, ReasonInitial,
			fmt.Sprintf("run started at maxConcurrency %d, outside the policy's [%d, %d]: starting at %d.", cur, cfg.MinConcurrency, cfg.MaxConcurrency, cfg.InitialConcurrency)
	}
	if cur != 0 && (cur < cfg.MinConcurrency || cur > cfg.MaxConcurrency) {
		to := min(max(cur, cfg.MinConcurrency), cfg.MaxConcurrency)
		return to, ReasonClamped, fmt.Sprintf("maxConcurrency %d is outside the policy's [%d, %d]: clamped to %d.", cur, cfg.MinConcurrency, cfg.MaxConcurrency, to)
	}

	// Throttle datapoints, each charged to the limit in effect when measured.
	points := slices.Clone(obs.Throttles)
	slices.SortFunc(points, func(a, b Datapoint) int { return a.Minute.Compare(b.Minute) })
	target := int32(math.MaxInt32)
	for _, p := range points {
		if !p.Minute.After(st.Seen) && !st.Seen.IsZero() {
			continue
		}
		st.Seen = p.Minute
		if p.Value > cfg.ThrottleThreshold {
			then := limitDuring(st.History, p.Minute, p.Minute.Add(minute))
			if t := cut(cfg, then); t < target {
				target = t
				sig.ThrottledMinute, sig.ThrottleValue, sig.LimitThen = p.Minute, p.Value, then
			}
			continue
		}
		if l, ok := steadyDuring(st.History, p.Minute, p.Minute.Add(minute)); ok && l > st.CleanLimit {
			st.CleanLimit = l
		}
	}
	if st.Owed > 0 && st.Owed < eff && st.Owed < target {
		target = st.Owed
		sig.LimitThen = st.WMax
		return applyCut(cfg, st, at, eff, target, ReasonThrottled, fmt.Sprintf("continuing the cut owed since %s", st.CutAt.UTC().Format("15:04")))
	}
	if target < eff {
		return applyCut(cfg, st, at, eff, target, ReasonThrottled,
			fmt.Sprintf("%.0f throttles in the minute from %s, when the limit was %d", sig.ThrottleValue, sig.ThrottledMinute.UTC().Format("15:04"), sig.LimitThen))
	}

	// Failed children classified as throttled: charge them to the highest
	// limit of the last few minutes (they failed after their retries).
	newFailures := obs.Run.Items.Failures() - st.Prev.Failures()
	if !st.PrevAt.IsZero() && newFailures > 0 && obs.Failures.Sampled > 0 && obs.Failures.ThrottleShare() >= 0.5 {
		then := limitDuring(st.History, at.Add(-cfg.StaleAfter), at)
		sig.LimitThen = then
		why := fmt.Sprintf("%d new failed items, %d of %d sampled failures throttled, limit up to %d recently", newFailures, obs.Failures.Throttle, obs.Failures.Sampled, then)
		if t := cut(cfg, then); t < eff {
			return applyCut(cfg, st, at, eff, t, ReasonThrottleFails, why)
		}
		return cur, ReasonThrottleFails, why + fmt.Sprintf(": already cut to %d, holding.", cur)
	}

	// Without metrics, a limit that ran a whole minute with no new failure
	// is as confirmed as it can be.
	if !obs.MetricsWatched && newFailures == 0 && !st.PrevAt.IsZero() {
		if l, ok := steadyDuring(st.History, at.Add(-minute), at); ok && l > st.CleanLimit {
			st.CleanLimit = l
		}
	}

	// No throttling to act on: grow, if the data allow it.
	if obs.MetricsWatched && (sig.NewestMinute.IsZero() || at.Sub(sig.NewestMinute) > cfg.StaleAfter) {
		return cur, ReasonMissingData, missingMessage(cur, sig.NewestMinute, at)
	}
	if cur == 0 {
		return cur, ReasonAtCeiling, "maxConcurrency is unlimited and nothing throttles: holding."
	}
	items := obs.Run.Items
	if items.Pending == 0 {
		return cur, ReasonIdle, fmt.Sprintf("no items are pending (%d running): a higher limit than %d would not be used.", items.Running, cur)
	}
	if float64(items.Running) < 0.5*float64(cur) {
		return cur, ReasonIdle, fmt.Sprintf("only %d children run under a limit of %d: holding.", items.Running, cur)
	}
	if cur >= cfg.MaxConcurrency {
		if cfg.Unlimited && st.WMax == 0 {
			return 0, ReasonAtCeiling, fmt.Sprintf("at the policy's maximum %d with no throttling seen and unlimited allowed: lifting the limit.", cfg.MaxConcurrency)
		}
		return cur, ReasonAtCeiling, fmt.Sprintf("at the policy's maximum %d.", cfg.MaxConcurrency)
	}

	var next float64
	var reason Reason
	if st.WMax == 0 {
		// Slow start: at most one unconfirmed step ahead of the highest
		// limit a clean measured minute has confirmed.
		base := max(st.CleanLimit, st.History[0].MaxConcurrency, cfg.InitialConcurrency)
		if float64(cur) > float64(base)*cfg.GrowthFactor*(1+cfg.Band) {
			return cur, ReasonAwaitSignal, fmt.Sprintf("limit %d is a step ahead of the highest confirmed clean limit %d: waiting for its metrics.", cur, st.CleanLimit)
		}
		next, reason = float64(cur)*cfg.GrowthFactor, ReasonSlowStart
	} else {
		if obs.MetricsWatched && st.Seen.Before(st.CutAt) {
			return cur, ReasonAwaitSignal, fmt.Sprintf("no minute measured since the cut at %s yet: holding %d.", st.CutAt.UTC().Format("15:04"), cur)
		}
		next, reason = cubic(cfg, *st, at), ReasonCubicGrowth
		// Beyond the last throttled limit, probe only one confirmed step at a time.
		if next > float64(st.WMax) {
			next = min(next, float64(max(st.CleanLimit, st.WMax))*cfg.GrowthFactor)
		}
	}
	next = min(next, float64(cur)*cfg.MaxStepUp, float64(cfg.MaxConcurrency))
	to := int32(math.Ceil(next))
	if to <= cur || float64(to-cur) < cfg.Band*float64(cur) {
		return cur, ReasonWithinBand, fmt.Sprintf("target %d is within %.0f%% of %d: holding.", to, 100*cfg.Band, cur)
	}
	if reason == ReasonSlowStart {
		return to, reason, fmt.Sprintf("no throttling seen: growing %d to %d (x%.2g).", cur, to, cfg.GrowthFactor)
	}
	return to, reason, fmt.Sprintf("no fresh throttling: growing %d to %d on the cubic curve toward %d.", cur, to, st.WMax)
}

func missingMessage(cur int32, newest, at time.Time) string {
	if newest.IsZero() {
		return fmt.Sprintf("no throttle datapoint yet: holding %d.", cur)
	}
	return fmt.Sprintf("newest throttle datapoint is from %s, %s old: holding %d.", newest.UTC().Format("15:04"), at.Sub(newest).Round(time.Second), cur)
}

// cut is the limit to fall to after throttling at limit then.
func cut(cfg Config, then int32) int32 {
	return max(int32(math.Floor(cfg.Backoff*float64(then))), cfg.MinConcurrency)
}

// applyCut lowers eff toward target, bounded by MaxStepDown, and starts a
// cubic epoch at the limit where throttling was seen.
func applyCut(cfg Config, st *State, at time.Time, eff, target int32, reason Reason, why string) (int32, Reason, string) {
	floor := int32(math.Ceil(float64(eff) * cfg.MaxStepDown))
	to := max(target, floor, cfg.MinConcurrency)
	to = min(to, cfg.MaxConcurrency)
	st.Owed = 0
	if to > target && target >= cfg.MinConcurrency {
		st.Owed = target
	}
	st.WMax = int32(math.Ceil(float64(target) / cfg.Backoff))
	st.Phase = PhaseCubic
	st.CutAt = at
	st.CleanLimit = min(st.CleanLimit, to)
	return to, reason, fmt.Sprintf("%s: lowering %d to %d.", why, eff, to)
}

// cubic is CUBIC's window at the instant at: back at WMax after RecoveryTime,
// flat around it, then growing past it.
func cubic(cfg Config, st State, at time.Time) float64 {
	k := cfg.RecoveryTime.Minutes()
	t := at.Sub(st.CutAt).Minutes()
	wmax := float64(st.WMax)
	c := wmax * (1 - cfg.Backoff) / (k * k * k)
	return wmax + c*math.Pow(t-k, 3)
}

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

func decideTolerance(cfg Config, st *State, obs Observation, limitReason Reason) (tolerance, Reason, string) {
	tc := cfg.Tolerance
	items := obs.Run.Items
	cur := tolerance{obs.Run.Settings.ToleratedFailurePercentage, obs.Run.Settings.ToleratedFailureCount}
	failures, pct := items.Failures(), items.FailurePercent()

	if st.FailedFast {
		return cur, "", ""
	}
	if tc.FailFast {
		done := items.Done()
		nonThrottle := float64(failures)
		switch {
		case obs.Failures.Sampled > 0:
			nonThrottle *= 1 - obs.Failures.ThrottleShare()
		case st.WMax > 0 && obs.At.Sub(st.CutAt) < cfg.RecoveryTime:
			nonThrottle = 0 // unclassified failures during throttling: no verdict
		}
		if done >= tc.FailFastMinItems && done > 0 && nonThrottle/float64(done) > tc.FailFastRate {
			st.FailedFast = true
			return tolerance{0, 0}, ReasonFailFast, fmt.Sprintf("Fail-fast: %.0f of %d finished items failed for other reasons than throttling (over %.0f%%): tolerances set to 0 so the run fails now.", nonThrottle, done, 100*tc.FailFastRate)
		}
	}

	baseline := tolerance{max(tc.BaselinePercent, st.Start.ToleratedFailurePercentage), max(tc.BaselineCount, st.Start.ToleratedFailureCount)}
	baseline = baseline.only(tolerance{st.Start.ToleratedFailurePercentage, st.Start.ToleratedFailureCount}, st.Start, tc)
	throttling := limitReason == ReasonThrottled || limitReason == ReasonThrottleFails ||
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
	if st.Raised && obs.At.Sub(st.CutAt) >= cfg.RecoveryTime && failures == st.Prev.Failures() {
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
