package control

import (
	"math"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

// every returns observations from from to to, every step, of a run that
// finishes rate items a second with running children, fail of them a
// second failing.
func every(from, to time.Time, step time.Duration, rate, fail float64, running int64) []Tick {
	var ts []Tick
	for t := from; !t.After(to); t = t.Add(step) {
		s := t.Sub(t0).Seconds()
		ts = append(ts, Tick{At: t, Running: running, Done: int64(math.Round(rate * s)), Failed: int64(math.Round(fail * s))})
	}
	return ts
}

func TestMinuteRate(t *testing.T) {
	cases := []struct {
		name    string
		ticks   []Tick
		m       time.Time
		rate    float64 // items a second; goodput as well, failures aside
		goodput float64
		ok      bool
	}{
		{name: "a look every 10 s covers the minute itself", ticks: every(at(0), at(5), 10*time.Second, 10, 0, 300), m: at(3), rate: 10, goodput: 10, ok: true},
		{name: "a tick a minute", ticks: every(at(0), at(5), time.Minute, 5, 0, 150), m: at(3), rate: 5, goodput: 5, ok: true},
		{name: "ticks off the minute", ticks: every(sec(0, 5), at(5), time.Minute, 5, 0, 150), m: at(3), rate: 5, goodput: 5, ok: true},
		{name: "failed children finish but are not served", ticks: every(at(0), at(5), 10*time.Second, 10, 4, 300), m: at(3), rate: 10, goodput: 6, ok: true},
		{name: "the minute is past the last observation", ticks: every(at(0), at(3), 10*time.Second, 10, 0, 300), m: at(3), ok: false},
		{name: "observations too far apart", ticks: every(at(0), at(9), 3*time.Minute, 10, 0, 300), m: at(4), ok: false},
		{name: "counts went back", ticks: []Tick{{At: at(3), Done: 900}, {At: at(4), Done: 100}}, m: at(3), ok: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rate, running, ok := minuteRate(c.ticks, c.m)
			good, _, gok := goodput(c.ticks, c.m)
			if ok != c.ok || gok != c.ok {
				t.Fatalf("ok %v (goodput %v), want %v", ok, gok, c.ok)
			}
			if !ok {
				return
			}
			if math.Abs(rate-c.rate) > 0.05 || math.Abs(good-c.goodput) > 0.05 {
				t.Errorf("rate %.2f goodput %.2f, want %.2f and %.2f", rate, good, c.rate, c.goodput)
			}
			if want := float64(c.ticks[0].Running); running != want {
				t.Errorf("running %.0f, want %.0f", running, want)
			}
		})
	}
}

// TestThrottleSpell: a spell of throttling begins when throttling is seen
// long after the last cut and goes on while the cuts follow each other;
// its estimate exists once it has lasted a minute.
func TestThrottleSpell(t *testing.T) {
	st := State{ItemTime: 30, Ticks: every(at(0), at(20), 10*time.Second, 5, 0, 150)}
	steps := []struct {
		at    time.Time
		cut   bool // a cut follows the throttling seen
		since time.Time
		known bool // spellEstimate has a value
	}{
		{at: sec(10, 10), cut: true, since: sec(10, 10)},
		{at: sec(10, 30), cut: true, since: sec(10, 10)},
		{at: sec(11, 0), since: sec(10, 10)},
		{at: sec(11, 10), cut: true, since: sec(10, 10), known: true},
		// Throttling seen long after the last cut is a new spell.
		{at: sec(14, 0), cut: true, since: sec(14, 0)},
		{at: sec(15, 10), since: sec(14, 0), known: true},
	}
	for i, s := range steps {
		st.throttled(s.at)
		est := spellEstimate(&st, s.at)
		if !st.ThrottledSince.Equal(s.since) || est.known != s.known {
			t.Fatalf("step %d at %s: spell since %s, estimate known %v; want %s, %v",
				i, s.at.Format(time.TimeOnly), st.ThrottledSince.Format(time.TimeOnly), est.known, s.since.Format(time.TimeOnly), s.known)
		}
		if s.known && math.Abs(est.value-150) > 1 {
			t.Fatalf("step %d: estimate %.1f, want the served 150", i, est.value)
		}
		if s.cut {
			st.CutAt = s.at
		}
	}
}

