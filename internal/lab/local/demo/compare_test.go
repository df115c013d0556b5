package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

func TestFailsFrom(t *testing.T) {
	pt := func(n int32, ok bool) sim.GridPoint { return sim.GridPoint{MaxConcurrency: n, Succeeded: ok} }
	tests := []struct {
		name string
		grid []sim.GridPoint
		want int32
	}{
		{"empty", nil, 0},
		{"the highest succeeds", []sim.GridPoint{pt(1, false), pt(10, true), pt(100, true)}, 0},
		{"failing tail", []sim.GridPoint{pt(1, true), pt(60, true), pt(87, false), pt(100, false)}, 87},
		{"unsorted, a failure below a success", []sim.GridPoint{pt(100, false), pt(5, false), pt(60, true), pt(70, false)}, 70},
		{"every one fails", []sim.GridPoint{pt(3, false), pt(2, false)}, 2},
	}
	for _, tc := range tests {
		if got := failsFrom(tc.grid); got != tc.want {
			t.Errorf("%s: failsFrom = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// result is a one-run result with the given status, makespan, calls,
// throttled calls and failed items.
func result(status string, makespan time.Duration, calls, throttled, failed int64) sim.Result {
	return sim.Result{Makespan: makespan, Runs: []sim.RunResult{{Status: status, Items: 20_000, Calls: calls, Throttled: throttled, Failed: failed}}}
}

func TestComparisonString(t *testing.T) {
	base := Comparison{
		Scenario: "builtin", Seed: 1,
		Tuned:       result("SUCCEEDED", 66*time.Minute, 21_000, 777, 28),
		Best:        result("SUCCEEDED", 60*time.Minute, 20_000, 0, 0),
		BestSetting: 60, Tried: 60, FailsFrom: 87,
		Definition:         result("SUCCEEDED", 5*time.Hour+56*time.Minute, 20_000, 0, 0),
		DefinitionSettings: []int32{10},
	}
	failedTuned := base
	failedTuned.Tuned = result("FAILED", 12*time.Minute, 5_000, 2_000, 1_001)
	failedTuned.FailsFrom = 0
	failedDef := base
	failedDef.Definition = result("FAILED", 3*time.Minute, 10_000, 9_000, 1_000)
	failedDef.DefinitionSettings = []int32{0}
	tests := []struct {
		name   string
		c      Comparison
		want   []string
		absent []string
	}{
		{
			name: "all succeeded",
			c:    base,
			want: []string{
				"compare: scenario builtin, seed 1: the same 20,000 items under each setting, simulated\n",
				"compare:  setting                         outcome    makespan  throttled calls  failed items\n",
				"compare:  maptuner, as tuned above        SUCCEEDED  1h06m     3.7%             28\n",
				"compare:  best static maxConcurrency, 60  SUCCEEDED  1h00m     0.0%             0\n",
				"compare:  the definition's, 10            SUCCEEDED  5h56m     0.0%             0\n",
				"compare: the best static setting is known only after the fact, by simulating 60 of them (from 87 up, every one fails the run); " +
					"maptuner took 1.10x its time without knowing it; the definition's setting takes 5.39x maptuner's time.",
			},
		},
		{
			name:   "the tuned run failed",
			c:      failedTuned,
			want:   []string{"FAILED     12m       40.0%            1,001", "by simulating 60 of them; maptuner's run did not succeed."},
			absent: []string{"from 0 up", "x its time", "maptuner's time"},
		},
		{
			name: "the definition fails",
			c:    failedDef,
			want: []string{"the definition's, unlimited", "FAILED", "the definition's setting does not get the job done."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.c.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("String() =\n%s\nwant it to contain\n%s", got, w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(got, a) {
					t.Errorf("String() =\n%s\nwant no %q", got, a)
				}
			}
			for line := range strings.SplitSeq(got, "\n") {
				if !strings.HasPrefix(line, "compare: ") {
					t.Errorf("line %q does not start with compare:", line)
				}
			}
		})
	}
}

func TestFiguresOf(t *testing.T) {
	res := sim.Result{Runs: []sim.RunResult{
		{Status: "SUCCEEDED", Calls: 300, Throttled: 30, Failed: 2},
		{Status: "", Calls: 100, Throttled: 10},
		{Status: "RUNNING", Calls: 0},
	}}
	f := figuresOf(res)
	if f.outcome != "1 NOT STARTED, 1 RUNNING, 1 SUCCEEDED" || f.succeeded || f.throttledPct != 10 || f.failed != 2 {
		t.Errorf("figuresOf = %+v", f)
	}
	if f := figuresOf(sim.Result{}); f.succeeded || f.throttledPct != 0 || f.outcome != "" {
		t.Errorf("figuresOf(no run) = %+v", f)
	}
}
