package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// RoleARN is the execution role the state machines of StartDistributedMap
// name; local servers do not check it.
const RoleARN = "arn:aws:iam::123456789012:role/maptuner-local"

// mapRunsTimeout bounds how long StartDistributedMap waits for the Map Runs
// of the execution it started to be listed.
const mapRunsTimeout = 2 * time.Minute

// SFNAPI is the part of the Step Functions client that StartDistributedMap
// and WaitExecution use.
type SFNAPI interface {
	CreateStateMachine(ctx context.Context, in *sfn.CreateStateMachineInput, optFns ...func(*sfn.Options)) (*sfn.CreateStateMachineOutput, error)
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	ListMapRuns(ctx context.Context, in *sfn.ListMapRunsInput, optFns ...func(*sfn.Options)) (*sfn.ListMapRunsOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

var _ SFNAPI = (*sfn.Client)(nil)

// DistributedMap describes the state machine StartDistributedMap creates:
// Maps Distributed Map states run side by side in one Parallel state, each
// iterating over the same Items items with Standard children that wait and
// succeed. Item i (from 0) is {"wait": WaitSeconds + i*WaitStepSeconds}, and
// its child waits that many seconds.
type DistributedMap struct {
	// Name is the state machine name; required.
	Name string
	// Execution is the execution name; empty means "run-1".
	Execution string
	// Maps is the number of Distributed Map states, hence Map Runs; zero means 1.
	// The states are named Map1, Map2, ...
	Maps int
	// Items is the number of items each Map iterates over; >= 1.
	Items int
	// WaitSeconds is how long the first child waits, in seconds; >= 0.
	WaitSeconds int
	// WaitStepSeconds is how much longer each next child waits, in seconds,
	// so that children finish one after another; >= 0. Zero makes every
	// child wait WaitSeconds.
	WaitStepSeconds int
	// MaxConcurrency is the Map's MaxConcurrency; 0 means unlimited.
	MaxConcurrency int32
	// ToleratedFailurePercentage is the Map's ToleratedFailurePercentage,
	// in [0, 100]; it is written as a float literal (5.0), as moto requires.
	ToleratedFailurePercentage float64
	// ToleratedFailureCount is the Map's ToleratedFailureCount; zero leaves it out.
	ToleratedFailureCount int64
	// NameLabels writes each Map state's name as its Label, so that its Map
	// Run is labelled Map1, Map2, ... as AWS labels it by default; without
	// it moto labels each Map Run with a random UUID.
	NameLabels bool
	// Tags are put on the state machine.
	Tags map[string]string
}

// Started names what StartDistributedMap created.
type Started struct {
	// StateMachineARN is the created state machine.
	StateMachineARN string
	// ExecutionARN is the started execution.
	ExecutionARN string
	// StartDate is when the execution started, as StartExecution reported it.
	StartDate time.Time
	// MapRunARNs are the Map Runs of the execution, in ListMapRuns order.
	MapRunARNs []string
}

// Definition returns the Amazon States Language definition of d.
func (d DistributedMap) Definition() (string, error) {
	maps := d.Maps
	if maps == 0 {
		maps = 1
	}
	switch {
	case maps < 0:
		return "", fmt.Errorf("local: state machine definition: maps %d is negative", d.Maps)
	case d.WaitSeconds < 0:
		return "", fmt.Errorf("local: state machine definition: wait seconds %d is negative", d.WaitSeconds)
	case d.WaitStepSeconds < 0:
		return "", fmt.Errorf("local: state machine definition: wait step seconds %d is negative", d.WaitStepSeconds)
	case d.MaxConcurrency < 0:
		return "", fmt.Errorf("local: state machine definition: max concurrency %d is negative", d.MaxConcurrency)
	case !(d.ToleratedFailurePercentage >= 0 && d.ToleratedFailurePercentage <= 100):
		return "", fmt.Errorf("local: state machine definition: tolerated failure percentage %v not in [0, 100]", d.ToleratedFailurePercentage)
	case d.ToleratedFailureCount < 0:
		return "", fmt.Errorf("local: state machine definition: tolerated failure count %d is negative", d.ToleratedFailureCount)
	}
	branches := make([]any, maps)
	for i := range branches {
		name := "Map" + strconv.Itoa(i+1)
		state := map[string]any{
			"Type":                       "Map",
			"ItemsPath":                  "$.items",
			"MaxConcurrency":             d.MaxConcurrency,
			"ToleratedFailurePercentage": floatLiteral(d.ToleratedFailurePercentage),
			"ItemProcessor": map[string]any{
				"ProcessorConfig": map[string]any{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
				"StartAt":         "Work",
				"States": map[string]any{
					"Work": map[string]any{"Type": "Wait", "SecondsPath": "$.wait", "End": true},
				},
			},
			"End": true,
		}
		if d.ToleratedFailureCount > 0 {
			state["ToleratedFailureCount"] = d.ToleratedFailureCount
		}
		if d.NameLabels {
			state["Label"] = name
		}
		branches[i] = map[string]any{"StartAt": name, "States": map[string]any{name: state}}
	}
	def := map[string]any{
		"StartAt": "Fan",
		"States": map[string]any{
			"Fan": map[string]any{"Type": "Parallel", "Branches": branches, "End": true},
		},
	}
	b, err := json.Marshal(def)
	if err != nil {
		return "", fmt.Errorf("local: state machine definition: %w", err)
	}
	return string(b), nil
}

// waitItem is one item of the execution input.
type waitItem struct {
	// Wait is how long the item's child waits, in seconds.
	Wait int `json:"wait"`
}

// input returns the execution input: {"items": [...]} with Items items.
func (d DistributedMap) input() (string, error) {
	items := make([]waitItem, d.Items)
	for i := range items {
		items[i].Wait = d.WaitSeconds + i*d.WaitStepSeconds
	}
	b, err := json.Marshal(map[string]any{"items": items})
	if err != nil {
		return "", fmt.Errorf("marshal input: %w", err)
	}
	return string(b), nil
}

// floatLiteral renders v with a decimal point, so that 5 is written 5.0.
func floatLiteral(v float64) json.Number {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return json.Number(s)
}

// StartDistributedMap creates the state machine d describes, starts one
// named execution of it and waits, polling for at most 2 minutes, until
// all its Map Runs are listed.
//
// moto_server runs only one execution per account and Region: a second
// StartExecution in the same Region fails with HTTP 500. Use Maps for
// several Map Runs, or another Region (client) for a second execution.
func StartDistributedMap(ctx context.Context, client SFNAPI, d DistributedMap) (Started, error) {
	if d.Name == "" {
		return Started{}, errors.New("local: start distributed map: no state machine name")
	}
	if d.Items < 1 {
		return Started{}, fmt.Errorf("local: start distributed map %s: items %d, want >= 1", d.Name, d.Items)
	}
	def, err := d.Definition()
	if err != nil {
		return Started{}, err
	}
	var tags []types.Tag
	for _, k := range slices.Sorted(maps.Keys(d.Tags)) {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(d.Tags[k])})
	}
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(d.Name),
		Definition: aws.String(def),
		RoleArn:    aws.String(RoleARN),
		Tags:       tags,
	})
	if err != nil {
		return Started{}, fmt.Errorf("local: create state machine %q: %w", d.Name, err)
	}
	input, err := d.input()
	if err != nil {
		return Started{}, fmt.Errorf("local: start distributed map %s: %w", d.Name, err)
	}
	name := d.Execution
	if name == "" {
		name = "run-1"
	}
	ex, err := client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: sm.StateMachineArn,
		Name:            aws.String(name),
		Input:           aws.String(input),
	})
	if err != nil {
		return Started{}, fmt.Errorf("local: start execution %q of %s: %w", name, aws.ToString(sm.StateMachineArn), err)
	}
	st := Started{
		StateMachineARN: aws.ToString(sm.StateMachineArn),
		ExecutionARN:    aws.ToString(ex.ExecutionArn),
		StartDate:       aws.ToTime(ex.StartDate),
	}
	if st.MapRunARNs, err = waitMapRuns(ctx, client, st.ExecutionARN, max(d.Maps, 1)); err != nil {
		return Started{}, err
	}
	return st, nil
}

