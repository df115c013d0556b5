package control

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

const (
	// unlimited is what a maxConcurrency of 0 means in arithmetic: the Step
	// Functions ceiling of parallel children.
	unlimited = 10000
	// minute is the period of every CloudWatch datapoint the controller reads.
	minute = time.Minute
	// settle is how long children started under an earlier, higher limit
	// may still run, and be throttled, after a cut: a throttled minute is
	// charged to the highest limit in effect from settle before it to its end.
	settle = time.Minute
	// utilized is the share of a limit the children must have filled for a
	// clean minute to confirm that limit.
	utilized = 0.8
	// firstProbe is the relative size of the first growth step past an
	// expired bound; each clean step doubles it, up to maxProbe.
	firstProbe = 0.02
	// maxProbe is the largest relative step of a probe.
	maxProbe = 0.06
	// farGrowth is the slow-start factor while far below a known bound
	// (farBelow times the limit): GrowthFactor's near one, or with none
	// known, since a step past the capacity costs throttling until seen.
	farGrowth = 2
	farBelow  = 4
	// throttlesPerExcess is about how many throttled calls a minute one
	// child past the capacity causes with a usual retry policy (2 s
	// interval, backoff 2, full jitter: 30 to 35): a minute with no more
	// than that per child in the band past the limit throttled a little.
	throttlesPerExcess = 30
	// escapeProbe is how far past an expired bound clean probes go before
	// slow start takes over again.
	escapeProbe = 0.15
	// approachStep is the largest relative step up toward a throttled
	// bound: the capacity is approached from below, not bisected into.
	approachStep = 0.05
	// steadyMargin and unsteadyMargin are how far above a throughput
	// estimate the capacity may be, from a minute at one limit and from a
	// minute right after a change.
	steadyMargin   = 0.1
	unsteadyMargin = 0.25
	// confirmEfficiency is the share of the running children that must be
	// seen completing at the clean pace for the throughput to confirm a limit.
	confirmEfficiency = 0.9
	// minConfirmations is how many items must finish in the minute for its
	// throughput to confirm anything.
	minConfirmations = 40
	// failingShare is the share of recent items failing for other reasons
	// than throttling above which the limit is not raised.
	failingShare = 0.1
	// settled is how long after its end a minute's datapoint is taken as
	// whole: CloudWatch may still add to a minute for a while.
	settled = minute
	// overrideHold is how long a maxConcurrency set by someone else is left alone.
	overrideHold = time.Hour
	// memory is how far back the state keeps history, ticks and minutes seen.
	memory = time.Hour
)

// Decide returns the settings a run should have at obs.At, given the policy
// cfg and the state st kept from the previous decision. It never reads the
// clock and never fails: on doubt it holds.
//
// The limit moves in three phases. Slow start doubles it, at most one step
// ahead of the highest limit a measured minute has confirmed. A throttled
// minute, charged to the limit in effect when it was measured, cuts to the
// highest confirmed clean limit below it (or Backoff times it, when none is
// known) and brackets the capacity between the two; the controller closes in
// by bisection and holds once the bracket is narrower than twice the Band.
// When no throttling has been seen for RecoveryTime, it probes past the old
// bound in steps that start at 5 % and double while they stay clean.
func Decide(cfg Config, st State, obs Observation) Decision {
	run := obs.Run
	cur := run.Settings
	d := Decision{Old: cur, New: cur}
	st = record(st, obs)
	d.Signals = signals(st, obs)

	if run.Status != maprun.StatusRunning {
		d.Reason = ReasonEnded
		d.Message = fmt.Sprintf("map run is %s: nothing to tune", run.Status)
		d.Learn = learn(&st, obs, cur.MaxConcurrency)
		d.State = remember(st, obs)
		return d
	}

	st.noteUsage(cfg, obs)
	limit, reason, msg := decideLimit(cfg, &st, obs, &d.Signals)
	if to, why, held := capUsage(cfg, &st, obs, cur.MaxConcurrency, limit); held {
		limit, reason, msg = to, ReasonUsage, why
	} else if to != limit {
		msg += fmt.Sprintf(" Capped at %d, the capacity its table's usage tells.", to)
		limit = to
	}
	d.New.MaxConcurrency = limit
	d.Reason, d.Message = reason, msg

	// Late counts may miss failures: the tolerances wait for a live read.
	tol, treason, tmsg := tolerance{cur.ToleratedFailurePercentage, cur.ToleratedFailureCount}, Reason(""), ""
	if !obs.Estimated {
		tol, treason, tmsg = decideTolerance(cfg, &st, obs, d.Reason)
	}
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
	d.Learn = learn(&st, obs, d.New.MaxConcurrency)
	d.State = remember(st, obs)
	return d
}

