package tuner

// This file reads, for each run whose policy watches the throttling of a
// DynamoDB table, what the table publishes of its capacity: the units
// consumed each minute and the units provisioned
// (control.Observation.Usage), from which control tells how far below its
// capacity the run is.

import (
	"strings"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/observe"
)

// usageMetrics maps a DynamoDB throttle metric to the consumed and
// provisioned capacity metrics of the same table, published under the
// same dimensions (TableName, and GlobalSecondaryIndexName for an index).
var usageMetrics = map[string][2]string{
	"WriteThrottleEvents":                      {"ConsumedWriteCapacityUnits", "ProvisionedWriteCapacityUnits"},
	"WriteProvisionedThroughputThrottleEvents": {"ConsumedWriteCapacityUnits", "ProvisionedWriteCapacityUnits"},
	"ReadThrottleEvents":                       {"ConsumedReadCapacityUnits", "ProvisionedReadCapacityUnits"},
	"ReadProvisionedThroughputThrottleEvents":  {"ConsumedReadCapacityUnits", "ProvisionedReadCapacityUnits"},
}

// usageQuery is the pair of queries that read one table's usage.
type usageQuery struct {
	name                  string
	consumed, provisioned observe.MetricQuery
}

// usageQueries are the usage queries of the run of plan p: one pair for
// each DynamoDB throttle signal of its policy, read while the run is open
// since every raise, whatever decides it, is capped by the table's
// estimate. Each read is two metrics billed (docs/cost.md); runs of one
// table share them.
func usageQueries(p plan) []usageQuery {
	var out []usageQuery
	for _, s := range p.signals {
		names, ok := usageMetrics[s.Metric]
		table, ix := s.Dimensions["TableName"], s.Dimensions["GlobalSecondaryIndexName"]
		if s.Namespace != "AWS/DynamoDB" || !ok || table == "" || len(s.Dimensions) > 2 || len(s.Dimensions) == 2 && ix == "" {
			continue
		}
		name := table
		if ix != "" {
			name += "/" + ix
		}
		key := strings.Join([]string{"usage", names[0], name}, ":")
		out = append(out, usageQuery{
			name:        name,
			consumed:    observe.MetricQuery{ID: key, Namespace: s.Namespace, Metric: names[0], Stat: "Sum", Dimensions: s.Dimensions},
			provisioned: observe.MetricQuery{ID: key + ":provisioned", Namespace: s.Namespace, Metric: names[1], Stat: "Minimum", Dimensions: s.Dimensions},
		})
	}
	return out
}

// allUsageQueries are the distinct usage queries of plans.
func allUsageQueries(plans []plan) []observe.MetricQuery {
	var out []observe.MetricQuery
	seen := map[string]bool{}
	for _, p := range plans {
		for _, q := range usageQueries(p) {
			if !seen[q.consumed.ID] {
				seen[q.consumed.ID] = true
				out = append(out, q.consumed, q.provisioned)
			}
		}
	}
	return out
}

// setUsage hands each plan the usage its queries read in series; a table
// whose queries failed is left out.
func setUsage(plans []plan, series map[string][]control.Datapoint) {
	for i, p := range plans {
		plans[i].usage = nil
		for _, q := range usageQueries(p) {
			consumed, ok1 := series[q.consumed.ID]
			provisioned, ok2 := series[q.provisioned.ID]
			if ok1 && ok2 {
				plans[i].usage = append(plans[i].usage, control.Usage{Name: q.name, Consumed: consumed, Provisioned: provisioned})
			}
		}
	}
}
