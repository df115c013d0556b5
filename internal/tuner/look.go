package tuner

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/maptuner/maptuner/internal/actuate"
	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
)

// DefaultLookEvery is how often an invocation looks again, within its
// period, at the runs that need it, when Config.LookEvery is zero.
const DefaultLookEvery = 10 * time.Second

// period is what an invocation keeps from its full pass (Tick) for the
// looks that follow it (Look): the budget they share, the runs' plans and
// throttle datapoints, and the runs it decided on.
type period struct {
	// start is the full pass's instant; end the next one's.
	start, end time.Time
	budget     *budget.Budget
	obs        *observe.Observer
	app        *actuate.Applier
	plans      []plan
	throttles  map[string][]control.Datapoint
	// sharing tells of the open runs that share a downstream.
	sharing *sharing
	// runs are the runs this period decided on, by ARN; last those the
	// period before decided on, in this process.
	runs, last map[string]*held
}

// held is what a period knows of a run it decided on.
type held struct {
	// at is the instant of the run's last decision this period, and
	// version the run's stored version after it: while it is stored, no
	// one else has written the run since. look is whether the run needs
	// looks (needsLook) after it.
	at      time.Time
	version int64
	look    bool
}

// mine reports whether run, as stored, is as this process's last decision
// left it, this period or the one before: a run its own looks decided
// seconds before this period began is not someone else's.
func (p *period) mine(run registry.Run) bool {
	h := p.runs[run.ARN]
	if h == nil {
		h = p.last[run.ARN]
	}
	return h != nil && run.Version == h.version
}

// due are the plans of the runs that need a look, the least recently
// decided first.
func (p *period) due() []plan {
	var out []plan
	for _, pl := range p.plans {
		if h := p.runs[pl.run.ARN]; h != nil && h.look {
			out = append(out, pl)
		}
	}
	slices.SortFunc(out, func(a, b plan) int {
		return cmp.Or(p.runs[a.run.ARN].at.Compare(p.runs[b.run.ARN].at), cmp.Compare(a.run.ARN, b.run.ARN))
	})
	return out
}

// looking is the number of runs that need a look, 0 once the period's
// budget has no call left of an API a look is paced on (lookAPIs).
func (p *period) looking() int {
	if slices.ContainsFunc(lookAPIs, func(api budget.API) bool { return p.budget.Remaining(api) <= 0 }) {
		return 0
	}
	return len(p.due())
}

// lookAPIs are the APIs whose remaining budget is spread over the looks
// left in a period: a look's describe and live sample.
var lookAPIs = []budget.API{budget.DescribeMapRun, budget.GetExecutionHistory}

// Look looks again, at the instant now within the period of the last
// Tick, at the runs that need it: those the period decided on that are in
// slow start or probing, above the limit they confirmed, or just cut
// (needsLook). A look is a pass over those runs, the least recently decided
// first: claim, DescribeMapRun, live sample, decide, apply, save, with the
// throttle datapoints the full pass read (no metric read). A converged run
// is decided once a period, by Tick. A run that another invocation decided
// on since this one did is left to it (skipped as "taken").
//
// Looks spend from the period's budget, built by Tick: each look may spend
// its share of what is left (what is left divided by the looks left until
// the period ends), so that the last looks of the period get their share
// and the period's sum stays within the budget; the next Tick builds a new
// one, so looks never starve the next full pass.
//
// Look does nothing before the first Tick, after a Tick that failed, at an
// instant outside the period, and when Config.LookEvery is negative. The
// Report's Looking says how many runs still need looks; Calls are this
// look's. Errors about single runs are in the Report and the log, as for
// Tick.
func (t *Tuner) Look(ctx context.Context, now time.Time) Report {
	var rep Report
	p := t.cur
	if p == nil || !t.looks() || !now.After(p.start) || !now.Before(p.end) {
		return rep
	}
	rep.Looks = 1
	work, finish, cancel := phases(ctx, t.cfg.SaveReserve)
	defer cancel()
	tc := &tick{work: work, finish: finish, now: now, obs: p.obs, app: p.app, rep: &rep, p: p, look: true}
	before := p.budget.Spent()
	// The looks left in the period, this one included.
	left := int((p.end.Sub(now) + t.cfg.LookEvery - 1) / t.cfg.LookEvery)
	share := map[budget.API]int{}
	for _, api := range lookAPIs {
		share[api] = (p.budget.Remaining(api) + left - 1) / left
	}
	for _, pl := range p.due() {
		if work.Err() != nil {
			rep.skip("deadline")
			continue
		}
		spent := p.budget.Spent()
		if slices.ContainsFunc(lookAPIs, func(api budget.API) bool { return spent[api]-before[api] >= share[api] }) {
			rep.skip("budget")
			continue
		}
		t.tune(tc, pl, p.throttles[pl.run.ARN])
	}
	spent := p.budget.Spent()
	for api, n := range spent {
		if n -= before[api]; n > 0 {
			if rep.Calls == nil {
				rep.Calls = map[budget.API]int{}
			}
			rep.Calls[api] = n
		}
	}
	rep.Looking = p.looking()
	return rep
}

