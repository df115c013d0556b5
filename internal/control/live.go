package control

import (
	"fmt"
	"time"
)

// The live verdicts on a sample of running children (LiveSample).
const (
	// liveMinSample is the fewest sampled children a live verdict needs.
	liveMinSample = 4
	// liveShare is the share of the sampled children, and liveMinThrottled
	// the number, that must show a throttled attempt in the window for the
	// run to be throttled now: one child retrying once is noise.
	liveShare        = 0.2
	liveMinThrottled = 2
)

// throttled reports whether a clear share of the sampled children was
// throttled in the window.
func (l LiveSample) throttled() bool {
	return l.Sampled >= liveMinSample && l.Throttled >= liveMinThrottled && float64(l.Throttled) >= liveShare*float64(l.Sampled)
}

// clean reports whether enough children were sampled and none had a
// failed attempt.
func (l LiveSample) clean() bool {
	return l.Sampled >= liveMinSample && l.Throttled == 0 && l.Failing == 0
}

// failing reports whether a clear share of the sampled children had failed
// attempts of errors not known as throttling.
func (l LiveSample) failing() bool {
	return l.Sampled >= liveMinSample && l.Failing >= liveMinThrottled && float64(l.Failing) >= liveShare*float64(l.Sampled)
}

// liveCut answers a live sample that shows the children throttled now,
// without waiting for the metrics. The throttling is charged to the highest
// limit in effect since the most recently started throttled child started:
// children started under a limit since cut do not make the cut wrong. When
// a cut since then already answered it, it holds; otherwise it cuts to the
// estimate of the last minute's throughput, as for a throttled minute. ok is
// false when the sample does not show throttling.
func liveCut(cfg Config, st *State, obs Observation, sig *Signals) (limit int32, reason Reason, msg string, ok bool) {
	live, at, cur := obs.Live, obs.At, obs.Run.Settings.MaxConcurrency
	if !live.throttled() {
		return failingCut(cfg, st, obs, sig)
	}
	st.ThrottledAt = at
	from := live.StartedAt
	if from.IsZero() {
		from = live.Since
	}
	then := limitDuring(st.History, from, at)
	sig.LimitThen = then
	why := fmt.Sprintf("live signal: %d of %d sampled running children throttled since %s, under a limit up to %d",
		live.Throttled, live.Sampled, live.Since.UTC().Format(time.TimeOnly), then)
	if answered(st, then, from) {
		return cur, ReasonLiveThrottled, fmt.Sprintf("%s, answered by the cut at %s: holding %d.", why, st.CutAt.UTC().Format(time.TimeOnly), cur), true
	}
	if because, ok := transient(st, obs); ok {
		return cur, ReasonLiveThrottled, fmt.Sprintf("%s, %s: holding %d for the next look.", why, because, cur), true
	}
	est := liveEstimate(cfg, st, at, then)
	sig.Capacity = est.value
	t := throttledAt(cfg, st, obs, then, est, 3*live.Throttled <= live.Sampled)
	if eff := effective(cur); t < eff {
		limit, reason, msg = applyCut(cfg, st, at, eff, t, ReasonLiveThrottled, why)
		return limit, reason, msg, true
	}
	return cur, ReasonLiveThrottled, why + fmt.Sprintf(": %d is already at or below %d, holding.", cur, t), true
}

// liveConfirm takes a clean live sample as fresh evidence that the limit
// in effect through its whole window is clean, when the children filled it
// and nothing failed: once a bound is known (after a cut), bisection and
// probes step on without waiting for a settled CloudWatch minute. Slow
// start, doubling with no bound known, still waits for its metrics: a
// step a minute would double into the capacity before anything else (a
// failing deployment, say) is seen. It reports whether it confirmed.
func liveConfirm(st *State, obs Observation, newFailures int64) bool {
	live := obs.Live
	if !live.clean() || newFailures > 0 || live.Since.IsZero() {
		return false
	}
	if l, ok := steadyDuring(st.History, obs.At.Add(-minute), obs.At); ok && st.Bound == 0 && float64(obs.Run.Children().Running) >= utilized*float64(l) {
		// A busy minute with no child seen throttled: how long a child
		// holds its place, for the estimate a cut falls to. Only for a run
		// with no bound from its downstream's configuration (State.Bound),
		// whose cuts have nothing else to fall to (a token bucket's, say):
		// a run with one learns it from the metrics' clean minutes, as
		// before looks. Learning it from looks too made a function shared
		// with a neighbour throttle more (neighbour-sine: 7.8 % of calls
		// against 6.5 %).
		st.learnHold(lastMinute(st.Ticks, obs.At))
	}
	l, ok := steadyDuring(st.History, live.Since, obs.At)
	if !ok || l <= st.Lo || float64(obs.Run.Children().Running) < utilized*float64(l) {
		return false
	}
	if near := st.Hi > 0 || st.Phase == PhaseProbe; near && !turnedOver(st, obs) {
		// Near a known bound a step is a few percent: a handful of
		// children too many, which the sample sees only once every
		// running child started under the new limit.
		return false
	}
	st.Lo, st.LoAt = l, obs.At
	return true
}

// answered reports whether throttling charged to limit then, seen from
// since on, was already answered: a cut at or after since lowered the limit
// below then, or a collapse cut was made at or after since. Late metrics
// and failures of the children of a limit that a live cut already left do
// not cut again.
func answered(st *State, then int32, since time.Time) bool {
	if !st.CollapseAt.IsZero() && !st.CollapseAt.Before(since) {
		// A collapse cut answered it, whatever the run returned to since.
		return true
	}
	cur := effective(st.History[len(st.History)-1].MaxConcurrency)
	return !st.CutAt.IsZero() && !st.CutAt.Before(since) && cur < then
}

