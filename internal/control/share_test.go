package control

import (
	"testing"
	"time"
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

func TestRunsJoining(t *testing.T) {
	clean := func(since int) LiveSample { return LiveSample{Since: sec(since, 30), Sampled: 12} }
	shared := func(runs int, others int32) *Share { return &Share{Runs: runs, Others: others} }
	// alone finds the capacity 200 (the downstream's bound) alone, the
	// limit confirmed clean at it.
	alone := []liveStep{
		{at: sec(0, 30), limit: 10, running: 1, bound: 200, reason: ReasonHint, want: 100},
		{at: sec(1, 30), limit: 100, running: 100, live: clean(0), reason: ReasonSlowStart, want: 200},
		{at: sec(2, 30), limit: 200, running: 200, live: clean(1), reason: ReasonConverged, want: 200},
	}
	t.Run("a run that knows its capacity gives the newcomer its share at once", func(t *testing.T) {
		st := runLive(t, append(alone[:len(alone):len(alone)],
			// A second run joined, not decided on yet.
			liveStep{at: sec(3, 30), limit: 200, running: 200, live: clean(2), shared: shared(2, 0), reason: ReasonShared, want: 100},
			// Its share is confirmed: it holds there, the newcomer's share is left to it.
			liveStep{at: sec(4, 30), limit: 100, running: 100, live: clean(3), shared: shared(2, 100), reason: ReasonConverged, want: 100},
		))
		if st.Lo != 100 || st.Hi != 105 || st.SharedBy != 2 {
			t.Errorf("clean %d, bound %d, shared by %d; want 100, 105 (half of 210, the bound and the band) and 2", st.Lo, st.Hi, st.SharedBy)
		}
	})
	t.Run("two more runs: a third of it, reached within MaxStepDown", func(t *testing.T) {
		runLive(t, append(alone[:len(alone):len(alone)],
			liveStep{at: sec(3, 30), limit: 200, running: 200, live: clean(2), shared: shared(3, 20), reason: ReasonShared, want: 100},
			// The rest of the cut, owed.
			liveStep{at: sec(4, 30), limit: 100, running: 100, live: clean(3), shared: shared(3, 60), reason: ReasonThrottled, want: 66},
		))
	})
	t.Run("the same runs sharing at the next decision change nothing", func(t *testing.T) {
		st := runLive(t, append(alone[:len(alone):len(alone)],
			liveStep{at: sec(3, 30), limit: 200, running: 200, live: clean(2), shared: shared(2, 0), reason: ReasonShared, want: 100},
			liveStep{at: sec(4, 30), limit: 100, running: 100, live: clean(3), shared: shared(2, 100), reason: ReasonConverged, want: 100},
		))
		if d := Decide(testConfig(), st, Observation{At: sec(5, 30), Run: run(100, 100, 50000), Live: clean(4), Shared: shared(2, 100)}); d.Reason != ReasonConverged || d.New.MaxConcurrency != 100 {
			t.Errorf("%s %d with the same runs sharing, want Converged 100: %s", d.Reason, d.New.MaxConcurrency, d.Message)
		}
	})
	t.Run("a run that starts sharing recalls its share of what was learned, and did not join: it is not divided again", func(t *testing.T) {
		cfg := testConfig()
		sh := shared(2, 100)
		d := Decide(cfg, State{}, Observation{At: sec(0, 30), Run: run(10, 10, 50000), Shared: sh, Prior: &Prior{Limit: 200, At: sec(0, 0)}})
		if d.Reason != ReasonLearned || d.New.MaxConcurrency != 94 {
			t.Fatalf("%s %d, want Learned 94, 95 %% of half the 200 learned: %s", d.Reason, d.New.MaxConcurrency, d.Message)
		}
		d = Decide(cfg, d.State, Observation{At: sec(1, 30), Run: run(94, 94, 50000), Live: clean(0), Shared: sh})
		if d.Reason == ReasonShared || d.New.MaxConcurrency < 94 {
			t.Errorf("%s %d, want no cut below the recalled start 94: %s", d.Reason, d.New.MaxConcurrency, d.Message)
		}
	})
	t.Run("a run in slow start knows no capacity to share and goes on", func(t *testing.T) {
		runLive(t, []liveStep{
			{at: sec(0, 30), limit: 40, running: 40, reason: ReasonSlowStart, want: 80},
			{at: sec(1, 30), limit: 80, running: 80, live: clean(0), shared: shared(2, 10), reason: ReasonSlowStart, want: 160},
		})
	})
	t.Run("slow start stops at the run's share of the downstream's bound", func(t *testing.T) {
		st := runLive(t, []liveStep{
			{at: sec(0, 30), limit: 10, running: 1, bound: 200, shared: shared(2, 100), reason: ReasonHint, want: 50},
			{at: sec(1, 30), limit: 50, running: 50, live: clean(0), shared: shared(2, 100), reason: ReasonSlowStart, want: 100},
			{at: sec(2, 30), limit: 100, running: 100, live: clean(1), shared: shared(2, 100), reason: ReasonConverged, want: 100},
		})
		if st.Hi != 105 {
			t.Errorf("bound %d, want 105: the share 100 and the band", st.Hi)
		}
	})
	t.Run("a newcomer grows only into the room the others' running children leave", func(t *testing.T) {
		held := func(n int32) *Share { return &Share{Runs: 2, Others: 100, Held: n} }
		runLive(t, []liveStep{
			// The other run was cut to 100, its 190 children still run:
			// no hint to half the share, no slow start.
			{at: sec(0, 30), limit: 10, running: 10, bound: 200, shared: held(190), reason: ReasonShared, want: 10},
			// 185 of theirs are left: room for 15, less than x2.
			{at: sec(1, 30), limit: 10, running: 10, live: clean(0), shared: held(185), reason: ReasonSlowStart, want: 15},
			// Theirs down to their limit: x2, far below the share of 100.
			{at: sec(2, 30), limit: 15, running: 15, live: clean(1), shared: held(100), reason: ReasonSlowStart, want: 30},
		})
	})
}

func TestOthersThrottled(t *testing.T) {
	clean := func(since int) LiveSample { return LiveSample{Since: sec(since, 30), Sampled: 12} }
	// others is one other run at others children, throttled at seen.
	others := func(others int32, seen time.Time) *Share { return &Share{Runs: 2, Others: others, ThrottledAt: seen} }
	confirmed := []liveStep{
		{at: sec(0, 30), limit: 100, running: 100, reason: ReasonSlowStart, want: 200},
		// 200 confirmed clean by its own children: on to 400.
		{at: sec(1, 30), limit: 200, running: 200, live: clean(0), reason: ReasonSlowStart, want: 400},
	}
	t.Run("a raise the other run was throttled after is taken back to the clean limit", func(t *testing.T) {
		st := runLive(t, append(confirmed[:len(confirmed):len(confirmed)],
			liveStep{at: sec(2, 30), limit: 400, running: 400, live: clean(1), shared: others(100, sec(2, 0)), reason: ReasonShared, want: 200},
		))
		if st.Hi != 400 || st.Lo != 200 {
			t.Errorf("bound %d, clean %d; want 400 and 200", st.Hi, st.Lo)
		}
	})
	t.Run("to its share when the clean limit is above it", func(t *testing.T) {
		// Fair share (1000 + 50) x 0.95 / 2 = 498, below the clean 600;
		// MaxStepDown stops the cut at 500, the rest is owed.
		st := runLive(t, []liveStep{
			{at: sec(0, 30), limit: 150, running: 150, reason: ReasonSlowStart, want: 300},
			{at: sec(1, 30), limit: 300, running: 300, live: clean(0), reason: ReasonSlowStart, want: 600},
			{at: sec(2, 30), limit: 600, running: 600, live: clean(1), reason: ReasonSlowStart, want: 1000},
			{at: sec(3, 30), limit: 1000, running: 1000, live: clean(2), shared: others(50, sec(3, 0)), reason: ReasonShared, want: 500},
		})
		if st.Lo != 498 || st.Owed != 498 {
			t.Errorf("clean %d, owed %d; want the share 498 for both", st.Lo, st.Owed)
		}
	})
	t.Run("throttling before the raise takes nothing back; the run does not raise for two minutes after it", func(t *testing.T) {
		runLive(t, append(confirmed[:len(confirmed):len(confirmed)],
			liveStep{at: sec(2, 30), limit: 400, running: 400, live: clean(1), shared: others(100, sec(1, 0)), reason: ReasonShared, want: 400},
			liveStep{at: sec(3, 30), limit: 400, running: 400, live: clean(2), shared: others(100, sec(1, 0)), reason: ReasonSlowStart, want: 800},
		))
	})
	t.Run("no other run throttled: as alone", func(t *testing.T) {
		runLive(t, append(confirmed[:len(confirmed):len(confirmed)],
			liveStep{at: sec(2, 30), limit: 400, running: 400, live: clean(1), shared: others(100, time.Time{}), reason: ReasonSlowStart, want: 800},
		))
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
