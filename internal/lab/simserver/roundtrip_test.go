package simserver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/maptuner/maptuner/internal/awsapi"
	"github.com/maptuner/maptuner/internal/lab/sim"
)

// script is a session of calls, each with the clock advance before it.
type scriptStep struct {
	name    string
	advance time.Duration
	// protocol selects the CloudWatch client: "" (CBOR) or "json".
	protocol string
	call     func(ctx context.Context, s sim.StepFunctionsAPI, c sim.CloudWatchAPI) (any, error)
}

// session is a scripted session over every operation the world serves,
// successes and errors, for a world of testScenario with seed 1: arns are
// that world's.
func session(w *sim.World) []scriptStep {
	parents := w.Parents()
	etl, broken := parents[0], parents[1]
	arns := w.MapRunARNs()
	run, brokenRun := arns[0], arns[1]
	var failedChild string
	child := func(ctx context.Context, s sim.StepFunctionsAPI) (string, error) {
		out, err := s.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(run), StatusFilter: types.ExecutionStatusFailed, MaxResults: 1})
		if err != nil {
			return "", err
		}
		if len(out.Executions) == 0 {
			return "", errors.New("no failed child")
		}
		return *out.Executions[0].ExecutionArn, nil
	}
	// newest lists a run's newest child of a status.
	newest := func(ctx context.Context, s sim.StepFunctionsAPI, mapRun string, status types.ExecutionStatus) (string, error) {
		out, err := s.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(mapRun), StatusFilter: status, MaxResults: 1})
		if err != nil {
			return "", err
		}
		if len(out.Executions) == 0 {
			return "", fmt.Errorf("no %s child", status)
		}
		return *out.Executions[0].ExecutionArn, nil
	}
	pageToken, childToken := new(string), new(string)
	var runningChild string
	return []scriptStep{
		{name: "ListTagsForResource", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String(etl.StateMachineARN)})
		}},
		{name: "ListExecutions of a state machine", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(etl.StateMachineARN)})
		}},
		{name: "DescribeExecution of a parent", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(etl.ExecutionARN)})
		}},
		{name: "GetExecutionHistory of a running parent", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(etl.ExecutionARN)})
		}},
		{name: "ListMapRuns", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(etl.ExecutionARN)})
		}},
		{name: "DescribeMapRun", advance: 90 * time.Second, call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(run)})
		}},
		{name: "ListExecutions of running children", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			out, err := s.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(run), StatusFilter: types.ExecutionStatusRunning, MaxResults: 3})
			if err == nil && len(out.Executions) > 0 {
				runningChild = *out.Executions[len(out.Executions)-1].ExecutionArn
			}
			return out, err
		}},
		{name: "GetExecutionHistory of a running child, newest first", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			out, err := s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(runningChild), ReverseOrder: true, MaxResults: 3})
			if err == nil && out.NextToken != nil {
				*childToken = *out.NextToken
			}
			return out, err
		}},
		{name: "GetExecutionHistory of a running child, next page", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(runningChild), ReverseOrder: true, MaxResults: 3, NextToken: childToken})
		}},
		{name: "GetExecutionHistory of a succeeded child", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			arn, err := newest(ctx, s, run, types.ExecutionStatusSucceeded)
			if err != nil {
				return nil, err
			}
			return s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
		}},
		{name: "GetExecutionHistory of a failed child calling its function by ARN", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			arn, err := newest(ctx, s, brokenRun, types.ExecutionStatusFailed)
			if err != nil {
				return nil, err
			}
			return s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
		}},
		{name: "GetMetricData in CBOR", call: func(ctx context.Context, _ sim.StepFunctionsAPI, c sim.CloudWatchAPI) (any, error) {
			return c.GetMetricData(ctx, metricsInput())
		}},
		{name: "GetMetricData in JSON", protocol: awsapi.CloudWatchJSON, call: func(ctx context.Context, _ sim.StepFunctionsAPI, c sim.CloudWatchAPI) (any, error) {
			return c.GetMetricData(ctx, metricsInput())
		}},
		{name: "GetMetricData paged", protocol: awsapi.CloudWatchJSON, call: func(ctx context.Context, _ sim.StepFunctionsAPI, c sim.CloudWatchAPI) (any, error) {
			in := metricsInput()
			in.MaxDatapoints = aws.Int32(1)
			in.ScanBy = cwtypes.ScanByTimestampDescending
			return c.GetMetricData(ctx, in)
		}},
		{name: "ListExecutions of failed children", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(run), StatusFilter: types.ExecutionStatusFailed, MaxResults: 2})
		}},
		{name: "DescribeExecution of a failed child", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			arn, err := child(ctx, s)
			if err != nil {
				return nil, err
			}
			failedChild = arn
			return s.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		}},
		{name: "GetExecutionHistory of a child", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(failedChild)})
		}},
		{name: "UpdateMapRun", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.UpdateMapRun(ctx, &sfn.UpdateMapRunInput{MapRunArn: aws.String(run), MaxConcurrency: aws.Int32(20), ToleratedFailurePercentage: aws.Float32(50.5), ToleratedFailureCount: aws.Int64(100)})
		}},
		{name: "DescribeMapRun after the update", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(run)})
		}},
		{name: "DescribeMapRun of a failed run", advance: 30 * time.Minute, call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(brokenRun)})
		}},
		{name: "DescribeMapRun of a succeeded run", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(run)})
		}},
		{name: "DescribeExecution of a failed parent", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(broken.ExecutionARN)})
		}},
		{name: "GetExecutionHistory of a failed parent, paged", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			out, err := s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(broken.ExecutionARN), MaxResults: 3, ReverseOrder: true})
			if err == nil && out.NextToken != nil {
				*pageToken = *out.NextToken
			}
			return out, err
		}},
		{name: "GetExecutionHistory next page", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(broken.ExecutionARN), MaxResults: 3, ReverseOrder: true, NextToken: pageToken})
		}},
		{name: "GetExecutionHistory of a succeeded parent", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(etl.ExecutionARN)})
		}},
		{name: "ListExecutions of every child", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(run)})
		}},
		{name: "UpdateMapRun of a finished run", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.UpdateMapRun(ctx, &sfn.UpdateMapRunInput{MapRunArn: aws.String(brokenRun), MaxConcurrency: aws.Int32(5)})
		}},
		{name: "DescribeMapRun unknown", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(run[:len(run)-4] + "ffff")})
		}},
		{name: "DescribeMapRun malformed", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:etl:x")})
		}},
		{name: "DescribeExecution unknown", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:etl:absent")})
		}},
		{name: "ListMapRuns unknown", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:etl:absent")})
		}},
		{name: "ListExecutions unknown state machine", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:absent")})
		}},
		{name: "ListExecutions bad token", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(run), NextToken: aws.String("nope")})
		}},
		{name: "ListTagsForResource unknown", call: func(ctx context.Context, s sim.StepFunctionsAPI, _ sim.CloudWatchAPI) (any, error) {
			return s.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:absent")})
		}},
		{name: "GetMetricData bad period, CBOR", call: func(ctx context.Context, _ sim.StepFunctionsAPI, c sim.CloudWatchAPI) (any, error) {
			in := metricsInput()
			in.MetricDataQueries[0].MetricStat.Period = aws.Int32(30)
			return c.GetMetricData(ctx, in)
		}},
		{name: "GetMetricData bad token, JSON", protocol: awsapi.CloudWatchJSON, call: func(ctx context.Context, _ sim.StepFunctionsAPI, c sim.CloudWatchAPI) (any, error) {
			in := metricsInput()
			in.NextToken = aws.String("bogus")
			return c.GetMetricData(ctx, in)
		}},
	}
}

