package control

// This file follows the upper bound the downstream's configuration gives
// (Observation.Bound, the reserved concurrency of the function the
// children invoke) while the run goes on: an operator who changes it says
// at once what the throttling would tell only minutes later.

import (
	"fmt"
	"math"
)

// NoBound is Observation.Bound when the downstream's configuration was
// read and bounds nothing: a function that reserves no concurrency, such
// as one whose reservation was removed during the run.
const NoBound int32 = -1

// nearBound is how close below its share of the bound, relative to it, a
// limit sits when the bound is taken for what holds it (NearBound).
const nearBound = 0.1

// NearBound reports whether a run whose state is st holds a limit of cur
// at or near its share of the bound its downstream's configuration gives
// (State.Bound divided among State.SharedBy runs): within nearBound below
// it, or above it. False when no bound is known; an unlimited limit (0)
// is above any bound.
func NearBound(st State, cur int32) bool {
	if st.Bound <= 0 {
		return false
	}
	share := shareOf(st.Bound, st.SharedBy)
	return float64(effective(cur)) >= (1-nearBound)*float64(share)
}

// boundChanged takes in a bound (Observation.Bound) that differs from the
// one the run knew (State.Bound). A bound that falls below the limit cuts
// it to the run's share of the new bound at once, which then stands as
// the bound of the bracket; a run at or below its new share keeps its
// limit, with its bracket capped by the share. A bound that rises, when
// the run held at or near its share of the old one (the bound was what
// held it), scales the limit by new/old, up to its share of the new bound
// and the room the other runs sharing it leave, within MaxStepUp, and slow
// start climbs the rest. When it cuts or raises, the throttle datapoints
// of the minutes begun before the change are answered by it
// (State.BoundAt); otherwise they stand, and the state changes only by the
// new bound (and a fall's cap on the bracket). It reports ok false when
// nothing is to be done now; a zero Observation.Bound (none read) keeps
// the old. A bound removed (NoBound) is forgotten, and a run it held
// climbs again in slow start, one step now; a bound read after the
// downstream was read to bound nothing (State.Unbounded) falls from no
// bound.
func boundChanged(cfg Config, st *State, obs Observation) (int32, string, bool) {
	old, nu := st.Bound, obs.Bound
	cur := obs.Run.Settings.MaxConcurrency
	if nu == NoBound {
		st.Unbounded = true
		if old > 0 {
			return boundRemoved(cfg, st, obs)
		}
		return 0, "", false
	}
	if nu <= 0 || nu == old {
		return 0, "", false
	}
	eff := effective(cur)
	near := NearBound(*st, cur)
	unbounded := st.Unbounded
	st.Bound, st.Unbounded = nu, false
	if old <= 0 && !unbounded {
		return 0, "", false // the first bound read: nothing it changed
	}
	share := boundShare(st, obs)
	if old <= 0 || nu < old {
		// The new share, and the band above it, bound the bracket.
		standing := share + bandOf(cfg, share)
		st.Lo = min(st.Lo, share)
		if st.Hi == 0 && eff > share || st.Hi > standing {
			st.Hi, st.HiAt = standing, obs.At
		}
		if eff <= share {
			return 0, "", false
		}
		st.BoundAt = obs.At
		why := fmt.Sprintf("the downstream's reserved concurrency fell from %d to %d, %d for this run", old, nu, share)
		if old <= 0 {
			why = fmt.Sprintf("the downstream reserves %d now, none before, %d for this run", nu, share)
		}
		to, _, msg := applyCut(cfg, st, obs.At, eff, share, ReasonBound, why)
		return to, msg, true
	}
	if !near || cur == 0 {
		return 0, "", false // something else held the run: the bound told nothing of it
	}
	// The old bound held the run: the capacity it knew was the old
	// bound's, and grows with it.
	scaled := math.Ceil(float64(eff) * float64(nu) / float64(old))
	to := int32(min(scaled, float64(share), float64(max(room(nu, obs), cur)), float64(cur)*cfg.MaxStepUp, float64(cfg.MaxConcurrency)))
	if to <= cur {
		return 0, "", false
	}
	st.BoundAt = obs.At
	st.Hi, st.Expired, st.Owed, st.Probes, st.Misses = 0, 0, 0, 0, 0
	st.Phase = PhaseSlowStart
	return to, fmt.Sprintf("the downstream's reserved concurrency rose from %d to %d, %d for this run, and held it at %d: raising %d to %d.", old, nu, share, eff, cur, to), true
}

// boundRemoved forgets the bound the run knew (State.Bound), whose
// downstream bounds nothing now. A run the bound held (NearBound) takes up
// slow start again from its limit, without the bracket the bound gave,
// and takes its first step now; another keeps its limit and bracket.
func boundRemoved(cfg Config, st *State, obs Observation) (int32, string, bool) {
	old, cur := st.Bound, obs.Run.Settings.MaxConcurrency
	near := NearBound(*st, cur)
	st.Bound = 0
	to := min(int32(math.Ceil(float64(cur)*min(cfg.GrowthFactor, cfg.MaxStepUp))), cfg.MaxConcurrency)
	if !near || cur == 0 || to <= cur {
		return 0, "", false
	}
	st.BoundAt = obs.At
	st.Hi, st.Expired, st.Owed, st.Probes, st.Misses = 0, 0, 0, 0, 0
	st.Phase = PhaseSlowStart
	return to, fmt.Sprintf("the downstream's reserved concurrency of %d, which held this run at %d, was removed: growing %d to %d in slow start.", old, cur, cur, to), true
}
