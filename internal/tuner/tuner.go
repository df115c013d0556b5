// Package tuner runs one tick of maptuner: discover the Map Runs of watched
// executions, observe every tracked run within the account's API budget,
// decide with the pure controller, apply the decision, and record it.
//
// Decide, then apply: control.Decide builds the plan; actuate.Applier is the
// only code that calls UpdateMapRun. The simulator and the Lambda run this
// same code against different implementations of the same interfaces.
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
	"github.com/maptuner/maptuner/internal/emf"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

// SFNAPI is the Step Functions API the tuner reads and writes.
type SFNAPI interface {
	observe.SFNAPI
	actuate.UpdateAPI
}

// Store is the tuner's durable state: watched executions and tracked runs.
type Store interface {
	discoveryStore
	PutRun(ctx context.Context, r registry.Run) (bool, error)
	ActiveRuns(ctx context.Context) ([]registry.Run, error)
	Claim(ctx context.Context, arn, owner string, now time.Time, ttl time.Duration) (registry.Run, error)
	Save(ctx context.Context, r registry.Run, owner string, now time.Time) error
	EndRun(ctx context.Context, arn, reason string, at time.Time) error
	AppendDecision(ctx context.Context, arn string, at time.Time, d control.Decision) error
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
}

// Deps are the tuner's collaborators.
type Deps struct {
	SFN        SFNAPI
	CloudWatch observe.MetricsAPI
	Store      Store
	Policies   *policy.Set
	// Log gets one JSON line per decision; nil discards.
	Log *slog.Logger
	// Metrics gets embedded-metric-format lines; nil discards.
	Metrics io.Writer
}

// Tuner runs ticks. It is safe to call Tick from one goroutine at a time;
// overlapping ticks in different processes are kept apart by run leases.
type Tuner struct {
	cfg  Config
	deps Deps
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
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = io.Discard
	}
	return &Tuner{cfg: cfg, deps: deps}, nil
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
	// Skipped counts runs not decided on, by reason (leased, budget, policy, error).
	Skipped map[string]int `json:"skipped,omitempty"`
	// Decisions are the decisions made, in order.
	Decisions []RunDecision `json:"decisions,omitempty"`
	// Calls are the budgeted API calls spent.
	Calls map[budget.API]int `json:"calls,omitempty"`
	// Errors are the errors met that did not stop the tick, as text.
	Errors []string `json:"errors,omitempty"`
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

// Tick runs one tick at the instant now. It returns an error only when it
// could do nothing at all (the store is unreadable); errors about single runs
// are in the Report and the log, and leave that run's state as it was.
func (t *Tuner) Tick(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	b, err := budget.New(budget.Config{Region: t.cfg.Region, Fraction: t.cfg.BudgetFraction, Period: t.cfg.Period})
	if err != nil {
		return rep, fmt.Errorf("tuner: %w", err)
	}
	obs := &observe.Observer{SFN: t.deps.SFN, Metrics: t.deps.CloudWatch, Budget: b}
	app := &actuate.Applier{SFN: t.deps.SFN, Budget: b}

	runs, err := t.activeRuns(ctx, &rep)
	if err != nil {
		return rep, err
	}
	if err := t.discover(ctx, b, runs, now, &rep); err != nil {
		return rep, err
	}
	if rep.Discovered > 0 || rep.Ended > 0 {
		if runs, err = t.activeRuns(ctx, &rep); err != nil {
			return rep, err
		}
	}
	rep.Tracked = len(runs)

	plans := t.plan(runs, &rep)
	throttles := t.throttles(ctx, obs, plans, now, &rep)
	// Runs throttled since they were last observed first, then the least
	// recently observed, so that a short budget goes where it matters and
	// then round.
	slices.SortFunc(plans, func(a, b plan) int {
		return cmp.Or(
			-cmp.Compare(throttledSince(throttles[a.run.ARN], a.run.State.PrevAt), throttledSince(throttles[b.run.ARN], b.run.State.PrevAt)),
			a.run.State.PrevAt.Compare(b.run.State.PrevAt),
			cmp.Compare(a.run.ARN, b.run.ARN))
	})
	for _, p := range plans {
		if deadline, ok := ctx.Deadline(); ctx.Err() != nil || ok && time.Until(deadline) < deadlineMargin {
			// Not enough time left to observe, apply and save: an update
			// whose state is not saved would be decided again.
			rep.skip("deadline")
			continue
		}
		t.tune(ctx, obs, app, p, throttles, now, &rep)
	}
	rep.Calls = b.Spent()
	return rep, nil
}