// TestRoundTrip makes a scripted session through the real SDK clients, over
// the wire, and the same calls on a twin world directly: every output must
// be the same, but for the wire's millisecond timestamps, and every error of
// the same type with the same message.
func TestRoundTrip(t *testing.T) {
	sc := parseScenario(t, testScenario)
	f := serve(t, Config{Scenario: sc, Seed: 1})
	twin := sim.New(sc, 1)
	f.srv.Start()
	twin.Start()
	twin.Advance(0)
	ctx := context.Background()
	errorsSeen := 0
	for _, st := range session(twin) {
		if st.advance > 0 {
			if _, err := f.srv.Advance(st.advance); err != nil {
				t.Fatal(err)
			}
			twin.Advance(st.advance)
		}
		got, gotErr := st.call(ctx, f.sfn, f.cw[st.protocol])
		want, wantErr := st.call(ctx, twin.SFN(), twin.CloudWatch())
		if wantErr != nil {
			errorsSeen++
			var ga, wa smithy.APIError
			if !errors.As(gotErr, &ga) || !errors.As(wantErr, &wa) {
				t.Errorf("%s: error %v over the wire, want %v", st.name, gotErr, wantErr)
				continue
			}
			if reflect.TypeOf(ga) != reflect.TypeOf(wa) || ga.ErrorMessage() != wa.ErrorMessage() {
				t.Errorf("%s: error %T %q over the wire, want %T %q", st.name, ga, ga.ErrorMessage(), wa, wa.ErrorMessage())
			}
			continue
		}
		if gotErr != nil {
			t.Errorf("%s: %v over the wire, want no error", st.name, gotErr)
			continue
		}
		if !sameValue(reflect.ValueOf(got), reflect.ValueOf(want)) {
			t.Errorf("%s: over the wire\n%+v\nwant\n%+v", st.name, got, want)
		}
	}
	if errorsSeen < 8 {
		t.Errorf("the session met %d errors; it is meant to meet each error class", errorsSeen)
	}
	if got, want := f.srv.Result().API, twin.Result().API; !reflect.DeepEqual(got, want) {
		t.Errorf("API stats of the served world %+v, of the twin %+v", got, want)
	}
	stats := f.srv.Stats().Requests
	if stats[ProtocolCBOR]["CloudWatch.GetMetricData"] != 2 || stats[ProtocolAWSJSON]["CloudWatch.GetMetricData"] != 3 || stats[ProtocolAWSJSON]["SFN.DescribeMapRun"] != 6 {
		t.Errorf("requests by protocol %v", stats)
	}
}

