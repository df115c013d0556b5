package sim

import (
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// How a child's Task state names its downstream, a Lambda function.
const (
	// TaskInvoke is the service integration LambdaInvokeResource; its
	// history records TaskScheduled, TaskStarted, TaskFailed and
	// TaskSucceeded.
	TaskInvoke = "invoke"
	// TaskFunction is the function's ARN as the Task's Resource; its
	// history records LambdaFunctionScheduled, LambdaFunctionStarted,
	// LambdaFunctionFailed and LambdaFunctionSucceeded.
	TaskFunction = "function"

	// LambdaInvokeResource is the Resource of the Lambda service integration.
	LambdaInvokeResource = "arn:aws:states:::lambda:invoke"
	// TaskStateName is the name of the one Task state of every child.
	TaskStateName = "Call"
)

// FunctionARN is the ARN of the Lambda function a downstream stands for.
func FunctionARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + Account + ":function:" + name
}

// taskOutput is the output of a successful call through the service
// integration: the Invoke response.
const taskOutput = `{"ExecutedVersion":"$LATEST","Payload":{},"StatusCode":200}`

// retryCall is a call of a Standard child after its first, at a time of
// the world's clock; prev is the 1-based index in the run's retries of
// the child's call before it, 0 for none. 16 bytes.
type retryCall struct {
	at   time.Duration
	prev int32
}

// recordCall notes a call of child c made now: the first only sets
// called, as its time follows from the child's start; later ones of a
// Standard child go to the run's retries (Express children have no
// history to render).
func (r *run) recordCall(c *child, now time.Duration) {
	if !c.called {
		c.called = true
		return
	}
	if r.spec.ExecutionType == ExecutionExpress {
		return
	}
	r.retries = append(r.retries, retryCall{at: now, prev: c.lastRetry})
	c.lastRetry = int32(len(r.retries))
}

// forget notes that a child in live has finished, and drops the finished
// ones from live once they are more than half of it.
func (r *run) forget() {
	r.dead++
	if r.dead <= 64 || 2*r.dead <= len(r.live) {
		return
	}
	k := 0
	for _, ci := range r.live {
		if r.children[ci].status == childRunning {
			r.live[k] = ci
			k++
		}
	}
	r.live, r.dead = r.live[:k], 0
}

// callTimes are the times of the calls child c has made, oldest first.
func (r *run) callTimes(c *child) []time.Duration {
	if !c.called {
		return nil
	}
	n := 1
	for i := c.lastRetry; i != 0; i = r.retries[i-1].prev {
		n++
	}
	out := make([]time.Duration, n)
	out[0] = c.start + r.spec.StartLatency
	for i, k := c.lastRetry, n-1; i != 0; i, k = r.retries[i-1].prev, k-1 {
		out[k] = r.retries[i-1].at
	}
	return out
}

