package control

import (
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

const day = 24 * time.Hour

// TestRecallStart checks where a run's first decision starts it from a
// Prior: just below the learned limit, lower the older it is, never
// outside the policy's range, and not at all from a Prior too old.
func TestRecallStart(t *testing.T) {
	cfg := testConfig()
	tests := []struct {
		name    string
		cfg     func(*Config)
		prior   *Prior
		want    int32 // the first limit; with no learned start, what no Prior gives
		learned bool
	}{
		{"fresh", nil, &Prior{Limit: 300, At: t0, Run: "run-a"}, 285, true},
		{"a week old", nil, &Prior{Limit: 300, At: t0.Add(-7 * day)}, 270, true},
		{"learned in the future", nil, &Prior{Limit: 300, At: t0.Add(time.Hour)}, 285, true},
		{"above the maximum", nil, &Prior{Limit: 5000, At: t0}, 950, true},
		{"below the minimum", func(c *Config) { c.MinConcurrency = 50 }, &Prior{Limit: 20, At: t0}, 50, true},
		{"too old", nil, &Prior{Limit: 300, At: t0.Add(-DefaultPriorMaxAge)}, 0, false},
		{"old for this policy", func(c *Config) { c.PriorMaxAge = day }, &Prior{Limit: 300, At: t0.Add(-2 * day)}, 0, false},
		{"half the policy's age", func(c *Config) { c.PriorMaxAge = 2 * day }, &Prior{Limit: 300, At: t0.Add(-day)}, 270, true},
		{"no limit", nil, &Prior{At: t0}, 0, false},
		{"shared now by two runs: its half", func(*Config) {}, &Prior{Limit: 300, At: t0}, 142, true},
		{"none", nil, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.cfg != nil {
				tt.cfg(&c)
			}
			// A run seen before its first item finished, at its definition's 10.
			obs := Observation{At: t0, Run: run(10, 10, 50000), MetricsWatched: false, Prior: tt.prior}
			if strings.HasPrefix(tt.name, "shared") {
				obs.Shared = &Share{Runs: 2, Others: 150}
			}
			d := Decide(c, State{}, obs)
			if !tt.learned {
				// As if nothing had been learned.
				tt.want = Decide(c, State{}, Observation{At: t0, Run: run(10, 10, 50000)}).New.MaxConcurrency
			}
			if got := d.New.MaxConcurrency; got != tt.want {
				t.Errorf("first limit %d, want %d (%s: %s)", got, tt.want, d.Reason, d.Message)
			}
			if (d.Reason == ReasonLearned) != tt.learned {
				t.Errorf("reason %s (%s), learned start %v", d.Reason, d.Message, tt.learned)
			}
			if tt.learned && (!strings.Contains(d.Message, "learned") || tt.prior.Run != "" && !strings.Contains(d.Message, tt.prior.Run)) {
				t.Errorf("message %q does not name the memory", d.Message)
			}
			if d.New.MaxConcurrency > c.MaxConcurrency {
				t.Errorf("limit %d above the policy's maximum %d", d.New.MaxConcurrency, c.MaxConcurrency)
			}
		})
	}
	// Only the first decision reads the Prior.
	d := Decide(cfg, State{}, Observation{At: t0, Run: run(10, 10, 50000)})
	d = Decide(cfg, d.State, Observation{At: at(1), Run: run(10, 10, 50000), Prior: &Prior{Limit: 300, At: t0}})
	if d.Reason == ReasonLearned || d.State.Recall != 0 {
		t.Errorf("a later decision used the prior: %s %s", d.Reason, d.Message)
	}
}

// closedLoopFrom drives Decide against a world of fixed capacity, one tick
// a minute for minutes, starting from prior, and returns every decision.
func closedLoopFrom(cfg Config, capacity int32, prior *Prior, minutes int) []Decision {
	w := newWorld(capacity, 90*time.Second, maprun.Settings{MaxConcurrency: 10}, 1e9)
	var st State
	var ds []Decision
	for m := range minutes {
		now := at(m).Add(20 * time.Second)
		obs := w.observe(now)
		obs.Prior = prior
		d := Decide(cfg, st, obs)
		if d.Update {
			w.set(now, d.New)
		}
		st = d.State
		ds = append(ds, d)
	}
	return ds
}

