package control

import (
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

// TestEstimated runs a run against a downstream of 200 to where it holds,
// then decides from late counts (Observation.Estimated) at fixed instants:
// clean datapoints hold, a throttled minute cuts, and nothing else moves.
func TestEstimated(t *testing.T) {
	cfg := testConfig()
	cfg.Tolerance = Tolerance{BaselinePercent: 1, CeilingPercent: 5, CeilingCount: 1000, RaiseUnset: true}
	w := newWorld(200, 2*time.Minute, maprun.Settings{MaxConcurrency: 10}, 1_000_000)
	var st State
	minute := 0
	for ; minute < 60; minute++ {
		d := Decide(cfg, st, w.observe(at(minute)))
		st = d.State
		w.set(at(minute), d.New)
		if minute > 20 && !d.Update && (d.Reason == ReasonConverged || d.Reason == ReasonWithinBand) {
			break
		}
	}
	if minute == 60 {
		t.Fatalf("no hold within an hour: state %+v", st)
	}
	held := w.settings
	live := st

	// Late counts: the live ones plus children finished since, and failures.
	late := func(m int, throttles []Datapoint) Observation {
		o := w.observe(at(m))
		o.Estimated = true
		o.Run.Items.Failed = 30
		if throttles != nil {
			o.Throttles = throttles
		}
		return o
	}
	clean := Decide(cfg, live, late(minute+2, nil))
	if clean.Update || clean.Reason != ReasonLateCounts || clean.New != held {
		t.Fatalf("clean late counts: %s update=%v %+v, want %s holding %+v: %s", clean.Reason, clean.Update, clean.New, ReasonLateCounts, held, clean.Message)
	}
	if clean.State.PrevAt != live.PrevAt || clean.State.Prev != live.Prev || len(clean.State.Ticks) != len(live.Ticks) {
		t.Errorf("late counts became the throughput base: prev %v at %s, %d ticks; want %v at %s, %d ticks",
			clean.State.Prev, clean.State.PrevAt, len(clean.State.Ticks), live.Prev, live.PrevAt, len(live.Ticks))
	}
	if clean.Signals.Throughput != 0 {
		t.Errorf("throughput %v from late counts, want none", clean.Signals.Throughput)
	}

	// A throttled minute while the held limit was in effect cuts it.
	m := at(minute + 3).Add(-2 * time.Minute).Truncate(time.Minute)
	throttled := append(w.observe(at(minute+3)).Throttles, Datapoint{Minute: m, Value: 400})
	cut := Decide(cfg, clean.State, late(minute+3, throttled))
	if !cut.Update || cut.New.MaxConcurrency >= held.MaxConcurrency || cut.Reason != ReasonThrottled {
		t.Fatalf("throttled minute in late counts: %s %+v, want a %s cut below %d: %s", cut.Reason, cut.New, ReasonThrottled, held.MaxConcurrency, cut.Message)
	}
	if cut.New.ToleratedFailurePercentage != held.ToleratedFailurePercentage || cut.New.ToleratedFailureCount != held.ToleratedFailureCount {
		t.Errorf("late counts moved the tolerances: %+v, want those of %+v", cut.New, held)
	}
}
