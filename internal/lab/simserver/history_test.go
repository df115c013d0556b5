package simserver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// TestChildHistoriesOverTheWire samples children as the tuner will,
// through the SDK client: the RUNNING children of a Map Run, newest
// first, then the newest events of their histories, which show the
// throttled attempts with their error; a child calling its function by
// ARN records LambdaFunctionFailed; an Express child's history is refused
// as InvalidArn, with HTTP 400.
func TestChildHistoriesOverTheWire(t *testing.T) {
	ctx := context.Background()
	f := serve(t, Config{Scenario: parseScenario(t, testScenario), Seed: 1})
	f.srv.Start()
	if _, err := f.srv.Advance(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	res := f.srv.Result()
	running, err := f.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(res.Runs[0].MapRunARN), StatusFilter: types.ExecutionStatusRunning, MaxResults: 1000})
	if err != nil || len(running.Executions) != 6 {
		t.Fatalf("RUNNING children: %+v, %v; want 6", running, err)
	}
	throttled := 0
	for i, c := range running.Executions {
		if i > 0 && c.StartDate.After(*running.Executions[i-1].StartDate) {
			t.Errorf("child %d started after child %d: want newest first", i, i-1)
		}
		h, err := f.sfn.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: c.ExecutionArn, ReverseOrder: true, MaxResults: 3})
		if err != nil || len(h.Events) == 0 {
			t.Fatalf("history of %s: %+v, %v", aws.ToString(c.ExecutionArn), h, err)
		}
		for _, e := range h.Events {
			if d := e.TaskFailedEventDetails; e.Type == types.HistoryEventTypeTaskFailed &&
				aws.ToString(d.Error) == sim.DefaultThrottleError && aws.ToString(d.Cause) == sim.DefaultThrottleCause && aws.ToString(d.Resource) == "invoke" {
				throttled++
			}
		}
	}
	if throttled == 0 {
		t.Error("no RUNNING child shows a throttled attempt among its newest events")
	}

	broken, err := f.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(res.Runs[1].MapRunARN), StatusFilter: types.ExecutionStatusFailed, MaxResults: 1})
	if err != nil || len(broken.Executions) != 1 {
		t.Fatalf("failed children: %+v, %v", broken, err)
	}
	h, err := f.sfn.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: broken.Executions[0].ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []types.HistoryEventType
	for _, e := range h.Events {
		kinds = append(kinds, e.Type)
	}
	want := []types.HistoryEventType{types.HistoryEventTypeExecutionStarted, types.HistoryEventTypeTaskStateEntered,
		types.HistoryEventTypeLambdaFunctionScheduled, types.HistoryEventTypeLambdaFunctionStarted, types.HistoryEventTypeLambdaFunctionFailed, types.HistoryEventTypeExecutionFailed}
	if len(kinds) != len(want) {
		t.Fatalf("history of a broken child %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("history of a broken child %v, want %v", kinds, want)
		}
	}
	if d := h.Events[2].LambdaFunctionScheduledEventDetails; aws.ToString(d.Resource) != sim.FunctionARN("fn") {
		t.Errorf("LambdaFunctionScheduled resource %s", aws.ToString(d.Resource))
	}
	if d := h.Events[4].LambdaFunctionFailedEventDetails; aws.ToString(d.Error) != sim.DefaultFailureError {
		t.Errorf("LambdaFunctionFailed error %q, want %q", aws.ToString(d.Error), sim.DefaultFailureError)
	}

	express := serve(t, Config{Scenario: parseScenario(t, `
downstreams: [{name: fn, concurrency: 2}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 10, executionType: EXPRESS, duration: {dist: fixed, value: 10s}}]
`), Seed: 1})
	express.srv.Start()
	if _, err := express.srv.Advance(time.Second); err != nil {
		t.Fatal(err)
	}
	children, err := express.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(express.srv.Result().Runs[0].MapRunARN), StatusFilter: types.ExecutionStatusRunning})
	if err != nil || len(children.Executions) != 10 {
		t.Fatalf("RUNNING Express children: %+v, %v", children, err)
	}
	_, err = express.sfn.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: children.Executions[0].ExecutionArn})
	var ia *types.InvalidArn
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &ia) || !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Errorf("history of an Express child: %v, want InvalidArn, HTTP 400", err)
	}
}
