package sim

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/lab/local"
	"github.com/maptuner/maptuner/internal/lab/testenv"
)

// TestConformanceWithMoto makes the same calls to the simulator and to a
// real, independently written Step Functions (moto_server) through the
// real SDK client, and checks that both answer with the same SDK error
// type and, where moto has it right, the same message. Calls where moto is
// known to differ from AWS are left out: it answers DescribeMapRun,
// UpdateMapRun and ListExecutions(mapRunArn) of an unknown Map Run with
// an HTTP 500, and ListTagsForResource of an unknown state machine with no
// error.
func TestConformanceWithMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	moto := m.SFN(local.DefaultRegion)
	w := started(t, oneRun, 1)
	simulated := w.SFN()

	const ex = arnPrefix + "execution:etl:absent"
	sm := stateMachineARN("absent")
	type check func(err error) bool
	tests := []struct {
		name        string
		call        func(api StepFunctionsAPI) error
		same        check
		sameMessage bool
	}{
		{"ListMapRuns unknown execution", func(api StepFunctionsAPI) error {
			_, err := api.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(ex)})
			return err
		}, is[*types.ExecutionDoesNotExist], true},
		{"ListMapRuns malformed", func(api StepFunctionsAPI) error {
			_, err := api.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String("not-an-arn")})
			return err
		}, is[*types.InvalidArn], false},
		{"DescribeExecution unknown", func(api StepFunctionsAPI) error {
			_, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(ex)})
			return err
		}, is[*types.ExecutionDoesNotExist], true},
		{"DescribeExecution malformed", func(api StepFunctionsAPI) error {
			_, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("not-an-arn")})
			return err
		}, is[*types.InvalidArn], false},
		{"GetExecutionHistory unknown", func(api StepFunctionsAPI) error {
			_, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(ex)})
			return err
		}, is[*types.ExecutionDoesNotExist], true},
		{"GetExecutionHistory malformed", func(api StepFunctionsAPI) error {
			_, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String("not-an-arn")})
			return err
		}, is[*types.InvalidArn], false},
		{"ListExecutions unknown state machine", func(api StepFunctionsAPI) error {
			_, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm)})
			return err
		}, is[*types.StateMachineDoesNotExist], true},
		{"DescribeMapRun without ARN", func(api StepFunctionsAPI) error {
			_, err := api.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{})
			return err
		}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			realErr, simErr := tt.call(moto), tt.call(simulated)
			if realErr == nil || simErr == nil {
				t.Fatalf("moto: %v; simulator: %v; want both to fail", realErr, simErr)
			}
			if tt.same != nil && (!tt.same(realErr) || !tt.same(simErr)) {
				t.Errorf("moto: %v (%T); simulator: %v (%T); want the same SDK error type", realErr, realErr, simErr, simErr)
			}
			if tt.sameMessage && message(realErr) != message(simErr) {
				t.Errorf("messages differ:\n moto:      %s\n simulator: %s", message(realErr), message(simErr))
			}
		})
	}
}

// message is the innermost error's text: the service's message, without
// the transport details the real client adds.
func message(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// TestConformanceHistoryWithMoto runs the same Distributed Map (state
// machine etl, label Items) to success in moto_server and in the simulator,
// and compares what a tuner discovers it by: the ListMapRuns item and the
// parent's history events.
func TestConformanceHistoryWithMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatalf("load aws config: %v", err)
	}
	moto := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = aws.String(m.URL) })
	const definition = `{"StartAt":"Items","States":{"Items":{"Type":"Map","ItemsPath":"$.items","Label":"Items","MaxConcurrency":10,
"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"Work","States":{"Work":{"Type":"Pass","End":true}}},"End":true}}}`
	sm, err := moto.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("etl"), Definition: aws.String(definition),
		RoleArn: aws.String("arn:aws:iam::" + Account + ":role/etl"),
	})
	if err != nil {
		t.Fatalf("create state machine: %v", err)
	}
	ex, err := moto.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("run-1"), Input: aws.String(`{"items":[1,2,3]}`)})
	if err != nil {
		t.Fatalf("start execution: %v", err)
	}
	// moto runs the execution on a thread of its own: wait for it to end.
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := moto.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
		if err != nil {
			t.Fatalf("describe execution: %v", err)
		}
		if d.Status == types.ExecutionStatusSucceeded {
			break
		}
		if d.Status != types.ExecutionStatusRunning || time.Now().After(deadline) {
			t.Fatalf("moto execution %s", d.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}

	w := started(t, oneRun, 1)
	runToEnd(t, w)
	simulated := w.SFN()
	parent := w.Parents()[0].ExecutionARN

	historyOf := func(api StepFunctionsAPI, arn string) string {
		h, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("history of %s: %v", arn, err)
		}
		var kinds []string
		for _, e := range h.Events {
			kinds = append(kinds, string(e.Type))
			if e.MapRunStartedEventDetails != nil {
				kinds = append(kinds, "mapRunArn="+fmt.Sprint(e.MapRunStartedEventDetails.MapRunArn != nil))
			}
		}
		return fmt.Sprint(kinds)
	}
	if a, b := historyOf(moto, *ex.ExecutionArn), historyOf(simulated, parent); a != b {
		t.Errorf("history events differ:\n moto:      %s\n simulator: %s", a, b)
	}
	mapRunOf := func(api StepFunctionsAPI, arn string) types.MapRunListItem {
		out, err := api.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(arn)})
		if err != nil || len(out.MapRuns) != 1 {
			t.Fatalf("list map runs of %s: %+v, %v", arn, out, err)
		}
		return out.MapRuns[0]
	}
	a, b := mapRunOf(moto, *ex.ExecutionArn), mapRunOf(simulated, parent)
	if aws.ToString(a.StateMachineArn) != aws.ToString(b.StateMachineArn) {
		t.Errorf("map run state machine ARN: moto %s, simulator %s", aws.ToString(a.StateMachineArn), aws.ToString(b.StateMachineArn))
	}
	if (a.StopDate == nil) != (b.StopDate == nil) || a.StartDate == nil || b.StartDate == nil {
		t.Errorf("map run dates: moto %v-%v, simulator %v-%v", a.StartDate, a.StopDate, b.StartDate, b.StopDate)
	}
}
