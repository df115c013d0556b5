// Package observe reads what the tuner needs from AWS: Map Run state,
// what is new in an execution's history (its Map Runs, redrives and end),
// the running executions of a state machine, execution status, the opt-in
// tag, throttle metrics, a classified sample of failed children, and the
// capacity hint of a Map Run (Hints: the reserved concurrency of the one
// Lambda function its children invoke).
//
// Every SDK call first takes one call of its API from the tick's
// budget.Budget; when that is spent the method makes no call and returns an
// error wrapping budget.ErrExhausted.
package observe

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/maprun"
)

// ErrNotFound is wrapped by errors about a resource that does not exist, or
// whose ARN is malformed and so never will.
var ErrNotFound = errors.New("resource not found")

// ErrUnsupported is wrapped by errors about a call the resource does not
// support, such as listing the children of an Express Map Run.
var ErrUnsupported = errors.New("operation not supported for resource")

// ErrInvalidInput is wrapped by errors about bad arguments, found before
// any call is made.
var ErrInvalidInput = errors.New("invalid input")

// PolicyTagKey is the state machine tag that opts it in and names its policy.
const PolicyTagKey = "maptuner:policy"

// SFNAPI is the part of the Step Functions client the Observer reads with.
// Its methods have exactly the SDK signatures, so that *sfn.Client and
// a simulator both implement it.
type SFNAPI interface {
	DescribeMapRun(ctx context.Context, params *sfn.DescribeMapRunInput, optFns ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error)
	GetExecutionHistory(ctx context.Context, params *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
	ListExecutions(ctx context.Context, params *sfn.ListExecutionsInput, optFns ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, params *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	ListTagsForResource(ctx context.Context, params *sfn.ListTagsForResourceInput, optFns ...func(*sfn.Options)) (*sfn.ListTagsForResourceOutput, error)
}

// MetricsAPI is the part of the CloudWatch client the Observer reads with,
// with the SDK signature.
type MetricsAPI interface {
	GetMetricData(ctx context.Context, params *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

var (
	_ SFNAPI     = (*sfn.Client)(nil)
	_ MetricsAPI = (*cloudwatch.Client)(nil)
)

// Observer reads through the SDK clients within a budget.
type Observer struct {
	// SFN is required by every method but Throttles.
	SFN SFNAPI
	// Metrics is required by Throttles.
	Metrics MetricsAPI
	// Budget is the tick's API budget; nil means unlimited.
	Budget *budget.Budget
}

// take spends one call of api, or returns an error wrapping
// budget.ErrExhausted that names it.
func (o *Observer) take(api budget.API) error {
	if !o.Budget.Take(api) {
		return fmt.Errorf("%s: %w", api, budget.ErrExhausted)
	}
	return nil
}

// notFound wraps err with ErrNotFound when it is an API error saying the
// resource does not exist or its ARN is malformed, and ErrUnsupported when
// the resource does not support the call.
func notFound(err error) error {
	var (
		rnf *types.ResourceNotFound
		ia  *types.InvalidArn
		ede *types.ExecutionDoesNotExist
		sme *types.StateMachineDoesNotExist
		tns *types.StateMachineTypeNotSupported
	)
	switch {
	case errors.As(err, &rnf), errors.As(err, &ia), errors.As(err, &ede), errors.As(err, &sme):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.As(err, &tns):
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return err
}

// Describe returns the state of a Map Run with one DescribeMapRun. A Map Run
// that does not exist, or a malformed ARN, gives an error wrapping
// ErrNotFound that names the ARN.
func (o *Observer) Describe(ctx context.Context, mapRunARN string) (maprun.Snapshot, error) {
	if _, err := maprun.ParseARN(mapRunARN); err != nil {
		return maprun.Snapshot{}, fmt.Errorf("observe: describe map run: %w: %w", ErrNotFound, err)
	}
	if err := o.take(budget.DescribeMapRun); err != nil {
		return maprun.Snapshot{}, fmt.Errorf("observe: describe map run %s: %w", mapRunARN, err)
	}
	out, err := o.SFN.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(mapRunARN)})
	if err != nil {
		return maprun.Snapshot{}, fmt.Errorf("observe: describe map run %s: %w", mapRunARN, notFound(err))
	}
	return snapshot(mapRunARN, out), nil
}

// snapshot converts a DescribeMapRun answer.
func snapshot(mapRunARN string, out *sfn.DescribeMapRunOutput) maprun.Snapshot {
	s := maprun.Snapshot{
		ARN:          mapRunARN,
		ExecutionARN: aws.ToString(out.ExecutionArn),
		Status:       maprun.Status(out.Status),
		StartDate:    aws.ToTime(out.StartDate),
		StopDate:     aws.ToTime(out.StopDate),
		Settings: maprun.Settings{
			MaxConcurrency:             out.MaxConcurrency,
			ToleratedFailurePercentage: float32To64(out.ToleratedFailurePercentage),
			ToleratedFailureCount:      out.ToleratedFailureCount,
		},
	}
	if c := out.ItemCounts; c != nil {
		s.Items = counts(*c)
	}
	if c := out.ExecutionCounts; c != nil {
		s.Executions = counts(types.MapRunItemCounts(*c))
	}
	return s
}

// counts converts the counts of a DescribeMapRun answer; its execution
// counts have the same fields as its item counts.
func counts(c types.MapRunItemCounts) maprun.Counts {
	return maprun.Counts{
		Pending:        c.Pending,
		Running:        c.Running,
		Succeeded:      c.Succeeded,
		Failed:         c.Failed,
		TimedOut:       c.TimedOut,
		Aborted:        c.Aborted,
		Total:          c.Total,
		ResultsWritten: c.ResultsWritten,
	}
}

// float32To64 converts a float32 from the wire to the float64 with the same
// shortest decimal form, so that a percentage sent as 33.3 reads back as
// 33.3 and not 33.29999923706055.
func float32To64(f float32) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil {
		return float64(f)
	}
	return v
}

// maxPage is the largest page the Step Functions list operations return.
const maxPage = 1000

// runSet collects ARNs in order without duplicates.
type runSet struct {
	seen map[string]bool
	arns []string
}

func (s *runSet) add(arn string) {
	if arn == "" || s.seen[arn] {
		return
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[arn] = true
	s.arns = append(s.arns, arn)
}

// ExecutionStatus returns an execution's status (RUNNING, SUCCEEDED, FAILED,
// TIMED_OUT, ABORTED or PENDING_REDRIVE) with one DescribeExecution, to end
// watched executions whose status-change event was lost. An execution that
// does not exist, or a malformed ARN, gives an error wrapping ErrNotFound.
func (o *Observer) ExecutionStatus(ctx context.Context, executionARN string) (string, error) {
	if err := o.take(budget.DescribeExecution); err != nil {
		return "", fmt.Errorf("observe: describe execution %s: %w", executionARN, err)
	}
	out, err := o.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{
		ExecutionArn: aws.String(executionARN),
		IncludedData: types.IncludedDataMetadataOnly,
	})
	if err != nil {
		return "", fmt.Errorf("observe: describe execution %s: %w", executionARN, notFound(err))
	}
	return string(out.Status), nil
}

// PolicyTag returns the value of the state machine's PolicyTagKey tag with
// one ListTagsForResource; ok is false when the tag is absent. A state
// machine that does not exist, or a malformed ARN, gives an error wrapping
// ErrNotFound.
func (o *Observer) PolicyTag(ctx context.Context, stateMachineARN string) (policy string, ok bool, err error) {
	tags, err := o.Tags(ctx, stateMachineARN)
	policy, ok = tags[PolicyTagKey]
	return policy, ok, err
}

// Tags returns the tags of a state machine, by key, with one
// ListTagsForResource; errors as PolicyTag's.
func (o *Observer) Tags(ctx context.Context, stateMachineARN string) (map[string]string, error) {
	if err := o.take(budget.ListTagsForResource); err != nil {
		return nil, fmt.Errorf("observe: list tags of %s: %w", stateMachineARN, err)
	}
	out, err := o.SFN.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String(stateMachineARN)})
	if err != nil {
		return nil, fmt.Errorf("observe: list tags of %s: %w", stateMachineARN, notFound(err))
	}
	tags := make(map[string]string, len(out.Tags))
	for _, t := range out.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}
