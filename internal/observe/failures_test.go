package observe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
)

// Causes as Step Functions reports them for real failures.
const (
	lambdaThrottleCause = `{"errorMessage":"Rate Exceeded.","errorType":"TooManyRequestsException","stackTrace":[]}`
	boto3ThrottleCause  = `{"errorMessage": "An error occurred (ThrottlingException) when calling the PutRecord operation (reached max retries: 4): Rate exceeded", "errorType": "ClientError", "requestId": "4c1c", "stackTrace": ["  File \"/var/task/app.py\", line 9, in handler\n"]}`
	goSDKv2DDBCause     = `{"errorMessage":"operation error DynamoDB: PutItem, exceeded maximum number of attempts, 3, https response error StatusCode: 400, RequestID: Q1, ProvisionedThroughputExceededException: The level of configured provisioned throughput for the table was exceeded.","errorType":"OperationError"}`
	goSDKv1429Cause     = `{"errorMessage":"RequestError: send request failed\ncaused by: Post \"https://api.partner.example/v1\": status code: 429","errorType":"requestError"}`
	httpTaskCause       = `{"statusCode": 429, "statusText": "Too Many Requests", "body": "slow down please"}`
	s3SlowDownCause     = `operation error S3: PutObject, https response error StatusCode: 503, RequestID: X, api error SlowDown: Please reduce your request rate.`
	keyErrorCause       = `{"errorMessage": "'orderId'", "errorType": "KeyError", "requestId": "9a1", "stackTrace": ["  File \"/var/task/app.py\", line 4, in handler\n    id = event['orderId']\n"]}`
	thresholdCause      = `The specified tolerated failure threshold was exceeded: Lambda.TooManyRequestsException in 12 of 100 items, Rate exceeded`
	timeoutCause        = `{"errorMessage":"2026-03-01T12:00:00.000Z 4c1c Task timed out after 3.00 seconds"}`
)

func TestIsThrottleError(t *testing.T) {
	tests := []struct {
		errorName, cause string
		want             bool
	}{
		{"Lambda.TooManyRequestsException", "Rate Exceeded.", true},
		{"Lambda.TooManyRequestsException", "", true},
		{"Lambda.TooManyRequests", "", true},
		{"ThrottlingException", "", true},
		{"Throttling", "", true},
		{"TooManyRequestsException", "", true},
		{"DynamoDB.ProvisionedThroughputExceededException", "", true},
		{"DynamoDb.ThrottlingException", "", true},
		{"ProvisionedThroughputExceededException", "", true},
		{"RequestLimitExceeded", "", true},
		{"S3.SlowDown", "", true},
		{"SlowDown", "", true},
		{" ThrottlingException ", "", true},
		{"Lambda.Unknown", lambdaThrottleCause, true},
		{"ClientError", boto3ThrottleCause, true},
		{"OperationError", goSDKv2DDBCause, true},
		{"requestError", goSDKv1429Cause, true},
		{"States.Http.StatusCode.429", httpTaskCause, true},
		{"States.TaskFailed", s3SlowDownCause, true},
		{"States.TaskFailed", "HTTP 429 Too Many Requests", true},
		{"Error", "rate exceeded for account", true},
		{"States.ExceedToleratedFailureThreshold", thresholdCause, false},
		{"States.ExceedToleratedFailureThreshold", "", false},
		{"KeyError", keyErrorCause, false},
		{"States.Timeout", timeoutCause, false},
		{"States.Timeout", "Rate exceeded", false},
		{"States.Permissions", "ThrottlingException", false},
		{"States.Http.StatusCode.429", "", true},
		{"States.Http.StatusCode.500", "", false},
		{"Lambda.ServiceException", "Lambda was unable to start the function", false},
		{"States.TaskFailed", "status code: 500", false},
		{"TooManyRequestsExceptionX", "", false},
		{"", "", false},
		{"ThrottlingExceptions", "ThrottlingExceptions were counted", false},
	}
	for _, tt := range tests {
		name := tt.errorName + "/" + tt.cause
		t.Run(name[:min(len(name), 60)], func(t *testing.T) {
			if got := IsThrottleError(tt.errorName, tt.cause); got != tt.want {
				t.Errorf("IsThrottleError(%q, %q) = %v, want %v", tt.errorName, tt.cause, got, tt.want)
			}
		})
	}
}

