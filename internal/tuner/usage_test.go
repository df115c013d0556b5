package tuner

import (
	"slices"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
)

func TestUsageQueries(t *testing.T) {
	dynamo := func(metric string, dims map[string]string) observe.MetricQuery {
		return observe.MetricQuery{ID: "s", Namespace: "AWS/DynamoDB", Metric: metric, Stat: "Sum", Dimensions: dims}
	}
	orders := map[string]string{"TableName": "orders"}
	index := map[string]string{"TableName": "orders", "GlobalSecondaryIndexName": "byCustomer"}
	lambda := observe.MetricQuery{ID: "l", Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"FunctionName": "fn"}}
	in := func(phase control.Phase, signals ...observe.MetricQuery) plan {
		return plan{run: registry.Run{ARN: "arn", State: control.State{Phase: phase}}, signals: signals}
	}
	tests := []struct {
		name  string
		plans []plan
		want  []string // metric/table of the consumed query, then of the provisioned one
	}{
		{"a new run's write throttles", []plan{in("", dynamo("WriteThrottleEvents", orders))},
			[]string{"ConsumedWriteCapacityUnits/orders", "ProvisionedWriteCapacityUnits/orders"}},
		{"read throttles in slow start", []plan{in(control.PhaseSlowStart, lambda, dynamo("ReadProvisionedThroughputThrottleEvents", orders))},
			[]string{"ConsumedReadCapacityUnits/orders", "ProvisionedReadCapacityUnits/orders"}},
		{"an index", []plan{in("", dynamo("WriteThrottleEvents", index))},
			[]string{"ConsumedWriteCapacityUnits/orders/byCustomer", "ProvisionedWriteCapacityUnits/orders/byCustomer"}},
		{"probing", []plan{in(control.PhaseProbe, dynamo("WriteThrottleEvents", orders))},
			[]string{"ConsumedWriteCapacityUnits/orders", "ProvisionedWriteCapacityUnits/orders"}},
		{"capacity bracketed", []plan{in(control.PhaseBracket, dynamo("WriteThrottleEvents", orders))},
			[]string{"ConsumedWriteCapacityUnits/orders", "ProvisionedWriteCapacityUnits/orders"}},
		{"no DynamoDB signal", []plan{in("", lambda)}, nil},
		{"a metric with no capacity", []plan{in("", dynamo("ThrottledRequests", map[string]string{"TableName": "orders", "Operation": "PutItem"}))}, nil},
		{"no table", []plan{in("", dynamo("WriteThrottleEvents", nil))}, nil},
		{"two runs of one table read it once", []plan{in("", dynamo("WriteThrottleEvents", orders)), in(control.PhaseSlowStart, dynamo("WriteThrottleEvents", orders))},
			[]string{"ConsumedWriteCapacityUnits/orders", "ProvisionedWriteCapacityUnits/orders"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, q := range allUsageQueries(tt.plans) {
				name := q.Metric + "/" + q.Dimensions["TableName"]
				if ix := q.Dimensions["GlobalSecondaryIndexName"]; ix != "" {
					name += "/" + ix
				}
				got = append(got, name)
				if want := map[bool]string{true: "Sum", false: "Minimum"}[q.Metric[:8] == "Consumed"]; q.Stat != want || q.Namespace != "AWS/DynamoDB" {
					t.Errorf("%s: %s %s, want AWS/DynamoDB and %s", q.ID, q.Namespace, q.Stat, want)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("queries %v, want %v", got, tt.want)
			}
			// Read back: each plan that asked gets its table's usage, only
			// when both its queries answered.
			series := map[string][]control.Datapoint{}
			for _, q := range allUsageQueries(tt.plans) {
				series[q.ID] = []control.Datapoint{{Minute: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Value: 6}}
			}
			setUsage(tt.plans, series)
			for i, p := range tt.plans {
				if want := len(usageQueries(p)); len(p.usage) != want {
					t.Errorf("plan %d: %d tables' usage, want %d", i, len(p.usage), want)
				}
			}
			for _, q := range allUsageQueries(tt.plans) {
				if q.Metric[:8] == "Consumed" {
					delete(series, q.ID)
				}
			}
			setUsage(tt.plans, series)
			for i, p := range tt.plans {
				if p.usage != nil {
					t.Errorf("plan %d: usage %+v with its consumed query unanswered", i, p.usage)
				}
			}
		})
	}
}
