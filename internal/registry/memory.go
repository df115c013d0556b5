package registry

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/maptuner/maptuner/internal/control"
)

// Memory is a registry kept in process, for the simulator and for tests. It
// stores the same items as DynamoDB, encoded the same way, and applies the
// same conditions, so that it validates, returns and fails exactly as the
// table does; listings come sorted by ARN, as the table's index returns
// them. It never deletes expired items. It is safe for concurrent use.
type Memory struct {
	cfg Config

	mu        sync.Mutex
	execs     map[string]execItem       // by execution ARN
	runs      map[string]runItem        // by run ARN
	decisions map[string][]decisionItem // by run ARN, oldest first
	sms       map[string]smItem         // by state machine ARN
	learned   map[string]learnedItem    // by pk and sk
	controls  map[string]controlItem    // by pk and sk
	// use is what the calls so far would have consumed of a table.
	use Usage
}

// NewMemory returns an empty registry. cfg.Table is not used.
func NewMemory(cfg Config) (*Memory, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return &Memory{
		cfg:       cfg,
		execs:     make(map[string]execItem),
		runs:      make(map[string]runItem),
		decisions: make(map[string][]decisionItem),
		sms:       make(map[string]smItem),
		learned:   make(map[string]learnedItem),
		controls:  make(map[string]controlItem),
	}, nil
}