// failingCut answers a live sample where children retry errors not known
// as throttling, started under a limit raised past the last clean one:
// throttling that does not say so looks like that, so the raise is taken
// back, to the last clean limit, and stands as a bound until RecoveryTime
// has passed. Items that fail whatever the limit cost one step back at
// most: without a clean limit below, it holds. ok is false when the
// sample does not show it.
func failingCut(cfg Config, st *State, obs Observation, sig *Signals) (limit int32, reason Reason, msg string, ok bool) {
	live, at, cur := obs.Live, obs.At, obs.Run.Settings.MaxConcurrency
	if !live.failing() || st.Lo == 0 {
		return 0, "", "", false
	}
	from := live.FailingStartedAt
	if from.IsZero() {
		from = live.Since
	}
	then := limitDuring(st.History, from, at)
	eff := effective(cur)
	if then <= st.Lo || eff <= st.Lo {
		return 0, "", "", false
	}
	sig.LimitThen = then
	if st.Hi == 0 || then < st.Hi {
		st.Hi, st.HiAt = then, at
	}
	why := fmt.Sprintf("live signal: %d of %d sampled running children retry errors not known as throttling since %s, under a limit up to %d above the clean %d",
		live.Failing, live.Sampled, live.Since.UTC().Format(time.TimeOnly), then, st.Lo)
	limit, reason, msg = applyCut(cfg, st, at, eff, st.Lo, ReasonLiveThrottled, why)
	return limit, reason, msg, true
}

// turnedOver reports whether the children running now all started under
// the limit in effect: the oldest one sampled started after it was set, or
// the limit has held for longer than a child holds its place.
func turnedOver(st *State, obs Observation) bool {
	from := st.History[len(st.History)-1].From
	if o := obs.Live.OldestStart; !o.IsZero() && !o.Before(from) {
		return true
	}
	return st.ItemTime > 0 && obs.At.Sub(from).Seconds() >= st.ItemTime
}

// burstLook is how soon after a raise a live sample may show the burst of
// its new children (transient).
const burstLook = 30 * time.Second

// transient reports whether the throttling a light live sample shows (at
// most a third of the sampled children) may pass by itself, and why:
//   - the burst of the last raise in slow start: the children it started
//     all call at once, and a downstream with a small burst allowance
//     refuses a few of them for a moment, as judgeMinute allows for in the
//     metrics. The limit was raised at most burstLook ago and the sample's
//     window began at the raise, so no earlier look has seen throttling
//     since.
//   - the retries of the children of an overshoot, a raise cut within a
//     minute, which still drain the downstream and get the new children
//     refused, for about as long as a child holds its place after the cut
//     (ItemTime, or burstLook before it is known). A limit held for long
//     and cut (the capacity fell) has no such excuse: its new children are
//     refused because the capacity is lower.
//
// The next look judges the limit: throttling that lasts is seen again there.
func transient(st *State, obs Observation) (string, bool) {
	live, n := obs.Live, len(st.History)
	if n < 2 || 3*live.Throttled > live.Sampled {
		return "", false
	}
	last, prev := st.History[n-1], effective(st.History[n-2].MaxConcurrency)
	since := obs.At.Sub(last.From)
	switch {
	case effective(last.MaxConcurrency) > prev && st.Phase == PhaseSlowStart && since <= burstLook && !live.Since.After(last.From):
		return fmt.Sprintf("the first look since the raise from %d, whose new children called at once", prev), true
	case effective(last.MaxConcurrency) < prev && last.From.Equal(st.CutAt) && since.Seconds() <= max(st.ItemTime, burstLook.Seconds()) &&
		n >= 3 && prev > effective(st.History[n-3].MaxConcurrency) && last.From.Sub(st.History[n-2].From) <= settle:
		return fmt.Sprintf("%s after the cut from %d, whose children still retry", since.Round(time.Second), prev), true
	}
	return "", false
}

// lastMinute is the throughput, in items per second, and the mean number
// running over the minute before at: from the looks of that minute when the
// run is looked at every few seconds, else from the two observations that
// best cover it (minuteRate).
func lastMinute(ticks []Tick, at time.Time) (rate, running float64, ok bool) {
	if rate, running, ok = countsOver(ticks, at.Add(-minute), at); ok {
		return rate, running, true
	}
	return minuteRate(ticks, at.Add(-minute))
}

// liveEstimate is the capacity the throughput of the minute before at
// suggests (estimate), read from the looks of that minute: a live sample
// comes with a look every few seconds, which no pair of them covers. It
// stands for the throttling of a limit then that only live samples found
// clean: near the capacity of a downstream that refuses calls at random
// (a token bucket with a small burst), a clean sample is weak evidence,
// and the throughput tells how far off the capacity is. A limit the
// metrics found clean for a whole minute (metricClean) and throttled now
// has lost capacity, which the throughput of a minute mostly from before
// does not show: there is no estimate (Backoff), nor within a minute of a
// cut, whose throttling outlasted it.
func liveEstimate(cfg Config, st *State, at time.Time, then int32) capacity {
	if !st.CutAt.IsZero() && at.Sub(st.CutAt) < minute || metricClean(cfg, st, then) {
		return capacity{}
	}
	rate, running, ok := lastMinute(st.Ticks, at)
	return estimateFrom(st, rate, running, ok, at.Add(-minute-settle), at)
}

// metricClean reports whether a settled throttle datapoint judged clean
// covers a minute held at limit or above.
func metricClean(cfg Config, st *State, limit int32) bool {
	for _, p := range st.Seen {
		if l, ok := steadyDuring(st.History, p.Minute, p.Minute.Add(minute)); ok && l >= limit && p.Value <= cfg.ThrottleThreshold {
			return true
		}
	}
	return false
}
