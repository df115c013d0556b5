package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Learned is what a run learned about the capacity its children meet,
// kept for the next run of the same state machine, Map label and policy:
// the memory across runs.
type Learned struct {
	// StateMachineARN, Label and Policy key the item: the parent state
	// machine (not the labelled ARN), the Map state's label and the policy
	// name; all required.
	StateMachineARN string
	Label           string
	Policy          string
	// Limit is the maxConcurrency the run converged to, or the highest
	// limit it held clean for long enough; in [1, 10000].
	Limit int32
	// ItemTime is how long a child held its place when nothing throttled;
	// zero when not measured. Kept to the millisecond.
	ItemTime time.Duration
	// At is when it was learned; required. A write only replaces an item
	// learned at an earlier instant.
	At time.Time
	// RunARN is the Map Run it was learned from; empty if not known.
	RunARN string
}

// DefaultLearnedTTL is the default of Config.LearnedTTL.
const DefaultLearnedTTL = 30 * 24 * time.Hour

// maxLearnedString bounds each string of a learned item, in bytes, and so
// the item's size: 2,048 is the longest ARN the Step Functions API takes.
const maxLearnedString = 2048

const (
	kindLearned = "learned"
	pkLearned   = "LEARN#"
	skLearned   = "LEARN#"
)

// learnedItem is the stored form of a Learned.
type learnedItem struct {
	PK              string `dynamodbav:"pk"`
	SK              string `dynamodbav:"sk"`
	Kind            string `dynamodbav:"kind"`
	ExpiresAt       int64  `dynamodbav:"expiresAt"`
	StateMachineARN string `dynamodbav:"stateMachineArn"`
	Label           string `dynamodbav:"label"`
	Policy          string `dynamodbav:"policy"`
	Limit           int32  `dynamodbav:"limit"`
	ItemTimeMillis  int64  `dynamodbav:"itemTimeMs,omitempty"`
	LearnedAt       string `dynamodbav:"learnedAt"`
	RunARN          string `dynamodbav:"runArn,omitempty"`
}

// learnedKey is the primary key of the learned item of a state machine,
// label and policy. A state machine name holds no "/", so the labelled
// ARN names one pair.
func learnedKey(sm, label, policy string) (pk, sk string) {
	return pkLearned + sm + "/" + label, skLearned + policy
}

// checkLearnedKey validates the key fields of a learned item.
func checkLearnedKey(sm, label, policy string) error {
	for _, f := range []struct{ name, v string }{{"state machine arn", sm}, {"label", label}, {"policy", policy}} {
		switch {
		case f.v == "":
			return fmt.Errorf("%w: empty %s", ErrInvalid, f.name)
		case len(f.v) > maxLearnedString:
			return fmt.Errorf("%w: %s of %d bytes is longer than %d", ErrInvalid, f.name, len(f.v), maxLearnedString)
		}
	}
	return nil
}

// newLearnedItem validates l and builds its item, expiring ttl after l.At.
func newLearnedItem(l Learned, ttl time.Duration) (learnedItem, error) {
	if err := checkLearnedKey(l.StateMachineARN, l.Label, l.Policy); err != nil {
		return learnedItem{}, err
	}
	switch {
	case l.Limit < 1 || l.Limit > 10000:
		return learnedItem{}, fmt.Errorf("%w: learned limit %d is outside [1, 10000]", ErrInvalid, l.Limit)
	case l.ItemTime < 0:
		return learnedItem{}, fmt.Errorf("%w: item time %s is negative", ErrInvalid, l.ItemTime)
	case len(l.RunARN) > maxLearnedString:
		return learnedItem{}, fmt.Errorf("%w: run arn of %d bytes is longer than %d", ErrInvalid, len(l.RunARN), maxLearnedString)
	}
	if err := checkInstant("learned time", l.At); err != nil {
		return learnedItem{}, err
	}
	pk, sk := learnedKey(l.StateMachineARN, l.Label, l.Policy)
	return learnedItem{
		PK: pk, SK: sk, Kind: kindLearned, ExpiresAt: expiry(l.At, ttl),
		StateMachineARN: l.StateMachineARN, Label: l.Label, Policy: l.Policy,
		Limit: l.Limit, ItemTimeMillis: l.ItemTime.Milliseconds(),
		LearnedAt: l.At.UTC().Format(timeLayout), RunARN: l.RunARN,
	}, nil
}

