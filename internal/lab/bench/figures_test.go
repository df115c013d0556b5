package bench

import (
	"math"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// points builds one point per minute from minute first, with these limits
// and a capacity of capacity.
func points(first int, capacity float64, limits ...int32) []sim.Point {
	var out []sim.Point
	for i, l := range limits {
		out = append(out, sim.Point{Minute: first + i, Limit: l, Capacity: capacity})
	}
	return out
}

func TestConverge(t *testing.T) {
	tests := []struct {
		name   string
		pts    []sim.Point
		ref    reference
		want   float64
		wantOK bool
	}{
		{"from the start", points(0, 200, 200, 200, 200, 200, 200), reference{Static: 200}, 0, true},
		{"after a climb", points(3, 200, 10, 20, 40, 80, 190, 205, 210, 195, 181, 300), reference{Static: 200}, 4, true},
		{"band edges count", points(0, 100, 90, 110, 90, 110, 90), reference{Static: 100}, 0, true},
		{"just outside the band", points(0, 100, 89, 100, 100, 100, 100, 100), reference{Static: 100}, 1, true},
		{"four minutes are not enough", points(0, 200, 200, 200, 200, 200, 50, 200), reference{Static: 200}, 0, false},
		{"a break restarts the count", points(0, 200, 200, 200, 200, 200, 300, 200, 200, 200, 200, 200), reference{Static: 200}, 5, true},
		{"unlimited counts as 10,000", points(0, 10000, 0, 0, 0, 0, 0), reference{Static: 10000}, 0, true},
		{"the capacity of each minute", append(points(0, 100, 100, 100, 100), points(3, 200, 200, 200)...), reference{}, 0, true},
		{"a capacity the limit does not follow", append(points(0, 100, 100, 100, 100), points(3, 200, 100, 100)...), reference{}, 0, false},
		{"no points", nil, reference{Static: 1}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := converge(tt.pts, tt.ref)
			if ok != tt.wantOK || ok && got != tt.want {
				t.Errorf("converge = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestOscillation(t *testing.T) {
	tests := []struct {
		name string
		pts  []sim.Point
		ref  reference
		at   float64
		want float64
	}{
		{"steady", points(0, 200, 200, 200, 200, 200, 200), reference{Static: 200}, 0, 0},
		{"before convergence left out", points(0, 200, 10, 20, 200, 200, 200, 200, 200), reference{Static: 200}, 2, 0},
		// 0.9, 1.0, 1.1 of the reference: p95 1.09, p5 0.91, median 1.
		{"swinging", points(0, 200, 180, 200, 220), reference{Static: 200}, 0, 0.18},
		{"relative to each minute's capacity", append(points(0, 100, 100, 100), points(2, 200, 200, 200)...), reference{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oscillation(tt.pts, tt.ref, tt.at); !same(got, tt.want) {
				t.Errorf("oscillation = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCapacitySteps(t *testing.T) {
	sc := sim.Scenario{Downstreams: []sim.Downstream{
		{Name: "a", Schedule: []sim.Change{{At: 10 * time.Minute, Factor: 0.5}, {At: 20 * time.Minute, Factor: 0.5}, {At: 30 * time.Minute, Factor: 2, Ramp: time.Minute}, {At: 40 * time.Minute, Factor: 3}}},
		{Name: "b"},
	}}
	got := capacitySteps(sc)
	want := []step{{At: 10 * time.Minute, Until: 20 * time.Minute, Rise: false}, {At: 40 * time.Minute, Rise: true}}
	if len(got) != 1 || len(got["a"]) != len(want) {
		t.Fatalf("capacitySteps = %+v, want a: %+v", got, want)
	}
	for i := range want {
		if got["a"][i] != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, got["a"][i], want[i])
		}
	}
}

func TestOvershoot(t *testing.T) {
	rise := step{At: 3 * time.Minute, Rise: true}
	fall := step{At: 3 * time.Minute}
	tests := []struct {
		name string
		pts  []sim.Point
		s    step
		want float64
	}{
		{"rise, grows past the new capacity", append(points(0, 100, 100, 100, 100), points(3, 200, 100, 150, 250, 200)...), rise, 0.25},
		{"rise, settles exactly", append(points(0, 100, 100, 100, 100), points(3, 200, 150, 200, 200)...), rise, 0},
		{"rise, never reached", append(points(0, 100, 100, 100, 100), points(3, 200, 110, 120)...), rise, 0},
		{"rise, the climb before the step does not count", append(points(0, 100, 400, 100, 100), points(3, 200, 200)...), rise, 0},
		{"fall, cut then probes back over", append(points(0, 200, 200, 200, 200), points(3, 100, 200, 70, 90, 130)...), fall, 0.3},
		{"fall, never followed", append(points(0, 200, 200, 200, 200), points(3, 100, 200, 200)...), fall, 1},
		{"window ends at the next change", append(points(0, 100, 100, 100, 100), points(3, 200, 200, 200, 900)...), step{At: 3 * time.Minute, Until: 5 * time.Minute, Rise: true}, 0},
		{"no minute after the step", points(0, 100, 100, 100), rise, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := overshoot(tt.pts, tt.s); !same(got, tt.want) {
				t.Errorf("overshoot = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFullPoints(t *testing.T) {
	tests := []struct {
		name              string
		started, makespan time.Duration
		minutes           int
		want              int
	}{
		{"ends inside its last minute", 0, 150 * time.Second, 3, 2},
		{"ends on a minute", 0, 3 * time.Minute, 3, 3},
		{"starts late", 5 * time.Minute, 2*time.Minute + time.Second, 3, 2},
		{"no point", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sim.RunResult{Started: tt.started, Makespan: tt.makespan, Series: points(int(tt.started/time.Minute), 1, make([]int32, tt.minutes)...)}
			if got := fullPoints(r); len(got) != tt.want {
				t.Errorf("fullPoints kept %d points, want %d", len(got), tt.want)
			}
		})
	}
}

func TestDoomed(t *testing.T) {
	pct := func(v float64) *float64 { return &v }
	count := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		r    sim.RunSpec
		want bool
	}{
		{"no failures, no tolerance", sim.RunSpec{Items: 100}, false},
		{"one poison item, no tolerance", sim.RunSpec{Items: 100, Failures: sim.FailureSpec{PoisonBatch: &sim.ItemRange{From: 5, Count: 1}}}, true},
		{"broken deployment past 5 %", sim.RunSpec{Items: 15000, ToleratedFailurePercentage: pct(5), Failures: sim.FailureSpec{BrokenAfter: count(1000)}}, true},
		{"poison batch within 10 %", sim.RunSpec{Items: 15000, ToleratedFailurePercentage: pct(10), Failures: sim.FailureSpec{PoisonBatch: &sim.ItemRange{From: 6000, Count: 750}}}, false},
		{"poison batch past a count", sim.RunSpec{Items: 15000, ToleratedFailureCount: count(700), Failures: sim.FailureSpec{PoisonBatch: &sim.ItemRange{From: 6000, Count: 750}}}, true},
		{"batches widen the poison", sim.RunSpec{Items: 1000, BatchSize: 100, ToleratedFailurePercentage: pct(15), Failures: sim.FailureSpec{PoisonBatch: &sim.ItemRange{From: 95, Count: 10}}}, true},
		{"expected poison fraction within", sim.RunSpec{Items: 1000, ToleratedFailurePercentage: pct(5), Failures: sim.FailureSpec{PoisonFraction: 0.04}}, false},
		{"expected poison fraction past", sim.RunSpec{Items: 1000, ToleratedFailurePercentage: pct(5), Failures: sim.FailureSpec{PoisonFraction: 0.06}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := doomed(tt.r); got != tt.want {
				t.Errorf("doomed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFigures(t *testing.T) {
	oracle := sim.Result{Makespan: 40 * time.Minute, Runs: []sim.RunResult{{Status: "SUCCEEDED"}}}
	failedOracle := sim.Result{Makespan: 5 * time.Minute, Runs: []sim.RunResult{{Status: "FAILED"}}}
	run := func(status string, throttle, poison int64) sim.RunResult {
		return sim.RunResult{Status: status, Items: 1000, Calls: 2000, Throttled: 50, FailedThrottle: throttle, FailedPoison: poison,
			Makespan: 8 * time.Minute, Series: points(0, 200, 10, 200, 200, 200, 200, 200, 210, 200)}
	}
	api := sim.APIStats{Calls: map[string]int64{"UpdateMapRun": 3, "DescribeMapRun": 10}, TotalCalls: 13, TotalThrottled: 2}
	tests := []struct {
		name          string
		res, oracle   sim.Result
		doomed        []bool
		ratio         float64
		throttleFails int
		outcomes      Outcomes
	}{
		{
			name:     "completed",
			res:      sim.Result{Makespan: 44 * time.Minute, Runs: []sim.RunResult{run("SUCCEEDED", 0, 0)}, API: api},
			oracle:   oracle,
			ratio:    1.1,
			outcomes: Outcomes{Succeeded: 1},
		},
		{
			name:          "failed by throttling while the oracle completed",
			res:           sim.Result{Makespan: 10 * time.Minute, Runs: []sim.RunResult{run("FAILED", 60, 0)}, API: api},
			oracle:        oracle,
			ratio:         math.Inf(1),
			throttleFails: 1,
			outcomes:      Outcomes{Failed: 1},
		},
		{
			name:     "a doomed run is not failed by throttling",
			res:      sim.Result{Makespan: 10 * time.Minute, Runs: []sim.RunResult{run("FAILED", 60, 700)}, API: api},
			oracle:   failedOracle,
			doomed:   []bool{true},
			ratio:    2,
			outcomes: Outcomes{Failed: 1},
		},
		{
			name:     "still running at the horizon",
			res:      sim.Result{Makespan: 10 * time.Minute, Runs: []sim.RunResult{run("RUNNING", 0, 0)}, API: api},
			oracle:   oracle,
			ratio:    math.Inf(1),
			outcomes: Outcomes{Running: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := figures(tt.res, tt.oracle, reference{Static: 200}, facts{doomed: tt.doomed})
			if !same(float64(f.MakespanRatio), tt.ratio) {
				t.Errorf("MakespanRatio = %v, want %v", f.MakespanRatio, tt.ratio)
			}
			if f.ThrottleFailures != tt.throttleFails || f.Outcomes != tt.outcomes {
				t.Errorf("ThrottleFailures, Outcomes = %d, %+v; want %d, %+v", f.ThrottleFailures, f.Outcomes, tt.throttleFails, tt.outcomes)
			}
			if f.ThrottledPercent != 2.5 {
				t.Errorf("ThrottledPercent = %v, want 2.5", f.ThrottledPercent)
			}
			if f.UpdateMapRunCalls != 3 || f.OtherAPICalls != 10 || f.APIThrottled != 2 {
				t.Errorf("API calls = %d, %d, %d; want 3, 10, 2", f.UpdateMapRunCalls, f.OtherAPICalls, f.APIThrottled)
			}
			if !f.Converged || f.ConvergeMinutes != 1 {
				t.Errorf("Converged, ConvergeMinutes = %v, %v; want true, 1", f.Converged, f.ConvergeMinutes)
			}
			if !math.IsNaN(float64(f.Overshoot)) {
				t.Errorf("Overshoot = %v without a step, want NaN", f.Overshoot)
			}
		})
	}
}
