package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

const oneRun = `
downstreams: [{name: fn, concurrency: 5}]
runs:
  - stateMachine: etl
    label: Items
    tags: {"maptuner:policy": fast, team: data}
    downstream: fn
    items: 50
    maxConcurrency: 10
    toleratedFailurePercentage: 100
    delay: 30s
    failures: {poisonBatch: {from: 0, count: 3}, error: BadRecord, cause: schema}
    duration: {dist: fixed, value: 10s}
`

// TestAPIQuotas checks that every API spends its account token bucket and
// answers ThrottlingException when it is empty, and that the bucket refills.
func TestAPIQuotas(t *testing.T) {
	ctx := context.Background()
	const mr = "arn:aws:states:us-east-1:123456789012:mapRun:etl/Items:00000000-0000-0000-0000-000000000000"
	const ex = "arn:aws:states:us-east-1:123456789012:execution:etl:nope"
	tests := []struct {
		api    string
		bucket int
		refill int // per second
		call   func(w *World) error
	}{
		{"DescribeMapRun", 200, 1, func(w *World) error {
			_, err := w.SFN().DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(mr)})
			return err
		}},
		{"UpdateMapRun", 100, 1, func(w *World) error {
			_, err := w.SFN().UpdateMapRun(ctx, &sfn.UpdateMapRunInput{MapRunArn: aws.String(mr), MaxConcurrency: aws.Int32(1)})
			return err
		}},
		{"ListMapRuns", 100, 1, func(w *World) error {
			_, err := w.SFN().ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(ex)})
			return err
		}},
		{"ListTagsForResource", 100, 1, func(w *World) error {
			_, err := w.SFN().ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String(stateMachineARN("etl"))})
			return err
		}},
		{"ListExecutions", 200, 5, func(w *World) error {
			_, err := w.SFN().ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(stateMachineARN("etl"))})
			return err
		}},
		{"ListExecutions", 200, 5, func(w *World) error {
			_, err := w.SFN().ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(w.runs[0].mapRunARN), StatusFilter: types.ExecutionStatusRunning, MaxResults: 10})
			return err
		}},
		{"GetExecutionHistory", 400, 20, func(w *World) error {
			_, err := w.SFN().GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(w.childARN(w.runs[0], 0)), ReverseOrder: true, MaxResults: 5})
			return err
		}},
		{"DescribeExecution", 300, 15, func(w *World) error {
			_, err := w.SFN().DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(ex)})
			return err
		}},
		{"GetExecutionHistory", 400, 20, func(w *World) error {
			_, err := w.SFN().GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(ex)})
			return err
		}},
		{"GetMetricData", 50, 50, func(w *World) error {
			_, err := w.CloudWatch().GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(DefaultStart), EndTime: aws.Time(DefaultStart.Add(time.Hour)),
				MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("m"), MetricStat: &cwtypes.MetricStat{
					Metric: &cwtypes.Metric{Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Throttles")},
					Period: aws.Int32(60), Stat: aws.String("Sum")}}},
			})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.api, func(t *testing.T) {
			w := started(t, oneRun, 1)
			for i := range tt.bucket {
				if err := tt.call(w); isThrottle(err) {
					t.Fatalf("call %d of a bucket of %d throttled", i+1, tt.bucket)
				}
			}
			err := tt.call(w)
			var oe *smithy.OperationError
			if !isThrottle(err) || !errors.As(err, &oe) || oe.OperationName != tt.api {
				t.Fatalf("call %d: %v, want a ThrottlingException of %s", tt.bucket+1, err, tt.api)
			}
			w.Advance(time.Second)
			for i := range tt.refill {
				if err := tt.call(w); isThrottle(err) {
					t.Fatalf("call %d after a second's refill of %d throttled", i+1, tt.refill)
				}
			}
			if err := tt.call(w); !isThrottle(err) {
				t.Fatalf("call past the refill: %v, want ThrottlingException", err)
			}
			api := w.Result().API
			if api.Calls[tt.api] != int64(tt.bucket+tt.refill+2) || api.Throttled[tt.api] != 2 || api.TotalThrottled != 2 {
				t.Errorf("counted %d calls, %d throttled (total %d); want %d and 2", api.Calls[tt.api], api.Throttled[tt.api], api.TotalThrottled, tt.bucket+tt.refill+2)
			}
		})
	}
}

