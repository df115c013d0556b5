package registry

// This file holds the decision log of a run in DynamoDB: its items, and the
// calls that append to it and read it.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/maptuner/maptuner/internal/control"
)

// AppendDecision logs d for run arn at instant at, living Config.DecisionTTL.
// The log keeps every decision: when the instant is already taken, the
// next free nanosecond is used, up to a few, after which the error wraps
// ErrConflict. The run need not be stored.
func (d *DynamoDB) AppendDecision(ctx context.Context, arn string, at time.Time, dec control.Decision) error {
	for i := range maxDecisionAttempts {
		it, err := newDecisionItem(arn, at.Add(time.Duration(i)), dec, d.cfg.DecisionTTL)
		if err != nil {
			return fmt.Errorf("registry: append decision run %s: %w", arn, err)
		}
		item, err := attributevalue.MarshalMap(it)
		if err != nil {
			return fmt.Errorf("registry: append decision run %s: encode: %w", arn, err)
		}
		x := newExpr()
		logged, err := d.putIf(ctx, item, fmt.Sprintf("attribute_not_exists(%s)", x.name("pk")), x)
		switch {
		case err != nil:
			return fmt.Errorf("registry: append decision run %s: %w", arn, err)
		case !logged:
			continue // the instant is taken: the next nanosecond
		}
		return nil
	}
	return fmt.Errorf("registry: append decision run %s: %w", arn, decisionsFull(at))
}

// Decisions returns up to limit decisions of run arn, newest first; all of
// them when limit <= 0. Decision.State is zero in each (it is not logged).
func (d *DynamoDB) Decisions(ctx context.Context, arn string, limit int) ([]control.Decision, error) {
	return decisionsOnly(d.DecisionLog(ctx, arn, limit))
}

// DecisionLog returns what Decisions does, with the instant each decision
// was logged at.
func (d *DynamoDB) DecisionLog(ctx context.Context, arn string, limit int) ([]Logged, error) {
	x := newExpr()
	in := &dynamodb.QueryInput{
		TableName: aws.String(d.cfg.Table),
		KeyConditionExpression: aws.String(fmt.Sprintf("%s = %s AND begins_with(%s, %s)",
			x.name("pk"), x.str(pkRun+arn), x.name("sk"), x.str(skDecision))),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
		ScanIndexForward:          aws.Bool(false),
		ConsistentRead:            aws.Bool(true),
	}
	var out []Logged
	for {
		if limit > 0 {
			in.Limit = aws.Int32(int32(min(limit-len(out), 1000)))
		}
		page, err := d.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("registry: list decisions run %s: %w", arn, err)
		}
		for _, item := range page.Items {
			var it decisionItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, fmt.Errorf("registry: list decisions run %s: decode: %w", arn, err)
			}
			l, err := it.logged()
			if err != nil {
				return nil, fmt.Errorf("registry: list decisions run %s: %w", arn, err)
			}
			out = append(out, l)
		}
		if len(page.LastEvaluatedKey) == 0 || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// decisionItem is the stored form of one decision-log entry.
type decisionItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Kind      string `dynamodbav:"kind"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
	At        string `dynamodbav:"at"`
	Decision  string `dynamodbav:"decision"`
}

// newDecisionItem validates its arguments and builds the log item of d for
// run arn at instant at, living for ttl.
func newDecisionItem(arn string, at time.Time, d control.Decision, ttl time.Duration) (decisionItem, error) {
	if arn == "" {
		return decisionItem{}, fmt.Errorf("%w: empty run arn", ErrInvalid)
	}
	if err := checkInstant("decision time", at); err != nil {
		return decisionItem{}, err
	}
	b, err := json.Marshal(d)
	if err != nil {
		return decisionItem{}, fmt.Errorf("%w: encode decision: %w", ErrInvalid, err)
	}
	it := decisionItem{PK: pkRun + arn, Kind: kindDecision, Decision: string(b)}
	it.setAt(at, ttl)
	return it, nil
}

// setAt keys the item at instant at, which checkInstant accepted.
func (it *decisionItem) setAt(at time.Time, ttl time.Duration) {
	it.At = at.UTC().Format(timeLayout)
	it.SK = skDecision + it.At
	it.ExpiresAt = expiry(at, ttl)
}

// decision decodes the item.
func (it decisionItem) decision() (control.Decision, error) {
	if it.Kind != kindDecision {
		return control.Decision{}, fmt.Errorf("item %s/%s: kind %q, want %q", it.PK, it.SK, it.Kind, kindDecision)
	}
	var d control.Decision
	if err := json.Unmarshal([]byte(it.Decision), &d); err != nil {
		return control.Decision{}, fmt.Errorf("item %s/%s: attribute decision: %w", it.PK, it.SK, err)
	}
	return d, nil
}

// Logged is a decision of the log, and the instant it was logged at.
type Logged struct {
	At       time.Time        `json:"at"`
	Decision control.Decision `json:"decision"`
}

// logged decodes the item with its instant.
func (it decisionItem) logged() (Logged, error) {
	d, err := it.decision()
	if err != nil {
		return Logged{}, err
	}
	at, err := parseTime("at", it.At)
	if err != nil {
		return Logged{}, fmt.Errorf("item %s/%s: %w", it.PK, it.SK, err)
	}
	return Logged{At: at, Decision: d}, nil
}

// decisionsOnly drops the instants of a decision log.
func decisionsOnly(log []Logged, err error) ([]control.Decision, error) {
	if err != nil {
		return nil, err
	}
	out := make([]control.Decision, len(log))
	for i, l := range log {
		out[i] = l.Decision
	}
	return out, nil
}

// decisionsFull is the error of AppendDecision when every instant it tried
// from at was taken.
func decisionsFull(at time.Time) error {
	return fmt.Errorf("%w: %d decisions already logged in the nanoseconds from %s", ErrConflict, maxDecisionAttempts, at.UTC().Format(timeLayout))
}
