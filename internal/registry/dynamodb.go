package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoAPI is the part of the DynamoDB client that DynamoDB uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ DynamoAPI = (*dynamodb.Client)(nil)

// DynamoDB is the registry in a DynamoDB table laid out as the package doc
// describes. It is safe for concurrent use, and any number of processes
// may share one table: every write that must not race is conditional.
type DynamoDB struct {
	api DynamoAPI
	cfg Config
}

// NewDynamoDB returns a registry in table cfg.Table reached through api.
func NewDynamoDB(api DynamoAPI, cfg Config) (*DynamoDB, error) {
	if api == nil {
		return nil, fmt.Errorf("registry: %w: nil DynamoDB client", ErrInvalid)
	}
	if cfg.Table == "" {
		return nil, fmt.Errorf("registry: config: %w: empty table name", ErrInvalid)
	}
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return &DynamoDB{api: api, cfg: cfg}, nil
}

// PutExecution stores e unless that would lose information, and reports
// whether it changed what was stored. Events come at least once and out of
// order, so: writing the status already stored changes nothing; a RUNNING
// write never replaces an ended execution; an ended status replaces
// RUNNING, and replaces another ended status only when its StoppedAt is
// set and later than the stored one (a redriven execution that stopped
// again). A redrive count breaks ties first: a RUNNING write with a
// higher count than the stored one replaces it, ended or not, and an
// ended write with a lower one is dropped. An ended execution gets expiresAt, Config.EndedTTL after the
// later of its StoppedAt and UpdatedAt, one of which it must have.
func (d *DynamoDB) PutExecution(ctx context.Context, e Execution) (bool, error) {
	it, err := newExecItem(e, d.cfg.ActiveTTL, d.cfg.EndedTTL)
	if err != nil {
		return false, fmt.Errorf("registry: put execution %s: %w", e.ARN, err)
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return false, fmt.Errorf("registry: put execution %s: encode: %w", e.ARN, err)
	}
	x := newExpr()
	var cond string
	if !it.Ended {
		cond = fmt.Sprintf("attribute_not_exists(%s) OR (%s = %s AND %s <> %s)",
			x.name("pk"), x.name("ended"), x.boolean(false), x.name("status"), x.str(it.Status))
		if it.RedriveCount > 0 {
			// Redriven: it runs again, whatever was stored. Items written
			// before redrive counts were stored have none: count 0.
			redrives, n := x.name("redriveCount"), x.num(int64(it.RedriveCount))
			cond += fmt.Sprintf(" OR attribute_not_exists(%s) OR %s < %s", redrives, redrives, n)
		}
	} else {
		cond = fmt.Sprintf("attribute_not_exists(%s) OR %s = %s", x.name("pk"), x.name("ended"), x.boolean(false))
		if it.StoppedAt != "" {
			cond += fmt.Sprintf(" OR (%s <> %s AND (attribute_not_exists(%s) OR %s < %s))",
				x.name("status"), x.str(it.Status), x.name("stoppedAt"), x.name("stoppedAt"), x.str(it.StoppedAt))
		}
		// The end of an earlier attempt never ends a redriven execution.
		redrives := x.name("redriveCount")
		cond = fmt.Sprintf("(%s) AND (attribute_not_exists(%s) OR %s <= %s)", cond, redrives, redrives, x.num(int64(it.RedriveCount)))
	}
	changed, err := d.putIf(ctx, item, cond, x)
	if err != nil {
		return false, fmt.Errorf("registry: put execution %s: %w", e.ARN, err)
	}
	return changed, nil
}

// ActiveExecutions returns the executions that have not ended, by ARN. It
// reads the index, which may lag a write by a moment.
func (d *DynamoDB) ActiveExecutions(ctx context.Context) ([]Execution, error) {
	return listActive(ctx, d, kindExecution, "executions", decodeExecution)
}

