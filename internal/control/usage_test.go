package control

import (
	"math"
	"strings"
	"testing"
	"time"
)

// usageState is a run in slow start that held limit from minute 0 with
// running children, a tick every 10 s, up to minute to.
func usageState(limit int32, running int64, to int) State {
	st := steadyOwn(limit, running, 0, to)
	st.Phase, st.Lo, st.LoAt = PhaseSlowStart, limit, at(to)
	return st
}

func TestEstimateUsage(t *testing.T) {
	cfg := testConfig()
	// 10 children writing 20 units a minute of the 6 a second (360 a
	// minute) provisioned: 180 children would use them all.
	steady := map[int]float64{0: 20, 1: 20, 2: 20, 3: 20, 4: 20, 5: 20, 6: 20, 7: 20}
	six := map[int]float64{0: 6, 5: 6}
	tests := []struct {
		name        string
		st          State
		consumed    map[int]float64
		provisioned map[int]float64
		throttles   map[int]float64
		now         time.Time
		ok          bool
		capacity    float64
		units       float64
	}{
		// The newest five settled minutes: 2 to 6 at 8:00 (7 has not
		// settled).
		{"steady", usageState(10, 10, 8), steady, six, nil, at(8), true, 180, 100},
		{"no provisioned capacity", usageState(10, 10, 8), steady, nil, nil, at(8), false, 0, 0},
		{"no consumption", usageState(10, 10, 8), nil, six, nil, at(8), false, 0, 0},
		{"nothing settled", usageState(10, 10, 8), map[int]float64{7: 20}, six, nil, at(8), false, 0, 0},
		// Throttled minutes 5 and 6 are left out: 1 to 4 and 0.
		{"throttled minutes left out", usageState(10, 10, 8), steady, six, map[int]float64{5: 40, 6: 3}, at(8), true, 180, 100},
		// Only ticks up to minute 3: minutes 0 to 2 (3 has one tick).
		{"minutes not observed left out", usageState(10, 10, 3), steady, six, nil, at(8), true, 180, 60},
		// The capacity was published only after the minutes: the first one counts.
		{"capacity published after", usageState(10, 10, 8), steady, map[int]float64{5: 6}, nil, at(8), true, 180, 100},
		// Provisioned 3 from minute 5: minutes 5 and 6 count 20 of 180,
		// minutes 2 to 4 20 of 360.
		{"capacity changed", usageState(10, 10, 8), steady, map[int]float64{0: 6, 5: 3}, nil, at(8), true, 50 / (3*20.0/360 + 2*20.0/180), 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := Observation{At: tt.now, Throttles: points(tt.throttles), Usage: []Usage{{Name: "orders", Consumed: points(tt.consumed), Provisioned: points(tt.provisioned)}}}
			u, ok := usageOf(cfg, tt.st, obs)
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, tt.ok, u)
			}
			if !ok {
				return
			}
			if math.Abs(u.capacity-tt.capacity) > 1e-6 {
				t.Errorf("capacity %.3f, want %.3f", u.capacity, tt.capacity)
			}
			if low := tt.capacity * (1 - usageSpread/math.Sqrt(tt.units)); math.Abs(u.low-low) > 1e-6 {
				t.Errorf("low %.3f, want %.3f (%v units)", u.low, low, tt.units)
			}
		})
	}
	t.Run("the lowest table", func(t *testing.T) {
		st := usageState(10, 10, 8)
		obs := Observation{At: at(8), Usage: []Usage{
			{Name: "orders", Consumed: points(steady), Provisioned: points(six)},
			{Name: "audit", Consumed: points(steady), Provisioned: points(map[int]float64{0: 3})},
		}}
		u, ok := usageOf(cfg, st, obs)
		if !ok || u.name != "audit" || math.Abs(u.capacity-90) > 1e-6 {
			t.Fatalf("got %+v, %v; want audit's 90", u, ok)
		}
	})
}

