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
	// expired bound; each clean step doubles it, up to GrowthFactor.
	firstProbe = 0.05
	// maxProbe is the largest relative step of a probe.
	maxProbe = 0.15
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
	st.Ticks = append(st.Ticks, Tick{At: obs.At, Running: obs.Run.Items.Running, Done: obs.Run.Items.Done(), Failed: obs.Run.Items.Failures()})
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
	st.CutAt, st.Owed, st.Probes, st.Misses = prev.CutAt, prev.Owed, prev.Probes, prev.Misses
	st.Raised, st.FailedFast = prev.Raised, prev.FailedFast
	return st
}

// remember prunes what the state keeps and keeps the counts for the next
// throughput.
func remember(st State, obs Observation) State {
	st.Prev, st.PrevAt = obs.Run.Items, obs.At
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
		Running:        obs.Run.Items.Running,
		FailurePercent: obs.Run.Items.FailurePercent(),
		ThrottleShare:  obs.Failures.ThrottleShare(),
		LiveSampled:    obs.Live.Sampled,
		LiveThrottled:  obs.Live.Throttled,
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

// span is the end of setting i of h: the next one's start, or zero.
func span(h []Setting, i int) time.Time {
	if i+1 < len(h) {
		return h[i+1].From
	}
	return time.Time{}
}

// limitDuring is the highest limit in effect at any time in [from, to).
// Before the first recorded setting, the first one is assumed.
func limitDuring(h []Setting, from, to time.Time) int32 {
	var best int32
	for i, s := range h {
		end := span(h, i)
		if s.From.Before(to) && (end.IsZero() || end.After(from)) || i == 0 && !s.From.Before(to) {
			best = max(best, effective(s.MaxConcurrency))
		}
	}
	return best
}

// raisedBy is how many children the raises in (from, to) added; zero when
// the limit did not go up.
func raisedBy(h []Setting, from, to time.Time) int32 {
	var n int32
	for i := 1; i < len(h); i++ {
		if h[i].From.After(from) && h[i].From.Before(to) {
			n += max(0, effective(h[i].MaxConcurrency)-effective(h[i-1].MaxConcurrency))
		}
	}
	return n
}

// steadyDuring reports whether one limit covered all of [from, to), and which.
func steadyDuring(h []Setting, from, to time.Time) (int32, bool) {
	for i, s := range h {
		end := span(h, i)
		if !s.From.After(from) && (end.IsZero() || !end.Before(to)) {
			return effective(s.MaxConcurrency), true
		}
	}
	return 0, false
}

// used reports whether the children filled limit around the minute from
// m: an observation in the two minutes after m saw them run it.
func used(ticks []Tick, m time.Time, limit int32) bool {
	for _, t := range ticks {
		if t.At.After(m) && !t.At.After(m.Add(2*minute)) && float64(t.Running) >= utilized*float64(limit) {
			return true
		}
	}
	return false
}

// minuteRate returns the throughput, in items per second, and the mean
// number running, of the interval between two observations that best covers
// the minute from m; ok is false when the observations do not cover it.
func minuteRate(ticks []Tick, m time.Time) (rate, running float64, ok bool) {
	mid := m.Add(minute / 2)
	for i := 1; i < len(ticks); i++ {
		a, b := ticks[i-1], ticks[i]
		if a.At.After(mid) || !b.At.After(mid) {
			continue
		}
		span := b.At.Sub(a.At)
		if span < minute/2 || span > 2*minute || b.Done < a.Done {
			return 0, 0, false
		}
		return float64(b.Done-a.Done) / span.Seconds(), float64(a.Running+b.Running) / 2, true
	}
	return 0, 0, false
}

func decideLimit(cfg Config, st *State, obs Observation, sig *Signals) (int32, Reason, string) {
	cur := obs.Run.Settings.MaxConcurrency
	eff := effective(cur)
	at := obs.At

	if len(st.History) == 1 && st.PrevAt.IsZero() {
		if to, msg, ok := recall(cfg, st, obs); ok {
			return to, ReasonLearned, msg
		}
	}
	// A run outside the policy's range that has not finished an item yet
	// starts at its initial limit; one found already under way starts from
	// what its children run now.
	if len(st.History) == 1 && st.PrevAt.IsZero() && (cur == 0 && !cfg.Unlimited || cur != 0 && (cur < cfg.MinConcurrency || cur > cfg.MaxConcurrency)) {
		items := obs.Run.Items
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
		if !judgeMinute(cfg, st, p, at, sig, &target) {
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

	if limit, reason, msg, ok := liveCut(cfg, st, obs, sig); ok {
		return limit, reason, msg
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
		t := throttledAt(cfg, st, then, est, at)
		if st.Lo > 0 {
			// Items are being lost: straight back to the last clean limit.
			t = min(t, st.Lo)
		}
		if t < eff {
			return applyCut(cfg, st, at, eff, t, ReasonThrottleFails, why)
		}
		return cur, ReasonThrottleFails, why + fmt.Sprintf(": already cut to %d, holding.", cur)
	}

	// Without metrics, a limit the children filled for a whole minute with
	// no new failure and no child seen throttled is as confirmed as it can be.
	if !obs.MetricsWatched && newFailures == 0 && obs.Live.Throttled == 0 && !st.PrevAt.IsZero() {
		if l, ok := steadyDuring(st.History, at.Add(-minute), at); ok && l > st.Lo && float64(obs.Run.Items.Running) >= utilized*float64(l) {
			st.Lo, st.LoAt = l, at
		}
	}
	live := liveConfirm(st, obs, newFailures)
	confirmByThroughput(st, obs)
	if st.Hi > 0 && at.Sub(st.HiAt) >= cfg.RecoveryTime*time.Duration(1<<min(st.Misses, 3)) {
		st.Expired, st.Hi, st.Phase, st.Probes = st.Hi, 0, PhaseProbe, 0
	}
	limit, reason, msg := grow(cfg, st, obs, sig, live)
	if live && limit != cur {
		msg = fmt.Sprintf("live signal: %d sampled running children, none throttled since %s; %s", obs.Live.Sampled, obs.Live.Since.UTC().Format(time.TimeOnly), msg)
	}
	return limit, reason, msg
}

// judgeMinute takes in the throttle datapoint p at instant at, lowering
// target to the limit a throttled minute calls for, and reports whether its
// verdict is final. A throttled minute charged to the limits of its time is
// acted on at once and is final; any other verdict is final only once the
// minute has settled, since CloudWatch may still be adding to it: until then
// the minute is judged again each time it is read, whenever the tick falls.
func judgeMinute(cfg Config, st *State, p Datapoint, at time.Time, sig *Signals, target *int32) bool {
	from, to := p.Minute.Add(-settle), p.Minute.Add(minute)
	whole := !at.Before(to.Add(settled))
	if p.Value > cfg.ThrottleThreshold {
		st.ThrottledAt = at
		then := limitDuring(st.History, from, to)
		if answered(st, then, p.Minute) {
			return true // a cut since the minute began, seen live, lowered the limit below then
		}
		if r := raisedBy(st.History, from, to); p.Value <= 3*float64(r) {
			// The children a raise starts all call at once: a burst the
			// downstream may refuse for a moment, a few retries each. The
			// limit is judged by the steady minute after it.
			return whole
		}
		est := estimate(st, p.Minute, from, to)
		if t := throttledAt(cfg, st, then, est, at); t < *target {
			*target = t
			sig.ThrottledMinute, sig.ThrottleValue, sig.LimitThen, sig.Capacity = p.Minute, p.Value, then, est.value
		}
		return true
	}
	if !whole {
		return false
	}
	l, ok := steadyDuring(st.History, p.Minute, to)
	if !ok || !used(st.Ticks, p.Minute, l) {
		return true // a whole minute that confirms nothing
	}
	if l > st.Lo {
		st.Lo, st.LoAt = l, p.Minute
	}
	learnItemTime(st, p.Minute)
	return true
}

// learnItemTime applies Little's law to the clean, busy minute from m: how
// long a child holds its place is the number running over the throughput.
func learnItemTime(st *State, m time.Time) {
	if rate, running, ok := minuteRate(st.Ticks, m); ok && rate > 0 {
		d := running / rate
		if st.ItemTime == 0 {
			st.ItemTime = d
		} else {
			st.ItemTime = 0.7*st.ItemTime + 0.3*d
		}
	}
}

// confirmByThroughput confirms the current limit without waiting for the
// metrics when the last minute's throughput shows every child working:
// running times ItemTime's rate, by Little's law. It needs the limit steady
// for longer than a child holds its place, so that the children a raise
// started have finished once, and enough completions to trust the rate.
func confirmByThroughput(st *State, obs Observation) {
	cur := effective(obs.Run.Settings.MaxConcurrency)
	if st.ItemTime <= 0 || cur <= st.Lo || len(st.Ticks) < 2 {
		return
	}
	last := st.History[len(st.History)-1]
	hold := time.Duration(st.ItemTime*float64(time.Second)) + minute
	if obs.At.Sub(last.From) < hold {
		return
	}
	rate, running, ok := minuteRate(st.Ticks, obs.At.Add(-minute))
	if !ok || rate*60 < minConfirmations || running < utilized*float64(cur) {
		return
	}
	if rate*st.ItemTime >= confirmEfficiency*running {
		st.Lo, st.LoAt = cur, obs.At
	}
}

// capacity is an estimate of the capacity, in children.
type capacity struct {
	// value is the estimate; 0 when nothing finished: a collapse.
	value float64
	// known is false when there is no estimate.
	known bool
	// margin is how far above value the capacity may still be: small when
	// the limit was steady, larger right after a change, when the children
	// of the old limit are still finishing or failing.
	margin float64
}

// estimate is the capacity that the throughput of the minute from m
// suggests, its rate times ItemTime, with the limits of [from, to) telling
// how far to trust it.
func estimate(st *State, m, from, to time.Time) capacity {
	rate, running, ok := minuteRate(st.Ticks, m)
	if !ok || st.ItemTime <= 0 {
		return capacity{}
	}
	if rate*60 < minConfirmations && !(rate == 0 && running >= minConfirmations) {
		return capacity{} // too few items finished to tell, and no collapse either
	}
	c := capacity{value: rate * st.ItemTime, known: true, margin: unsteadyMargin}
	if _, steady := steadyDuring(st.History, from, to); steady {
		c.margin = steadyMargin
	}
	return c
}

// throttledAt takes in throttling seen at limit then, with est the
// capacity the throughput of that minute suggests (negative if unknown): it
// lowers the bound, forgets a clean limit at or above it, and returns the
// limit to fall to: the estimate less the band (Backoff times then when
// there is none), and no lower than a limit confirmed clean below it.
func throttledAt(cfg Config, st *State, then int32, est capacity, at time.Time) int32 {
	if st.Phase == PhaseProbe && st.Probes > 0 {
		st.Misses++
	}
	bound := then
	if est.known {
		bound = max(min(bound, int32(math.Ceil(est.value*(1+est.margin)))), 1)
		if st.Lo < then {
			// Throttled above a clean limit: the capacity lies between.
			bound = max(bound, st.Lo+1)
		}
	}
	if st.Hi == 0 || bound <= st.Hi {
		st.Hi, st.HiAt = bound, at
	}
	if st.Lo >= then || est.known && est.value < float64(st.Lo)*(1-est.margin) {
		st.Lo = 0 // the capacity fell below what was clean
	}
	t := int32(math.Floor(cfg.Backoff * float64(then)))
	if est.known {
		t = min(int32(math.Floor(est.value*(1-cfg.Band))), int32(math.Floor(float64(then)*(1-2*cfg.Band))))
	}
	t = max(t, st.Lo, cfg.MinConcurrency)
	if st.Hi <= st.Lo {
		st.Hi = 0
	}
	return t
}

// applyCut lowers eff toward target, bounded by MaxStepDown.
func applyCut(cfg Config, st *State, at time.Time, eff, target int32, reason Reason, why string) (int32, Reason, string) {
	floor := int32(math.Ceil(float64(eff) * cfg.MaxStepDown))
	to := min(max(target, floor, cfg.MinConcurrency), cfg.MaxConcurrency)
	st.Owed = 0
	if to > target {
		st.Owed = target
	}
	st.Phase, st.CutAt, st.Probes = PhaseBracket, at, 0
	return to, reason, fmt.Sprintf("%s: lowering %d to %d.", why, eff, to)
}

// grow decides when nothing throttled: raise if the data allow it, else
// hold. live reports that a live sample confirmed the limit now: fresh
// evidence that stands for metrics that are late, not for metrics never seen.
func grow(cfg Config, st *State, obs Observation, sig *Signals, live bool) (int32, Reason, string) {
	cur := obs.Run.Settings.MaxConcurrency
	at := obs.At
	if obs.MetricsWatched && (sig.NewestMinute.IsZero() || !live && at.Sub(sig.NewestMinute) > cfg.StaleAfter) {
		if sig.NewestMinute.IsZero() {
			return cur, ReasonMissingData, fmt.Sprintf("no throttle datapoint yet: holding %d.", cur)
		}
		return cur, ReasonMissingData, fmt.Sprintf("newest throttle datapoint is from %s, %s old: holding %d.", sig.NewestMinute.UTC().Format("15:04"), at.Sub(sig.NewestMinute).Round(time.Second), cur)
	}
	if cur == 0 {
		return cur, ReasonAtCeiling, "maxConcurrency is unlimited and nothing throttles: holding."
	}
	items := obs.Run.Items
	if items.Pending == 0 {
		return cur, ReasonIdle, fmt.Sprintf("no items are pending (%d running): a higher limit than %d would not be used.", items.Running, cur)
	}
	if done, failed := recent(st.Ticks); done > 0 && float64(failed)*otherShare(cfg, *st, at, 1) > failingShare*float64(done) {
		return cur, ReasonFailing, fmt.Sprintf("%d of the %d items finished in the last minutes failed: more children would only fail more, holding %d.", failed, done, cur)
	}
	if float64(items.Running) < 0.5*float64(cur) {
		return cur, ReasonIdle, fmt.Sprintf("only %d children run under a limit of %d: holding.", items.Running, cur)
	}
	if cur >= cfg.MaxConcurrency {
		if cfg.Unlimited && st.CutAt.IsZero() {
			return 0, ReasonAtCeiling, fmt.Sprintf("at the policy's maximum %d with no throttling seen and unlimited allowed: lifting the limit.", cfg.MaxConcurrency)
		}
		return cur, ReasonAtCeiling, fmt.Sprintf("at the policy's maximum %d.", cfg.MaxConcurrency)
	}

	var next float64
	var reason Reason
	switch {
	case st.Hi > 0:
		st.Phase = PhaseBracket
		switch {
		case st.Lo == 0:
			return cur, ReasonAwaitSignal, fmt.Sprintf("throttled at %d and no clean limit confirmed below it yet: holding %d.", st.Hi, cur)
		case cur < st.Lo:
			next, reason = float64(st.Lo), ReasonReturn
		case cur > st.Lo:
			return cur, ReasonAwaitSignal, fmt.Sprintf("capacity is between %d (clean) and %d (throttled); %d is not measured yet: holding.", st.Lo, st.Hi, cur)
		case st.Recall > st.Lo && st.Recall < st.Hi:
			// Started below what an earlier run learned, now confirmed: back to it.
			next, reason = float64(st.Recall), ReasonLearned
		case st.Recall > 0 && !st.RecallProbed && st.Lo >= st.Recall && float64(st.Hi) > float64(st.Lo)*(1+recallProbe):
			// Back at it and clean: one small step past it, so that each run
			// of a job learns a little more of its capacity than the last.
			st.RecallProbed = true
			next, reason = float64(st.Lo)*(1+recallProbe), ReasonLearned
		case float64(st.Hi-st.Lo) <= math.Max(1, 2*cfg.Band*float64(st.Lo)):
			return cur, ReasonConverged, fmt.Sprintf("capacity is between %d (clean) and %d (throttled): holding %d.", st.Lo, st.Hi, cur)
		default:
			next, reason = float64(st.Lo)+float64(st.Hi-st.Lo)/2, ReasonBisect
		}
	case st.CutAt.IsZero() && st.Recall == 0:
		// Slow start: one step at a time, each confirmed clean before the next.
		// A run that started from what an earlier one learned probes instead.
		base := max(st.Lo, cfg.InitialConcurrency)
		if start := st.History[0].MaxConcurrency; start >= cfg.MinConcurrency && start <= cfg.MaxConcurrency {
			base = max(base, start) // the run's own setting is trusted as a start
		}
		if float64(cur) > float64(base)*(1+cfg.Band) {
			return cur, ReasonAwaitSignal, fmt.Sprintf("limit %d is not confirmed clean yet (highest confirmed %d): waiting for its metrics.", cur, st.Lo)
		}
		next, reason = float64(cur)*cfg.GrowthFactor, ReasonSlowStart
	default:
		// Probing past an expired bound, one confirmed step at a time.
		st.Phase = PhaseProbe
		if cur > st.Lo {
			return cur, ReasonAwaitSignal, fmt.Sprintf("probing: %d is not confirmed clean yet (highest clean %d): holding.", cur, st.Lo)
		}
		step := min(firstProbe*math.Pow(2, float64(st.Probes)), maxProbe, cfg.GrowthFactor-1)
		next, reason = float64(cur)*(1+step), ReasonProbe
		if cur < st.Expired {
			next = min(next, float64(st.Expired)) // up to the old bound, then small steps again
		} else if float64(cur) < float64(st.Expired)*(1+firstProbe) {
			next = float64(cur) * (1 + firstProbe)
		}
	}
	next = min(next, float64(cur)*cfg.MaxStepUp, float64(cfg.MaxConcurrency))
	to := int32(math.Ceil(next))
	if to <= cur || reason != ReasonReturn && reason != ReasonLearned && float64(to-cur) < cfg.Band*float64(cur) && reason != ReasonProbe {
		return cur, ReasonWithinBand, fmt.Sprintf("target %d is within %.0f%% of %d: holding.", to, 100*cfg.Band, cur)
	}
	switch reason {
	case ReasonSlowStart:
		return to, reason, fmt.Sprintf("no throttling seen: growing %d to %d (x%.2g).", cur, to, cfg.GrowthFactor)
	case ReasonReturn:
		return to, reason, fmt.Sprintf("back to %d, the highest limit confirmed clean.", to)
	case ReasonLearned:
		if st.RecallProbed {
			return to, reason, fmt.Sprintf("%d, the limit an earlier run learned, confirmed clean: probing %d, %.0f%% above it.", cur, to, 100*recallProbe)
		}
		return to, reason, fmt.Sprintf("%d confirmed clean: back to %d, the limit an earlier run learned.", cur, to)
	case ReasonBisect:
		return to, reason, fmt.Sprintf("capacity is between %d (clean) and %d (throttled): trying %d.", st.Lo, st.Hi, to)
	}
	if st.Probes > 0 {
		st.Misses = 0 // the previous probe came back clean
	}
	st.Probes++
	return to, reason, fmt.Sprintf("no throttling for a while: probing %d to %d.", cur, to)
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
	throttling := limitReason == ReasonThrottled || limitReason == ReasonThrottleFails || limitReason == ReasonLiveThrottled ||
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
