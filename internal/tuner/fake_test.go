package tuner

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/observe"
)

// fakeAccount is a hand-written Step Functions and CloudWatch account for
// unit tests of the tuner: a few Map Runs with fixed counts.
type fakeAccount struct {
	mu        sync.Mutex
	runs      map[string]*sfn.DescribeMapRunOutput
	execs     map[string]types.ExecutionStatus
	updates   []sfn.UpdateMapRunInput
	updateErr error
	// throttles answers every metric query but those of finished children
	// (AWS/States Executions*, which ExecutionThrottled is not) with these minute
	// values; finished answers those, by metric name, with one datapoint
	// at finishedAt.
	throttles  map[time.Time]float64
	finished   map[string]float64
	finishedAt time.Time
	// metricQueries counts the metrics requested of GetMetricData.
	metricQueries int
	// untagged are the state machines without the opt-in tag; every other
	// one has it.
	untagged map[string]bool
	// tags are more tags of a state machine, by key.
	tags map[string]map[string]string
	// redrives are the executions' redrive counts.
	redrives map[string]int32
	// children are the running children of a Map Run, newest first, and
	// childEvents their histories, newest first.
	children    map[string][]types.ExecutionListItem
	childEvents map[string][]types.HistoryEvent
	// Calls and events served, for tests of discovery's spending
	// (listCalls: listings of a state machine's executions), and the
	// listings of a Map Run's children.
	historyCalls, historyEvents, listCalls, tagCalls, childListCalls int
	// definitions are the state machines' definitions by labelled ARN,
	// reserved the functions' reserved concurrency by name, and
	// lambdaErr what GetFunctionConcurrency fails with; smCalls and
	// concurrencyCalls count those calls.
	definitions               map[string]string
	reserved                  map[string]int32
	lambdaErr                 error
	smCalls, concurrencyCalls int
}

var (
	_ SFNAPI              = (*fakeAccount)(nil)
	_ observe.FunctionAPI = (*fakeAccount)(nil)
)

func newFakeAccount() *fakeAccount {
	return &fakeAccount{runs: map[string]*sfn.DescribeMapRunOutput{}, execs: map[string]types.ExecutionStatus{}, untagged: map[string]bool{}, redrives: map[string]int32{},
		children: map[string][]types.ExecutionListItem{}, childEvents: map[string][]types.HistoryEvent{}}
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

// GetExecutionHistory serves ExecutionStarted, a MapRunStarted per run of
// the execution, by ARN, for a redriven execution its failure, redrive and
// a MapRunRedriven per run, and its end if it ended, in one page,
// newest first when asked. It counts calls and events returned.
func (f *fakeAccount) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	exec := aws.ToString(in.ExecutionArn)
	if evs, ok := f.childEvents[exec]; ok {
		return &sfn.GetExecutionHistoryOutput{Events: evs[:min(len(evs), int(in.MaxResults))]}, nil
	}
	st, ok := f.execs[exec]
	if !ok {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("no such execution")}
	}
	f.historyCalls++
	start := aws.Time(time.Date(2026, 11, 25, 11, 58, 0, 0, time.UTC))
	events := []types.HistoryEvent{{Id: 1, Type: types.HistoryEventTypeExecutionStarted, Timestamp: start}}
	var arns []string
	for arn, r := range f.runs {
		if aws.ToString(r.ExecutionArn) == exec {
			arns = append(arns, arn)
		}
	}
	slices.Sort(arns)
	for _, arn := range arns {
		events = append(events, types.HistoryEvent{
			Id: int64(len(events) + 1), Type: types.HistoryEventTypeMapRunStarted, Timestamp: f.runs[arn].StartDate,
			MapRunStartedEventDetails: &types.MapRunStartedEventDetails{MapRunArn: aws.String(arn)},
		})
	}
	if n := f.redrives[exec]; n > 0 {
		events = append(events,
			types.HistoryEvent{Id: int64(len(events) + 1), Type: types.HistoryEventTypeExecutionFailed, Timestamp: start},
			types.HistoryEvent{Id: int64(len(events) + 2), Type: types.HistoryEventTypeExecutionRedriven, Timestamp: start})
		for _, arn := range arns {
			events = append(events, types.HistoryEvent{Id: int64(len(events) + 1), Type: types.HistoryEventTypeMapRunRedriven, Timestamp: start,
				MapRunRedrivenEventDetails: &types.MapRunRedrivenEventDetails{MapRunArn: aws.String(arn), RedriveCount: aws.Int32(n)}})
		}
	}
	if end, ok := endEvent[st]; ok {
		events = append(events, types.HistoryEvent{Id: int64(len(events) + 1), Type: end, Timestamp: start})
	}
	if in.ReverseOrder {
		slices.Reverse(events)
	}
	f.historyEvents += len(events)
	return &sfn.GetExecutionHistoryOutput{Events: events}, nil
}

