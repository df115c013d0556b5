package tuner

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// fakeAccount is a hand-written Step Functions and CloudWatch account for
// unit tests of the tuner: a few Map Runs with fixed counts.
type fakeAccount struct {
	mu        sync.Mutex
	runs      map[string]*sfn.DescribeMapRunOutput
	execs     map[string]types.ExecutionStatus
	updates   []sfn.UpdateMapRunInput
	updateErr error
	// throttles answers every metric query with these minute values.
	throttles map[time.Time]float64
}

var (
	_ SFNAPI = (*fakeAccount)(nil)
)

func newFakeAccount() *fakeAccount {
	return &fakeAccount{runs: map[string]*sfn.DescribeMapRunOutput{}, execs: map[string]types.ExecutionStatus{}}
}

// addRun adds a running Map Run of execution exec with the given limit.
func (f *fakeAccount) addRun(exec, arn string, limit int32, running, pending int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs[exec] = types.ExecutionStatusRunning
	f.runs[arn] = &sfn.DescribeMapRunOutput{
		MapRunArn: aws.String(arn), ExecutionArn: aws.String(exec), Status: types.MapRunStatusRunning,
		StartDate: aws.Time(time.Date(2026, 11, 25, 11, 59, 0, 0, time.UTC)), MaxConcurrency: limit,
		ItemCounts:      &types.MapRunItemCounts{Running: running, Pending: pending, Total: running + pending},
		ExecutionCounts: &types.MapRunExecutionCounts{Running: running, Pending: pending, Total: running + pending},
	}
}

func (f *fakeAccount) DescribeMapRun(_ context.Context, in *sfn.DescribeMapRunInput, _ ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.runs[aws.ToString(in.MapRunArn)]
	if !ok {
		return nil, &types.ResourceNotFound{Message: aws.String("Map Run does not exist")}
	}
	out := *r
	return &out, nil
}

func (f *fakeAccount) UpdateMapRun(_ context.Context, in *sfn.UpdateMapRunInput, _ ...func(*sfn.Options)) (*sfn.UpdateMapRunOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.updateErr != nil {
		return nil, f.updateErr
	}
	r, ok := f.runs[aws.ToString(in.MapRunArn)]
	if !ok {
		return nil, &types.ResourceNotFound{Message: aws.String("Map Run does not exist")}
	}
	f.updates = append(f.updates, *in)
	if in.MaxConcurrency != nil {
		r.MaxConcurrency = *in.MaxConcurrency
	}
	if in.ToleratedFailurePercentage != nil {
		r.ToleratedFailurePercentage = *in.ToleratedFailurePercentage
	}
	if in.ToleratedFailureCount != nil {
		r.ToleratedFailureCount = *in.ToleratedFailureCount
	}
	return &sfn.UpdateMapRunOutput{}, nil
}

func (f *fakeAccount) ListMapRuns(_ context.Context, in *sfn.ListMapRunsInput, _ ...func(*sfn.Options)) (*sfn.ListMapRunsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &sfn.ListMapRunsOutput{}
	for arn, r := range f.runs {
		if aws.ToString(r.ExecutionArn) == aws.ToString(in.ExecutionArn) {
			out.MapRuns = append(out.MapRuns, types.MapRunListItem{MapRunArn: aws.String(arn), ExecutionArn: r.ExecutionArn, StartDate: r.StartDate})
		}
	}
	return out, nil
}

func (f *fakeAccount) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.execs[aws.ToString(in.ExecutionArn)]; !ok {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("no such execution")}
	}
	out := &sfn.GetExecutionHistoryOutput{}
	for arn, r := range f.runs {
		if aws.ToString(r.ExecutionArn) == aws.ToString(in.ExecutionArn) {
			out.Events = append(out.Events, types.HistoryEvent{
				Id: int64(len(out.Events) + 1), Type: types.HistoryEventTypeMapRunStarted, Timestamp: r.StartDate,
				MapRunStartedEventDetails: &types.MapRunStartedEventDetails{MapRunArn: aws.String(arn)},
			})
		}
	}
	return out, nil
}

func (f *fakeAccount) ListExecutions(context.Context, *sfn.ListExecutionsInput, ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	return &sfn.ListExecutionsOutput{}, nil
}

func (f *fakeAccount) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.execs[aws.ToString(in.ExecutionArn)]
	if !ok {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("no such execution")}
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: st}, nil
}

func (f *fakeAccount) ListTagsForResource(context.Context, *sfn.ListTagsForResourceInput, ...func(*sfn.Options)) (*sfn.ListTagsForResourceOutput, error) {
	return &sfn.ListTagsForResourceOutput{}, nil
}

func (f *fakeAccount) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &cloudwatch.GetMetricDataOutput{}
	for _, q := range in.MetricDataQueries {
		r := cwtypes.MetricDataResult{Id: q.Id, StatusCode: cwtypes.StatusCodeComplete}
		for m, v := range f.throttles {
			r.Timestamps = append(r.Timestamps, m)
			r.Values = append(r.Values, v)
		}
		out.MetricDataResults = append(out.MetricDataResults, r)
	}
	return out, nil
}
