package control

// This file turns the function's own concurrency metric into evidence: the
// headroom its other callers leave this run, an upper estimate of the run's
// capacity that moves with them, seen before they make it throttle.

import (
	"fmt"
	"math"
	"slices"
	"time"
)

const (
	// headroomWindow is how far back the concurrency datapoints are read
	// for the others' level and trend.
	headroomWindow = 4 * minute
	// headroomMargin is the share of the bound kept free for the others'
	// moves the trend does not foresee.
	headroomMargin = 0.04
	// headroomMin is the share of the bound, and headroomMinCount the
	// number of executions, the others must hold for the headroom to
	// count: less is noise of the run's own count.
	headroomMin      = 0.03
	headroomMinCount = 5
)

// headroomEst is the headroom evidence of one observation.
type headroomEst struct {
	// limit is the upper estimate of the run's capacity now, in children:
	// the bound less what the others are projected to hold now, less a
	// margin.
	limit int32
	// others is what the function's other callers are projected to hold
	// now, in executions; slope their change a minute.
	others, slope float64
	// newest is the newest concurrency datapoint's minute, and full
	// whether the function was full then: the others' level is only a
	// floor, and no room is seen.
	newest time.Time
	full   bool
}

// headroom is what the function's concurrency metric (Observation.
// Concurrent) tells of the room its other callers leave the run, given the
// bound of the function (State.Bound): for each minute, the others held the
// function's most executions less the run's own children then (ownDuring;
// children waiting to retry are not executing, so the others are under-,
// the room overestimated). The newest level is carried forward by the trend
// over the window to now, since the datapoints are minutes late.
//
// ok is false without a bound; for a run that shares the function with
// other open runs (their shares are the sharing's, share.go; the minutes
// before they left are not read either); with no fresh datapoint; when the
// function ran more than the bound (its reserved concurrency was raised
// since it was read); or when the others hold too little to tell from the
// run's own count and have not been seen for an hour: once seen, their
// margin stays free, so that the function is not filled and its metric
// keeps showing them.
func headroom(cfg Config, st *State, obs Observation) (headroomEst, bool) {
	bound := st.Bound
	if bound <= 0 || len(obs.Concurrent) == 0 || obs.Shared.runs() > 1 {
		return headroomEst{}, false
	}
	at := obs.At
	// Minutes before the runs that shared the function left count their
	// executions: the sharing's, not others'. Minutes that ended before
	// the run started had none of its children, which ownDuring, reading
	// the limits, would count.
	points := slices.DeleteFunc(slices.Clone(obs.Concurrent), func(p Datapoint) bool {
		return p.Minute.Before(st.AloneAt) || len(st.History) > 0 && !p.Minute.Add(minute).After(st.History[0].From)
	})
	if len(points) == 0 {
		return headroomEst{}, false
	}
	slices.SortFunc(points, func(a, b Datapoint) int { return a.Minute.Compare(b.Minute) })
	newest := points[len(points)-1]
	if at.Sub(newest.Minute) > cfg.StaleAfter || newest.Minute.After(at) {
		return headroomEst{}, false
	}
	for _, p := range points {
		if p.Value > float64(bound) && !p.Minute.Before(newest.Minute.Add(-headroomWindow)) {
			// More executions than the reserved concurrency last read:
			// it was raised since, and the room is unknown.
			return headroomEst{}, false
		}
	}
	others := func(p Datapoint) float64 { return max(0, p.Value-float64(ownDuring(st, p.Minute))) }
	// A full minute (the run and the others at the bound) shows only a
	// floor of what the others wanted: the trend is taken from the minutes
	// that were not full.
	full := func(p Datapoint) bool { return p.Value >= float64(bound)*(1-headroomMargin/2) }
	var trend []Datapoint
	for _, p := range points {
		if !p.Minute.Before(newest.Minute.Add(-headroomWindow)) && !full(p) {
			trend = append(trend, p)
		}
	}
	r := headroomEst{newest: newest.Minute, full: full(newest)}
	if n := len(trend); n >= 2 && trend[n-1].Minute.After(trend[0].Minute) {
		r.slope = (others(trend[n-1]) - others(trend[0])) / trend[n-1].Minute.Sub(trend[0].Minute).Minutes()
	}
	// The newest minute's maximum stands for its end; now is later by the
	// metric's delay, over which the trend carries the others on. The
	// others leaving free their room only once they have: half of a
	// falling trend is trusted.
	move := r.slope * max(at.Sub(newest.Minute.Add(minute)).Minutes(), 0)
	if move < 0 {
		move /= 2
	}
	r.others = max(0, others(newest)+move)
	if r.others >= max(headroomMin*float64(bound), headroomMinCount) {
		if newest.Minute.After(st.OthersAt) {
			st.OthersAt = newest.Minute
		}
	} else if st.OthersAt.IsZero() || at.Sub(st.OthersAt) > memory {
		return headroomEst{}, false
	}
	free := float64(bound) - r.others - headroomMargin*float64(bound)
	r.limit = max(int32(math.Floor(free)), cfg.MinConcurrency)
	return r, true
}

