package reliability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	stypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/tuner"
)

// fault is one way an outside call fails.
type fault string

const (
	throttle        fault = "throttle"
	serverError     fault = "5xx"
	timeout         fault = "timeout"
	notFound        fault = "NotFound"
	accessDenied    fault = "AccessDenied"
	validation      fault = "ValidationException"
	conditionFailed fault = "conditional-check failure"
	partialData     fault = "PartialData"
)

var allFaults = []fault{throttle, serverError, timeout, notFound, accessDenied, validation, conditionFailed, partialData}

// The services of the outside calls.
const (
	svcSFN        = "Step Functions"
	svcCloudWatch = "CloudWatch"
	svcDynamoDB   = "DynamoDB"
)

// injector fails the calls of one operation with one fault, every time or
// once, and counts the calls of each operation. Its zero value injects
// nothing. It is safe for concurrent use.
type injector struct {
	mu    sync.Mutex
	op    string
	f     fault
	left  int // faults left to inject; < 0: every call
	hit   int // faults injected
	calls map[string]int
	// after, when set, runs after a call of its op has succeeded, and
	// kill then fails every later call: the process died.
	after  string
	killed bool
	// rng, when set, fails each call with probability rate, with one of
	// kinds drawn uniformly.
	rng   *rand.Rand
	rate  float64
	kinds []fault
}

// random fails each call with probability rate, with one of kinds: the
// same calls in the same order meet the same faults.
func (in *injector) random(rng *rand.Rand, rate float64, kinds []fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rng, in.rate, in.kinds = rng, rate, kinds
}

// arm makes the next n calls of op fail with f; n < 0 means every call.
func (in *injector) arm(op string, f fault, n int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.op, in.f, in.left, in.hit = op, f, n, 0
}

// killAfter makes every call after the first successful call of op fail
// as a process that died would: with its context canceled.
func (in *injector) killAfter(op string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.after, in.killed = op, false
}

// disarm stops injecting.
func (in *injector) disarm() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.op, in.left, in.after, in.killed = "", 0, "", false
}

func (in *injector) injected() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.hit
}

// before decides the fate of a call of op: a fault to inject, or "".
func (in *injector) before(op string) (fault, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.calls == nil {
		in.calls = map[string]int{}
	}
	in.calls[op]++
	if in.killed {
		return "", context.Canceled
	}
	if in.rng != nil && in.rng.Float64() < in.rate {
		in.hit++
		return in.kinds[in.rng.IntN(len(in.kinds))], nil
	}
	if op != in.op || in.left == 0 {
		return "", nil
	}
	if in.left > 0 {
		in.left--
	}
	in.hit++
	return in.f, nil
}

// done records that a call of op succeeded.
func (in *injector) done(op string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if op == in.after {
		in.killed = true
	}
}

// call runs next unless the injector fails the call of op on svc.
func call[Out any](ctx context.Context, in *injector, svc, op string, next func(context.Context) (*Out, error)) (*Out, error) {
	f, err := in.before(op)
	if err != nil {
		return nil, opError(svc, op, err)
	}
	switch f {
	case "":
	case timeout:
		// As the SDK reports a call whose context ran out: the call's own
		// timeout, without the wait.
		return nil, opError(svc, op, fmt.Errorf("request send failed: %w", context.DeadlineExceeded))
	case partialData:
		// Not an error: the call answers, incompletely (see partial).
	default:
		return nil, opError(svc, op, apiError(svc, op, f))
	}
	out, err := next(ctx)
	if err == nil {
		in.done(op)
	}
	return out, err
}

// opError wraps err as the SDK wraps the errors of an operation.
func opError(svc, op string, err error) error {
	return &smithy.OperationError{ServiceID: svc, OperationName: op, Err: err}
}

