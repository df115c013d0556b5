package control

import (
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

func TestCollapse(t *testing.T) {
	cfg := testConfig()
	obs := func(at time.Time, limit int32, done, failed int64) Observation {
		r := run(limit, int64(limit), 5000)
		r.Items.Succeeded, r.Items.Failed = done-failed, failed
		return Observation{At: at, Run: r, Failures: FailureSample{Sampled: 10, Throttle: 10}}
	}
	// 180 ran clean; then nearly every item finished fails, throttled.
	st := State{
		Phase: PhaseBracket, Lo: 180, LoAt: at(0), Start: maprun.Settings{ToleratedFailurePercentage: 5},
		History: []Setting{{From: t0, MaxConcurrency: 180}},
		Ticks:   []Tick{{At: at(1), Running: 180, Done: 1000}},
		Prev:    maprun.Counts{Succeeded: 1000, Running: 180}, PrevAt: at(1),
	}
	d := Decide(cfg, st, obs(at(2), 180, 1065, 60))
	if d.Reason != ReasonCollapse || d.New.MaxConcurrency != 90 {
		t.Fatalf("%s %d, want Collapse 90 (maxStepDown 0.5 of 180): %s", d.Reason, d.New.MaxConcurrency, d.Message)
	}
	if d.State.Lo != 180 {
		t.Errorf("clean limit %d after the collapse cut, want 180 kept to return to", d.State.Lo)
	}
	// Twenty seconds later it still collapses: the cut is given its half
	// minute.
	d = Decide(cfg, d.State, obs(at(2).Add(20*time.Second), 90, 1110, 100))
	if d.Reason == ReasonCollapse && d.New.MaxConcurrency < 90 {
		t.Fatalf("%s %d twenty seconds after a collapse cut, want no second cut yet: %s", d.Reason, d.New.MaxConcurrency, d.Message)
	}
	// Half a minute after the cut, the children drained to it and items
	// still failing: cut again, not a minute of retries later.
	d = Decide(cfg, d.State, obs(at(2).Add(30*time.Second), 90, 1130, 120))
	if d.Reason != ReasonCollapse || d.New.MaxConcurrency != 45 {
		t.Fatalf("%s %d half a minute after a collapse cut, want Collapse 45: %s", d.Reason, d.New.MaxConcurrency, d.Message)
	}
	if d.State.Lo != 180 {
		t.Errorf("clean limit %d after the second collapse cut, want 180 kept to return to", d.State.Lo)
	}
	// A run that never ran clean is not collapsing: its first throttling is.
	st.Lo = 0
	if d := Decide(cfg, st, obs(at(2), 180, 1065, 60)); d.Reason == ReasonCollapse {
		t.Fatalf("collapse without a clean limit before: %s", d.Message)
	}
}

// A step script at fixed instants: after a collapse the run returns to the
// clean limit of before as soon as nothing fails and the children of the
// higher limits have drained, a late throttled minute
// of the collapse does not cut it again, and a second collapse there
// lowers what it returns to.
func TestCollapseReturn(t *testing.T) {
	cfg := testConfig()
	obs := func(at time.Time, limit int32, done, failed int64) Observation {
		r := run(limit, int64(limit), 5000)
		r.Items.Succeeded, r.Items.Failed = done-failed, failed
		return Observation{At: at, Run: r, MetricsWatched: true, Throttles: []Datapoint{{Minute: at.Add(-3 * time.Minute).Truncate(time.Minute)}}}
	}
	st := State{
		Phase: PhaseBracket, Lo: 180, LoAt: at(0), Start: maprun.Settings{ToleratedFailurePercentage: 5},
		History: []Setting{{From: t0, MaxConcurrency: 180}},
		Ticks:   []Tick{{At: at(1), Running: 180, Done: 1000}},
		Prev:    maprun.Counts{Succeeded: 1000, Running: 180}, PrevAt: at(1),
	}
	steps := []struct {
		at          time.Time
		limit       int32
		done, fail  int64
		running     int64   // children running; the limit when zero
		late        float64 // a throttled datapoint for the minute from at(1)
		reason      Reason
		want, clean int32
	}{
		{at: at(2), limit: 180, done: 1065, fail: 60, reason: ReasonCollapse, want: 90, clean: 180},
		// Nothing new fails, but the children of 180 still retry: held.
		{at: at(2).Add(30 * time.Second), limit: 90, running: 150, done: 1165, fail: 60, reason: ReasonCollapse, want: 90, clean: 180},
		// Nothing fails any more: back to 180 at once, not step by step.
		{at: at(2).Add(time.Minute), limit: 90, done: 1265, fail: 60, reason: ReasonReturn, want: 180, clean: 180},
		// The minute of the collapse comes in late, throttled: answered.
		{at: at(3).Add(30 * time.Second), limit: 180, done: 1365, fail: 60, late: 900, reason: ReasonConverged, want: 180, clean: 180},
		// It collapses again at 180 itself: 180 was not clean.
		{at: at(5), limit: 180, done: 1430, fail: 120, reason: ReasonCollapse, want: 90, clean: 125},
	}
	for i, s := range steps {
		o := obs(s.at, s.limit, s.done, s.fail)
		if s.running > 0 {
			o.Run.Items.Running = s.running
		}
		o.Failures = FailureSample{Sampled: 10, Throttle: 10}
		if s.late > 0 {
			o.Throttles = append(o.Throttles, Datapoint{Minute: at(1), Value: s.late})
		}
		d := Decide(cfg, st, o)
		if d.Reason != s.reason || d.New.MaxConcurrency != s.want || d.State.Lo != s.clean {
			t.Fatalf("step %d: %s %d (clean %d), want %s %d (clean %d): %s", i, d.Reason, d.New.MaxConcurrency, d.State.Lo, s.reason, s.want, s.clean, d.Message)
		}
		st = d.State
	}
}