// sparseSettle is how long after its end a minute of a sparse signal with
// no datapoint is taken as 0.
const sparseSettle = 2 * time.Minute

// maxMetricWindow bounds how far back throttle datapoints are read.
const maxMetricWindow = 3 * time.Hour

// deadlineMargin is the time a run needs, at the least, to be observed,
// decided, applied and saved before the invocation's deadline.
const deadlineMargin = 5 * time.Second

// throttledSince counts the throttled minutes among points since the run
// was last observed (a minute before, for the datapoints published late).
func throttledSince(points []control.Datapoint, prev time.Time) int {
	n := 0
	for _, p := range points {
		if p.Value > 0 && p.Minute.After(prev.Add(-time.Minute)) {
			n++
		}
	}
	return n
}

// activeRuns lists the tracked runs; an undecodable one is reported and the
// others are tuned.
func (t *Tuner) activeRuns(ctx context.Context, rep *Report) ([]registry.Run, error) {
	runs, err := t.deps.Store.ActiveRuns(ctx)
	switch {
	case errors.Is(err, registry.ErrCorrupt):
		t.fail(rep, "list tracked runs", err)
	case err != nil:
		return nil, fmt.Errorf("tuner: list tracked runs: %w", err)
	}
	return runs, nil
}

func (t *Tuner) putExecution(ctx context.Context, e registry.Execution, rep *Report) {
	if _, err := t.deps.Store.PutExecution(ctx, e); err != nil {
		t.fail(rep, "end execution "+e.ARN, err)
	}
}

// plan is one run with its resolved policy.
type plan struct {
	run     registry.Run
	arn     maprun.ARN
	policy  policy.Resolved
	signals []observe.MetricQuery
	// sparse tells, for each signal, whether a minute without a datapoint counts as 0.
	sparse []bool
}

// plan resolves each run's policy and metric queries; runs whose ARN or
// policy is bad are left untouched and logged.
func (t *Tuner) plan(runs []registry.Run, rep *Report) []plan {
	plans := make([]plan, 0, len(runs))
	for _, r := range runs {
		arn, err := maprun.ParseARN(r.ARN)
		if err != nil {
			t.fail(rep, "tracked run", err)
			rep.skip("bad-arn")
			continue
		}
		res, err := t.deps.Policies.Resolve(r.Policy, arn.Label)
		if err != nil {
			t.deps.Log.Warn("run left untouched: its policy does not resolve", "run", r.ARN, "policy", r.Policy, "error", err.Error())
			rep.skip("policy")
			continue
		}
		p := plan{run: r, arn: arn, policy: res}
		for i, s := range res.Signals {
			s = s.Expand(arn)
			p.signals = append(p.signals, observe.MetricQuery{
				ID: fmt.Sprintf("%s#%d", r.ARN, i), Namespace: s.Namespace, Metric: s.Metric, Stat: s.Stat, Dimensions: s.Dimensions,
			})
			p.sparse = append(p.sparse, s.Sparse)
		}
		plans = append(plans, p)
	}
	return plans
}

