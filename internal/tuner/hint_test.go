package tuner

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

const (
	labelledARN = "arn:aws:states:us-east-1:123456789012:stateMachine:etl-nightly/ProcessItems"
	// processItems is the item processor of ProcessItems, as
	// DescribeStateMachine gives it: one function, by name.
	processItems = `{"StartAt":"Items","States":{"Items":{"Type":"Map","Label":"ProcessItems","End":true,
		"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"Call",
		"States":{"Call":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"process-item"},"End":true}}}}}}`
)

// hintTuner is e's tuner with capacity hints on.
func (e *env) hintTuner(t *testing.T) *Tuner {
	t.Helper()
	pols, err := policy.Parse("test.yaml", []byte(testPolicies))
	if err != nil {
		t.Fatal(err)
	}
	tu, err := New(Config{Owner: "tuner-a", Region: "us-east-1"}, Deps{SFN: e.acct, CloudWatch: e.acct, Lambda: e.acct, Store: e.store, Policies: pols,
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Metrics: e.emf})
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

// track adds running Map Runs, tracked and never decided on, under the
// default policy.
func (e *env) track(t *testing.T, arns ...string) {
	t.Helper()
	for i, arn := range arns {
		exec := execARN + string(rune('a'+i))
		e.acct.addRun(exec, arn, 10, 5, 1000)
		if _, err := e.store.PutRun(context.Background(), registry.Run{ARN: arn, Policy: "default", DiscoveredAt: now.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCapacityHintIsReadOncePerMapState: the first decisions of two runs
// of one Map state read the hint with one DescribeStateMachine and one
// GetFunctionConcurrency; later decisions within hintTTL read nothing; a
// run that starts once the hint has aged reads it again.
func TestCapacityHintIsReadOncePerMapState(t *testing.T) {
	e := newEnv(t)
	e.acct.definitions = map[string]string{labelledARN: processItems}
	e.acct.reserved = map[string]int32{"process-item": 200}
	e.track(t, runARN, runARN+"f")
	tu := e.hintTuner(t)
	ctx := context.Background()

	rep, err := tu.Tick(ctx, now)
	if err != nil || len(rep.Errors)+len(rep.Warnings) != 0 || rep.Decided != 2 {
		t.Fatalf("tick: %+v, %v", rep, err)
	}
	if e.acct.smCalls != 1 || e.acct.concurrencyCalls != 1 || rep.Calls["DescribeStateMachine"] != 1 || rep.Calls["GetFunctionConcurrency"] != 1 {
		t.Fatalf("%d DescribeStateMachine and %d GetFunctionConcurrency calls (report %v), want 1 and 1", e.acct.smCalls, e.acct.concurrencyCalls, rep.Calls)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"msg":"capacity hint"`) || !strings.Contains(logs, `"function":"process-item","bound":200`) {
		t.Errorf("logs lack the hint of process-item, 200:\n%s", logs)
	}
	if _, err := tu.Tick(ctx, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if e.acct.smCalls != 1 {
		t.Errorf("%d DescribeStateMachine calls after the second tick: the hint is reused for %s", e.acct.smCalls, hintTTL)
	}
	e.track(t, runARN+"g")
	if _, err := tu.Tick(ctx, now.Add(hintTTL)); err != nil {
		t.Fatal(err)
	}
	if e.acct.smCalls != 2 || e.acct.concurrencyCalls != 2 {
		t.Errorf("%d DescribeStateMachine and %d GetFunctionConcurrency calls, want the aged hint read again", e.acct.smCalls, e.acct.concurrencyCalls)
	}
}

// TestBoundIsReadAgain: every decision gets the bound, read again once it
// has aged: after hintTTL for a run well below its bound, after boundEvery
// for one held at it, which a raised bound lifts at once.
func TestBoundIsReadAgain(t *testing.T) {
	tests := []struct {
		name          string
		reserved, now int32
		// quiet are the instants of ticks that reuse the hint; readAt the
		// one that reads it again, and reason its decision.
		quiet  []time.Duration
		readAt time.Duration
		reason control.Reason
	}{
		{name: "well below its bound", reserved: 200, now: 800, quiet: []time.Duration{time.Minute, 2 * time.Minute}, readAt: hintTTL},
		{name: "held at its bound", reserved: 10, now: 40, readAt: boundEvery, reason: control.ReasonBound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.acct.definitions = map[string]string{labelledARN: processItems}
			e.acct.reserved = map[string]int32{"process-item": tt.reserved}
			e.track(t, runARN)
			tu := e.hintTuner(t)
			ctx := context.Background()
			bound := func(when time.Duration) int32 {
				t.Helper()
				rep, err := tu.Tick(ctx, now.Add(when))
				if err != nil || len(rep.Errors) != 0 || rep.Decided != 1 {
					t.Fatalf("tick at +%s: %+v, %v", when, rep, err)
				}
				if tt.reason != "" && when == tt.readAt && rep.Decisions[0].Decision.Reason != tt.reason {
					t.Errorf("decision at +%s: %s, want %s: %s", when, rep.Decisions[0].Decision.Reason, tt.reason, rep.Decisions[0].Decision.Message)
				}
				r, err := e.store.GetRun(ctx, runARN)
				if err != nil {
					t.Fatal(err)
				}
				return r.State.Bound
			}
			if got := bound(0); got != tt.reserved {
				t.Fatalf("bound %d after the first decision, want %d", got, tt.reserved)
			}
			e.acct.reserved["process-item"] = tt.now
			for _, q := range tt.quiet {
				if got := bound(q); got != tt.reserved || e.acct.concurrencyCalls != 1 {
					t.Errorf("at +%s: bound %d after %d GetFunctionConcurrency calls, want %d from the one call", q, got, e.acct.concurrencyCalls, tt.reserved)
				}
			}
			if got := bound(tt.readAt); got != tt.now || e.acct.concurrencyCalls != 2 {
				t.Errorf("at +%s: bound %d after %d GetFunctionConcurrency calls, want %d read again", tt.readAt, got, e.acct.concurrencyCalls, tt.now)
			}
		})
	}
}

func TestHint(t *testing.T) {
	tests := []struct {
		name        string
		definitions map[string]string
		reserved    map[string]int32
		lambdaErr   error
		want        int32
		warnings    int
		errors      int
	}{
		{name: "reserved", definitions: map[string]string{labelledARN: processItems}, reserved: map[string]int32{"process-item": 150}, want: 150},
		{name: "none reserved", definitions: map[string]string{labelledARN: processItems}, want: control.NoBound},
		{name: "two functions", definitions: map[string]string{labelledARN: strings.Replace(processItems, `"End":true}}}}}}`, `"Next":"B"},"B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:other","End":true}}}}}}`, 1)},
			reserved: map[string]int32{"process-item": 150}},
		{name: "denied", definitions: map[string]string{labelledARN: processItems},
			lambdaErr: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}, warnings: 1},
		{name: "throttled", definitions: map[string]string{labelledARN: processItems},
			lambdaErr: &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate exceeded", Fault: smithy.FaultClient}, warnings: 1},
		{name: "definition not JSON", definitions: map[string]string{labelledARN: "{"}, errors: 1},
		{name: "state machine gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.acct.definitions, e.acct.reserved, e.acct.lambdaErr = tt.definitions, tt.reserved, tt.lambdaErr
			tu := e.hintTuner(t)
			tc, p := hintTick(t, tu)
			if got := tu.hint(tc, p, control.State{}, 0); got != tt.want {
				t.Errorf("hint = %d, want %d", got, tt.want)
			}
			if len(tc.rep.Warnings) != tt.warnings || len(tc.rep.Errors) != tt.errors {
				t.Errorf("warnings %q, errors %q; want %d and %d", tc.rep.Warnings, tc.rep.Errors, tt.warnings, tt.errors)
			}
			if tt.errors > 0 {
				// A read that failed is not made again by the next run
				// of the Map state until it expires.
				calls := e.acct.smCalls
				if got := tu.hint(tc, p, control.State{Bound: 90}, 0); got != 0 || e.acct.smCalls != calls || len(tc.rep.Errors) != tt.errors {
					t.Errorf("read again: hint %d after %d more DescribeStateMachine calls, errors %q; want 0 (the bound known stands) from the failed read kept", got, e.acct.smCalls-calls, tc.rep.Errors)
				}
			}
		})
	}
}

// TestHintDeniedWarnsOnce: a role that may not read the reserved
// concurrency turns hints off with one warning, not one per run.
func TestHintDeniedWarnsOnce(t *testing.T) {
	e := newEnv(t)
	e.acct.definitions = map[string]string{labelledARN: processItems, strings.Replace(labelledARN, "etl-nightly", "etl-hourly", 1): processItems}
	e.acct.lambdaErr = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: lambda:GetFunctionConcurrency"}
	e.track(t, runARN, strings.Replace(runARN, "etl-nightly", "etl-hourly", 1))
	rep, err := e.hintTuner(t).Tick(context.Background(), now)
	if err != nil || len(rep.Errors) != 0 || rep.Decided != 2 {
		t.Fatalf("tick: %+v, %v", rep, err)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "capacity hints off") || !strings.Contains(rep.Warnings[0], "AccessDeniedException") {
		t.Errorf("warnings %q, want one saying capacity hints are off", rep.Warnings)
	}
}

// TestHintsOffWithoutLambda: with no Lambda client the tuner makes no hint
// call at all.
func TestHintsOffWithoutLambda(t *testing.T) {
	e := newEnv(t)
	e.acct.definitions = map[string]string{labelledARN: processItems}
	e.track(t, runARN)
	rep, err := e.tuner(t, Config{}).Tick(context.Background(), now)
	if err != nil || rep.Decided != 1 || e.acct.smCalls+e.acct.concurrencyCalls != 0 {
		t.Fatalf("tick %+v, %v: %d hint calls, want none", rep, err, e.acct.smCalls+e.acct.concurrencyCalls)
	}
}

// hintTick is a tick at now and the plan of runARN, for calling hint.
func hintTick(t *testing.T, tu *Tuner) (*tick, plan) {
	t.Helper()
	tc := &tick{work: context.Background(), finish: context.Background(), now: now, rep: &Report{},
		obs: &observe.Observer{SFN: tu.deps.SFN, Metrics: tu.deps.CloudWatch}}
	plans := tu.plan(tc, []registry.Run{{ARN: runARN, Policy: "default"}})
	if len(plans) != 1 {
		t.Fatalf("plans %+v", plans)
	}
	return tc, plans[0]
}

// TestRunsShareTheFunctionTheyInvoke: runs of two state machines whose
// policy names no signal of a downstream, and whose children invoke one
// function, share it from the first tick; a hint read that fails later
// keeps the function read before, so that the runs do not seem to part.
func TestRunsShareTheFunctionTheyInvoke(t *testing.T) {
	e := newEnv(t)
	hourly := strings.Replace(runARN, "etl-nightly", "etl-hourly", 1)
	e.acct.definitions = map[string]string{labelledARN: processItems, strings.Replace(labelledARN, "etl-nightly", "etl-hourly", 1): processItems}
	tu := e.hintTuner(t)
	tc, _ := hintTick(t, tu)
	runs := []registry.Run{{ARN: runARN, Policy: "default"}, {ARN: hourly, Policy: "default"}}
	shared := func(when string) {
		t.Helper()
		s := newSharing(tu.plan(tc, runs))
		for _, arn := range []string{runARN, hourly} {
			if sh := s.of(arn); sh == nil || sh.Runs != 2 {
				t.Errorf("%s: run %s shares %+v, want with the other run", when, arn, sh)
			}
		}
	}
	shared("first tick")
	calls := e.acct.smCalls
	tc.now = now.Add(hintTTL)
	shared("past the hint's TTL")
	if e.acct.smCalls != calls {
		t.Errorf("%d DescribeStateMachine calls to plan past the hint's TTL, want none: the function kept names it", e.acct.smCalls-calls)
	}
	// The decision on the first run reads its hint again, and fails.
	e.acct.definitions[labelledARN] = "{"
	arn, err := maprun.ParseARN(runARN)
	if err != nil {
		t.Fatal(err)
	}
	if got := tu.hint(tc, plan{run: runs[0], arn: arn}, control.State{}, 0); got != 0 || len(tc.rep.Errors) != 1 {
		t.Fatalf("hint = %d, errors %q; want 0 and the failed read", got, tc.rep.Errors)
	}
	shared("after a failed read")
	// An hour on, a function kept is too old to name the Map state's:
	// planning reads the hints again.
	e.acct.definitions[labelledARN] = processItems
	calls = e.acct.smCalls
	tc.now = tc.now.Add(functionKeep)
	shared("an hour on")
	if got := e.acct.smCalls - calls; got != 2 {
		t.Errorf("%d DescribeStateMachine calls to plan an hour on, want 2: one for each Map state", got)
	}
}

// TestFunctionOnlyWithoutADownstreamNamed: a run whose policy names a
// downstream's signal, even one templated per state machine, or a group,
// is not planned by the function it invokes, which is not read for it.
func TestFunctionOnlyWithoutADownstreamNamed(t *testing.T) {
	e := newEnv(t)
	e.acct.definitions = map[string]string{labelledARN: processItems}
	tu := e.hintTuner(t)
	pols, err := policy.Parse("test.yaml", []byte(`
version: 1
policies:
  signalled:
    throttleSignals:
      - {namespace: AWS/Lambda, metric: Throttles, stat: Sum, dimensions: {FunctionName: "${StateMachineName}"}}
  grouped:
    group: process-item
  default: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	tu.deps.Policies = pols
	tc := &tick{work: context.Background(), finish: context.Background(), now: now, rep: &Report{},
		obs: &observe.Observer{SFN: tu.deps.SFN, Metrics: tu.deps.CloudWatch}}
	for _, name := range []string{"signalled", "grouped"} {
		calls := e.acct.smCalls
		if p := tu.plan(tc, []registry.Run{{ARN: runARN, Policy: name}}); len(p) != 1 || p[0].function != "" || e.acct.smCalls != calls {
			t.Errorf("policy %s: plans %+v after %d DescribeStateMachine calls; want one, with no function read", name, p, e.acct.smCalls-calls)
		}
	}
	if p := tu.plan(tc, []registry.Run{{ARN: runARN, Policy: "default"}}); len(p) != 1 || p[0].function != "process-item" {
		t.Errorf("default policy: plans %+v; want the function process-item", p)
	}
}