func FuzzIsThrottleError(f *testing.F) {
	for _, s := range [][2]string{
		{"Lambda.TooManyRequestsException", lambdaThrottleCause},
		{"ClientError", boto3ThrottleCause},
		{"OperationError", goSDKv2DDBCause},
		{"requestError", goSDKv1429Cause},
		{"States.Http.StatusCode.429", httpTaskCause},
		{"States.TaskFailed", s3SlowDownCause},
		{"KeyError", keyErrorCause},
		{"States.ExceedToleratedFailureThreshold", thresholdCause},
		{"States.Timeout", timeoutCause},
		{"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, errorName, cause string) {
		got := IsThrottleError(errorName, cause)
		if got != IsThrottleError(errorName, cause) {
			t.Fatal("IsThrottleError is not deterministic")
		}
		if IsThrottleError("States.ExceedToleratedFailureThreshold", cause) {
			t.Fatalf("States.ExceedToleratedFailureThreshold with cause %q classified as throttling", cause)
		}
		if !IsThrottleError("Lambda.TooManyRequestsException", cause) {
			t.Fatalf("Lambda.TooManyRequestsException with cause %q not classified as throttling", cause)
		}
		if IsThrottleError(errorName, "") && !got {
			t.Fatalf("throttling name %q stopped being throttling with cause %q", errorName, cause)
		}
		if !notThrottle[strings.TrimSpace(errorName)] && !IsThrottleError(errorName, cause+" Rate exceeded") {
			t.Fatalf("%q with a cause saying Rate exceeded not classified as throttling", errorName)
		}
	})
}

const childPrefix = "arn:aws:states:us-east-1:123456789012:execution:orders/Fan:"

// failedChildren serves n failed children, child i failing with errs[i].
func failedChildren(t *testing.T, errs [][2]string) *fakeSFN {
	t.Helper()
	return &fakeSFN{
		listExecutions: func(in *sfn.ListExecutionsInput) (*sfn.ListExecutionsOutput, error) {
			if aws.ToString(in.MapRunArn) != runARN || in.StatusFilter != types.ExecutionStatusFailed || in.StateMachineArn != nil {
				return nil, fmt.Errorf("unexpected list input %+v", in)
			}
			out := &sfn.ListExecutionsOutput{}
			for i := range min(len(errs), int(in.MaxResults)) {
				out.Executions = append(out.Executions, types.ExecutionListItem{ExecutionArn: aws.String(fmt.Sprint(childPrefix, i))})
			}
			return out, nil
		},
		describeExecution: func(in *sfn.DescribeExecutionInput) (*sfn.DescribeExecutionOutput, error) {
			var i int
			if _, err := fmt.Sscanf(strings.TrimPrefix(aws.ToString(in.ExecutionArn), childPrefix), "%d", &i); err != nil || i >= len(errs) {
				return nil, fmt.Errorf("unexpected child %s", aws.ToString(in.ExecutionArn))
			}
			switch errs[i][0] {
			case "gone":
				return nil, &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist")}
			case "boom":
				return nil, errUnexpected
			}
			return &sfn.DescribeExecutionOutput{Status: types.ExecutionStatusFailed, Error: aws.String(errs[i][0]), Cause: aws.String(errs[i][1])}, nil
		},
	}
}

func TestSampleFailures(t *testing.T) {
	mixed := [][2]string{
		{"Lambda.TooManyRequestsException", lambdaThrottleCause},
		{"KeyError", keyErrorCause},
		{"ClientError", boto3ThrottleCause},
		{"States.Timeout", timeoutCause},
		{"OperationError", goSDKv2DDBCause},
	}
	tests := []struct {
		name      string
		children  [][2]string
		n         int
		describe  int // DescribeExecution budget
		want      control.FailureSample
		wantErr   error
		wantLists int
	}{
		{name: "classifies all", children: mixed, n: 10, describe: 10, want: control.FailureSample{Sampled: 5, Throttle: 3}, wantLists: 1},
		{name: "n bounds the sample", children: mixed, n: 2, describe: 10, want: control.FailureSample{Sampled: 2, Throttle: 1}, wantLists: 1},
		{name: "budget cuts the sample", children: mixed, n: 10, describe: 3, want: control.FailureSample{Sampled: 3, Throttle: 2}, wantErr: budget.ErrExhausted, wantLists: 1},
		{name: "no failed children", n: 10, describe: 10, wantLists: 1},
		{name: "vanished child is skipped", children: [][2]string{{"gone", ""}, {"ThrottlingException", ""}}, n: 10, describe: 10, want: control.FailureSample{Sampled: 1, Throttle: 1}, wantLists: 1},
		{name: "describe error ends the sample", children: [][2]string{{"SlowDown", ""}, {"boom", ""}, {"KeyError", ""}}, n: 10, describe: 10, want: control.FailureSample{Sampled: 1, Throttle: 1}, wantErr: errUnexpected, wantLists: 1},
		{name: "n too small", children: mixed, n: 0, describe: 10, wantErr: ErrInvalidInput},
		{name: "n too large", children: mixed, n: 1001, describe: 10, wantErr: ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := failedChildren(t, tt.children)
			b, err := budget.New(budget.Config{Fraction: 1, Period: time.Second, Overrides: map[budget.API]float64{
				budget.ListExecutions: 1, budget.DescribeExecution: float64(tt.describe),
			}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := (&Observer{SFN: f, Budget: b}).SampleFailures(context.Background(), runARN, tt.n)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), runARN) {
					t.Errorf("SampleFailures error = %v, want %v naming the run", err, tt.wantErr)
				}
			} else if err != nil {
				t.Errorf("SampleFailures: %v", err)
			}
			if got != tt.want {
				t.Errorf("SampleFailures = %+v, want %+v", got, tt.want)
			}
			if f.calls["ListExecutions"] != tt.wantLists {
				t.Errorf("ListExecutions calls = %d, want %d", f.calls["ListExecutions"], tt.wantLists)
			}
		})
	}
}

