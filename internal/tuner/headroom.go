package tuner

// This file reads, for each run whose children invoke a Lambda function of
// known reserved concurrency, that function's ConcurrentExecutions: every
// caller's executions, from which control tells the room the others leave
// the run (control.Observation.Concurrent).

import (
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/observe"
)

// concurrencyQuery is the ConcurrentExecutions query of the function the
// run of plan p invokes: the function its policy's Lambda throttle signal
// names, once the run's decisions have read its reserved concurrency
// (State.Bound) and seen it throttled (State.ThrottledAt). Runs of one
// function share one query. ok is false when there is none. A run never
// throttled asks nothing of it: each function read costs a metric a
// period (docs/cost.md), and a function that has room needs no headroom.
func concurrencyQuery(p plan) (observe.MetricQuery, bool) {
	if st := p.run.State; st.Bound <= 0 || st.ThrottledAt.IsZero() {
		return observe.MetricQuery{}, false
	}
	for _, s := range p.signals {
		fn, ok := s.Dimensions["FunctionName"]
		if s.Namespace == "AWS/Lambda" && ok && len(s.Dimensions) == 1 {
			return observe.MetricQuery{
				ID: "concurrent:" + fn, Namespace: "AWS/Lambda", Metric: "ConcurrentExecutions", Stat: "Maximum",
				Dimensions: map[string]string{"FunctionName": fn},
			}, true
		}
	}
	return observe.MetricQuery{}, false
}

// concurrencyQueries are the distinct concurrency queries of plans.
func concurrencyQueries(plans []plan) []observe.MetricQuery {
	var out []observe.MetricQuery
	seen := map[string]bool{}
	for _, p := range plans {
		if q, ok := concurrencyQuery(p); ok && !seen[q.ID] {
			seen[q.ID] = true
			out = append(out, q)
		}
	}
	return out
}

// setConcurrent hands each plan the datapoints of its concurrency query
// in series; a plan whose query failed gets none.
func setConcurrent(plans []plan, series map[string][]control.Datapoint) {
	for i, p := range plans {
		if q, ok := concurrencyQuery(p); ok {
			plans[i].concurrent = series[q.ID]
		}
	}
}

// crowdedShare is the share of the function's reserved concurrency above
// which its newest minute counts as full (crowded).
const crowdedShare = 0.95

// crowded reports whether the function the run of plan p invokes, of
// reserved concurrency st.Bound, was nearly full in the newest minute its
// concurrency shows, and other callers were seen on it (st.OthersAt): the
// run and the others together fill it, so that any rise of the others
// throttles the run before the metrics, minutes late, can tell. Such a run is sampled live and looked at within the period,
// however settled its limit.
func crowded(p plan, st control.State) bool {
	var newest control.Datapoint
	for _, d := range p.concurrent {
		if d.Minute.After(newest.Minute) {
			newest = d
		}
	}
	return st.Bound > 0 && !st.OthersAt.IsZero() && !newest.Minute.IsZero() && newest.Value >= crowdedShare*float64(st.Bound)
}
