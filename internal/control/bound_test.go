package control

import "testing"

func TestNearBound(t *testing.T) {
	tests := []struct {
		name  string
		st    State
		limit int32
		want  bool
	}{
		{"no bound known", State{}, 100, false},
		{"at the bound", State{Bound: 200}, 200, true},
		{"within 10 % below it", State{Bound: 200}, 180, true},
		{"further below it", State{Bound: 200}, 179, false},
		{"above it", State{Bound: 200}, 250, true},
		{"unlimited", State{Bound: 200}, 0, true},
		{"at its share of a shared bound", State{Bound: 200, SharedBy: 2}, 100, true},
		{"below its share", State{Bound: 200, SharedBy: 2}, 80, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NearBound(tt.st, tt.limit); got != tt.want {
				t.Errorf("NearBound(bound %d shared by %d, %d) = %v, want %v", tt.st.Bound, tt.st.SharedBy, tt.limit, got, tt.want)
			}
		})
	}
}

func TestBoundChanges(t *testing.T) {
	clean := func(since int) LiveSample { return LiveSample{Since: sec(since, 30), Sampled: 12} }
	// alone starts from the downstream's bound 200 and holds at it.
	alone := []liveStep{
		{at: sec(0, 30), limit: 10, running: 1, bound: 200, reason: ReasonHint, want: 100},
		{at: sec(1, 30), limit: 100, running: 100, live: clean(0), reason: ReasonSlowStart, want: 200},
		{at: sec(2, 30), limit: 200, running: 200, live: clean(1), reason: ReasonConverged, want: 200},
	}
	t.Run("a bound that rises lifts the run it held, within maxStepUp, and slow start climbs the rest", func(t *testing.T) {
		st := runLive(t, append(alone[:len(alone):len(alone)],
			liveStep{at: sec(3, 30), limit: 200, running: 200, live: clean(2), bound: 800, reason: ReasonBound, want: 400},
			liveStep{at: sec(4, 30), limit: 400, running: 400, live: clean(3), reason: ReasonSlowStart, want: 800},
			liveStep{at: sec(5, 30), limit: 800, running: 800, live: clean(4), bound: 800, reason: ReasonConverged, want: 800},
		))
		if st.Bound != 800 || !st.BoundAt.Equal(sec(3, 30)) {
			t.Errorf("bound %d changed at %s, want 800 at %s", st.Bound, st.BoundAt, sec(3, 30))
		}
	})
	t.Run("a bound that rises leaves alone a run it did not hold", func(t *testing.T) {
		// Something else throttles the run at 200, well below the bound 400.
		throttled := LiveSample{Since: sec(0, 30), Sampled: 12, Throttled: 6, NewestAt: sec(0, 50), StartedAt: sec(0, 31)}
		st := runLive(t, []liveStep{
			{at: sec(0, 30), limit: 10, running: 1, bound: 400, reason: ReasonHint, want: 200},
			{at: sec(1, 30), limit: 200, running: 200, live: throttled, reason: ReasonLiveThrottled, want: 140, liveWord: true},
		})
		d := Decide(testConfig(), st, Observation{At: sec(2, 30), Run: run(140, 140, 50000), Live: clean(1), Bound: 800})
		if d.Reason != ReasonBisect || d.New.MaxConcurrency != 147 || d.State.Hi != 200 {
			t.Errorf("%s %d, bound %d; want the bracket between 140 and 200 to go on, Bisect 147: %s", d.Reason, d.New.MaxConcurrency, d.State.Hi, d.Message)
		}
		if d.State.Bound != 800 {
			t.Errorf("bound %d, want the new 800 kept", d.State.Bound)
		}
	})
	t.Run("a bound that falls below the limit cuts to it at once, and stands", func(t *testing.T) {
		st := runLive(t, append(alone[:len(alone):len(alone)],
			liveStep{at: sec(3, 30), limit: 200, running: 200, live: clean(2), bound: 120, reason: ReasonBound, want: 120},
			liveStep{at: sec(4, 30), limit: 120, running: 200, live: clean(3), reason: ReasonConverged, want: 120},
		))
		if st.Lo != 120 || st.Hi != 126 {
			t.Errorf("clean %d, bound %d; want 120 and 126 (the new bound and the band)", st.Lo, st.Hi)
		}
	})
	t.Run("a bound that falls above a run in slow start lets it climb to it", func(t *testing.T) {
		st := runLive(t, []liveStep{
			{at: sec(0, 30), limit: 10, running: 1, bound: 400, reason: ReasonHint, want: 200},
			{at: sec(1, 30), limit: 200, running: 200, live: clean(0), bound: 300, reason: ReasonSlowStart, want: 300},
		})
		if st.Bound != 300 || st.Hi != 0 {
			t.Errorf("bound %d, bracket bound %d; want 300 and none", st.Bound, st.Hi)
		}
	})
	t.Run("a fall past maxStepDown is reached on the next decision", func(t *testing.T) {
		runLive(t, append(alone[:len(alone):len(alone)],
			liveStep{at: sec(3, 30), limit: 200, running: 200, live: clean(2), bound: 60, reason: ReasonBound, want: 100},
			liveStep{at: sec(3, 40), limit: 100, running: 200, live: clean(3), reason: ReasonThrottled, want: 60},
		))
	})
	t.Run("a bound removed lets the run it held climb in slow start", func(t *testing.T) {
		st := runLive(t, append(alone[:len(alone):len(alone)],
			liveStep{at: sec(3, 30), limit: 200, running: 200, live: clean(2), bound: NoBound, reason: ReasonBound, want: 400},
			liveStep{at: sec(4, 30), limit: 400, running: 400, live: clean(3), bound: NoBound, reason: ReasonSlowStart, want: 800},
		))
		if st.Bound != 0 || st.Hi != 0 {
			t.Errorf("bound %d, bracket bound %d; want none left", st.Bound, st.Hi)
		}
	})
	t.Run("a reservation made again after it was removed cuts the run above it", func(t *testing.T) {
		st := runLive(t, append(alone[:len(alone):len(alone)],
			liveStep{at: sec(3, 30), limit: 200, running: 200, live: clean(2), bound: NoBound, reason: ReasonBound, want: 400},
			liveStep{at: sec(4, 30), limit: 400, running: 400, live: clean(3), bound: 100, reason: ReasonBound, want: 200},
			liveStep{at: sec(4, 40), limit: 200, running: 400, live: clean(3), bound: 100, reason: ReasonThrottled, want: 100},
		))
		if st.Bound != 100 || st.Unbounded {
			t.Errorf("bound %d, unbounded %v; want 100, a bound known", st.Bound, st.Unbounded)
		}
	})
	t.Run("a reservation made during a run that started with none cuts it", func(t *testing.T) {
		st := runLive(t, []liveStep{
			{at: sec(0, 30), limit: 10, running: 10, bound: NoBound, reason: ReasonSlowStart, want: 20},
			{at: sec(1, 30), limit: 20, running: 20, live: clean(0), bound: NoBound, reason: ReasonSlowStart, want: 40},
		})
		d := Decide(testConfig(), st, Observation{At: sec(2, 30), Run: run(40, 40, 50000), Live: clean(1), Bound: 30})
		if d.Reason != ReasonBound || d.New.MaxConcurrency != 30 || d.State.Bound != 30 {
			t.Errorf("%s %d, bound %d; want BoundChanged 30: %s", d.Reason, d.New.MaxConcurrency, d.State.Bound, d.Message)
		}
	})
	t.Run("a bound removed from a run at the policy's maximum changes nothing else", func(t *testing.T) {
		cfg := testConfig()
		cfg.MaxConcurrency = 200
		st := runLive(t, alone)
		d := Decide(cfg, st, Observation{At: sec(3, 30), Run: run(200, 200, 50000), Live: clean(2), Bound: NoBound})
		if d.Reason == ReasonBound || d.New.MaxConcurrency != 200 || d.State.Bound != 0 || !d.State.BoundAt.IsZero() || d.State.Phase != st.Phase {
			t.Errorf("%s %d, bound %d changed at %s, phase %s; want 200 held, only the bound forgotten: %s", d.Reason, d.New.MaxConcurrency, d.State.Bound, d.State.BoundAt, d.State.Phase, d.Message)
		}
	})
	t.Run("a bound removed leaves alone a run it did not hold", func(t *testing.T) {
		st := runLive(t, alone)
		st.Bound = 400
		d := Decide(testConfig(), st, Observation{At: sec(3, 30), Run: run(200, 200, 50000), Live: clean(2), Bound: NoBound})
		if d.Reason == ReasonBound || d.New.MaxConcurrency != 200 || d.State.Bound != 0 {
			t.Errorf("%s %d, bound %d; want the run's own reasons to hold 200, the bound forgotten: %s", d.Reason, d.New.MaxConcurrency, d.State.Bound, d.Message)
		}
	})
	t.Run("a bound read the same, or not read, changes nothing", func(t *testing.T) {
		st := runLive(t, alone)
		for _, b := range []int32{200, 0} {
			d := Decide(testConfig(), st, Observation{At: sec(3, 30), Run: run(200, 200, 50000), Live: clean(2), Bound: b})
			if d.Reason != ReasonConverged || d.New.MaxConcurrency != 200 || d.State.Bound != 200 || !d.State.BoundAt.IsZero() {
				t.Errorf("bound read %d: %s %d, bound %d changed at %s; want Converged 200, bound 200 never changed: %s", b, d.Reason, d.New.MaxConcurrency, d.State.Bound, d.State.BoundAt, d.Message)
			}
		}
	})
	t.Run("a bound cut not applied is taken in again", func(t *testing.T) {
		st := runLive(t, alone)
		d := Decide(testConfig(), st, Observation{At: sec(3, 30), Run: run(200, 200, 50000), Live: clean(2), Bound: 60})
		if d.Reason != ReasonBound || d.New.MaxConcurrency != 100 {
			t.Fatalf("%s %d, want BoundChanged 100: %s", d.Reason, d.New.MaxConcurrency, d.Message)
		}
		// The update failed: the limit is still 200, the bound still 60.
		d = Decide(testConfig(), Unapplied(st, d), Observation{At: sec(3, 40), Run: run(200, 200, 50000), Live: clean(2), Bound: 60})
		if d.Reason != ReasonBound || d.New.MaxConcurrency != 100 {
			t.Errorf("after the cut failed: %s %d, want BoundChanged 100 again: %s", d.Reason, d.New.MaxConcurrency, d.Message)
		}
	})
	t.Run("a change of bound the run does not follow leaves its throttling standing", func(t *testing.T) {
		// The run holds 200, well below a bound of 400 that rises to 800;
		// the minute from 12:03, at 200, was throttled.
		st := runLive(t, alone)
		st.Bound = 400
		d := Decide(testConfig(), st, Observation{At: sec(4, 30), Run: run(200, 200, 50000), MetricsWatched: true, Bound: 800,
			Throttles: []Datapoint{{Minute: at(3), Value: 5000}}})
		if d.Reason != ReasonThrottled || d.New.MaxConcurrency >= 200 || !d.State.BoundAt.IsZero() || d.State.Bound != 800 {
			t.Errorf("%s %d, bound %d changed at %s; want the throttled minute cut, the new bound kept, the rise not followed: %s", d.Reason, d.New.MaxConcurrency, d.State.Bound, d.State.BoundAt, d.Message)
		}
	})
	t.Run("a rise that cannot raise keeps a cut owed", func(t *testing.T) {
		// The run at 200 sits above its bound of 180, with a cut to 150
		// owed; the bound rises to 190, still below the limit.
		st := runLive(t, alone)
		st.Bound, st.Owed, st.Lo, st.Hi, st.Phase, st.CutAt = 180, 150, 140, 160, PhaseBracket, sec(2, 0)
		d := Decide(testConfig(), st, Observation{At: sec(3, 30), Run: run(200, 200, 50000), Live: clean(2), Bound: 190})
		if d.Reason != ReasonThrottled || d.New.MaxConcurrency != 150 {
			t.Errorf("%s %d, want the owed cut to 150 to go on: %s", d.Reason, d.New.MaxConcurrency, d.Message)
		}
	})
	t.Run("throttling measured under the old bound is answered by its rise", func(t *testing.T) {
		st := runLive(t, append(alone[:len(alone):len(alone)],
			liveStep{at: sec(3, 30), limit: 200, running: 200, live: clean(2), reason: ReasonConverged, want: 200},
			liveStep{at: sec(4, 30), limit: 200, running: 200, live: clean(3), bound: 800, reason: ReasonBound, want: 400},
		))
		// The minute from 12:03, all at 200 under the bound of 200, throttled.
		d := Decide(testConfig(), st, Observation{At: sec(5, 30), Run: run(400, 400, 50000), MetricsWatched: true, Live: clean(4),
			Throttles: []Datapoint{{Minute: at(3), Value: 300}, {Minute: at(4), Value: 0}}})
		if d.New.MaxConcurrency < 400 {
			t.Errorf("%s %d, want no cut below 400 for a minute measured under the old bound: %s", d.Reason, d.New.MaxConcurrency, d.Message)
		}
		// Throttling measured after the rise is news.
		d = Decide(testConfig(), st, Observation{At: sec(6, 30), Run: run(400, 400, 50000), MetricsWatched: true, Live: clean(4),
			Throttles: []Datapoint{{Minute: at(5), Value: 3000}}})
		if d.Reason != ReasonThrottled || d.New.MaxConcurrency >= 400 {
			t.Errorf("%s %d, want a cut for the minute from 12:05: %s", d.Reason, d.New.MaxConcurrency, d.Message)
		}
	})
}

