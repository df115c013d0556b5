package tuner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/registry"
)

// TestLateCounts: three runs of their own state machines, each read live
// once; then a tuner with one DescribeMapRun a period reads one run live
// and decides the other two from the children AWS/States counts finished
// since, without updating them and without moving their throughput base.
func TestLateCounts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var arns []string
	for i := range 3 {
		exec := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:job-%d:run", i)
		arn := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:mapRun:job-%d/Items:%d", i, i)
		e.acct.addRun(exec, arn, 20, 20, 3000)
		if _, err := e.store.PutRun(ctx, registry.Run{ARN: arn, ExecutionARN: exec, Policy: "default", DiscoveredAt: now}); err != nil {
			t.Fatal(err)
		}
		arns = append(arns, arn)
	}
	if rep, err := e.tuner(t, Config{LookEvery: -1}).Tick(ctx, now); err != nil || rep.Decided != 3 || rep.Late != 0 {
		t.Fatalf("first tick: %d decided, %d late, error %v; want 3 read live", rep.Decided, rep.Late, err)
	}
	before := map[string]registry.Run{}
	for _, arn := range arns {
		r, err := e.store.GetRun(ctx, arn)
		if err != nil {
			t.Fatal(err)
		}
		before[arn] = r
	}
	e.acct.progress(time.Minute, time.Minute, 40)
	e.acct.finished = map[string]float64{"ExecutionsSucceeded": 15, "ExecutionsFailed": 4}
	e.acct.finishedAt = now

	// One DescribeMapRun a period: a fraction of 1/60 of its refill.
	rep, err := e.tuner(t, Config{Owner: "tuner-b", LookEvery: -1, BudgetFraction: 1.0 / 60}).Tick(ctx, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calls[budget.DescribeMapRun] != 1 || rep.Decided != 3 || rep.Late != 2 {
		t.Fatalf("second tick: %d DescribeMapRun, %d decided, %d late; want 1, 3, 2 (skipped %v, errors %v)",
			rep.Calls[budget.DescribeMapRun], rep.Decided, rep.Late, rep.Skipped, rep.Errors)
	}
	late := 0
	for _, rd := range rep.Decisions {
		if rd.Decision.Reason != control.ReasonLateCounts {
			continue
		}
		late++
		prev := before[rd.MapRunARN]
		if rd.Decision.Update || rd.Applied {
			t.Errorf("%s: late counts sent an update: %+v", rd.MapRunARN, rd.Decision)
		}
		if got, want := rd.Decision.Signals.FailurePercent, 100*4.0/3020; got != want {
			t.Errorf("%s: failure %% %v, want %v: the 4 failed children AWS/States counted", rd.MapRunARN, got, want)
		}
		stored, err := e.store.GetRun(ctx, rd.MapRunARN)
		if err != nil {
			t.Fatal(err)
		}
		if !stored.State.PrevAt.Equal(prev.State.PrevAt) || stored.State.Prev != prev.State.Prev {
			t.Errorf("%s: the late counts became the live base: %v at %s, want %v at %s",
				rd.MapRunARN, stored.State.Prev, stored.State.PrevAt, prev.State.Prev, prev.State.PrevAt)
		}
	}
	if late != 2 {
		t.Errorf("%d decisions for %s, want 2: %+v", late, control.ReasonLateCounts, rep.Decisions)
	}
}