// throttles reads every run's throttle signals in one batched GetMetricData
// and sums them per run and minute. A run whose query failed gets no entry.
func (t *Tuner) throttles(ctx context.Context, obs *observe.Observer, plans []plan, now time.Time, rep *Report) map[string][]control.Datapoint {
	var queries []observe.MetricQuery
	for _, p := range plans {
		queries = append(queries, p.signals...)
	}
	out := map[string][]control.Datapoint{}
	if len(queries) == 0 {
		return out
	}
	// Whole minutes only, and back far enough for the run observed longest
	// ago (a short budget can leave runs unobserved for several ticks).
	end := now.Truncate(time.Minute)
	start := end.Add(-t.cfg.MetricWindow)
	for _, p := range plans {
		if prev := p.run.State.PrevAt; !prev.IsZero() && prev.Add(-5*time.Minute).Before(start) {
			start = prev.Add(-5 * time.Minute).Truncate(time.Minute)
		}
	}
	if oldest := end.Add(-maxMetricWindow); start.Before(oldest) {
		start = oldest
	}
	// On error the series still holds the queries that completed.
	series, err := obs.Throttles(ctx, queries, start, end)
	if err != nil {
		t.fail(rep, "read throttle metrics", err)
	}
runs:
	for _, p := range plans {
		sum := map[time.Time]float64{}
		for i, q := range p.signals {
			points, ok := series[q.ID]
			if !ok {
				// One signal missing makes the sum a lie: the run has no data.
				continue runs
			}
			if p.sparse[i] {
				// A quiet minute publishes nothing: count it as 0 once
				// CloudWatch has had the time to publish it.
				for m := start; m.Before(end.Add(-sparseSettle)); m = m.Add(time.Minute) {
					sum[m] += 0
				}
			}
			for _, d := range points {
				sum[d.Minute] += d.Value
			}
		}
		points := make([]control.Datapoint, 0, len(sum))
		for m, v := range sum {
			points = append(points, control.Datapoint{Minute: m, Value: v})
		}
		slices.SortFunc(points, func(a, b control.Datapoint) int { return a.Minute.Compare(b.Minute) })
		out[p.run.ARN] = points
	}
	return out
}

// tune observes, decides, applies and records for one run.
func (t *Tuner) tune(ctx context.Context, obs *observe.Observer, app *actuate.Applier, p plan, throttles map[string][]control.Datapoint, now time.Time, rep *Report) {
	arn := p.run.ARN
	run, err := t.deps.Store.Claim(ctx, arn, t.cfg.Owner, now, t.cfg.Period)
	if errors.Is(err, registry.ErrLeased) {
		rep.skip("leased")
		return
	}
	if err != nil {
		t.fail(rep, "claim "+arn, err)
		return
	}
	if !run.State.PrevAt.IsZero() && now.Sub(run.State.PrevAt) < t.cfg.Period/2 {
		// An overlapping invocation decided on this run moments ago.
		rep.skip("fresh")
		t.release(ctx, run, now, rep)
		return
	}
	snap, err := obs.Describe(ctx, arn)
	switch {
	case errors.Is(err, observe.ErrNotFound):
		t.end(ctx, arn, "not found", now, rep)
		return
	case errors.Is(err, budget.ErrExhausted):
		rep.skip("budget")
		t.release(ctx, run, now, rep)
		return
	case err != nil:
		t.fail(rep, "describe "+arn, err)
		t.release(ctx, run, now, rep)
		return
	}
	o := control.Observation{At: now, Run: snap, MetricsWatched: len(p.signals) > 0, Throttles: throttles[arn]}
	if n := p.policy.FailureSample; n > 0 && snap.Items.Failures() > run.State.Prev.Failures() && snap.Status == maprun.StatusRunning {
		if o.Failures, err = obs.SampleFailures(ctx, arn, n); err != nil && !errors.Is(err, budget.ErrExhausted) {
			t.fail(rep, "sample failures of "+arn, err)
		}
	}
	d := control.Decide(p.policy.Control, run.State, o)
	rep.Decided++
	rd := RunDecision{MapRunARN: arn, Policy: p.policy.Policy, Decision: d, DryRun: t.cfg.DryRun || t.cfg.ActuationOff || p.policy.DryRun}

	state := d.State
	if d.Update && !rd.DryRun {
		sent, err := app.Apply(ctx, actuate.Update{MapRunARN: arn, Old: d.Old, New: d.New, AllowUnlimited: p.policy.Control.Unlimited})
		switch {
		case errors.Is(err, actuate.ErrRunEnded):
			t.log(rd, snap)
			t.end(ctx, arn, "ended before update", now, rep)
			return
		case err != nil:
			t.fail(rep, "update "+arn, err)
		}
		rd.Applied = sent
		if sent {
			rep.Updated++
		}
	}
	if d.Update && !rd.Applied {
		// Keep what the observation taught, not what the decision assumed
		// of its own effect: the next tick decides again from the run as it is.
		state = control.Unapplied(run.State, d)
	}
	t.log(rd, snap)
	rep.Decisions = append(rep.Decisions, rd)

	run.State, run.LastDecision = state, &d
	if snap.Status.Ended() {
		run.Ended, run.EndedAt, run.EndReason = true, now, string(snap.Status)
		rep.Ended++
	}
	if err := t.deps.Store.Save(ctx, run, t.cfg.Owner, now); err != nil {
		t.fail(rep, "save "+arn, err)
		return
	}
	if err := t.deps.Store.AppendDecision(ctx, arn, now, d); err != nil {
		t.fail(rep, "log decision of "+arn, err)
	}
}