// TestRecallConfirms has a run start from what the run before learned,
// 300: it starts below, returns to 300 within minutes, probes one step of
// 2 % past it and no further, and hands on what it then holds: 300 again
// when the capacity is 300 (the probe is throttled and cut back), 306
// when there is room.
func TestRecallConfirms(t *testing.T) {
	cfg := testConfig()
	for _, tt := range []struct {
		capacity, want int32
	}{{300, 300}, {320, 306}} {
		ds := closedLoopFrom(cfg, tt.capacity, &Prior{Limit: 300, At: t0.Add(-day), ItemTime: 30}, 40)
		if ds[0].Reason != ReasonLearned || ds[0].New.MaxConcurrency >= 300 || ds[0].New.MaxConcurrency < 270 {
			t.Fatalf("capacity %d: first decision %s to %d (%s), want a learned start just below 300", tt.capacity, ds[0].Reason, ds[0].New.MaxConcurrency, ds[0].Message)
		}
		back := -1
		var learned *Prior
		for m, d := range ds {
			if d.New.MaxConcurrency > 306 {
				t.Fatalf("capacity %d, minute %d: limit %d more than 2 %% above the learned 300 (%s)", tt.capacity, m, d.New.MaxConcurrency, d.Message)
			}
			if back < 0 && d.New.MaxConcurrency == 300 {
				back = m
			}
			if d.Learn != nil {
				learned = d.Learn
				if !d.Learn.At.Equal(at(m).Add(20*time.Second)) || d.Learn.ItemTime <= 0 {
					t.Errorf("capacity %d, minute %d: learned %+v, want now with an item time", tt.capacity, m, *d.Learn)
				}
			}
		}
		if back < 0 || back > 6 {
			t.Errorf("capacity %d: back to the learned 300 at minute %d, want within 6 minutes", tt.capacity, back)
		}
		if last := ds[len(ds)-1].New.MaxConcurrency; last != tt.want || learned == nil || learned.Limit != tt.want {
			t.Errorf("capacity %d: holding %d at the end, learned %+v; want %d", tt.capacity, last, learned, tt.want)
		}
	}
}

// TestRecallCorrected has a run start from a limit learned when the
// capacity was higher: it is throttled at once, cuts as any throttled run
// does, and hands on the lower limit it finds.
func TestRecallCorrected(t *testing.T) {
	cfg := testConfig()
	ds := closedLoopFrom(cfg, 150, &Prior{Limit: 300, At: t0.Add(-day)}, 60)
	cut := -1
	var learned *Prior
	for m, d := range ds {
		if cut < 0 && m > 0 && d.New.MaxConcurrency < ds[0].New.MaxConcurrency {
			cut = m
		}
		if d.Learn != nil {
			learned = d.Learn
		}
		if m > 0 && d.New.MaxConcurrency > ds[0].New.MaxConcurrency {
			t.Fatalf("minute %d: limit %d above the learned start %d (%s)", m, d.New.MaxConcurrency, ds[0].New.MaxConcurrency, d.Message)
		}
	}
	// The world publishes a minute's throttles 90 s after it ends, and the
	// minutes of the raise to the start are taken for its burst: the
	// first steady minute is read at minute 5.
	if cut < 0 || cut > 5 {
		t.Errorf("first cut at minute %d, want by minute 5 of a throttled start", cut)
	}
	if learned == nil || learned.Limit > 150 || learned.Limit < 120 {
		t.Errorf("learned %+v, want a limit in [120, 150]", learned)
	}
}

// TestLearnAtEnd hands on the highest confirmed limit of a run that
// succeeded, once, and nothing of one that failed.
func TestLearnAtEnd(t *testing.T) {
	cfg := testConfig()
	st := State{Lo: 180, ItemTime: 25, History: []Setting{{From: t0, MaxConcurrency: 180}}, PrevAt: t0}
	tests := []struct {
		name   string
		status maprun.Status
		taught int32
		want   int32
	}{
		{"succeeded", maprun.StatusSucceeded, 0, 180},
		{"succeeded, already handed on", maprun.StatusSucceeded, 180, 0},
		{"succeeded, handed on lower", maprun.StatusSucceeded, 150, 180},
		{"failed", maprun.StatusFailed, 0, 0},
		{"aborted", maprun.StatusAborted, 0, 0},
		{"succeeded sharing the downstream with two others", maprun.StatusSucceeded, 0, 540},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := st
			s.Taught = tt.taught
			if strings.HasPrefix(tt.name, "succeeded sharing") {
				s.SharedBy = 3 // its 180 was a third of what the job could use
			}
			r := run(180, 0, 0)
			r.Status = tt.status
			d := Decide(cfg, s, Observation{At: at(30), Run: r})
			switch {
			case tt.want == 0 && d.Learn != nil:
				t.Errorf("learned %+v, want nothing", *d.Learn)
			case tt.want != 0 && (d.Learn == nil || d.Learn.Limit != tt.want || d.Learn.ItemTime != 25 || d.State.Taught != 180):
				t.Errorf("learned %+v (taught %d), want %d with item time 25, 180 taught", d.Learn, d.State.Taught, tt.want)
			}
		})
	}
}
