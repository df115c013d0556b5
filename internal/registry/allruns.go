package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ScanAPI is the DynamoDB Scan call, which AllRuns needs beyond DynamoAPI.
// The SDK's client has it.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ ScanAPI = (*dynamodb.Client)(nil)

// AllRuns returns every run stored, ended or not, by ARN, as
// DynamoDB.AllRuns does.
func (m *Memory) AllRuns(ctx context.Context) ([]Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("registry: list all runs: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Run, 0, len(m.runs))
	for _, it := range m.runs {
		r, err := it.run()
		if err != nil {
			return nil, fmt.Errorf("registry: list all runs: %w: %w", ErrCorrupt, err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Run) int { return strings.Compare(a.ARN, b.ARN) })
	return out, nil
}

// AllRuns returns every run stored, ended or not (an ended run is kept
// Config.EndedTTL), by ARN. It scans the whole table: it is for an
// operator's look, not for every tick. The DynamoDB client must have
// Scan (ScanAPI); an undecodable item is named in an error wrapping
// ErrCorrupt, returned with the others.
func (d *DynamoDB) AllRuns(ctx context.Context) ([]Run, error) {
	api, ok := d.api.(ScanAPI)
	if !ok {
		return nil, fmt.Errorf("registry: list all runs: %w: the DynamoDB client has no Scan", ErrInvalid)
	}
	x := newExpr()
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(d.cfg.Table),
		FilterExpression:          aws.String(x.name("sk") + " = " + x.str(skRun)),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
		ConsistentRead:            aws.Bool(true),
	}
	var out []Run
	var bad []error
	for {
		page, err := api.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("registry: list all runs: %w", err)
		}
		for _, item := range page.Items {
			r, err := decodeRun(item)
			if err != nil {
				bad = append(bad, fmt.Errorf("item %s: %w", describeKey(item), err))
				continue
			}
			out = append(out, r)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	slices.SortFunc(out, func(a, b Run) int { return strings.Compare(a.ARN, b.ARN) })
	if len(bad) > 0 {
		return out, fmt.Errorf("registry: list all runs: %w: %w", ErrCorrupt, errors.Join(bad...))
	}
	return out, nil
}