// release gives the lease back without changing the run.
func (t *Tuner) release(ctx context.Context, run registry.Run, now time.Time, rep *Report) {
	if err := t.deps.Store.Save(ctx, run, t.cfg.Owner, now); err != nil {
		t.fail(rep, "release "+run.ARN, err)
	}
}

func (t *Tuner) end(ctx context.Context, arn, reason string, now time.Time, rep *Report) {
	if err := t.deps.Store.EndRun(ctx, arn, reason, now); err != nil {
		t.fail(rep, "end "+arn, err)
		return
	}
	rep.Ended++
	t.deps.Log.Info("tracking ended", "run", arn, "reason", reason)
}

func (t *Tuner) fail(rep *Report, what string, err error) {
	msg := fmt.Sprintf("tuner: %s: %v", what, err)
	rep.Errors = append(rep.Errors, msg)
	t.deps.Log.Error(msg)
}

// log writes the decision line and the run's metrics.
func (t *Tuner) log(rd RunDecision, snap maprun.Snapshot) {
	d := rd.Decision
	t.deps.Log.Info("decision",
		"run", rd.MapRunARN, "policy", rd.Policy,
		"old", d.Old, "new", d.New, "reason", d.Reason, "toleranceReason", d.ToleranceReason,
		"message", d.Message, "update", d.Update, "applied", rd.Applied, "dryRun", rd.DryRun,
		"signals", d.Signals, "items", snap.Items)
	name := rd.MapRunARN
	if a, err := maprun.ParseARN(rd.MapRunARN); err == nil {
		name = a.StateMachine + "/" + a.Label + ":" + a.ID
	}
	var updates float64
	if rd.Applied {
		updates = 1
	}
	err := emf.Write(t.deps.Metrics, emf.Record{
		Namespace:  "maptuner",
		Dimensions: map[string]string{"MapRun": name},
		Aggregate:  true,
		Metrics: []emf.Metric{
			{Name: "MaxConcurrency", Value: float64(d.New.MaxConcurrency), Unit: emf.Count},
			{Name: "Running", Value: float64(snap.Items.Running), Unit: emf.Count},
			{Name: "Throughput", Value: d.Signals.Throughput, Unit: emf.CountPerSec},
			{Name: "Throttles", Value: d.Signals.NewestValue, Unit: emf.Count},
			{Name: "FailedItems", Value: float64(snap.Items.Failures()), Unit: emf.Count},
			{Name: "Updates", Value: updates, Unit: emf.Count},
			{Name: "Decisions", Value: 1, Unit: emf.Count},
		},
		Properties: map[string]any{"reason": string(d.Reason), "mapRunArn": rd.MapRunARN},
		Time:       d.State.PrevAt,
	})
	if err != nil {
		t.deps.Log.Error("tuner: write metrics", "error", err.Error())
	}
}