// TestTypedErrors checks that the SDK turns the server's errors into its
// typed errors, with their members, codes and HTTP statuses.
func TestTypedErrors(t *testing.T) {
	sc := parseScenario(t, testScenario)
	f := serve(t, Config{Scenario: sc, Seed: 1})
	parents := f.srv.Start().Parents
	ctx := context.Background()
	run := f.srv.Result().Runs[1].MapRunARN
	if _, err := f.srv.Advance(10 * time.Minute); err != nil {
		t.Fatal(err)
	}
	status := func(err error) int {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) {
			return re.HTTPStatusCode()
		}
		return 0
	}

	_, err := f.sfn.UpdateMapRun(ctx, &sfn.UpdateMapRunInput{MapRunArn: aws.String(run), MaxConcurrency: aws.Int32(3)})
	var ve *types.ValidationException
	if !errors.As(err, &ve) || ve.Reason != types.ValidationExceptionReasonCannotUpdateCompletedMapRun || status(err) != 400 {
		t.Errorf("UpdateMapRun of a finished run: %v (HTTP %d), want a ValidationException with reason CANNOT_UPDATE_COMPLETED_MAP_RUN and HTTP 400", err, status(err))
	}
	_, err = f.sfn.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(run + "0")})
	var rnf *types.ResourceNotFound
	if !errors.As(err, &rnf) || aws.ToString(rnf.ResourceName) != run+"0" {
		t.Errorf("DescribeMapRun of an unknown run: %v, want a ResourceNotFound naming it", err)
	}
	_, err = f.sfn.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String("arn:nope")})
	var ia *types.InvalidArn
	if !errors.As(err, &ia) {
		t.Errorf("DescribeMapRun of a malformed ARN: %v, want an InvalidArn", err)
	}
	_, err = f.sfn.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(parents[0].ExecutionARN + "x")})
	var ede *types.ExecutionDoesNotExist
	if !errors.As(err, &ede) {
		t.Errorf("ListMapRuns of an unknown execution: %v, want an ExecutionDoesNotExist", err)
	}
	for _, p := range []string{"", awsapi.CloudWatchJSON} {
		in := metricsInput()
		in.MetricDataQueries[0].Id = aws.String("Upper")
		_, err := f.cw[p].GetMetricData(ctx, in)
		var ipv *cwtypes.InvalidParameterValueException
		if !errors.As(err, &ipv) || ipv.ErrorCode() != "InvalidParameterValue" || status(err) != 400 || ipv.ErrorMessage() == "" {
			t.Errorf("protocol %q: GetMetricData with a bad Id: %v (HTTP %d), want an InvalidParameterValueException with the awsQuery code InvalidParameterValue", p, err, status(err))
		}
	}

	// Empty the DescribeMapRun quota: the clock is manual, nothing refills.
	var throttled error
	for i := 0; i < 300 && throttled == nil; i++ {
		if _, err := f.sfn.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(run)}); err != nil {
			throttled = err
		}
	}
	var ae smithy.APIError
	if !errors.As(throttled, &ae) || ae.ErrorCode() != "ThrottlingException" || status(throttled) != 400 {
		t.Errorf("DescribeMapRun on an empty quota: %v (HTTP %d), want a ThrottlingException with HTTP 400", throttled, status(throttled))
	}
	var gmdThrottle error
	for i := 0; i < 100 && gmdThrottle == nil; i++ {
		_, gmdThrottle = f.cw[""].GetMetricData(ctx, metricsInput())
	}
	if !errors.As(gmdThrottle, &ae) || ae.ErrorCode() != "Throttling" {
		t.Errorf("GetMetricData on an empty quota: %v, want the awsQuery code Throttling", gmdThrottle)
	}
}