// learned decodes the item.
func (it learnedItem) learned() (Learned, error) {
	if it.Kind != kindLearned {
		return Learned{}, fmt.Errorf("item %s/%s: kind %q, want %q", it.PK, it.SK, it.Kind, kindLearned)
	}
	if it.Limit < 1 || it.Limit > 10000 || it.ItemTimeMillis < 0 {
		return Learned{}, fmt.Errorf("item %s/%s: limit %d or item time %d ms out of range", it.PK, it.SK, it.Limit, it.ItemTimeMillis)
	}
	at, err := parseTime("learnedAt", it.LearnedAt)
	if err != nil {
		return Learned{}, fmt.Errorf("item %s/%s: %w", it.PK, it.SK, err)
	}
	if at.IsZero() {
		return Learned{}, fmt.Errorf("item %s/%s: attribute learnedAt is empty", it.PK, it.SK)
	}
	return Learned{
		StateMachineARN: it.StateMachineARN, Label: it.Label, Policy: it.Policy,
		Limit: it.Limit, ItemTime: time.Duration(it.ItemTimeMillis) * time.Millisecond, At: at, RunARN: it.RunARN,
	}, nil
}

// PutLearned stores l, as DynamoDB.PutLearned does, and reports whether it did.
func (m *Memory) PutLearned(ctx context.Context, l Learned) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("registry: put learned %s/%s: %w", l.StateMachineARN, l.Label, err)
	}
	it, err := newLearnedItem(l, m.cfg.LearnedTTL)
	if err != nil {
		return false, fmt.Errorf("registry: put learned %s/%s: %w", l.StateMachineARN, l.Label, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := it.PK + "\x00" + it.SK
	old, ok := m.learned[k]
	if ok && old.LearnedAt >= it.LearnedAt {
		m.write(old, nil, true)
		return false, nil
	}
	m.write(opt(old, ok), it, true)
	m.learned[k] = it
	return true, nil
}

// GetLearned returns what was learned for the state machine sm, Map label
// and policy, as DynamoDB.GetLearned does.
func (m *Memory) GetLearned(ctx context.Context, sm, label, policy string) (Learned, error) {
	if err := ctx.Err(); err != nil {
		return Learned{}, fmt.Errorf("registry: get learned %s/%s: %w", sm, label, err)
	}
	if err := checkLearnedKey(sm, label, policy); err != nil {
		return Learned{}, fmt.Errorf("registry: get learned %s/%s: %w", sm, label, err)
	}
	pk, sk := learnedKey(sm, label, policy)
	m.mu.Lock()
	it, ok := m.learned[pk+"\x00"+sk]
	m.read(opt(it, ok))
	m.mu.Unlock()
	if !ok {
		return Learned{}, fmt.Errorf("registry: get learned %s/%s: %w", sm, label, ErrNotFound)
	}
	l, err := it.learned()
	if err != nil {
		return Learned{}, fmt.Errorf("registry: get learned %s/%s: %w: %w", sm, label, ErrCorrupt, err)
	}
	return l, nil
}

// PutLearned stores l unless an item learned at the same or a later
// instant is stored (two runs of one job may end together: the later
// learning wins, whichever writes last), and reports whether it wrote.
// The item expires Config.LearnedTTL after l.At.
func (d *DynamoDB) PutLearned(ctx context.Context, l Learned) (bool, error) {
	it, err := newLearnedItem(l, d.cfg.LearnedTTL)
	if err != nil {
		return false, fmt.Errorf("registry: put learned %s/%s: %w", l.StateMachineARN, l.Label, err)
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return false, fmt.Errorf("registry: put learned %s/%s: encode: %w", l.StateMachineARN, l.Label, err)
	}
	x := newExpr()
	at := x.name("learnedAt")
	wrote, err := d.putIf(ctx, item, fmt.Sprintf("attribute_not_exists(%s) OR %s < %s", x.name("pk"), at, x.str(it.LearnedAt)), x)
	if err != nil {
		return false, fmt.Errorf("registry: put learned %s/%s: %w", l.StateMachineARN, l.Label, err)
	}
	return wrote, nil
}

// GetLearned returns what was learned for the state machine sm, Map label
// and policy, read consistently, or an error wrapping ErrNotFound. An item
// past its expiry that DynamoDB has not deleted yet is still returned:
// the caller judges its age by Learned.At.
func (d *DynamoDB) GetLearned(ctx context.Context, sm, label, policy string) (Learned, error) {
	if err := checkLearnedKey(sm, label, policy); err != nil {
		return Learned{}, fmt.Errorf("registry: get learned %s/%s: %w", sm, label, err)
	}
	pk, sk := learnedKey(sm, label, policy)
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.cfg.Table),
		Key:            key(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Learned{}, fmt.Errorf("registry: get learned %s/%s: %w", sm, label, err)
	}
	if len(out.Item) == 0 {
		return Learned{}, fmt.Errorf("registry: get learned %s/%s: %w", sm, label, ErrNotFound)
	}
	var it learnedItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return Learned{}, fmt.Errorf("registry: get learned %s/%s: %w: decode: %w", sm, label, ErrCorrupt, err)
	}
	l, err := it.learned()
	if err != nil {
		return Learned{}, fmt.Errorf("registry: get learned %s/%s: %w: %w", sm, label, ErrCorrupt, err)
	}
	return l, nil
}
