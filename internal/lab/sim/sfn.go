package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/maptuner/maptuner/internal/maprun"
)

// StepFunctionsAPI is the part of the Step Functions API the simulator
// serves, with the signatures of the AWS SDK client.
type StepFunctionsAPI interface {
	DescribeMapRun(ctx context.Context, in *sfn.DescribeMapRunInput, optFns ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error)
	UpdateMapRun(ctx context.Context, in *sfn.UpdateMapRunInput, optFns ...func(*sfn.Options)) (*sfn.UpdateMapRunOutput, error)
	ListMapRuns(ctx context.Context, in *sfn.ListMapRunsInput, optFns ...func(*sfn.Options)) (*sfn.ListMapRunsOutput, error)
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, optFns ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	ListTagsForResource(ctx context.Context, in *sfn.ListTagsForResourceInput, optFns ...func(*sfn.Options)) (*sfn.ListTagsForResourceOutput, error)
	DescribeStateMachine(ctx context.Context, in *sfn.DescribeStateMachineInput, optFns ...func(*sfn.Options)) (*sfn.DescribeStateMachineOutput, error)
}

var (
	_ StepFunctionsAPI = (*sfn.Client)(nil)
	_ StepFunctionsAPI = (*SFN)(nil)
)

const (
	sfnServiceID    = "SFN"
	defaultPageSize = 100
	maxPageSize     = 1000
)

// SFN is the simulated Step Functions API of a World. Every method first
// draws the scenario's fault knobs, then spends a token of its operation's
// quota and fails with a ThrottlingException when the bucket is empty; errors are the SDK's own
// types wrapped in a *smithy.OperationError, as the SDK client returns them.
// optFns are accepted and ignored.
type SFN struct{ w *World }

// SFN returns the world's Step Functions API.
func (w *World) SFN() *SFN { return &SFN{w: w} }

// begin checks the context and the required parameters, then spends a
// token; it is called with the world locked.
func (w *World) begin(ctx context.Context, a api, inputName string, missing ...string) error {
	w.call(a)
	if err := ctx.Err(); err != nil {
		return opError(a, err)
	}
	if len(missing) > 0 {
		p := smithy.InvalidParamsError{Context: inputName}
		for _, f := range missing {
			p.Add(smithy.NewErrParamRequired(f))
		}
		return opError(a, p)
	}
	if err := w.inject(a); err != nil {
		return opError(a, err)
	}
	if !w.quota.take(a, w.now) {
		return opError(a, throttlingError(a))
	}
	return nil
}

func opError(a api, err error) error {
	service := sfnServiceID
	switch a {
	case apiGetMetricData:
		service = cloudWatchServiceID
	case apiGetFunctionConcurrency:
		service = lambdaServiceID
	}
	return &smithy.OperationError{ServiceID: service, OperationName: apiNames[a], Err: err}
}

func invalidARN(arn string) error {
	return &types.InvalidArn{Message: aws.String("Invalid Arn: 'Resource type not valid in this context: " + arn + "'")}
}

func validation(reason types.ValidationExceptionReason, format string, args ...any) error {
	return &types.ValidationException{Message: aws.String(fmt.Sprintf(format, args...)), Reason: reason}
}

// lookupMapRun finds a started Map Run by ARN.
func (w *World) lookupMapRun(arn string) (*run, error) {
	if _, err := maprun.ParseARN(arn); err != nil {
		return nil, invalidARN(arn)
	}
	r := w.byMapRun[arn]
	if r == nil || !r.mapStarted {
		return nil, &types.ResourceNotFound{Message: aws.String("Map Run does not exist: " + arn), ResourceName: aws.String(arn)}
	}
	return r, nil
}

