package tuner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

const (
	execARN = "arn:aws:states:us-east-1:123456789012:execution:etl-nightly:run-1"
	runARN  = "arn:aws:states:us-east-1:123456789012:mapRun:etl-nightly/ProcessItems:0b5e"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// testPolicies watches no metric, so that counts alone drive decisions.
const testPolicies = `
version: 1
policies:
  default:
    initialConcurrency: 10
    throttleSignals: []
  watched:
    initialConcurrency: 10
  dry:
    dryRun: true
    throttleSignals: []
`

// lockedBuffer is a bytes.Buffer that overlapping tuners can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type env struct {
	acct  *fakeAccount
	store *registry.Memory
	logs  *lockedBuffer
	emf   *lockedBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := registry.NewMemory(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{acct: newFakeAccount(), store: store, logs: &lockedBuffer{}, emf: &lockedBuffer{}}
}

func (e *env) tuner(t *testing.T, cfg Config) *Tuner {
	t.Helper()
	pols, err := policy.Parse("test.yaml", []byte(testPolicies))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Owner == "" {
		cfg.Owner = "tuner-a"
	}
	cfg.Region = "us-east-1"
	tu, err := New(cfg, Deps{SFN: e.acct, CloudWatch: e.acct, Store: e.store, Policies: pols,
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Metrics: e.emf})
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

// watchExec registers the execution as the watch function would.
func (e *env) watchExec(t *testing.T, policyName string) {
	t.Helper()
	if _, err := e.store.PutExecution(context.Background(), registry.Execution{ARN: execARN, Status: "RUNNING", Policy: policyName, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

func TestTickDiscoversAndActs(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	e.watchExec(t, "default")
	rep, err := e.tuner(t, Config{}).Tick(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Discovered != 1 || rep.Decided != 1 || rep.Updated != 1 {
		t.Fatalf("report %+v", rep)
	}
	if len(e.acct.updates) != 1 || aws.ToInt32(e.acct.updates[0].MaxConcurrency) != 10 {
		t.Fatalf("updates %+v, want maxConcurrency 10 (never 0)", e.acct.updates)
	}
	d := rep.Decisions[0].Decision
	if d.Reason != control.ReasonInitial || !rep.Decisions[0].Applied {
		t.Fatalf("decision %+v", rep.Decisions[0])
	}
	run, err := e.store.GetRun(context.Background(), runARN)
	if err != nil || len(run.State.History) == 0 || run.LastDecision == nil || run.LeaseOwner != "" {
		t.Fatalf("stored run %+v, %v", run, err)
	}
	// The decision log line and the metrics line.
	var line struct {
		Msg, Run, Reason string
		Old, New         struct{ MaxConcurrency int32 }
	}
	for l := range strings.Lines(e.logs.String()) {
		if strings.Contains(l, `"msg":"decision"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line.Run != runARN || line.Reason != "Initial" || line.Old.MaxConcurrency != 0 || line.New.MaxConcurrency != 10 {
		t.Fatalf("decision line %+v in %s", line, e.logs)
	}
	if !strings.Contains(e.emf.String(), `"CloudWatchMetrics"`) || !strings.Contains(e.emf.String(), `"MaxConcurrency":10`) {
		t.Fatalf("emf %s", e.emf)
	}
	decisions, err := e.store.Decisions(context.Background(), runARN, 10)
	if err != nil || len(decisions) != 1 {
		t.Fatalf("decision log %+v %v", decisions, err)
	}
}

func TestDryRunAndOffSwitchNeverUpdate(t *testing.T) {
	for name, c := range map[string]struct {
		cfg    Config
		policy string
	}{
		"dry-run config": {Config{DryRun: true}, "default"},
		"off switch":     {Config{ActuationOff: true}, "default"},
		"dry-run policy": {Config{}, "dry"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.acct.addRun(execARN, runARN, 0, 5, 1000)
			e.watchExec(t, c.policy)
			rep, err := e.tuner(t, c.cfg).Tick(context.Background(), now)
			if err != nil {
				t.Fatal(err)
			}
			if len(e.acct.updates) != 0 || rep.Updated != 0 {
				t.Fatalf("UpdateMapRun called: %+v", e.acct.updates)
			}
			if rep.Decided != 1 || !rep.Decisions[0].DryRun || rep.Decisions[0].Decision.New.MaxConcurrency != 10 {
				t.Fatalf("report %+v", rep)
			}
		})
	}
}

func TestLeasedRunIsLeftAlone(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	e.watchExec(t, "default")
	ctx := context.Background()
	// Discover first, then let another tuner hold the run.
	if _, err := e.tuner(t, Config{DryRun: true}).Tick(ctx, now); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Claim(ctx, runARN, "tuner-b", now.Add(time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	rep, err := e.tuner(t, Config{}).Tick(ctx, now.Add(time.Minute+time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped["leased"] != 1 || len(e.acct.updates) != 0 {
		t.Fatalf("report %+v, updates %+v", rep, e.acct.updates)
	}
}

func TestOverlappingTicksNeverBothAct(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 20
	for i := range n {
		arn := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:mapRun:etl-nightly/ProcessItems:%02d", i)
		e.acct.addRun(execARN, arn, 0, 5, 1000)
		if _, err := e.store.PutRun(ctx, registry.Run{ARN: arn, Policy: "default", DiscoveredAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	reps := make([]Report, 4)
	for i := range reps {
		tu := e.tuner(t, Config{Owner: fmt.Sprintf("tuner-%d", i)})
		wg.Go(func() {
			rep, err := tu.Tick(ctx, now)
			if err != nil {
				t.Error(err)
			}
			reps[i] = rep
		})
	}
	wg.Wait()
	per := map[string]int{}
	for _, u := range e.acct.updates {
		per[aws.ToString(u.MapRunArn)]++
	}
	for arn, c := range per {
		if c != 1 {
			t.Errorf("%s updated %d times by overlapping ticks", arn, c)
		}
	}
	decided := 0
	for _, r := range reps {
		decided += r.Decided
	}
	if len(per) != n || decided != n {
		t.Fatalf("%d runs updated, %d decisions, want %d each", len(per), decided, n)
	}
}

func TestEndedRuns(t *testing.T) {
	tests := map[string]func(*fakeAccount){
		"succeeded": func(f *fakeAccount) { f.runs[runARN].Status = types.MapRunStatusSucceeded },
		"gone":      func(f *fakeAccount) { delete(f.runs, runARN) },
		"completed on update": func(f *fakeAccount) {
			f.updateErr = &types.ValidationException{Message: aws.String("completed"), Reason: types.ValidationExceptionReasonCannotUpdateCompletedMapRun}
		},
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.acct.addRun(execARN, runARN, 0, 5, 1000)
			ctx := context.Background()
			if _, err := e.store.PutRun(ctx, registry.Run{ARN: runARN, Policy: "default", DiscoveredAt: now}); err != nil {
				t.Fatal(err)
			}
			mutate(e.acct)
			rep, err := e.tuner(t, Config{}).Tick(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Ended != 1 || len(rep.Errors) != 0 {
				t.Fatalf("report %+v", rep)
			}
			if runs, _ := e.store.ActiveRuns(ctx); len(runs) != 0 {
				t.Fatalf("still tracked: %+v", runs)
			}
		})
	}
}

func TestFailedUpdateKeepsState(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	ctx := context.Background()
	if _, err := e.store.PutRun(ctx, registry.Run{ARN: runARN, Policy: "default", DiscoveredAt: now}); err != nil {
		t.Fatal(err)
	}
	e.acct.updateErr = errors.New("connection reset")
	rep, err := e.tuner(t, Config{}).Tick(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Updated != 0 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "connection reset") {
		t.Fatalf("report %+v", rep)
	}
	run, err := e.store.GetRun(ctx, runARN)
	if err != nil || run.LeaseOwner != "" || run.Ended {
		t.Fatalf("lease kept after a failed update: %+v %v", run, err)
	}
	if h := run.State.History; len(h) != 1 || h[0].MaxConcurrency != 0 {
		t.Fatalf("the unapplied 10 is in the history: %+v", h)
	}
}

func TestUnknownPolicyLeftUntouched(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	e.watchExec(t, "gone-from-the-file")
	rep, err := e.tuner(t, Config{}).Tick(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped["policy"] != 1 || rep.Decided != 0 || len(e.acct.updates) != 0 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(e.logs.String(), "gone-from-the-file") {
		t.Fatalf("unknown policy not logged: %s", e.logs)
	}
}

func TestMissingMetricsHold(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 10, 10, 1000)
	e.watchExec(t, "watched")
	rep, err := e.tuner(t, Config{}).Tick(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Decided != 1 || rep.Decisions[0].Decision.Reason != control.ReasonMissingData || len(e.acct.updates) != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestSparseSignalCountsQuietMinutes(t *testing.T) {
	const sparsePolicies = `
version: 1
policies:
  default:
    throttleSignals:
      - {namespace: Partner/API, metric: Http429, stat: Sum, dimensions: {Api: enrich}, sparse: true}
  dense:
    throttleSignals:
      - {namespace: Partner/API, metric: Http429, stat: Sum, dimensions: {Api: enrich}}
`
	for name, want := range map[string]control.Reason{"default": control.ReasonSlowStart, "dense": control.ReasonMissingData} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.acct.addRun(execARN, runARN, 10, 10, 1000)
			e.watchExec(t, name)
			pols, err := policy.Parse("sparse.yaml", []byte(sparsePolicies))
			if err != nil {
				t.Fatal(err)
			}
			tu, err := New(Config{Owner: "a", Region: "us-east-1"}, Deps{SFN: e.acct, CloudWatch: e.acct, Store: e.store, Policies: pols})
			if err != nil {
				t.Fatal(err)
			}
			// The metric has published nothing: no minute was throttled.
			rep, err := tu.Tick(context.Background(), now)
			if err != nil || rep.Decided != 1 {
				t.Fatalf("report %+v, %v", rep, err)
			}
			if got := rep.Decisions[0].Decision.Reason; got != want {
				t.Fatalf("reason %s (%s), want %s", got, rep.Decisions[0].Decision.Message, want)
			}
		})
	}
}
