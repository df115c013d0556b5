package tuner

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
)

// bounded runs call with its own timeout, within ctx.
func bounded[T any](ctx context.Context, timeout time.Duration, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return call(ctx)
}

// timedSFN gives every Step Functions call its own timeout.
type timedSFN struct {
	SFNAPI
	timeout time.Duration
}

var _ SFNAPI = timedSFN{}

func (c timedSFN) DescribeMapRun(ctx context.Context, in *sfn.DescribeMapRunInput, opts ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error) {
	return bounded(ctx, c.timeout, func(ctx context.Context) (*sfn.DescribeMapRunOutput, error) {
		return c.SFNAPI.DescribeMapRun(ctx, in, opts...)
	})
}

func (c timedSFN) UpdateMapRun(ctx context.Context, in *sfn.UpdateMapRunInput, opts ...func(*sfn.Options)) (*sfn.UpdateMapRunOutput, error) {
	return bounded(ctx, c.timeout, func(ctx context.Context) (*sfn.UpdateMapRunOutput, error) {
		return c.SFNAPI.UpdateMapRun(ctx, in, opts...)
	})
}

func (c timedSFN) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	return bounded(ctx, c.timeout, func(ctx context.Context) (*sfn.GetExecutionHistoryOutput, error) {
		return c.SFNAPI.GetExecutionHistory(ctx, in, opts...)
	})
}

func (c timedSFN) ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, opts ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	return bounded(ctx, c.timeout, func(ctx context.Context) (*sfn.ListExecutionsOutput, error) {
		return c.SFNAPI.ListExecutions(ctx, in, opts...)
	})
}

func (c timedSFN) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return bounded(ctx, c.timeout, func(ctx context.Context) (*sfn.DescribeExecutionOutput, error) {
		return c.SFNAPI.DescribeExecution(ctx, in, opts...)
	})
}

func (c timedSFN) ListTagsForResource(ctx context.Context, in *sfn.ListTagsForResourceInput, opts ...func(*sfn.Options)) (*sfn.ListTagsForResourceOutput, error) {
	return bounded(ctx, c.timeout, func(ctx context.Context) (*sfn.ListTagsForResourceOutput, error) {
		return c.SFNAPI.ListTagsForResource(ctx, in, opts...)
	})
}

func (c timedSFN) DescribeStateMachine(ctx context.Context, in *sfn.DescribeStateMachineInput, opts ...func(*sfn.Options)) (*sfn.DescribeStateMachineOutput, error) {
	return bounded(ctx, c.timeout, func(ctx context.Context) (*sfn.DescribeStateMachineOutput, error) {
		return c.SFNAPI.DescribeStateMachine(ctx, in, opts...)
	})
}

// timedMetrics gives every CloudWatch call its own timeout.
type timedMetrics struct {
	observe.MetricsAPI
	timeout time.Duration
}

var _ observe.MetricsAPI = timedMetrics{}

func (c timedMetrics) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return bounded(ctx, c.timeout, func(ctx context.Context) (*cloudwatch.GetMetricDataOutput, error) {
		return c.MetricsAPI.GetMetricData(ctx, in, opts...)
	})
}

// boundedErr is bounded for a call that returns only an error.
func boundedErr(ctx context.Context, timeout time.Duration, call func(context.Context) error) error {
	_, err := bounded(ctx, timeout, func(ctx context.Context) (struct{}, error) { return struct{}{}, call(ctx) })
	return err
}

// timedStore gives every store call its own timeout. It wraps each method
// of Store: one left to the embedded Store would have none.
type timedStore struct {
	Store
	timeout time.Duration
}

var _ Store = timedStore{}

func (s timedStore) ActiveExecutions(ctx context.Context) ([]registry.Execution, error) {
	return bounded(ctx, s.timeout, s.Store.ActiveExecutions)
}

func (s timedStore) PutExecution(ctx context.Context, e registry.Execution) (bool, error) {
	return bounded(ctx, s.timeout, func(ctx context.Context) (bool, error) { return s.Store.PutExecution(ctx, e) })
}

func (s timedStore) PutRun(ctx context.Context, r registry.Run) (bool, error) {
	return bounded(ctx, s.timeout, func(ctx context.Context) (bool, error) { return s.Store.PutRun(ctx, r) })
}

