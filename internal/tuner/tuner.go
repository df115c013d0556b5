// Package tuner runs one tick of maptuner: discover the Map Runs of watched
// executions, observe every tracked run within the account's API budget,
// decide with the pure controller, apply the decision, and record it.
//
// A tick is a period: the full pass over every run (Tuner.Tick), then,
// every few seconds, looks (Tuner.Look) at the runs whose limit may change
// soon, from the same budget (see look.go).
//
// Decide, then apply: control.Decide builds the plan; actuate.Applier is the
// only code that calls UpdateMapRun. The simulator and the Lambda run this
// same code against different implementations of the same interfaces.
//
// Memory across runs: a run's first decision reads what the last run of
// the same job (state machine, Map label and policy) learned, and the
// limit a run holds clean, or ends with, is kept for the next one
// (registry.Learned, control.Prior).
package tuner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/maptuner/maptuner/internal/actuate"
	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

// SFNAPI is the Step Functions API the tuner reads and writes.
type SFNAPI interface {
	observe.SFNAPI
	observe.StateMachineAPI
	actuate.UpdateAPI
}

// Store is the tuner's durable state: watched executions and tracked runs.
type Store interface {
	discoveryStore
	PutRun(ctx context.Context, r registry.Run) (bool, error)
	// ActiveRunHeads lists the runs tracked, without their state; GetRun
	// reads one. Hold and Record write a run decided on as read (save.go).
	ActiveRunHeads(ctx context.Context) ([]registry.Run, error)
	GetRun(ctx context.Context, arn string) (registry.Run, error)
	Hold(ctx context.Context, r registry.Run, owner string, now time.Time, ttl time.Duration) (registry.Run, error)
	Record(ctx context.Context, r registry.Run, owner string, now time.Time) (registry.Run, error)
	EndRun(ctx context.Context, arn, reason string, at time.Time) error
	AppendDecision(ctx context.Context, arn string, at time.Time, d control.Decision) error
	// GetLearned and PutLearned read and keep what runs of a job learned,
	// for the next run of the same job.
	GetLearned(ctx context.Context, sm, label, policy string) (registry.Learned, error)
	PutLearned(ctx context.Context, l registry.Learned) (bool, error)
	controlStore
}

var (
	_ Store = (*registry.DynamoDB)(nil)
	_ Store = (*registry.Memory)(nil)
)

// Config is how the tuner behaves. The zero value is a tuner that acts, with
// a one-minute tick and half of each API quota.
type Config struct {
	// Owner names this tuner invocation in run leases; required.
	Owner string
	// Region selects the API quotas of budget.Config.
	Region string
	// Period is the tick length; zero means one minute.
	Period time.Duration
	// LookEvery is how often, within its period, an invocation looks again
	// at the runs that need it (see Tuner.Look): a run in slow start or
	// probing, above the limit it confirmed, or just cut. Zero means
	// DefaultLookEvery; negative turns looks off (one pass a period).
	LookEvery time.Duration
	// BudgetFraction is the share of each API quota a tick may spend; zero
	// means budget.DefaultFraction.
	BudgetFraction float64
	// DryRun decides and logs but never calls UpdateMapRun.
	DryRun bool
	// ActuationOff is the global off switch: like DryRun, for every run.
	ActuationOff bool
	// MetricWindow is how far back throttle datapoints are read; zero means
	// 15 minutes.
	MetricWindow time.Duration
	// CallTimeout bounds each outside call (Step Functions, CloudWatch, the
	// store), its retries included; zero means 10 seconds.
	CallTimeout time.Duration
	// SaveReserve is the time kept before the deadline of the tick's
	// context to save what the tick did: reading and updating stop that
	// long before it. Zero means 3 seconds.
	SaveReserve time.Duration
	// Stack names the deployment in the Stack dimension of the metrics;
	// empty leaves the dimension out.
	Stack string
	// RetireAfter is how many ticks in a row a run may go untuned for a
	// reason that does not pass by itself (its policy is gone, its ARN does
	// not parse, access to it is denied) before its tracking ends; zero
	// means 30.
	RetireAfter int
}

