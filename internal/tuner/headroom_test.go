package tuner

import (
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
)

func TestConcurrencyQueries(t *testing.T) {
	lambda := func(fn string) observe.MetricQuery {
		return observe.MetricQuery{ID: "x", Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"FunctionName": fn}}
	}
	table := observe.MetricQuery{ID: "y", Namespace: "AWS/DynamoDB", Metric: "ThrottledRequests", Stat: "Sum", Dimensions: map[string]string{"TableName": "t"}}
	alias := observe.MetricQuery{ID: "z", Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"FunctionName": "fn", "Resource": "fn:live"}}
	throttled := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	withBound := func(bound int32, signals ...observe.MetricQuery) plan {
		return plan{run: registry.Run{ARN: "arn", State: control.State{Bound: bound, ThrottledAt: throttled}}, signals: signals}
	}
	clean := withBound(300, lambda("fn"))
	clean.run.State.ThrottledAt = time.Time{}
	tests := []struct {
		name  string
		plans []plan
		want  []string // query IDs
	}{
		{"no bound yet", []plan{withBound(0, lambda("fn"))}, nil},
		{"never throttled", []plan{clean}, nil},
		{"no Lambda signal", []plan{withBound(300, table)}, nil},
		{"an alias's signal", []plan{withBound(300, alias)}, nil},
		{"a Lambda signal", []plan{withBound(300, table, lambda("fn"))}, []string{"concurrent:fn"}},
		{"two runs of one function read it once", []plan{withBound(300, lambda("fn")), withBound(300, lambda("fn")), withBound(50, lambda("other"))}, []string{"concurrent:fn", "concurrent:other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs := concurrencyQueries(tt.plans)
			if len(qs) != len(tt.want) {
				t.Fatalf("queries %+v, want %v", qs, tt.want)
			}
			for i, q := range qs {
				if q.ID != tt.want[i] || q.Namespace != "AWS/Lambda" || q.Metric != "ConcurrentExecutions" || q.Stat != "Maximum" || q.Dimensions["FunctionName"] != tt.want[i][len("concurrent:"):] {
					t.Errorf("query %d: %+v, want %s, AWS/Lambda ConcurrentExecutions Maximum", i, q, tt.want[i])
				}
			}
			minute := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			setConcurrent(tt.plans, map[string][]control.Datapoint{"concurrent:fn": {{Minute: minute, Value: 290}}})
			for i, p := range tt.plans {
				q, read := concurrencyQuery(p)
				if want := read && q.ID == "concurrent:fn"; (len(p.concurrent) > 0) != want {
					t.Errorf("plan %d got datapoints %v, want them: %v", i, p.concurrent, want)
				}
			}
		})
	}
}

func TestCrowded(t *testing.T) {
	m := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		bound  int32
		others time.Time
		conc   []control.Datapoint
		want   bool
	}{
		{"no datapoint", 300, m, nil, false},
		{"no bound", 0, m, []control.Datapoint{{Minute: m, Value: 300}}, false},
		{"full newest minute", 300, m, []control.Datapoint{{Minute: m, Value: 200}, {Minute: m.Add(time.Minute), Value: 290}}, true},
		{"full, but no others ever seen", 300, time.Time{}, []control.Datapoint{{Minute: m, Value: 300}}, false},
		{"room in the newest minute", 300, m, []control.Datapoint{{Minute: m.Add(time.Minute), Value: 200}, {Minute: m, Value: 300}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := crowded(plan{concurrent: tt.conc}, control.State{Bound: tt.bound, OthersAt: tt.others}); got != tt.want {
				t.Errorf("crowded = %v, want %v", got, tt.want)
			}
		})
	}
}
