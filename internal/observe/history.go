package observe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
)

// HistoryPosition is how far an execution's history has been read.
type HistoryPosition struct {
	// EventID is the id of the newest event read; 0 before any read.
	EventID int64
	// Token is the GetExecutionHistory nextToken to go on from, in event
	// order, when a read stopped before the end; empty otherwise.
	Token string
}

// RedrivenMapRun is a MapRunRedriven event: the Map Run runs again.
type RedrivenMapRun struct {
	ARN string
	// RedriveCount is the Map Run's redrive count with this redrive, > 0.
	RedriveCount int32
}

// HistoryRead is what ReadHistory found in the events it read.
type HistoryRead struct {
	// MapRuns are the Map Runs started (MapRunStarted), oldest first,
	// without duplicates.
	MapRuns []string
	// Redriven are the Map Runs redriven (MapRunRedriven), oldest first.
	Redriven []RedrivenMapRun
	// Status is SUCCEEDED, FAILED, TIMED_OUT or ABORTED when the newest
	// event read ends the execution, and StoppedAt its instant; "" and zero
	// while it runs.
	Status    string
	StoppedAt time.Time
	// Position is where the next read starts.
	Position HistoryPosition
	// Events counts the events read that were new; Calls the calls made.
	Events, Calls int
}

// tailPage is the page size of the newest-first reads of a history already
// read: one call when fewer events than this were added since.
const tailPage = 100

// ReadHistory reads the events of an execution's history after from, within
// the GetExecutionHistory budget, and returns what they say with the
// position to read on from. A first read (zero from), or one resuming from a
// token, goes in event order in pages of 1,000; a history already read to
// its end is read newest first, in pages of 100, down to from.EventID, so
// that a read costs one call when little was added. An expired token
// (InvalidToken) starts the read over from the first event.
//
// When the budget runs out part way it returns what it read with an error
// wrapping budget.ErrExhausted; the position then lets the next read go on
// without a gap (a newest-first read that did not reach from keeps from).
// An execution that does not exist gives an error wrapping ErrNotFound.
func (o *Observer) ReadHistory(ctx context.Context, executionARN string, from HistoryPosition) (HistoryRead, error) {
	var (
		h   HistoryRead
		err error
	)
	if from.EventID == 0 || from.Token != "" {
		err = o.readForward(ctx, executionARN, from, &h)
	} else {
		err = o.readTail(ctx, executionARN, from, &h)
	}
	if err != nil {
		return h, fmt.Errorf("observe: read history of %s: %w", executionARN, err)
	}
	return h, nil
}

// readForward reads in event order from from.Token, or from the start.
func (o *Observer) readForward(ctx context.Context, arn string, from HistoryPosition, h *HistoryRead) error {
	h.Position = from
	token := optionalString(from.Token)
	restarted := false
	var set runSet
	defer func() { h.MapRuns = set.arns }()
	for {
		if err := o.take(budget.GetExecutionHistory); err != nil {
			return err
		}
		h.Calls++
		out, err := o.SFN.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{
			ExecutionArn:         aws.String(arn),
			IncludeExecutionData: aws.Bool(false),
			MaxResults:           maxPage,
			NextToken:            token,
		})
		var expired *types.InvalidToken
		if errors.As(err, &expired) && !restarted && from.Token != "" && aws.ToString(token) == from.Token {
			// The stored token outlived its 24 hours: read again from
			// the first event.
			token, h.Position, restarted = nil, HistoryPosition{}, true
			continue
		}
		if err != nil {
			return fmt.Errorf("get execution history: %w", notFound(err))
		}
		for _, ev := range out.Events {
			if ev.Id > h.Position.EventID {
				h.Position.EventID = ev.Id
				h.apply(ev, &set)
			}
		}
		next := aws.ToString(out.NextToken)
		if next == "" || next == aws.ToString(token) {
			h.Position.Token = ""
			return nil
		}
		token, h.Position.Token = out.NextToken, next
	}
}

