package tuner

import (
	"testing"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
)

func TestShares(t *testing.T) {
	lambda := func(fn string) observe.MetricQuery {
		return observe.MetricQuery{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"FunctionName": fn}}
	}
	withLimit := func(arn string, limit int32, qs ...observe.MetricQuery) plan {
		r := registry.Run{ARN: arn}
		if limit >= 0 {
			r.State.History = []control.Setting{{MaxConcurrency: limit}}
		}
		return plan{run: r, signals: qs}
	}
	plans := []plan{
		withLimit("a", 120, lambda("f")),
		withLimit("b", 0, lambda("f")),  // unlimited: the ceiling of children
		withLimit("c", -1, lambda("f")), // not observed yet
		withLimit("d", 50, lambda("g")), // alone on its function
		withLimit("e", 50),              // no signal: shares nothing
	}
	got := shares(plans)
	want := map[string]control.Share{
		"a": {Runs: 3, Others: 10000},
		"b": {Runs: 3, Others: 120},
		"c": {Runs: 3, Others: 10120},
	}
	if len(got) != len(want) {
		t.Fatalf("shares %v, want runs %v", got, want)
	}
	for arn, w := range want {
		if g := got[arn]; g == nil || *g != w {
			t.Errorf("%s: share %+v, want %+v", arn, g, w)
		}
	}
	// The order of the signals and of their dimensions does not matter.
	two := func(a, b observe.MetricQuery) []observe.MetricQuery { return []observe.MetricQuery{a, b} }
	if downstreamKey(plan{signals: two(lambda("f"), lambda("g"))}) != downstreamKey(plan{signals: two(lambda("g"), lambda("f"))}) {
		t.Error("the same signals in another order name another downstream")
	}
}
