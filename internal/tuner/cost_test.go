package tuner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/registry"
)

// progress moves every running Map Run of f on by d: its children run up
// to its limit and capacity, each holding its place for itemTime, and the
// run succeeds once no item is left.
func (f *fakeAccount) progress(d, itemTime time.Duration, capacity int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.runs {
		if r.Status != types.MapRunStatusRunning {
			continue
		}
		c := *r.ItemCounts
		finished := min(c.Running, max(1, c.Running*int64(d)/int64(itemTime)))
		c.Succeeded += finished
		c.Running -= finished
		limit := int64(r.MaxConcurrency)
		if limit == 0 {
			limit = 10000
		}
		start := min(c.Pending, min(limit, capacity)-c.Running)
		if start > 0 {
			c.Pending -= start
			c.Running += start
		}
		if c.Pending == 0 && c.Running == 0 {
			r.Status = types.MapRunStatusSucceeded
		}
		r.ItemCounts = &c
		ec := types.MapRunExecutionCounts(c)
		r.ExecutionCounts = &ec
	}
}

// periodCost is what one period (a full pass and its looks) cost.
type periodCost struct {
	use                    registry.Usage
	decided, updated, late int
	// metrics are the metrics requested of GetMetricData.
	metrics int
}

// costOf runs n Map Runs of 3,000 items, each of its own state machine
// and against a capacity of 40, under policy pol, for the given periods of
// a minute, each a full pass then looks every 10 s as the tune function
// makes them, and returns what each period cost, the largest run item
// stored at the end, in bytes of its state and last decision, and the
// environment (its metrics written).
func costOf(t *testing.T, n, periods int, pol string) ([]periodCost, int, *env) {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	for i := range n {
		exec := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:job-%04d:run", i)
		arn := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:mapRun:job-%04d/Items:%04d", i, i)
		e.acct.addRun(exec, arn, 10, 0, 3000)
		if _, err := e.store.PutRun(ctx, registry.Run{ARN: arn, ExecutionARN: exec, Policy: pol, DiscoveredAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	tu := e.tuner(t, Config{})
	var out []periodCost
	at := now
	for range periods {
		before, queries := e.store.Usage(), e.acct.metricQueries
		// Clean throttle datapoints up to a minute ago, for policies that
		// read them.
		e.acct.throttles = minutes(at.Add(time.Minute), 15, 0)
		rep, err := tu.Tick(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		pc := periodCost{decided: rep.Decided, updated: rep.Updated, late: rep.Late}
		for step := 1; step < 6; step++ {
			e.acct.progress(DefaultLookEvery, time.Minute, 40)
			look := tu.Look(ctx, at.Add(time.Duration(step)*DefaultLookEvery))
			pc.decided += look.Decided
			pc.updated += look.Updated
		}
		e.acct.progress(DefaultLookEvery, time.Minute, 40)
		pc.use = e.store.Usage().Sub(before)
		pc.metrics = e.acct.metricQueries - queries
		out = append(out, pc)
		at = at.Add(time.Minute)
	}
	runs, err := e.store.AllRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	largest := 0
	for _, r := range runs {
		st, _ := json.Marshal(r.State)
		d, _ := json.Marshal(r.LastDecision)
		largest = max(largest, len(st)+len(d))
	}
	return out, largest, e
}

// Prices, us-east-1, in dollars: on-demand DynamoDB per request unit,
// GetMetricData per metric requested, a custom metric per month; and the
// periods of a month.
const (
	dollarsPerWRU         = 0.625 / 1e6
	dollarsPerRRU         = 0.125 / 1e6
	dollarsPerMetricRead  = 0.01 / 1000
	dollarsPerMetricMonth = 0.30
	periodsPerMonth       = 30 * 24 * 60
)

// customMetrics counts the distinct CloudWatch metrics (namespace, name,
// dimension names and values) the embedded-metric-format lines in text
// publish.
func customMetrics(t *testing.T, text string) int {
	t.Helper()
	seen := map[string]bool{}
	for line := range strings.Lines(text) {
		// The metric definitions as health_test reads them, and the
		// dimension values by name.
		var def emfLine
		var doc map[string]any
		if err := errors.Join(json.Unmarshal([]byte(line), &def), json.Unmarshal([]byte(line), &doc)); err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		for _, cw := range def.AWS.CloudWatchMetrics {
			for _, set := range cw.Dimensions {
				key := cw.Namespace
				for _, d := range set {
					key += fmt.Sprintf("|%s=%v", d, doc[d])
				}
				for _, m := range cw.Metrics {
					seen[key+"|"+m.Name] = true
				}
			}
		}
	}
	return len(seen)
}

// TestTickCost measures what a period costs at 0, 10, 100 and 1,000 open
// runs, each of its own state machine, under the default policy's signal,
// over half an hour, and reports the mean per period of its second
// quarter hour (runs past their start); docs/cost.md quotes its output:
// the table (DynamoDB), GetMetricData (metrics requested) and the custom
// metrics the runs' decisions publish (each state machine and label has
// its own, billed for every month it is published in). Every period a run
// is decided on must cost at most its update's two writes and, for a
// decision that holds, one write in five minutes: fewer run writes than
// decisions. Idle, the stack must cost under $0.05 a month, and under
// $0.002 per Map-Run-hour at 1,000 runs.
func TestTickCost(t *testing.T) {
	const periods = 30
	var table, whole strings.Builder
	fmt.Fprintln(&table, "| open runs | decided | updated | conditional writes | WRU run items | WRU decision log | WRU executions | WRU table + index | RRU | $ a month | $ per Map-Run-hour |")
	fmt.Fprintln(&table, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	fmt.Fprintln(&whole, "| open runs | decided (from late counts) | DynamoDB $ a month | metrics read a period | GetMetricData $ a month | custom metrics | custom metrics $ a month | $ a month | $ per Map-Run-hour |")
	fmt.Fprintln(&whole, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, n := range []int{0, 10, 100, 1000} {
		costs, _, e := costOf(t, n, periods, "watched")
		var (
			decided, updated, conditional, late, metrics int
			wru, index, runWRU, logWRU                   int64
			execWRU                                      int64
			rru                                          float64
		)
		steady := costs[periods/2:]
		for _, c := range steady {
			decided += c.decided
			updated += c.updated
			late += c.late
			metrics += c.metrics
			conditional += c.use.Conditional
			wru += c.use.WRU
			index += c.use.IndexWRU
			runWRU += c.use.KindWRU["run"]
			logWRU += c.use.KindWRU["decision"]
			execWRU += c.use.KindWRU["execution"]
			rru += c.use.RRU
		}
		k := float64(len(steady))
		dollars := (float64(wru+index)*dollarsPerWRU + rru*dollarsPerRRU) / k
		perRunHour := func(perPeriod float64) string {
			if n == 0 {
				return "-"
			}
			return fmt.Sprintf("%.7f", perPeriod*60/float64(n))
		}
		fmt.Fprintf(&table, "| %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f + %.0f | %.1f | %.2f | %s |\n",
			n, float64(decided)/k, float64(updated)/k, float64(conditional)/k, float64(runWRU)/k, float64(logWRU)/k, float64(execWRU)/k,
			float64(wru)/k, float64(index)/k, rru/k, dollars*periodsPerMonth, perRunHour(dollars))
		reads := float64(metrics) / k * dollarsPerMetricRead
		custom := customMetrics(t, e.emf.String())
		published := float64(custom) * dollarsPerMetricMonth / periodsPerMonth
		all := dollars + reads + published
		fmt.Fprintf(&whole, "| %d | %.0f (%.0f) | %.2f | %.0f | %.2f | %d | %.2f | %.2f | %s |\n",
			n, float64(decided)/k, float64(late)/k, dollars*periodsPerMonth, float64(metrics)/k, reads*periodsPerMonth,
			custom, published*periodsPerMonth, all*periodsPerMonth, perRunHour(all))
		if n > 0 && decided == 0 {
			t.Errorf("%d runs: no decision in the second quarter hour", n)
		}
		if n > 0 && float64(runWRU)/k > float64(decided+updated)/k*8 {
			t.Errorf("%d runs: %.0f WRU of run items a period for %.0f decisions and %.0f updates: a write per decision or more",
				n, float64(runWRU)/k, float64(decided)/k, float64(updated)/k)
		}
		if n == 0 && all*periodsPerMonth >= 0.05 {
			t.Errorf("idle: $%.3f a month, want under $0.05", all*periodsPerMonth)
		}
		if n == 1000 && all*60/float64(n) >= 0.002 {
			t.Errorf("1,000 runs: $%.5f per Map-Run-hour, want under $0.002", all*60/float64(n))
		}
	}
	t.Logf("per period (a full pass and its looks), mean of minutes %d to %d; the table:\n%s\nall of it:\n%s", periods/2, periods, table.String(), whole.String())
}

// TestStateSizeBounded: a run looked at every 10 s for more than an hour
// keeps a state of a few KB: every observation of the last minutes, one
// a minute before, an hour back.
func TestStateSizeBounded(t *testing.T) {
	costs, largest, _ := costOf(t, 1, 70, "default")
	looks := 0
	for _, c := range costs {
		looks += c.decided
	}
	if looks < 60*6 {
		t.Fatalf("%d decisions in 70 minutes, want one every 10 s", looks)
	}
	const bound = 10 << 10
	if largest > bound {
		t.Errorf("stored state and last decision %d bytes after %d decisions, want at most %d", largest, looks, bound)
	}
	t.Logf("%d decisions in 70 minutes: stored state and last decision %d bytes", looks, largest)
}