// DescribeMapRun returns a Map Run's status, settings and item and child
// counts. Errors: InvalidArn, ResourceNotFound.
func (c *SFN) DescribeMapRun(ctx context.Context, in *sfn.DescribeMapRunInput, _ ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.begin(ctx, apiDescribeMapRun, "DescribeMapRunInput", missing(in == nil || in.MapRunArn == nil, "MapRunArn")...); err != nil {
		return nil, err
	}
	r, err := w.lookupMapRun(*in.MapRunArn)
	if err != nil {
		return nil, opError(apiDescribeMapRun, err)
	}
	out := &sfn.DescribeMapRunOutput{
		MapRunArn:                  aws.String(r.mapRunARN),
		ExecutionArn:               aws.String(r.execARN),
		Status:                     r.status,
		StartDate:                  aws.Time(w.at(r.mapStart)),
		MaxConcurrency:             r.maxConc,
		ToleratedFailurePercentage: float32(r.pct),
		ToleratedFailureCount:      r.count,
		ItemCounts: &types.MapRunItemCounts{
			Pending:   r.items - r.nextItem,
			Running:   r.runningItems,
			Succeeded: r.succeeded,
			Failed:    r.failed,
			Aborted:   r.aborted,
			Total:     r.items,
		},
		ExecutionCounts: &types.MapRunExecutionCounts{
			Pending:   (r.items+r.batch-1)/r.batch - int64(len(r.children)),
			Running:   int64(r.running),
			Succeeded: r.childSucceeded,
			Failed:    r.childFailed,
			Aborted:   r.childAborted,
			Total:     (r.items + r.batch - 1) / r.batch,
		},
		RedriveCount: aws.Int32(0),
	}
	if r.status != types.MapRunStatusRunning {
		out.StopDate = aws.Time(w.at(r.mapStop))
	}
	return out, nil
}

// UpdateMapRun changes a running Map Run's maxConcurrency and tolerances.
// The new limit applies to new starts only; a tolerance the run already
// exceeds fails it at once. Errors: InvalidArn, ResourceNotFound, and
// ValidationException, with reason CANNOT_UPDATE_COMPLETED_MAP_RUN when the
// run has ended and MISSING_REQUIRED_PARAMETER when nothing is to change.
// A maxConcurrency above 10,000 is accepted and acts as 10,000.
func (c *SFN) UpdateMapRun(ctx context.Context, in *sfn.UpdateMapRunInput, _ ...func(*sfn.Options)) (*sfn.UpdateMapRunOutput, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.begin(ctx, apiUpdateMapRun, "UpdateMapRunInput", missing(in == nil || in.MapRunArn == nil, "MapRunArn")...); err != nil {
		return nil, err
	}
	fail := func(err error) (*sfn.UpdateMapRunOutput, error) { return nil, opError(apiUpdateMapRun, err) }
	r, err := w.lookupMapRun(*in.MapRunArn)
	if err != nil {
		return fail(err)
	}
	switch {
	case in.MaxConcurrency == nil && in.ToleratedFailurePercentage == nil && in.ToleratedFailureCount == nil:
		return fail(validation(types.ValidationExceptionReasonMissingRequiredParameter,
			"at least one of maxConcurrency, toleratedFailurePercentage and toleratedFailureCount is required"))
	case in.MaxConcurrency != nil && *in.MaxConcurrency < 0:
		return fail(validation("", "1 validation error detected: Value '%d' at 'maxConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 0", *in.MaxConcurrency))
	case in.ToleratedFailurePercentage != nil && !(*in.ToleratedFailurePercentage >= 0 && *in.ToleratedFailurePercentage <= 100):
		return fail(validation("", "1 validation error detected: Value '%v' at 'toleratedFailurePercentage' failed to satisfy constraint: Member must have value between 0 and 100", *in.ToleratedFailurePercentage))
	case in.ToleratedFailureCount != nil && *in.ToleratedFailureCount < 0:
		return fail(validation("", "1 validation error detected: Value '%d' at 'toleratedFailureCount' failed to satisfy constraint: Member must have value greater than or equal to 0", *in.ToleratedFailureCount))
	case r.status != types.MapRunStatusRunning:
		return fail(validation(types.ValidationExceptionReasonCannotUpdateCompletedMapRun,
			"Map Run %s is %s and can no longer be updated", r.mapRunARN, r.status))
	}
	w.update(r, in.MaxConcurrency, in.ToleratedFailurePercentage, in.ToleratedFailureCount)
	return &sfn.UpdateMapRunOutput{}, nil
}

