package control

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

// usageState is a run in slow start that held limit from minute 0 with
// running children, a tick every 10 s up to minute to, confirmed clean,
// its children holding their place 30 s.
func usageState(limit int32, running int64, to int) State {
	st := steadyOwn(limit, running, 0, to)
	st.Phase, st.Lo, st.LoAt, st.ItemTime = PhaseSlowStart, limit, at(to), 30
	return st
}

// minutes is every minute from 0 to 7 at value v.
func minutes(v float64) map[int]float64 {
	out := map[int]float64{}
	for m := range 8 {
		out[m] = v
	}
	return out
}

func TestEstimateUsage(t *testing.T) {
	cfg := testConfig()
	// 10 children writing 20 units a minute of the 6 a second (360 a
	// minute) provisioned: 180 children would use them all.
	steady, clean, six := minutes(20), minutes(0), map[int]float64{0: 6, 5: 6}
	with := func(m map[int]float64, k int, v float64) map[int]float64 {
		out := map[int]float64{k: v}
		for kk, vv := range m {
			if kk != k {
				out[kk] = vv
			}
		}
		return out
	}
	// No item time measured and no child finished: how long a child
	// holds its place is not known, nor whether a minute was steady.
	noHold := usageState(10, 10, 8)
	noHold.ItemTime = 0
	for i := range noHold.Ticks {
		noHold.Ticks[i].Done = 0
	}
	changed := usageState(10, 10, 8)
	changed.History = append(changed.History, Setting{From: at(5).Add(10 * time.Second), MaxConcurrency: 10})
	tests := []struct {
		name        string
		st          State
		consumed    map[int]float64
		provisioned map[int]float64
		throttles   map[int]float64
		ok          bool
		capacity    float64
		units       float64
	}{
		// The newest three settled minutes at 8:00: 4 to 6 (7 has not
		// settled).
		{"steady", usageState(10, 10, 8), steady, six, clean, true, 180, 60},
		{"no hold time known", noHold, steady, six, clean, false, 0, 0},
		{"no provisioned capacity", usageState(10, 10, 8), steady, nil, clean, false, 0, 0},
		{"provisioned capacity stale", usageState(10, 10, 8), steady, map[int]float64{-5: 6}, clean, false, 0, 0},
		{"not a number", usageState(10, 10, 8), steady, map[int]float64{0: math.NaN(), 5: math.NaN()}, clean, false, 0, 0},
		{"no consumption", usageState(10, 10, 8), nil, six, clean, false, 0, 0},
		{"nothing settled", usageState(10, 10, 8), map[int]float64{7: 20}, six, clean, false, 0, 0},
		// Throttled minutes 5 and 6 are left out: 2 to 4.
		{"throttled minutes left out", usageState(10, 10, 8), with(steady, 5, 200), six, with(with(clean, 5, 40), 6, 3), true, 180, 60},
		// Minutes 5 and 6 have no throttle datapoint yet: not judged.
		{"minutes not judged left out", usageState(10, 10, 8), with(steady, 5, 200), six, map[int]float64{0: 0, 1: 0, 2: 0, 3: 0, 4: 0}, true, 180, 60},
		{"no minute judged", usageState(10, 10, 8), steady, six, nil, false, 0, 0},
		// Only ticks up to minute 3: minutes 1 and 2 (3 has none after it
		// starts; 0 began less than an item time after the limit was set).
		{"minutes not observed left out", usageState(10, 10, 3), steady, six, clean, true, 180, 40},
		// The limit was set at 5:10: minute 5 is not steady (from an item
		// time before it), minute 6 is.
		{"minutes not steady left out", changed, with(steady, 5, 200), six, clean, true, 180, 60},
		// The capacity was published only after the minutes: the first one counts.
		{"capacity published after", usageState(10, 10, 8), steady, map[int]float64{5: 6}, clean, true, 180, 60},
		// Provisioned 3 from minute 5: the capacity is what the table has
		// now, 3 units a second at 2 a child a minute.
		{"capacity lowered", usageState(10, 10, 8), steady, map[int]float64{0: 6, 5: 3}, clean, true, 90, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := Observation{At: at(8), Throttles: points(tt.throttles), Usage: []Usage{{Name: "orders", Consumed: points(tt.consumed), Provisioned: points(tt.provisioned)}}}
			u, ok := usageOf(cfg, tt.st, obs)
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, tt.ok, u)
			}
			if !ok {
				return
			}
			if math.Abs(u.Capacity-tt.capacity) > 1e-6 {
				t.Errorf("capacity %.3f, want %.3f", u.Capacity, tt.capacity)
			}
			if low := tt.capacity * (1 - usageSpread/math.Sqrt(tt.units)); math.Abs(u.Low-low) > 1e-6 {
				t.Errorf("low %.3f, want %.3f (%v units)", u.Low, low, tt.units)
			}
		})
	}
	t.Run("the lowest of the tables", func(t *testing.T) {
		st := usageState(10, 10, 8)
		// few: 10 units a minute of 100 a minute provisioned, capacity
		// 100, low end 100 * (1 - 2/sqrt(30)); many: 300 of 2,700,
		// capacity 90, low end 90 * (1 - 2/sqrt(900)). The capacity is
		// many's, the low end few's.
		obs := Observation{At: at(8), Throttles: points(clean), Usage: []Usage{
			{Name: "few", Consumed: points(minutes(10)), Provisioned: points(map[int]float64{0: 100.0 / 60})},
			{Name: "many", Consumed: points(minutes(300)), Provisioned: points(map[int]float64{0: 45})},
		}}
		u, ok := usageOf(cfg, st, obs)
		if !ok || u.Table != "many" || math.Abs(u.Capacity-90) > 1e-6 || math.Abs(u.Low-100*(1-2/math.Sqrt(30))) > 1e-6 {
			t.Fatalf("got %+v, %v; want many's capacity 90 and few's low end", u, ok)
		}
	})
}

