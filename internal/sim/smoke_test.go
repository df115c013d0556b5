package sim

import (
	"context"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	sc, err := LoadScenario("../../scenarios/fixed-concurrency.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, mk := range map[string]NewStrategy{"static200": Static(200), "static220": Static(220), "unlimited": Unlimited(), "aimd": AIMD(AIMDConfig{}), "cubic": CUBIC(CUBICConfig{}), "oracle": CapacityOracle()} {
		w := New(sc, 1)
		t0 := time.Now()
		res := Run(context.Background(), w, mk(w), time.Minute)
		r := res.Runs[0]
		t.Logf("%-10s cpu=%v status=%s makespan=%v succ=%d failed=%d thr=%d/%d (%.2f%%) api=%d errs=%d %s final=%d", name, time.Since(t0), r.Status, r.Makespan, r.Succeeded, r.Failed, r.Throttled, r.Calls, r.ThrottledPercent, res.API.TotalCalls, res.StrategyErrors, res.StrategyError, r.MaxConcurrency)
	}
	best, err := OracleStatic(context.Background(), sc, 1, GeometricGrid(50, 400, 1.1), time.Minute)
	t.Logf("oracle best %d makespan %v err %v", best.Best, best.Result.Makespan, err)
	for _, g := range best.Grid { t.Logf("  %+v", g) }
}
