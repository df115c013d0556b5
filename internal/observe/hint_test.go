package observe

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/maptuner/maptuner/internal/budget"
)

// fakeHintAPIs answers DescribeStateMachine with a definition and
// GetFunctionConcurrency with a reserved concurrency, or their errors,
// and records what was asked.
type fakeHintAPIs struct {
	definition string
	smErr      error
	reserved   *int32
	fnErr      error
	asked      []string
}

var (
	_ StateMachineAPI = (*fakeHintAPIs)(nil)
	_ FunctionAPI     = (*fakeHintAPIs)(nil)
)

func (f *fakeHintAPIs) DescribeStateMachine(_ context.Context, in *sfn.DescribeStateMachineInput, _ ...func(*sfn.Options)) (*sfn.DescribeStateMachineOutput, error) {
	f.asked = append(f.asked, "DescribeStateMachine "+aws.ToString(in.StateMachineArn))
	if f.smErr != nil {
		return nil, f.smErr
	}
	return &sfn.DescribeStateMachineOutput{Definition: aws.String(f.definition), Label: aws.String("Items")}, nil
}

func (f *fakeHintAPIs) GetFunctionConcurrency(_ context.Context, in *lambda.GetFunctionConcurrencyInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error) {
	f.asked = append(f.asked, "GetFunctionConcurrency "+aws.ToString(in.FunctionName))
	if f.fnErr != nil {
		return nil, f.fnErr
	}
	return &lambda.GetFunctionConcurrencyOutput{ReservedConcurrentExecutions: f.reserved}, nil
}

func TestHintsRead(t *testing.T) {
	const run = "arn:aws:states:us-east-1:123456789012:mapRun:etl/Items:0b5c"
	const describe = "DescribeStateMachine arn:aws:states:us-east-1:123456789012:stateMachine:etl/Items"
	const getConcurrency = "GetFunctionConcurrency process-item"
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: lambda:GetFunctionConcurrency"}
	tests := []struct {
		name  string
		api   fakeHintAPIs
		run   string
		want  Hint
		err   error // the error class; nil for none
		asked []string
	}{
		{name: "reserved concurrency", api: fakeHintAPIs{definition: readDefinition(t, "invoke-parameters.json"), reserved: aws.Int32(200)},
			want: Hint{Bound: 200, Function: "process-item"}, asked: []string{describe, getConcurrency}},
		{name: "no reserved concurrency", api: fakeHintAPIs{definition: readDefinition(t, "invoke-parameters.json")},
			want: Hint{Function: "process-item", Unreserved: true, Why: "function process-item has no reserved concurrency"}, asked: []string{describe, getConcurrency}},
		{name: "zero reserved", api: fakeHintAPIs{definition: readDefinition(t, "invoke-parameters.json"), reserved: aws.Int32(0)},
			want: Hint{Function: "process-item", Why: "function process-item reserves no concurrency: it is stopped"}, asked: []string{describe, getConcurrency}},
		{name: "function not found", api: fakeHintAPIs{definition: readDefinition(t, "invoke-parameters.json"), fnErr: &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found")}},
			want: Hint{Function: "process-item", Why: "function process-item not found"}, asked: []string{describe, getConcurrency}},
		{name: "no single function", api: fakeHintAPIs{definition: readDefinition(t, "two-functions.json")},
			want: Hint{Why: "no capacity hint: the item processor invokes more than one Lambda function (fetch, store)"}, asked: []string{describe}},
		{name: "lambda denied", api: fakeHintAPIs{definition: readDefinition(t, "invoke-parameters.json"), fnErr: denied},
			err: denied, asked: []string{describe, getConcurrency}},
		{name: "state machine gone", api: fakeHintAPIs{smErr: &types.StateMachineDoesNotExist{Message: aws.String("gone")}},
			err: ErrNotFound, asked: []string{describe}},
		{name: "definition not JSON", api: fakeHintAPIs{definition: "{"}, err: ErrInvalidInput, asked: []string{describe}},
		{name: "bad run ARN", run: "arn:aws:states:us-east-1:123456789012:execution:etl:1", err: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Hints{SFN: &tt.api, Lambda: &tt.api}
			got, err := h.Read(context.Background(), cmp.Or(tt.run, run))
			if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("Read error = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Read = %+v, want %+v", got, tt.want)
			}
			if strings.Join(tt.api.asked, "; ") != strings.Join(tt.asked, "; ") {
				t.Errorf("calls %q, want %q", tt.api.asked, tt.asked)
			}
		})
	}
}

func TestHintsReadWithinBudget(t *testing.T) {
	b, err := budget.New(budget.Config{Fraction: 0.01, Period: 1})
	if err != nil {
		t.Fatal(err)
	}
	api := &fakeHintAPIs{definition: readDefinition(t, "invoke-parameters.json"), reserved: aws.Int32(50)}
	h := &Hints{SFN: api, Lambda: api, Budget: b}
	const run = "arn:aws:states:us-east-1:123456789012:mapRun:etl/Items:0b5c"
	if got, err := h.Read(context.Background(), run); err != nil || got.Bound != 50 {
		t.Fatalf("first Read = %+v, %v; want bound 50", got, err)
	}
	if _, err := h.Read(context.Background(), run); !errors.Is(err, budget.ErrExhausted) || !strings.Contains(err.Error(), "DescribeStateMachine") {
		t.Fatalf("second Read error = %v, want the DescribeStateMachine budget spent", err)
	}
	if len(api.asked) != 2 {
		t.Errorf("calls %q: a spent budget must make none", api.asked)
	}
}

// TestHintsReadKeepsTheFunctionWhenTheBudgetEndsBetween: the definition
// read, the GetFunctionConcurrency budget spent, Read still names the
// function.
func TestHintsReadKeepsTheFunctionWhenTheBudgetEndsBetween(t *testing.T) {
	b, err := budget.New(budget.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for b.Take(budget.GetFunctionConcurrency) {
	}
	api := &fakeHintAPIs{definition: readDefinition(t, "invoke-parameters.json"), reserved: aws.Int32(50)}
	h := &Hints{SFN: api, Lambda: api, Budget: b}
	got, err := h.Read(context.Background(), "arn:aws:states:us-east-1:123456789012:mapRun:etl/Items:0b5c")
	if !errors.Is(err, budget.ErrExhausted) || !strings.Contains(err.Error(), "GetFunctionConcurrency") || got != (Hint{Function: "process-item"}) {
		t.Fatalf("Read = %+v, %v; want the function process-item and the GetFunctionConcurrency budget spent", got, err)
	}
}