// ListMapRuns lists the Map Runs an execution started (at most one per
// parent in the simulator). Errors: InvalidArn, ExecutionDoesNotExist,
// InvalidToken.
func (c *SFN) ListMapRuns(ctx context.Context, in *sfn.ListMapRunsInput, _ ...func(*sfn.Options)) (*sfn.ListMapRunsOutput, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.begin(ctx, apiListMapRuns, "ListMapRunsInput", missing(in == nil || in.ExecutionArn == nil, "ExecutionArn")...); err != nil {
		return nil, err
	}
	ref, err := w.lookupExecution(*in.ExecutionArn)
	if err != nil {
		return nil, opError(apiListMapRuns, err)
	}
	var all []types.MapRunListItem
	if r := ref.r; ref.child < 0 && r.mapStarted {
		item := types.MapRunListItem{
			ExecutionArn:    aws.String(r.execARN),
			MapRunArn:       aws.String(r.mapRunARN),
			StateMachineArn: aws.String(r.labelled),
			StartDate:       aws.Time(w.at(r.mapStart)),
		}
		if r.status != types.MapRunStatusRunning {
			item.StopDate = aws.Time(w.at(r.mapStop))
		}
		all = append(all, item)
	}
	from, to, next, err := page(len(all), in.MaxResults, in.NextToken, *in.ExecutionArn)
	if err != nil {
		return nil, opError(apiListMapRuns, err)
	}
	return &sfn.ListMapRunsOutput{MapRuns: append([]types.MapRunListItem{}, all[from:to]...), NextToken: next}, nil
}

// GetExecutionHistory returns the history of a parent (ExecutionStarted,
// MapStateEntered, MapStateStarted, MapRunStarted with the Map Run ARN,
// then MapRunSucceeded, MapStateSucceeded, MapStateExited and
// ExecutionSucceeded, or MapRunFailed, MapStateFailed and ExecutionFailed)
// or of a Standard child (every call of its Task state, failed attempts
// included; see childHistory), a page at a time. Errors: InvalidArn (also
// for an Express execution, which has no history), ExecutionDoesNotExist,
// InvalidToken.
func (c *SFN) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.begin(ctx, apiGetExecutionHistory, "GetExecutionHistoryInput", missing(in == nil || in.ExecutionArn == nil, "ExecutionArn")...); err != nil {
		return nil, err
	}
	arn := *in.ExecutionArn
	if isExpressARN(arn) {
		return nil, opError(apiGetExecutionHistory, errExpressHistory())
	}
	ref, err := w.lookupExecution(arn)
	if err != nil {
		return nil, opError(apiGetExecutionHistory, err)
	}
	var events []types.HistoryEvent
	if ref.child >= 0 {
		events = w.childHistory(ref.r, ref.child)
	} else {
		events = w.parentHistory(ref.r)
	}
	events, next, err := pageEvents(events, in.ReverseOrder, in.MaxResults, in.NextToken, arn)
	if err != nil {
		return nil, opError(apiGetExecutionHistory, err)
	}
	return &sfn.GetExecutionHistoryOutput{Events: events, NextToken: next}, nil
}

