package observe

import (
	"context"
	"fmt"
	"time"
)

// Finished are the child executions of one labelled state machine that
// AWS/States counts as finished in a window of whole minutes: what
// CloudWatch has published of them so far, one to three minutes late.
// Map Runs of the same state machine and label share these metrics.
type Finished struct {
	// Succeeded, Failed and TimedOut are the sums of ExecutionsSucceeded,
	// ExecutionsFailed and ExecutionsTimedOut; a minute with no datapoint
	// counts 0.
	Succeeded, Failed, TimedOut int64
}

// finishedMetrics are the AWS/States metrics Finished sums, in its order.
var finishedMetrics = [...]string{"ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"}

// FinishedQuery asks for the children of one labelled state machine
// finished since an instant.
type FinishedQuery struct {
	// StateMachineARN is the labelled state machine ARN,
	// arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME/LABEL.
	StateMachineARN string
	// Since is the start of the window; a minute that began before it is
	// left out, so the sum may miss up to a minute's children, never
	// count one twice. Required.
	Since time.Time
}

// Finished reads, for each key of queries (the caller's key, for example a
// Map Run ARN), the children finished from its Since to end, in as few
// GetMetricData calls as Series needs, three metrics a key. A key gets an
// entry only when CloudWatch answered all three of its queries; the error
// says why the others got none, as Series does.
func (o *Observer) Finished(ctx context.Context, queries map[string]FinishedQuery, end time.Time) (map[string]Finished, error) {
	metrics := make([]MetricQuery, 0, len(finishedMetrics)*len(queries))
	var start time.Time
	for key, q := range queries {
		if q.Since.IsZero() {
			return nil, fmt.Errorf("observe: finished children of %s: %w: no start", key, ErrInvalidInput)
		}
		if start.IsZero() || q.Since.Before(start) {
			start = q.Since
		}
		for i, m := range finishedMetrics {
			metrics = append(metrics, MetricQuery{
				ID: finishedID(key, i), Namespace: "AWS/States", Metric: m, Stat: "Sum",
				Dimensions: map[string]string{"StateMachineArn": q.StateMachineARN},
			})
		}
	}
	out := make(map[string]Finished, len(queries))
	if len(metrics) == 0 {
		return out, nil
	}
	series, err := o.Series(ctx, metrics, start, end)
keys:
	for key, q := range queries {
		since := ceilMinute(q.Since)
		var sums [len(finishedMetrics)]int64
		for i := range finishedMetrics {
			points, ok := series[finishedID(key, i)]
			if !ok {
				continue keys
			}
			for _, p := range points {
				if !p.Minute.Before(since) {
					sums[i] += int64(p.Value)
				}
			}
		}
		out[key] = Finished{Succeeded: sums[0], Failed: sums[1], TimedOut: sums[2]}
	}
	return out, err
}

// finishedID is the MetricQuery ID of the i-th of finishedMetrics for key.
func finishedID(key string, i int) string { return fmt.Sprintf("%s#%d", key, i) }