var endEvent = map[types.ExecutionStatus]types.HistoryEventType{
	types.ExecutionStatusSucceeded: types.HistoryEventTypeExecutionSucceeded,
	types.ExecutionStatusFailed:    types.HistoryEventTypeExecutionFailed,
	types.ExecutionStatusAborted:   types.HistoryEventTypeExecutionAborted,
	types.ExecutionStatusTimedOut:  types.HistoryEventTypeExecutionTimedOut,
}

// ListExecutions lists the executions of a state machine, of a status.
func (f *fakeAccount) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &sfn.ListExecutionsOutput{}
	if mr := aws.ToString(in.MapRunArn); mr != "" {
		f.childListCalls++
		out.Executions = f.children[mr]
		return out, nil
	}
	f.listCalls++
	sm := aws.ToString(in.StateMachineArn)
	name := sm[strings.LastIndexByte(sm, ':')+1:]
	for exec, st := range f.execs {
		if strings.Contains(exec, ":execution:"+name+":") && (in.StatusFilter == "" || in.StatusFilter == st) {
			out.Executions = append(out.Executions, types.ExecutionListItem{ExecutionArn: aws.String(exec), StateMachineArn: aws.String(sm),
				Status: st, RedriveCount: aws.Int32(f.redrives[exec])})
		}
	}
	return out, nil
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

func (f *fakeAccount) ListTagsForResource(_ context.Context, in *sfn.ListTagsForResourceInput, _ ...func(*sfn.Options)) (*sfn.ListTagsForResourceOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tagCalls++
	var tags []types.Tag
	if !f.untagged[aws.ToString(in.ResourceArn)] {
		tags = append(tags, types.Tag{Key: aws.String(observe.PolicyTagKey), Value: aws.String("default")})
	}
	for k, v := range f.tags[aws.ToString(in.ResourceArn)] {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return &sfn.ListTagsForResourceOutput{Tags: tags}, nil
}

func (f *fakeAccount) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &cloudwatch.GetMetricDataOutput{}
	f.metricQueries += len(in.MetricDataQueries)
	for _, q := range in.MetricDataQueries {
		r := cwtypes.MetricDataResult{Id: q.Id, StatusCode: cwtypes.StatusCodeComplete}
		if m := q.MetricStat.Metric; aws.ToString(m.Namespace) == "AWS/States" && strings.HasPrefix(aws.ToString(m.MetricName), "Executions") {
			if v, ok := f.finished[aws.ToString(m.MetricName)]; ok {
				r.Timestamps, r.Values = []time.Time{f.finishedAt}, []float64{v}
			}
			out.MetricDataResults = append(out.MetricDataResults, r)
			continue
		}
		for m, v := range f.throttles {
			r.Timestamps = append(r.Timestamps, m)
			r.Values = append(r.Values, v)
		}
		out.MetricDataResults = append(out.MetricDataResults, r)
	}
	return out, nil
}

func (f *fakeAccount) DescribeStateMachine(_ context.Context, in *sfn.DescribeStateMachineInput, _ ...func(*sfn.Options)) (*sfn.DescribeStateMachineOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.smCalls++
	def, ok := f.definitions[aws.ToString(in.StateMachineArn)]
	if !ok {
		return nil, &types.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist")}
	}
	return &sfn.DescribeStateMachineOutput{StateMachineArn: in.StateMachineArn, Definition: aws.String(def)}, nil
}

func (f *fakeAccount) GetFunctionConcurrency(_ context.Context, in *lambda.GetFunctionConcurrencyInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.concurrencyCalls++
	if f.lambdaErr != nil {
		return nil, f.lambdaErr
	}
	out := &lambda.GetFunctionConcurrencyOutput{}
	if n, ok := f.reserved[aws.ToString(in.FunctionName)]; ok {
		out.ReservedConcurrentExecutions = aws.Int32(n)
	}
	return out, nil
}
