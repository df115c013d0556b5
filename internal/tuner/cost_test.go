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

// TestTickCost measures what a period costs of the table at 10, 100 and
// 1,000 open runs, over half an hour, and reports the mean per period of
// its second quarter hour (runs past their start). docs/cost.md quotes
// its output.
func TestTickCost(t *testing.T) {
	const periods = 30
	var table strings.Builder
	fmt.Fprintln(&table, "| open runs | decided | updated | conditional writes | failed | bytes written | WRU table + index | reads + queries | RRU | largest state (bytes) |")
	fmt.Fprintln(&table, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, n := range []int{10, 100, 1000} {
		costs, largest := costOf(t, n, periods)
		var sum periodCost
		steady := costs[periods/2:]
		for _, c := range steady {
			u := &sum.use
			u.Conditional += c.use.Conditional
			u.Failed += c.use.Failed
			u.WriteBytes += c.use.WriteBytes
			u.WRU += c.use.WRU
			u.IndexWRU += c.use.IndexWRU
			u.Reads += c.use.Reads
			u.Queries += c.use.Queries
			u.RRU += c.use.RRU
			sum.decided += c.decided
			sum.updated += c.updated
		}
		k := float64(len(steady))
		u := sum.use
		fmt.Fprintf(&table, "| %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f + %.0f | %.0f + %.0f | %.1f | %d |\n",
			n, float64(sum.decided)/k, float64(sum.updated)/k, float64(u.Conditional)/k, float64(u.Failed)/k,
			float64(u.WriteBytes)/k, float64(u.WRU)/k, float64(u.IndexWRU)/k, float64(u.Reads)/k, float64(u.Queries)/k, u.RRU/k, largest)
		if sum.decided == 0 {
			t.Errorf("%d runs: no decision in the second quarter hour", n)
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