// waitMapRuns polls ListMapRuns until the execution has want Map Runs and
// returns their ARNs, for at most mapRunsTimeout.
func waitMapRuns(ctx context.Context, client SFNAPI, executionARN string, want int) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, mapRunsTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		// moto answers ListMapRuns with HTTP 500 until the execution's
		// worker is set up, so an error only counts at the deadline.
		out, err := client.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(executionARN)})
		if err == nil && len(out.MapRuns) >= want {
			arns := make([]string, len(out.MapRuns))
			for i, r := range out.MapRuns {
				arns[i] = aws.ToString(r.MapRunArn)
			}
			return arns, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return nil, fmt.Errorf("local: list map runs of %s: %w", executionARN, err)
			}
			return nil, fmt.Errorf("local: %s has %d map runs after %s, want %d: %w", executionARN, len(out.MapRuns), mapRunsTimeout, want, ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitExecution polls DescribeExecution until the execution is no longer
// RUNNING and returns its status. It fails on an error or when ctx ends.
func WaitExecution(ctx context.Context, client SFNAPI, executionARN string) (types.ExecutionStatus, error) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionARN)})
		if err != nil {
			return "", fmt.Errorf("local: describe execution %s: %w", executionARN, err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out.Status, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("local: execution %s still RUNNING: %w", executionARN, ctx.Err())
		case <-tick.C:
		}
	}
}
