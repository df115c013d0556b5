package observe

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/budget"
)

// errUnexpected is what a fake returns for a call its test did not set up.
var errUnexpected = errors.New("unexpected call")

// fakeSFN implements SFNAPI with one function per method; a nil function
// fails the call. It counts calls per method.
type fakeSFN struct {
	describeMapRun      func(*sfn.DescribeMapRunInput) (*sfn.DescribeMapRunOutput, error)
	getExecutionHistory func(*sfn.GetExecutionHistoryInput) (*sfn.GetExecutionHistoryOutput, error)
	listExecutions      func(*sfn.ListExecutionsInput) (*sfn.ListExecutionsOutput, error)
	describeExecution   func(*sfn.DescribeExecutionInput) (*sfn.DescribeExecutionOutput, error)
	listTags            func(*sfn.ListTagsForResourceInput) (*sfn.ListTagsForResourceOutput, error)
	calls               map[string]int
}

var _ SFNAPI = (*fakeSFN)(nil)

func (f *fakeSFN) count(op string) {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
}

func call[I, O any](f *fakeSFN, op string, fn func(I) (O, error), in I) (O, error) {
	f.count(op)
	if fn == nil {
		var zero O
		return zero, errUnexpected
	}
	return fn(in)
}

func (f *fakeSFN) DescribeMapRun(_ context.Context, in *sfn.DescribeMapRunInput, _ ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error) {
	return call(f, "DescribeMapRun", f.describeMapRun, in)
}

func (f *fakeSFN) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	return call(f, "GetExecutionHistory", f.getExecutionHistory, in)
}

func (f *fakeSFN) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	return call(f, "ListExecutions", f.listExecutions, in)
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return call(f, "DescribeExecution", f.describeExecution, in)
}

func (f *fakeSFN) ListTagsForResource(_ context.Context, in *sfn.ListTagsForResourceInput, _ ...func(*sfn.Options)) (*sfn.ListTagsForResourceOutput, error) {
	return call(f, "ListTagsForResource", f.listTags, in)
}

// fakeMetrics implements MetricsAPI and records every request.
type fakeMetrics struct {
	fn       func(*cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error)
	requests []*cloudwatch.GetMetricDataInput
}

var _ MetricsAPI = (*fakeMetrics)(nil)

func (f *fakeMetrics) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.requests = append(f.requests, in)
	if f.fn == nil {
		return nil, errUnexpected
	}
	return f.fn(in)
}

// bigBudget is a production-sized budget.
func bigBudget(t *testing.T) *budget.Budget {
	t.Helper()
	b, err := budget.New(budget.Config{Region: "us-east-1", Period: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// budgetOf gives n calls to every API (n >= 1).
func budgetOf(t *testing.T, n int) *budget.Budget {
	t.Helper()
	over := map[budget.API]float64{}
	for _, api := range []budget.API{
		budget.DescribeMapRun, budget.UpdateMapRun, budget.ListMapRuns, budget.ListExecutions,
		budget.DescribeExecution, budget.GetExecutionHistory, budget.ListTagsForResource,
		budget.DescribeStateMachine, budget.GetMetricData,
	} {
		over[api] = float64(n)
	}
	b, err := budget.New(budget.Config{Fraction: 1, Period: time.Second, Overrides: over})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