// PutRun creates r if no run with its ARN is stored, and reports whether
// it did; a stored run, even an ended one, is left as it is. The new run
// has Version 0 and no lease, whatever r says. An ended r whose EndedAt is
// zero ends at its DiscoveredAt; it must have one of them.
func (d *DynamoDB) PutRun(ctx context.Context, r Run) (bool, error) {
	it, err := newRunItem(r, d.cfg.ActiveTTL, d.cfg.EndedTTL)
	if err != nil {
		return false, fmt.Errorf("registry: put run %s: %w", r.ARN, err)
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return false, fmt.Errorf("registry: put run %s: encode: %w", r.ARN, err)
	}
	x := newExpr()
	created, err := d.putIf(ctx, item, fmt.Sprintf("attribute_not_exists(%s)", x.name("pk")), x)
	if err != nil {
		return false, fmt.Errorf("registry: put run %s: %w", r.ARN, err)
	}
	return created, nil
}

// GetRun returns the run arn, read consistently, or an error wrapping
// ErrNotFound.
func (d *DynamoDB) GetRun(ctx context.Context, arn string) (Run, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.cfg.Table),
		Key:            key(pkRun+arn, skRun),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Run{}, fmt.Errorf("registry: get run %s: %w", arn, err)
	}
	if len(out.Item) == 0 {
		return Run{}, fmt.Errorf("registry: get run %s: %w", arn, ErrNotFound)
	}
	r, err := decodeRun(out.Item)
	if err != nil {
		return Run{}, fmt.Errorf("registry: get run %s: %w: %w", arn, ErrCorrupt, err)
	}
	return r, nil
}

// ActiveRuns returns the runs that have not ended, by ARN: the index
// lists them, which may lag a write by a moment, then each is read
// consistently (GetRun). A run that ended or went meanwhile is left out.
func (d *DynamoDB) ActiveRuns(ctx context.Context) ([]Run, error) {
	heads, err := d.ActiveRunHeads(ctx)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return nil, err
	}
	out := make([]Run, 0, len(heads))
	bad := []error{err}
	for _, h := range heads {
		r, err := d.GetRun(ctx, h.ARN)
		switch {
		case errors.Is(err, ErrCorrupt):
			bad = append(bad, err)
			continue
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("registry: list active runs: %w", err)
		}
		if !r.Ended {
			out = append(out, r)
		}
	}
	if err := errors.Join(bad...); err != nil {
		return out, fmt.Errorf("registry: list active runs: %w", err)
	}
	return out, nil
}

// ActiveRunHeads returns the runs that have not ended, by ARN, as the
// index lists them (it may lag a write by a moment): every field but
// State and LastDecision, which are zero. Reading a run's state takes a
// GetRun.
func (d *DynamoDB) ActiveRunHeads(ctx context.Context) ([]Run, error) {
	return listActive(ctx, d, kindRun, "runs", decodeHead)
}

// Claim takes the lease on run arn for owner until now+ttl, and returns the
// run as stored with the lease. It succeeds when the run is not leased,
// its lease expired (LeaseUntil <= now), or owner already holds it (the
// lease is then extended). Otherwise the error wraps ErrLeased; for a run
// not stored it wraps ErrNotFound; for an ended run it wraps both ErrEnded
// and ErrNotFound: ended runs cannot be claimed.
func (d *DynamoDB) Claim(ctx context.Context, arn, owner string, now time.Time, ttl time.Duration) (Run, error) {
	if err := checkClaim(arn, owner, now, ttl); err != nil {
		return Run{}, fmt.Errorf("registry: claim run %s: %w", arn, err)
	}
	x := newExpr()
	leaseOwner, leaseUntil, vOwner := x.name("leaseOwner"), x.name("leaseUntil"), x.str(owner)
	out, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(d.cfg.Table),
		Key:       key(pkRun+arn, skRun),
		UpdateExpression: aws.String(fmt.Sprintf("SET %s = %s, %s = %s",
			leaseOwner, vOwner, leaseUntil, x.str(now.Add(ttl).UTC().Format(timeLayout)))),
		ConditionExpression: aws.String(fmt.Sprintf(
			"attribute_exists(%s) AND %s = %s AND (attribute_not_exists(%s) OR %s <= %s OR %s = %s)",
			x.name("pk"), x.name("ended"), x.boolean(false),
			leaseOwner, leaseUntil, x.str(now.UTC().Format(timeLayout)), leaseOwner, vOwner)),
		ExpressionAttributeNames:            x.names,
		ExpressionAttributeValues:           x.values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := conditionFailed(err); failed {
		if len(old) == 0 {
			return Run{}, fmt.Errorf("registry: claim run %s: %w", arn, ErrNotFound)
		}
		var it runItem
		if err := attributevalue.UnmarshalMap(old, &it); err != nil {
			return Run{}, fmt.Errorf("registry: claim run %s: %w: %w", arn, ErrCorrupt, err)
		}
		return Run{}, fmt.Errorf("registry: claim run %s: %w", arn, claimError(it))
	}
	if err != nil {
		return Run{}, fmt.Errorf("registry: claim run %s: %w", arn, err)
	}
	r, err := decodeRun(out.Attributes)
	if err != nil {
		return Run{}, fmt.Errorf("registry: claim run %s: %w: %w", arn, ErrCorrupt, err)
	}
	return r, nil
}