// TestUsageSlowStart drives slow start on a table's usage: a run of 10
// children, each writing 2 units a minute to a table of 6 a second, climbs
// to below the capacity of 180 without waiting for its throttle
// datapoints, a step a minute within MaxStepUp, then approaches the rest
// in steps of approachStep, each confirmed clean.
func TestUsageSlowStart(t *testing.T) {
	cfg := testConfig()
	cfg.GrowthFactor = 1.5
	var st State
	limit := int32(10)
	consumed, throttles := map[int]float64{}, map[int]float64{}
	var reasons []Reason
	var limits []int32
	for s := 0; s < 30*6; s++ {
		now := t0.Add(time.Duration(s) * 10 * time.Second)
		m := s / 6
		// Each minute's datapoints are published two minutes after it ends.
		if s%6 == 0 && m >= 3 {
			consumed[m-3] = 2 * float64(st.History[len(st.History)-1].MaxConcurrency) // approximately the limit then
			throttles[m-3] = 0
		}
		obs := Observation{At: now, Run: run(limit, int64(limit), 50000), MetricsWatched: true, Throttles: points(throttles),
			Usage: []Usage{{Name: "orders", Consumed: points(consumed), Provisioned: points(map[int]float64{0: 6})}}}
		if s == 0 {
			obs.Usage = nil
		}
		d := Decide(cfg, st, obs)
		st = d.State
		if d.New.MaxConcurrency != limit {
			reasons, limits = append(reasons, d.Reason), append(limits, d.New.MaxConcurrency)
			if d.Reason == ReasonUsage && !strings.Contains(d.Message, "orders used") {
				t.Errorf("at %s: message %q does not say what the estimate rests on", now.Format("15:04:05"), d.Message)
			}
			if d.New.MaxConcurrency > 180 {
				t.Fatalf("at %s: %s raised %d to %d, past the capacity 180 (%s)", now.Format("15:04:05"), d.Reason, limit, d.New.MaxConcurrency, d.Message)
			}
			limit = d.New.MaxConcurrency
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
	if limit < 150 {
		t.Errorf("limit %d after 30 minutes, want near the capacity 180: %v %v", limit, limits, reasons)
	}
}

// TestUsageCap checks that no raise goes past a table's usage estimate
// for a run alone, which, once there, holds with the estimate as its
// bound; and that a run sharing the table climbs on.
func TestUsageCap(t *testing.T) {
	cfg := testConfig()
	cfg.GrowthFactor, cfg.Band = 1.5, 0.02
	// Each child consumes 3 units a minute of the 360 provisioned: the
	// capacity is 120 children.
	usage := func(limit int32) []Usage {
		c := map[int]float64{}
		for m := range 8 {
			c[m] = 3 * float64(limit)
		}
		return []Usage{{Name: "orders", Consumed: points(c), Provisioned: points(map[int]float64{0: 6})}}
	}
	tests := []struct {
		name   string
		limit  int32
		shared *Share
		want   int32
		reason Reason
		phase  Phase
	}{
		// 1,350 units in five minutes: low end 120 * (1 - 2/sqrt(1350)),
		// 113.5, and 95 % of it.
		{"below the estimate's target: up to it", 90, nil, 108, ReasonUsage, PhaseSlowStart},
		{"raise capped at the estimate", 115, nil, 120, ReasonSlowStart, PhaseSlowStart},
		{"at the estimate: held, and it stands as a bound", 120, nil, 120, ReasonUsage, PhaseBracket},
		{"sharing the table: slow start goes on", 120, &Share{Runs: 2, Others: 100, Held: 100}, 126, ReasonSlowStart, PhaseSlowStart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := usageState(tt.limit, int64(tt.limit), 8)
			st.SharedBy = tt.shared.runs()
			obs := Observation{At: at(8), Run: run(tt.limit, int64(tt.limit), 50000), Usage: usage(tt.limit), Shared: tt.shared}
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