// childHistory renders the history of a Standard child as Step Functions
// records it for a Task state with a Retry on the throttle error:
// ExecutionStarted and TaskStateEntered; per call a scheduled and a
// started event, and a failed one with the downstream's throttle error
// when it was throttled, at the time of the call (the retry's next
// scheduled event comes after its wait); then the outcome of the last
// call and of the execution. The events of a child still running stop at
// the present. Event ids count from 1; each event's previous is the one
// before it, but TaskStateEntered's, which is 0, as Step Functions writes
// it.
func (w *World) childHistory(r *run, ci int32) []types.HistoryEvent {
	c := &r.children[ci]
	calls := r.callTimes(c)
	input := w.childInput(r, *c)
	direct := r.spec.Task == TaskFunction
	fn := r.ds.spec.Name
	events := make([]types.HistoryEvent, 0, 5+3*len(calls))
	add := func(at time.Duration, e types.HistoryEvent) {
		e.Id = int64(len(events) + 1)
		e.PreviousEventId = int64(len(events))
		e.Timestamp = aws.Time(w.at(at))
		events = append(events, e)
	}
	noTruncation := &types.HistoryEventExecutionDataDetails{}
	failed := func(at time.Duration, errName, cause string) {
		if direct {
			add(at, types.HistoryEvent{Type: types.HistoryEventTypeLambdaFunctionFailed,
				LambdaFunctionFailedEventDetails: &types.LambdaFunctionFailedEventDetails{Error: aws.String(errName), Cause: optional(cause)}})
			return
		}
		add(at, types.HistoryEvent{Type: types.HistoryEventTypeTaskFailed,
			TaskFailedEventDetails: &types.TaskFailedEventDetails{ResourceType: aws.String("lambda"), Resource: aws.String("invoke"), Error: aws.String(errName), Cause: optional(cause)}})
	}

	add(c.start, types.HistoryEvent{Type: types.HistoryEventTypeExecutionStarted,
		ExecutionStartedEventDetails: &types.ExecutionStartedEventDetails{Input: aws.String(input), InputDetails: noTruncation}})
	add(c.start, types.HistoryEvent{Type: types.HistoryEventTypeTaskStateEntered,
		StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String(TaskStateName), Input: aws.String(input), InputDetails: noTruncation}})
	events[1].PreviousEventId = 0

	// The last call was throttled when a retry is scheduled after it, or
	// when it failed the child on throttling.
	lastThrottled := int(c.attempts) == len(calls) || (c.status == childFailed && c.cause == causeThrottle)
	throttleErr, throttleCause := r.ds.spec.ThrottleError, r.ds.spec.ThrottleCause
	for i, at := range calls {
		if direct {
			add(at, types.HistoryEvent{Type: types.HistoryEventTypeLambdaFunctionScheduled,
				LambdaFunctionScheduledEventDetails: &types.LambdaFunctionScheduledEventDetails{Resource: aws.String(FunctionARN(fn)), Input: aws.String(input), InputDetails: noTruncation}})
			add(at, types.HistoryEvent{Type: types.HistoryEventTypeLambdaFunctionStarted})
		} else {
			add(at, types.HistoryEvent{Type: types.HistoryEventTypeTaskScheduled,
				TaskScheduledEventDetails: &types.TaskScheduledEventDetails{ResourceType: aws.String("lambda"), Resource: aws.String("invoke"), Region: aws.String(Region),
					Parameters: aws.String(`{"FunctionName":` + strconv.Quote(fn) + `,"Payload":` + input + `}`)}})
			add(at, types.HistoryEvent{Type: types.HistoryEventTypeTaskStarted,
				TaskStartedEventDetails: &types.TaskStartedEventDetails{ResourceType: aws.String("lambda"), Resource: aws.String("invoke")}})
		}
		if i < len(calls)-1 || lastThrottled {
			failed(at, throttleErr, throttleCause)
		}
	}

	switch c.status {
	case childSucceeded:
		output := taskOutput
		if direct {
			add(c.stop, types.HistoryEvent{Type: types.HistoryEventTypeLambdaFunctionSucceeded,
				LambdaFunctionSucceededEventDetails: &types.LambdaFunctionSucceededEventDetails{Output: aws.String("{}"), OutputDetails: noTruncation}})
			output = "{}"
		} else {
			add(c.stop, types.HistoryEvent{Type: types.HistoryEventTypeTaskSucceeded,
				TaskSucceededEventDetails: &types.TaskSucceededEventDetails{ResourceType: aws.String("lambda"), Resource: aws.String("invoke"), Output: aws.String(output), OutputDetails: noTruncation}})
		}
		add(c.stop, types.HistoryEvent{Type: types.HistoryEventTypeTaskStateExited,
			StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(TaskStateName), Output: aws.String(output), OutputDetails: noTruncation}})
		add(c.stop, types.HistoryEvent{Type: types.HistoryEventTypeExecutionSucceeded,
			ExecutionSucceededEventDetails: &types.ExecutionSucceededEventDetails{Output: aws.String(output), OutputDetails: noTruncation}})
	case childFailed:
		e, cause := r.childError(*c)
		if c.cause == causePoison {
			failed(c.stop, e, cause)
		}
		add(c.stop, types.HistoryEvent{Type: types.HistoryEventTypeExecutionFailed,
			ExecutionFailedEventDetails: &types.ExecutionFailedEventDetails{Error: aws.String(e), Cause: optional(cause)}})
	case childAborted:
		add(c.stop, types.HistoryEvent{Type: types.HistoryEventTypeExecutionAborted,
			ExecutionAbortedEventDetails: &types.ExecutionAbortedEventDetails{}})
	}
	return events
}

// errExpressHistory is what GetExecutionHistory answers for an Express
// execution, which has no history in Step Functions.
func errExpressHistory() error {
	return &types.InvalidArn{Message: aws.String("Invalid Arn: 'Resource type not valid in this context: express'")}
}

// isExpressARN reports whether arn names an Express execution.
func isExpressARN(arn string) bool {
	parts := strings.Split(arn, ":")
	return len(parts) > 5 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "express"
}

