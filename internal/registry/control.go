package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/maptuner/maptuner/internal/maprun"
)

// Source says where a Control comes from. A target has at most one
// control of each source.
type Source string

// The control sources.
const (
	// SourceOperator is a control set with the maptuner command.
	SourceOperator Source = "operator"
	// SourceTag is a control read by the tuner from the state machine's
	// maptuner:pause and maptuner:pin tags.
	SourceTag Source = "tag"
)

// MaxPin is the highest maxConcurrency a control may pin: the Step
// Functions ceiling of parallel children.
const MaxPin = 10000

// Control is an operator's hold on one Map Run, or on every run of a state
// machine: a paused run is observed but never updated; a pinned one is
// driven to Pin and held there. A pause wins over a pin.
type Control struct {
	// Target is the Map Run ARN or the state machine ARN held; required.
	Target string
	// Source is SourceOperator or SourceTag; required.
	Source Source
	// Paused is true while the target is paused.
	Paused bool
	// Pin is the maxConcurrency held; 0 when not pinned, else in [1, MaxPin].
	Pin int32
	// By names who set it (an IAM identity, a tag); empty if not known.
	By string
	// At is when it was set; required.
	At time.Time
}

// Holds reports whether c holds anything: a pause or a pin.
func (c Control) Holds() bool { return c.Paused || c.Pin > 0 }

// TargetKind is what a control's target names.
type TargetKind int

// The target kinds.
const (
	TargetRun TargetKind = iota + 1
	TargetStateMachine
)

// ParseTarget tells a Map Run ARN from a state machine ARN; any other
// string gives an error wrapping ErrInvalid that names it.
func ParseTarget(arn string) (TargetKind, error) {
	if _, err := maprun.ParseARN(arn); err == nil {
		return TargetRun, nil
	}
	// arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME
	p := strings.Split(arn, ":")
	if len(p) == 7 && p[0] == "arn" && p[2] == "states" && p[5] == "stateMachine" && p[6] != "" {
		return TargetStateMachine, nil
	}
	return 0, fmt.Errorf("%w: %q is neither a Map Run ARN (arn:PARTITION:states:REGION:ACCOUNT:mapRun:NAME/LABEL:ID) nor a state machine ARN (arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME)", ErrInvalid, arn)
}

const (
	kindControl = "control"
	pkControl   = "CTRL#"
	skControl   = "CTRL#"
)

// maxControlBy bounds Control.By, in bytes.
const maxControlBy = 2048

// controlItem is the stored form of a Control.
type controlItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Kind      string `dynamodbav:"kind"`
	Active    string `dynamodbav:"active,omitempty"`
	ExpiresAt int64  `dynamodbav:"expiresAt,omitempty"`
	Target    string `dynamodbav:"target"`
	Source    string `dynamodbav:"source"`
	Paused    bool   `dynamodbav:"paused"`
	Pin       int32  `dynamodbav:"pin,omitempty"`
	By        string `dynamodbav:"by,omitempty"`
	At        string `dynamodbav:"at"`
}

// controlKey is the primary key of the control of target from source.
func controlKey(target string, source Source) (pk, sk string) {
	return pkControl + target, skControl + string(source)
}

// checkControlKey validates the key fields of a control.
func checkControlKey(target string, source Source) error {
	if _, err := ParseTarget(target); err != nil {
		return err
	}
	if source != SourceOperator && source != SourceTag {
		return fmt.Errorf("%w: control source %q is neither %q nor %q", ErrInvalid, source, SourceOperator, SourceTag)
	}
	return nil
}

// newControlItem validates c and builds its item. A control that holds
// something is in the active index and never expires; one that holds
// nothing (a resume, an unpin) expires ttl after c.At.
func newControlItem(c Control, ttl time.Duration) (controlItem, error) {
	if err := checkControlKey(c.Target, c.Source); err != nil {
		return controlItem{}, err
	}
	switch {
	case c.Pin < 0 || c.Pin > MaxPin:
		return controlItem{}, fmt.Errorf("%w: pin %d is outside [1, %d] (0: not pinned)", ErrInvalid, c.Pin, MaxPin)
	case len(c.By) > maxControlBy:
		return controlItem{}, fmt.Errorf("%w: control author of %d bytes is longer than %d", ErrInvalid, len(c.By), maxControlBy)
	}
	if err := checkInstant("control time", c.At); err != nil {
		return controlItem{}, err
	}
	pk, sk := controlKey(c.Target, c.Source)
	it := controlItem{
		PK: pk, SK: sk, Kind: kindControl, Target: c.Target, Source: string(c.Source),
		Paused: c.Paused, Pin: c.Pin, By: c.By, At: c.At.UTC().Format(timeLayout),
	}
	if c.Holds() {
		it.Active = kindControl
	} else {
		it.ExpiresAt = expiry(c.At, ttl)
	}
	return it, nil
}

// control decodes the item.
func (it controlItem) control() (Control, error) {
	if it.Kind != kindControl {
		return Control{}, fmt.Errorf("item %s/%s: kind %q, want %q", it.PK, it.SK, it.Kind, kindControl)
	}
	if err := checkControlKey(it.Target, Source(it.Source)); err != nil {
		return Control{}, fmt.Errorf("item %s/%s: %w", it.PK, it.SK, err)
	}
	if pk, sk := controlKey(it.Target, Source(it.Source)); pk != it.PK || sk != it.SK {
		return Control{}, fmt.Errorf("item %s/%s: target %q and source %q do not match the key", it.PK, it.SK, it.Target, it.Source)
	}
	if it.Pin < 0 || it.Pin > MaxPin {
		return Control{}, fmt.Errorf("item %s/%s: pin %d is outside [0, %d]", it.PK, it.SK, it.Pin, MaxPin)
	}
	at, err := parseTime("at", it.At)
	if err != nil {
		return Control{}, fmt.Errorf("item %s/%s: %w", it.PK, it.SK, err)
	}
	if at.IsZero() {
		return Control{}, fmt.Errorf("item %s/%s: attribute at is empty", it.PK, it.SK)
	}
	return Control{Target: it.Target, Source: Source(it.Source), Paused: it.Paused, Pin: it.Pin, By: it.By, At: at}, nil
}