func (s timedStore) ActiveRunHeads(ctx context.Context) ([]registry.Run, error) {
	return bounded(ctx, s.timeout, s.Store.ActiveRunHeads)
}

func (s timedStore) GetRun(ctx context.Context, arn string) (registry.Run, error) {
	return bounded(ctx, s.timeout, func(ctx context.Context) (registry.Run, error) { return s.Store.GetRun(ctx, arn) })
}

func (s timedStore) Hold(ctx context.Context, r registry.Run, owner string, now time.Time, ttl time.Duration) (registry.Run, error) {
	return bounded(ctx, s.timeout, func(ctx context.Context) (registry.Run, error) { return s.Store.Hold(ctx, r, owner, now, ttl) })
}

func (s timedStore) Record(ctx context.Context, r registry.Run, owner string, now time.Time) (registry.Run, error) {
	return bounded(ctx, s.timeout, func(ctx context.Context) (registry.Run, error) { return s.Store.Record(ctx, r, owner, now) })
}

func (s timedStore) GetLearned(ctx context.Context, sm, label, policy string) (registry.Learned, error) {
	return bounded(ctx, s.timeout, func(ctx context.Context) (registry.Learned, error) { return s.Store.GetLearned(ctx, sm, label, policy) })
}

func (s timedStore) PutLearned(ctx context.Context, l registry.Learned) (bool, error) {
	return bounded(ctx, s.timeout, func(ctx context.Context) (bool, error) { return s.Store.PutLearned(ctx, l) })
}

func (s timedStore) EndRun(ctx context.Context, arn, reason string, at time.Time) error {
	return boundedErr(ctx, s.timeout, func(ctx context.Context) error { return s.Store.EndRun(ctx, arn, reason, at) })
}

func (s timedStore) AppendDecision(ctx context.Context, arn string, at time.Time, d control.Decision) error {
	return boundedErr(ctx, s.timeout, func(ctx context.Context) error { return s.Store.AppendDecision(ctx, arn, at, d) })
}

func (s timedStore) RecordScan(ctx context.Context, arn string, sc registry.Scan) error {
	return boundedErr(ctx, s.timeout, func(ctx context.Context) error { return s.Store.RecordScan(ctx, arn, sc) })
}

func (s timedStore) StateMachines(ctx context.Context) ([]registry.StateMachine, error) {
	return bounded(ctx, s.timeout, s.Store.StateMachines)
}

func (s timedStore) GetStateMachine(ctx context.Context, arn string, now time.Time) (registry.StateMachine, error) {
	return bounded(ctx, s.timeout, func(ctx context.Context) (registry.StateMachine, error) {
		return s.Store.GetStateMachine(ctx, arn, now)
	})
}

func (s timedStore) PutStateMachine(ctx context.Context, sm registry.StateMachine) error {
	return boundedErr(ctx, s.timeout, func(ctx context.Context) error { return s.Store.PutStateMachine(ctx, sm) })
}

func (s timedStore) RecordListing(ctx context.Context, arn string, at time.Time) error {
	return boundedErr(ctx, s.timeout, func(ctx context.Context) error { return s.Store.RecordListing(ctx, arn, at) })
}

func (s timedStore) Redrive(ctx context.Context, arn string, redrives int32, at time.Time) (bool, error) {
	return bounded(ctx, s.timeout, func(ctx context.Context) (bool, error) { return s.Store.Redrive(ctx, arn, redrives, at) })
}

// phases returns the contexts of a tick on ctx: work, for reading and
// updating, ends reserve before ctx's deadline; finish, for saving what
// the tick did, outlives the cancellation of ctx but not its deadline, so
// that a run acted on is saved in the time kept for it.
func phases(ctx context.Context, reserve time.Duration) (work, finish context.Context, cancel func()) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, context.WithoutCancel(ctx), func() {}
	}
	work, cancelWork := context.WithDeadline(ctx, deadline.Add(-reserve))
	finish, cancelFinish := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	return work, finish, func() { cancelWork(); cancelFinish() }
}

func (s timedStore) Controls(ctx context.Context) ([]registry.Control, error) {
	return bounded(ctx, s.timeout, s.Store.Controls)
}

func (s timedStore) PutControl(ctx context.Context, c registry.Control) error {
	return boundedErr(ctx, s.timeout, func(ctx context.Context) error { return s.Store.PutControl(ctx, c) })
}
