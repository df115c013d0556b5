// Package maprun holds the plain data of a Distributed Map Run: its ARN, its
// settings and its counts. It imports no AWS SDK, so that the decision code,
// the simulator and the AWS adapters can all speak it.
package maprun

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidARN is returned for a string that is not a Map Run ARN.
var ErrInvalidARN = errors.New("invalid map run arn")

// Status is a Map Run status as DescribeMapRun reports it.
type Status string

// The Map Run statuses of the Step Functions API.
const (
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusAborted   Status = "ABORTED"
)

// Ended reports whether s is a terminal status.
func (s Status) Ended() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusAborted
}

// Settings are the three values UpdateMapRun can change.
type Settings struct {
	// MaxConcurrency is the number of child executions that may run at once.
	// Zero means no limit (up to 10,000): a tuner never sends it by accident.
	MaxConcurrency int32 `json:"maxConcurrency"`
	// ToleratedFailurePercentage is in [0, 100]; zero tolerates no failure.
	ToleratedFailurePercentage float64 `json:"toleratedFailurePercentage"`
	// ToleratedFailureCount is >= 0; zero tolerates no failure.
	ToleratedFailureCount int64 `json:"toleratedFailureCount"`
}

// Counts are the item counts of a Map Run (DescribeMapRun itemCounts).
type Counts struct {
	Pending        int64 `json:"pending"`
	Running        int64 `json:"running"`
	Succeeded      int64 `json:"succeeded"`
	Failed         int64 `json:"failed"`
	TimedOut       int64 `json:"timedOut"`
	Aborted        int64 `json:"aborted"`
	Total          int64 `json:"total"`
	ResultsWritten int64 `json:"resultsWritten"`
}

// Failures is the number of items that count against the tolerances:
// failed plus timed out.
func (c Counts) Failures() int64 { return c.Failed + c.TimedOut }

// Done is the number of items that have finished, whatever their outcome.
func (c Counts) Done() int64 { return c.Succeeded + c.Failed + c.TimedOut + c.Aborted }

// FailurePercent is Failures as a percentage of Total; zero when Total is zero.
func (c Counts) FailurePercent() float64 {
	if c.Total == 0 {
		return 0
	}
	return 100 * float64(c.Failures()) / float64(c.Total)
}

// Snapshot is what one DescribeMapRun returns.
type Snapshot struct {
	ARN          string    `json:"mapRunArn"`
	ExecutionARN string    `json:"executionArn"`
	Status       Status    `json:"status"`
	StartDate    time.Time `json:"startDate"`
	StopDate     time.Time `json:"stopDate,omitzero"`
	Settings     Settings  `json:"settings"`
	Items        Counts    `json:"itemCounts"`
	// Executions counts the child executions; with an ItemBatcher each
	// runs a batch of items. Zero when not reported.
	Executions Counts `json:"executionCounts,omitzero"`
}

// Children is what maxConcurrency limits, the child executions: Executions
// when reported, else Items (without an ItemBatcher one child runs one
// item).
func (s Snapshot) Children() Counts {
	if s.Executions.Total > 0 {
		return s.Executions
	}
	return s.Items
}

// ARN is a parsed Map Run ARN:
// arn:PARTITION:states:REGION:ACCOUNT:mapRun:STATE_MACHINE_NAME/LABEL:UUID.
type ARN struct {
	Partition    string
	Region       string
	Account      string
	StateMachine string
	Label        string
	ID           string
}

// ParseARN parses a Map Run ARN. The error wraps ErrInvalidARN and names the input.
func ParseARN(s string) (ARN, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 8 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "mapRun" {
		return ARN{}, fmt.Errorf("%w %q: want arn:PARTITION:states:REGION:ACCOUNT:mapRun:NAME/LABEL:ID", ErrInvalidARN, s)
	}
	name, label, ok := strings.Cut(parts[6], "/")
	if !ok || name == "" || label == "" || parts[7] == "" || parts[1] == "" || parts[3] == "" || parts[4] == "" {
		return ARN{}, fmt.Errorf("%w %q: want NAME/LABEL:ID after mapRun", ErrInvalidARN, s)
	}
	return ARN{Partition: parts[1], Region: parts[3], Account: parts[4], StateMachine: name, Label: label, ID: parts[7]}, nil
}

// String formats the ARN back to its canonical form.
func (a ARN) String() string {
	return fmt.Sprintf("arn:%s:states:%s:%s:mapRun:%s/%s:%s", a.Partition, a.Region, a.Account, a.StateMachine, a.Label, a.ID)
}

// StateMachineARN is the ARN of the parent state machine, the one that carries tags.
func (a ARN) StateMachineARN() string {
	return fmt.Sprintf("arn:%s:states:%s:%s:stateMachine:%s", a.Partition, a.Region, a.Account, a.StateMachine)
}

// LabelledStateMachineARN is the ARN the children run under and publish
// AWS/States metrics for: arn:...:stateMachine:NAME/LABEL.
func (a ARN) LabelledStateMachineARN() string {
	return a.StateMachineARN() + "/" + a.Label
}