// PutExecution stores e under the rule of DynamoDB.PutExecution and
// reports whether it changed what was stored.
func (m *Memory) PutExecution(ctx context.Context, e Execution) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("registry: put execution %s: %w", e.ARN, err)
	}
	it, err := newExecItem(e, m.cfg.ActiveTTL, m.cfg.EndedTTL)
	if err != nil {
		return false, fmt.Errorf("registry: put execution %s: %w", e.ARN, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var old *execItem
	var prev any
	if o, ok := m.execs[e.ARN]; ok {
		old, prev = &o, o
	}
	if !it.replaces(old) {
		m.write(prev, nil, true)
		return false, nil
	}
	m.write(prev, it, true)
	m.execs[e.ARN] = it
	return true, nil
}

// ActiveExecutions returns the executions that have not ended, by ARN.
func (m *Memory) ActiveExecutions(ctx context.Context) ([]Execution, error) {
	return listMemory(ctx, m, kindExecution, "active executions", m.execs, func(it execItem) string { return it.Active },
		execItem.execution, func(a, b Execution) int { return strings.Compare(a.ARN, b.ARN) })
}

// PutRun creates r as DynamoDB.PutRun does and reports whether it did.
func (m *Memory) PutRun(ctx context.Context, r Run) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("registry: put run %s: %w", r.ARN, err)
	}
	it, err := newRunItem(r, m.cfg.ActiveTTL, m.cfg.EndedTTL)
	if err != nil {
		return false, fmt.Errorf("registry: put run %s: %w", r.ARN, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.runs[r.ARN]; ok {
		m.write(old, nil, true)
		return false, nil
	}
	m.write(nil, it, true)
	m.runs[r.ARN] = it
	return true, nil
}

// GetRun returns the run arn, or an error wrapping ErrNotFound.
func (m *Memory) GetRun(ctx context.Context, arn string) (Run, error) {
	if err := ctx.Err(); err != nil {
		return Run{}, fmt.Errorf("registry: get run %s: %w", arn, err)
	}
	m.mu.Lock()
	it, ok := m.runs[arn]
	m.read(opt(it, ok))
	m.mu.Unlock()
	if !ok {
		return Run{}, fmt.Errorf("registry: get run %s: %w", arn, ErrNotFound)
	}
	r, err := it.run()
	if err != nil {
		return Run{}, fmt.Errorf("registry: get run %s: %w", arn, err)
	}
	return r, nil
}

// ActiveRuns returns the runs that have not ended, by ARN.
func (m *Memory) ActiveRuns(ctx context.Context) ([]Run, error) {
	return listMemory(ctx, m, kindRun, "active runs", m.runs, func(it runItem) string { return it.Active },
		runItem.run, func(a, b Run) int { return strings.Compare(a.ARN, b.ARN) })
}

// listMemory lists the items of all that are active (what the index of
// the DynamoDB table lists: executions and runs not ended, state machines
// remembered, controls that hold something), decoded and sorted by cmp,
// and meters the listing as the queries of kind; what names them in errors.
func listMemory[I, T any](ctx context.Context, m *Memory, kind, what string, all map[string]I, active func(I) string, decode func(I) (T, error), cmp func(a, b T) int) ([]T, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("registry: list %s: %w", what, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []T
	var items []any
	defer func() { m.query(kind, items) }()
	for _, it := range all {
		if active(it) == "" {
			continue
		}
		items = append(items, it)
		v, err := decode(it)
		if err != nil {
			return nil, fmt.Errorf("registry: list %s: %w", what, err)
		}
		out = append(out, v)
	}
	slices.SortFunc(out, cmp)
	return out, nil
}

// ActiveRunHeads returns the runs that have not ended, by ARN, without
// State and LastDecision, as DynamoDB.ActiveRunHeads does.
func (m *Memory) ActiveRunHeads(ctx context.Context) ([]Run, error) {
	runs, err := m.ActiveRuns(ctx)
	for i := range runs {
		runs[i].State, runs[i].LastDecision = control.State{}, nil
	}
	return runs, err
}

// Claim takes the lease on run arn for owner until now+ttl, as
// DynamoDB.Claim does.
func (m *Memory) Claim(ctx context.Context, arn, owner string, now time.Time, ttl time.Duration) (Run, error) {
	if err := ctx.Err(); err != nil {
		return Run{}, fmt.Errorf("registry: claim run %s: %w", arn, err)
	}
	if err := checkClaim(arn, owner, now, ttl); err != nil {
		return Run{}, fmt.Errorf("registry: claim run %s: %w", arn, err)
	}
	nowS, untilS := now.UTC().Format(timeLayout), now.Add(ttl).UTC().Format(timeLayout)
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.runs[arn]
	if !ok {
		m.write(nil, nil, true)
		return Run{}, fmt.Errorf("registry: claim run %s: %w", arn, ErrNotFound)
	}
	if !it.claimable(owner, nowS) {
		m.write(it, nil, true)
		return Run{}, fmt.Errorf("registry: claim run %s: %w", arn, claimError(it))
	}
	next := it
	next.LeaseOwner, next.LeaseUntil = owner, untilS
	r, err := next.run()
	if err != nil {
		return Run{}, fmt.Errorf("registry: claim run %s: %w", arn, err)
	}
	m.write(it, next, true)
	m.runs[arn] = next
	return r, nil
}

// Save writes r's state, last decision, failures and end as DynamoDB.Save does.
func (m *Memory) Save(ctx context.Context, r Run, owner string, now time.Time) error {
	_, err := m.save(ctx, r, owner, now, writeSave, 0)
	return err
}

// Checkpoint writes r as DynamoDB.Checkpoint does, keeping the lease.
func (m *Memory) Checkpoint(ctx context.Context, r Run, owner string, now time.Time) (Run, error) {
	return m.save(ctx, r, owner, now, writeCheckpoint, 0)
}

// Hold writes r and takes the lease as DynamoDB.Hold does.
func (m *Memory) Hold(ctx context.Context, r Run, owner string, now time.Time, ttl time.Duration) (Run, error) {
	return m.save(ctx, r, owner, now, writeHold, ttl)
}

// Record writes r as DynamoDB.Record does.
func (m *Memory) Record(ctx context.Context, r Run, owner string, now time.Time) (Run, error) {
	return m.save(ctx, r, owner, now, writeRecord, 0)
}

// save writes r by w; ttl is the lease length of a hold.
func (m *Memory) save(ctx context.Context, r Run, owner string, now time.Time, w write, ttl time.Duration) (Run, error) {
	op := w.String()
	if err := ctx.Err(); err != nil {
		return Run{}, fmt.Errorf("registry: %s run %s: %w", op, r.ARN, err)
	}
	if err := checkSave(r, owner, now, w, ttl); err != nil {
		return Run{}, fmt.Errorf("registry: %s run %s: %w", op, r.ARN, err)
	}
	u, err := newRunUpdate(r, now, m.cfg.ActiveTTL, m.cfg.EndedTTL)
	if err != nil {
		return Run{}, fmt.Errorf("registry: %s run %s: %w", op, r.ARN, err)
	}
	nowS := now.UTC().Format(timeLayout)
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.runs[r.ARN]
	if !ok {
		m.write(nil, nil, true)
		return Run{}, fmt.Errorf("registry: %s run %s: %w", op, r.ARN, ErrNotFound)
	}
	if !it.writable(w, owner, nowS, r.Version) {
		m.write(it, nil, true)
		return Run{}, fmt.Errorf("registry: %s run %s: %w", op, r.ARN, writeConflict(it, w, owner, nowS, r.Version))
	}
	old := it
	it.apply(u, w, owner, now.Add(ttl).UTC().Format(timeLayout))
	m.write(old, it, true)
	m.runs[r.ARN] = it
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

// EndRun marks run arn ended as DynamoDB.EndRun does.
func (m *Memory) EndRun(ctx context.Context, arn, reason string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registry: end run %s: %w", arn, err)
	}
	u, err := newEndUpdate(arn, reason, at, m.cfg.EndedTTL)
	if err != nil {
		return fmt.Errorf("registry: end run %s: %w", arn, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.runs[arn]
	if !ok {
		m.write(nil, nil, true)
		return fmt.Errorf("registry: end run %s: %w", arn, ErrNotFound)
	}
	if it.Ended {
		m.write(it, nil, true)
		return nil
	}
	old := it
	it.setEnd(u)
	it.Version++
	m.write(old, it, true)
	m.runs[arn] = it
	return nil
}

// AppendDecision logs d for run arn at instant at, as DynamoDB.AppendDecision does.
func (m *Memory) AppendDecision(ctx context.Context, arn string, at time.Time, d control.Decision) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registry: append decision run %s: %w", arn, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	log := m.decisions[arn]
	for i := range maxDecisionAttempts {
		it, err := newDecisionItem(arn, at.Add(time.Duration(i)), d, m.cfg.DecisionTTL)
		if err != nil {
			return fmt.Errorf("registry: append decision run %s: %w", arn, err)
		}
		j := sort.Search(len(log), func(k int) bool { return log[k].SK >= it.SK })
		if j < len(log) && log[j].SK == it.SK {
			m.write(log[j], nil, true)
			continue
		}
		m.write(nil, it, true)
		m.decisions[arn] = slices.Insert(log, j, it)
		return nil
	}
	return fmt.Errorf("registry: append decision run %s: %w", arn, decisionsFull(at))
}

// Decisions returns up to limit decisions of run arn, newest first; all of
// them when limit <= 0.
func (m *Memory) Decisions(ctx context.Context, arn string, limit int) ([]control.Decision, error) {
	return decisionsOnly(m.DecisionLog(ctx, arn, limit))
}

// DecisionLog returns what Decisions does, with the instant each decision
// was logged at.
func (m *Memory) DecisionLog(ctx context.Context, arn string, limit int) ([]Logged, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("registry: list decisions run %s: %w", arn, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	log := m.decisions[arn]
	n := len(log)
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]Logged, 0, n)
	for i := len(log) - 1; i >= len(log)-n; i-- {
		l, err := log[i].logged()
		if err != nil {
			return nil, fmt.Errorf("registry: list decisions run %s: %w", arn, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// PutStateMachine caches sm, replacing any entry for its ARN.
func (m *Memory) PutStateMachine(ctx context.Context, sm StateMachine) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registry: put state machine %s: %w", sm.ARN, err)
	}
	it, err := newSMItem(sm, m.cfg.TagCacheTTL, m.cfg.StateMachineTTL)
	if err != nil {
		return fmt.Errorf("registry: put state machine %s: %w", sm.ARN, err)
	}
	m.mu.Lock()
	o, ok := m.sms[sm.ARN]
	m.write(opt(o, ok), it, false)
	m.sms[sm.ARN] = it
	m.mu.Unlock()
	return nil
}

// GetStateMachine returns the cached entry for arn if it is fresh at now,
// or an error wrapping ErrNotFound.
func (m *Memory) GetStateMachine(ctx context.Context, arn string, now time.Time) (StateMachine, error) {
	if err := ctx.Err(); err != nil {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: %w", arn, err)
	}
	if err := checkInstant("now", now); err != nil {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: %w", arn, err)
	}
	m.mu.Lock()
	it, ok := m.sms[arn]
	m.read(opt(it, ok))
	m.mu.Unlock()
	if !ok {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: %w", arn, ErrNotFound)
	}
	sm, fresh, err := it.stateMachine(now, m.cfg.TagCacheTTL)
	if err != nil {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: %w", arn, err)
	}
	if !fresh {
		return StateMachine{}, fmt.Errorf("registry: get state machine %s: %w", arn, staleEntry(sm, m.cfg.TagCacheTTL))
	}
	return sm, nil
}