// TestDropCut is a step script of a drop of the capacity seen live, a
// look every 10 s: a run confirmed clean at 300, 30 s items, the capacity
// halves at 15:00. The first cut is Backoff, not the old pace of the
// minute before (which says 300); the cut a minute into the throttling
// goes at once to the pace served since, whatever Backoff says.
func TestDropCut(t *testing.T) {
	cfg := testConfig()
	var ticks []Tick
	done := int64(0)
	for s := 0; s <= 16*60+10; s += 10 {
		if s > 0 {
			if s <= 15*60 {
				done += 100 // 300 children of 30 s
			} else {
				done += 50 // the capacity halved
			}
		}
		ticks = append(ticks, Tick{At: t0.Add(time.Duration(s) * time.Second), Running: 300, Done: done})
	}
	tickAt := func(at time.Time) Tick {
		for _, tk := range ticks {
			if tk.At.Equal(at) {
				return tk
			}
		}
		t.Fatalf("no tick at %s", at)
		return Tick{}
	}
	past := func(to time.Time) []Tick {
		var out []Tick
		for _, tk := range ticks {
			if tk.At.Before(to) {
				out = append(out, tk)
			}
		}
		return out
	}
	throttled := func(since, started time.Time) LiveSample {
		return LiveSample{Since: since, Sampled: 12, Throttled: 5, NewestAt: since.Add(5 * time.Second), StartedAt: started}
	}
	st := State{
		Phase: PhaseBracket, Lo: 300, LoAt: at(10), Hi: 306, HiAt: at(12), CutAt: at(12), ItemTime: 30,
		History: []Setting{{From: at(12), MaxConcurrency: 300}},
	}
	steps := []struct {
		at     time.Time
		limit  int32
		live   LiveSample
		reason Reason
		want   int32
	}{
		{at: sec(15, 10), limit: 300, live: throttled(at(15), sec(15, 2)), reason: ReasonLiveThrottled, want: 210},
		// Children started under 300 still retry: answered.
		{at: sec(15, 20), limit: 210, live: throttled(sec(15, 10), sec(15, 5)), reason: ReasonLiveThrottled, want: 210},
		{at: sec(15, 30), limit: 210, live: throttled(sec(15, 20), sec(15, 25)), reason: ReasonLiveThrottled, want: 147},
		// A minute into the spell, children under 147 are throttled: the
		// served pace, 5 a second of 30 s items, says 150 at most; a cut
		// goes under it by twice the band (Backoff would say 102).
		{at: sec(16, 10), limit: 147, live: throttled(sec(16, 0), sec(16, 2)), reason: ReasonLiveThrottled, want: 132},
	}
	for i, s := range steps {
		tk := tickAt(s.at)
		st.Ticks, st.Prev, st.PrevAt = past(s.at), runItems(past(s.at)), s.at.Add(-10*time.Second)
		obs := Observation{At: s.at, Run: run(s.limit, tk.Running, 10000), MetricsWatched: true, Live: s.live,
			Throttles: []Datapoint{{Minute: at(13), Value: 0}}}
		obs.Run.Items.Succeeded = tk.Done
		d := Decide(cfg, st, obs)
		if d.Reason != s.reason || d.New.MaxConcurrency != s.want {
			t.Fatalf("step %d at %s: %s %d, want %s %d: %s", i, s.at.Format(time.TimeOnly), d.Reason, d.New.MaxConcurrency, s.reason, s.want, d.Message)
		}
		st = d.State
	}
}

// runItems are the counts of the last of ticks, as Prev keeps them.
func runItems(ticks []Tick) (c maprun.Counts) {
	last := ticks[len(ticks)-1]
	c.Succeeded, c.Failed = last.Done-last.Failed, last.Failed
	return c
}

// TestMinuteCadenceDropCut: a run looked at once a minute, confirmed
// clean at 150 with 10 s items, is seen throttled at 12:11. The capacity
// fell at an instant of the minute unseen, so its goodput is an upper
// bound: a cut goes to it when it is below what Backoff says (within
// MaxStepDown, owing the rest), and to Backoff when the drop came late
// in the minute.
func TestMinuteCadenceDropCut(t *testing.T) {
	cases := []struct {
		name   string
		served int64 // items succeeded in the minute from 12:10
		want   int32
		owed   int32
	}{
		{name: "drop at the start of the minute", served: 360, want: 75, owed: 57},
		{name: "drop late in the minute", served: 780, want: 105},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ticks []Tick
			for m := 0; m <= 10; m++ {
				ticks = append(ticks, Tick{At: at(m), Running: 150, Done: int64(m) * 900})
			}
			ticks = append(ticks, Tick{At: at(11), Running: 150, Done: 9000 + c.served})
			st := State{
				Phase: PhaseBracket, Lo: 150, LoAt: at(5), Hi: 153, HiAt: at(3), CutAt: at(3), ItemTime: 10,
				History: []Setting{{From: at(0), MaxConcurrency: 150}},
				Ticks:   ticks[:11], Prev: maprun.Counts{Succeeded: 9000}, PrevAt: at(10),
			}
			obs := Observation{At: at(11), Run: run(150, 150, 10000), MetricsWatched: true,
				Throttles: []Datapoint{{Minute: at(8), Value: 0}},
				Live:      LiveSample{Since: at(10), Sampled: 12, Throttled: 6, NewestAt: sec(10, 55), StartedAt: sec(10, 50)}}
			obs.Run.Items.Succeeded = 9000 + c.served
			d := Decide(testConfig(), st, obs)
			if d.Reason != ReasonLiveThrottled || d.New.MaxConcurrency != c.want || d.State.Owed != c.owed {
				t.Fatalf("%s %d owing %d, want LiveThrottled %d owing %d: %s", d.Reason, d.New.MaxConcurrency, d.State.Owed, c.want, c.owed, d.Message)
			}
		})
	}
}
