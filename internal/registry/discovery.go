package registry

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// checkScan validates the redrive count and history position of an
// execution; Scan.At is checked where it is formatted.
func checkScan(redrives int32, s Scan) error {
	switch {
	case redrives < 0:
		return fmt.Errorf("%w: redrive count %d is negative", ErrInvalid, redrives)
	case s.EventID < 0:
		return fmt.Errorf("%w: history event id %d is negative", ErrInvalid, s.EventID)
	}
	return nil
}

// newScanUpdate validates the arguments of RecordScan.
func newScanUpdate(arn string, s Scan, activeTTL time.Duration) (execItem, error) {
	if arn == "" {
		return execItem{}, fmt.Errorf("%w: empty execution arn", ErrInvalid)
	}
	if err := checkScan(0, s); err != nil {
		return execItem{}, err
	}
	if err := checkInstant("Scan.At", s.At); err != nil {
		return execItem{}, err
	}
	return execItem{HistoryEventID: s.EventID, HistoryToken: s.Token, ScannedAt: s.At.UTC().Format(timeLayout), ExpiresAt: expiry(s.At, activeTTL)}, nil
}

// RecordScan stores how far the history of the watched execution arn has
// been read (s; s.At is required). An execution not stored, or ended, gives
// an error wrapping ErrNotFound: its history need not be read any more.
func (m *Memory) RecordScan(ctx context.Context, arn string, s Scan) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registry: record scan of %s: %w", arn, err)
	}
	u, err := newScanUpdate(arn, s, m.cfg.ActiveTTL)
	if err != nil {
		return fmt.Errorf("registry: record scan of %s: %w", arn, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.execs[arn]
	if !ok || it.Ended {
		m.write(opt(it, ok), nil, true)
		return fmt.Errorf("registry: record scan of %s: %w: no watched execution", arn, ErrNotFound)
	}
	old := it
	it.HistoryEventID, it.HistoryToken, it.ScannedAt, it.ExpiresAt = u.HistoryEventID, u.HistoryToken, u.ScannedAt, u.ExpiresAt
	m.write(old, it, true)
	m.execs[arn] = it
	return nil
}

// StateMachines returns the opted-in state machines remembered (see
// StateMachine.SeenAt), fresh or not, by ARN.
func (m *Memory) StateMachines(ctx context.Context) ([]StateMachine, error) {
	return listMemory(ctx, m, kindStateMachine, "state machines", m.sms, func(it smItem) string { return it.Active },
		decodeSM, func(a, b StateMachine) int { return strings.Compare(a.ARN, b.ARN) })
}

// RecordListing stores that the running executions of state machine arn
// were listed at instant at. A state machine not stored gives an error
// wrapping ErrNotFound.
func (m *Memory) RecordListing(ctx context.Context, arn string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registry: record listing of %s: %w", arn, err)
	}
	if err := checkInstant("listing time", at); err != nil {
		return fmt.Errorf("registry: record listing of %s: %w", arn, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.sms[arn]
	if !ok {
		m.write(nil, nil, true)
		return fmt.Errorf("registry: record listing of %s: %w", arn, ErrNotFound)
	}
	old := it
	it.ListedAt = at.UTC().Format(timeLayout)
	m.write(old, it, true)
	m.sms[arn] = it
	return nil
}

// RecordScan stores how far the history of the watched execution arn has
// been read (s; s.At is required), with one conditional UpdateItem. An
// execution not stored, or ended, gives an error wrapping ErrNotFound: its
// history need not be read any more.
func (d *DynamoDB) RecordScan(ctx context.Context, arn string, s Scan) error {
	u, err := newScanUpdate(arn, s, d.cfg.ActiveTTL)
	if err != nil {
		return fmt.Errorf("registry: record scan of %s: %w", arn, err)
	}
	x := newExpr()
	set := []string{
		x.name("historyEventId") + " = " + x.num(u.HistoryEventID),
		x.name("scannedAt") + " = " + x.str(u.ScannedAt),
		x.name(TTLAttribute) + " = " + x.num(u.ExpiresAt),
	}
	var remove []string
	if u.HistoryToken != "" {
		set = append(set, x.name("historyToken")+" = "+x.str(u.HistoryToken))
	} else {
		remove = append(remove, x.name("historyToken"))
	}
	_, err = d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(d.cfg.Table),
		Key:              key(pkExecution+arn, skExecution),
		UpdateExpression: aws.String(update(set, remove)),
		ConditionExpression: aws.String(fmt.Sprintf("attribute_exists(%s) AND %s = %s",
			x.name("pk"), x.name("ended"), x.boolean(false))),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
	})
	if _, failed := conditionFailed(err); failed {
		return fmt.Errorf("registry: record scan of %s: %w: no watched execution", arn, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("registry: record scan of %s: %w", arn, err)
	}
	return nil
}

// StateMachines returns the opted-in state machines remembered (see
// StateMachine.SeenAt), fresh or not, by ARN. It reads the index, which may
// lag a write by a moment; undecodable items are left out and named in an
// error wrapping ErrCorrupt.
func (d *DynamoDB) StateMachines(ctx context.Context) ([]StateMachine, error) {
	return listActive(ctx, d, kindStateMachine, "state machines", func(item map[string]types.AttributeValue) (StateMachine, error) {
		var it smItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return StateMachine{}, fmt.Errorf("decode: %w", err)
		}
		return decodeSM(it)
	})
}

