package tuner

import (
	"maps"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

func TestShares(t *testing.T) {
	lambda := func(fn string) observe.MetricQuery {
		return observe.MetricQuery{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"FunctionName": fn}}
	}
	// own is the default signal of a run: its own state machine's.
	own := func(arn string) observe.MetricQuery {
		return observe.MetricQuery{Namespace: "AWS/States", Metric: "ExecutionThrottled", Stat: "Sum", Dimensions: map[string]string{"StateMachineArn": arn}}
	}
	// run is a plan of a run whose last limit is limit (-1: not observed
	// yet), with its policy's group and its expanded signals.
	run := func(arn string, limit int32, group string, qs ...observe.MetricQuery) plan {
		r := registry.Run{ARN: arn}
		if limit >= 0 {
			r.State.History = []control.Setting{{MaxConcurrency: limit}}
		}
		return plan{run: r, policy: policy.Resolved{Group: group}, signals: qs}
	}
	ended := func(p plan) plan { p.run.Ended = true; return p }
	tests := []struct {
		name  string
		plans []plan
		want  map[string]control.Share
	}{
		{"the same signal shares, unlimited counts as the ceiling, a run not observed as 0", []plan{
			run("a", 120, "", lambda("f")),
			run("b", 0, "", lambda("f")),
			run("c", -1, "", lambda("f")),
			run("d", 50, "", lambda("g")), // alone on its function
			run("e", 50, ""),              // no signal, no group: shares nothing
		}, map[string]control.Share{
			"a": {Runs: 3, Others: 10000, Held: 10000},
			"b": {Runs: 3, Others: 120, Held: 120},
			"c": {Runs: 3, Others: 10120, Held: 10120},
		}},
		{"a group shares whatever the signals", []plan{
			run("orders", 100, "process-item", own("orders")),
			run("invoices", 60, "process-item", own("invoices")),
			run("silent", 40, "process-item"), // no signal at all
			run("other", 70, "", own("other")),
		}, map[string]control.Share{
			"orders":   {Runs: 3, Others: 100, Held: 100},
			"invoices": {Runs: 3, Others: 140, Held: 140},
			"silent":   {Runs: 3, Others: 160, Held: 160},
		}},
		{"the group takes precedence over the signals", []plan{
			run("a", 100, "db", lambda("f")),
			run("b", 60, "", lambda("f")), // same signal, no group: not with a
			run("c", 40, "", lambda("f")),
			run("d", 30, "api", lambda("f")), // another group, alone in it
		}, map[string]control.Share{
			"b": {Runs: 2, Others: 40, Held: 40},
			"c": {Runs: 2, Others: 60, Held: 60},
		}},
		{"different groups share nothing", []plan{
			run("a", 100, "db", own("a")),
			run("b", 60, "api", own("b")),
		}, map[string]control.Share{}},
		{"an ended run frees its share", []plan{
			run("a", 100, "db"),
			ended(run("b", 60, "db")),
			run("c", 80, "", lambda("f")),
			ended(run("d", 80, "", lambda("f"))),
		}, map[string]control.Share{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSharing(tt.plans)
			got := map[string]control.Share{}
			for _, p := range tt.plans {
				if sh := s.of(p.run.ARN); sh != nil {
					got[p.run.ARN] = *sh
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("shares %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSharingFollowsDecisions(t *testing.T) {
	run := func(arn string, limit int32) registry.Run {
		return registry.Run{ARN: arn, State: control.State{History: []control.Setting{{MaxConcurrency: limit}}}}
	}
	group := policy.Resolved{Group: "db"}
	s := newSharing([]plan{{run: run("a", 100), policy: group}, {run: run("b", 50), policy: group}, {run: run("c", 30), policy: group}})
	steps := []struct {
		name    string
		decided registry.Run
		want    map[string]*control.Share
	}{
		{"b raised within the period", run("b", 75), map[string]*control.Share{
			"a": {Runs: 3, Others: 105, Held: 105}, "b": {Runs: 3, Others: 130, Held: 130}, "c": {Runs: 3, Others: 175, Held: 175},
		}},
		{"a cut to unlimited counts as the ceiling", run("a", 0), map[string]*control.Share{
			"a": {Runs: 3, Others: 105, Held: 105}, "b": {Runs: 3, Others: 10030, Held: 10030}, "c": {Runs: 3, Others: 10075, Held: 10075},
		}},
		{"c ended", func() registry.Run { r := run("c", 30); r.Ended = true; return r }(), map[string]*control.Share{
			"a": {Runs: 2, Others: 75, Held: 75}, "b": {Runs: 2, Others: 10000, Held: 10000}, "c": nil,
		}},
		{"a run sharing nothing changes nothing", run("z", 500), map[string]*control.Share{
			"a": {Runs: 2, Others: 75, Held: 75}, "b": {Runs: 2, Others: 10000, Held: 10000}, "z": nil,
		}},
		{"b ended: a is alone", func() registry.Run { r := run("b", 75); r.Ended = true; return r }(), map[string]*control.Share{
			"a": nil, "b": nil,
		}},
	}
	for _, st := range steps {
		s.decided(st.decided)
		for arn, want := range st.want {
			got := s.of(arn)
			if (got == nil) != (want == nil) || got != nil && *got != *want {
				t.Errorf("%s: share of %s %+v, want %+v", st.name, arn, got, want)
			}
		}
	}
}

func TestSharingTellsWhenOthersWereThrottled(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := func(arn string, throttled time.Time) registry.Run {
		return registry.Run{ARN: arn, State: control.State{History: []control.Setting{{MaxConcurrency: 100}}, ThrottledAt: throttled}}
	}
	group := policy.Resolved{Group: "db"}
	s := newSharing([]plan{{run: run("a", t0), policy: group}, {run: run("b", t0.Add(time.Minute)), policy: group}, {run: run("c", time.Time{}), policy: group}})
	for arn, want := range map[string]time.Time{"a": t0.Add(time.Minute), "b": t0, "c": t0.Add(time.Minute)} {
		if got := s.of(arn).ThrottledAt; !got.Equal(want) {
			t.Errorf("%s: others throttled at %v, want %v (its own throttling is not the others')", arn, got, want)
		}
	}
	s.decided(run("c", t0.Add(2*time.Minute)))
	if got := s.of("a").ThrottledAt; !got.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("after c was throttled, a's others throttled at %v, want %v", got, t0.Add(2*time.Minute))
	}
}

func TestSharingCountsChildrenStillRunning(t *testing.T) {
	run := func(arn string, limit int32, running int64) registry.Run {
		return registry.Run{ARN: arn, State: control.State{History: []control.Setting{{MaxConcurrency: limit}}, Ticks: []control.Tick{{Running: running}}}}
	}
	group := policy.Resolved{Group: "db"}
	// a was cut from 200 to 100; its 200 children run on until they finish.
	s := newSharing([]plan{{run: run("a", 100, 200), policy: group}, {run: run("b", 50, 20), policy: group}})
	if got, want := *s.of("b"), (control.Share{Runs: 2, Others: 100, Held: 200}); got != want {
		t.Errorf("share of b %+v, want %+v: a holds its running children", got, want)
	}
	if got, want := *s.of("a"), (control.Share{Runs: 2, Others: 50, Held: 50}); got != want {
		t.Errorf("share of a %+v, want %+v: b's limit, above its running children", got, want)
	}
	s.decided(run("a", 100, 120))
	if got := s.of("b").Held; got != 120 {
		t.Errorf("after a's children drained to 120, b's others hold %d, want 120", got)
	}
}

func TestDownstreamKey(t *testing.T) {
	q := func(ns string, dims map[string]string) observe.MetricQuery {
		return observe.MetricQuery{Namespace: ns, Metric: "Throttles", Stat: "Sum", Dimensions: dims}
	}
	f, g := q("AWS/Lambda", map[string]string{"FunctionName": "f"}), q("AWS/Lambda", map[string]string{"FunctionName": "g"})
	// perRun is a run of state machine sm under the default policy, whose
	// children invoke function fn.
	perRun := func(sm, fn string) plan {
		own := policy.Signal{Namespace: "AWS/States", Metric: "ExecutionThrottled", Stat: "Sum",
			Dimensions: map[string]string{"StateMachineArn": policy.PlaceholderLabelledStateMachineARN}}
		return plan{function: fn, policy: policy.Resolved{Signals: []policy.Signal{own}},
			signals: []observe.MetricQuery{q("AWS/States", map[string]string{"StateMachineArn": sm})}}
	}
	two := map[string]string{"TableName": "t", "Operation": "PutItem"}
	tests := []struct {
		name string
		a, b plan
		same bool
	}{
		{"signals in another order", plan{signals: []observe.MetricQuery{f, g}}, plan{signals: []observe.MetricQuery{g, f}}, true},
		{"dimensions in another order", plan{signals: []observe.MetricQuery{q("AWS/DynamoDB", two)}}, plan{signals: []observe.MetricQuery{q("AWS/DynamoDB", maps.Clone(two))}}, true},
		{"another dimension value", plan{signals: []observe.MetricQuery{f}}, plan{signals: []observe.MetricQuery{g}}, false},
		{"one signal of two", plan{signals: []observe.MetricQuery{f}}, plan{signals: []observe.MetricQuery{f, g}}, false},
		{"a group whatever the signals", plan{policy: policy.Resolved{Group: "x"}, signals: []observe.MetricQuery{f}}, plan{policy: policy.Resolved{Group: "x"}}, true},
		{"a group and no group with the same signals", plan{policy: policy.Resolved{Group: "x"}, signals: []observe.MetricQuery{f}}, plan{signals: []observe.MetricQuery{f}}, false},
		{"two groups", plan{policy: policy.Resolved{Group: "x"}}, plan{policy: policy.Resolved{Group: "y"}}, false},
		{"one function, no signals", plan{function: "f"}, plan{function: "f"}, true},
		{"one function, signals of each run's own state machine", perRun("a", "f"), perRun("b", "f"), true},
		{"two functions", plan{function: "f"}, plan{function: "g"}, false},
		{"two functions, signals of each run's own state machine", perRun("a", "f"), perRun("b", "g"), false},
		{"a group before the function", plan{policy: policy.Resolved{Group: "x"}, function: "f"}, plan{function: "f"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if same := downstreamKey(tt.a) == downstreamKey(tt.b); same != tt.same {
				t.Errorf("same downstream %v, want %v", same, tt.same)
			}
		})
	}
	if k := downstreamKey(plan{}); k != "" {
		t.Errorf("a run with no group and no signal has downstream %q, want none", k)
	}
}

func TestFunctionName(t *testing.T) {
	for ref, want := range map[string]string{
		"process-item":                       "process-item",
		"123456789012:function:process-item": "process-item",
		"arn:aws:lambda:us-east-1:123456789012:function:process-item":  "process-item",
		"arn:aws-cn:lambda:cn-north-1:123456789012:function:work-item": "work-item",
		"": "",
	} {
		if got := functionName(ref); got != want {
			t.Errorf("functionName(%q) = %q, want %q", ref, got, want)
		}
	}
}
