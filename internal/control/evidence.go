package control

// This file turns the throttle metrics and the throughput into evidence:
// a minute judged throttled or clean, a capacity estimate, a cut.

import (
	"fmt"
	"math"
	"time"
)

// judgeMinute takes in the throttle datapoint p at instant at, lowering
// target to the limit a throttled minute calls for, and reports whether its
// verdict is final. A throttled minute charged to the limits of its time is
// acted on at once and is final; any other verdict is final only once the
// minute has settled, since CloudWatch may still be adding to it: until then
// the minute is judged again each time it is read, whenever the tick falls.
func judgeMinute(cfg Config, st *State, obs Observation, p Datapoint, sig *Signals, target *int32) bool {
	at := obs.At
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
		if t := throttledAt(cfg, st, obs, then, est, p.Value <= throttlesPerExcess*2*cfg.Band*float64(then)); t < *target {
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
	if l > st.Lo && (st.CutAt.IsZero() || to.After(st.CutAt) || l <= effective(st.History[len(st.History)-1].MaxConcurrency)) {
		// A late clean minute from before a cut does not undo the cut.
		st.Lo, st.LoAt = l, p.Minute
	}
	st.learnHold(minuteRate(st.Ticks, p.Minute))
	return true
}

// learnHold applies Little's law to a clean, busy span whose throughput
// (items per second) and mean running children are given: how long a child
// holds its place is the number running over the throughput. ok false, or
// no throughput, learns nothing.
func (st *State) learnHold(rate, running float64, ok bool) {
	if !ok || rate <= 0 {
		return
	}
	d := running / rate
	if st.ItemTime == 0 {
		st.ItemTime = d
	} else {
		st.ItemTime = 0.7*st.ItemTime + 0.3*d
	}
}

// confirmByThroughput confirms the current limit without waiting for the
// metrics when the last minute's throughput shows every child working:
// running times ItemTime's rate, by Little's law. It needs the limit steady
// for longer than a child holds its place, so that the children a raise
// started have finished once, and enough completions to trust the rate.
func confirmByThroughput(st *State, obs Observation) {
	cur := effective(obs.Run.Settings.MaxConcurrency)
	if st.ItemTime <= 0 || cur <= st.Lo || len(st.Ticks) < 2 || st.Phase == PhaseProbe && cur > st.Expired {
		// A probe past the old bound is a step of a few percent: more than
		// the throughput can tell from noise.
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
	return estimateFrom(st, rate, running, ok, from, to)
}

// estimateFrom is estimate from a throughput (items per second) and the
// mean number running it was measured with; ok false is no estimate.
func estimateFrom(st *State, rate, running float64, ok bool, from, to time.Time) capacity {
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
func throttledAt(cfg Config, st *State, obs Observation, then int32, est capacity, light bool) int32 {
	at := obs.At
	fair := obs.Shared.fair(then, cfg.Band)
	if fair > 0 && then <= fair {
		// The downstream is shared and this run is within its fair share:
		// the runs above theirs give way, this one holds.
		return math.MaxInt32
	}
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
	confirmed := st.Lo >= then
	if confirmed || est.known && est.value < float64(st.Lo)*(1-est.margin) {
		st.Lo = 0 // the capacity fell below what was clean
	}
	t := int32(math.Floor(cfg.Backoff * float64(then)))
	small := int32(math.Floor(float64(then) * (1 - 2*cfg.Band)))
	switch {
	case confirmed && light:
		// A limit once confirmed clean throttles a little: one small step
		// back, not down to the estimate of one noisy minute.
		t = small
	case est.known:
		t = min(int32(math.Floor(est.value*(1-cfg.Band))), small)
	}
	t = max(t, st.Lo, cfg.MinConcurrency)
	if fair > 0 && t > fair {
		// The downstream is shared: a run above its fair share gives way,
		// and what it held clean alone is no longer clean.
		t = max(fair, cfg.MinConcurrency)
		st.Lo = min(st.Lo, t)
		st.Hi = min(st.Hi, t+1) // and its share bounds it: no climbing back to what it found alone
	}
	if st.Hi <= st.Lo {
		st.Hi = 0
	}
	return t
}

// stepDown is the limit a cut from eff toward target goes to: target, no
// lower than MaxStepDown allows in one step, within the policy's bounds.
func stepDown(cfg Config, eff, target int32) int32 {
	return min(max(target, int32(math.Ceil(float64(eff)*cfg.MaxStepDown)), cfg.MinConcurrency), cfg.MaxConcurrency)
}

// applyCut lowers eff toward target, bounded by MaxStepDown.
func applyCut(cfg Config, st *State, at time.Time, eff, target int32, reason Reason, why string) (int32, Reason, string) {
	to := stepDown(cfg, eff, target)
	st.Owed = 0
	if to > target {
		st.Owed = target
	}
	st.Phase, st.CutAt, st.Probes = PhaseBracket, at, 0
	return to, reason, fmt.Sprintf("%s: lowering %d to %d.", why, eff, to)
}
