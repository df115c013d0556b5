package observe

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/maprun"
)

// StateMachineAPI is the Step Functions call Hints reads a definition with,
// with the SDK signature.
type StateMachineAPI interface {
	DescribeStateMachine(ctx context.Context, params *sfn.DescribeStateMachineInput, optFns ...func(*sfn.Options)) (*sfn.DescribeStateMachineOutput, error)
}

// FunctionAPI is the Lambda call Hints reads a reserved concurrency with,
// with the SDK signature.
type FunctionAPI interface {
	GetFunctionConcurrency(ctx context.Context, params *lambda.GetFunctionConcurrencyInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error)
}

var (
	_ StateMachineAPI = (*sfn.Client)(nil)
	_ FunctionAPI     = (*lambda.Client)(nil)
)

// Hint is what the downstream's configuration says of a Map Run's capacity.
type Hint struct {
	// Bound is the reserved concurrency of the one Lambda function the
	// run's children invoke, at most once at a time each: an upper bound
	// on the run's capacity, in children. Zero when none is known.
	Bound int32
	// Function is that function, as the definition names it without
	// qualifier; empty when the definition names no single one.
	Function string
	// Unreserved is true when the function was read and reserves no
	// concurrency: it draws on the account's unreserved concurrency, and
	// its configuration bounds nothing. False when Bound is set or
	// nothing was read.
	Unreserved bool
	// Why says why Bound is zero; empty when it is not.
	Why string
}

// Hints reads capacity hints within a budget.
type Hints struct {
	// SFN and Lambda are required.
	SFN    StateMachineAPI
	Lambda FunctionAPI
	// Budget is the tick's API budget; nil means unlimited.
	Budget *budget.Budget
}

// Read returns the capacity hint of a Map Run: DescribeStateMachine of its
// labelled state machine ARN (NAME/LABEL), the one Lambda function its
// item processor invokes (InvokedFunction), and that function's reserved
// concurrency (GetFunctionConcurrency). A definition that names no single
// function, a function that does not exist, or one with no reserved
// concurrency gives a zero Hint with Why, and no error.
//
// Errors name the call: a malformed ARN wraps ErrNotFound, a state machine
// that does not exist ErrNotFound, a spent budget budget.ErrExhausted (with
// Hint.Function set when the definition was read before it ran out); API
// errors (access denied, throttling) are wrapped as the SDK returns them.
func (h *Hints) Read(ctx context.Context, mapRunARN string) (Hint, error) {
	arn, err := maprun.ParseARN(mapRunARN)
	if err != nil {
		return Hint{}, fmt.Errorf("observe: capacity hint: %w: %w", ErrNotFound, err)
	}
	labelled := arn.LabelledStateMachineARN()
	if !h.Budget.Take(budget.DescribeStateMachine) {
		return Hint{}, fmt.Errorf("observe: describe state machine %s: %s: %w", labelled, budget.DescribeStateMachine, budget.ErrExhausted)
	}
	sm, err := h.SFN.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(labelled)})
	if err != nil {
		return Hint{}, fmt.Errorf("observe: describe state machine %s: %w", labelled, notFound(err))
	}
	fn, err := InvokedFunction(aws.ToString(sm.Definition), arn.Label)
	if errors.Is(err, ErrNoHint) {
		return Hint{Why: err.Error()}, nil
	}
	if err != nil {
		return Hint{}, fmt.Errorf("observe: definition of %s: %w", labelled, err)
	}
	if !h.Budget.Take(budget.GetFunctionConcurrency) {
		return Hint{Function: fn}, fmt.Errorf("observe: get function concurrency of %s: %s: %w", fn, budget.GetFunctionConcurrency, budget.ErrExhausted)
	}
	out, err := h.Lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(fn)})
	var rnf *lambdatypes.ResourceNotFoundException
	switch {
	case errors.As(err, &rnf):
		return Hint{Function: fn, Why: fmt.Sprintf("function %s not found", fn)}, nil
	case err != nil:
		return Hint{}, fmt.Errorf("observe: get function concurrency of %s: %w", fn, err)
	case out.ReservedConcurrentExecutions == nil:
		return Hint{Function: fn, Unreserved: true, Why: fmt.Sprintf("function %s has no reserved concurrency", fn)}, nil
	case *out.ReservedConcurrentExecutions <= 0:
		// Zero reserved stops the function altogether: no run makes
		// progress, and the bound says nothing a tuner can use.
		return Hint{Function: fn, Why: fmt.Sprintf("function %s reserves no concurrency: it is stopped", fn)}, nil
	}
	return Hint{Bound: *out.ReservedConcurrentExecutions, Function: fn}, nil
}