// TestFaultKnobsOverTheWire checks that an injected server error is an
// HTTP 500 the SDK sees as a server fault, and that a call waits its
// latency before the answer.
func TestFaultKnobsOverTheWire(t *testing.T) {
	const faults = `faults:
  api:
    - {operations: [DescribeMapRun], errorRate: 1}
    - {operations: [GetMetricData], errorRate: 1, latency: {min: 150ms}}
`
	f := serve(t, Config{Scenario: parseScenario(t, testScenario+faults), Seed: 1})
	f.srv.Start()
	ctx := context.Background()
	_, err := f.sfn.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(f.srv.Result().Runs[0].MapRunARN)})
	var ae smithy.APIError
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &ae) || ae.ErrorCode() != sim.InternalFailureCode || !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Errorf("DescribeMapRun with errorRate 1: %v, want %s with HTTP 500", err, sim.InternalFailureCode)
	}
	for _, p := range []string{"", awsapi.CloudWatchJSON} {
		begin := time.Now()
		_, err := f.cw[p].GetMetricData(ctx, metricsInput())
		took := time.Since(begin)
		var fault *cwtypes.InternalServiceFault
		if !errors.As(err, &fault) || fault.ErrorCode() != "InternalServiceError" || fault.ErrorMessage() == "" || !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
			t.Errorf("protocol %q: GetMetricData with errorRate 1: %v, want an InternalServiceFault (InternalServiceError) with its message and HTTP 500", p, err)
		}
		if took < 150*time.Millisecond {
			t.Errorf("protocol %q: the call took %s, less than its latency of 150ms", p, took)
		}
	}
	if got := f.srv.Result().API.Errors; got["DescribeMapRun"] != 1 || got["GetMetricData"] != 2 {
		t.Errorf("API errors %v, want 1 DescribeMapRun and 2 GetMetricData", got)
	}
}

// TestDescribeStateMachine: the server answers DescribeStateMachine as
// the world does (internal/lab/sim tests the definitions), and its errors as
// the SDK's types.
func TestDescribeStateMachine(t *testing.T) {
	sc := parseScenario(t, testScenario)
	f := serve(t, Config{Scenario: sc, Seed: 1})
	twin := sim.New(sc, 1).SFN()
	ctx := context.Background()
	const arn = "arn:aws:states:us-east-1:123456789012:stateMachine:etl"
	for _, a := range []string{arn, arn + "/Items", "arn:aws:states:us-east-1:123456789012:stateMachine:broken"} {
		out, err := f.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(a)})
		want, werr := twin.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(a)})
		if err != nil || werr != nil {
			t.Fatalf("DescribeStateMachine %s: %v (the world: %v)", a, err, werr)
		}
		if *out.Definition != *want.Definition || *out.StateMachineArn != *want.StateMachineArn || aws.ToString(out.Label) != aws.ToString(want.Label) ||
			*out.RoleArn != sim.RoleARN || !out.CreationDate.Equal(sim.DefaultStart) || out.Type != types.StateMachineTypeStandard {
			t.Errorf("DescribeStateMachine %s = %+v, want the world's %+v", a, out, want)
		}
	}
	for _, bad := range []struct {
		arn  string
		want any
	}{
		{arn + "/Other", new(*types.StateMachineDoesNotExist)},
		{"arn:aws:states:us-east-1:123456789012:stateMachine:absent", new(*types.StateMachineDoesNotExist)},
		{arn + ":3", new(*types.StateMachineDoesNotExist)},
		{"arn:aws:states:us-east-1:123456789012:execution:etl:x", new(*types.InvalidArn)},
	} {
		_, err := f.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(bad.arn)})
		if !errors.As(err, bad.want) {
			t.Errorf("DescribeStateMachine %s: %v, want %T", bad.arn, err, reflect.ValueOf(bad.want).Elem().Interface())
		}
	}
}