// The Config defaults.
const (
	DefaultCallTimeout = 10 * time.Second
	DefaultSaveReserve = 3 * time.Second
	DefaultRetireAfter = 30
)

// Deps are the tuner's collaborators.
type Deps struct {
	SFN        SFNAPI
	CloudWatch observe.MetricsAPI
	Store      Store
	Policies   *policy.Set
	// Lambda reads the reserved concurrency of the function a Map state's
	// children invoke, for capacity hints (see hint.go); nil turns hints off.
	Lambda observe.FunctionAPI
	// Log gets one JSON line per decision; nil discards.
	Log *slog.Logger
	// Metrics gets embedded-metric-format lines; nil discards.
	Metrics io.Writer
}

// Tuner runs ticks: a full pass (Tick) at the start of each period, then
// looks (Look) within it. One Tuner serves one invocation at a time: it
// keeps the period's state from Tick for the Looks that follow, so Tick
// and Look must be called from one goroutine at a time. Overlapping
// invocations in different processes are kept apart by run leases.
type Tuner struct {
	cfg   Config
	deps  Deps
	hints hintCache
	// cur is the period of the last Tick; nil before any, or when it
	// could do nothing.
	cur *period
	// known are the tracked runs as this process decided on them last, by
	// ARN (save.go).
	known map[string]*known
	// lateAt is when this process last decided each run from late counts,
	// by ARN (late.go).
	lateAt map[string]time.Time
}

// New returns a Tuner; it fails on a Config or Deps that cannot work.
func New(cfg Config, deps Deps) (*Tuner, error) {
	if cfg.Owner == "" {
		return nil, errors.New("tuner: config: owner is required")
	}
	if deps.SFN == nil || deps.CloudWatch == nil || deps.Store == nil || deps.Policies == nil {
		return nil, errors.New("tuner: deps: SFN, CloudWatch, Store and Policies are required")
	}
	if cfg.Period == 0 {
		cfg.Period = time.Minute
	}
	if cfg.MetricWindow == 0 {
		cfg.MetricWindow = 15 * time.Minute
	}
	if cfg.LookEvery == 0 {
		cfg.LookEvery = DefaultLookEvery
	}
	if cfg.CallTimeout < 0 || cfg.SaveReserve < 0 || cfg.RetireAfter < 0 {
		return nil, fmt.Errorf("tuner: config: call timeout %s, save reserve %s and retire after %d must not be negative",
			cfg.CallTimeout, cfg.SaveReserve, cfg.RetireAfter)
	}
	cfg.CallTimeout = cmp.Or(cfg.CallTimeout, DefaultCallTimeout)
	cfg.SaveReserve = cmp.Or(cfg.SaveReserve, DefaultSaveReserve)
	cfg.RetireAfter = cmp.Or(cfg.RetireAfter, DefaultRetireAfter)
	deps.SFN = timedSFN{deps.SFN, cfg.CallTimeout}
	deps.CloudWatch = timedMetrics{deps.CloudWatch, cfg.CallTimeout}
	deps.Store = timedStore{deps.Store, cfg.CallTimeout}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = io.Discard
	}
	return &Tuner{cfg: cfg, deps: deps, lateAt: map[string]time.Time{}}, nil
}

