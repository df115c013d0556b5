package tuner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
)

// discoveryStore is what discovery needs of the store beyond the runs.
type discoveryStore interface {
	ActiveExecutions(ctx context.Context) ([]registry.Execution, error)
	PutExecution(ctx context.Context, e registry.Execution) (bool, error)
	RecordScan(ctx context.Context, arn string, s registry.Scan) error
	StateMachines(ctx context.Context) ([]registry.StateMachine, error)
	GetStateMachine(ctx context.Context, arn string, now time.Time) (registry.StateMachine, error)
	PutStateMachine(ctx context.Context, sm registry.StateMachine) error
	RecordListing(ctx context.Context, arn string, at time.Time) error
	Redrive(ctx context.Context, arn string, redrives int32, at time.Time) (bool, error)
}

// How discovery spends its time and budget.
const (
	// relistEvery is how often the running executions of an opted-in
	// state machine are listed, to watch those whose RUNNING event was
	// lost, that ran before the opt-in, or that were redriven.
	relistEvery = 5 * time.Minute
	// tagRecheckEvery is how often the opt-in tag of a state machine in
	// use is read again; a run whose state machine lost it stops being tuned.
	tagRecheckEvery = registry.DefaultTagCacheTTL
	// historyShare and listShare are the parts of the tick's
	// GetExecutionHistory and ListExecutions budgets discovery may spend;
	// the rest is for observing the runs (failure samples list children).
	historyShare = 0.75
	listShare    = 0.5
)

// optedOutReason ends the tracking of a run whose state machine lost its tag.
const optedOutReason = "opted out: the state machine no longer has the " + observe.PolicyTagKey + " tag"

// discovery is one tick's discovery.
type discovery struct {
	t   *Tuner
	tc  *tick
	obs *observe.Observer
	now time.Time
	rep *Report
	// machines are the state machines known this tick, by ARN.
	machines map[string]registry.StateMachine
	// optedOut are the state machines found without the tag this tick.
	optedOut map[string]bool
}

// discover keeps the set of tuned runs up to date, within its share of the
// budget b: it re-reads the opt-in tag of the state machines in use and
// stops tuning the runs of those that lost it; lists the running
// executions of opted-in state machines every few minutes, to watch those
// whose RUNNING event never came; and reads what is new in the histories of
// the watched executions, least recently read first, to register their
// Map Runs and see them end.
//
// A state machine is known once an execution of it was seen (by the watch
// function, or here): one whose every event is lost is found only by its
// first execution whose RUNNING event arrives.
func (t *Tuner) discover(tc *tick, b *budget.Budget, runs []registry.Run) error {
	ctx, now, rep := tc.work, tc.now, tc.rep
	d := &discovery{
		t:        t,
		tc:       tc,
		obs:      &observe.Observer{SFN: t.deps.SFN, Budget: b.Share(map[budget.API]float64{budget.GetExecutionHistory: historyShare, budget.ListExecutions: listShare})},
		now:      now,
		rep:      rep,
		machines: map[string]registry.StateMachine{},
		optedOut: map[string]bool{},
	}
	execs, err := t.deps.Store.ActiveExecutions(ctx)
	switch {
	case errors.Is(err, registry.ErrCorrupt):
		t.fail(rep, "list watched executions", err) // the others are watched
	case err != nil:
		return fmt.Errorf("tuner: list watched executions: %w", err)
	}
	sms, err := t.deps.Store.StateMachines(ctx)
	if err != nil {
		// Tags are read again and listing waits: tuning goes on.
		t.fail(rep, "list state machines", err)
	}
	for _, sm := range sms {
		d.machines[sm.ARN] = sm
	}
	d.checkTags(ctx, runs, execs)
	for _, r := range runs {
		if d.optedOut[runMachine(r.ARN)] {
			t.end(tc, r.ARN, optedOutReason)
		}
	}
	execs = d.relist(ctx, execs)
	d.scan(ctx, runs, execs)
	return nil
}

// runMachine is the state machine ARN of a Map Run, "" for a bad ARN.
func runMachine(arn string) string {
	a, err := maprun.ParseARN(arn)
	if err != nil {
		return ""
	}
	return a.StateMachineARN()
}

// execMachine is the state machine ARN of a watched execution.
func execMachine(e registry.Execution) string {
	if e.StateMachineARN != "" {
		return e.StateMachineARN
	}
	// arn:PARTITION:states:REGION:ACCOUNT:execution:NAME:ID
	p := strings.Split(e.ARN, ":")
	if len(p) != 8 || p[5] != "execution" {
		return ""
	}
	return strings.Join(append(p[:5:5], "stateMachine", p[6]), ":")
}

// stale reports whether a state machine's tag must be read again.
func (d *discovery) stale(arn string) bool {
	sm, ok := d.machines[arn]
	return !ok || d.now.Sub(sm.CheckedAt) >= tagRecheckEvery
}

