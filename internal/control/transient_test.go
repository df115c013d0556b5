package control

import (
	"strings"
	"testing"
	"time"
)

func TestTransient(t *testing.T) {
	raised := []Setting{{From: t0, MaxConcurrency: 80}, {From: sec(2, 0), MaxConcurrency: 120}}
	// An overshoot: 120 raised to 180, cut 10 s later.
	cut := []Setting{{From: t0, MaxConcurrency: 120}, {From: sec(1, 50), MaxConcurrency: 180}, {From: sec(2, 0), MaxConcurrency: 125}}
	// A capacity that fell: 180 held for minutes, then cut.
	fell := []Setting{{From: t0, MaxConcurrency: 120}, {From: sec(0, 30), MaxConcurrency: 180}, {From: sec(2, 0), MaxConcurrency: 125}}
	sample := func(since time.Time, throttled int) LiveSample {
		return LiveSample{Since: since, Sampled: 12, Throttled: throttled, StartedAt: since.Add(time.Second)}
	}
	tests := []struct {
		name string
		st   State
		at   time.Time
		live LiveSample
		want string // a word of the reason; empty: not transient
	}{
		{"the first look after a slow-start raise", State{History: raised, Phase: PhaseSlowStart}, sec(2, 10), sample(sec(2, 0), 3), "raise from 80"},
		{"a raise's burst with most sampled children throttled", State{History: raised, Phase: PhaseSlowStart}, sec(2, 10), sample(sec(2, 0), 5), ""},
		{"the second look after the raise", State{History: raised, Phase: PhaseSlowStart}, sec(2, 20), sample(sec(2, 10), 3), ""},
		{"a raise long ago", State{History: raised, Phase: PhaseSlowStart}, sec(2, 40), sample(sec(2, 0), 3), ""},
		{"a small step near a bound", State{History: raised, Phase: PhaseBracket}, sec(2, 10), sample(sec(2, 0), 3), ""},
		{"the children of a cut still retry", State{History: cut, Phase: PhaseBracket, CutAt: sec(2, 0), ItemTime: 30}, sec(2, 20), sample(sec(2, 10), 3), "cut from 180"},
		{"they held their place since", State{History: cut, Phase: PhaseBracket, CutAt: sec(2, 0), ItemTime: 30}, sec(2, 40), sample(sec(2, 30), 3), ""},
		{"before the hold is known, for burstLook", State{History: cut, Phase: PhaseBracket, CutAt: sec(2, 0)}, sec(2, 30), sample(sec(2, 20), 3), "cut from 180"},
		{"a cut's children, most throttled", State{History: cut, Phase: PhaseBracket, CutAt: sec(2, 0), ItemTime: 30}, sec(2, 20), sample(sec(2, 10), 6), ""},
		{"a limit set by someone else is no cut", State{History: cut, Phase: PhaseBracket, CutAt: sec(1, 0), ItemTime: 30}, sec(2, 20), sample(sec(2, 10), 3), ""},
		{"a limit held for long, cut: the capacity fell", State{History: fell, Phase: PhaseBracket, CutAt: sec(2, 0), ItemTime: 30}, sec(2, 20), sample(sec(2, 10), 3), ""},
		{"a single limit", State{History: raised[:1], Phase: PhaseSlowStart}, sec(0, 10), sample(t0, 3), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why, ok := transient(&tt.st, Observation{At: tt.at, Live: tt.live})
			if ok != (tt.want != "") || !strings.Contains(why, tt.want) {
				t.Fatalf("transient = %q, %v; want %v with %q", why, ok, tt.want != "", tt.want)
			}
		})
	}
}

// TestLiveTransient runs the two transients through Decide: held for one
// look, cut at the next when the throttling lasts.
func TestLiveTransient(t *testing.T) {
	throttled := func(since time.Time, n int) LiveSample {
		return LiveSample{Since: since, Sampled: 12, Throttled: n, StartedAt: since.Add(time.Second)}
	}
	start := []liveStep{
		{at: sec(0, 30), limit: 80, running: 80, reason: ReasonSlowStart, want: 160},
	}
	t.Run("the burst of a raise is held one look, then cut if it lasts", func(t *testing.T) {
		runLive(t, append(start[:1:1],
			liveStep{at: sec(0, 40), limit: 160, running: 160, live: throttled(sec(0, 30), 3), reason: ReasonLiveThrottled, want: 160, liveWord: true},
			liveStep{at: sec(0, 50), limit: 160, running: 160, live: throttled(sec(0, 40), 3), reason: ReasonLiveThrottled, want: 112, liveWord: true},
		))
	})
	t.Run("a burst that throttles most children is cut at once", func(t *testing.T) {
		runLive(t, append(start[:1:1],
			liveStep{at: sec(0, 40), limit: 160, running: 160, live: throttled(sec(0, 30), 6), reason: ReasonLiveThrottled, want: 112, liveWord: true},
		))
	})
	t.Run("the children of the limit before a cut are let finish", func(t *testing.T) {
		runLive(t, append(start[:1:1],
			liveStep{at: sec(0, 40), limit: 160, running: 160, live: throttled(sec(0, 30), 6), reason: ReasonLiveThrottled, want: 112, liveWord: true},
			// New children, started under 112, are refused while the old ones retry.
			liveStep{at: sec(0, 50), limit: 112, running: 150, live: throttled(sec(0, 45), 3), reason: ReasonLiveThrottled, want: 112, liveWord: true},
			// Once they finished, throttling that lasts is the new limit's: cut again.
			liveStep{at: sec(1, 20), limit: 112, running: 112, live: throttled(sec(1, 10), 3), reason: ReasonLiveThrottled, want: 78, liveWord: true},
		))
	})
}