// TestUsageSlowStart drives a run of 10 children against a table of 6
// units a second, each item writing one unit as it ends after 30 s: the
// capacity is 180. It climbs on the table's usage without waiting for
// each step's throttle datapoints, never past the capacity, and ends near
// it.
func TestUsageSlowStart(t *testing.T) {
	cfg := testConfig()
	cfg.GrowthFactor = 1.5
	w := newWorld(180, 2*time.Minute, maprun.Settings{MaxConcurrency: 10}, 1_000_000)
	w.provisioned = 6
	var st State
	var limits []int32
	var reasons []Reason
	for s := 0; s < 30*6; s++ {
		now := t0.Add(time.Duration(s) * 10 * time.Second)
		obs := w.observe(now)
		d := Decide(cfg, st, obs)
		st = d.State
		if d.New.MaxConcurrency != w.settings.MaxConcurrency {
			limits, reasons = append(limits, d.New.MaxConcurrency), append(reasons, d.Reason)
			if d.Reason == ReasonUsage && !strings.Contains(d.Message, "table used") {
				t.Errorf("at %s: message %q does not say what the estimate rests on", now.Format("15:04:05"), d.Message)
			}
			if d.New.MaxConcurrency > 180 {
				t.Fatalf("at %s: %s raised %d to %d, past the capacity 180 (%s)", now.Format("15:04:05"), d.Reason, w.settings.MaxConcurrency, d.New.MaxConcurrency, d.Message)
			}
			w.set(now, d.New)
		}
	}
	t.Logf("limits %v, reasons %v", limits, reasons)
	usage := 0
	for i, r := range reasons {
		if r == ReasonUsage {
			usage++
			if i > 0 && float64(limits[i]) > float64(limits[i-1])*cfg.MaxStepUp {
				t.Errorf("step %d: %d to %d is past MaxStepUp", i, limits[i-1], limits[i])
			}
		}
	}
	if usage < 2 {
		t.Fatalf("%d raises on the usage, want the climb on it: %v %v", usage, limits, reasons)
	}
	if l := w.settings.MaxConcurrency; l < 160 {
		t.Errorf("limit %d after 30 minutes, want near the capacity 180: %v %v", l, limits, reasons)
	}
}

// TestUsageCap checks that no raise of a run alone on its table goes past
// the table's usage estimate, which, once reached, holds with the
// estimate as its bound; and that a run sharing the table climbs on.
func TestUsageCap(t *testing.T) {
	cfg := testConfig()
	cfg.GrowthFactor, cfg.Band = 1.5, 0.02
	// Each child consumes 3 units a minute of the 360 provisioned: the
	// capacity is 120 children.
	usage := func(limit int32) []Usage {
		return []Usage{{Name: "orders", Consumed: points(minutes(3 * float64(limit))), Provisioned: points(map[int]float64{0: 6})}}
	}
	probing := func(s State) State {
		s.Phase, s.Expired = PhaseProbe, 100
		return s
	}
	tests := []struct {
		name   string
		limit  int32
		state  func(State) State
		shared *Share
		want   int32
		reason Reason
		phase  Phase
	}{
		// 810 units in three minutes: low end 120 * (1 - 2/sqrt(810)),
		// 111.6, and 95 % of it.
		{"below the estimate's target: up to it", 90, nil, nil, 106, ReasonUsage, PhaseSlowStart},
		{"raise capped at the estimate", 115, nil, nil, 120, ReasonSlowStart, PhaseSlowStart},
		{"at the estimate: held, and it stands as a bound", 120, nil, nil, 120, ReasonUsage, PhaseBracket},
		{"a probe at the estimate: held", 120, probing, nil, 120, ReasonUsage, PhaseBracket},
		{"sharing the table: slow start goes on", 120, nil, &Share{Runs: 2, Others: 100, Held: 100}, 126, ReasonSlowStart, PhaseSlowStart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := usageState(tt.limit, int64(tt.limit), 8)
			if tt.state != nil {
				st = tt.state(st)
			}
			st.SharedBy = tt.shared.runs()
			obs := Observation{At: at(8), Run: run(tt.limit, int64(tt.limit), 50000), MetricsWatched: true, Throttles: points(minutes(0)), Usage: usage(tt.limit), Shared: tt.shared}
			d := Decide(cfg, st, obs)
			if d.New.MaxConcurrency != tt.want || d.Reason != tt.reason || d.State.Phase != tt.phase {
				t.Fatalf("%s %d (%s), phase %s; want %s %d, phase %s", d.Reason, d.New.MaxConcurrency, d.Message, d.State.Phase, tt.reason, tt.want, tt.phase)
			}
			if tt.phase == PhaseBracket && d.State.Hi <= tt.limit {
				t.Errorf("bound %d, want above the limit held %d", d.State.Hi, tt.limit)
			}
		})
	}
}