func TestSampleFailuresErrors(t *testing.T) {
	tests := []struct {
		name    string
		arn     string
		budget  int
		listErr error
		wantErr error
	}{
		{"missing run", runARN, 1, &types.ResourceNotFound{Message: aws.String("Resource not found")}, ErrNotFound},
		{"express children", runARN, 1, &types.StateMachineTypeNotSupported{Message: aws.String("not supported for EXPRESS")}, ErrUnsupported},
		{"malformed arn", "arn:aws:states:us-east-1:1:stateMachine:x", 1, nil, ErrNotFound},
		{"list budget spent", runARN, 0, nil, budget.ErrExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSFN{listExecutions: func(*sfn.ListExecutionsInput) (*sfn.ListExecutionsOutput, error) { return nil, tt.listErr }}
			b := budgetOf(t, 1)
			if tt.budget == 0 {
				b.Take(budget.ListExecutions)
			}
			got, err := (&Observer{SFN: f, Budget: b}).SampleFailures(context.Background(), tt.arn, 5)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.arn) {
				t.Fatalf("SampleFailures error = %v, want %v naming %s", err, tt.wantErr, tt.arn)
			}
			if got != (control.FailureSample{}) {
				t.Errorf("SampleFailures = %+v, want empty", got)
			}
			if f.calls["DescribeExecution"] != 0 {
				t.Errorf("DescribeExecution called %d times", f.calls["DescribeExecution"])
			}
		})
	}
}

// TestSampleFailuresMetadataOnly: a child is described with METADATA_ONLY,
// and again with all data only when that answer has neither error nor
// cause; the second call is taken from the budget too.
func TestSampleFailuresMetadataOnly(t *testing.T) {
	for _, tt := range []struct {
		name      string
		keeps     bool // METADATA_ONLY answers with error and cause
		wantCalls []types.IncludedData
	}{
		{"error and cause in metadata", true, []types.IncludedData{types.IncludedDataMetadataOnly}},
		{"error and cause only in all data", false, []types.IncludedData{types.IncludedDataMetadataOnly, types.IncludedDataAllData}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls []types.IncludedData
			f := failedChildren(t, [][2]string{{"Lambda.TooManyRequestsException", "Rate Exceeded."}})
			describe := f.describeExecution
			f.describeExecution = func(in *sfn.DescribeExecutionInput) (*sfn.DescribeExecutionOutput, error) {
				calls = append(calls, in.IncludedData)
				out, err := describe(in)
				if err == nil && in.IncludedData == types.IncludedDataMetadataOnly && !tt.keeps {
					out.Error, out.Cause = nil, nil
				}
				return out, err
			}
			b := bigBudget(t)
			s, err := (&Observer{SFN: f, Budget: b}).SampleFailures(context.Background(), runARN, 1)
			if err != nil || s.Sampled != 1 || s.Throttle != 1 {
				t.Fatalf("sample %+v, %v; want 1 child, throttled", s, err)
			}
			if !slices.Equal(calls, tt.wantCalls) {
				t.Errorf("described with %v, want %v", calls, tt.wantCalls)
			}
			if got := b.Spent()[budget.DescribeExecution]; got != len(tt.wantCalls) {
				t.Errorf("budget spent %d DescribeExecution, want %d", got, len(tt.wantCalls))
			}
		})
	}
}