// Report says what one tick did.
type Report struct {
	// Discovered is the number of Map Runs newly registered.
	Discovered int `json:"discovered"`
	// Tracked is the number of runs tracked at the start of the tick.
	Tracked int `json:"tracked"`
	// Decided is the number of runs a decision was made for.
	Decided int `json:"decided"`
	// Updated is the number of UpdateMapRun calls that succeeded.
	Updated int `json:"updated"`
	// Ended is the number of runs whose tracking ended.
	Ended int `json:"ended"`
	// Skipped counts runs not decided on, by reason (leased, fresh, taken,
	// budget, deadline, policy, bad-arn, denied).
	Skipped map[string]int `json:"skipped,omitempty"`
	// Late is the number of runs decided from late counts, for want
	// of a DescribeMapRun (see late.go); they are in Decided too.
	Late int `json:"late,omitempty"`
	// Looks is the number of looks made after the full pass (Tuner.Look).
	Looks int `json:"looks,omitempty"`
	// Looking is the number of runs that still need looks this period, 0
	// once the period's budget cannot pay for a look.
	Looking int `json:"looking,omitempty"`
	// Decisions are the decisions made, in order. The Handler's report
	// lists the first few updates only (see LeftOut).
	Decisions []RunDecision `json:"decisions,omitempty"`
	// Calls are the budgeted API calls spent.
	Calls map[budget.API]int `json:"calls,omitempty"`
	// Errors are the errors met that did not stop the tick and that someone
	// must look at (a missing resource or permission, a rejected request, a
	// corrupt item), as text; each was logged at level ERROR.
	Errors []string `json:"errors,omitempty"`
	// Warnings are the errors met that AWS answers in normal operation and
	// the next tick rides out (see transient), as text; each was logged at
	// level WARN.
	Warnings []string `json:"warnings,omitempty"`
	// LeftOut counts what the Handler's report leaves out of Decisions,
	// Errors and Warnings, so that its size does not grow with the number
	// of runs; each one is in the log. Nil when nothing was.
	LeftOut *LeftOut `json:"leftOut,omitempty"`
}

// LeftOut counts the entries of a Report left out of its lists.
type LeftOut struct {
	// Decisions counts the decisions that change nothing, and the updates
	// past the first MaxListed.
	Decisions int `json:"decisions,omitempty"`
	// Errors and Warnings count those past the first MaxListed.
	Errors   int `json:"errors,omitempty"`
	Warnings int `json:"warnings,omitempty"`
}

// RunDecision is a decision about one run, and whether it was applied.
type RunDecision struct {
	MapRunARN string           `json:"mapRunArn"`
	Policy    string           `json:"policy"`
	Decision  control.Decision `json:"decision"`
	Applied   bool             `json:"applied"`
	DryRun    bool             `json:"dryRun,omitempty"`
}

func (r *Report) skip(why string) {
	if r.Skipped == nil {
		r.Skipped = map[string]int{}
	}
	r.Skipped[why]++
}

// tick is what one tick's steps share.
type tick struct {
	// work bounds reading and updating; finish bounds saving what was done
	// (see phases).
	work, finish context.Context
	now          time.Time
	obs          *observe.Observer
	app          *actuate.Applier
	rep          *Report
	// p is the period the tick belongs to; look is set in its looks.
	p    *period
	look bool
	// steer are the operators' controls, read when first needed (controls.go).
	steer steering
}

