// Package awsapi builds the AWS SDK clients the tuner uses, configured the
// same way everywhere: the default credential and Region chain, per-service
// endpoint overrides from the environment (AWS_ENDPOINT_URL_SFN,
// AWS_ENDPOINT_URL_CLOUDWATCH, AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_LAMBDA), and the SDK's
// adaptive retry mode, kept apart per API operation: it retries throttling
// errors and slows an operation down while the service throttles it, and
// only that operation, since AWS throttles each API in its own bucket.
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// ErrInvalidOptions is wrapped by the errors Load returns for bad Options.
var ErrInvalidOptions = errors.New("invalid aws client options")

// The CloudWatch wire protocols Options.CloudWatchProtocol accepts.
const (
	// CloudWatchCBOR is Smithy RPCv2 CBOR, the SDK's default.
	CloudWatchCBOR = "cbor"
	// CloudWatchJSON is awsJson 1.0.
	CloudWatchJSON = "json"
	// CloudWatchQuery is awsQuery, the oldest protocol the service speaks.
	CloudWatchQuery = "query"
)

// Options tune the clients Load builds. The zero value is the production
// setting.
type Options struct {
	// Region overrides the Region of the default chain (AWS_REGION and the
	// shared config). Empty keeps the chain's Region; Load fails if neither
	// gives one.
	Region string
	// CloudWatchProtocol selects the CloudWatch wire protocol: "" or "cbor"
	// for the SDK default, "json" or "query" for local endpoints that do not
	// speak CBOR.
	CloudWatchProtocol string
	// MaxAttempts is the number of attempts per call, first try included;
	// zero keeps the SDK default (3), 1 disables retries. Must be >= 0.
	MaxAttempts int
}

// Clients are the service clients of the tuner, sharing one aws.Config.
type Clients struct {
	// Region is the Region the clients call, for budget.Config.Region.
	Region string
	// SFN is the Step Functions client.
	SFN *sfn.Client
	// CloudWatch is the CloudWatch client, speaking Options.CloudWatchProtocol.
	CloudWatch *cloudwatch.Client
	// DynamoDB is the DynamoDB client.
	DynamoDB *dynamodb.Client
	// Lambda is the Lambda client, for the reserved concurrency of the
	// functions Map Runs invoke (capacity hints).
	Lambda *lambda.Client
}

// Load resolves the AWS configuration and builds the clients. The error
// wraps ErrInvalidOptions for bad Options and names the bad field.
func Load(ctx context.Context, opt Options) (Clients, error) {
	protocol, err := cloudWatchProtocol(opt.CloudWatchProtocol)
	if err != nil {
		return Clients{}, err
	}
	if opt.MaxAttempts < 0 {
		return Clients{}, fmt.Errorf("%w: max attempts %d is negative", ErrInvalidOptions, opt.MaxAttempts)
	}
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return newRetryer(opt.MaxAttempts) }),
	}
	if opt.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opt.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return Clients{}, fmt.Errorf("awsapi: load aws config: %w", err)
	}
	if cfg.Region == "" {
		return Clients{}, fmt.Errorf("%w: no region: set AWS_REGION or Options.Region", ErrInvalidOptions)
	}
	return Clients{
		Region: cfg.Region,
		SFN:    sfn.NewFromConfig(cfg),
		CloudWatch: cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
			if protocol != nil {
				o.Protocol = protocol
			}
		}),
		DynamoDB: dynamodb.NewFromConfig(cfg),
		Lambda:   lambda.NewFromConfig(cfg),
	}, nil
}

// cloudWatchProtocol maps an Options.CloudWatchProtocol name to the client
// protocol; nil keeps the SDK default.
func cloudWatchProtocol(name string) (smithyhttp.ClientProtocol, error) {
	switch name {
	case "", CloudWatchCBOR:
		return nil, nil
	case CloudWatchJSON:
		return awsjson.New10(cwschemas.GraniteServiceVersion20100801), nil
	case CloudWatchQuery:
		return awsquery.New(cwschemas.GraniteServiceVersion20100801), nil
	default:
		return nil, fmt.Errorf("%w: cloudwatch protocol %q, want %q, %q or %q",
			ErrInvalidOptions, name, CloudWatchCBOR, CloudWatchJSON, CloudWatchQuery)
	}
}

// newRetryer returns the retryer of one client: adaptive mode, one per
// operation, with maxAttempts attempts per call (0 keeps the SDK default).
// opts apply to each operation's retryer.
func newRetryer(maxAttempts int, opts ...func(*retry.AdaptiveModeOptions)) *perOperation {
	adaptive := func() aws.RetryerV2 {
		return retry.NewAdaptiveMode(append(opts, func(o *retry.AdaptiveModeOptions) {
			if maxAttempts > 0 {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
					so.MaxAttempts = maxAttempts
				})
			}
		})...)
	}
	return &perOperation{newRetryer: adaptive, base: adaptive(), ops: map[string]aws.RetryerV2{}}
}

// perOperation is a retryer that keeps one retryer per API operation, so
// that the throttling of one operation (its rate limit, its retry quota)
// never delays another: Step Functions throttles GetExecutionHistory and
// DescribeMapRun in separate buckets.
type perOperation struct {
	newRetryer func() aws.RetryerV2
	// base answers what does not depend on the operation.
	base aws.Retryer

	mu  sync.Mutex
	ops map[string]aws.RetryerV2 // by operation name
}

var _ aws.RetryerV2 = (*perOperation)(nil)

// of returns the retryer of the operation the SDK names in ctx.
func (p *perOperation) of(ctx context.Context) aws.RetryerV2 {
	op := awsmiddleware.GetOperationName(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.ops[op]
	if !ok {
		r = p.newRetryer()
		p.ops[op] = r
	}
	return r
}

// IsErrorRetryable reports whether err is worth another attempt.
func (p *perOperation) IsErrorRetryable(err error) bool { return p.base.IsErrorRetryable(err) }

// MaxAttempts is the number of attempts per call.
func (p *perOperation) MaxAttempts() int { return p.base.MaxAttempts() }

// RetryDelay is the backoff before the next attempt.
func (p *perOperation) RetryDelay(attempt int, err error) (time.Duration, error) {
	return p.base.RetryDelay(attempt, err)
}

// GetRetryToken takes a retry from the operation's quota.
func (p *perOperation) GetRetryToken(ctx context.Context, err error) (func(error) error, error) {
	return p.of(ctx).GetRetryToken(ctx, err)
}

// GetAttemptToken waits for the operation's rate limit.
func (p *perOperation) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	return p.of(ctx).GetAttemptToken(ctx)
}

// GetInitialToken is the deprecated form of GetAttemptToken, which the SDK
// calls instead; it returns a release that does nothing.
func (p *perOperation) GetInitialToken() func(error) error {
	return func(error) error { return nil }
}
