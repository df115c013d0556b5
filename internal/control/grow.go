package control

// This file is the phase logic that raises or holds a limit when nothing
// throttles: slow start, the approach to a bound, probes.

import (
	"fmt"
	"math"
	"time"
)

// grow decides when nothing throttled: raise if the data allow it, else
// hold. live reports that a live sample confirmed the limit now: fresh
// evidence that stands for metrics that are late, not for metrics never seen.
func grow(cfg Config, st *State, obs Observation, sig *Signals, live bool) (int32, Reason, string) {
	cur := obs.Run.Settings.MaxConcurrency
	at := obs.At
	if obs.MetricsWatched && !live && (sig.NewestMinute.IsZero() || at.Sub(sig.NewestMinute) > cfg.StaleAfter) {
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
	if running := obs.Run.Children().Running; float64(running) < 0.5*float64(cur) {
		return cur, ReasonIdle, fmt.Sprintf("only %d children run under a limit of %d: holding.", running, cur)
	}
	if cur >= cfg.MaxConcurrency {
		if cfg.Unlimited && st.CutAt.IsZero() {
			return 0, ReasonAtCeiling, fmt.Sprintf("at the policy's maximum %d with no throttling seen and unlimited allowed: lifting the limit.", cfg.MaxConcurrency)
		}
		return cur, ReasonAtCeiling, fmt.Sprintf("at the policy's maximum %d.", cfg.MaxConcurrency)
	}

	if to, msg, ok := headroomRaise(cfg, st, obs); ok {
		return to, ReasonHeadroom, msg
	}
	bound := boundShare(st, obs)
	if st.Phase == PhaseSlowStart && bound > 0 && cur >= bound {
		// At what the downstream's configuration allows: it stands as a
		// bound, probed past after RecoveryTime in case it was raised.
		st.Phase, st.Hi, st.HiAt = PhaseBracket, cur+bandOf(cfg, cur), at
	}
	var next float64
	var reason Reason
	u, usage := usageKnown(*st, obs.At)
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
			next, reason = min(float64(st.Lo)+float64(st.Hi-st.Lo)/2, float64(st.Lo)*(1+approachStep)), ReasonBisect
		}
	case st.Phase == PhaseProbe && st.Expired > 0 && float64(cur) >= float64(st.Expired)*(1+escapeProbe) && cur <= st.Lo && st.CollapseAt.IsZero():
		// Clean well past the old bound: the capacity rose (a neighbour
		// left), and small probes would take an hour to find it. Not
		// after a collapse: a slow-start step into it costs another.
		st.Phase = PhaseSlowStart
		next, reason = float64(cur)*slowStartFactor(cfg, st, cur), ReasonSlowStart
	case st.Phase == PhaseSlowStart:
		// Slow start: one step at a time, each confirmed clean before the next.
		// A run that started from what an earlier one learned probes instead.
		base := max(st.Lo, cfg.InitialConcurrency)
		if start := st.History[0].MaxConcurrency; start >= cfg.MinConcurrency && start <= cfg.MaxConcurrency {
			base = max(base, start) // the run's own setting is trusted as a start
		}
		if usage && usageRaise(*st, obs, u, cur) {
			next, reason = u.target(), ReasonUsage
			break
		}
		if float64(cur) > float64(base)*(1+cfg.Band) {
			return cur, ReasonAwaitSignal, fmt.Sprintf("limit %d is not confirmed clean yet (highest confirmed %d): waiting for its metrics.", cur, st.Lo)
		}
		next, reason = float64(cur)*slowStartFactor(cfg, st, cur), ReasonSlowStart
		if usage {
			// Past the estimate's target, the rest is approached.
			next = min(next, max(u.target(), float64(cur)*(1+approachStep)))
		}
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
	next, msg, held := capRaise(cfg, st, obs, cur, next)
	if held {
		return cur, ReasonHeadroom, msg
	}
	if bound > 0 && (reason == ReasonSlowStart || reason == ReasonUsage) && cur < bound {
		// Slow start stops at what the downstream allows this run, and
		// waits for the others to leave it the room.
		r := room(st.Bound, obs)
		if r <= cur {
			return cur, ReasonShared, fmt.Sprintf("the other runs sharing the downstream hold %d of the %d children it allows: holding %d.", obs.Shared.Held, st.Bound, cur)
		}
		next = min(next, float64(bound), float64(r))
	}
	to := int32(math.Ceil(next))
	if to <= cur || reason != ReasonReturn && reason != ReasonLearned && float64(to-cur) < cfg.Band*float64(cur) && reason != ReasonProbe {
		return cur, ReasonWithinBand, fmt.Sprintf("target %d is within %.0f%% of %d: holding.", to, 100*cfg.Band, cur)
	}
	switch reason {
	case ReasonSlowStart:
		return to, reason, fmt.Sprintf("no throttling seen: growing %d to %d (x%.2g).", cur, to, slowStartFactor(cfg, st, cur))
	case ReasonUsage:
		return to, reason, fmt.Sprintf("%s: growing %d to %d.", u, cur, to)
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

// bandOf is the band above limit, in children: at least one.
func bandOf(cfg Config, limit int32) int32 {
	return max(1, int32(math.Ceil(cfg.Band*float64(limit))))
}

// slowStartFactor is the growth factor of a slow-start step from cur:
// GrowthFactor, or farGrowth while far below a bound once seen (Expired)
// or given (Bound). The policy's maximum is no bound on the capacity.
func slowStartFactor(cfg Config, st *State, cur int32) float64 {
	bound := st.Expired
	if st.Bound > 0 && (bound == 0 || st.Bound < bound) {
		bound = st.Bound
	}
	if bound > 0 && float64(cur)*farBelow <= float64(bound) {
		return max(cfg.GrowthFactor, farGrowth)
	}
	return cfg.GrowthFactor
}