func TestBoundChangesShared(t *testing.T) {
	clean := func(since int) LiveSample { return LiveSample{Since: sec(since, 30), Sampled: 12} }
	held := func(n int32) *Share { return &Share{Runs: 2, Others: n, Held: n} }
	// Two runs share the bound 200: this one holds its share, 100.
	start := []liveStep{
		{at: sec(0, 30), limit: 10, running: 1, bound: 200, shared: held(100), reason: ReasonHint, want: 50},
		{at: sec(1, 30), limit: 50, running: 50, live: clean(0), shared: held(100), reason: ReasonSlowStart, want: 100},
		{at: sec(2, 30), limit: 100, running: 100, live: clean(1), shared: held(100), reason: ReasonConverged, want: 100},
	}
	t.Run("a rise lifts the run to its share of the new bound, in the room the other leaves", func(t *testing.T) {
		runLive(t, append(start[:len(start):len(start)],
			// Share 200, but the other still holds 100 of the 240.
			liveStep{at: sec(3, 30), limit: 100, running: 100, live: clean(2), bound: 240, shared: held(100), reason: ReasonBound, want: 120},
		))
		runLive(t, append(start[:len(start):len(start)],
			liveStep{at: sec(3, 30), limit: 100, running: 100, live: clean(2), bound: 400, shared: held(100), reason: ReasonBound, want: 200},
		))
	})
	t.Run("a fall cuts the run to its share of the new bound, whatever the other holds", func(t *testing.T) {
		st := runLive(t, append(start[:len(start):len(start)],
			liveStep{at: sec(3, 30), limit: 100, running: 100, live: clean(2), bound: 120, shared: held(100), reason: ReasonBound, want: 60},
		))
		if st.Lo != 60 {
			t.Errorf("clean %d, want 60: its share", st.Lo)
		}
	})
}