// TestLiveCutEstimate checks that a live cut, with the run looked at every
// 10 s, falls to the capacity its throughput shows (Little's law), not by
// Backoff, for a limit only live samples found clean: no pair of looks
// covers a minute, the looks of the minute do. A limit the metrics found
// clean, or one cut less than a minute ago, falls by Backoff.
func TestLiveCutEstimate(t *testing.T) {
	const limit, hold = 150, 30.0 // children hold their place 30 s: 5 finish a second
	tests := []struct {
		name string
		prep func(*State)
		want int32
	}{
		// 5 a second for 30 s each is 150; a cut of two bands from a
		// limit confirmed clean is 135 (Band 0.05).
		{"confirmed by live samples only", func(*State) {}, 135},
		{"a clean minute in the metrics", func(st *State) { st.Seen = []Datapoint{{Minute: at(2)}} }, 105},
		{"cut 30 s before", func(st *State) { st.CutAt = sec(3, 30) }, 105},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st State
			var d Decision
			for s := 0; s <= 240; s += 10 {
				obs := Observation{At: sec(0, s), Run: run(limit, limit, 0)}
				obs.Run.Items.Succeeded = int64(float64(s) * limit / hold)
				obs.Live = LiveSample{Since: sec(0, max(0, s-10)), Sampled: 12}
				if s == 240 {
					obs.Live = LiveSample{Since: sec(0, s-10), Sampled: 12, Throttled: 6, StartedAt: sec(0, s-5)}
					if st.ItemTime < 29 || st.ItemTime > 31 {
						t.Fatalf("ItemTime %.1f s, want about %.0f s, learned from the looks", st.ItemTime, hold)
					}
					tt.prep(&st)
				}
				d = Decide(testConfig(), st, obs)
				st = d.State
			}
			if d.Reason != ReasonLiveThrottled || d.New.MaxConcurrency != tt.want {
				t.Fatalf("%s %d (capacity %.0f), want %s %d: %s", d.Reason, d.New.MaxConcurrency, d.Signals.Capacity, ReasonLiveThrottled, tt.want, d.Message)
			}
			if known := d.Signals.Capacity > 0; known != (tt.want == 135) || known && (d.Signals.Capacity < 145 || d.Signals.Capacity > 155) {
				t.Fatalf("capacity %.0f, want about 150 only when cut to the estimate", d.Signals.Capacity)
			}
		})
	}
}

func TestLastMinute(t *testing.T) {
	h := []Setting{{From: t0, MaxConcurrency: 120}}
	dense := kneeTicks(h, at(5), func(int32) float64 { return 30 })
	var sparse []Tick
	for _, tk := range dense {
		if tk.At.Second() == 50 { // one in the minute: read from the pair around it
			sparse = append(sparse, tk)
		}
	}
	for _, tt := range []struct {
		name  string
		ticks []Tick
		ok    bool
	}{
		{"looks every 10 s", dense, true},
		{"one look a minute", sparse, true},
		{"a single look", dense[:1], false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rate, running, ok := lastMinute(tt.ticks, at(5))
			if ok != tt.ok || ok && (rate < 3.9 || rate > 4.1 || running != 120) {
				t.Fatalf("rate %.2f running %.0f ok %v; want 4/s and 120 running: %v", rate, running, ok, tt.ok)
			}
		})
	}
}

// TestLearnHoldFromLooks: clean looks at a busy, steady run teach how long
// a child holds its place, only to a run with no bound from its
// downstream's configuration.
func TestLearnHoldFromLooks(t *testing.T) {
	const limit, hold = 150, 30.0
	for _, bound := range []int32{0, 300} {
		st := State{Bound: bound}
		for s := 0; s <= 240; s += 10 {
			obs := Observation{At: sec(0, s), Run: run(limit, limit, 0), Bound: bound}
			obs.Run.Items.Succeeded = int64(float64(s) * limit / hold)
			obs.Live = LiveSample{Since: sec(0, max(0, s-10)), Sampled: 12}
			st = Decide(testConfig(), st, obs).State
		}
		if learned := st.ItemTime > 29 && st.ItemTime < 31; learned != (bound == 0) {
			t.Errorf("bound %d: ItemTime %.1f s after 4 minutes of clean looks; want about %.0f s only without a bound", bound, st.ItemTime, hold)
		}
	}
}
