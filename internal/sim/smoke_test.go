package sim

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	files, _ := filepath.Glob("../../scenarios/*.yaml")
	names := []string{"static", "unlimited", "aimd", "cubic", "oracle"}
	t00 := time.Now()
	for _, f := range files {
		sc, err := LoadScenario(f)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		best, err := OracleStatic(context.Background(), sc, 1, GeometricGrid(10, 1000, 1.15), time.Minute)
		if err != nil { t.Fatal(err) }
		t.Logf("%s: oracle best %d makespan %v (grid %d runs in %v)", sc.Name, best.Best, best.Result.Makespan.Round(time.Second), len(best.Grid), time.Since(t0))
		for i, mk := range []NewStrategy{Static(best.Best), Unlimited(), AIMD(AIMDConfig{}), CUBIC(CUBICConfig{}), CapacityOracle()} {
			w := New(sc, 1)
			t0 := time.Now()
			res := Run(context.Background(), w, mk(w), time.Minute)
			for _, r := range res.Runs {
			t.Logf("   %-10s cpu=%-8v %-9s makespan=%-8v succ=%d fthr=%d fpoi=%d thr=%.2f%% api=%d errs=%d %s final=%d", names[i], time.Since(t0).Round(time.Millisecond), r.Status, r.Makespan.Round(time.Second), r.Succeeded, r.FailedThrottle, r.FailedPoison, r.ThrottledPercent, res.API.TotalCalls, res.StrategyErrors, res.StrategyError, r.MaxConcurrency)
			}
		}
	}
	t.Logf("total %v", time.Since(t00))
}
