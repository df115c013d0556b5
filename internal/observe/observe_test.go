package observe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/maprun"
)

const (
	runARN  = "arn:aws:states:us-east-1:123456789012:mapRun:orders/Fan:5b1f"
	execARN = "arn:aws:states:us-east-1:123456789012:execution:orders:e1"
	smARN   = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
)

func TestDescribe(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ok := &sfn.DescribeMapRunOutput{
		MapRunArn: aws.String(runARN), ExecutionArn: aws.String(execARN),
		Status: types.MapRunStatusRunning, StartDate: aws.Time(start),
		MaxConcurrency: 40, ToleratedFailurePercentage: 33.3, ToleratedFailureCount: 7,
		ItemCounts: &types.MapRunItemCounts{Pending: 1, Running: 2, Succeeded: 3, Failed: 4, TimedOut: 5, Aborted: 6, Total: 21, ResultsWritten: 3},
	}
	tests := []struct {
		name      string
		arn       string
		budget    int
		fn        func(*sfn.DescribeMapRunInput) (*sfn.DescribeMapRunOutput, error)
		want      maprun.Snapshot
		wantErr   error
		wantCalls int
	}{
		{
			name: "converts the answer", arn: runARN, budget: 1, wantCalls: 1,
			fn: func(in *sfn.DescribeMapRunInput) (*sfn.DescribeMapRunOutput, error) {
				if aws.ToString(in.MapRunArn) != runARN {
					return nil, errors.New("wrong arn " + aws.ToString(in.MapRunArn))
				}
				return ok, nil
			},
			want: maprun.Snapshot{
				ARN: runARN, ExecutionARN: execARN, Status: maprun.StatusRunning, StartDate: start,
				Settings: maprun.Settings{MaxConcurrency: 40, ToleratedFailurePercentage: 33.3, ToleratedFailureCount: 7},
				Items:    maprun.Counts{Pending: 1, Running: 2, Succeeded: 3, Failed: 4, TimedOut: 5, Aborted: 6, Total: 21, ResultsWritten: 3},
			},
		},
		{
			name: "missing item counts", arn: runARN, budget: 1, wantCalls: 1,
			fn: func(*sfn.DescribeMapRunInput) (*sfn.DescribeMapRunOutput, error) {
				return &sfn.DescribeMapRunOutput{Status: types.MapRunStatusSucceeded, StopDate: aws.Time(start)}, nil
			},
			want: maprun.Snapshot{ARN: runARN, Status: maprun.StatusSucceeded, StopDate: start},
		},
		{
			name: "resource not found", arn: runARN, budget: 1, wantCalls: 1, wantErr: ErrNotFound,
			fn: func(*sfn.DescribeMapRunInput) (*sfn.DescribeMapRunOutput, error) {
				return nil, &types.ResourceNotFound{Message: aws.String("Resource not found")}
			},
		},
		{
			name: "invalid arn from the service", arn: runARN, budget: 1, wantCalls: 1, wantErr: ErrNotFound,
			fn: func(*sfn.DescribeMapRunInput) (*sfn.DescribeMapRunOutput, error) {
				return nil, &types.InvalidArn{Message: aws.String("Invalid Arn")}
			},
		},
		{name: "malformed arn makes no call", arn: "arn:aws:states:us-east-1:1:execution:x:y", budget: 1, wantErr: ErrNotFound},
		{name: "budget spent makes no call", arn: runARN, budget: 0, wantErr: budget.ErrExhausted},
		{
			name: "other errors pass through", arn: runARN, budget: 1, wantCalls: 1, wantErr: errUnexpected,
			fn: func(*sfn.DescribeMapRunInput) (*sfn.DescribeMapRunOutput, error) { return nil, errUnexpected },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSFN{describeMapRun: tt.fn}
			b := budgetOf(t, 1)
			if tt.budget == 0 {
				b.Take(budget.DescribeMapRun)
			}
			o := &Observer{SFN: f, Budget: b}
			got, err := o.Describe(context.Background(), tt.arn)
			if f.calls["DescribeMapRun"] != tt.wantCalls {
				t.Errorf("DescribeMapRun calls = %d, want %d", f.calls["DescribeMapRun"], tt.wantCalls)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.arn) {
					t.Fatalf("Describe error = %v, want %v naming %s", err, tt.wantErr, tt.arn)
				}
				if tt.wantErr != ErrNotFound && errors.Is(err, ErrNotFound) {
					t.Errorf("Describe error %v wraps ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Describe: %v", err)
			}
			if got != tt.want {
				t.Errorf("Describe = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestFloat32To64(t *testing.T) {
	tests := []struct {
		in   float32
		want float64
	}{
		{0, 0}, {5, 5}, {33.3, 33.3}, {0.1, 0.1}, {99.99, 99.99}, {100, 100}, {12.5, 12.5},
	}
	for _, tt := range tests {
		if got := float32To64(tt.in); got != tt.want {
			t.Errorf("float32To64(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestExecutionStatus(t *testing.T) {
	tests := []struct {
		name    string
		budget  int
		fn      func(*sfn.DescribeExecutionInput) (*sfn.DescribeExecutionOutput, error)
		want    string
		wantErr error
	}{
		{
			name: "status", budget: 1, want: "TIMED_OUT",
			fn: func(in *sfn.DescribeExecutionInput) (*sfn.DescribeExecutionOutput, error) {
				if aws.ToString(in.ExecutionArn) != execARN || in.IncludedData != types.IncludedDataMetadataOnly {
					return nil, errors.New("unexpected input")
				}
				return &sfn.DescribeExecutionOutput{Status: types.ExecutionStatusTimedOut}, nil
			},
		},
		{
			name: "does not exist", budget: 1, wantErr: ErrNotFound,
			fn: func(*sfn.DescribeExecutionInput) (*sfn.DescribeExecutionOutput, error) {
				return nil, &types.ExecutionDoesNotExist{Message: aws.String("gone")}
			},
		},
		{name: "budget spent", budget: 0, wantErr: budget.ErrExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := budgetOf(t, 1)
			if tt.budget == 0 {
				b.Take(budget.DescribeExecution)
			}
			f := &fakeSFN{describeExecution: tt.fn}
			got, err := (&Observer{SFN: f, Budget: b}).ExecutionStatus(context.Background(), execARN)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), execARN) {
					t.Fatalf("ExecutionStatus error = %v, want %v naming the execution", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ExecutionStatus = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestPolicyTag(t *testing.T) {
	tags := func(kv ...string) func(*sfn.ListTagsForResourceInput) (*sfn.ListTagsForResourceOutput, error) {
		return func(in *sfn.ListTagsForResourceInput) (*sfn.ListTagsForResourceOutput, error) {
			if aws.ToString(in.ResourceArn) != smARN {
				return nil, errors.New("unexpected arn")
			}
			out := &sfn.ListTagsForResourceOutput{}
			for i := 0; i+1 < len(kv); i += 2 {
				out.Tags = append(out.Tags, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
			}
			return out, nil
		}
	}
	tests := []struct {
		name    string
		budget  int
		fn      func(*sfn.ListTagsForResourceInput) (*sfn.ListTagsForResourceOutput, error)
		want    string
		wantOK  bool
		wantErr error
	}{
		{name: "tagged", budget: 1, fn: tags("team", "x", "maptuner:policy", "lambda-fanout"), want: "lambda-fanout", wantOK: true},
		{name: "tagged empty", budget: 1, fn: tags("maptuner:policy", ""), want: "", wantOK: true},
		{name: "not tagged", budget: 1, fn: tags("team", "x", "maptuner:policyx", "y")},
		{name: "no tags", budget: 1, fn: tags()},
		{
			name: "no such state machine", budget: 1, wantErr: ErrNotFound,
			fn: func(*sfn.ListTagsForResourceInput) (*sfn.ListTagsForResourceOutput, error) {
				return nil, &types.ResourceNotFound{Message: aws.String("Resource not found")}
			},
		},
		{name: "budget spent", budget: 0, wantErr: budget.ErrExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := budgetOf(t, 1)
			if tt.budget == 0 {
				b.Take(budget.ListTagsForResource)
			}
			f := &fakeSFN{listTags: tt.fn}
			got, ok, err := (&Observer{SFN: f, Budget: b}).PolicyTag(context.Background(), smARN)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), smARN) {
					t.Fatalf("PolicyTag error = %v, want %v naming the state machine", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || ok != tt.wantOK {
				t.Fatalf("PolicyTag = %q, %v, %v; want %q, %v", got, ok, err, tt.want, tt.wantOK)
			}
		})
	}
}

func TestNilBudgetIsUnlimited(t *testing.T) {
	f := &fakeSFN{describeExecution: func(*sfn.DescribeExecutionInput) (*sfn.DescribeExecutionOutput, error) {
		return &sfn.DescribeExecutionOutput{Status: types.ExecutionStatusRunning}, nil
	}}
	o := &Observer{SFN: f}
	for range 100 {
		if _, err := o.ExecutionStatus(context.Background(), execARN); err != nil {
			t.Fatalf("ExecutionStatus with nil budget: %v", err)
		}
	}
}