// Save writes r.State, r.LastDecision, r.Failures and, when r.Ended, the
// end of the run (EndedAt, now if zero; EndReason; expiresAt,
// Config.EndedTTL after), then increments the version and releases the
// lease. A run that goes on gets expiresAt Config.ActiveTTL after now. It
// writes only if owner holds the lease (LeaseUntil > now), r.Version is the
// stored version and the run has not ended; otherwise it writes nothing and
// the error wraps ErrConflict, or ErrNotFound for a run not stored.
func (d *DynamoDB) Save(ctx context.Context, r Run, owner string, now time.Time) error {
	_, err := d.save(ctx, r, owner, now, writeSave, 0)
	return err
}

// Checkpoint writes what Save writes, under the same condition, but keeps
// the lease, and returns the run as stored: r with the next version. The
// owner records there what it is about to do, so that a later Save lost
// does not lose it.
func (d *DynamoDB) Checkpoint(ctx context.Context, r Run, owner string, now time.Time) (Run, error) {
	return d.save(ctx, r, owner, now, writeCheckpoint, 0)
}

// Hold writes what Save writes and takes the lease for owner until
// now+ttl, in one conditional write, and returns the run as stored: r
// with the next version and the lease. It writes only if the run has not
// ended, r.Version is the stored version and no one else holds an
// unexpired lease; otherwise it writes nothing and the error wraps
// ErrLeased (another owner holds the lease), ErrConflict (the version
// moved or the run ended) or ErrNotFound. A tuner decides on the run as
// it read it, then holds it to record the update it is about to send:
// the version proves no one wrote since it read.
func (d *DynamoDB) Hold(ctx context.Context, r Run, owner string, now time.Time, ttl time.Duration) (Run, error) {
	return d.save(ctx, r, owner, now, writeHold, ttl)
}

// Record writes what Save writes, under the condition of Hold, releases
// any lease and returns the run as stored: r with the next version. It
// saves a decision made on the run as read (version r.Version) without a
// lease taken before: the write fails if anyone wrote since.
func (d *DynamoDB) Record(ctx context.Context, r Run, owner string, now time.Time) (Run, error) {
	return d.save(ctx, r, owner, now, writeRecord, 0)
}