func (w *World) parentHistory(r *run) []types.HistoryEvent {
	var events []types.HistoryEvent
	add := func(at time.Duration, e types.HistoryEvent) {
		e.Id = int64(len(events) + 1)
		e.PreviousEventId = int64(len(events))
		e.Timestamp = aws.Time(w.at(at))
		events = append(events, e)
	}
	add(r.parentStart, types.HistoryEvent{Type: types.HistoryEventTypeExecutionStarted,
		ExecutionStartedEventDetails: &types.ExecutionStartedEventDetails{Input: aws.String("{}")}})
	if !r.mapStarted {
		return events
	}
	add(r.mapStart, types.HistoryEvent{Type: types.HistoryEventTypeMapStateEntered,
		StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String(r.spec.Label), Input: aws.String("{}")}})
	add(r.mapStart, types.HistoryEvent{Type: types.HistoryEventTypeMapStateStarted,
		MapStateStartedEventDetails: &types.MapStateStartedEventDetails{Length: int32(min(r.items, math.MaxInt32))}})
	add(r.mapStart, types.HistoryEvent{Type: types.HistoryEventTypeMapRunStarted,
		MapRunStartedEventDetails: &types.MapRunStartedEventDetails{MapRunArn: aws.String(r.mapRunARN)}})
	switch r.status {
	case types.MapRunStatusSucceeded:
		add(r.mapStop, types.HistoryEvent{Type: types.HistoryEventTypeMapRunSucceeded})
		add(r.mapStop, types.HistoryEvent{Type: types.HistoryEventTypeMapStateSucceeded})
		add(r.mapStop, types.HistoryEvent{Type: types.HistoryEventTypeMapStateExited,
			StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(r.spec.Label), Output: aws.String("{}")}})
		add(r.parentStop, types.HistoryEvent{Type: types.HistoryEventTypeExecutionSucceeded,
			ExecutionSucceededEventDetails: &types.ExecutionSucceededEventDetails{Output: aws.String("{}")}})
	case types.MapRunStatusFailed:
		add(r.mapStop, types.HistoryEvent{Type: types.HistoryEventTypeMapRunFailed,
			MapRunFailedEventDetails: &types.MapRunFailedEventDetails{Error: aws.String(r.errName), Cause: aws.String(r.cause)}})
		add(r.mapStop, types.HistoryEvent{Type: types.HistoryEventTypeMapStateFailed})
		add(r.parentStop, types.HistoryEvent{Type: types.HistoryEventTypeExecutionFailed,
			ExecutionFailedEventDetails: &types.ExecutionFailedEventDetails{Error: aws.String(r.errName), Cause: aws.String(r.cause)}})
	}
	return events
}

func (w *World) childInput(r *run, c child) string {
	if r.batch > 1 {
		return fmt.Sprintf(`{"Items":{"from":%d,"count":%d}}`, c.first, c.n)
	}
	return fmt.Sprintf(`{"item":%d}`, c.first)
}

// childError is the error and cause a failed child reports.
func (r *run) childError(c child) (string, string) {
	if c.cause == causeThrottle {
		return r.ds.spec.ThrottleError, r.ds.spec.ThrottleCause
	}
	return r.spec.Failures.Error, r.spec.Failures.Cause
}

// ListExecutions lists, newest first, either the children of a Map Run
// (MapRunArn) or the parent executions of a state machine
// (StateMachineArn), optionally of one status. Errors: InvalidArn,
// ResourceNotFound (Map Run), StateMachineDoesNotExist, InvalidToken, and
// ValidationException for both or neither ARN, a labelled state machine
// ARN, or a page size above 1,000.
func (c *SFN) ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.begin(ctx, apiListExecutions, "ListExecutionsInput"); err != nil {
		return nil, err
	}
	fail := func(err error) (*sfn.ListExecutionsOutput, error) { return nil, opError(apiListExecutions, err) }
	if in == nil || (in.MapRunArn == nil) == (in.StateMachineArn == nil) {
		return fail(validation(types.ValidationExceptionReasonMissingRequiredParameter, "specify either mapRunArn or stateMachineArn, not both"))
	}
	status := in.StatusFilter
	if status != "" && !validExecutionStatus(status) {
		return fail(validation("", "1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set", status))
	}
	if in.RedriveFilter == types.ExecutionRedriveFilterRedriven {
		// Nothing is ever redriven in the simulator.
		_, _, _, err := page(0, in.MaxResults, in.NextToken, "")
		if err != nil {
			return fail(err)
		}
		return &sfn.ListExecutionsOutput{Executions: []types.ExecutionListItem{}}, nil
	}
	if in.MapRunArn != nil {
		r, err := w.lookupMapRun(*in.MapRunArn)
		if err != nil {
			return fail(err)
		}
		out, err := w.listChildren(r, status, in.MaxResults, in.NextToken, *in.MapRunArn)
		if err != nil {
			return fail(err)
		}
		return out, nil
	}
	key := *in.StateMachineArn
	parts := strings.Split(key, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return fail(invalidARN(key))
	}
	if strings.Contains(parts[6], "/") {
		return fail(validation(types.ValidationExceptionReasonApiDoesNotSupportLabeledArns, "ListExecutions does not take the labelled state machine ARN %s; use mapRunArn", key))
	}
	runs := w.byMachine[key]
	if len(runs) == 0 {
		return fail(&types.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist: '" + key + "'")})
	}
	var all []types.ExecutionListItem
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if !w.started || (status != "" && r.parentStatus != status) {
			continue
		}
		item := types.ExecutionListItem{
			ExecutionArn:    aws.String(r.execARN),
			Name:            aws.String(r.execName),
			StateMachineArn: aws.String(r.smARN),
			Status:          r.parentStatus,
			StartDate:       aws.Time(w.at(r.parentStart)),
		}
		if r.parentStatus != types.ExecutionStatusRunning {
			item.StopDate = aws.Time(w.at(r.parentStop))
		}
		all = append(all, item)
	}
	from, to, next, err := page(len(all), in.MaxResults, in.NextToken, key)
	if err != nil {
		return fail(err)
	}
	return &sfn.ListExecutionsOutput{Executions: append([]types.ExecutionListItem{}, all[from:to]...), NextToken: next}, nil
}

