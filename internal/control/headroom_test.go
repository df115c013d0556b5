package control

import (
	"math"
	"strings"
	"testing"
	"time"
)

// slowStartAt is steadyOwn's run of 300 at limit, in slow start, clean
// at it and throttled a minute before: what the headroom may cap.
func slowStartAt(limit int32) func() State {
	return func() State {
		s := steadyOwn(limit, int64(limit), 300, 10)
		s.Phase, s.Lo, s.ThrottledAt = PhaseSlowStart, limit, at(9)
		return s
	}
}

// steadyOwn is the state of a run that held limit, with running children
// of 30 s each, from minute 0 on, with a tick every 10 s up to minute to,
// under a function of reserved concurrency bound.
func steadyOwn(limit int32, running int64, bound int32, to int) State {
	st := State{Bound: bound, History: []Setting{{From: t0, MaxConcurrency: limit}}, Phase: PhaseBracket}
	var done int64
	for a := t0; !a.After(at(to)); a = a.Add(10 * time.Second) {
		st.Ticks = append(st.Ticks, Tick{At: a, Running: running, Done: done})
		done += running / 3
	}
	return st
}

func TestHeadroom(t *testing.T) {
	cfg := testConfig() // StaleAfter 5 min
	tests := []struct {
		name string
		st   State
		conc map[int]float64
		now  time.Time
		ok   bool
		// others and limit, when ok.
		others float64
		limit  int32
	}{
		{"no bound", steadyOwn(100, 100, 0, 10), map[int]float64{8: 250}, at(10), false, 0, 0},
		{"no datapoint", steadyOwn(100, 100, 300, 10), nil, at(10), false, 0, 0},
		{"stale datapoint", steadyOwn(100, 100, 300, 10), map[int]float64{3: 250}, at(10), false, 0, 0},
		{"others too few to tell, never seen", steadyOwn(100, 100, 300, 10), map[int]float64{7: 105, 8: 105}, at(10), false, 0, 0},
		{"only minutes from before the runs that shared it left", func() State { s := steadyOwn(100, 100, 300, 10); s.AloneAt = at(9); return s }(), map[int]float64{7: 250, 8: 250}, at(10), false, 0, 0},
		// The run started at minute 7: the others held 150 in minutes 5
		// and 6 too (the function's whole count), no trend.
		{"minutes before the run started", func() State { s := steadyOwn(100, 100, 300, 10); s.History[0].From = at(7); return s }(), map[int]float64{5: 150, 6: 150, 7: 250, 8: 250}, at(10), true, 150, 138},
		{"more than the bound: it was raised", steadyOwn(100, 100, 300, 10), map[int]float64{7: 250, 8: 320}, at(10), false, 0, 0},
		// Level 150 at minute 8, no trend: 300 - 150 - 4 % of 300.
		{"steady others", steadyOwn(100, 100, 300, 10), map[int]float64{6: 250, 7: 250, 8: 250}, at(10), true, 150, 138},
		// Others 120 at 6, 150 at 8: +15 a minute, carried from the
		// end of minute 8 to 10:00 (1 minute): 165.
		{"rising others", steadyOwn(100, 100, 300, 10), map[int]float64{6: 220, 7: 235, 8: 250}, at(10), true, 165, 123},
		// Falling -15 a minute: half of it is trusted, 150 - 7.5.
		{"falling others", steadyOwn(100, 100, 300, 10), map[int]float64{6: 280, 7: 265, 8: 250}, at(10), true, 142.5, 145},
		// Minute 8 is full: a floor of 100, no trend taken from it; the
		// trend is from 5 to 7, +10 a minute, carried 1 minute past 8.
		{"full newest minute", steadyOwn(200, 200, 300, 10), map[int]float64{5: 250, 6: 260, 7: 270, 8: 300}, at(10), true, 110, 178},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.st
			r, ok := headroom(cfg, &st, Observation{At: tt.now, Concurrent: points(tt.conc)})
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, tt.ok, r)
			}
			if ok && (math.Abs(r.others-tt.others) > 1e-6 || r.limit != tt.limit) {
				t.Fatalf("others %.2f limit %d, want %.2f and %d (%+v)", r.others, r.limit, tt.others, tt.limit, r)
			}
		})
	}
}

// TestHeadroomRemembersOthers checks that once the others have been seen,
// their margin stays free after they leave, for an hour.
func TestHeadroomRemembersOthers(t *testing.T) {
	cfg := testConfig()
	st := steadyOwn(100, 100, 300, 90)
	if _, ok := headroom(cfg, &st, Observation{At: at(10), Concurrent: points(map[int]float64{8: 250})}); !ok || !st.OthersAt.Equal(at(8)) {
		t.Fatalf("others at 150 of 300: ok %v, OthersAt %s, want true and minute 8", ok, st.OthersAt)
	}
	r, ok := headroom(cfg, &st, Observation{At: at(30), Concurrent: points(map[int]float64{28: 100})})
	if !ok || r.limit != 288 {
		t.Fatalf("others gone 20 minutes after: ok %v limit %d, want true and 288 (the bound less its margin)", ok, r.limit)
	}
	if _, ok := headroom(cfg, &st, Observation{At: at(70), Concurrent: points(map[int]float64{68: 100})}); ok {
		t.Fatal("others gone for an hour: still a headroom")
	}
}

