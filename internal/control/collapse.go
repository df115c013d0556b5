package control

import (
	"fmt"
	"math"
	"time"
)

const (
	// collapseShare is the share of the items finished in the last
	// minutes that failed, throttled, above which the run is collapsing:
	// the downstream spends its capacity refusing retries, and holding
	// the limit keeps it there.
	collapseShare = 0.8
	// collapseItems is the fewest items finished in the last minutes for
	// that share to mean anything.
	collapseItems = 25
	// collapseGap is the shortest time between two collapse cuts: once
	// the children of the limit before have drained to the cut, half a
	// minute of items still failing, throttled, is enough to cut again.
	// Every minute at a limit that keeps the collapse costs about a
	// retry's worth of throttled calls per child, and the return to the
	// clean limit waits for the retries to stop whatever the limit.
	collapseGap = 30 * time.Second
)

// collapse answers congestion collapse: a run that ran clean at some limit
// now has its children running while almost every item they finish fails,
// and the failures are throttling. Holding a limit that was clean before
// the collapse keeps the retries coming, so the limit is cut by
// MaxStepDown, every collapseGap while it lasts once the children of the
// limit before have drained to the cut. The clean limit of before,
// the goodput seen before the collapse, is kept and stands just under the
// bound: once the lower limit runs clean, the run climbs back to it at
// once (ReasonReturn) instead of trusting an estimate taken during the
// collapse, and the throttling measured during it is taken as answered
// (answered). A second collapse at that limit lowers it by Backoff. ok is
// false when the run is not collapsing.
func collapse(cfg Config, st *State, obs Observation) (int32, string, bool) {
	at, cur := obs.At, obs.Run.Settings.MaxConcurrency
	eff := effective(cur)
	done, failed := recent(st.Ticks)
	if st.Lo == 0 || done < collapseItems || float64(failed) < collapseShare*float64(done) || otherShare(cfg, *st, at, 1) > 1-collapseShare {
		return 0, "", false
	}
	if float64(obs.Run.Children().Running) < utilized*float64(eff) || !st.CutAt.IsZero() && at.Sub(st.CutAt) < collapseGap {
		return 0, "", false
	}
	to := max(int32(math.Ceil(float64(eff)*cfg.MaxStepDown)), cfg.MinConcurrency)
	if to >= eff {
		return 0, "", false
	}
	if st.Phase == PhaseProbe && st.Probes > 0 {
		st.Misses++
	}
	if !st.CollapseAt.IsZero() && eff >= st.Lo && limitDuring(st.History, at.Add(-recentWindow), at) <= st.Lo {
		// Back at the clean limit after a collapse, it collapsed again
		// there, not at a limit above it nor halfway down (a burst
		// allowance, spent, had made it look clean): the run returns lower.
		st.Lo = max(int32(math.Floor(cfg.Backoff*float64(st.Lo))), cfg.MinConcurrency)
	}
	st.ThrottledAt, st.CutAt, st.CollapseAt, st.Phase, st.Probes = at, at, at, PhaseBracket, 0
	// The bound stands just above the clean limit, not at the halved one
	// (below it, it would read as a capacity that rose and let probes
	// climb from the bottom), nor at the limit the collapse came under,
	// which the approach would climb back into: each collapse costs
	// minutes of goodput and a share of the items.
	st.Hi, st.HiAt = st.Lo+max(1, int32(cfg.Band*float64(st.Lo))), at
	back := ""
	if st.Lo > 0 && st.Lo < eff {
		back = fmt.Sprintf(" back to %d, the limit clean before, once %d runs clean.", st.Lo, to)
	}
	return to, fmt.Sprintf("collapse: %d of the %d items finished in the last minutes failed, throttled: lowering %d to %d;%s", failed, done, eff, to, back), true
}

// drained holds the limit a collapse cut set while more children run than
// it allows: the children of the higher limits, still retrying, which
// would throttle the children of the return. ok is false once they have
// drained, when the return to the clean limit may start, or when the run
// is not coming out of a collapse.
func drained(st *State, obs Observation) (int32, string, bool) {
	cur := obs.Run.Settings.MaxConcurrency
	eff, last := effective(cur), st.History[len(st.History)-1]
	running := obs.Run.Children().Running
	if st.CollapseAt.IsZero() || !st.CutAt.Equal(st.CollapseAt) || !last.From.Equal(st.CollapseAt) || eff >= st.Lo || running <= int64(eff) {
		return 0, "", false
	}
	return cur, fmt.Sprintf("collapse: %d children still run under a limit of %d: holding until they drain, then back to %d.", running, eff, st.Lo), true
}