// due reports whether an opted-in state machine's executions are to be
// listed this tick.
func (d *discovery) due(sm registry.StateMachine) bool {
	return sm.OptedIn && !d.optedOut[sm.ARN] && d.now.Sub(sm.ListedAt) >= relistEvery
}

// checkTags reads again, least recently read first and within the
// ListTagsForResource budget, the tag of every state machine in use (with
// a tracked run or a watched execution) or due to be listed whose tag was
// read more than tagRecheckEvery ago, and notes those that lost it.
func (d *discovery) checkTags(ctx context.Context, runs []registry.Run, execs []registry.Execution) {
	inUse := map[string]bool{}
	for _, r := range runs {
		inUse[runMachine(r.ARN)] = true
	}
	for _, e := range execs {
		inUse[execMachine(e)] = true
	}
	delete(inUse, "")
	var check []string
	for arn := range inUse {
		if _, listed := d.machines[arn]; !listed {
			// Not opted in when last read (only opted-in ones are
			// listed): a fresh entry spares the call.
			switch sm, err := d.t.deps.Store.GetStateMachine(ctx, arn, d.now); {
			case err == nil:
				d.machines[arn] = sm
				d.optedOut[arn] = !sm.OptedIn
			case !errors.Is(err, registry.ErrNotFound):
				d.t.fail(d.rep, "read cached tags of "+arn, err) // read from AWS below
			}
		}
		if d.stale(arn) {
			check = append(check, arn)
		}
	}
	for arn, sm := range d.machines {
		if !inUse[arn] && d.due(sm) && d.stale(arn) {
			check = append(check, arn)
		}
	}
	slices.SortFunc(check, func(a, b string) int {
		return cmp.Or(d.machines[a].CheckedAt.Compare(d.machines[b].CheckedAt), cmp.Compare(a, b))
	})
	for _, arn := range check {
		tags, err := d.obs.Tags(ctx, arn)
		name, ok := tags[observe.PolicyTagKey]
		switch {
		case errors.Is(err, budget.ErrExhausted):
			return // the others keep what was known, until a later tick
		case errors.Is(err, observe.ErrNotFound):
			// Deleted: nothing of it is to be tuned.
		case err != nil:
			d.t.fail(d.rep, "read tags of "+arn, err)
			continue
		}
		old := d.machines[arn]
		sm := registry.StateMachine{ARN: arn, Policy: name, OptedIn: ok, CheckedAt: d.now, SeenAt: old.SeenAt, ListedAt: old.ListedAt}
		if inUse[arn] {
			sm.SeenAt = d.now
		}
		if err := d.t.deps.Store.PutStateMachine(ctx, sm); err != nil {
			d.t.fail(d.rep, "cache tags of "+arn, err)
		}
		d.machines[arn] = sm
		if err == nil {
			d.t.tagControl(d.tc, arn, tags)
		}
		if !ok {
			d.optedOut[arn] = true
			if old.OptedIn {
				d.t.deps.Log.Info("state machine opted out", "stateMachine", arn, "detail", "the "+observe.PolicyTagKey+" tag is gone: its runs are no longer tuned")
			}
		}
	}
}

// relist lists, least recently listed first and within discovery's share
// of ListExecutions, the running executions of the opted-in state machines
// not listed for relistEvery, and watches those not watched yet (or
// redriven since). It returns execs with the executions it registered.
func (d *discovery) relist(ctx context.Context, execs []registry.Execution) []registry.Execution {
	watched := make(map[string]registry.Execution, len(execs))
	for _, e := range execs {
		watched[e.ARN] = e
	}
	var due []registry.StateMachine
	for _, sm := range d.machines {
		if d.due(sm) && !d.stale(sm.ARN) {
			due = append(due, sm)
		}
	}
	slices.SortFunc(due, func(a, b registry.StateMachine) int {
		return cmp.Or(a.ListedAt.Compare(b.ListedAt), cmp.Compare(a.ARN, b.ARN))
	})
	for _, sm := range due {
		running, err := d.obs.RunningExecutions(ctx, sm.ARN)
		for _, r := range running {
			if w, ok := watched[r.ARN]; ok && w.RedriveCount >= r.RedriveCount {
				continue
			}
			e := registry.Execution{ARN: r.ARN, StateMachineARN: sm.ARN, Status: registry.StatusRunning, Policy: sm.Policy,
				StartedAt: r.StartedAt, RedriveCount: r.RedriveCount, UpdatedAt: d.now}
			changed, perr := d.t.deps.Store.PutExecution(ctx, e)
			if perr != nil {
				d.t.fail(d.rep, "watch listed execution "+r.ARN, perr)
				continue
			}
			if changed {
				d.t.deps.Log.Info("execution watched from listing", "execution", r.ARN, "stateMachine", sm.ARN, "policy", sm.Policy, "redriveCount", r.RedriveCount)
				execs = slices.DeleteFunc(execs, func(x registry.Execution) bool { return x.ARN == e.ARN })
				execs = append(execs, e)
				watched[e.ARN] = e
			}
		}
		switch {
		case errors.Is(err, budget.ErrExhausted):
			return execs // listed again, whole, by a later tick
		case err != nil && !errors.Is(err, observe.ErrNotFound):
			d.t.fail(d.rep, "list running executions of "+sm.ARN, err)
			continue
		}
		if err := d.t.deps.Store.RecordListing(ctx, sm.ARN, d.now); err != nil {
			d.t.fail(d.rep, "record listing of "+sm.ARN, err)
		}
	}
	return execs
}