// Tick runs one tick at the instant now. It returns an error only when it
// could do nothing at all (the store is unreadable); errors about single runs
// are in the Report and the log, and leave that run's state as it was.
//
// Every phase stops at the deadline of ctx less Config.SaveReserve, and
// every call has its own Config.CallTimeout. A run acted on is saved even
// when ctx is done, in the time reserved before its deadline.
//
// Tick starts a period: the budget it builds is shared by this pass and by
// the Looks that follow until the next Tick.
func (t *Tuner) Tick(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	// The runs the looks of the period before decided are this process's
	// own, even seconds ago (see period.mine); one its full pass decided is
	// not: a second invocation for the same tick (an at-least-once retry)
	// finds it fresh and acts on nothing.
	last := map[string]*held{}
	if t.cur != nil && t.looks() {
		for arn, h := range t.cur.runs {
			if h.at.After(t.cur.start) {
				last[arn] = h
			}
		}
	}
	t.cur = nil
	b, err := budget.New(budget.Config{Region: t.cfg.Region, Fraction: t.cfg.BudgetFraction, Period: t.cfg.Period})
	if err != nil {
		return rep, fmt.Errorf("tuner: %w", err)
	}
	work, finish, cancel := phases(ctx, t.cfg.SaveReserve)
	defer cancel()
	obs := &observe.Observer{SFN: t.deps.SFN, Metrics: t.deps.CloudWatch, Budget: b}
	p := &period{start: now, end: now.Add(t.cfg.Period), budget: b, obs: obs, app: &actuate.Applier{SFN: t.deps.SFN, Budget: b}, runs: map[string]*held{}, last: last}
	tc := &tick{work: work, finish: finish, now: now, obs: obs, app: p.app, rep: &rep, p: p}

	runs, err := t.activeRuns(work, &rep)
	if err != nil {
		return rep, err
	}
	if err := t.discover(tc, b, runs); err != nil {
		return rep, err
	}
	if rep.Discovered > 0 || rep.Ended > 0 {
		if runs, err = t.activeRuns(work, &rep); err != nil {
			return rep, err
		}
	}
	rep.Tracked = len(runs)

	plans := t.plan(tc, runs)
	p.sharing = newSharing(plans)
	var throttles map[string][]control.Datapoint
	if work.Err() == nil {
		throttles = t.throttles(work, obs, plans, now, &rep)
	}
	// Runs throttled since they were last observed first, then those whose
	// limit may move (a steady run read live less than liveEvery ago can
	// wait), each the least recently observed first, so that a short
	// budget goes where it matters and then round. Once DescribeMapRun is
	// spent, the runs left are decided from late counts (late.go).
	labelled := labelledCounts(plans)
	waits := make(map[string]int, len(plans))
	for _, p := range plans {
		if steady(p, labelled, now) && now.Sub(p.run.State.PrevAt) < liveEvery {
			waits[p.run.ARN] = 1
		}
	}
	slices.SortFunc(plans, func(a, b plan) int {
		return cmp.Or(
			-cmp.Compare(throttledSince(throttles[a.run.ARN], a.run.State.PrevAt), throttledSince(throttles[b.run.ARN], b.run.State.PrevAt)),
			cmp.Compare(waits[a.run.ARN], waits[b.run.ARN]),
			a.run.State.PrevAt.Compare(b.run.State.PrevAt),
			cmp.Compare(a.run.ARN, b.run.ARN))
	})
	var late []plan
	for _, p := range plans {
		switch {
		case work.Err() != nil:
			rep.skip("deadline")
		case b.Remaining(budget.DescribeMapRun) <= 0 && estimable(p, labelled, now):
			if t.lateDue(p.run.ARN, now) {
				late = append(late, p)
			}
		default:
			t.tune(tc, p, throttles[p.run.ARN])
		}
	}
	if len(late) > 0 && work.Err() == nil {
		t.tuneLate(tc, late, throttles)
	}
	p.plans, p.throttles = plans, throttles
	t.cur = p
	rep.Calls = b.Spent()
	rep.Looking = p.looking()
	return rep, nil
}

func (t *Tuner) putExecution(ctx context.Context, e registry.Execution, rep *Report) {
	if _, err := t.deps.Store.PutExecution(ctx, e); err != nil {
		t.fail(rep, "end execution "+e.ARN, err)
	}
}