// TestUpdateMapRunErrors checks UpdateMapRun's answers, in the SDK's error
// types.
func TestUpdateMapRunErrors(t *testing.T) {
	ctx := context.Background()
	w := started(t, oneRun, 1)
	w.Advance(time.Minute)
	arn := w.MapRunARNs()[0]
	tests := []struct {
		name       string
		in         *sfn.UpdateMapRunInput
		wantType   any
		wantReason types.ValidationExceptionReason
	}{
		{"nil input", nil, smithy.InvalidParamsError{}, ""},
		{"malformed", &sfn.UpdateMapRunInput{MapRunArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:etl:x"), MaxConcurrency: aws.Int32(1)}, &types.InvalidArn{}, ""},
		{"unknown", &sfn.UpdateMapRunInput{MapRunArn: aws.String(arn + "0"), MaxConcurrency: aws.Int32(1)}, &types.ResourceNotFound{}, ""},
		{"nothing to change", &sfn.UpdateMapRunInput{MapRunArn: aws.String(arn)}, &types.ValidationException{}, types.ValidationExceptionReasonMissingRequiredParameter},
		{"negative limit", &sfn.UpdateMapRunInput{MapRunArn: aws.String(arn), MaxConcurrency: aws.Int32(-1)}, &types.ValidationException{}, ""},
		{"percentage", &sfn.UpdateMapRunInput{MapRunArn: aws.String(arn), ToleratedFailurePercentage: aws.Float32(100.5)}, &types.ValidationException{}, ""},
		{"count", &sfn.UpdateMapRunInput{MapRunArn: aws.String(arn), ToleratedFailureCount: aws.Int64(-2)}, &types.ValidationException{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.SFN().UpdateMapRun(ctx, tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			switch tt.wantType.(type) {
			case smithy.InvalidParamsError:
				var e smithy.InvalidParamsError
				if !errors.As(err, &e) {
					t.Errorf("error %v (%T), want smithy.InvalidParamsError", err, err)
				}
			case *types.InvalidArn:
				var e *types.InvalidArn
				if !errors.As(err, &e) {
					t.Errorf("error %v, want InvalidArn", err)
				}
			case *types.ResourceNotFound:
				var e *types.ResourceNotFound
				if !errors.As(err, &e) {
					t.Errorf("error %v, want ResourceNotFound", err)
				}
			case *types.ValidationException:
				if reason, ok := validationReason(err); !ok || reason != tt.wantReason {
					t.Errorf("error %v, want ValidationException with reason %q", err, tt.wantReason)
				}
			}
		})
	}
	if d := describe(t, w); d.Status != types.MapRunStatusRunning || d.MaxConcurrency != 10 {
		t.Errorf("rejected updates changed the run: %s %d", d.Status, d.MaxConcurrency)
	}
	runToEnd(t, w)
	_, err := w.SFN().UpdateMapRun(ctx, &sfn.UpdateMapRunInput{MapRunArn: aws.String(arn), MaxConcurrency: aws.Int32(3)})
	if reason, ok := validationReason(err); !ok || reason != types.ValidationExceptionReasonCannotUpdateCompletedMapRun {
		t.Errorf("update of a finished run: %v, want ValidationException CANNOT_UPDATE_COMPLETED_MAP_RUN", err)
	}
}

// TestDiscovery checks that a Map Run is found the two ways a tuner finds
// it: ListMapRuns and the MapRunStarted event of the parent's history.
func TestDiscovery(t *testing.T) {
	ctx := context.Background()
	w := New(parse(t, oneRun), 1)
	api := w.SFN()
	parents := w.Start()
	if len(parents) != 1 || parents[0].StateMachineARN != stateMachineARN("etl") || parents[0].Signal.Dimensions["FunctionName"] != "fn" {
		t.Fatalf("parents = %+v", parents)
	}
	ex := aws.String(parents[0].ExecutionARN)
	list, err := api.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: ex})
	if err != nil || len(list.MapRuns) != 0 {
		t.Fatalf("before the Map state: %+v, %v; want none", list, err)
	}
	w.Advance(31 * time.Second)
	list, err = api.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: ex})
	if err != nil || len(list.MapRuns) != 1 {
		t.Fatalf("list map runs: %+v, %v", list, err)
	}
	m := list.MapRuns[0]
	if aws.ToString(m.ExecutionArn) != *ex || aws.ToString(m.StateMachineArn) != labelledARN("etl", "Items") || !m.StartDate.Equal(DefaultStart.Add(30*time.Second)) || m.StopDate != nil {
		t.Errorf("map run item %+v", m)
	}
	h, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: ex})
	if err != nil {
		t.Fatal(err)
	}
	var found string
	for i, e := range h.Events {
		if e.Id != int64(i+1) || e.PreviousEventId != int64(i) {
			t.Errorf("event %d numbered %d after %d", i, e.Id, e.PreviousEventId)
		}
		if e.Type == types.HistoryEventTypeMapRunStarted {
			found = aws.ToString(e.MapRunStartedEventDetails.MapRunArn)
		}
	}
	if found != aws.ToString(m.MapRunArn) {
		t.Errorf("history MapRunStarted arn %q, want %q", found, aws.ToString(m.MapRunArn))
	}
	tags, err := api.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String(parents[0].StateMachineARN)})
	if err != nil || len(tags.Tags) != 2 || aws.ToString(tags.Tags[0].Key) != "maptuner:policy" || aws.ToString(tags.Tags[0].Value) != "fast" {
		t.Errorf("tags: %+v, %v", tags, err)
	}

	runToEnd(t, w)
	h, err = api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: ex, ReverseOrder: true, MaxResults: 2})
	if err != nil || len(h.Events) != 2 || h.NextToken == nil {
		t.Fatalf("first page: %+v, %v", h, err)
	}
	if h.Events[0].Type != types.HistoryEventTypeExecutionSucceeded || h.Events[1].Type != types.HistoryEventTypeMapStateExited {
		t.Errorf("newest events %s, %s", h.Events[0].Type, h.Events[1].Type)
	}
	rest, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: ex, ReverseOrder: true, NextToken: h.NextToken})
	if err != nil || len(rest.Events) != 6 || rest.NextToken != nil || rest.Events[5].Type != types.HistoryEventTypeExecutionStarted {
		t.Errorf("second page: %+v, %v", rest, err)
	}
	_, err = api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: ex, NextToken: aws.String("garbage")})
	var it *types.InvalidToken
	if !errors.As(err, &it) {
		t.Errorf("bad token: %v, want InvalidToken", err)
	}
	d, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex})
	if err != nil || d.Status != types.ExecutionStatusSucceeded || d.StopDate == nil {
		t.Errorf("parent: %+v, %v", d, err)
	}
	parentsOut, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(parents[0].StateMachineARN), StatusFilter: types.ExecutionStatusSucceeded})
	if err != nil || len(parentsOut.Executions) != 1 || aws.ToString(parentsOut.Executions[0].ExecutionArn) != *ex {
		t.Errorf("list parents: %+v, %v", parentsOut, err)
	}
}

