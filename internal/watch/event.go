// Package watch turns EventBridge events into registrations: executions of
// opted-in state machines to watch, and Map Runs to tune. Events come at
// least once and out of order; every write it makes is idempotent and an
// ended execution is never brought back.
package watch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

// ErrMalformed is wrapped by every error about an event that cannot be read.
var ErrMalformed = errors.New("malformed event")

// The detail-types the watch function handles.
const (
	// DetailStatusChange is the Step Functions execution status change event.
	DetailStatusChange = "Step Functions Execution Status Change"
	// DetailMapRunStarted is maptuner's own event announcing a Map Run.
	DetailMapRunStarted = "MapRunStarted"
)

// Kind tells which event an Event is.
type Kind int

// The event kinds.
const (
	KindStatusChange Kind = iota + 1
	KindMapRunStarted
)

// Event is a parsed, validated watch event.
type Event struct {
	Kind Kind
	// ID is the EventBridge event id.
	ID string
	// ExecutionARN, StateMachineARN and Status are set for KindStatusChange.
	ExecutionARN    string
	StateMachineARN string
	Status          string
	// StartDate and StopDate are the execution's; zero when absent.
	StartDate, StopDate time.Time
	// MapRun is set for KindMapRunStarted.
	MapRun maprun.ARN
}

type envelope struct {
	ID         string          `json:"id"`
	DetailType *string         `json:"detail-type"`
	Source     string          `json:"source"`
	Detail     json.RawMessage `json:"detail"`
}

type statusDetail struct {
	ExecutionArn    string `json:"executionArn"`
	StateMachineArn string `json:"stateMachineArn"`
	Status          string `json:"status"`
	StartDate       *int64 `json:"startDate"`
	StopDate        *int64 `json:"stopDate"`
}

type mapRunDetail struct {
	MapRunArn string `json:"mapRunArn"`
}

var statuses = map[string]bool{
	"RUNNING": true, "SUCCEEDED": true, "FAILED": true, "TIMED_OUT": true, "ABORTED": true, "PENDING_REDRIVE": true,
}

// Parse reads one EventBridge event. Every error wraps ErrMalformed and names
// the field that was wrong.
func Parse(data []byte) (Event, error) {
	var env envelope
	if err := strictDecode(data, &env); err != nil {
		return Event{}, fmt.Errorf("%w: not an EventBridge event: %v", ErrMalformed, err)
	}
	if env.DetailType == nil {
		return Event{}, fmt.Errorf("%w: detail-type is missing", ErrMalformed)
	}
	if len(env.Detail) == 0 || bytes.Equal(env.Detail, []byte("null")) {
		return Event{}, fmt.Errorf("%w: %s event %q has no detail", ErrMalformed, *env.DetailType, env.ID)
	}
	switch *env.DetailType {
	case DetailStatusChange:
		return parseStatus(env)
	case DetailMapRunStarted:
		var d mapRunDetail
		if err := strictDecode(env.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("%w: %s event %q: detail: %v", ErrMalformed, DetailMapRunStarted, env.ID, err)
		}
		if d.MapRunArn == "" {
			return Event{}, fmt.Errorf("%w: %s event %q: detail.mapRunArn is missing", ErrMalformed, DetailMapRunStarted, env.ID)
		}
		arn, err := maprun.ParseARN(d.MapRunArn)
		if err != nil {
			return Event{}, fmt.Errorf("%w: %s event %q: detail.mapRunArn: %w", ErrMalformed, DetailMapRunStarted, env.ID, err)
		}
		return Event{Kind: KindMapRunStarted, ID: env.ID, MapRun: arn}, nil
	default:
		return Event{}, fmt.Errorf("%w: detail-type %q is not one the watch function handles (%q, %q)", ErrMalformed, *env.DetailType, DetailStatusChange, DetailMapRunStarted)
	}
}

func parseStatus(env envelope) (Event, error) {
	where := fmt.Sprintf("%s event %q", DetailStatusChange, env.ID)
	if env.Source != "aws.states" {
		return Event{}, fmt.Errorf("%w: %s: source %q, want aws.states", ErrMalformed, where, env.Source)
	}
	var d statusDetail
	if err := strictDecode(env.Detail, &d); err != nil {
		return Event{}, fmt.Errorf("%w: %s: detail: %v", ErrMalformed, where, err)
	}
	smName, err := resourceName(d.StateMachineArn, "stateMachine", 7)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %s: detail.stateMachineArn: %v", ErrMalformed, where, err)
	}
	execName, err := resourceName(d.ExecutionArn, "execution", 8)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %s: detail.executionArn: %v", ErrMalformed, where, err)
	}
	if execName != smName || arnPrefix(d.ExecutionArn) != arnPrefix(d.StateMachineArn) {
		return Event{}, fmt.Errorf("%w: %s: detail.executionArn %q is not an execution of detail.stateMachineArn %q", ErrMalformed, where, d.ExecutionArn, d.StateMachineArn)
	}
	if !statuses[d.Status] {
		return Event{}, fmt.Errorf("%w: %s: detail.status %q is not an execution status", ErrMalformed, where, d.Status)
	}
	ev := Event{Kind: KindStatusChange, ID: env.ID, ExecutionARN: d.ExecutionArn, StateMachineARN: d.StateMachineArn, Status: d.Status}
	if d.StartDate != nil {
		ev.StartDate = time.UnixMilli(*d.StartDate).UTC()
	}
	if d.StopDate != nil {
		ev.StopDate = time.UnixMilli(*d.StopDate).UTC()
	}
	return ev, nil
}

// strictDecode decodes one JSON value and nothing after it.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// resourceName checks arn:PARTITION:states:REGION:ACCOUNT:TYPE:NAME[:ID] with
// the given number of parts and returns NAME.
func resourceName(arn, typ string, parts int) (string, error) {
	p := strings.Split(arn, ":")
	if arn == "" {
		return "", errors.New("missing")
	}
	if len(p) != parts || p[0] != "arn" || p[1] == "" || p[2] != "states" || p[3] == "" || p[4] == "" || p[5] != typ || p[6] == "" || p[len(p)-1] == "" {
		return "", fmt.Errorf("%q is not a Step Functions %s ARN", arn, typ)
	}
	if strings.Contains(p[6], "/") {
		return "", fmt.Errorf("%q belongs to a Map Run's children (NAME/LABEL), not to a parent", arn)
	}
	return p[6], nil
}

// arnPrefix is arn:PARTITION:states:REGION:ACCOUNT.
func arnPrefix(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	return strings.Join(p[:min(5, len(p))], ":")
}
