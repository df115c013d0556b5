package bench

import (
	"context"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/sim"
)

func TestTmpThousandTuner(t *testing.T) {
	sc, err := sim.LoadScenario("/tmp/scalesim-one/thousand-runs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	w := sim.New(sc, 1)
	res := sim.Run(context.Background(), w, TunerStrategy(time.Minute)(w), time.Minute)
	ok := 0
	for _, r := range res.Runs {
		if r.Status == "SUCCEEDED" {
			ok++
		}
	}
	t.Logf("tuner: wall %s makespan %s succeeded %d/%d errs %d %s api %+v", time.Since(t0), res.Makespan, ok, len(res.Runs), res.StrategyErrors, res.StrategyError, res.API)
}