// TestFailedChildren checks that ListExecutions and DescribeExecution tell
// throttle-caused failures from poison items, as a failure sample needs.
func TestFailedChildren(t *testing.T) {
	ctx := context.Background()
	w := started(t, oneRun, 1)
	runToEnd(t, w)
	res := w.Result().Runs[0]
	if res.FailedThrottle == 0 || res.FailedPoison != 3 {
		t.Fatalf("want both kinds of failure: throttle %d poison %d", res.FailedThrottle, res.FailedPoison)
	}
	api := w.SFN()
	var children []types.ExecutionListItem
	in := &sfn.ListExecutionsInput{MapRunArn: aws.String(res.MapRunARN), StatusFilter: types.ExecutionStatusFailed, MaxResults: 4}
	for pages := 0; ; pages++ {
		out, err := api.ListExecutions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		children = append(children, out.Executions...)
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	if int64(len(children)) != res.Failed {
		t.Fatalf("listed %d failed children, want %d", len(children), res.Failed)
	}
	var throttle, poison int64
	for i, c := range children {
		if c.Status != types.ExecutionStatusFailed || aws.ToString(c.MapRunArn) != res.MapRunARN || aws.ToString(c.StateMachineArn) != labelledARN("etl", "Items") {
			t.Errorf("child %+v", c)
		}
		if i > 0 && c.StopDate.After(*children[i-1].StopDate) {
			t.Errorf("child %d stopped after child %d: want newest first", i, i-1)
		}
		d, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: c.ExecutionArn})
		if err != nil {
			t.Fatalf("describe %s: %v", aws.ToString(c.ExecutionArn), err)
		}
		switch aws.ToString(d.Error) {
		case DefaultThrottleError:
			throttle++
		case "BadRecord":
			poison++
			if aws.ToString(d.Cause) != "schema" {
				t.Errorf("poison cause %q", aws.ToString(d.Cause))
			}
		default:
			t.Errorf("child error %q", aws.ToString(d.Error))
		}
		if aws.ToString(d.MapRunArn) != res.MapRunARN || d.StopDate == nil {
			t.Errorf("child description %+v", d)
		}
	}
	if throttle != res.FailedThrottle || poison != res.FailedPoison {
		t.Errorf("classified %d throttle and %d poison, want %d and %d", throttle, poison, res.FailedThrottle, res.FailedPoison)
	}
	all, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(res.MapRunARN), MaxResults: 1000})
	if err != nil || len(all.Executions) != 50 {
		t.Errorf("all children: %d, %v; want 50", len(all.Executions), err)
	}
}

