package control

import (
	"testing"
)

func TestSharedDownstream(t *testing.T) {
	clean := func(since int) LiveSample { return LiveSample{Since: sec(since, 30), Sampled: 12} }
	throttled := func(since int) LiveSample {
		return LiveSample{Since: sec(since, 30), Sampled: 12, Throttled: 6, NewestAt: sec(since, 50), StartedAt: sec(since, 31)}
	}
	two := func(others int32) *Share { return &Share{Runs: 2, Others: others} }
	t.Run("a run above its fair share gives way to the newcomer", func(t *testing.T) {
		st := runLive(t, []liveStep{
			{at: sec(0, 30), limit: 80, running: 80, reason: ReasonSlowStart, want: 160},
			{at: sec(1, 30), limit: 160, running: 160, live: clean(0), reason: ReasonSlowStart, want: 320},
			{at: sec(2, 30), limit: 320, running: 320, live: clean(1), reason: ReasonSlowStart, want: 640},
			// A second run of 40 joined: together 680 met the capacity.
			// The fair share is (640 + 40) x 0.95 / 2 = 323.
			{at: sec(3, 30), limit: 640, running: 640, live: throttled(2), shared: two(40), reason: ReasonLiveThrottled, want: 323, liveWord: true},
		})
		if st.Lo > 323 {
			t.Errorf("clean limit %d kept above the fair share 323: the run would return to it", st.Lo)
		}
	})
	t.Run("a run within its fair share holds and learns no bound", func(t *testing.T) {
		st := runLive(t, []liveStep{
			{at: sec(0, 30), limit: 40, running: 40, shared: two(640), reason: ReasonSlowStart, want: 80},
			{at: sec(1, 30), limit: 80, running: 80, live: throttled(0), shared: two(640), reason: ReasonLiveThrottled, want: 80, liveWord: true},
		})
		if st.Hi != 0 {
			t.Errorf("bound %d learned from throttling the other run caused", st.Hi)
		}
	})
	t.Run("a neighbour that ends frees its share: the bound found with it expires", func(t *testing.T) {
		st := runLive(t, []liveStep{
			{at: sec(0, 30), limit: 100, running: 100, shared: two(100), reason: ReasonSlowStart, want: 200},
			// Fair share (200 + 100) x 0.95 / 2 = 142; the backoff cuts lower.
			{at: sec(1, 30), limit: 200, running: 200, live: throttled(0), shared: two(100), reason: ReasonLiveThrottled, want: 140, liveWord: true},
			{at: sec(2, 30), limit: 140, running: 140, live: clean(1), shared: two(100), reason: ReasonBisect, want: 147},
			// The other run ended: no bound any more, slow start again.
			{at: sec(3, 30), limit: 147, running: 147, live: clean(2), reason: ReasonSlowStart, want: 294},
		})
		if st.Phase != PhaseSlowStart || st.Hi != 0 {
			t.Errorf("phase %s, bound %d after the neighbour left; want slow start with no bound", st.Phase, st.Hi)
		}
	})
}

func TestCapacityBound(t *testing.T) {
	clean := func(since int) LiveSample { return LiveSample{Since: sec(since, 30), Sampled: 12} }
	t.Run("a run starts at half the bound, holds at it, and probes past it after the recovery time", func(t *testing.T) {
		cfg := testConfig()
		cfg.GrowthFactor = 1.5
		var st State
		steps := []struct {
			min    int
			limit  int32
			reason Reason
			want   int32
		}{
			{0, 10, ReasonHint, 200},
			{1, 200, ReasonSlowStart, 300},
			{2, 300, ReasonSlowStart, 400},
			{3, 400, ReasonConverged, 400},
			{9, 400, ReasonProbe, 408},
		}
		for i, s := range steps {
			obs := Observation{At: sec(s.min, 30), Run: run(s.limit, int64(s.limit), 50000), Bound: 400}
			if i > 0 {
				obs.Live = clean(steps[i-1].min)
			}
			d := Decide(cfg, st, obs)
			if d.Reason != s.reason || d.New.MaxConcurrency != s.want {
				t.Fatalf("step %d: %s %d, want %s %d: %s", i, d.Reason, d.New.MaxConcurrency, s.reason, s.want, d.Message)
			}
			st = d.State
		}
	})
	t.Run("far below a bound slow start doubles", func(t *testing.T) {
		cfg := testConfig()
		cfg.GrowthFactor = 1.5
		st := State{}
		// Under way when first seen: no jump to half the bound.
		r := run(300, 300, 50000)
		r.Items.Succeeded = 10
		d := Decide(cfg, st, Observation{At: sec(0, 30), Run: r, Bound: 2000})
		if d.Reason != ReasonSlowStart || d.New.MaxConcurrency != 600 {
			t.Fatalf("%s %d, want SlowStart 600 (x2, 300 x 4 <= 2000): %s", d.Reason, d.New.MaxConcurrency, d.Message)
		}
		r = run(600, 600, 50000)
		r.Items.Succeeded = 400
		d = Decide(cfg, d.State, Observation{At: sec(1, 30), Run: r, Live: clean(0)})
		if d.Reason != ReasonSlowStart || d.New.MaxConcurrency != 900 {
			t.Fatalf("%s %d, want SlowStart 900 (x1.5 near the bound): %s", d.Reason, d.New.MaxConcurrency, d.Message)
		}
	})
}