// record folds the observation into the history: a limit changed by someone
// else, or one we set, is recorded from when it was first seen. The slices
// are copied, so that the caller's state is never written through.
func record(st State, obs Observation) State {
	cur := obs.Run.Settings.MaxConcurrency
	st.History, st.Ticks, st.Seen = slices.Clone(st.History), slices.Clone(st.Ticks), slices.Clone(st.Seen)
	if ch := obs.Run.Children(); !obs.Estimated {
		st.Ticks = append(st.Ticks, Tick{At: obs.At, Running: ch.Running, Done: ch.Done(), Failed: ch.Failures()})
	}
	if len(st.History) == 0 {
		from := obs.At
		if !obs.Run.StartDate.IsZero() && obs.Run.StartDate.Before(from) {
			from = obs.Run.StartDate
		}
		st.History = []Setting{{From: from, MaxConcurrency: cur}}
		st.Phase = PhaseSlowStart
		st.Start = obs.Run.Settings
		st.SharedBy = obs.Shared.runs() // those sharing from the start did not join it
		return st
	}
	if st.History[len(st.History)-1].MaxConcurrency != cur {
		// Not what maptuner last set: someone changed it.
		st.History = append(st.History, Setting{From: obs.At, MaxConcurrency: cur})
		st.OverrideAt = obs.At
	}
	if obs.Failures.Sampled > 0 {
		st.Sample, st.SampleAt = obs.Failures, obs.At
	}
	return st
}

// Unapplied returns the state to keep when decision d, made from state prev,
// was not applied (a dry run, the off switch, a failed update): what d
// learned from the observation, without what it assumed of its own effect.
func Unapplied(prev State, d Decision) State {
	st := d.State
	if d.New.MaxConcurrency != d.Old.MaxConcurrency && len(st.History) > 0 {
		st.History = st.History[:len(st.History)-1]
	}
	st.CutAt, st.CollapseAt, st.Owed, st.Probes, st.Misses = prev.CutAt, prev.CollapseAt, prev.Owed, prev.Probes, prev.Misses
	st.Raised, st.FailedFast = prev.Raised, prev.FailedFast
	if d.Reason == ReasonBound {
		// The change of bound was not acted on: the next decision takes
		// it in again.
		st.Bound, st.BoundAt, st.Unbounded = prev.Bound, prev.BoundAt, prev.Unbounded
	}
	return st
}