// scan reads what is new in the histories of the watched executions, least
// recently read first, within discovery's share of GetExecutionHistory.
func (d *discovery) scan(ctx context.Context, runs []registry.Run, execs []registry.Execution) {
	known := make(map[string]bool, len(runs))
	for _, r := range runs {
		known[r.ARN] = true
	}
	slices.SortFunc(execs, func(a, b registry.Execution) int {
		return cmp.Or(a.Scan.At.Compare(b.Scan.At), cmp.Compare(a.ARN, b.ARN))
	})
	for _, e := range execs {
		if ctx.Err() != nil {
			return
		}
		h, err := d.obs.ReadHistory(ctx, e.ARN, observe.HistoryPosition{EventID: e.Scan.EventID, Token: e.Scan.Token})
		switch {
		case errors.Is(err, observe.ErrNotFound):
			d.t.fail(d.rep, "discover map runs of "+e.ARN, err)
			e.Status, e.UpdatedAt = registry.StatusAborted, d.now
			d.t.putExecution(ctx, e, d.rep)
			continue
		case errors.Is(err, budget.ErrExhausted) && h.Calls == 0:
			return
		case err != nil && !errors.Is(err, budget.ErrExhausted):
			d.t.fail(d.rep, "discover map runs of "+e.ARN, err)
		}
		lost := false // a Map Run found but not stored: read these events again
		if !d.optedOut[execMachine(e)] {
			for _, arn := range h.MapRuns {
				if !known[arn] {
					if !d.register(ctx, e, arn) {
						lost = true
						continue
					}
					known[arn] = true
				}
			}
			for _, r := range h.Redriven {
				lost = !d.redrive(ctx, e, r) || lost
			}
		}
		switch {
		case lost:
			// The position stays where it was, so that the next tick reads
			// the same events again; registering is idempotent.
		case h.Status != "":
			e.Status, e.StoppedAt, e.UpdatedAt = h.Status, h.StoppedAt, d.now
			d.t.putExecution(ctx, e, d.rep)
		default:
			if err := d.t.deps.Store.RecordScan(ctx, e.ARN, registry.Scan{EventID: h.Position.EventID, Token: h.Position.Token, At: d.now}); err != nil && !errors.Is(err, registry.ErrNotFound) {
				d.t.fail(d.rep, "record scan of "+e.ARN, err)
			}
		}
		if errors.Is(err, budget.ErrExhausted) {
			return
		}
	}
}

// register tracks a Map Run found in the history of e; it reports whether
// the run is stored.
func (d *discovery) register(ctx context.Context, e registry.Execution, arn string) bool {
	created, err := d.t.deps.Store.PutRun(ctx, registry.Run{ARN: arn, ExecutionARN: e.ARN, Policy: e.Policy, DiscoveredAt: d.now})
	if err != nil {
		d.t.fail(d.rep, "register "+arn, err)
		return false
	}
	if created {
		d.rep.Discovered++
		d.t.deps.Log.Info("discovered", "run", arn, "execution", e.ARN, "policy", e.Policy)
	}
	return true
}

// redrive takes up again a Map Run redriven in the history of e; it
// reports whether the run is stored as redriven.
func (d *discovery) redrive(ctx context.Context, e registry.Execution, r observe.RedrivenMapRun) bool {
	reopened, err := d.t.deps.Store.Redrive(ctx, r.ARN, r.RedriveCount, d.now)
	if errors.Is(err, registry.ErrNotFound) {
		// Never registered: it is, and keeps the count.
		if !d.register(ctx, e, r.ARN) {
			return false
		}
		reopened, err = d.t.deps.Store.Redrive(ctx, r.ARN, r.RedriveCount, d.now)
	}
	if err != nil {
		d.t.fail(d.rep, "take up redriven "+r.ARN, err)
		return false
	}
	if reopened {
		d.rep.Discovered++
		d.t.deps.Log.Info("redriven run tuned again", "run", r.ARN, "execution", e.ARN, "redriveCount", r.RedriveCount, "policy", e.Policy)
	}
	return true
}
