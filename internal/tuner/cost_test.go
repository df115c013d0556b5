package tuner

import (
	"context"
	"encoding/json"
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
	use              registry.Usage
	decided, updated int
}

// costOf runs n Map Runs of 3,000 items, each against a capacity of 40,
// for the given periods of a minute, each a full pass then looks every 10
// s as the tune function makes them, and returns what each period cost and
// the largest run item stored at the end, in bytes of its state and last
// decision.
func costOf(t *testing.T, n, periods int) ([]periodCost, int) {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	for i := range n {
		exec := fmt.Sprintf("%s-%04d", execARN, i)
		arn := fmt.Sprintf("%s-%04d", runARN, i)
		e.acct.addRun(exec, arn, 10, 0, 3000)
		if _, err := e.store.PutRun(ctx, registry.Run{ARN: arn, ExecutionARN: exec, Policy: "default", DiscoveredAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	tu := e.tuner(t, Config{})
	var out []periodCost
	at := now
	for range periods {
		before := e.store.Usage()
		rep, err := tu.Tick(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		pc := periodCost{decided: rep.Decided, updated: rep.Updated}
		for step := 1; step < 6; step++ {
			e.acct.progress(DefaultLookEvery, time.Minute, 40)
			look := tu.Look(ctx, at.Add(time.Duration(step)*DefaultLookEvery))
			pc.decided += look.Decided
			pc.updated += look.Updated
		}
		e.acct.progress(DefaultLookEvery, time.Minute, 40)
		pc.use = e.store.Usage().Sub(before)
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
	return out, largest
}

// On-demand DynamoDB prices, us-east-1, in dollars per request unit, and
// the periods of a month.
const (
	dollarsPerWRU   = 0.625 / 1e6
	dollarsPerRRU   = 0.125 / 1e6
	periodsPerMonth = 30 * 24 * 60
)

// TestTickCost measures what a period costs of the table at 0, 10, 100
// and 1,000 open runs, over half an hour, and reports the mean per
// period of its second quarter hour (runs past their start); docs/cost.md
// quotes its output. Every period a run is decided on must cost at most
// its update's two writes and, for a decision that holds, one write in
// five minutes: fewer run writes than decisions.
func TestTickCost(t *testing.T) {
	const periods = 30
	var table strings.Builder
	fmt.Fprintln(&table, "| open runs | decided | updated | conditional writes | WRU run items | WRU decision log | WRU executions | WRU table + index | RRU | $ a month | $ per Map-Run-hour |")
	fmt.Fprintln(&table, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, n := range []int{0, 10, 100, 1000} {
		costs, _ := costOf(t, n, periods)
		var (
			decided, updated, conditional int
			wru, index, runWRU, logWRU    int64
			execWRU                       int64
			rru                           float64
		)
		steady := costs[periods/2:]
		for _, c := range steady {
			decided += c.decided
			updated += c.updated
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
		perRunHour := "-"
		if n > 0 {
			perRunHour = fmt.Sprintf("%.7f", dollars*60/float64(n))
		}
		fmt.Fprintf(&table, "| %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f + %.0f | %.1f | %.2f | %s |\n",
			n, float64(decided)/k, float64(updated)/k, float64(conditional)/k, float64(runWRU)/k, float64(logWRU)/k, float64(execWRU)/k,
			float64(wru)/k, float64(index)/k, rru/k, dollars*periodsPerMonth, perRunHour)
		if n > 0 && decided == 0 {
			t.Errorf("%d runs: no decision in the second quarter hour", n)
		}
		if n > 0 && float64(runWRU)/k > float64(decided+updated)/k*8 {
			t.Errorf("%d runs: %.0f WRU of run items a period for %.0f decisions and %.0f updates: a write per decision or more",
				n, float64(runWRU)/k, float64(decided)/k, float64(updated)/k)
		}
	}
	t.Logf("per period (a full pass and its looks), mean of minutes %d to %d:\n%s", periods/2, periods, table.String())
}

// TestStateSizeBounded: a run looked at every 10 s for more than an hour
// keeps a state of a few KB: every observation of the last minutes, one
// a minute before, an hour back.
func TestStateSizeBounded(t *testing.T) {
	costs, largest := costOf(t, 1, 70)
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
