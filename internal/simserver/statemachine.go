package simserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/maptuner/maptuner/internal/sim"
)

// RoleARN is the execution role the simulated state machines report.
const RoleARN = "arn:aws:iam::" + sim.Account + ":role/maptuner-local-states"

// stateMachines answers DescribeStateMachine from the scenario, which the
// world does not serve: one STANDARD state machine per name of its runs,
// with one Distributed Map state per label, in run order. It spends no API
// quota and meets no fault knob.
type stateMachines struct {
	byARN    map[string]*sfn.DescribeStateMachineOutput
	labelled map[string]bool
}

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

func newStateMachines(sc sim.Scenario) (*stateMachines, error) {
	type machine struct {
		def    asl
		labels []string
	}
	byName := map[string]*machine{}
	var names []string
	downstreams := map[string]sim.Downstream{}
	for _, d := range sc.Downstreams {
		downstreams[d.Name] = d
	}
	for _, r := range sc.Runs {
		m := byName[r.StateMachine]
		if m == nil {
			m = &machine{def: asl{Comment: fmt.Sprintf("Simulated by maptuner-local: scenario %s.", sc.Name), States: map[string]aslState{}}}
			byName[r.StateMachine] = m
			names = append(names, r.StateMachine)
		}
		if _, dup := m.def.States[r.Label]; dup {
			continue
		}
		m.labels = append(m.labels, r.Label)
		m.def.States[r.Label] = mapState(r, downstreams[r.Downstream])
	}
	s := &stateMachines{byARN: map[string]*sfn.DescribeStateMachineOutput{}, labelled: map[string]bool{}}
	for _, name := range names {
		m := byName[name]
		m.def.StartAt = m.labels[0]
		for i, l := range m.labels {
			st := m.def.States[l]
			if i+1 < len(m.labels) {
				st.Next = m.labels[i+1]
			} else {
				st.End = true
			}
			m.def.States[l] = st
		}
		def, err := json.MarshalIndent(m.def, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("simserver: definition of state machine %s: %w", name, err)
		}
		arn := "arn:aws:states:" + sim.Region + ":" + sim.Account + ":stateMachine:" + name
		for _, l := range m.labels {
			s.labelled[arn+"/"+l] = true
		}
		s.byARN[arn] = &sfn.DescribeStateMachineOutput{
			StateMachineArn:      aws.String(arn),
			Name:                 aws.String(name),
			Status:               types.StateMachineStatusActive,
			Definition:           aws.String(string(def)),
			RoleArn:              aws.String(RoleARN),
			Type:                 types.StateMachineTypeStandard,
			CreationDate:         aws.Time(sc.Start),
			LoggingConfiguration: &types.LoggingConfiguration{Level: types.LogLevelOff},
			TracingConfiguration: &types.TracingConfiguration{},
		}
	}
	return s, nil
}

// mapState is the Distributed Map state of a run: its children call the
// downstream as a Lambda function, through the service integration or by
// the function's ARN as the run's task says, with the run's Retry policy.
func mapState(r sim.RunSpec, d sim.Downstream) aslState {
	retry := aslRetry{
		ErrorEquals:     []string{d.ThrottleError},
		IntervalSeconds: int64(r.Retry.Interval.Seconds()),
		BackoffRate:     r.Retry.BackoffRate,
		MaxAttempts:     *r.Retry.MaxAttempts,
		MaxDelaySeconds: int64(r.Retry.MaxDelay.Seconds()),
		JitterStrategy:  r.Retry.Jitter,
	}
	call := aslState{Type: "Task", Retry: []aslRetry{retry}, End: true}
	if r.Task == sim.TaskFunction {
		call.Resource = sim.FunctionARN(d.Name)
	} else {
		call.Resource = sim.LambdaInvokeResource
		call.Parameters = map[string]any{"FunctionName": d.Name, "Payload.$": "$"}
	}
	st := aslState{
		Type: "Map",
		ItemProcessor: &aslProcessor{
			ProcessorConfig: map[string]string{"Mode": "DISTRIBUTED", "ExecutionType": r.ExecutionType},
			StartAt:         sim.TaskStateName,
			States:          map[string]aslState{sim.TaskStateName: call},
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

// DescribeStateMachine describes a state machine of the scenario, or with
// a labelled ARN (NAME/LABEL) the one holding that Map state, with Label
// set. Errors: InvalidArn, StateMachineDoesNotExist.
func (s *stateMachines) DescribeStateMachine(_ context.Context, in *sfn.DescribeStateMachineInput, _ ...func(*sfn.Options)) (*sfn.DescribeStateMachineOutput, error) {
	const op = "DescribeStateMachine"
	fail := func(err error) (*sfn.DescribeStateMachineOutput, error) {
		return nil, &smithy.OperationError{ServiceID: "SFN", OperationName: op, Err: err}
	}
	if in == nil || in.StateMachineArn == nil {
		p := smithy.InvalidParamsError{Context: "DescribeStateMachineInput"}
		p.Add(smithy.NewErrParamRequired("StateMachineArn"))
		return fail(p)
	}
	arn := *in.StateMachineArn
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || len(parts) > 8 || parts[0] != "arn" || parts[1] == "" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return fail(&types.InvalidArn{Message: aws.String("Invalid Arn: 'Resource type not valid in this context: " + arn + "'")})
	}
	notFound := &types.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist: '" + arn + "'")}
	if len(parts) == 8 {
		// A version or alias: the simulated state machines have none.
		return fail(notFound)
	}
	base, label, labelled := strings.Cut(arn, "/")
	m := s.byARN[base]
	if m == nil || (labelled && !s.labelled[arn]) {
		return fail(notFound)
	}
	out := *m
	if labelled {
		out.StateMachineArn, out.Label = aws.String(arn), aws.String(label)
	}
	return &out, nil
}
