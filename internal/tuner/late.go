package tuner

// This file decides steady runs from late counts once the period has no
// DescribeMapRun left. DescribeMapRun refills at one call a second for the
// whole account: at a thousand open runs it reads each run every half
// hour. AWS/States publishes the finished children of every labelled
// state machine a minute or two late, and one GetMetricData reads 500
// such series: enough to keep deciding every run from its throttle
// datapoints, cutting when they say so, while the live reads go first to
// the runs whose limit is moving (control.Observation.Estimated).

import (
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
)

// lateEvery is how often a run is decided from late counts: every other
// period of a minute, which halves what its metrics cost (docs/cost.md).
const lateEvery = 2 * time.Minute

// lateDue reports whether the run arn is due to be decided from late
// counts at now: this process has not done so within lateEvery.
func (t *Tuner) lateDue(arn string, now time.Time) bool {
	at, ok := t.lateAt[arn]
	return !ok || now.Sub(at) >= lateEvery
}

// liveEvery is how long a steady run may go without a live read while
// others need one: past it, it is read live again before the runs that
// were read more recently.
const liveEvery = 10 * time.Minute

// estimable reports whether the run of plan p may be decided from late
// counts at now: the limit its last decision set is the one in effect, by
// its state, with no update in doubt; items are pending; each child runs
// one item (AWS/States counts children, the tolerances count items); its
// last live read is within maxMetricWindow; and no other open run shares
// its labelled state machine ARN, whose metrics they would share.
// labelled counts the open runs by labelled state machine ARN.
func estimable(p plan, labelled map[string]int, now time.Time) bool {
	st, d := p.run.State, p.run.LastDecision
	if d == nil || st.Sent != nil || st.PrevAt.IsZero() || now.Sub(st.PrevAt) > maxMetricWindow || len(st.History) == 0 || len(st.Ticks) == 0 {
		return false
	}
	switch d.Reason {
	case control.ReasonPaused, control.ReasonPinned, control.ReasonRollback, control.ReasonEnded:
		return false
	}
	last := st.Ticks[len(st.Ticks)-1]
	return d.New.MaxConcurrency == st.History[len(st.History)-1].MaxConcurrency && st.Prev.Pending > 0 &&
		last.At.Equal(st.PrevAt) && last.Done == st.Prev.Done() && last.Failed == st.Prev.Failures() &&
		labelled[p.arn.LabelledStateMachineARN()] == 1
}

// steady reports whether the run of plan p is estimable and its limit
// settled (not unsettled): one that can wait for its live read.
func steady(p plan, labelled map[string]int, now time.Time) bool {
	h := p.run.State.History
	return estimable(p, labelled, now) && !unsettled(p.run.State, h[len(h)-1].MaxConcurrency, now)
}

// labelledCounts counts the plans by labelled state machine ARN.
func labelledCounts(plans []plan) map[string]int {
	n := make(map[string]int, len(plans))
	for _, p := range plans {
		n[p.arn.LabelledStateMachineARN()]++
	}
	return n
}

// tuneLate decides each estimable run of plans from its throttle datapoints
// and the children AWS/States counts finished since its last live read,
// read for all of them in one batched GetMetricData. A run held by an
// operator's control, or whose counts could not be read, is skipped for
// budget: the next period reads it live first.
func (t *Tuner) tuneLate(tc *tick, plans []plan, throttles map[string][]control.Datapoint) {
	s := t.steering(tc)
	queries := make(map[string]observe.FinishedQuery, len(plans))
	for _, p := range plans {
		if _, held := s.governing(p); held || s.err != nil {
			tc.rep.skip("budget")
			continue
		}
		queries[p.run.ARN] = observe.FinishedQuery{StateMachineARN: p.arn.LabelledStateMachineARN(), Since: p.run.State.PrevAt}
	}
	finished, err := tc.obs.Finished(tc.work, queries, tc.now)
	if err != nil {
		t.fail(tc.rep, "read the finished children of runs not read live", err)
	}
	for _, p := range plans {
		if _, asked := queries[p.run.ARN]; !asked {
			continue
		}
		f, ok := finished[p.run.ARN]
		if !ok || tc.work.Err() != nil {
			tc.rep.skip("budget")
			continue
		}
		run, ok := t.take(tc, p.run.ARN)
		if !ok {
			continue
		}
		o := control.Observation{
			At: tc.now, Run: lateSnapshot(run, f), Estimated: true,
			MetricsWatched: len(p.signals) > 0, Throttles: throttles[p.run.ARN], Shared: tc.p.sharing.of(p.run.ARN),
		}
		if t.act(tc, p, run, run.State, o, control.Decision{}, false) {
			tc.rep.Late++
			t.lateAt[p.run.ARN] = tc.now
		}
	}
}

// lateSnapshot is run as its late counts tell it: the settings last
// decided, and the item counts of its last live read with the children
// finished since, f, each one item, the pending ones taking the places of
// those that finished.
func lateSnapshot(run registry.Run, f observe.Finished) maprun.Snapshot {
	items := run.State.Prev
	n := min(f.Succeeded+f.Failed+f.TimedOut, items.Pending+items.Running)
	items.Succeeded += f.Succeeded
	items.Failed += f.Failed
	items.TimedOut += f.TimedOut
	started := min(n, items.Pending)
	items.Pending -= started
	items.Running -= n - started
	return maprun.Snapshot{
		ARN: run.ARN, ExecutionARN: run.ExecutionARN, Status: maprun.StatusRunning,
		Settings: run.LastDecision.New, Items: items,
	}
}
