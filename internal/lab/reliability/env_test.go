package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/tuner"
	"github.com/maptuner/maptuner/internal/watch"
)

// matrixScenario is one Map Run of 20,000 items against a function of
// reserved concurrency 60, watched through its Throttles metric: long
// enough to stay open through every cell's ticks, and throttled once the
// tuner passes 60, so that every kind of decision is in play.
const matrixScenario = `
name: fault-matrix
downstreams:
  - name: process-item
    concurrency: 60
runs:
  - stateMachine: etl-nightly
    label: ProcessItems
    downstream: process-item
    items: 20000
    duration: {dist: lognormal, median: 20s, sigma: 0.3}
    tags: {"maptuner:policy": default}
    maxConcurrency: 10
    toleratedFailurePercentage: 5
    retry: {interval: 2s, backoffRate: 2, maxAttempts: 6, jitter: FULL}
policy:
  version: 1
  policies:
    default:
      maxConcurrency: 1000
      throttleSignals:
        - namespace: AWS/Lambda
          metric: Throttles
          dimensions: {FunctionName: process-item}
          stat: Sum
`

// store is the registry as both functions use it, and the listing of the
// tracked runs with their state.
type store interface {
	tuner.Store
	watch.Store
	ActiveRuns(ctx context.Context) ([]registry.Run, error)
}

var _ store = (*registry.DynamoDB)(nil)

// env is one simulated account with the tuner wired to it through the
// fault injector: Step Functions and CloudWatch from the world, the
// registry on the given DynamoDB API (or in memory), every outside call
// through in.
type env struct {
	world    *sim.World
	in       *injector
	sfn      *recordingSFN
	store    store
	policies *policy.Set
	tuner    *tuner.Tuner
	logs     *logBuffer
	run      string // the Map Run's ARN once started
}

// newEnv starts the world and registers its parent execution as the watch
// function would.
func newEnv(t *testing.T, sc sim.Scenario, newStore func(*injector) store) *env {
	t.Helper()
	e := &env{world: sim.New(sc, 1), in: &injector{}, logs: &logBuffer{}}
	doc, err := sc.PolicyYAML()
	if err != nil {
		t.Fatal(err)
	}
	if e.policies, err = policy.Parse(sc.Name+" policy", doc); err != nil {
		t.Fatal(err)
	}
	e.sfn = &recordingSFN{faultySFN: faultySFN{next: e.world.SFN(), in: e.in}}
	e.store = newStore(e.in)
	e.tuner = e.newTuner(t, "tuner-1")
	ctx := context.Background()
	for _, p := range e.world.Start() {
		ex := registry.Execution{ARN: p.ExecutionARN, StateMachineARN: p.StateMachineARN, Status: registry.StatusRunning, Policy: "default", UpdatedAt: e.world.Now()}
		if _, err := e.store.PutExecution(ctx, ex); err != nil {
			t.Fatalf("register %s: %v", p.ExecutionARN, err)
		}
	}
	return e
}

// newTuner is a tuner of this account named owner, as another invocation
// of the tune function would be.
func (e *env) newTuner(t *testing.T, owner string) *tuner.Tuner {
	t.Helper()
	tu, err := tuner.New(tuner.Config{Owner: owner, Region: "us-east-1"}, tuner.Deps{
		SFN: e.sfn, CloudWatch: &faultyMetrics{next: e.world.CloudWatch(), in: e.in},
		Store: e.store, Policies: e.policies,
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

// tick moves the world one minute on and runs one tick at that instant.
func (e *env) tick(ctx context.Context) (tuner.Report, error) {
	e.world.Advance(time.Minute)
	rep, err := e.tuner.Tick(ctx, e.world.Now())
	if e.run == "" {
		if arns := e.world.MapRunARNs(); len(arns) > 0 {
			e.run = arns[0]
		}
	}
	return rep, err
}

// tracked returns the run's registry record, and whether it is tracked.
func (e *env) tracked(t *testing.T) (registry.Run, bool) {
	t.Helper()
	runs, err := e.store.ActiveRuns(context.Background())
	if err != nil {
		t.Fatalf("list tracked runs: %v", err)
	}
	for _, r := range runs {
		if r.ARN == e.run {
			return r, true
		}
	}
	return registry.Run{}, false
}

// recordingSFN records every UpdateMapRun that succeeded.
type recordingSFN struct {
	faultySFN
	mu      sync.Mutex
	updates []sfn.UpdateMapRunInput
}

func (s *recordingSFN) UpdateMapRun(ctx context.Context, p *sfn.UpdateMapRunInput, o ...func(*sfn.Options)) (*sfn.UpdateMapRunOutput, error) {
	out, err := s.faultySFN.UpdateMapRun(ctx, p, o...)
	if err == nil {
		s.mu.Lock()
		s.updates = append(s.updates, *p)
		s.mu.Unlock()
	}
	return out, err
}

func (s *recordingSFN) sent() []sfn.UpdateMapRunInput {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sfn.UpdateMapRunInput(nil), s.updates...)
}

// logBuffer keeps the JSON log lines of the tuner; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// take returns the lines written since the last take and forgets them.
func (b *logBuffer) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	b.buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// errorLines are the lines of level ERROR among lines.
func errorLines(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		var rec struct {
			Level string `json:"level"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		if rec.Level == slog.LevelError.String() {
			out = append(out, l)
		}
	}
	return out
}

// checkSafe fails the test on any update sent outside the policy's bounds.
func checkSafe(t *testing.T, e *env) {
	t.Helper()
	res, err := e.policies.Resolve("default", "ProcessItems")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range e.sfn.sent() {
		if u.MaxConcurrency != nil {
			if n := *u.MaxConcurrency; n < res.Control.MinConcurrency || n > res.Control.MaxConcurrency {
				t.Errorf("UpdateMapRun sent maxConcurrency %d, outside [%d, %d]", n, res.Control.MinConcurrency, res.Control.MaxConcurrency)
			}
		}
	}
	for _, r := range e.world.Result().Runs {
		if r.Status == "FAILED" {
			t.Errorf("map run %s failed: %s: %s", r.Name, r.Error, r.Cause)
		}
	}
}