func validExecutionStatus(s types.ExecutionStatus) bool {
	for _, v := range s.Values() {
		if v == s {
			return true
		}
	}
	return false
}

func childExecutionStatus(s childStatus) types.ExecutionStatus {
	switch s {
	case childSucceeded:
		return types.ExecutionStatusSucceeded
	case childFailed:
		return types.ExecutionStatusFailed
	case childAborted:
		return types.ExecutionStatusAborted
	}
	return types.ExecutionStatusRunning
}

// DescribeExecution describes a parent or a child execution: status,
// dates, and the error and cause of a failure (the throttle error of the
// downstream, or the run's failure error for poison items). Errors:
// InvalidArn, ExecutionDoesNotExist.
func (c *SFN) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.begin(ctx, apiDescribeExecution, "DescribeExecutionInput", missing(in == nil || in.ExecutionArn == nil, "ExecutionArn")...); err != nil {
		return nil, err
	}
	ref, err := w.lookupExecution(*in.ExecutionArn)
	if err != nil {
		return nil, opError(apiDescribeExecution, err)
	}
	r := ref.r
	if ref.child >= 0 {
		ch := r.children[ref.child]
		out := &sfn.DescribeExecutionOutput{
			ExecutionArn:    aws.String(*in.ExecutionArn),
			Name:            aws.String(w.childName(r, ref.child)),
			StateMachineArn: aws.String(r.labelled),
			MapRunArn:       aws.String(r.mapRunARN),
			Status:          childExecutionStatus(ch.status),
			StartDate:       aws.Time(w.at(ch.start)),
			Input:           aws.String(w.childInput(r, ch)),
			RedriveCount:    aws.Int32(0),
		}
		if ch.status != childRunning {
			out.StopDate = aws.Time(w.at(ch.stop))
		}
		if ch.status == childFailed {
			e, cause := r.childError(ch)
			out.Error, out.Cause = aws.String(e), optional(cause)
		}
		return out, nil
	}
	out := &sfn.DescribeExecutionOutput{
		ExecutionArn:    aws.String(r.execARN),
		Name:            aws.String(r.execName),
		StateMachineArn: aws.String(r.smARN),
		Status:          r.parentStatus,
		StartDate:       aws.Time(w.at(r.parentStart)),
		Input:           aws.String("{}"),
		RedriveCount:    aws.Int32(0),
	}
	if r.parentStatus != types.ExecutionStatusRunning {
		out.StopDate = aws.Time(w.at(r.parentStop))
	}
	if r.parentStatus == types.ExecutionStatusFailed {
		out.Error, out.Cause = aws.String(r.errName), aws.String(r.cause)
	}
	return out, nil
}