// ownDuring is the most children the run may have had in the minute from
// m: the most running at an observation in it, or the highest limit in
// effect in it when more (a raise fills between observations).
func ownDuring(st *State, m time.Time) int64 {
	most := int64(limitDuring(st.History, m, m.Add(minute)))
	for _, t := range st.Ticks {
		if !t.At.Before(m) && t.At.Before(m.Add(minute)) {
			most = max(most, t.Running)
		}
	}
	return most
}

// headroomCut lowers the limit to the headroom when the function's other
// callers have left the run less room than its limit, by more than the
// band: ahead of the throttling, which the metrics would show minutes
// later. ok is false when the headroom is unknown or leaves the limit be.
func headroomCut(cfg Config, st *State, obs Observation) (int32, string, bool) {
	r, ok := headroom(cfg, st, obs)
	eff := effective(obs.Run.Settings.MaxConcurrency)
	if !ok || float64(eff-r.limit) <= max(1, cfg.Band*float64(eff)) {
		return 0, "", false
	}
	to := stepDown(cfg, eff, r.limit)
	st.CutAt = obs.At
	return to, r.say(st.Bound) + fmt.Sprintf(": lowering %d to %d, ahead of throttling.", eff, to), true
}

// headroomRaise raises the limit toward the headroom when the function's
// other callers have left it room: a throttled bound below the headroom is
// stale (the others took part of the capacity then and have left it
// since), and is retired as RecoveryTime would retire it. Not while
// throttling is fresh (the datapoints that would show it are minutes
// late), nor when the function was full in the newest minute. ok is false
// when nothing is to raise.
func headroomRaise(cfg Config, st *State, obs Observation) (int32, string, bool) {
	r, ok := headroom(cfg, st, obs)
	cur := obs.Run.Settings.MaxConcurrency
	if !ok || r.full || cur <= 0 || !st.ThrottledAt.IsZero() && obs.At.Sub(st.ThrottledAt) < cfg.StaleAfter {
		return 0, "", false
	}
	if float64(r.limit-cur) < max(1, cfg.Band*float64(cur)) {
		return 0, "", false
	}
	to := min(r.limit, int32(math.Floor(float64(cur)*cfg.MaxStepUp)), cfg.MaxConcurrency)
	if to <= cur {
		return 0, "", false
	}
	if st.Hi > 0 && st.Hi <= r.limit {
		st.Expired, st.Hi, st.Misses = st.Hi, 0, 0
	}
	return to, r.say(st.Bound) + fmt.Sprintf(": raising %d to %d.", cur, to), true
}

// capRaise bounds a raise to next by the headroom; held is true when the
// headroom leaves no room above cur, or the function was full in its
// newest minute: the others may want more than they got, and a raise
// would only throttle.
func capRaise(cfg Config, st *State, obs Observation, cur int32, next float64) (float64, string, bool) {
	r, ok := headroom(cfg, st, obs)
	if !ok || next <= float64(r.limit) && !r.full {
		return next, "", false
	}
	if r.full {
		return float64(cur), r.say(st.Bound) + fmt.Sprintf(": the function was full in that minute, no room above %d, holding.", cur), true
	}
	if r.limit <= cur {
		return float64(cur), r.say(st.Bound) + fmt.Sprintf(": no room above %d, holding.", cur), true
	}
	return float64(r.limit), "", false
}

// say tells the headroom in words.
func (r headroomEst) say(bound int32) string {
	return fmt.Sprintf("the function's other callers hold about %.0f of its %d executions (%+.0f a minute, newest minute %s), leaving this run %d",
		r.others, bound, r.slope, r.newest.UTC().Format("15:04"), r.limit)
}
