package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestRoleARN is the execution role the state machines of StartDistributedMap
// name; moto does not check it.
const TestRoleARN = "arn:aws:iam::123456789012:role/maptuner-test"

// SFN returns a Step Functions client for the server, in region, with
// retries off so that a server error shows at once.
func (m *Moto) SFN(region string) *sfn.Client {
	return sfn.New(sfn.Options{
		Region:           region,
		BaseEndpoint:     aws.String(m.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		RetryMaxAttempts: 1,
	})
}

// DistributedMap describes the state machine StartDistributedMap creates:
// Maps Distributed Map states run side by side in one Parallel state, each
// iterating over the same Items numbers with Standard children that wait
// WaitSeconds and succeed.
type DistributedMap struct {
	// Name is the state machine name; required.
	Name string
	// Execution is the execution name; empty means "run-1".
	Execution string
	// Maps is the number of Distributed Map states, hence Map Runs; zero means 1.
	Maps int
	// Items is the number of items each Map iterates over; >= 1.
	Items int
	// WaitSeconds is how long each child waits; >= 0.
	WaitSeconds int
	// MaxConcurrency is the Map's MaxConcurrency; 0 means unlimited.
	MaxConcurrency int32
	// ToleratedFailurePercentage is the Map's ToleratedFailurePercentage,
	// in [0, 100]; it is written as a float literal (5.0), as moto requires.
	ToleratedFailurePercentage float64
	// ToleratedFailureCount is the Map's ToleratedFailureCount; zero leaves it out.
	ToleratedFailureCount int64
	// Tags are put on the state machine.
	Tags map[string]string
}

// Started names what StartDistributedMap created.
type Started struct {
	// StateMachineARN is the created state machine.
	StateMachineARN string
	// ExecutionARN is the started execution.
	ExecutionARN string
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
		return "", fmt.Errorf("testenv: maps %d is negative", d.Maps)
	case d.WaitSeconds < 0:
		return "", fmt.Errorf("testenv: wait seconds %d is negative", d.WaitSeconds)
	case d.MaxConcurrency < 0:
		return "", fmt.Errorf("testenv: max concurrency %d is negative", d.MaxConcurrency)
	case d.ToleratedFailurePercentage < 0 || d.ToleratedFailurePercentage > 100:
		return "", fmt.Errorf("testenv: tolerated failure percentage %v not in [0, 100]", d.ToleratedFailurePercentage)
	case d.ToleratedFailureCount < 0:
		return "", fmt.Errorf("testenv: tolerated failure count %d is negative", d.ToleratedFailureCount)
	}
	branches := make([]any, maps)
	for i := range branches {
		state := map[string]any{
			"Type":                       "Map",
			"ItemsPath":                  "$.items",
			"MaxConcurrency":             d.MaxConcurrency,
			"ToleratedFailurePercentage": floatLiteral(d.ToleratedFailurePercentage),
			"ItemProcessor": map[string]any{
				"ProcessorConfig": map[string]any{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
				"StartAt":         "Work",
				"States": map[string]any{
					"Work": map[string]any{"Type": "Wait", "Seconds": d.WaitSeconds, "End": true},
				},
			},
			"End": true,
		}
		if d.ToleratedFailureCount > 0 {
			state["ToleratedFailureCount"] = d.ToleratedFailureCount
		}
		name := "Map" + strconv.Itoa(i+1)
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
		return "", fmt.Errorf("testenv: marshal definition: %w", err)
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
// named execution of it and waits, polling for at most 15 seconds, until
// all its Map Runs are listed. It fails the test on any error.
//
// moto_server runs only one execution per account and Region: a second
// StartExecution in the same Region fails with HTTP 500. Use Maps for
// several Map Runs, or another Region (client) for a second execution.
func StartDistributedMap(t testing.TB, client *sfn.Client, d DistributedMap) Started {
	t.Helper()
	if d.Items < 1 {
		t.Fatalf("testenv: items %d, want >= 1", d.Items)
	}
	def, err := d.Definition()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var tags []types.Tag
	for k, v := range d.Tags {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(d.Name),
		Definition: aws.String(def),
		RoleArn:    aws.String(TestRoleARN),
		Tags:       tags,
	})
	if err != nil {
		t.Fatalf("testenv: create state machine %q: %v", d.Name, err)
	}
	items := make([]int, d.Items)
	for i := range items {
		items[i] = i
	}
	input, err := json.Marshal(map[string]any{"items": items})
	if err != nil {
		t.Fatalf("testenv: marshal input: %v", err)
	}
	name := d.Execution
	if name == "" {
		name = "run-1"
	}
	ex, err := client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: sm.StateMachineArn,
		Name:            aws.String(name),
		Input:           aws.String(string(input)),
	})
	if err != nil {
		t.Fatalf("testenv: start execution %q of %s: %v", name, aws.ToString(sm.StateMachineArn), err)
	}
	want := max(d.Maps, 1)
	deadline := time.Now().Add(15 * time.Second)
	for {
		// moto answers ListMapRuns with HTTP 500 until the execution's
		// worker is set up, so an error only counts at the deadline.
		out, err := client.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: ex.ExecutionArn})
		if err == nil && len(out.MapRuns) >= want {
			arns := make([]string, len(out.MapRuns))
			for i, r := range out.MapRuns {
				arns[i] = aws.ToString(r.MapRunArn)
			}
			return Started{
				StateMachineARN: aws.ToString(sm.StateMachineArn),
				ExecutionARN:    aws.ToString(ex.ExecutionArn),
				MapRunARNs:      arns,
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("testenv: list map runs of %s: %v", aws.ToString(ex.ExecutionArn), err)
			}
			t.Fatalf("testenv: %s has %d map runs after 15s, want %d", aws.ToString(ex.ExecutionArn), len(out.MapRuns), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitExecution polls DescribeExecution, for at most timeout, until the
// execution is no longer RUNNING, and returns its status. It fails the test
// on an error or on timeout.
func WaitExecution(t testing.TB, client *sfn.Client, executionARN string, timeout time.Duration) types.ExecutionStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	deadline := time.Now().Add(timeout)
	for {
		out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionARN)})
		if err != nil {
			t.Fatalf("testenv: describe execution %s: %v", executionARN, err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out.Status
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: execution %s still RUNNING after %s", executionARN, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
