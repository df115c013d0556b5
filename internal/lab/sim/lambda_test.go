package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

const functionsScenario = `
name: functions
downstreams:
  - {name: fixed, concurrency: 200}
  - {name: grows, concurrency: 40, schedule: [{at: 12m, factor: 10}]}
  - {name: partner, rate: 5}
runs:
  - {stateMachine: a, label: A, downstream: fixed, items: 10, duration: {dist: fixed, value: 1s}}
  - {stateMachine: b, label: B, downstream: grows, items: 10, duration: {dist: fixed, value: 1s}}
  - {stateMachine: c, label: C, downstream: partner, items: 10, duration: {dist: fixed, value: 1s}}
`

func TestGetFunctionConcurrency(t *testing.T) {
	w := started(t, functionsScenario, 1)
	api := w.Lambda()
	ctx := context.Background()
	reserved := func(fn string) (*int32, error) {
		out, err := api.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(fn)})
		if err != nil {
			return nil, err
		}
		return out.ReservedConcurrentExecutions, nil
	}
	tests := []struct {
		fn   string
		want int32 // 0: none reserved
		err  any
	}{
		{fn: "fixed", want: 200},
		{fn: "fixed:live", want: 200},
		{fn: Account + ":function:fixed", want: 200},
		{fn: FunctionARN("fixed"), want: 200},
		{fn: FunctionARN("fixed") + ":3", want: 200},
		{fn: "grows", want: 40},
		{fn: "partner"},
		{fn: "absent", err: new(*lambdatypes.ResourceNotFoundException)},
		{fn: "arn:aws:lambda:eu-west-1:" + Account + ":function:fixed", err: new(*lambdatypes.ResourceNotFoundException)},
		{fn: "arn:aws:lambda:us-east-1:111111111111:function:fixed", err: new(*lambdatypes.ResourceNotFoundException)},
		{fn: "no spaces", err: new(*lambdatypes.InvalidParameterValueException)},
		{fn: string(make([]byte, 65)), err: new(*lambdatypes.InvalidParameterValueException)},
	}
	for _, tt := range tests {
		got, err := reserved(tt.fn)
		if tt.err != nil {
			if !errors.As(err, tt.err) {
				t.Errorf("GetFunctionConcurrency %q: %v, want %T", tt.fn, err, tt.err)
			}
			continue
		}
		if err != nil || aws.ToInt32(got) != tt.want || (got == nil) != (tt.want == 0) {
			t.Errorf("GetFunctionConcurrency %q = %v, %v; want %d", tt.fn, got, err, tt.want)
		}
	}
	// A schedule is a change of the reservation.
	w.Advance(12 * time.Minute)
	if got, err := reserved("grows"); err != nil || aws.ToInt32(got) != 400 {
		t.Errorf("GetFunctionConcurrency grows after 12m = %v, %v; want 400", got, err)
	}
	if _, err := api.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{}); err == nil {
		t.Error("GetFunctionConcurrency without FunctionName succeeded")
	}
	if got := w.Result().API.Calls["GetFunctionConcurrency"]; got != int64(len(tests))+1 {
		t.Errorf("%d GetFunctionConcurrency calls counted, want %d (the call without FunctionName is refused before it counts)", got, len(tests)+1)
	}
}

// TestGetFunctionConcurrencyQuota: the 16th call within a second is
// throttled with Lambda's TooManyRequestsException.
func TestGetFunctionConcurrencyQuota(t *testing.T) {
	w := started(t, functionsScenario, 1)
	in := &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("fixed")}
	for i := range 15 {
		if _, err := w.Lambda().GetFunctionConcurrency(context.Background(), in); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	var tmr *lambdatypes.TooManyRequestsException
	if _, err := w.Lambda().GetFunctionConcurrency(context.Background(), in); !errors.As(err, &tmr) {
		t.Fatalf("call 16: %v, want TooManyRequestsException", err)
	}
}