// pageEvents pages a history by event id, so that a token stays good
// while the history of a running execution grows: it names the id of the
// next event to return, bound to key and the order.
func pageEvents(events []types.HistoryEvent, reverse bool, maxResults int32, token *string, key string) ([]types.HistoryEvent, *string, error) {
	size, err := pageSize(maxResults)
	if err != nil {
		return nil, nil, err
	}
	step, id := 1, 1
	if reverse {
		step, id = -1, len(events)
		key += "\x00reverse"
	}
	tag := tokenTag(key)
	if token != nil {
		v, t, ok := strings.Cut(*token, ".")
		n, perr := strconv.Atoi(v)
		if !ok || perr != nil || t != tag || n < 1 || n > len(events) {
			return nil, nil, &types.InvalidToken{Message: aws.String("Invalid Token: '" + *token + "'")}
		}
		id = n
	}
	out := make([]types.HistoryEvent, 0, min(size, len(events)))
	for ; id >= 1 && id <= len(events) && len(out) < size; id += step {
		out = append(out, events[id-1])
	}
	var next *string
	if id >= 1 && id <= len(events) {
		next = aws.String(strconv.Itoa(id) + "." + tag)
	}
	return out, next, nil
}

// listChildren answers ListExecutions for the children of a Map Run of a
// status ("" for any), newest first, building only the page asked for:
// RUNNING children are found in live, FAILED ones in failedChildren.
func (w *World) listChildren(r *run, status types.ExecutionStatus, maxResults int32, token *string, key string) (*sfn.ListExecutionsOutput, error) {
	all := func(int32) bool { return true }
	byStatus := func(s childStatus) func(int32) bool {
		return func(ci int32) bool { return r.children[ci].status == s }
	}
	identity := func(i int) int32 { return int32(i) }
	var (
		n      int                 // children of the status
		length int                 // of the list they are found in
		at     func(i int) int32   // the list's i-th child, oldest first
		match  func(ci int32) bool // whether a child of the list has the status
	)
	switch status {
	case "":
		n, length, at, match = len(r.children), len(r.children), identity, all
	case types.ExecutionStatusFailed:
		n, length, at, match = len(r.failedChildren), len(r.failedChildren), func(i int) int32 { return r.failedChildren[i] }, all
	case types.ExecutionStatusRunning:
		n, length, at, match = r.running, len(r.live), func(i int) int32 { return r.live[i] }, byStatus(childRunning)
	case types.ExecutionStatusSucceeded:
		n, length, at, match = int(r.childSucceeded), len(r.children), identity, byStatus(childSucceeded)
	case types.ExecutionStatusAborted:
		n, length, at, match = int(r.childAborted), len(r.children), identity, byStatus(childAborted)
	}
	from, to, next, err := page(n, maxResults, token, key)
	if err != nil {
		return nil, err
	}
	items := make([]types.ExecutionListItem, 0, to-from)
	a := newItemArena(r, to-from)
	if n == length {
		// Every child of the list has the status: index it directly.
		for k := from; k < to; k++ {
			items = append(items, w.childItem(r, at(length-1-k), a))
		}
	} else {
		seen := 0
		for i := length - 1; i >= 0 && seen < to; i-- {
			if ci := at(i); match(ci) {
				if seen >= from {
					items = append(items, w.childItem(r, ci, a))
				}
				seen++
			}
		}
	}
	return &sfn.ListExecutionsOutput{Executions: items, NextToken: next}, nil
}

// childItem is a child as ListExecutions lists it by Map Run; its
// members point into a, and the Map Run's ARNs are shared by the page.
func (w *World) childItem(r *run, ci int32, a *itemArena) types.ExecutionListItem {
	c := r.children[ci]
	name := w.childName(r, ci)
	it := types.ExecutionListItem{
		ExecutionArn:    a.str(w.childARNNamed(r, ci, name)),
		Name:            a.str(name),
		StateMachineArn: a.labelled,
		MapRunArn:       a.mapRun,
		ItemCount:       a.count(c.n),
		Status:          childExecutionStatus(c.status),
		StartDate:       a.time(w.at(c.start)),
	}
	if c.status != childRunning {
		it.StopDate = a.time(w.at(c.stop))
	}
	return it
}

// itemArena holds the values the items of one page point to, in a few
// allocations rather than several per item.
type itemArena struct {
	labelled, mapRun *string
	strs             []string
	times            []time.Time
	counts           []int32
}

func newItemArena(r *run, n int) *itemArena {
	return &itemArena{
		labelled: aws.String(r.labelled),
		mapRun:   aws.String(r.mapRunARN),
		strs:     make([]string, 0, 2*n),
		times:    make([]time.Time, 0, 2*n),
		counts:   make([]int32, 0, n),
	}
}

func (a *itemArena) str(s string) *string {
	a.strs = append(a.strs, s)
	return &a.strs[len(a.strs)-1]
}

func (a *itemArena) time(t time.Time) *time.Time {
	a.times = append(a.times, t)
	return &a.times[len(a.times)-1]
}

func (a *itemArena) count(n int32) *int32 {
	a.counts = append(a.counts, n)
	return &a.counts[len(a.counts)-1]
}
