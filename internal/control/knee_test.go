package control

import (
	"math"
	"strings"
	"testing"
	"time"
)

// kneeTicks are the observations, every 10 s, of children that fill each
// limit of h and hold their place hold(limit) seconds: running the limit,
// finishing limit/hold(limit) a second. A limit's own pace starts with it.
func kneeTicks(h []Setting, to time.Time, hold func(int32) float64) []Tick {
	var ticks []Tick
	var done float64
	for at := h[0].From; !at.After(to); at = at.Add(10 * time.Second) {
		l := limitDuring(h, at, at.Add(time.Nanosecond))
		if len(ticks) > 0 {
			prev := limitDuring(h, at.Add(-10*time.Second), at.Add(-10*time.Second+time.Nanosecond))
			done += 10 * float64(prev) / hold(prev)
		}
		ticks = append(ticks, Tick{At: at, Running: int64(l), Done: int64(done)})
	}
	return ticks
}

// kneeHold is a downstream whose calls slow down past 250 in flight: 30 s
// below, (in flight / 250)^2 times that above.
func kneeHold(l int32) float64 { return 30 * math.Max(1, math.Pow(float64(l)/250, 2)) }

func TestCountsOver(t *testing.T) {
	tests := []struct {
		name     string
		limit    int32
		from, to time.Time
		ok       bool
	}{
		{"a whole window", 120, at(1), at(2), true},
		{"ticks cover too little of it", 120, at(4).Add(30 * time.Second), at(6), false},
		{"no tick in it", 120, at(6), at(7), false},
		{"too few children finished", 15, at(1), at(2), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := []Setting{{From: t0, MaxConcurrency: tt.limit}}
			rate, running, ok := countsOver(kneeTicks(h, at(5), func(int32) float64 { return 30 }), tt.from, tt.to)
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v (rate %.2f, running %.1f)", ok, tt.ok, rate, running)
			}
			if want := float64(tt.limit) / 30; ok && (math.Abs(rate-want) > 0.1 || running != float64(tt.limit)) {
				t.Fatalf("rate %.2f running %.1f, want %.2f/s and %d (%d children of 30 s)", rate, running, want, tt.limit, tt.limit)
			}
		})
	}
}

func TestKneeOf(t *testing.T) {
	raise := func(from, to int32, held time.Duration) State {
		h := []Setting{{From: t0, MaxConcurrency: from}, {From: at(3), MaxConcurrency: to}}
		return State{History: h, Ticks: kneeTicks(h, at(3).Add(held), kneeHold)}
	}
	tests := []struct {
		name        string
		st          State
		at          time.Time
		ok          bool
		past        bool
		clean       bool
		back        [2]int32 // the range it must fall in
		curLimit    int32
		refLimit    int32
		holdAtLeast float64
	}{
		{name: "below the knee the raise keeps the pace", st: raise(150, 225, 2*time.Minute), at: at(5), ok: true, clean: true, curLimit: 225, refLimit: 150},
		{name: "past the knee the raise buys nothing", st: raise(200, 300, 2*time.Minute), at: at(5), ok: true, past: true, back: [2]int32{205, 215}, curLimit: 300, refLimit: 200, holdAtLeast: 40},
		{name: "far past it the estimate is the floor", st: raise(200, 400, 3*time.Minute), at: at(6), ok: true, past: true, back: [2]int32{200, 200}, curLimit: 400, refLimit: 200, holdAtLeast: 70},
		{name: "not measured yet", st: raise(200, 300, 40*time.Second), at: at(3).Add(40 * time.Second)},
		{name: "held for long is no longer a raise to judge", st: raise(200, 300, 10*time.Minute), at: at(13)},
		{name: "a cut is no raise", st: raise(300, 200, 2*time.Minute), at: at(5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, ok := kneeOf(&tt.st, tt.at)
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v: %+v", ok, tt.ok, k)
			}
			if !ok {
				return
			}
			if k.past != tt.past || k.clean != tt.clean || k.back < tt.back[0] || k.back > tt.back[1] {
				t.Errorf("past %v clean %v back %d, want %v %v %v (hold %.1f s against %.1f s)", k.past, k.clean, k.back, tt.past, tt.clean, tt.back, k.cur.hold(), k.ref.hold())
			}
			if k.cur.limit != tt.curLimit || k.ref.limit != tt.refLimit || k.cur.hold() < tt.holdAtLeast {
				t.Errorf("judged %d (hold %.1f s) against %d, want %d (at least %.0f s) against %d", k.cur.limit, k.cur.hold(), k.ref.limit, tt.curLimit, tt.holdAtLeast, tt.refLimit)
			}
		})
	}
}

// kneeWorld is a run of children in batches, against a downstream that
// slows past a knee, observed every 10 s, whose throttle metric stays at
// zero: only the counts tell.
type kneeWorld struct {
	history []Setting
	done    float64
	at      time.Time
}

func (w *kneeWorld) observe(at time.Time) Observation {
	l := effective(w.history[len(w.history)-1].MaxConcurrency)
	w.done += at.Sub(w.at).Seconds() * float64(l) / kneeHold(l)
	w.at = at
	var ps []Datapoint
	for m := t0; !m.Add(3 * minute).After(at); m = m.Add(minute) {
		ps = append(ps, Datapoint{Minute: m})
	}
	r := run(l, int64(l), 50000)
	r.Items.Succeeded = int64(w.done)
	return Observation{At: at, Run: r, MetricsWatched: true, Throttles: ps}
}

func TestKneeStepScript(t *testing.T) {
	w := &kneeWorld{history: []Setting{{From: t0, MaxConcurrency: 200}}, at: t0}
	var st State
	var kneeAt time.Time
	highest := int32(0)
	end := at(20)
	for now := t0; now.Before(end); now = now.Add(10 * time.Second) {
		d := Decide(testConfig(), st, w.observe(now))
		st = d.State
		if d.Reason == ReasonKnee {
			if kneeAt.IsZero() {
				kneeAt = now
			}
			if !strings.Contains(d.Message, "live counts") {
				t.Errorf("%s: knee cut does not name the live counts: %s", now.Format(time.TimeOnly), d.Message)
			}
		}
		if !kneeAt.IsZero() {
			highest = max(highest, d.New.MaxConcurrency)
		}
		if d.New.MaxConcurrency != d.Old.MaxConcurrency {
			w.history = append(w.history, Setting{From: now, MaxConcurrency: d.New.MaxConcurrency})
		}
	}
	raised := w.history[1]
	if raised.MaxConcurrency != 400 || kneeAt.IsZero() {
		t.Fatalf("limits %v: want slow start to 400, then a knee cut", w.history)
	}
	if wait := kneeAt.Sub(raised.From); wait > 3*time.Minute {
		t.Errorf("knee cut %s after the raise to 400, want it from the counts within 3 minutes", wait)
	}
	if highest >= 400 {
		t.Errorf("after the knee cut the limit went back to %d, want it below 400", highest)
	}
	final := w.history[len(w.history)-1].MaxConcurrency
	if final < 225 || final > 290 {
		t.Errorf("final limit %d (history %v), want it near the knee of 250", final, w.history)
	}
}
