package sim_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/observe"
)

// TestScenarioHints reads the capacity hint of the first run of every
// scenario as the tuner does, through the world's DescribeStateMachine and
// GetFunctionConcurrency: a downstream with a concurrency limit is a
// function with that reserved concurrency; a rate-limited one has none.
func TestScenarioHints(t *testing.T) {
	want := map[string]int32{
		"broken-deployment": 200, "capacity-10x": 40, "capacity-doubles": 100, "capacity-halves": 300,
		"congestion-collapse": 0, "drain": 200, "fixed-concurrency": 200, "fixed-rate": 0,
		"late-missing-metrics": 200, "lognormal": 200, "metric-outage": 200, "neighbour-sine": 300,
		"nightly-repeat": 200, "pareto": 200, "poison-batch-baseline": 200, "poison-batch": 200, "shared-downstream": 200,
		"shared-group": 200, "default-policy": 200, "latency-knee": 400, "short-job": 200, "thirty-runs": 40, "thousand-runs": 40,
	}
	files, err := filepath.Glob("../../../scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("scenarios: %v, %v", files, err)
	}
	for _, f := range files {
		sc, err := sim.LoadScenario(f)
		if err != nil {
			t.Fatal(err)
		}
		w := sim.New(sc, 1)
		w.Start()
		w.Advance(0)
		arns := w.MapRunARNs()
		if len(arns) == 0 {
			t.Fatalf("%s: no Map Run at the start", sc.Name)
		}
		h := observe.Hints{SFN: w.SFN(), Lambda: w.Lambda()}
		got, err := h.Read(context.Background(), arns[0])
		if err != nil {
			t.Errorf("%s: %v", sc.Name, err)
			continue
		}
		if w, ok := want[sc.Name]; !ok || got.Bound != w {
			t.Errorf("%s: hint %+v, want bound %d", sc.Name, got, w)
		}
		t.Logf("%s: %+v", sc.Name, got)
	}
}