// RecordListing stores that the running executions of state machine arn
// were listed at instant at. A state machine not stored gives an error
// wrapping ErrNotFound.
func (d *DynamoDB) RecordListing(ctx context.Context, arn string, at time.Time) error {
	if err := checkInstant("listing time", at); err != nil {
		return fmt.Errorf("registry: record listing of %s: %w", arn, err)
	}
	x := newExpr()
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.cfg.Table),
		Key:                       key(pkStateMachine+arn, skStateMachine),
		UpdateExpression:          aws.String(update([]string{x.name("listedAt") + " = " + x.str(at.UTC().Format(timeLayout))}, nil)),
		ConditionExpression:       aws.String(fmt.Sprintf("attribute_exists(%s)", x.name("pk"))),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
	})
	if _, failed := conditionFailed(err); failed {
		return fmt.Errorf("registry: record listing of %s: %w", arn, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("registry: record listing of %s: %w", arn, err)
	}
	return nil
}

// decodeSM decodes a state machine item, whatever its freshness.
func decodeSM(it smItem) (StateMachine, error) {
	sm, _, err := it.stateMachine(minInstant, 0)
	return sm, err
}

// zeroState is the stored controller state of a run taken up afresh.
const zeroState = `{}`

// checkRedrive validates the arguments of Redrive.
func checkRedrive(arn string, redrives int32, at time.Time) error {
	switch {
	case arn == "":
		return fmt.Errorf("%w: empty run arn", ErrInvalid)
	case redrives < 1:
		return fmt.Errorf("%w: redrive count %d, want at least 1", ErrInvalid, redrives)
	}
	return checkInstant("redrive time", at)
}

// reopen takes the ended run it up again after a redrive: active, no end,
// no lease, the controller state and last decision of a new run, the version
// moved on.
func (it *runItem) reopen(redrives int32) {
	it.Ended, it.EndedAt, it.EndReason, it.ExpiresAt, it.Active = false, "", "", 0, runShard(it.ARN)
	it.LeaseOwner, it.LeaseUntil, it.Failures = "", "", 0
	it.State, it.LastDecision = zeroState, ""
	it.RedriveCount = redrives
	it.Version++
}

// Redrive records that Map Run arn was redriven for the redrives-th time
// (>= 1), seen at instant at, and reports whether it took the run up again.
// An ended run with a lower stored count is tuned again as a new run is:
// active, its controller state and last decision cleared, its version moved
// on. A running one only keeps the count, so that the same redrive read
// again later does not take it up once it ended. A run not stored gives an
// error wrapping ErrNotFound; a count already stored changes nothing.
func (m *Memory) Redrive(ctx context.Context, arn string, redrives int32, at time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("registry: redrive run %s: %w", arn, err)
	}
	if err := checkRedrive(arn, redrives, at); err != nil {
		return false, fmt.Errorf("registry: redrive run %s: %w", arn, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.runs[arn]
	switch {
	case !ok:
		return false, fmt.Errorf("registry: redrive run %s: %w", arn, ErrNotFound)
	case it.RedriveCount >= redrives:
		return false, nil
	case !it.Ended:
		it.RedriveCount = redrives
		m.runs[arn] = it
		return false, nil
	}
	it.reopen(redrives)
	m.runs[arn] = it
	return true, nil
}

// Redrive records that Map Run arn was redriven for the redrives-th time
// (>= 1), seen at instant at, and reports whether it took the run up again,
// as Memory.Redrive does, with one or two conditional UpdateItems.
func (d *DynamoDB) Redrive(ctx context.Context, arn string, redrives int32, at time.Time) (bool, error) {
	if err := checkRedrive(arn, redrives, at); err != nil {
		return false, fmt.Errorf("registry: redrive run %s: %w", arn, err)
	}
	it := runItem{ARN: arn}
	it.reopen(redrives)
	for _, ended := range []bool{true, false} {
		x := newExpr()
		rc, n := x.name("redriveCount"), x.num(int64(redrives))
		// Only the step that takes the run up again cannot apply twice:
		// it alone carries a write id.
		id := newWriteID()
		set := []string{rc + " = " + n}
		if ended {
			set = append(set, id.set(x))
		}
		var remove []string
		if ended {
			version := x.name("version")
			set = append(set,
				x.name("ended")+" = "+x.boolean(false),
				x.name("active")+" = "+x.str(it.Active),
				x.name("state")+" = "+x.str(it.State),
				fmt.Sprintf("%s = %s + %s", version, version, x.num(1)))
			for _, a := range []string{"endedAt", "endReason", "expiresAt", "leaseOwner", "leaseUntil", "lastDecision", "failures"} {
				remove = append(remove, x.name(a))
			}
		}
		_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        aws.String(d.cfg.Table),
			Key:              key(pkRun+arn, skRun),
			UpdateExpression: aws.String(update(set, remove)),
			ConditionExpression: aws.String(fmt.Sprintf("attribute_exists(%s) AND %s = %s AND (attribute_not_exists(%s) OR %s < %s)",
				x.name("pk"), x.name("ended"), x.boolean(ended), rc, rc, n)),
			ExpressionAttributeNames:            x.names,
			ExpressionAttributeValues:           x.values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		old, failed, err := id.outcome(err)
		switch {
		case failed && len(old) == 0:
			return false, fmt.Errorf("registry: redrive run %s: %w", arn, ErrNotFound)
		case failed:
			continue // the other case, or the count is already stored
		case err != nil:
			return false, fmt.Errorf("registry: redrive run %s: %w", arn, err)
		}
		return ended, nil
	}
	return false, nil
}