// ListTagsForResource returns a state machine's tags, sorted by key.
// Errors: InvalidArn (anything but an unlabelled state machine ARN),
// ResourceNotFound.
func (c *SFN) ListTagsForResource(ctx context.Context, in *sfn.ListTagsForResourceInput, _ ...func(*sfn.Options)) (*sfn.ListTagsForResourceOutput, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.begin(ctx, apiListTagsForResource, "ListTagsForResourceInput", missing(in == nil || in.ResourceArn == nil, "ResourceArn")...); err != nil {
		return nil, err
	}
	arn := *in.ResourceArn
	parts := strings.Split(arn, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" || strings.Contains(parts[6], "/") {
		return nil, opError(apiListTagsForResource, invalidARN(arn))
	}
	runs := w.byMachine[arn]
	if len(runs) == 0 {
		return nil, opError(apiListTagsForResource, &types.ResourceNotFound{Message: aws.String("Resource not found: '" + arn + "'"), ResourceName: aws.String(arn)})
	}
	tags := map[string]string{}
	for _, r := range runs {
		for k, v := range r.spec.Tags {
			tags[k] = v
		}
	}
	out := &sfn.ListTagsForResourceOutput{Tags: []types.Tag{}}
	for _, k := range sortedKeys(tags) {
		out.Tags = append(out.Tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out, nil
}

// optional is nil for an empty string, as the API leaves out an empty cause.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func missing(absent bool, field string) []string {
	if absent {
		return []string{field}
	}
	return nil
}

// execRef is a parent (child < 0) or a child execution of a run.
type execRef struct {
	r     *run
	child int32
}

// lookupExecution finds a parent or child execution by ARN.
func (w *World) lookupExecution(arn string) (execRef, error) {
	parts := strings.Split(arn, ":")
	if len(parts) < 8 || parts[0] != "arn" || parts[1] == "" || parts[2] != "states" || parts[3] == "" || parts[4] == "" || parts[6] == "" {
		return execRef{}, invalidARN(arn)
	}
	notFound := func() (execRef, error) {
		return execRef{}, &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + arn + "'")}
	}
	switch {
	case parts[5] == "execution" && len(parts) == 8 && !strings.Contains(parts[6], "/"):
		if r := w.byExec[arn]; r != nil && w.started {
			return execRef{r: r, child: -1}, nil
		}
		return notFound()
	case (parts[5] == "execution" && len(parts) == 8) || (parts[5] == "express" && len(parts) == 9):
		name, label, _ := strings.Cut(parts[6], "/")
		id := parts[7]
		if len(id) < 8 {
			return notFound()
		}
		low, err := strconv.ParseUint(id[len(id)-8:], 16, 32)
		if err != nil {
			return notFound()
		}
		for _, r := range w.byLabelled[labelledARN(name, label)] {
			ci := int64(uint32(low) ^ r.childMask)
			if ci < int64(len(r.children)) && w.childARN(r, int32(ci)) == arn {
				return execRef{r: r, child: int32(ci)}, nil
			}
		}
		return notFound()
	}
	return execRef{}, invalidARN(arn)
}

// page resolves MaxResults and NextToken over n items: the slice
// [from, to) to return and the next token. Tokens are bound to key.
func page(n int, maxResults int32, token *string, key string) (from, to int, next *string, err error) {
	size, err := pageSize(maxResults)
	if err != nil {
		return 0, 0, nil, err
	}
	if token != nil {
		off, tag, ok := strings.Cut(*token, ".")
		v, perr := strconv.Atoi(off)
		if !ok || perr != nil || tag != tokenTag(key) || v < 1 || v > n {
			return 0, 0, nil, &types.InvalidToken{Message: aws.String("Invalid Token: '" + *token + "'")}
		}
		from = v
	}
	to = min(n, from+size)
	if to < n {
		next = aws.String(strconv.Itoa(to) + "." + tokenTag(key))
	}
	return from, to, next, nil
}

// pageSize is the page size MaxResults asks for: 0 for the default.
func pageSize(maxResults int32) (int, error) {
	if maxResults < 0 || maxResults > maxPageSize {
		return 0, validation("", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 0 and %d", maxResults, maxPageSize)
	}
	if maxResults == 0 {
		return defaultPageSize, nil
	}
	return int(maxResults), nil
}

func tokenTag(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return strconv.FormatUint(uint64(h.Sum32()), 36)
}