// apiError is the error the service answers with for f, typed as the SDK
// decodes it where the SDK has a type for it.
func apiError(svc, op string, f fault) error {
	msg := fmt.Sprintf("injected %s on %s", f, op)
	generic := func(code string, fault smithy.ErrorFault) error {
		return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
	}
	switch f {
	case accessDenied:
		return generic("AccessDeniedException", smithy.FaultClient)
	case throttle:
		switch svc {
		case svcDynamoDB:
			return &dtypes.ProvisionedThroughputExceededException{Message: aws.String(msg)}
		case svcCloudWatch:
			return generic("Throttling", smithy.FaultClient)
		}
		return generic("ThrottlingException", smithy.FaultClient)
	case serverError:
		switch svc {
		case svcDynamoDB:
			return &dtypes.InternalServerError{Message: aws.String(msg)}
		case svcCloudWatch:
			return &cwtypes.InternalServiceFault{Message: aws.String(msg)}
		}
		return generic("InternalFailure", smithy.FaultServer)
	case validation:
		switch svc {
		case svcSFN:
			return &stypes.ValidationException{Message: aws.String(msg)}
		case svcCloudWatch:
			return &cwtypes.InvalidParameterValueException{Message: aws.String(msg)}
		}
		return generic("ValidationException", smithy.FaultClient)
	case notFound:
		switch svc {
		case svcDynamoDB:
			return &dtypes.ResourceNotFoundException{Message: aws.String(msg)}
		case svcCloudWatch:
			return &cwtypes.ResourceNotFound{Message: aws.String(msg)}
		}
		switch op {
		case "GetExecutionHistory", "DescribeExecution":
			return &stypes.ExecutionDoesNotExist{Message: aws.String(msg)}
		case "ListExecutions":
			return &stypes.StateMachineDoesNotExist{Message: aws.String(msg)}
		}
		return &stypes.ResourceNotFound{Message: aws.String(msg)}
	case conditionFailed:
		return &dtypes.ConditionalCheckFailedException{Message: aws.String(msg)}
	}
	return errors.New("reliability: no error for fault " + string(f))
}

// faultySFN is the Step Functions API with faults injected.
type faultySFN struct {
	next tuner.SFNAPI
	in   *injector
}

var _ tuner.SFNAPI = (*faultySFN)(nil)

func (s *faultySFN) DescribeMapRun(ctx context.Context, p *sfn.DescribeMapRunInput, o ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error) {
	return call(ctx, s.in, svcSFN, "DescribeMapRun", func(ctx context.Context) (*sfn.DescribeMapRunOutput, error) {
		return s.next.DescribeMapRun(ctx, p, o...)
	})
}

func (s *faultySFN) UpdateMapRun(ctx context.Context, p *sfn.UpdateMapRunInput, o ...func(*sfn.Options)) (*sfn.UpdateMapRunOutput, error) {
	return call(ctx, s.in, svcSFN, "UpdateMapRun", func(ctx context.Context) (*sfn.UpdateMapRunOutput, error) { return s.next.UpdateMapRun(ctx, p, o...) })
}

func (s *faultySFN) GetExecutionHistory(ctx context.Context, p *sfn.GetExecutionHistoryInput, o ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	return call(ctx, s.in, svcSFN, "GetExecutionHistory", func(ctx context.Context) (*sfn.GetExecutionHistoryOutput, error) {
		return s.next.GetExecutionHistory(ctx, p, o...)
	})
}

func (s *faultySFN) ListExecutions(ctx context.Context, p *sfn.ListExecutionsInput, o ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	return call(ctx, s.in, svcSFN, "ListExecutions", func(ctx context.Context) (*sfn.ListExecutionsOutput, error) {
		return s.next.ListExecutions(ctx, p, o...)
	})
}

func (s *faultySFN) DescribeExecution(ctx context.Context, p *sfn.DescribeExecutionInput, o ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return call(ctx, s.in, svcSFN, "DescribeExecution", func(ctx context.Context) (*sfn.DescribeExecutionOutput, error) {
		return s.next.DescribeExecution(ctx, p, o...)
	})
}

func (s *faultySFN) DescribeStateMachine(ctx context.Context, p *sfn.DescribeStateMachineInput, o ...func(*sfn.Options)) (*sfn.DescribeStateMachineOutput, error) {
	return call(ctx, s.in, svcSFN, "DescribeStateMachine", func(ctx context.Context) (*sfn.DescribeStateMachineOutput, error) {
		return s.next.DescribeStateMachine(ctx, p, o...)
	})
}

func (s *faultySFN) ListTagsForResource(ctx context.Context, p *sfn.ListTagsForResourceInput, o ...func(*sfn.Options)) (*sfn.ListTagsForResourceOutput, error) {
	return call(ctx, s.in, svcSFN, "ListTagsForResource", func(ctx context.Context) (*sfn.ListTagsForResourceOutput, error) {
		return s.next.ListTagsForResource(ctx, p, o...)
	})
}

