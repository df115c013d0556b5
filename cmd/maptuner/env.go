package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/maptuner/maptuner/internal/registry"
)

// defaultStack is the stack name sam deploy uses (samconfig.toml).
const defaultStack = "maptuner"

// tableOutput is the stack output that names the registry table, and
// tableResource the table's logical id, read when the output is missing.
const (
	tableOutput   = "TableName"
	tableResource = "Table"
)

// env is what the commands work with: the registry, and the clients
// around it.
type env struct {
	cfg   aws.Config
	table string
	store *registry.DynamoDB
	sfn   *sfn.Client
}

// connect loads the AWS configuration, finds the table and checks that it
// exists.
func connect(ctx context.Context, o options) (*env, error) {
	var opts []func(*config.LoadOptions) error
	if o.region != "" {
		opts = append(opts, config.WithRegion(o.region))
	}
	if o.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: no AWS Region: pass --region or set AWS_REGION", errUsage)
	}
	if o.endpoint != "" {
		cfg.BaseEndpoint = aws.String(o.endpoint)
	}
	table := o.table
	if table == "" {
		if table, err = stackTable(ctx, cfg, cmp.Or(o.stack, defaultStack)); err != nil {
			return nil, err
		}
	}
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
		var nf *dbtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("table %q not found in %s", table, cfg.Region)
		}
		return nil, fmt.Errorf("describe table %q: %w", table, err)
	}
	store, err := registry.NewDynamoDB(db, registry.Config{Table: table})
	if err != nil {
		return nil, err
	}
	return &env{cfg: cfg, table: table, store: store, sfn: sfn.NewFromConfig(cfg)}, nil
}

// stackTable reads the registry table's name from stack: its TableName
// output, or else its Table resource.
func stackTable(ctx context.Context, cfg aws.Config, stack string) (string, error) {
	cf := cloudformation.NewFromConfig(cfg)
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist") {
			return "", fmt.Errorf("stack %q not found in %s: pass --stack NAME or --table NAME", stack, cfg.Region)
		}
		return "", fmt.Errorf("describe stack %q: %w", stack, err)
	}
	for _, s := range out.Stacks {
		for _, o := range s.Outputs {
			if aws.ToString(o.OutputKey) == tableOutput && aws.ToString(o.OutputValue) != "" {
				return aws.ToString(o.OutputValue), nil
			}
		}
	}
	res, err := cf.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{
		StackName: aws.String(stack), LogicalResourceId: aws.String(tableResource),
	})
	if err == nil {
		for _, r := range res.StackResources {
			if id := aws.ToString(r.PhysicalResourceId); id != "" {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("stack %q has neither a %s output nor a %s resource: is it a maptuner stack? pass --table NAME", stack, tableOutput, tableResource)
}

// caller names the AWS identity running the command, for the controls it
// sets.
func (e *env) caller(ctx context.Context) (string, error) {
	out, err := sts.NewFromConfig(e.cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("read the caller's identity: %w", err)
	}
	return aws.ToString(out.Arn), nil
}