// tune observes, decides, applies and records for one run, whose throttle
// datapoints are points.
func (t *Tuner) tune(tc *tick, p plan, points []control.Datapoint) {
	arn, rep := p.run.ARN, tc.rep
	run, ok := t.take(tc, arn)
	if !ok {
		return
	}
	snap, err := tc.obs.Describe(tc.work, arn)
	switch {
	case errors.Is(err, observe.ErrNotFound):
		t.end(tc, arn, "not found")
		return
	case errors.Is(err, budget.ErrExhausted):
		rep.skip("budget")
		return
	case denied(err):
		rep.skip("denied")
		t.strike(tc, run, err.Error())
		return
	case err != nil:
		t.fail(rep, "describe "+arn, err)
		return
	}
	st := adopt(run.State, snap.Settings.MaxConcurrency)
	// An operator's control decides instead of the controller (controls.go).
	d, steered := t.steer(tc, p, st, snap)
	o := control.Observation{At: tc.now, Run: snap, MetricsWatched: len(p.signals) > 0, Throttles: points, Shared: tc.p.sharing.of(arn), Concurrent: p.concurrent, Usage: p.usage}
	if !steered && st.PrevAt.IsZero() {
		o.Prior = t.prior(tc, p)
	}
	if !steered {
		o.Bound = t.hint(tc, p, st, snap.Settings.MaxConcurrency)
	}
	if n := p.policy.FailureSample; !steered && n > 0 && snap.Items.Failures() > st.Prev.Failures() && snap.Status == maprun.StatusRunning {
		if o.Failures, err = tc.obs.SampleFailures(tc.work, arn, n); err != nil && !errors.Is(err, budget.ErrExhausted) {
			t.fail(rep, "sample failures of "+arn, err)
		}
	}
	if !steered && (needsLive(st, snap, len(p.signals) > 0, tc.now) || running(snap) && crowded(p, st)) {
		if o.Live, err = tc.obs.SampleRunning(tc.work, arn, liveSince(st, tc.now, t.cfg.Period)); err != nil && !errors.Is(err, budget.ErrExhausted) && !errors.Is(err, observe.ErrUnsupported) {
			t.fail(rep, "sample running children of "+arn, err)
		}
	}
	t.act(tc, p, run, st, o, d, steered)
}

// act decides on the run of plan p, whose state is st, from observation o,
// unless an operator's control decided d (steered); then applies the
// decision, logs it and records the run. It reports whether a decision
// was made.
func (t *Tuner) act(tc *tick, p plan, run registry.Run, st control.State, o control.Observation, d control.Decision, steered bool) (decided bool) {
	arn, rep, snap := p.run.ARN, tc.rep, o.Run
	if !steered {
		d = control.Decide(p.policy.Control, st, o)
	}
	rd := RunDecision{MapRunARN: arn, Policy: p.policy.Policy, Decision: d, DryRun: t.cfg.DryRun || t.cfg.ActuationOff || p.policy.DryRun}

	state := d.State
	switch {
	case d.Update && rd.DryRun:
		// Keep what the observation taught, not what the decision assumed
		// of its own effect: the next tick decides again from the run as it is.
		state = control.Unapplied(st, d)
	case d.Update:
		var ended, lost bool
		state, rd.Applied, ended, lost = t.apply(tc, &run, st, p, d)
		if lost {
			return false // someone else wrote the run since it was read: theirs
		}
		if ended {
			rep.Decided++
			t.log(rd, o)
			t.end(tc, arn, "ended before update")
			return true
		}
		if rd.Applied {
			rep.Updated++
		}
	}
	rep.Decided++
	t.log(rd, o)
	rep.Decisions = append(rep.Decisions, rd)

	if d.Learn != nil && !t.remember(tc, p, *d.Learn) {
		state.Taught = st.Taught // not handed on: the next decision hands it on
	}
	logIt := logged(run.LastDecision, d, steered)
	run.State, run.Failures = state, 0
	if o.Estimated && !d.Update {
		// A hold from late counts changes nothing to record: the last
		// decision stays the last live one, and the decision log and the
		// run item are not written for it (its line is in the log).
		logIt = false
	} else {
		run.LastDecision = &d
	}
	if snap.Status.Ended() {
		run.Ended, run.EndedAt, run.EndReason = true, tc.now, string(snap.Status)
		rep.Ended++
	}
	tc.p.sharing.decided(run)
	if !t.keep(tc, run, logIt) {
		return true
	}
	if k := t.known[arn]; k != nil {
		tc.p.runs[arn] = &held{at: tc.now, version: k.run.Version, look: t.looks() && (needsLook(state, snap, tc.now) || running(snap) && crowded(p, state))}
	}
	if !logIt {
		return true
	}
	if err := t.deps.Store.AppendDecision(tc.finish, arn, tc.now, d); err != nil {
		t.fail(rep, "log decision of "+arn, err)
	}
	return true
}

