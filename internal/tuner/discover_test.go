package tuner

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

const smARN = "arn:aws:states:us-east-1:123456789012:stateMachine:etl-nightly"

// manyExecutions watches n running executions of etl-nightly, each with one
// Map Run, and returns the run ARNs.
func (e *env) manyExecutions(t *testing.T, n int) []string {
	t.Helper()
	var runs []string
	for i := range n {
		exec := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:etl-nightly:run-%03d", i)
		run := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:mapRun:etl-nightly/ProcessItems:%03d", i)
		e.acct.addRun(exec, run, 10, 5, 100)
		if _, err := e.store.PutExecution(context.Background(), registry.Execution{ARN: exec, StateMachineARN: smARN, Status: "RUNNING", Policy: "default", UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	return runs
}

func TestDiscoveryRotatesAndReadsOnlyWhatIsNew(t *testing.T) {
	e := newEnv(t)
	runs := e.manyExecutions(t, 300)
	ctx := context.Background()
	// Half the quota, as deployed: 200 GetExecutionHistory calls a tick.
	tu := e.tuner(t, Config{BudgetFraction: 0.5})
	b, err := budget.New(budget.Config{Region: "us-east-1", Fraction: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if n := b.Remaining(budget.GetExecutionHistory); n != 200 {
		t.Fatalf("history budget %d, want 200", n)
	}
	discovered := 0
	for tick := range 2 {
		rep, err := tu.Tick(ctx, now.Add(time.Duration(tick)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		discovered += rep.Discovered
		if got, want := rep.Calls[budget.GetExecutionHistory], int(historyShare*200); got != want {
			t.Errorf("tick %d: %d history calls, want discovery's share, %d", tick, got, want)
		}
		if rep.Calls[budget.DescribeExecution] != 0 {
			t.Errorf("tick %d: discovery spent %d DescribeExecution calls, want none: they are failure sampling's", tick, rep.Calls[budget.DescribeExecution])
		}
	}
	if discovered != len(runs) {
		t.Fatalf("%d of %d runs discovered in 2 ticks", discovered, len(runs))
	}
	tracked, err := e.store.ActiveRuns(ctx)
	if err != nil || len(tracked) != len(runs) {
		t.Fatalf("%d runs tracked, %v; want %d", len(tracked), err, len(runs))
	}

	// Every history was read to its end once; the third tick reads the
	// 150 read longest ago again, and only their new events (none).
	execs, err := e.store.ActiveExecutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	firstTick := map[string]bool{}
	for _, x := range execs {
		if x.Scan.EventID != 2 || x.Scan.Token != "" {
			t.Fatalf("%s: position %+v, want event 2 (ExecutionStarted, MapRunStarted)", x.ARN, x.Scan)
		}
		if x.Scan.At.Equal(now) {
			firstTick[x.ARN] = true
		}
	}
	if len(firstTick) != 150 {
		t.Fatalf("%d executions read at the first tick, want 150", len(firstTick))
	}
	e.acct.historyCalls, e.acct.historyEvents = 0, 0
	if _, err := tu.Tick(ctx, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if e.acct.historyCalls != 150 {
		t.Errorf("third tick: %d history calls, want 150", e.acct.historyCalls)
	}
	execs, _ = e.store.ActiveExecutions(ctx)
	for _, x := range execs {
		if firstTick[x.ARN] != x.Scan.At.Equal(now.Add(2*time.Minute)) {
			t.Errorf("%s read at %s at the third tick: want the least recently read first", x.ARN, x.Scan.At)
		}
	}

	// An execution that ends is seen in its new events, without a
	// DescribeExecution, and is no longer watched.
	ended := execs[0].ARN
	e.acct.execs[ended] = types.ExecutionStatusSucceeded
	for tick := 3; tick < 5; tick++ {
		if _, err := tu.Tick(ctx, now.Add(time.Duration(tick)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	execs, _ = e.store.ActiveExecutions(ctx)
	for _, x := range execs {
		if x.ARN == ended {
			t.Fatalf("%s ended but is still watched", ended)
		}
	}
	if len(execs) != 299 {
		t.Errorf("%d executions watched, want 299", len(execs))
	}
}

func TestOptOutStopsTuning(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	e.watchExec(t, "default")
	ctx := context.Background()
	tu := e.tuner(t, Config{})
	steps := []struct {
		at       time.Duration
		untagged bool
		tagCalls int
		tracked  bool
	}{
		{0, false, 1, true},                // tag read and cached
		{5 * time.Minute, true, 0, true},   // removed, but the cache is fresh
		{10 * time.Minute, true, 1, false}, // read again: tuning stops
	}
	for _, s := range steps {
		e.acct.untagged[smARN] = s.untagged
		e.acct.tagCalls = 0
		rep, err := tu.Tick(ctx, now.Add(s.at))
		if err != nil {
			t.Fatal(err)
		}
		if e.acct.tagCalls != s.tagCalls {
			t.Errorf("at +%s: %d ListTagsForResource calls, want %d", s.at, e.acct.tagCalls, s.tagCalls)
		}
		runs, _ := e.store.ActiveRuns(ctx)
		if got := len(runs) == 1; got != s.tracked {
			t.Fatalf("at +%s: tracked %v, want %v (report %+v)", s.at, got, s.tracked, rep)
		}
	}
	r, err := e.store.GetRun(ctx, runARN)
	if err != nil || !strings.Contains(r.EndReason, "opted out") {
		t.Fatalf("ended run %+v, %v; want the reason to say it opted out", r, err)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"tracking ended"`) || !strings.Contains(logs, `"level":"INFO","msg":"state machine opted out"`) {
		t.Errorf("logs lack the info lines about the opt-out:\n%s", logs)
	}
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("an opt-out is expected, not an error:\n%s", logs)
	}
	// Its execution still runs, so the tag is read again, but no more than
	// every 10 minutes.
	for _, at := range []time.Duration{11 * time.Minute, 15 * time.Minute} {
		e.acct.tagCalls = 0
		if _, err := tu.Tick(ctx, now.Add(at)); err != nil {
			t.Fatal(err)
		}
		if e.acct.tagCalls != 0 {
			t.Errorf("at +%s: %d ListTagsForResource calls, want none within 10 minutes of the last", at, e.acct.tagCalls)
		}
	}
	// Tagged again: the running execution's Map Runs are found again, the
	// ended run is not brought back.
	e.acct.untagged[smARN] = false
	if _, err := tu.Tick(ctx, now.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if runs, _ := e.store.ActiveRuns(ctx); len(runs) != 0 {
		t.Errorf("run ended on opt-out tracked again: %+v", runs)
	}
}

func TestRelistWatchesLostAndRedrivenExecutions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lost := "arn:aws:states:us-east-1:123456789012:execution:etl-nightly:lost"
	lostRun := "arn:aws:states:us-east-1:123456789012:mapRun:etl-nightly/ProcessItems:lost"
	redriven := "arn:aws:states:us-east-1:123456789012:execution:etl-nightly:redriven"
	redrivenRun := "arn:aws:states:us-east-1:123456789012:mapRun:etl-nightly/ProcessItems:redriven"
	e.acct.addRun(lost, lostRun, 0, 5, 1000)
	e.acct.addRun(redriven, redrivenRun, 0, 5, 1000)
	e.acct.redrives[redriven] = 1
	// Its Map Run was tuned until it failed.
	if _, err := e.store.PutRun(ctx, registry.Run{ARN: redrivenRun, ExecutionARN: redriven, Policy: "default", DiscoveredAt: now.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.EndRun(ctx, redrivenRun, "FAILED", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The state machine is known (an earlier execution was seen); the
	// redriven execution is stored as it failed the first time.
	if err := e.store.PutStateMachine(ctx, registry.StateMachine{ARN: smARN, Policy: "default", OptedIn: true, CheckedAt: now, SeenAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.PutExecution(ctx, registry.Execution{ARN: redriven, StateMachineARN: smARN, Status: "FAILED", Policy: "default", StoppedAt: now.Add(-time.Hour), UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tu := e.tuner(t, Config{})
	rep, err := tu.Tick(ctx, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if e.acct.listCalls != 1 || rep.Discovered != 2 {
		t.Fatalf("first tick: %d listings, %d discovered; want 1, and the lost execution's run and the redriven run (report %+v)", e.acct.listCalls, rep.Discovered, rep)
	}
	if runs, err := e.store.ActiveRuns(ctx); err != nil || len(runs) != 2 {
		t.Fatalf("tracked runs %+v, %v; want the lost execution's and the redriven one", runs, err)
	}
	if !strings.Contains(e.logs.String(), `"msg":"redriven run tuned again"`) {
		t.Errorf("no log line says the redriven run is tuned again:\n%s", e.logs.String())
	}
	execs, err := e.store.ActiveExecutions(ctx)
	if err != nil || len(execs) != 2 {
		t.Fatalf("watched %+v, %v; want the lost and the redriven execution", execs, err)
	}
	for _, at := range []time.Duration{2 * time.Minute, 5 * time.Minute} {
		e.acct.listCalls = 0
		if _, err := tu.Tick(ctx, now.Add(at)); err != nil {
			t.Fatal(err)
		}
		if e.acct.listCalls != 0 {
			t.Errorf("at +%s: listed again %d times, want not before 5 minutes have passed", at, e.acct.listCalls)
		}
	}
	e.acct.listCalls = 0
	if _, err := tu.Tick(ctx, now.Add(6*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if e.acct.listCalls != 1 {
		t.Errorf("at +6m: %d listings, want 1", e.acct.listCalls)
	}
}

// failPutRun fails the first n PutRun calls.
type failPutRun struct {
	Store
	n int
}

func (f *failPutRun) PutRun(ctx context.Context, r registry.Run) (bool, error) {
	if f.n > 0 {
		f.n--
		return false, fmt.Errorf("injected: %w", context.DeadlineExceeded)
	}
	return f.Store.PutRun(ctx, r)
}

// TestRegisterFailureIsReadAgain: a Map Run found in a history but not
// stored leaves the history's position where it was, so that the next tick
// finds it again and registers it.
func TestRegisterFailureIsReadAgain(t *testing.T) {
	e := newEnv(t)
	runs := e.manyExecutions(t, 1)
	pols, err := policy.Parse("test.yaml", []byte(testPolicies))
	if err != nil {
		t.Fatal(err)
	}
	tu, err := New(Config{Owner: "tuner-a", Region: "us-east-1"}, Deps{SFN: e.acct, CloudWatch: e.acct, Store: &failPutRun{Store: e.store, n: 1}, Policies: pols})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for tick := range 2 {
		rep, err := tu.Tick(ctx, now.Add(time.Duration(tick)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if want := tick; rep.Discovered != want {
			t.Errorf("tick %d: %d discovered, want %d", tick, rep.Discovered, want)
		}
	}
	if tracked, err := e.store.ActiveRuns(ctx); err != nil || len(tracked) != 1 || tracked[0].ARN != runs[0] {
		t.Fatalf("tracked %+v, %v; want %s", tracked, err, runs[0])
	}
}