// faultyMetrics is the CloudWatch API with faults injected. PartialData
// answers every query with status PartialData and no next page, as when a
// call reaches CloudWatch's limit of datapoints.
type faultyMetrics struct {
	next observe.MetricsAPI
	in   *injector
}

var _ observe.MetricsAPI = (*faultyMetrics)(nil)

func (m *faultyMetrics) GetMetricData(ctx context.Context, p *cloudwatch.GetMetricDataInput, o ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	const op = "GetMetricData"
	partial := m.in.pending(op, partialData)
	out, err := call(ctx, m.in, svcCloudWatch, op, func(ctx context.Context) (*cloudwatch.GetMetricDataOutput, error) {
		return m.next.GetMetricData(ctx, p, o...)
	})
	if err != nil || !partial {
		return out, err
	}
	cp := *out
	cp.NextToken = nil
	cp.MetricDataResults = make([]cwtypes.MetricDataResult, len(out.MetricDataResults))
	for i, r := range out.MetricDataResults {
		r.StatusCode = cwtypes.StatusCodePartialData
		if n := len(r.Values) / 2; n > 0 {
			r.Timestamps, r.Values = r.Timestamps[:n], r.Values[:n]
		}
		cp.MetricDataResults[i] = r
	}
	return &cp, nil
}

// pending reports whether the next call of op would get fault f.
func (in *injector) pending(op string, f fault) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return !in.killed && in.op == op && in.f == f && in.left != 0
}

// faultyDynamo is the DynamoDB API with faults injected.
type faultyDynamo struct {
	next registry.DynamoAPI
	in   *injector
}

var _ registry.DynamoAPI = (*faultyDynamo)(nil)

func (d *faultyDynamo) GetItem(ctx context.Context, p *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return call(ctx, d.in, svcDynamoDB, "GetItem", func(ctx context.Context) (*dynamodb.GetItemOutput, error) { return d.next.GetItem(ctx, p, o...) })
}

func (d *faultyDynamo) PutItem(ctx context.Context, p *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if d.in.pending("PutItem", conditionFailed) {
		return nil, d.conditionFailed(ctx, "PutItem", p.TableName, map[string]dtypes.AttributeValue{"pk": p.Item["pk"], "sk": p.Item["sk"]}, p.ReturnValuesOnConditionCheckFailure)
	}
	return call(ctx, d.in, svcDynamoDB, "PutItem", func(ctx context.Context) (*dynamodb.PutItemOutput, error) { return d.next.PutItem(ctx, p, o...) })
}

// conditionFailed answers a conditional write as DynamoDB does when its
// condition does not hold: ConditionalCheckFailedException, with the item
// as it stands when the request asked for it.
func (d *faultyDynamo) conditionFailed(ctx context.Context, op string, table *string, key map[string]dtypes.AttributeValue, rv dtypes.ReturnValuesOnConditionCheckFailure) error {
	if _, err := d.in.before(op); err != nil {
		return opError(svcDynamoDB, op, err)
	}
	e := &dtypes.ConditionalCheckFailedException{Message: aws.String("injected conditional-check failure on " + op)}
	if rv == dtypes.ReturnValuesOnConditionCheckFailureAllOld {
		out, err := d.next.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return opError(svcDynamoDB, op, err)
		}
		e.Item = out.Item
	}
	return opError(svcDynamoDB, op, e)
}

func (d *faultyDynamo) UpdateItem(ctx context.Context, p *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if d.in.pending("UpdateItem", conditionFailed) {
		return nil, d.conditionFailed(ctx, "UpdateItem", p.TableName, p.Key, p.ReturnValuesOnConditionCheckFailure)
	}
	return call(ctx, d.in, svcDynamoDB, "UpdateItem", func(ctx context.Context) (*dynamodb.UpdateItemOutput, error) { return d.next.UpdateItem(ctx, p, o...) })
}

func (d *faultyDynamo) Query(ctx context.Context, p *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return call(ctx, d.in, svcDynamoDB, "Query", func(ctx context.Context) (*dynamodb.QueryOutput, error) { return d.next.Query(ctx, p, o...) })
}
