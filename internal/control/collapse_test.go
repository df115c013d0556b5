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
	// Half a minute later it still collapses: the cut is given its minute.
	d = Decide(cfg, d.State, obs(at(2).Add(30*time.Second), 90, 1130, 120))
	if d.Reason == ReasonCollapse || d.New.MaxConcurrency < 90 {
		t.Fatalf("%s %d half a minute after a collapse cut, want no second cut yet: %s", d.Reason, d.New.MaxConcurrency, d.Message)
	}
	// A run that never ran clean is not collapsing: its first throttling is.
	st.Lo = 0
	if d := Decide(cfg, st, obs(at(2), 180, 1065, 60)); d.Reason == ReasonCollapse {
		t.Fatalf("collapse without a clean limit before: %s", d.Message)
	}
}
