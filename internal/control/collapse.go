package control

import (
	"fmt"
	"math"
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
)

// collapse answers congestion collapse: a run that ran clean at some limit
// now has its children running while almost every item they finish fails,
// and the failures are throttling. Holding a limit that
// was clean before the collapse keeps the retries coming, so the limit is
// cut by MaxStepDown, once a minute while it lasts, and the clean limit of
// before is kept: once the lower one runs clean, the run returns to it at
// once (ReasonReturn) instead of trusting an estimate taken during the
// collapse. ok is false when the run is not collapsing.
func collapse(cfg Config, st *State, obs Observation) (int32, string, bool) {
	at, cur := obs.At, obs.Run.Settings.MaxConcurrency
	eff := effective(cur)
	done, failed := recent(st.Ticks)
	if st.Lo == 0 || done < collapseItems || float64(failed) < collapseShare*float64(done) || otherShare(cfg, *st, at, 1) > 1-collapseShare {
		return 0, "", false
	}
	if float64(obs.Run.Children().Running) < utilized*float64(eff) || !st.CutAt.IsZero() && at.Sub(st.CutAt) < minute {
		return 0, "", false
	}
	to := max(int32(math.Ceil(float64(eff)*cfg.MaxStepDown)), cfg.MinConcurrency)
	if to >= eff {
		return 0, "", false
	}
	st.throttled(at)
	st.CutAt, st.Phase, st.Probes = at, PhaseBracket, 0
	if st.Hi == 0 || eff < st.Hi {
		st.Hi, st.HiAt = eff, at
	}
	back := ""
	if st.Lo > 0 && st.Lo < eff {
		back = fmt.Sprintf(" back to %d, the limit clean before, once %d runs clean.", st.Lo, to)
	}
	return to, fmt.Sprintf("collapse: %d of the %d items finished in the last minutes failed, throttled: lowering %d to %d;%s", failed, done, eff, to, back), true
}