// looks reports whether looks are on.
func (t *Tuner) looks() bool { return t.cfg.LookEvery > 0 }

// fresh reports whether the claimed run was decided on moments ago by
// someone else (an overlapping invocation): less than half a period ago,
// or, for a run that needs looks, less than half a look interval ago, so
// that the next period's full pass decides a run that the looks of the
// period before decided seconds ago. A run this period decided last is not.
func (t *Tuner) fresh(tc *tick, run registry.Run) bool {
	st := run.State
	if st.PrevAt.IsZero() || tc.p.mine(run) {
		return false
	}
	within := t.cfg.Period / 2
	var cur int32
	if n := len(st.History); n > 0 {
		cur = st.History[n-1].MaxConcurrency
	}
	if t.looks() && unsettled(st, cur, tc.now) {
		within = min(within, t.cfg.LookEvery/2)
	}
	return tc.now.Sub(st.PrevAt) < within
}

// liveWindow is how long after a cut a run's running children are still
// sampled at each decision, to tell at once whether the cut was enough.
const liveWindow = 5 * time.Minute

// unsettled reports whether a run whose state is st and limit cur may
// change soon: it grows (slow start, probing), its limit is not confirmed
// clean (cur above Lo, or unlimited), or it was cut less than liveWindow
// ago.
func unsettled(st control.State, cur int32, now time.Time) bool {
	return st.Phase != control.PhaseBracket || cur == 0 || cur > st.Lo ||
		!st.CutAt.IsZero() && now.Sub(st.CutAt) < liveWindow
}

// running reports whether the run has children running.
func running(snap maprun.Snapshot) bool {
	return snap.Status == maprun.StatusRunning && snap.Items.Running > 0
}

// needsLook reports whether a run decided into state st, seen as snap, is
// looked at again within the period: it runs and is unsettled, or its
// items started failing (fail-fast and the tolerances must not wait a
// minute). A new run is in slow start.
func needsLook(st control.State, snap maprun.Snapshot, now time.Time) bool {
	return running(snap) && (unsettled(st, snap.Settings.MaxConcurrency, now) || failingNow(st))
}

// failingNow reports whether items failed between the last two
// observations of state st.
func failingNow(st control.State) bool {
	n := len(st.Ticks)
	return n >= 2 && st.Ticks[n-1].Failed > st.Ticks[n-2].Failed
}

// needsLive reports whether the decision on a running run may turn on a live
// sample of its running children (observe.SampleRunning): while it is
// unsettled, and always when the policy names no throttle metric, since
// then the children are the only ones to tell of throttling.
func needsLive(st control.State, snap maprun.Snapshot, metrics bool, now time.Time) bool {
	return running(snap) && (!metrics || unsettled(st, snap.Settings.MaxConcurrency, now))
}

// liveSince is the start of the window a live sample looks at: the previous
// observation of the run, at most two periods back, or one period back for
// a run not observed before.
func liveSince(st control.State, now time.Time, period time.Duration) time.Time {
	switch {
	case st.PrevAt.IsZero():
		return now.Add(-period)
	case st.PrevAt.Before(now.Add(-2 * period)):
		return now.Add(-2 * period)
	}
	return st.PrevAt
}