// save writes r by w; ttl is the lease length of a hold.
func (d *DynamoDB) save(ctx context.Context, r Run, owner string, now time.Time, w write, ttl time.Duration) (Run, error) {
	op := w.String()
	if err := checkSave(r, owner, now, w, ttl); err != nil {
		return Run{}, fmt.Errorf("registry: %s run %s: %w", op, r.ARN, err)
	}
	u, err := newRunUpdate(r, now, d.cfg.ActiveTTL, d.cfg.EndedTTL)
	if err != nil {
		return Run{}, fmt.Errorf("registry: %s run %s: %w", op, r.ARN, err)
	}
	x := newExpr()
	ended, leaseOwner, leaseUntil, version := x.name("ended"), x.name("leaseOwner"), x.name("leaseUntil"), x.name("version")
	nowS, vOwner := x.str(now.UTC().Format(timeLayout)), x.str(owner)
	var cond string
	if w.leased() {
		cond = fmt.Sprintf("%s = %s AND %s = %s AND %s > %s AND %s = %s",
			ended, x.boolean(false), leaseOwner, vOwner, leaseUntil, nowS, version, x.num(r.Version))
	} else {
		cond = fmt.Sprintf("%s = %s AND %s = %s AND (attribute_not_exists(%s) OR %s <= %s OR %s = %s)",
			ended, x.boolean(false), version, x.num(r.Version), leaseOwner, leaseUntil, nowS, leaseOwner, vOwner)
	}
	id := newWriteID()
	set := []string{
		x.name("state") + " = " + x.str(u.State),
		version + " = " + x.num(r.Version+1),
		id.set(x),
	}
	var remove []string
	switch w {
	case writeCheckpoint:
	case writeHold:
		set = append(set, leaseOwner+" = "+vOwner, leaseUntil+" = "+x.str(now.Add(ttl).UTC().Format(timeLayout)))
	default:
		remove = append(remove, leaseOwner, leaseUntil)
	}
	if u.Failures != 0 {
		set = append(set, x.name("failures")+" = "+x.num(u.Failures))
	} else {
		remove = append(remove, x.name("failures"))
	}
	if u.LastDecision != "" {
		set = append(set, x.name("lastDecision")+" = "+x.str(u.LastDecision))
	} else {
		remove = append(remove, x.name("lastDecision"))
	}
	if u.Ended {
		s, rm := x.end(u)
		set, remove = append(set, s...), append(remove, rm...)
	} else {
		// Runs stored before the index was sharded move to their shard.
		set = append(set, x.name("active")+" = "+x.str(runShard(r.ARN)))
		if u.ExpiresAt != 0 {
			set = append(set, x.name(TTLAttribute)+" = "+x.num(u.ExpiresAt))
		}
	}
	_, err = d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(d.cfg.Table),
		Key:                                 key(pkRun+r.ARN, skRun),
		UpdateExpression:                    aws.String(update(set, remove)),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            x.names,
		ExpressionAttributeValues:           x.values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	old, failed, err := id.outcome(err)
	if failed {
		if len(old) == 0 {
			return Run{}, fmt.Errorf("registry: %s run %s: %w", op, r.ARN, ErrNotFound)
		}
		var it runItem
		if err := attributevalue.UnmarshalMap(old, &it); err != nil {
			return Run{}, fmt.Errorf("registry: %s run %s: %w: %w", op, r.ARN, ErrCorrupt, err)
		}
		return Run{}, fmt.Errorf("registry: %s run %s: %w", op, r.ARN,
			writeConflict(it, w, owner, now.UTC().Format(timeLayout), r.Version))
	}
	if err != nil {
		return Run{}, fmt.Errorf("registry: %s run %s: %w", op, r.ARN, err)
	}
	r.Version++
	switch w {
	case writeCheckpoint:
	case writeHold:
		r.LeaseOwner, r.LeaseUntil = owner, now.Add(ttl)
	default:
		r.LeaseOwner, r.LeaseUntil = "", time.Time{}
	}
	return r, nil
}