// controlErr wraps err as an error of op on the control of target.
func controlErr(op, target string, err error) error {
	return fmt.Errorf("registry: %s control of %s: %w", op, target, err)
}

// PutControl stores c, as DynamoDB.PutControl does.
func (m *Memory) PutControl(ctx context.Context, c Control) error {
	if err := ctx.Err(); err != nil {
		return controlErr("put", c.Target, err)
	}
	it, err := newControlItem(c, m.cfg.DecisionTTL)
	if err != nil {
		return controlErr("put", c.Target, err)
	}
	m.mu.Lock()
	old, ok := m.controls[it.PK+"\x00"+it.SK]
	m.write(opt(old, ok), it, false)
	m.controls[it.PK+"\x00"+it.SK] = it
	m.mu.Unlock()
	return nil
}

// GetControl returns the control of target from source, as
// DynamoDB.GetControl does.
func (m *Memory) GetControl(ctx context.Context, target string, source Source) (Control, error) {
	if err := ctx.Err(); err != nil {
		return Control{}, controlErr("get", target, err)
	}
	if err := checkControlKey(target, source); err != nil {
		return Control{}, controlErr("get", target, err)
	}
	pk, sk := controlKey(target, source)
	m.mu.Lock()
	it, ok := m.controls[pk+"\x00"+sk]
	m.read(opt(it, ok))
	m.mu.Unlock()
	if !ok {
		return Control{}, controlErr("get", target, ErrNotFound)
	}
	c, err := it.control()
	if err != nil {
		return Control{}, controlErr("get", target, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	return c, nil
}

// Controls returns the controls that hold something, by target then
// source, as DynamoDB.Controls does.
func (m *Memory) Controls(ctx context.Context) ([]Control, error) {
	decode := func(it controlItem) (Control, error) {
		c, err := it.control()
		if err != nil {
			return Control{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return c, nil
	}
	return listMemory(ctx, m, kindControl, "controls", m.controls, func(it controlItem) string { return it.Active }, decode, compareControls)
}

// compareControls orders controls by target, then source.
func compareControls(a, b Control) int {
	if c := strings.Compare(a.Target, b.Target); c != 0 {
		return c
	}
	return strings.Compare(string(a.Source), string(b.Source))
}

// PutControl stores c, replacing the control of its target from its
// source: the last write wins. A control that holds nothing (a resume, an
// unpin) is kept, out of the active index, for Config.DecisionTTL.
func (d *DynamoDB) PutControl(ctx context.Context, c Control) error {
	it, err := newControlItem(c, d.cfg.DecisionTTL)
	if err != nil {
		return controlErr("put", c.Target, err)
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return controlErr("put", c.Target, fmt.Errorf("encode: %w", err))
	}
	if _, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.cfg.Table), Item: item}); err != nil {
		return controlErr("put", c.Target, err)
	}
	return nil
}

// GetControl returns the control of target from source, read
// consistently, or an error wrapping ErrNotFound.
func (d *DynamoDB) GetControl(ctx context.Context, target string, source Source) (Control, error) {
	if err := checkControlKey(target, source); err != nil {
		return Control{}, controlErr("get", target, err)
	}
	pk, sk := controlKey(target, source)
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.cfg.Table),
		Key:            key(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Control{}, controlErr("get", target, err)
	}
	if len(out.Item) == 0 {
		return Control{}, controlErr("get", target, ErrNotFound)
	}
	c, err := decodeControl(out.Item)
	if err != nil {
		return Control{}, controlErr("get", target, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	return c, nil
}

// Controls returns the controls that hold something, by target then
// source. It reads the index, which may lag a write by a moment; an
// undecodable item is named in an error wrapping ErrCorrupt, returned
// with the others.
func (d *DynamoDB) Controls(ctx context.Context) ([]Control, error) {
	out, err := listActive(ctx, d, kindControl, "controls", decodeControl)
	slices.SortFunc(out, compareControls)
	return out, err
}

func decodeControl(item map[string]types.AttributeValue) (Control, error) {
	var it controlItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Control{}, fmt.Errorf("decode: %w", err)
	}
	return it.control()
}

// Governing returns, of the controls cs, the one that governs the Map Run
// runARN, and true; false when none holds it. Only the controls of the run
// and of its state machine that hold something count; a pause comes
// before a pin, then the run's own control before its state machine's,
// then the operator's before the tag's.
func Governing(runARN string, cs []Control) (Control, bool) {
	a, err := maprun.ParseARN(runARN)
	if err != nil {
		return Control{}, false
	}
	sm := a.StateMachineARN()
	rank := func(c Control) int {
		r := 0
		if !c.Paused {
			r += 4
		}
		if c.Target != runARN {
			r += 2
		}
		if c.Source != SourceOperator {
			r++
		}
		return r
	}
	var best Control
	found := false
	for _, c := range cs {
		if !c.Holds() || c.Target != runARN && c.Target != sm {
			continue
		}
		if !found || rank(c) < rank(best) {
			best, found = c, true
		}
	}
	return best, found
}
