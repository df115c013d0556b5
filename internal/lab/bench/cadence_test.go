package bench

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/tuner"
)

// TestCadence scripts the reports of four ticks for three runs: a is
// decided at minutes 1, 2 and 4 and stops at 5; b starts at 2 and is
// decided at 3 and stops at 3.5; c starts at 3 and is never decided.
func TestCadence(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	at := func(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }
	res := sim.Result{Start: t0, Runs: []sim.RunResult{
		{MapRunARN: "a", Status: "SUCCEEDED", Started: 0, Makespan: 5 * time.Minute},
		{MapRunARN: "b", Status: "SUCCEEDED", Started: 2 * time.Minute, Makespan: 90 * time.Second},
		{MapRunARN: "c", Status: "RUNNING", Started: 3 * time.Minute, Makespan: 2 * time.Minute},
		{MapRunARN: "d"}, // never started: not counted
	}}
	decide := func(arns ...string) tuner.Report {
		var r tuner.Report
		for _, a := range arns {
			r.Decisions = append(r.Decisions, tuner.RunDecision{MapRunARN: a})
		}
		r.Calls = map[budget.API]int{budget.DescribeMapRun: len(arns)}
		return r
	}
	var tk ticks
	tk.record(at(1), decide("a"), true)
	tk.record(at(2), decide("a"), true)
	tk.record(at(3), decide("b"), true)
	tk.record(at(4), decide("a", "b"), true)
	c := tk.cadence(res)
	// first: a 1, b 1, c never; intervals: a 1, 2, tail 1; b 1, tail 0 (b
	// stopped at 3.5 before its last decision at 4 counts 0).
	want := Cadence{FirstMedian: 1, FirstMax: Num(math.Inf(1)), EveryMedian: 1, EveryP95: Num(quantile([]float64{0, 1, 1, 1, 2}, 0.95)), EveryMax: 2,
		TickCalls: []OpCalls{{API: string(budget.DescribeMapRun), Median: 1, Max: 2}}}
	if c.FirstMedian != want.FirstMedian || c.FirstMax != want.FirstMax || c.EveryMedian != want.EveryMedian || c.EveryP95 != want.EveryP95 || c.EveryMax != want.EveryMax {
		t.Errorf("cadence = %+v, want %+v", c, want)
	}
	if len(c.TickCalls) != 1 || c.TickCalls[0] != want.TickCalls[0] {
		t.Errorf("tick calls = %+v, want %+v", c.TickCalls, want.TickCalls)
	}
	s := summarizeCadence([]SeedFigures{{Cadence: c}, {Cadence: noCadence()}, {Cadence: c}})
	if s.FirstMedian != 1 || s.EveryMax != 2 || len(s.TickCalls) != 1 || s.TickCalls[0].Max != 2 {
		t.Errorf("summary = %+v, want the seeds' figures, the NaN seed left out", s)
	}
}

// TestCadencePeriods scripts the reports of two periods: a full pass
// reports what its period spent so far, each look only its own calls, and
// a look before the first full pass belongs to no period.
func TestCadencePeriods(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	calls := func(kv ...any) tuner.Report {
		r := tuner.Report{Calls: map[budget.API]int{}}
		for i := 0; i < len(kv); i += 2 {
			r.Calls[kv[i].(budget.API)] = kv[i+1].(int)
		}
		return r
	}
	var tk ticks
	tk.record(at(0), calls(budget.DescribeMapRun, 4), false)
	tk.record(at(60), calls(budget.DescribeMapRun, 30, budget.GetExecutionHistory, 100), true)
	tk.record(at(70), calls(budget.GetExecutionHistory, 50, budget.ListExecutions, 3), false)
	tk.record(at(80), tuner.Report{}, false)
	tk.record(at(90), calls(budget.GetExecutionHistory, 40), false)
	tk.record(at(120), calls(budget.DescribeMapRun, 20), true)
	tk.record(at(130), calls(budget.DescribeMapRun, 5), false)
	c := tk.cadence(sim.Result{Start: t0})
	want := []OpCalls{
		{API: string(budget.DescribeMapRun), Median: 27.5, Max: 30},
		{API: string(budget.GetExecutionHistory), Median: 95, Max: 190},
		{API: string(budget.ListExecutions), Median: 1.5, Max: 3},
	}
	if !slices.Equal(c.PeriodCalls, want) {
		t.Errorf("period calls = %+v, want %+v", c.PeriodCalls, want)
	}
	// Per tick the looks count alone: DescribeMapRun 4, 30, 0, 0, 0, 20, 5.
	if i := slices.IndexFunc(c.TickCalls, func(o OpCalls) bool { return o.API == string(budget.DescribeMapRun) }); i < 0 || c.TickCalls[i].Median != 4 || c.TickCalls[i].Max != 30 {
		t.Errorf("tick calls = %+v, want DescribeMapRun median 4, max 30", c.TickCalls)
	}
	other := Cadence{PeriodCalls: []OpCalls{{API: string(budget.DescribeMapRun), Median: 29.5, Max: 29}}}
	s := summarizeCadence([]SeedFigures{{Cadence: c}, {Cadence: other}, {Cadence: noCadence()}})
	if len(s.PeriodCalls) != 3 || s.PeriodCalls[0] != (OpCalls{API: string(budget.DescribeMapRun), Median: 28.5, Max: 30}) {
		t.Errorf("summary period calls = %+v, want DescribeMapRun median of medians 28.5, most 30", s.PeriodCalls)
	}
}
