package bench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

func TestNiceMax(t *testing.T) {
	tests := []struct {
		v, top, tick float64
	}{
		{0, 1, 0.2},
		{math.NaN(), 1, 0.2},
		{0.7, 0.8, 0.2},
		{1, 1, 0.2},
		{1.2, 1.25, 0.25},
		{48, 50, 10},
		{210, 250, 50},
		{1400, 1500, 500},
		{2205, 2500, 500},
		{4999, 5000, 1000},
		{5001, 6000, 2000},
	}
	for _, tt := range tests {
		top, tick := niceMax(tt.v)
		if top != tt.top || tick != tt.tick {
			t.Errorf("niceMax(%v) = %v, %v; want %v, %v", tt.v, top, tick, tt.top, tt.tick)
		}
	}
}

// TestSeriesOf checks the per-minute sums of a shared downstream: the
// capacity is the downstream's, not the sum of the shares.
func TestSeriesOf(t *testing.T) {
	res := sim.Result{Runs: []sim.RunResult{
		{Downstream: "d", Status: "SUCCEEDED", Started: 0, Makespan: 3*time.Minute + 30*time.Second, Series: []sim.Point{
			{Minute: 0, Limit: 50, Running: 40, Capacity: 200, Succeeded: 10, Throttles: 1},
			{Minute: 1, Limit: 0, Running: 100, Capacity: 100, Succeeded: 20},
			{Minute: 2, Limit: 100, Running: 100, Capacity: 100, Failed: 5},
			{Minute: 3, Limit: 100, Running: 20, Capacity: 200, Succeeded: 20},
		}},
		{Downstream: "d", Status: "RUNNING", Started: 2 * time.Minute, Makespan: 3 * time.Minute, Series: []sim.Point{
			{Minute: 2, Limit: 100, Running: 60, Capacity: 100},
			{Minute: 3, Limit: 100, Running: 90, Capacity: 200},
			{Minute: 4, Limit: 100, Running: 100, Capacity: 200},
		}},
	}}
	ms := seriesOf(&res)
	want := minuteSeries{
		mins:     []int{0, 1, 2, 3, 4},
		limit:    []float64{50, 10000, 200, 200, 100},
		running:  []float64{40, 100, 160, 110, 100},
		capacity: []float64{200, 200, 200, 200, 200},
		finished: []float64{10, 20, 5, 20, 0},
		thrott:   []float64{1, 0, 0, 0, 0},
	}
	for name, pair := range map[string][2][]float64{
		"limit": {ms.limit, want.limit}, "running": {ms.running, want.running}, "capacity": {ms.capacity, want.capacity},
		"finished": {ms.finished, want.finished}, "throttles": {ms.thrott, want.thrott},
	} {
		if len(pair[0]) != len(pair[1]) {
			t.Fatalf("%s: %v, want %v", name, pair[0], pair[1])
		}
		for i := range pair[1] {
			if pair[0][i] != pair[1][i] {
				t.Errorf("%s: %v, want %v", name, pair[0], pair[1])
				break
			}
		}
	}
}

func TestSummaryPlot(t *testing.T) {
	sr := ScenarioReport{Name: "s", Class: Class{Capacity: CapacityFixed}, Strategies: []StrategyReport{
		{Strategy: StrategyTuner, Summary: Summary{MakespanRatio: Stat{Median: 1.2}, ThrottledPercent: Stat{Median: 1}}},
		{Strategy: StrategyCUBIC, Summary: Summary{MakespanRatio: Stat{Median: Num(math.Inf(1))}, ThrottledPercent: Stat{Median: 80}}},
		{Strategy: "static-5", Summary: Summary{MakespanRatio: Stat{Median: 9}, ThrottledPercent: Stat{Median: 0}}},
		{Strategy: StrategyOracle, Summary: Summary{MakespanRatio: Stat{Median: 1}}},
	}, Targets: []Target{{Name: TargetMakespan, Status: StatusMiss}, {Name: TargetThrottled, Status: StatusPass}}}
	rep := Report{Seeds: []uint64{1, 2}, Strategies: []string{StrategyTuner, StrategyCUBIC, "static-5", StrategyOracle}, Scenarios: []ScenarioReport{sr}}
	b := summaryPlot(rep)
	checkSVG(t, "summary", b)
	out := string(b)
	for _, want := range []string{">s</text>", ">1 of 2 met</text>", ">static-5</text>", "Median over seeds 1 to 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary plot lacks %q", want)
		}
	}
	if strings.Contains(out, ">oracle</text>") {
		t.Error("summary plot shows the oracle, whose ratio is 1 by definition")
	}
	// The two strategies past the axis are drawn hollow in the gutter.
	if n := strings.Count(out, `fill="#ffffff" stroke=`); n != 2 {
		t.Errorf("%d hollow markers, want 2 (cubic ∞, static-5 past 3)", n)
	}
}

func TestComparisonPlot(t *testing.T) {
	res := &sim.Result{Runs: []sim.RunResult{{Downstream: "d", Status: "SUCCEEDED", Makespan: 2 * time.Minute, Series: []sim.Point{
		{Minute: 0, Limit: 10, Running: 9, Capacity: 60, Succeeded: 50, Throttles: 2},
		{Minute: 1, Limit: 20, Running: 19, Capacity: 60, Succeeded: 110},
	}}}}
	tests := []struct {
		name      string
		cols      []PlotColumn
		width     string
		wantTexts []string
	}{
		{
			name:      "two columns",
			cols:      []PlotColumn{{Title: "maptuner", Result: res}, {Title: "static 70", Result: res}},
			width:     `width="1000"`,
			wantTexts: []string{">maptuner: concurrency</text>", ">static 70: work and throttling</text>"},
		},
		{
			name:      "three columns, one not run",
			cols:      []PlotColumn{{Title: "a", Result: res}, {Title: "b", Result: res}, {Title: "c <&>"}},
			width:     `width="1470"`,
			wantTexts: []string{">c &lt;&amp;&gt;: concurrency</text>", ">not run</text>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := ComparisonPlot("title & more", tc.cols...)
			checkSVG(t, tc.name, b)
			out := string(b)
			for _, want := range append(tc.wantTexts, tc.width, ">title &amp; more</text>") {
				if !strings.Contains(out, want) {
					t.Errorf("plot lacks %q", want)
				}
			}
		})
	}
}
