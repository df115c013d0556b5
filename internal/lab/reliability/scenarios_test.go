package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/tuner"
	"github.com/maptuner/maptuner/internal/watch"
)

// TestFaultScenarios runs the faults that are not one failing call: the
// function killed between UpdateMapRun and the save, two ticks at once,
// and duplicate and out-of-order events, each against DynamoDB on moto.
func TestFaultScenarios(t *testing.T) {
	sc, err := sim.ParseScenario("fault-matrix", []byte(matrixScenario))
	if err != nil {
		t.Fatal(err)
	}
	client := dynamoClient(t)
	scenarios := []struct {
		name string
		run  func(t *testing.T, e *env) string
	}{
		{"killed after UpdateMapRun, before the save", killedAfterUpdate},
		{"two ticks at once, ten times", twoTicksAtOnce},
		{"duplicate and out-of-order events", eventsOutOfOrder},
	}
	var rows []string
	for i, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			e := newEnv(t, sc, dynamoStore(t, client, fmt.Sprintf("fault-scenario-%d", i)))
			rows = append(rows, fmt.Sprintf("| %s | %s |", s.name, s.run(t, e)))
		})
	}
	if len(rows) == len(scenarios) && !t.Failed() {
		writeOrCheck(t, "fault-scenarios", "| fault | outcome |\n| --- | --- |\n"+strings.Join(rows, "\n")+"\n")
	}
}

// killedAfterUpdate kills the tune function right after an UpdateMapRun
// succeeded, before the run's state is saved: every later call of that
// invocation fails. The next invocations must recognise the setting as the
// tuner's own, not an operator's, and go on tuning.
func killedAfterUpdate(t *testing.T, e *env) string {
	ctx := context.Background()
	e.in.killAfter("UpdateMapRun")
	killed := 0
	for range 10 {
		e.tick(ctx) //nolint:errcheck // a dead process's tick fails as it may
		if len(e.sfn.sent()) > 0 {
			killed = len(e.sfn.sent())
			break
		}
	}
	if killed == 0 {
		t.Fatal("no UpdateMapRun in 10 ticks: nothing to kill after")
	}
	e.in.disarm()
	limit := *e.sfn.sent()[killed-1].MaxConcurrency
	e.tuner = e.newTuner(t, "tuner-2") // a new invocation, after the lease expired
	decided := 0
	for range 5 {
		rep, err := e.tick(ctx)
		if err != nil {
			t.Fatalf("tick after the kill: %v", err)
		}
		for _, d := range rep.Decisions {
			decided++
			if d.Decision.Reason == control.ReasonOverride {
				t.Fatalf("the setting the killed invocation sent (%d) was taken for an operator's: %s", limit, d.Decision.Message)
			}
		}
	}
	if decided == 0 {
		t.Fatal("no decision in 5 ticks after the kill")
	}
	checkSafe(t, e)
	return fmt.Sprintf("the setting sent (%d) is recognised as maptuner's own; %d decisions in the next 5 ticks, none an override", limit, decided)
}

// twoTicksAtOnce runs two tuners at the same instant, ten times: both may
// decide on the run, one acts on it at most (the hold before an update is
// conditional on the version read and on the lease).
func twoTicksAtOnce(t *testing.T, e *env) string {
	ctx := context.Background()
	other := e.newTuner(t, "tuner-2")
	maxPerInstant, skipped, both := 0, 0, 0
	for range 10 {
		e.world.Advance(time.Minute)
		now := e.world.Now()
		before := len(e.sfn.sent())
		var wg sync.WaitGroup
		reps := make([]tuner.Report, 2)
		errs := make([]error, 2)
		for i, tu := range []*tuner.Tuner{e.tuner, other} {
			wg.Go(func() { reps[i], errs[i] = tu.Tick(ctx, now) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("tick %d: %v", i, err)
			}
		}
		// Both may decide on the run as they read it; at most one acts:
		// the other's hold finds the run written or leased.
		applied := 0
		for _, rep := range reps {
			for _, d := range rep.Decisions {
				if d.Applied {
					applied++
				}
			}
			skipped += rep.Skipped["leased"] + rep.Skipped["taken"] + rep.Skipped["fresh"]
		}
		if applied > 1 {
			t.Fatalf("both ticks updated the run at %s", now)
		}
		if len(reps[0].Decisions)+len(reps[1].Decisions) > 1 {
			both++
		}
		maxPerInstant = max(maxPerInstant, len(e.sfn.sent())-before)
	}
	if maxPerInstant > 1 {
		t.Fatalf("%d updates of one run at one instant", maxPerInstant)
	}
	if e.run == "" {
		if arns := e.world.MapRunARNs(); len(arns) > 0 {
			e.run = arns[0]
		}
	}
	if _, ok := e.tracked(t); !ok {
		t.Fatal("the run is not tracked")
	}
	checkSafe(t, e)
	return fmt.Sprintf("at most %d update per instant; the other tick skipped the run %d times (leased, written since it read it, or just decided) and held it, writing nothing, %d times", maxPerInstant, skipped, both)
}

// eventsOutOfOrder sends the watch function the execution's events
// duplicated and out of order, through the Lambda JSON path: the execution
// is registered once and, once ended, never revived.
func eventsOutOfOrder(t *testing.T, e *env) string {
	ctx := context.Background()
	h := &watch.Handler{
		Store: e.store, Tags: &observe.Observer{SFN: e.sfn}, Policies: e.policies,
		Now: func() time.Time { return e.world.Now() },
	}
	running, succeeded := event(t, "status-running.json"), event(t, "status-succeeded.json")
	var actions []string
	for _, ev := range [][]byte{running, running, succeeded, running, succeeded} {
		out, err := lambda.NewHandler(h.Handle).Invoke(ctx, ev)
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		var r watch.Result
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatal(err)
		}
		actions = append(actions, r.Action)
	}
	execs, err := e.store.ActiveExecutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Detail struct {
			ExecutionARN string `json:"executionArn"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(running, &ev); err != nil {
		t.Fatal(err)
	}
	exec := ev.Detail.ExecutionARN
	for _, x := range execs {
		if x.ARN == exec {
			t.Fatalf("the ended execution %s is active again (actions %v)", exec, actions)
		}
	}
	if want := "registered duplicate ended duplicate duplicate"; strings.Join(actions, " ") != want {
		t.Fatalf("actions %v, want %s", actions, want)
	}
	return "RUNNING, RUNNING, SUCCEEDED, RUNNING, SUCCEEDED: " + strings.Join(actions, ", ") + "; the ended execution stays ended"
}

// event reads an event of events/.
func event(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
