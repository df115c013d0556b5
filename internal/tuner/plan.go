package tuner

// This file resolves each tracked run's policy and reads every run's
// throttle signals in one batched GetMetricData.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

// plan is one run with its resolved policy.
type plan struct {
	run     registry.Run
	arn     maprun.ARN
	policy  policy.Resolved
	signals []observe.MetricQuery
	// sparse tells, for each signal, whether a minute without a datapoint counts as 0.
	sparse []bool
	// concurrent are the datapoints of the invoked function's
	// ConcurrentExecutions (headroom.go); nil when not read.
	concurrent []control.Datapoint
	// usage is what the DynamoDB tables its policy watches publish of
	// their capacity (usage.go); nil when not read.
	usage []control.Usage
	// function is the name of the one Lambda function its children
	// invoke, from the capacity hint of its Map state (hint.go), which
	// names its downstream (downstreamKey): read only for a policy with no
	// group that names no signal of a downstream; empty when none is
	// known.
	function string
}

// plan resolves each run's policy and metric queries; runs whose ARN or
// policy is bad are left untouched, and retired once that has lasted
// Config.RetireAfter ticks.
func (t *Tuner) plan(tc *tick, runs []registry.Run) []plan {
	plans := make([]plan, 0, len(runs))
	for _, r := range runs {
		arn, err := maprun.ParseARN(r.ARN)
		if err != nil {
			tc.rep.skip("bad-arn")
			t.untunable(tc, r.ARN, err.Error())
			continue
		}
		res, err := t.deps.Policies.Resolve(r.Policy, arn.Label)
		if err != nil {
			tc.rep.skip("policy")
			t.untunable(tc, r.ARN, fmt.Sprintf("its policy %q does not resolve: %v", r.Policy, err))
			continue
		}
		p := plan{run: r, arn: arn, policy: res}
		if res.Group == "" && !slices.ContainsFunc(res.Signals, policy.Signal.NamesDownstream) {
			p.function = t.invoked(tc, p)
		}
		for i, s := range res.Signals {
			s = s.Expand(arn)
			p.signals = append(p.signals, observe.MetricQuery{
				ID: fmt.Sprintf("%s#%d", r.ARN, i), Namespace: s.Namespace, Metric: s.Metric, Stat: s.Stat, Dimensions: s.Dimensions,
			})
			p.sparse = append(p.sparse, s.Sparse)
		}
		plans = append(plans, p)
	}
	return plans
}

// throttles reads every run's throttle signals in one batched GetMetricData
// and sums them per run and minute. A run whose query failed gets no entry.
// The same call reads the concurrency of the functions the runs invoke
// (headroom.go) and the usage of the tables they write (usage.go) into the
// plans.
func (t *Tuner) throttles(ctx context.Context, obs *observe.Observer, plans []plan, now time.Time, rep *Report) map[string][]control.Datapoint {
	var queries []observe.MetricQuery
	for _, p := range plans {
		queries = append(queries, p.signals...)
	}
	queries = append(queries, concurrencyQueries(plans)...)
	queries = append(queries, allUsageQueries(plans)...)
	out := map[string][]control.Datapoint{}
	if len(queries) == 0 {
		return out
	}
	// Whole minutes only, and back far enough for the run observed longest
	// ago (a short budget can leave runs unobserved for several ticks).
	end := now.Truncate(time.Minute)
	start := end.Add(-t.cfg.MetricWindow)
	for _, p := range plans {
		if prev := p.run.State.PrevAt; !prev.IsZero() && prev.Add(-5*time.Minute).Before(start) {
			start = prev.Add(-5 * time.Minute).Truncate(time.Minute)
		}
	}
	if oldest := end.Add(-maxMetricWindow); start.Before(oldest) {
		start = oldest
	}
	// On error the series still holds the queries that completed.
	series, err := obs.Series(ctx, queries, start, end)
	if err != nil {
		t.fail(rep, "read throttle metrics", err)
	}
	setConcurrent(plans, series)
	setUsage(plans, series)
runs:
	for _, p := range plans {
		sum := map[time.Time]float64{}
		for i, q := range p.signals {
			points, ok := series[q.ID]
			if !ok {
				// One signal missing makes the sum a lie: the run has no data.
				continue runs
			}
			if p.sparse[i] {
				// A quiet minute publishes nothing: count it as 0 once
				// CloudWatch has had the time to publish it.
				for m := start; m.Before(end.Add(-sparseSettle)); m = m.Add(time.Minute) {
					sum[m] += 0
				}
			}
			for _, d := range points {
				sum[d.Minute] += d.Value
			}
		}
		points := make([]control.Datapoint, 0, len(sum))
		for m, v := range sum {
			points = append(points, control.Datapoint{Minute: m, Value: v})
		}
		slices.SortFunc(points, func(a, b control.Datapoint) int { return a.Minute.Compare(b.Minute) })
		out[p.run.ARN] = points
	}
	return out
}

// sparseSettle is how long after its end a minute of a sparse signal with
// no datapoint is taken as 0.
const sparseSettle = 2 * time.Minute

// maxMetricWindow bounds how far back throttle datapoints are read.
const maxMetricWindow = 3 * time.Hour

// throttledSince counts the throttled minutes among points since the run
// was last observed (a minute before, for the datapoints published late).
func throttledSince(points []control.Datapoint, prev time.Time) int {
	n := 0
	for _, p := range points {
		if p.Value > 0 && p.Minute.After(prev.Add(-time.Minute)) {
			n++
		}
	}
	return n
}