// apply holds the run (registry Hold: nobody wrote it since it was read,
// nobody else holds it) recording the limit it is about to send, then
// sends d, and returns the state to save: d's when it was applied; else
// what d learned (control.Unapplied), still naming the limit sent while
// the call's outcome is unknown. ended reports a run that ended
// meanwhile; lost a run that could not be held (nothing was sent, nothing
// is to be saved). prev is the state d was decided from.
func (t *Tuner) apply(tc *tick, run *registry.Run, prev control.State, p plan, d control.Decision) (state control.State, applied, ended, lost bool) {
	arn := run.ARN
	unapplied := control.Unapplied(prev, d)
	sent := &control.Setting{From: tc.now, MaxConcurrency: d.New.MaxConcurrency}
	intent := *run
	intent.State.Sent = sent
	// The lease ends with the period at the latest, so that a look that
	// never saved does not keep the next full pass from the run.
	held, err := t.deps.Store.Hold(tc.work, intent, t.cfg.Owner, tc.now, tc.p.end.Sub(tc.now))
	if err != nil {
		// Unrecorded, the update would look like someone else's if its
		// save were lost: do not send it.
		delete(t.known, arn)
		switch {
		case errors.Is(err, registry.ErrLeased):
			tc.rep.skip("leased")
		case errors.Is(err, registry.ErrConflict):
			tc.rep.skip("taken")
		default:
			t.fail(tc.rep, "record the update of "+arn, err)
		}
		return unapplied, false, false, true
	}
	run.Version, run.LeaseOwner, run.LeaseUntil = held.Version, held.LeaseOwner, held.LeaseUntil
	ok, err := tc.app.Apply(tc.work, actuate.Update{MapRunARN: arn, Old: d.Old, New: d.New, AllowUnlimited: p.policy.Control.Unlimited})
	switch {
	case ok:
		return d.State, true, false, false
	case errors.Is(err, actuate.ErrRunEnded):
		return unapplied, false, true, false
	case err == nil:
		return unapplied, false, false, false
	case errors.Is(err, budget.ErrExhausted), errors.Is(err, actuate.ErrInvalid), errors.Is(err, actuate.ErrUnsafe):
		t.fail(tc.rep, "update "+arn, err) // refused before any call
		return unapplied, false, false, false
	}
	// The call may have reached Step Functions (a timeout, a lost answer):
	// the next tick takes the limit sent, if it finds it, for its own.
	t.fail(tc.rep, "update "+arn, err)
	unapplied.Sent = sent
	return unapplied, false, false, false
}

// adopt returns st ready for a decision on a run whose limit is cur: a
// limit equal to the one an update in doubt sent (State.Sent) is
// maptuner's own, in effect since it was sent, not someone else's.
func adopt(st control.State, cur int32) control.State {
	sent := st.Sent
	st.Sent = nil
	if sent == nil || sent.MaxConcurrency != cur || len(st.History) == 0 || st.History[len(st.History)-1].MaxConcurrency == cur {
		return st
	}
	st.History = append(slices.Clone(st.History), *sent)
	return st
}

// log writes the decision line and, for a live observation o, the run's metrics.
func (t *Tuner) log(rd RunDecision, o control.Observation) {
	d := rd.Decision
	attrs := []any{
		"run", rd.MapRunARN, "policy", rd.Policy,
		"old", d.Old, "new", d.New, "reason", d.Reason, "toleranceReason", d.ToleranceReason,
		"message", d.Message, "update", d.Update, "applied", rd.Applied, "dryRun", rd.DryRun,
		"signals", d.Signals, "items", o.Run.Items,
	}
	if o.Estimated {
		// Counts minutes late: the line says so, and the run's metrics
		// wait for its next live read rather than chart them.
		t.deps.Log.Info("decision", append(attrs, "late", true)...)
		return
	}
	t.deps.Log.Info("decision", attrs...)
	t.runMetrics(rd, o.Run)
}
