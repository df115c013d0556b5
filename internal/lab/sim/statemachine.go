package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// RoleARN is the execution role the simulated state machines report.
const RoleARN = "arn:aws:iam::" + Account + ":role/maptuner-local-states"

// asl is the part of the Amazon States Language the definitions use.
type asl struct {
	Comment string              `json:"Comment"`
	StartAt string              `json:"StartAt"`
	States  map[string]aslState `json:"States"`
}

type aslState struct {
	Type                       string         `json:"Type"`
	Resource                   string         `json:"Resource,omitempty"`
	Parameters                 map[string]any `json:"Parameters,omitempty"`
	Retry                      []aslRetry     `json:"Retry,omitempty"`
	ItemProcessor              *aslProcessor  `json:"ItemProcessor,omitempty"`
	ItemBatcher                map[string]any `json:"ItemBatcher,omitempty"`
	MaxConcurrency             int32          `json:"MaxConcurrency,omitempty"`
	ToleratedFailurePercentage *float64       `json:"ToleratedFailurePercentage,omitempty"`
	ToleratedFailureCount      *int64         `json:"ToleratedFailureCount,omitempty"`
	Next                       string         `json:"Next,omitempty"`
	End                        bool           `json:"End,omitempty"`
}

type aslProcessor struct {
	ProcessorConfig map[string]string   `json:"ProcessorConfig"`
	StartAt         string              `json:"StartAt"`
	States          map[string]aslState `json:"States"`
}

type aslRetry struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds int64    `json:"IntervalSeconds"`
	BackoffRate     float64  `json:"BackoffRate"`
	MaxAttempts     int      `json:"MaxAttempts"`
	MaxDelaySeconds int64    `json:"MaxDelaySeconds,omitempty"`
	JitterStrategy  string   `json:"JitterStrategy"`
}

// definition is the Amazon States Language definition of state machine
// name: one Distributed Map state per label of its runs, in run order,
// each the Next of the one before. Called with the world locked.
func (w *World) definition(name string) (string, error) {
	def := asl{Comment: fmt.Sprintf("Simulated by maptuner-local: scenario %s.", w.sc.Name), States: map[string]aslState{}}
	var labels []string
	for _, r := range w.runs {
		if r.spec.StateMachine != name {
			continue
		}
		if _, dup := def.States[r.spec.Label]; dup {
			continue
		}
		labels = append(labels, r.spec.Label)
		def.States[r.spec.Label] = mapState(r.spec, r.ds.spec)
	}
	def.StartAt = labels[0]
	for i, l := range labels {
		st := def.States[l]
		if i+1 < len(labels) {
			st.Next = labels[i+1]
		} else {
			st.End = true
		}
		def.States[l] = st
	}
	b, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		return "", fmt.Errorf("definition of state machine %s: %w", name, err)
	}
	return string(b), nil
}

// mapState is the Distributed Map state of a run: its children call the
// downstream as a Lambda function, through the service integration or by
// the function's ARN as the run's task says, with the run's Retry policy.
func mapState(r RunSpec, d Downstream) aslState {
	retry := aslRetry{
		ErrorEquals:     []string{d.ThrottleError},
		IntervalSeconds: int64(r.Retry.Interval.Seconds()),
		BackoffRate:     r.Retry.BackoffRate,
		MaxAttempts:     *r.Retry.MaxAttempts,
		MaxDelaySeconds: int64(r.Retry.MaxDelay.Seconds()),
		JitterStrategy:  r.Retry.Jitter,
	}
	call := aslState{Type: "Task", Retry: []aslRetry{retry}, End: true}
	if r.Task == TaskFunction {
		call.Resource = FunctionARN(d.Name)
	} else {
		call.Resource = LambdaInvokeResource
		call.Parameters = map[string]any{"FunctionName": d.Name, "Payload.$": "$"}
	}
	st := aslState{
		Type: "Map",
		ItemProcessor: &aslProcessor{
			ProcessorConfig: map[string]string{"Mode": "DISTRIBUTED", "ExecutionType": r.ExecutionType},
			StartAt:         TaskStateName,
			States:          map[string]aslState{TaskStateName: call},
		},
		MaxConcurrency:             r.MaxConcurrency,
		ToleratedFailurePercentage: r.ToleratedFailurePercentage,
		ToleratedFailureCount:      r.ToleratedFailureCount,
	}
	if r.BatchSize > 1 {
		st.ItemBatcher = map[string]any{"MaxItemsPerBatch": r.BatchSize}
	}
	return st
}

// DescribeStateMachine describes a state machine of the scenario, one
// STANDARD state machine per name of its runs (see definition), or with a
// labelled ARN (NAME/LABEL) the one holding that Map state, with Label
// set. Errors: InvalidArn, StateMachineDoesNotExist (also for a version or
// alias ARN: the simulated state machines have none).
func (c *SFN) DescribeStateMachine(ctx context.Context, in *sfn.DescribeStateMachineInput, _ ...func(*sfn.Options)) (*sfn.DescribeStateMachineOutput, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	const a = apiDescribeStateMachine
	if err := w.begin(ctx, a, "DescribeStateMachineInput", missing(in == nil || in.StateMachineArn == nil, "StateMachineArn")...); err != nil {
		return nil, err
	}
	arn := *in.StateMachineArn
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || len(parts) > 8 || parts[0] != "arn" || parts[1] == "" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return nil, opError(a, invalidARN(arn))
	}
	base, label, labelled := strings.Cut(arn, "/")
	runs := w.byMachine[base]
	if len(parts) == 8 || len(runs) == 0 || labelled && len(w.byLabelled[arn]) == 0 {
		return nil, opError(a, &types.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist: '" + arn + "'")})
	}
	def, err := w.definition(runs[0].spec.StateMachine)
	if err != nil {
		return nil, opError(a, err)
	}
	out := &sfn.DescribeStateMachineOutput{
		StateMachineArn:      aws.String(base),
		Name:                 aws.String(runs[0].spec.StateMachine),
		Status:               types.StateMachineStatusActive,
		Definition:           aws.String(def),
		RoleArn:              aws.String(RoleARN),
		Type:                 types.StateMachineTypeStandard,
		CreationDate:         aws.Time(w.start),
		LoggingConfiguration: &types.LoggingConfiguration{Level: types.LogLevelOff},
		TracingConfiguration: &types.TracingConfiguration{},
	}
	if labelled {
		out.StateMachineArn, out.Label = aws.String(arn), aws.String(label)
	}
	return out, nil
}