// TestExpressChildren checks Express child ARNs resolve.
func TestExpressChildren(t *testing.T) {
	ctx := context.Background()
	w := started(t, `
downstreams: [{name: fn}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, executionType: EXPRESS, duration: {dist: fixed, value: 1s}}]
`, 1)
	runToEnd(t, w)
	out, err := w.SFN().ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(w.MapRunARNs()[0])})
	if err != nil || len(out.Executions) != 5 {
		t.Fatalf("list: %+v, %v", out, err)
	}
	for _, e := range out.Executions {
		d, err := w.SFN().DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
		if err != nil || d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Name) != aws.ToString(e.Name) {
			t.Errorf("describe %s: %+v, %v", aws.ToString(e.ExecutionArn), d, err)
		}
	}
}

// TestLookupErrors checks the error types of unknown and malformed ARNs.
func TestLookupErrors(t *testing.T) {
	ctx := context.Background()
	w := started(t, oneRun, 1)
	w.Advance(time.Minute)
	api := w.SFN()
	mr := w.MapRunARNs()[0]
	child := arnPrefix + "execution:etl/Items:00000000-0000-0000-0000-000000000000"
	tests := []struct {
		name string
		call func() error
		want func(error) bool
	}{
		{"describe map run, malformed", func() error {
			_, err := api.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String("x")})
			return err
		}, is[*types.InvalidArn]},
		{"describe map run, unknown", func() error {
			_, err := api.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(mr[:len(mr)-1] + "f")})
			return err
		}, is[*types.ResourceNotFound]},
		{"list map runs, unknown", func() error {
			_, err := api.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(arnPrefix + "execution:etl:nope")})
			return err
		}, is[*types.ExecutionDoesNotExist]},
		{"list map runs, malformed", func() error {
			_, err := api.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:activity:x")})
			return err
		}, is[*types.InvalidArn]},
		{"describe execution, unknown child", func() error {
			_, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(child)})
			return err
		}, is[*types.ExecutionDoesNotExist]},
		{"list executions, both", func() error {
			_, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(mr), StateMachineArn: aws.String(stateMachineARN("etl"))})
			return err
		}, is[*types.ValidationException]},
		{"list executions, labelled", func() error {
			_, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(labelledARN("etl", "Items"))})
			r, _ := validationReason(err)
			if r != types.ValidationExceptionReasonApiDoesNotSupportLabeledArns {
				return errors.New("wrong reason")
			}
			return err
		}, is[*types.ValidationException]},
		{"list executions, unknown state machine", func() error {
			_, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(stateMachineARN("other"))})
			return err
		}, is[*types.StateMachineDoesNotExist]},
		{"list executions, unknown map run", func() error {
			_, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(mr + "0")})
			return err
		}, is[*types.ResourceNotFound]},
		{"list executions, page too big", func() error {
			_, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(mr), MaxResults: 1001})
			return err
		}, is[*types.ValidationException]},
		{"list executions, token of another list", func() error {
			out, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(mr), MaxResults: 1})
			if err != nil || out.NextToken == nil {
				return errors.New("no first page")
			}
			_, err = api.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(stateMachineARN("etl")), NextToken: out.NextToken})
			return err
		}, is[*types.InvalidToken]},
		{"tags, labelled", func() error {
			_, err := api.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String(labelledARN("etl", "Items"))})
			return err
		}, is[*types.InvalidArn]},
		{"tags, unknown", func() error {
			_, err := api.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String(stateMachineARN("other"))})
			return err
		}, is[*types.ResourceNotFound]},
		{"missing parameter", func() error {
			_, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{})
			return err
		}, is[smithy.InvalidParamsError]},
		{"cancelled context", func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := api.DescribeMapRun(c, &sfn.DescribeMapRunInput{MapRunArn: aws.String(mr)})
			if !errors.Is(err, context.Canceled) {
				return errors.New("not canceled")
			}
			return &smithy.OperationError{Err: err}
		}, is[*smithy.OperationError]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !tt.want(err) {
				t.Errorf("error %v (%T)", err, err)
			}
		})
	}
}

