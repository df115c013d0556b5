package control

// This file adapts a run to the other runs sharing its downstream
// (Observation.Shared): runs that join take their share of the capacity
// at once, a run that ends leaves its share to the others, a run grows
// only into the room the others leave, and throttling one run sees stops
// the others' raises.

import (
	"fmt"
	"math"
	"time"
)

// shareChanged takes in a change of the number of open runs sharing the
// downstream since the last decision. A run that ended frees its share:
// the bound found with it there is too low now, and slow start takes over.
// Runs that joined take theirs: what this run knew of its capacity (its
// bound and clean limit) was its share among the runs of then, k of the n
// now, so it keeps k/n of them and, above its new share, is cut to it at
// once rather than after the downstream throttles every run. It returns
// the limit to cut to, with ok true, only for that cut.
func shareChanged(cfg Config, st *State, obs Observation) (limit int32, msg string, ok bool) {
	n, was := obs.Shared.runs(), st.SharedBy
	st.SharedBy = n
	if n <= 1 && was > 1 {
		st.AloneAt = obs.At
	}
	k := max(was, 1)
	switch {
	case n < was && st.Hi > 0:
		st.Expired, st.Hi, st.Phase, st.Probes = st.Hi, 0, PhaseSlowStart, 0
		return 0, "", false
	case n <= k || st.Hi == 0:
		return 0, "", false // no run joined, or no capacity known to share
	}
	share := func(v int32) int32 {
		return max(int32(math.Floor(float64(v)*float64(k)/float64(n))), cfg.MinConcurrency)
	}
	known := st.Hi
	st.Hi, st.HiAt = share(st.Hi), obs.At
	if st.Lo > 0 {
		st.Lo = min(share(st.Lo), st.Hi-1)
	}
	to := st.Lo
	if to == 0 {
		to = share(st.Hi - 1)
	}
	eff := effective(obs.Run.Settings.MaxConcurrency)
	if to >= eff {
		return 0, "", false
	}
	why := fmt.Sprintf("%d runs share the downstream now, %d before: this run keeps %d/%d of the bound %d it knew, %d", n, k, k, n, known, st.Hi)
	limit, _, msg = applyCut(cfg, st, obs.At, eff, to, ReasonShared, why)
	return limit, msg, true
}

// room is how many children the upper bound on the downstream's capacity
// (State.Bound) leaves this run while the others hold theirs (Share.Held):
// a run that joins does not start children that the others' still running
// ones would get throttled. It is the bound itself for a run alone, and
// zero with no bound.
func room(bound int32, obs Observation) int32 {
	if obs.Shared == nil {
		return bound
	}
	return max(bound-obs.Shared.Held, 0)
}

// boundShare is the run's share of the upper bound on its downstream's
// capacity that the downstream's configuration gives (State.Bound): the
// bound divided evenly among the open runs sharing it. Zero when none is
// known.
func boundShare(st *State, obs Observation) int32 {
	if st.Bound <= 0 {
		return 0
	}
	return shareOf(st.Bound, obs.Shared.runs())
}

// shareOf is one of runs even shares of bound, at least 1; runs below 1
// count as 1.
func shareOf(bound int32, runs int) int32 {
	return max(bound/int32(max(runs, 1)), 1)
}

// othersThrottled answers throttling that another run sharing the
// downstream saw (Share.ThrottledAt) and this one did not: the runs share
// one capacity, but each samples only its own children. A raise past the
// run's confirmed clean limit made before that throttling is taken back
// to the clean limit, which stands below it as a bound; a run at its
// clean limit does not raise for shareQuiet after it. ok is false when no
// other run was throttled in that time.
func othersThrottled(cfg Config, st *State, obs Observation) (limit int32, msg string, ok bool) {
	if obs.Shared == nil || obs.Shared.ThrottledAt.IsZero() {
		return 0, "", false
	}
	at, cur, seen := obs.At, obs.Run.Settings.MaxConcurrency, obs.Shared.ThrottledAt
	last := st.History[len(st.History)-1]
	eff := effective(cur)
	why := fmt.Sprintf("another run sharing the downstream was throttled at %s", seen.UTC().Format(time.TimeOnly))
	if st.Lo > 0 && eff > st.Lo && !seen.Before(last.From) {
		if st.Hi == 0 || eff < st.Hi {
			st.Hi, st.HiAt = eff, at
		}
		if st.Phase == PhaseProbe && st.Probes > 0 {
			st.Misses++
		}
		to := st.Lo
		if fair := obs.Shared.fair(eff, cfg.Band); fair > 0 && fair < to {
			// Clean for its own children, not for the others'.
			to = max(fair, cfg.MinConcurrency)
			st.Lo = to
		}
		limit, _, msg = applyCut(cfg, st, at, eff, to, ReasonShared, why+fmt.Sprintf(", after %d was set: back to %d, clean and within its share", eff, to))
		return limit, msg, true
	}
	if at.Sub(seen) < shareQuiet {
		return cur, why + fmt.Sprintf(": holding %d.", cur), true
	}
	return 0, "", false
}

// shareQuiet is how long after another run sharing the downstream was
// throttled a run does not raise its limit.
const shareQuiet = 2 * minute