// TestUpdatesRecorded checks that every accepted UpdateMapRun is recorded,
// and no refused one.
func TestUpdatesRecorded(t *testing.T) {
	f := serve(t, Config{Scenario: parseScenario(t, testScenario), Seed: 1})
	f.srv.Start()
	ctx := context.Background()
	run := f.srv.Result().Runs[0].MapRunARN
	if _, err := f.srv.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	calls := []*sfn.UpdateMapRunInput{
		{MapRunArn: aws.String(run), MaxConcurrency: aws.Int32(7)},
		{MapRunArn: aws.String(run), MaxConcurrency: aws.Int32(-1)},
		{MapRunArn: aws.String(run), ToleratedFailurePercentage: aws.Float32(12.5), ToleratedFailureCount: aws.Int64(9)},
	}
	for _, in := range calls {
		_, _ = f.sfn.UpdateMapRun(ctx, in)
	}
	got := f.srv.Updates()
	if len(got) != 2 || *got[0].MaxConcurrency != 7 || got[0].ToleratedFailurePercentage != nil ||
		got[1].MaxConcurrency != nil || *got[1].ToleratedFailurePercentage != 12.5 || *got[1].ToleratedFailureCount != 9 ||
		!got[0].At.Equal(sim.DefaultStart.Add(time.Minute)) || got[0].MapRunARN != run {
		t.Errorf("updates %+v", got)
	}
	d, err := f.sfn.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(run)})
	if err != nil || d.MaxConcurrency != 7 || d.ToleratedFailurePercentage != 12.5 || d.ToleratedFailureCount != 9 {
		t.Errorf("DescribeMapRun after the updates: %+v, %v", d, err)
	}
}

// TestCloudWatchTimestamps checks that datapoint timestamps arrive exactly
// in both protocols.
func TestCloudWatchTimestamps(t *testing.T) {
	f := serve(t, Config{Scenario: parseScenario(t, testScenario), Seed: 1})
	f.srv.Start()
	if _, err := f.srv.Advance(5 * time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", awsapi.CloudWatchJSON} {
		out, err := f.cw[p].GetMetricData(context.Background(), metricsInput())
		if err != nil {
			t.Fatalf("protocol %q: %v", p, err)
		}
		r := out.MetricDataResults[1]
		if *r.Id != "started" || len(r.Timestamps) < 4 || len(r.Values) != len(r.Timestamps) || r.StatusCode != cwtypes.StatusCodeComplete {
			t.Fatalf("protocol %q: result %+v", p, r)
		}
		for i, ts := range r.Timestamps {
			if want := sim.DefaultStart.Add(time.Duration(i) * time.Minute); !ts.Equal(want) {
				t.Errorf("protocol %q: timestamp %d = %s, want %s", p, i, ts, want)
			}
		}
	}
}

// TestGetFunctionConcurrency: the real Lambda client reads the reserved
// concurrency of the scenario's downstream over restJson1, and gets the
// model's error types.
func TestGetFunctionConcurrency(t *testing.T) {
	f := serve(t, Config{Scenario: parseScenario(t, testScenario), Seed: 1})
	ctx := context.Background()
	for _, fn := range []string{"fn", sim.FunctionARN("fn"), sim.Account + ":function:fn:live"} {
		out, err := f.lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(fn)})
		if err != nil || aws.ToInt32(out.ReservedConcurrentExecutions) != 5 {
			t.Errorf("GetFunctionConcurrency %s = %+v, %v; want 5", fn, out, err)
		}
	}
	var rnf *lambdatypes.ResourceNotFoundException
	if _, err := f.lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("absent")}); !errors.As(err, &rnf) ||
		!strings.Contains(aws.ToString(rnf.Message), "Function not found") {
		t.Errorf("GetFunctionConcurrency absent: %v, want ResourceNotFoundException", err)
	}
	var ipv *lambdatypes.InvalidParameterValueException
	if _, err := f.lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(strings.Repeat("f", 65))}); !errors.As(err, &ipv) {
		t.Errorf("GetFunctionConcurrency of a 65-character name: %v, want InvalidParameterValueException", err)
	}
	if got := f.srv.Stats().Requests[ProtocolRESTJSON]["Lambda.GetFunctionConcurrency"]; got != 5 {
		t.Errorf("%d restJson1 GetFunctionConcurrency requests counted, want 5", got)
	}
}
