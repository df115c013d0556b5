package sim

import (
	"context"
	"math"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

const lambdaServiceID = "Lambda"

// LambdaAPI is the part of the Lambda API the simulator serves, with the
// signatures of the AWS SDK client.
type LambdaAPI interface {
	GetFunctionConcurrency(ctx context.Context, in *lambda.GetFunctionConcurrencyInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error)
}

var (
	_ LambdaAPI = (*lambda.Client)(nil)
	_ LambdaAPI = (*Lambda)(nil)
)

// Lambda is the simulated Lambda API of a World: every downstream is a
// Lambda function of its name (the one the state machines' Task states
// invoke), whose reserved concurrency is the downstream's Concurrency
// times its schedule's factor (a change of the schedule is a change of the
// reservation; the neighbour shares it). Calls draw the fault knobs and
// spend quota as SFN's do.
type Lambda struct{ w *World }

// Lambda returns the world's Lambda API.
func (w *World) Lambda() *Lambda { return &Lambda{w: w} }

// functionRef is the grammar of GetFunctionConcurrency's FunctionName in
// the Lambda API model: a name, a partial or a full ARN, optionally
// qualified.
var functionRef = regexp.MustCompile(`^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$`)

// GetFunctionConcurrency returns the reserved concurrency of a function:
// none for a downstream without a concurrency limit. Errors:
// InvalidParameterValueException for a FunctionName outside the API's
// grammar, ResourceNotFoundException for a function the account does not
// have (another Region or account, or no such downstream).
func (c *Lambda) GetFunctionConcurrency(ctx context.Context, in *lambda.GetFunctionConcurrencyInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	const a = apiGetFunctionConcurrency
	if err := w.begin(ctx, a, "GetFunctionConcurrencyInput", missing(in == nil || in.FunctionName == nil, "FunctionName")...); err != nil {
		return nil, err
	}
	ref := *in.FunctionName
	m := functionRef.FindStringSubmatch(ref)
	if m == nil || len(ref) > 140 || m[1] == "" && m[3] == "" && m[8] == "" && m[9] == "" && len(ref) > 64 {
		return nil, opError(a, &lambdatypes.InvalidParameterValueException{Type: aws.String("User"),
			Message: aws.String("1 validation error detected: Value '" + ref + "' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern")})
	}
	name := m[10]
	region, account := strings.TrimSuffix(m[3], ":"), strings.TrimSuffix(m[8], ":")
	var d *downstream
	for _, ds := range w.downstreams {
		if ds.spec.Name == name {
			d = ds
		}
	}
	if d == nil || region != "" && region != Region || account != "" && account != Account {
		return nil, opError(a, &lambdatypes.ResourceNotFoundException{Type: aws.String("User"), Message: aws.String("Function not found: " + FunctionARN(name))})
	}
	out := &lambda.GetFunctionConcurrencyOutput{}
	if d.spec.Concurrency > 0 {
		out.ReservedConcurrentExecutions = aws.Int32(int32(min(math.Floor(d.spec.Concurrency*d.scheduled(w.now)), math.MaxInt32)))
	}
	return out, nil
}
