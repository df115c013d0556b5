package sim

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// machinesScenario has a state machine whose children call fn through the
// service integration, and one whose children call it by its ARN.
const machinesScenario = `
name: machines
downstreams: [{name: fn, concurrency: 5}]
runs:
  - stateMachine: etl
    label: Items
    downstream: fn
    items: 1000
    maxConcurrency: 6
    toleratedFailurePercentage: 100
    duration: {dist: fixed, value: 5s}
    retry: {interval: 1s, backoffRate: 1.5, maxAttempts: 1}
  - stateMachine: broken
    label: Work
    downstream: fn
    task: function
    items: 20
    maxConcurrency: 2
    duration: {dist: fixed, value: 1s}
`

func TestDescribeStateMachine(t *testing.T) {
	sc, err := ParseScenario("test.yaml", []byte(machinesScenario))
	if err != nil {
		t.Fatal(err)
	}
	api := New(sc, 1).SFN()
	ctx := context.Background()
	const arn = "arn:aws:states:us-east-1:123456789012:stateMachine:etl"
	out, err := api.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Name != "etl" || out.Type != types.StateMachineTypeStandard || out.Status != types.StateMachineStatusActive ||
		*out.RoleArn != RoleARN || !out.CreationDate.Equal(DefaultStart) || out.Label != nil {
		t.Errorf("DescribeStateMachine = %+v", out)
	}
	var def asl
	if err := json.Unmarshal([]byte(*out.Definition), &def); err != nil {
		t.Fatalf("definition %s: %v", *out.Definition, err)
	}
	items := def.States["Items"]
	if def.StartAt != "Items" || items.Type != "Map" || items.MaxConcurrency != 6 || *items.ToleratedFailurePercentage != 100 ||
		items.ItemProcessor.ProcessorConfig["Mode"] != "DISTRIBUTED" || items.ItemProcessor.States["Call"].Retry[0].MaxAttempts != 1 || items.ItemProcessor.States["Call"].Retry[0].BackoffRate != 1.5 || !items.End {
		t.Errorf("definition %s", *out.Definition)
	}
	if call := items.ItemProcessor.States[TaskStateName]; call.Resource != LambdaInvokeResource || call.Parameters["FunctionName"] != "fn" {
		t.Errorf("the Task of etl/Items: %+v, want the Lambda service integration", call)
	}
	out, err = api.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:broken")})
	if err != nil {
		t.Fatal(err)
	}
	var brokenDef asl
	if err := json.Unmarshal([]byte(*out.Definition), &brokenDef); err != nil {
		t.Fatalf("definition %s: %v", *out.Definition, err)
	}
	if call := brokenDef.States["Work"].ItemProcessor.States[TaskStateName]; call.Resource != FunctionARN("fn") || call.Parameters != nil {
		t.Errorf("the Task of broken/Work: %+v, want the function's ARN", call)
	}
	out, err = api.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn + "/Items")})
	if err != nil || aws.ToString(out.Label) != "Items" || *out.StateMachineArn != arn+"/Items" {
		t.Errorf("DescribeStateMachine of the labelled ARN = %+v, %v", out, err)
	}
	for _, bad := range []struct {
		arn  string
		want any
	}{
		{arn + "/Other", new(*types.StateMachineDoesNotExist)},
		{"arn:aws:states:us-east-1:123456789012:stateMachine:absent", new(*types.StateMachineDoesNotExist)},
		{arn + ":3", new(*types.StateMachineDoesNotExist)},
		{"arn:aws:states:us-east-1:123456789012:execution:etl:x", new(*types.InvalidArn)},
	} {
		_, err := api.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(bad.arn)})
		if !errors.As(err, bad.want) {
			t.Errorf("DescribeStateMachine %s: %v, want %T", bad.arn, err, reflect.ValueOf(bad.want).Elem().Interface())
		}
	}
}