// TestHeadroomDecisions checks the three uses of the headroom in Decide: a
// cut ahead of throttling, a raise through a stale bound, a raise capped.
func TestHeadroomDecisions(t *testing.T) {
	cfg := testConfig()
	quiet := points(map[int]float64{6: 0, 7: 0, 8: 0})
	tests := []struct {
		name   string
		st     func() State
		limit  int32
		conc   map[int]float64
		want   int32
		reason Reason
		says   string
	}{
		{
			// The others rise 15 a minute, from 60 to 90 at minute 8:
			// 105 by now, and 200 children are too many.
			name: "cut ahead", limit: 200,
			st:   func() State { s := steadyOwn(200, 200, 300, 10); s.Lo = 200; return s },
			conc: map[int]float64{6: 260, 7: 275, 8: 290}, want: 183, reason: ReasonHeadroom, says: "lowering 200 to 183, ahead of throttling",
		},
		{
			// Throttled at 130 when the others held 160; they hold 60 now.
			name: "raise past a stale bound", limit: 120,
			st: func() State {
				s := steadyOwn(120, 120, 300, 10)
				s.Lo, s.Hi, s.HiAt, s.ThrottledAt = 120, 130, at(8), at(4)
				return s
			},
			conc: map[int]float64{6: 180, 7: 180, 8: 180}, want: 228, reason: ReasonHeadroom, says: "raising 120 to 228",
		},
		{
			// Slow start would double 100 to 200; the others leave 138.
			name: "raise capped", limit: 100,
			st:   slowStartAt(100),
			conc: map[int]float64{6: 250, 7: 250, 8: 250}, want: 138, reason: ReasonSlowStart,
		},
		{
			// The headroom leaves no more than the limit: hold.
			name: "no room", limit: 140,
			st:   slowStartAt(140),
			conc: map[int]float64{6: 290, 7: 290, 8: 290}, want: 140, reason: ReasonHeadroom, says: "no room above 140",
		},
		{
			// The function was full in the newest minute: the others got
			// 50 of 300 but may want more; no raise (and 238 is within
			// the band of 250: no cut).
			name: "full function", limit: 250,
			st:   slowStartAt(250),
			conc: map[int]float64{6: 300, 7: 300, 8: 300}, want: 250, reason: ReasonHeadroom, says: "full in that minute",
		},
		{
			// The run of "no room" sharing the function with another open
			// run: the sharing decides (the room the other leaves), not
			// the headroom.
			name: "shared", limit: 140,
			st:   slowStartAt(140),
			conc: map[int]float64{6: 290, 7: 290, 8: 290}, want: 150, reason: ReasonSlowStart,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := Observation{At: at(10), Run: run(tt.limit, int64(tt.limit), 5000), MetricsWatched: true, Throttles: quiet, Concurrent: points(tt.conc)}
			if tt.name == "shared" {
				obs.Shared = &Share{Runs: 2, Others: 100, Held: 100}
			}
			st := tt.st()
			st.Prev, st.PrevAt = obs.Run.Items, at(9)
			d := Decide(cfg, st, obs)
			if d.New.MaxConcurrency != tt.want || d.Reason != tt.reason || !strings.Contains(d.Message, tt.says) {
				t.Fatalf("got %d %s %q, want %d %s saying %q", d.New.MaxConcurrency, d.Reason, d.Message, tt.want, tt.reason, tt.says)
			}
		})
	}
}

// TestAloneAt checks that a run whose sharers left records when, so that
// the headroom does not take their executions for others'.
func TestAloneAt(t *testing.T) {
	st := steadyOwn(100, 100, 300, 10)
	st.SharedBy, st.Prev, st.PrevAt = 2, run(100, 100, 5000).Items, at(9)
	obs := Observation{At: at(10), Run: run(100, 100, 5000), MetricsWatched: true, Throttles: points(map[int]float64{8: 0})}
	if d := Decide(testConfig(), st, obs); !d.State.AloneAt.Equal(at(10)) {
		t.Fatalf("AloneAt %s after the other run left, want %s", d.State.AloneAt, at(10))
	}
	obs.Shared = &Share{Runs: 2, Others: 100, Held: 100}
	if d := Decide(testConfig(), st, obs); !d.State.AloneAt.IsZero() {
		t.Fatalf("AloneAt %s while still shared, want none", d.State.AloneAt)
	}
}