// EndRun marks run arn ended at instant at for reason, sets its expiresAt
// Config.EndedTTL after, and increments its version, so that a Save
// prepared before it loses with ErrConflict. A run already ended is left
// as it is and the call succeeds; a run not stored gives ErrNotFound.
func (d *DynamoDB) EndRun(ctx context.Context, arn, reason string, at time.Time) error {
	u, err := newEndUpdate(arn, reason, at, d.cfg.EndedTTL)
	if err != nil {
		return fmt.Errorf("registry: end run %s: %w", arn, err)
	}
	x := newExpr()
	version := x.name("version")
	set, remove := x.end(u)
	set = append(set, fmt.Sprintf("%s = %s + %s", version, version, x.num(1)))
	_, err = d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(d.cfg.Table),
		Key:              key(pkRun+arn, skRun),
		UpdateExpression: aws.String(update(set, remove)),
		ConditionExpression: aws.String(fmt.Sprintf("attribute_exists(%s) AND %s = %s",
			x.name("pk"), x.name("ended"), x.boolean(false))),
		ExpressionAttributeNames:            x.names,
		ExpressionAttributeValues:           x.values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := conditionFailed(err); failed {
		if len(old) == 0 {
			return fmt.Errorf("registry: end run %s: %w", arn, ErrNotFound)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry: end run %s: %w", arn, err)
	}
	return nil
}

// PutStateMachine caches sm, replacing any entry for its ARN; the item
// expires Config.TagCacheTTL after sm.CheckedAt.
func (d *DynamoDB) PutStateMachine(ctx context.Context, sm StateMachine) error {
	it, err := newSMItem(sm, d.cfg.TagCacheTTL, d.cfg.StateMachineTTL)
	if err != nil {
		return fmt.Errorf("registry: put state machine %s: %w", sm.ARN, err)
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("registry: put state machine %s: encode: %w", sm.ARN, err)
	}
	if _, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.cfg.Table), Item: item}); err != nil {
		return fmt.Errorf("registry: put state machine %s: %w", sm.ARN, err)
	}
	return nil
}

// GetStateMachine returns the cached entry for arn if it is fresh at now
// (less than Config.TagCacheTTL old), or an error wrapping ErrNotFound.
func (d *DynamoDB) GetStateMachine(ctx context.Context, arn string, now time.Time) (StateMachine, error) {
	if err := checkInstant("now", now); err != nil {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: %w", arn, err)
	}
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.cfg.Table),
		Key:            key(pkStateMachine+arn, skStateMachine),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: %w", arn, err)
	}
	if len(out.Item) == 0 {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: %w", arn, ErrNotFound)
	}
	var it smItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: decode: %w", arn, err)
	}
	sm, fresh, err := it.stateMachine(now, d.cfg.TagCacheTTL)
	if err != nil {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: %w", arn, err)
	}
	if !fresh {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: %w", arn, staleEntry(sm, d.cfg.TagCacheTTL))
	}
	return sm, nil
}

// active returns every item of kind in the active index, by pk: the
// partition keys of the kind (activeKeys) are queried in parallel, each
// paginated fully.
func (d *DynamoDB) active(ctx context.Context, kind string) ([]map[string]types.AttributeValue, error) {
	keys := activeKeys(kind)
	parts := make([][]map[string]types.AttributeValue, len(keys))
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() { parts[i], errs[i] = d.activeKey(ctx, k) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	items := slices.Concat(parts...)
	if len(parts) > 1 {
		slices.SortFunc(items, func(a, b map[string]types.AttributeValue) int { return strings.Compare(describeKey(a), describeKey(b)) })
	}
	return items, nil
}

// activeKey returns every item under the active index partition key k.
func (d *DynamoDB) activeKey(ctx context.Context, k string) ([]map[string]types.AttributeValue, error) {
	x := newExpr()
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(d.cfg.Table),
		IndexName:                 aws.String(ActiveIndex),
		KeyConditionExpression:    aws.String(x.name("active") + " = " + x.str(k)),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
	}
	var items []map[string]types.AttributeValue
	for {
		page, err := d.api.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		if len(page.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// listActive reads the active items of kind and decodes every one it can;
// the error, wrapping ErrCorrupt, names the items it could not.
func listActive[T any](ctx context.Context, d *DynamoDB, kind, what string, decode func(map[string]types.AttributeValue) (T, error)) ([]T, error) {
	items, err := d.active(ctx, kind)
	if err != nil {
		return nil, fmt.Errorf("registry: list active %s: %w", what, err)
	}
	out := make([]T, 0, len(items))
	var bad []error
	for _, item := range items {
		v, err := decode(item)
		if err != nil {
			bad = append(bad, fmt.Errorf("item %s: %w", describeKey(item), err))
			continue
		}
		out = append(out, v)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("registry: list active %s: %w: %w", what, ErrCorrupt, errors.Join(bad...))
	}
	return out, nil
}
