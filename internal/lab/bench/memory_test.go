package bench

import (
	"context"
	"testing"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// TestTunerRemembersAcrossRuns runs the same job three times in a row on
// one registry, without capacity hints: the first run starts from the
// definition's 10, the later
// ones from what the first learned, so they finish as soon with far fewer
// throttled calls and never double past the capacity.
func TestTunerRemembersAcrossRuns(t *testing.T) {
	sc := loadScenario(t, "nightly-repeat")
	w := sim.New(sc, 1)
	// Without capacity hints, so that the first run starts from nothing.
	s := &tunerStrategy{w: w, period: TickPeriod, noHints: true}
	s.err = s.init(TickPeriod)
	res := sim.Run(context.Background(), w, s, LookEvery)
	if res.StrategyErrors != 0 {
		t.Fatalf("%d strategy errors, first: %s", res.StrategyErrors, res.StrategyError)
	}
	if len(res.Runs) != 3 {
		t.Fatalf("%d runs, want 3", len(res.Runs))
	}
	first := res.Runs[0]
	for _, r := range res.Runs {
		if r.Status != "SUCCEEDED" {
			t.Fatalf("%s: %s, want SUCCEEDED", r.Name, r.Status)
		}
	}
	if len(first.Limits) < 2 || first.Limits[1].MaxConcurrency > 20 {
		t.Errorf("%s: limits %v, want a slow start from 10", first.Name, first.Limits)
	}
	capacity := int32(sc.Downstreams[0].Concurrency)
	for _, r := range res.Runs[1:] {
		if len(r.Limits) < 2 || r.Limits[1].MaxConcurrency < capacity*8/10 || r.Limits[1].MaxConcurrency > capacity {
			t.Errorf("%s: limits %v, want a start within 80 %% of the capacity %d and not above it", r.Name, r.Limits, capacity)
		}
		for _, l := range r.Limits {
			if l.MaxConcurrency > capacity*11/10 {
				t.Errorf("%s: limit %d at %s, more than 10 %% past the capacity %d", r.Name, l.MaxConcurrency, l.At, capacity)
			}
		}
		// The first run, looking every 10 s, is already within a few
		// percent of the best static setting: what memory saves is its
		// climb's throttling.
		if r.Makespan > first.Makespan*102/100 || r.ThrottledPercent >= first.ThrottledPercent/2 {
			t.Errorf("%s: %s with %.1f %% throttled, want no longer than the first run's %s and at most half its %.1f %%",
				r.Name, r.Makespan, r.ThrottledPercent, first.Makespan, first.ThrottledPercent)
		}
	}
}