func is[T error](err error) bool {
	var target T
	return err != nil && errors.As(err, &target)
}

// TestDescribeMapRunCounts checks the item and child counts mid-run and
// at the end.
func TestDescribeMapRunCounts(t *testing.T) {
	w := started(t, `
downstreams: [{name: fn}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 100, batchSize: 10, maxConcurrency: 3, toleratedFailureCount: 7, duration: {dist: fixed, value: 10s}}]
`, 1)
	w.Advance(5 * time.Second)
	d := describe(t, w)
	want := types.MapRunItemCounts{Pending: 70, Running: 30, Total: 100}
	if *d.ItemCounts != want {
		t.Errorf("item counts %+v, want %+v", *d.ItemCounts, want)
	}
	wantC := types.MapRunExecutionCounts{Pending: 7, Running: 3, Total: 10}
	if *d.ExecutionCounts != wantC {
		t.Errorf("child counts %+v, want %+v", *d.ExecutionCounts, wantC)
	}
	if d.ToleratedFailureCount != 7 || d.ToleratedFailurePercentage != 0 || d.MaxConcurrency != 3 || d.StopDate != nil {
		t.Errorf("settings %d %v %d stop %v", d.ToleratedFailureCount, d.ToleratedFailurePercentage, d.MaxConcurrency, d.StopDate)
	}
	runToEnd(t, w)
	d = describe(t, w)
	if d.Status != types.MapRunStatusSucceeded || d.ItemCounts.Succeeded != 100 || d.ExecutionCounts.Succeeded != 10 || d.StopDate == nil {
		t.Errorf("end: %s %+v %+v", d.Status, *d.ItemCounts, *d.ExecutionCounts)
	}
}