// readTail reads newest first down to from.EventID.
func (o *Observer) readTail(ctx context.Context, arn string, from HistoryPosition, h *HistoryRead) error {
	h.Position = from
	var (
		token  *string
		newest int64
		events []types.HistoryEvent // newest first
	)
	apply := func() {
		var set runSet
		for i := len(events) - 1; i >= 0; i-- {
			h.apply(events[i], &set)
		}
		h.MapRuns = set.arns
	}
	for {
		if err := o.take(budget.GetExecutionHistory); err != nil {
			// What was read is true; the gap below it is read next time.
			apply()
			return err
		}
		h.Calls++
		out, err := o.SFN.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{
			ExecutionArn:         aws.String(arn),
			IncludeExecutionData: aws.Bool(false),
			MaxResults:           tailPage,
			ReverseOrder:         true,
			NextToken:            token,
		})
		if err != nil {
			apply()
			return fmt.Errorf("get execution history: %w", notFound(err))
		}
		reached := false
		for _, ev := range out.Events {
			if ev.Id <= from.EventID {
				reached = true
				continue
			}
			newest = max(newest, ev.Id)
			events = append(events, ev)
		}
		next := aws.ToString(out.NextToken)
		if reached || next == "" || next == aws.ToString(token) {
			apply()
			h.Position.EventID = max(from.EventID, newest)
			return nil
		}
		token = out.NextToken
	}
}

// apply takes one new event into h; events come oldest first.
func (h *HistoryRead) apply(ev types.HistoryEvent, set *runSet) {
	h.Events++
	status := ""
	switch ev.Type {
	case types.HistoryEventTypeMapRunStarted:
		if d := ev.MapRunStartedEventDetails; d != nil {
			set.add(aws.ToString(d.MapRunArn))
		}
	case types.HistoryEventTypeMapRunRedriven:
		if d := ev.MapRunRedrivenEventDetails; d != nil && aws.ToString(d.MapRunArn) != "" {
			h.Redriven = append(h.Redriven, RedrivenMapRun{ARN: aws.ToString(d.MapRunArn), RedriveCount: aws.ToInt32(d.RedriveCount)})
		}
	case types.HistoryEventTypeExecutionSucceeded:
		status = string(types.ExecutionStatusSucceeded)
	case types.HistoryEventTypeExecutionFailed:
		status = string(types.ExecutionStatusFailed)
	case types.HistoryEventTypeExecutionTimedOut:
		status = string(types.ExecutionStatusTimedOut)
	case types.HistoryEventTypeExecutionAborted:
		status = string(types.ExecutionStatusAborted)
	case types.HistoryEventTypeExecutionRedriven:
		h.Status, h.StoppedAt = "", time.Time{}
	}
	if status != "" {
		h.Status, h.StoppedAt = status, aws.ToTime(ev.Timestamp)
	}
}

// optionalString is nil for "".
func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RunningExecution is a running execution of a state machine.
type RunningExecution struct {
	ARN       string
	StartedAt time.Time
	// RedriveCount is how many times it was redriven; 0 if never.
	RedriveCount int32
}

// RunningExecutions lists the RUNNING executions of a state machine, the
// newest first, with ListExecutions (statusFilter RUNNING) in pages of
// 1,000, each page one call from the budget. When the budget runs out part
// way it returns those listed with an error wrapping budget.ErrExhausted.
// A state machine that does not exist gives an error wrapping ErrNotFound.
func (o *Observer) RunningExecutions(ctx context.Context, stateMachineARN string) ([]RunningExecution, error) {
	var (
		out   []RunningExecution
		token *string
	)
	for {
		if err := o.take(budget.ListExecutions); err != nil {
			return out, fmt.Errorf("observe: list running executions of %s: %w", stateMachineARN, err)
		}
		page, err := o.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{
			StateMachineArn: aws.String(stateMachineARN),
			StatusFilter:    types.ExecutionStatusRunning,
			MaxResults:      maxPage,
			NextToken:       token,
		})
		if err != nil {
			return out, fmt.Errorf("observe: list running executions of %s: %w", stateMachineARN, notFound(err))
		}
		for _, e := range page.Executions {
			out = append(out, RunningExecution{ARN: aws.ToString(e.ExecutionArn), StartedAt: aws.ToTime(e.StartDate), RedriveCount: aws.ToInt32(e.RedriveCount)})
		}
		if next := aws.ToString(page.NextToken); next == "" || next == aws.ToString(token) {
			return out, nil
		}
		token = page.NextToken
	}
}