// remember prunes what the state keeps and keeps the counts for the next
// throughput.
func remember(st State, obs Observation) State {
	if !obs.Estimated {
		// Late counts are no base for the next throughput: the next
		// observation counts from the last live one.
		st.Prev, st.PrevAt = obs.Run.Items, obs.At
	}
	horizon := obs.At.Add(-memory)
	i := 0
	for i < len(st.History)-1 && !st.History[i+1].From.After(horizon) {
		i++
	}
	st.History = st.History[i:]
	st.Ticks = thinTicks(slices.DeleteFunc(st.Ticks, func(t Tick) bool { return t.At.Before(horizon) }), obs.At)
	st.Seen = slices.DeleteFunc(st.Seen, func(p Datapoint) bool { return p.Minute.Before(horizon) })
	return st
}
func signals(st State, obs Observation) Signals {
	s := Signals{
		Running:        obs.Run.Children().Running,
		FailurePercent: obs.Run.Items.FailurePercent(),
		ThrottleShare:  obs.Failures.ThrottleShare(),
		LiveSampled:    obs.Live.Sampled,
		LiveThrottled:  obs.Live.Throttled,
	}
	if !st.PrevAt.IsZero() && obs.At.After(st.PrevAt) && !obs.Estimated {
		s.Throughput = float64(obs.Run.Items.Done()-st.Prev.Done()) / obs.At.Sub(st.PrevAt).Seconds()
	}
	for _, p := range obs.Throttles {
		if p.Minute.After(s.NewestMinute) {
			s.NewestMinute, s.NewestValue = p.Minute, p.Value
		}
	}
	return s
}
func decideLimit(cfg Config, st *State, obs Observation, sig *Signals) (int32, Reason, string) {
	cur := obs.Run.Settings.MaxConcurrency
	eff := effective(cur)
	at := obs.At

	if len(st.History) == 1 && st.PrevAt.IsZero() {
		if to, msg, ok := recall(cfg, st, obs); ok {
			return to, ReasonLearned, msg
		}
		if to, msg, ok := hinted(cfg, st, obs); ok {
			return to, ReasonHint, msg
		}
	}
	// A run outside the policy's range that has not finished an item yet
	// starts at its initial limit; one found already under way starts from
	// what its children run now.
	if len(st.History) == 1 && st.PrevAt.IsZero() && (cur == 0 && !cfg.Unlimited || cur != 0 && (cur < cfg.MinConcurrency || cur > cfg.MaxConcurrency)) {
		items := obs.Run.Children()
		if items.Done() == 0 {
			return cfg.InitialConcurrency, ReasonInitial,
				fmt.Sprintf("run started at maxConcurrency %d, outside the policy's [%d, %d]: starting at %d.", cur, cfg.MinConcurrency, cfg.MaxConcurrency, cfg.InitialConcurrency)
		}
		if cur == 0 {
			to := int32(min(max(items.Running, int64(cfg.InitialConcurrency), int64(cfg.MinConcurrency)), int64(cfg.MaxConcurrency)))
			return to, ReasonClamped, fmt.Sprintf("run under way with no limit and %d children running: limited to %d, within the policy's [%d, %d].", items.Running, to, cfg.MinConcurrency, cfg.MaxConcurrency)
		}
	}
	if !st.OverrideAt.IsZero() && at.Sub(st.OverrideAt) < overrideHold {
		return cur, ReasonOverride, fmt.Sprintf("maxConcurrency was set to %d outside maptuner at %s: leaving it alone until %s.", cur, st.OverrideAt.UTC().Format("15:04"), st.OverrideAt.Add(overrideHold).UTC().Format("15:04"))
	}
	if cur != 0 && (cur < cfg.MinConcurrency || cur > cfg.MaxConcurrency) {
		to := min(max(cur, cfg.MinConcurrency), cfg.MaxConcurrency)
		return to, ReasonClamped, fmt.Sprintf("maxConcurrency %d is outside the policy's [%d, %d]: clamped to %d.", cur, cfg.MinConcurrency, cfg.MaxConcurrency, to)
	}

	if limit, msg, ok := shareChanged(cfg, st, obs); ok {
		return limit, ReasonShared, msg
	}
	if limit, msg, ok := boundChanged(cfg, st, obs); ok {
		return limit, ReasonBound, msg
	}

	// Throttle datapoints not acted on yet, each charged to the limits in
	// effect while it was measured.
	points := slices.Clone(obs.Throttles)
	slices.SortFunc(points, func(a, b Datapoint) int { return a.Minute.Compare(b.Minute) })
	target := int32(math.MaxInt32)
	for _, p := range points {
		i, seen := slices.BinarySearchFunc(st.Seen, p, func(a, b Datapoint) int { return a.Minute.Compare(b.Minute) })
		if seen && (p.Value <= cfg.ThrottleThreshold || st.Seen[i].Value > cfg.ThrottleThreshold) {
			continue // judged for good; one judged clean is judged again if it turns out throttled
		}
		if p.Minute.Before(st.BoundAt) {
			continue // measured under the bound before its change: answered by it
		}
		if !judgeMinute(cfg, st, obs, p, sig, &target) {
			continue // not settled yet: judged again each time it is read
		}
		if seen {
			st.Seen[i] = p
		} else {
			st.Seen = slices.Insert(st.Seen, i, p)
		}
	}
	if st.Hi > 0 && st.Lo >= st.Hi {
		st.Hi = 0 // a clean minute above the bound: the capacity rose
	}
	if owed := max(st.Owed, st.Lo); st.Owed > 0 && (owed >= eff || st.Hi == 0) {
		st.Owed = 0 // reached, or overtaken by a clean limit
	}
	if owed := max(st.Owed, st.Lo); st.Owed > 0 && owed < target {
		return applyCut(cfg, st, at, eff, owed, ReasonThrottled, fmt.Sprintf("continuing the cut owed since %s", st.CutAt.UTC().Format("15:04")))
	}
	if target < eff {
		return applyCut(cfg, st, at, eff, target, ReasonThrottled,
			fmt.Sprintf("%.0f throttles in the minute from %s, when the limit was up to %d", sig.ThrottleValue, sig.ThrottledMinute.UTC().Format("15:04"), sig.LimitThen))
	}

	if obs.Estimated {
		return cur, ReasonLateCounts, fmt.Sprintf("from late counts (%d items failed): nothing to cut in the throttle datapoints, holding %d until the next live read.", obs.Run.Items.Failures(), cur)
	}
	if limit, msg, ok := headroomCut(cfg, st, obs); ok {
		return limit, ReasonHeadroom, msg
	}
	if limit, reason, msg, ok := liveCut(cfg, st, obs, sig); ok {
		return limit, reason, msg
	}

	if limit, msg, ok := collapse(cfg, st, obs); ok {
		return limit, ReasonCollapse, msg
	}
	if limit, msg, ok := drained(st, obs); ok {
		return limit, ReasonCollapse, msg
	}
	if limit, msg, ok := kneeCut(cfg, st, obs); ok {
		return limit, ReasonKnee, msg
	}

	// Failed children classified as throttled: charge them to the highest
	// limit of the last few minutes (they failed after their retries).
	newFailures := obs.Run.Items.Failures() - st.Prev.Failures()
	if !st.PrevAt.IsZero() && newFailures > 0 && obs.Failures.Sampled > 0 && obs.Failures.ThrottleShare() >= 0.5 {
		st.ThrottledAt = at
		then := limitDuring(st.History, at.Add(-cfg.StaleAfter), at)
		sig.LimitThen = then
		why := fmt.Sprintf("%d new failed items, %d of %d sampled failures throttled, limit up to %d recently", newFailures, obs.Failures.Throttle, obs.Failures.Sampled, then)
		if answered(st, then, at.Add(-2*minute)) {
			return cur, ReasonThrottleFails, why + fmt.Sprintf(": answered by the cut at %s, holding %d.", st.CutAt.UTC().Format(time.TimeOnly), cur)
		}
		est := estimate(st, at.Add(-minute), at.Add(-minute-settle), at)
		sig.Capacity = est.value
		t := throttledAt(cfg, st, obs, then, est, false)
		if st.Lo > 0 {
			// Items are being lost: straight back to the last clean limit.
			t = min(t, st.Lo)
		}
		if t < eff {
			return applyCut(cfg, st, at, eff, t, ReasonThrottleFails, why)
		}
		return cur, ReasonThrottleFails, why + fmt.Sprintf(": already cut to %d, holding.", cur)
	}

	if limit, msg, ok := othersThrottled(cfg, st, obs); ok {
		return limit, ReasonShared, msg
	}

	// Without metrics, a limit the children filled for a whole minute with
	// no new failure and no child seen throttled is as confirmed as it can be.
	if !obs.MetricsWatched && newFailures == 0 && obs.Live.Throttled == 0 && !st.PrevAt.IsZero() {
		if l, ok := steadyDuring(st.History, at.Add(-minute), at); ok && l > st.Lo && float64(obs.Run.Children().Running) >= utilized*float64(l) {
			st.Lo, st.LoAt = l, at
		}
	}
	live := liveConfirm(st, obs, newFailures)
	counts := !live && kneeConfirm(st, obs, newFailures)
	confirmByThroughput(st, obs)
	if st.Hi > 0 && at.Sub(st.HiAt) >= cfg.RecoveryTime*time.Duration(1<<min(st.Misses, 3)) {
		st.Expired, st.Hi, st.Phase, st.Probes = st.Hi, 0, PhaseProbe, 0
	}
	limit, reason, msg := grow(cfg, st, obs, sig, live || counts)
	switch {
	case live && limit != cur:
		msg = fmt.Sprintf("live signal: %d sampled running children, none throttled since %s; %s", obs.Live.Sampled, obs.Live.Since.UTC().Format(time.TimeOnly), msg)
	case counts && limit != cur:
		msg = fmt.Sprintf("live counts: children hold their place at %d as long as below it; %s", effective(cur), msg)
	}
	return limit, reason, msg
}
