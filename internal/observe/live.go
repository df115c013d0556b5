package observe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
)

// The size of a live sample.
const (
	// LiveNewest and LiveOldest are how many of the newest and of the
	// oldest running children SampleRunning reads the histories of: the
	// newest started under the limit in effect now, the oldest are the
	// ones retrying longest.
	LiveNewest = 8
	LiveOldest = 4
	// liveEvents is how many of a child's newest events are read: one call,
	// enough for the attempts of the last minute of a retrying child.
	liveEvents = 25
)

// SampleRunning reads the live throttle signal of a Map Run: one
// ListExecutions of its RUNNING children (statusFilter RUNNING, newest
// first, one page of up to 1,000, so that the oldest of a run of up to
// 1,000 children are on it), then one GetExecutionHistory (reverseOrder, a
// few events) for each of the LiveNewest newest and LiveOldest oldest, each
// call from the budget. It counts the children with a failed attempt
// (TaskFailed or LambdaFunctionFailed) at or after since whose error and
// cause IsThrottleError says are throttling, and those whose failed
// attempts in the window are all of other errors.
//
// When the GetExecutionHistory budget runs out part way it returns the
// children read so far with an error wrapping budget.ErrExhausted: the
// sample is usable, only smaller. A child that ended and is gone is skipped.
// Express children have no history: the error wraps ErrUnsupported, and the
// caller falls back to the counts and the metrics. A Map Run that does not
// exist gives an error wrapping ErrNotFound.
func (o *Observer) SampleRunning(ctx context.Context, mapRunARN string, since time.Time) (control.LiveSample, error) {
	s := control.LiveSample{Since: since}
	fail := func(err error) (control.LiveSample, error) {
		return s, fmt.Errorf("observe: sample running children of %s: %w", mapRunARN, err)
	}
	if _, err := maprun.ParseARN(mapRunARN); err != nil {
		return control.LiveSample{}, fmt.Errorf("observe: sample running children: %w: %w", ErrNotFound, err)
	}
	if err := o.take(budget.ListExecutions); err != nil {
		return fail(err)
	}
	list, err := o.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{
		MapRunArn:    aws.String(mapRunARN),
		StatusFilter: types.ExecutionStatusRunning,
		MaxResults:   maxPage,
	})
	if err != nil {
		return fail(fmt.Errorf("list running children: %w", notFound(err)))
	}
	for i, child := range sampleEnds(list.Executions, LiveNewest, LiveOldest) {
		arn := aws.ToString(child.ExecutionArn)
		if isExpress(arn) {
			return fail(fmt.Errorf("%w: express child %s has no execution history", ErrUnsupported, arn))
		}
		if err := o.take(budget.GetExecutionHistory); err != nil {
			return fail(fmt.Errorf("%d children read: %w", i, err))
		}
		out, err := o.SFN.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{
			ExecutionArn:         aws.String(arn),
			IncludeExecutionData: aws.Bool(false),
			MaxResults:           liveEvents,
			ReverseOrder:         true,
		})
		var (
			gone *types.ExecutionDoesNotExist
			bad  *types.InvalidArn
		)
		switch {
		case errors.As(err, &gone):
			continue
		case errors.As(err, &bad):
			// What Step Functions answers for an Express execution.
			return fail(fmt.Errorf("%w: history of child %s: %w", ErrUnsupported, arn, err))
		case err != nil:
			return fail(fmt.Errorf("history of child %s: %w", arn, err))
		}
		s.Sampled++
		if start := aws.ToTime(child.StartDate); s.OldestStart.IsZero() || start.Before(s.OldestStart) {
			s.OldestStart = start
		}
		switch at, throttle, ok := failedSince(out.Events, since); {
		case ok && throttle:
			s.Throttled++
			s.NewestAt = later(s.NewestAt, at)
			s.StartedAt = later(s.StartedAt, aws.ToTime(child.StartDate))
		case ok:
			s.Failing++
			s.FailingStartedAt = later(s.FailingStartedAt, aws.ToTime(child.StartDate))
		}
	}
	return s, nil
}

// sampleEnds returns the first newest and the last oldest of list, which is
// newest first, each once.
func sampleEnds(list []types.ExecutionListItem, newest, oldest int) []types.ExecutionListItem {
	if len(list) <= newest+oldest {
		return list
	}
	return append(list[:newest:newest], list[len(list)-oldest:]...)
}

// failedSince looks for the failed attempts at or after since among
// events, which are newest first: it returns the instant of the newest
// throttled one, or of the newest other one when none was throttled, and
// whether it was throttled; ok is false when no attempt failed.
func failedSince(events []types.HistoryEvent, since time.Time) (at time.Time, throttle, ok bool) {
	for _, ev := range events {
		t := aws.ToTime(ev.Timestamp)
		if t.Before(since) {
			break
		}
		var errName, cause *string
		switch {
		case ev.TaskFailedEventDetails != nil:
			errName, cause = ev.TaskFailedEventDetails.Error, ev.TaskFailedEventDetails.Cause
		case ev.LambdaFunctionFailedEventDetails != nil:
			errName, cause = ev.LambdaFunctionFailedEventDetails.Error, ev.LambdaFunctionFailedEventDetails.Cause
		default:
			continue
		}
		if IsThrottleError(aws.ToString(errName), aws.ToString(cause)) {
			return t, true, true
		}
		if !ok {
			at, ok = t, true
		}
	}
	return at, false, ok
}

// isExpress reports whether arn names an Express execution
// (arn:aws:states:region:account:express:...).
func isExpress(arn string) bool {
	parts := strings.SplitN(arn, ":", 7)
	return len(parts) > 5 && parts[5] == "express"
}

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
