package tuner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

// emfLine is an EMF line as CloudWatch reads it, with the values of the
// tick's metrics and the per-run dimensions.
type emfLine struct {
	AWS struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	Stack, StateMachine, Label, Policy, MapRun                 *string
	TickErrors, RunsTracked, RunsDecided, BudgetExhausted      *float64
	RunsHoldingNoData, TickDuration, MaxConcurrency, Decisions *float64
	Run                                                        string `json:"run"`
}

// emfLines decodes every line of an EMF buffer.
func emfLines(t *testing.T, buf *lockedBuffer) []emfLine {
	t.Helper()
	var out []emfLine
	for l := range strings.Lines(buf.String()) {
		var e emfLine
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("EMF line not JSON: %v: %s", err, l)
		}
		out = append(out, e)
	}
	return out
}

// tickLine is the "tick" log line.
type tickLine struct {
	Level, Msg                               string
	Tracked, Decided, Updated, HoldingNoData int
	Errors, Warnings                         int
	Skipped, Calls                           map[string]int
	DurationMs                               *int64
	Error                                    string
}

func tickLines(t *testing.T, buf *lockedBuffer) []tickLine {
	t.Helper()
	var out []tickLine
	for l := range strings.Lines(buf.String()) {
		if !strings.Contains(l, `"msg":"tick"`) {
			continue
		}
		var line tickLine
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	return out
}

func sets(dims [][]string) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = "[" + strings.Join(d, ",") + "]"
	}
	return strings.Join(s, " ")
}

// TestHealthThroughHandler: a tick through the handler's JSON path writes
// one tick line and one tick metrics record under the stack, and the
// decision's metrics under the job, the policy and the stack, never
// under the Map Run.
func TestHealthThroughHandler(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	e.watchExec(t, "default")
	clock := now
	h := &Handler{Tuner: e.tuner(t, Config{Stack: "prod", LookEvery: -1}), Now: func() time.Time {
		clock = clock.Add(1500 * time.Millisecond) // each reading of the clock 1.5 s later
		return clock
	}}
	if _, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), []byte(`{"detail-type":"Scheduled Event"}`)); err != nil {
		t.Fatal(err)
	}
	ticks := tickLines(t, e.logs)
	if len(ticks) != 1 {
		t.Fatalf("%d tick lines, want 1:\n%s", len(ticks), e.logs)
	}
	tl := ticks[0]
	if tl.Level != "INFO" || tl.Tracked != 1 || tl.Decided != 1 || tl.Updated != 1 || tl.Errors != 0 ||
		tl.DurationMs == nil || *tl.DurationMs != 1500 || tl.Calls["DescribeMapRun"] != 1 || tl.Calls["UpdateMapRun"] != 1 {
		t.Fatalf("tick line %+v:\n%s", tl, e.logs)
	}

	var tick, job, run *emfLine
	for _, l := range emfLines(t, e.emf) {
		switch {
		case l.TickErrors != nil:
			tick = &l
		case l.Decisions != nil:
			run = &l
		case l.MaxConcurrency != nil:
			job = &l
		}
	}
	if tick == nil || job == nil || run == nil {
		t.Fatalf("want a tick record, a job record and a run record:\n%s", e.emf)
	}
	cw := tick.AWS.CloudWatchMetrics[0]
	var names []string
	for _, m := range cw.Metrics {
		names = append(names, m.Name)
	}
	for _, want := range []string{"TickErrors", "RunsTracked", "RunsDecided", "BudgetExhausted", "RunsHoldingNoData", "TickDuration"} {
		if !slices.Contains(names, want) {
			t.Errorf("tick record lacks %s: %s", want, e.emf)
		}
	}
	if cw.Namespace != "maptuner" || sets(cw.Dimensions) != "[Stack]" || *tick.Stack != "prod" ||
		*tick.TickErrors != 0 || *tick.RunsTracked != 1 || *tick.RunsDecided != 1 || *tick.TickDuration != 1500 {
		t.Fatalf("tick record %s", e.emf)
	}
	// The job's record: its limit only (AWS/States has its children).
	cw = job.AWS.CloudWatchMetrics[0]
	if got := sets(cw.Dimensions); got != "[Stack,StateMachine,Label]" || len(cw.Metrics) != 1 || cw.Metrics[0].Name != "MaxConcurrency" {
		t.Fatalf("job record dimension sets %s, metrics %v", got, cw.Metrics)
	}
	if job.MapRun != nil || *job.StateMachine != "etl-nightly" || *job.Label != "ProcessItems" || *job.Stack != "prod" || *job.MaxConcurrency != 10 || job.Run != runARN {
		t.Fatalf("job record %s", e.emf)
	}
	cw = run.AWS.CloudWatchMetrics[0]
	if got := sets(cw.Dimensions); got != "[Stack,Policy] [Stack]" || len(cw.Metrics) != 7 {
		t.Fatalf("run record dimension sets %s, %d metrics", got, len(cw.Metrics))
	}
	if run.MapRun != nil || run.StateMachine != nil || *run.Policy != "default" ||
		*run.Stack != "prod" || *run.MaxConcurrency != 10 || run.Run != runARN {
		t.Fatalf("run record %s", e.emf)
	}
}

// unreadable fails every listing of the tracked runs.
type unreadable struct{ Store }

func (unreadable) ActiveRunHeads(context.Context) ([]registry.Run, error) {
	return nil, fmt.Errorf("injected: %w", errors.New("table gone"))
}

// TestHealthCounts: the tick's metrics count what went wrong and which
// runs hold for want of data; without a stack they have no dimension.
func TestHealthCounts(t *testing.T) {
	pols, err := policy.Parse("test.yaml", []byte(testPolicies))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		store     func(e *env) Store
		policy    string
		level     string
		errors    float64
		holding   float64
		tickError bool
	}{
		{"holding on missing data", func(e *env) Store { return e.store }, "watched", "INFO", 0, 1, false},
		{"store unreadable", func(e *env) Store { return unreadable{e.store} }, "watched", "ERROR", 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.acct.addRun(execARN, runARN, 10, 10, 1000)
			e.watchExec(t, tt.policy)
			tu, err := New(Config{Owner: "a", Region: "us-east-1", LookEvery: -1}, Deps{SFN: e.acct, CloudWatch: e.acct, Store: tt.store(e), Policies: pols,
				Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Metrics: e.emf})
			if err != nil {
				t.Fatal(err)
			}
			h := &Handler{Tuner: tu, Now: func() time.Time { return now }}
			_, err = h.Handle(context.Background(), json.RawMessage(`{}`))
			if (err != nil) != tt.tickError {
				t.Fatalf("error %v", err)
			}
			ticks := tickLines(t, e.logs)
			if len(ticks) != 1 || ticks[0].Level != tt.level || ticks[0].HoldingNoData != int(tt.holding) ||
				tt.tickError != strings.Contains(ticks[0].Error, "table gone") {
				t.Fatalf("tick lines %+v:\n%s", ticks, e.logs)
			}
			lines := emfLines(t, e.emf)
			var tick *emfLine
			for _, l := range lines {
				if l.TickErrors != nil {
					tick = &l
				}
			}
			if tick == nil || *tick.TickErrors != tt.errors || *tick.RunsHoldingNoData != tt.holding || tick.Stack != nil ||
				sets(tick.AWS.CloudWatchMetrics[0].Dimensions) != "[]" {
				t.Fatalf("tick record %s", e.emf)
			}
		})
	}
}
