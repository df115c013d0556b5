package observe

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

func TestFinished(t *testing.T) {
	const (
		a = "arn:aws:states:us-east-1:123456789012:stateMachine:etl/Items"
		b = "arn:aws:states:us-east-1:123456789012:stateMachine:other/Items"
	)
	// Datapoints by state machine and metric; b's ExecutionsFailed is
	// not answered.
	data := map[string]map[string][]float64{
		a: {"ExecutionsSucceeded": {0, 10, 1, 20}, "ExecutionsFailed": {1, 2}},
		b: {"ExecutionsSucceeded": {0, 5}},
	}
	f := &fakeMetrics{fn: func(in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
		out := &cloudwatch.GetMetricDataOutput{}
		for _, q := range in.MetricDataQueries {
			m := q.MetricStat.Metric
			if aws.ToString(m.Namespace) != "AWS/States" || aws.ToString(q.MetricStat.Stat) != "Sum" || len(m.Dimensions) != 1 || aws.ToString(m.Dimensions[0].Name) != "StateMachineArn" {
				t.Errorf("query %+v, want AWS/States Sum by StateMachineArn", m)
				continue
			}
			arn, name := aws.ToString(m.Dimensions[0].Value), aws.ToString(m.MetricName)
			if arn == b && name == "ExecutionsFailed" {
				out.MetricDataResults = append(out.MetricDataResults, result(aws.ToString(q.Id), cwtypes.StatusCodeInternalError))
				continue
			}
			out.MetricDataResults = append(out.MetricDataResults, result(aws.ToString(q.Id), cwtypes.StatusCodeComplete, data[arn][name]...))
		}
		return out, nil
	}}
	o := &Observer{Metrics: f, Budget: bigBudget(t)}
	// run-c, of a, counts from half past minute 0: minute 1 on.
	got, err := o.Finished(context.Background(), map[string]FinishedQuery{
		"run-a": {StateMachineARN: a, Since: t0}, "run-b": {StateMachineARN: b, Since: t0}, "run-c": {StateMachineARN: a, Since: minute(0).Add(30 * time.Second)},
	}, minute(3))
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("error = %v, want ErrIncomplete for run-b", err)
	}
	if want := (Finished{Succeeded: 30, Failed: 2}); got["run-a"] != want {
		t.Errorf("run-a = %+v, want %+v", got["run-a"], want)
	}
	if want := (Finished{Succeeded: 20, Failed: 2}); got["run-c"] != want {
		t.Errorf("run-c = %+v, want %+v: the minute begun before Since left out", got["run-c"], want)
	}
	if f, ok := got["run-b"]; ok {
		t.Errorf("run-b = %+v: an entry with one of its metrics unanswered", f)
	}
	if len(f.requests) != 1 || len(f.requests[0].MetricDataQueries) != 9 {
		t.Errorf("%d calls, want one of 9 queries", len(f.requests))
	}
}
