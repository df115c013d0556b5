package control

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

// checkSafe drives Decide with a random but plausible run, feeding each
// decision's settings back as the next observation, and fails on any
// decision a tuner must never make.
func checkSafe(t *testing.T, seed uint64, unlimitedOK bool) {
	rng := rand.New(rand.NewPCG(seed, 7))
	cfg := testConfig()
	cfg.MinConcurrency = int32(1 + rng.IntN(5))
	cfg.MaxConcurrency = int32(50 + rng.IntN(2000))
	cfg.InitialConcurrency = min(max(10, cfg.MinConcurrency), cfg.MaxConcurrency)
	cfg.Unlimited = unlimitedOK
	cfg.Tolerance.FailFast = rng.IntN(2) == 0
	cfg.Tolerance.FailFastRate, cfg.Tolerance.FailFastMinItems = 0.5, 50
	var st State
	cur := maprun.Settings{MaxConcurrency: int32(rng.IntN(3000)), ToleratedFailurePercentage: float64(rng.IntN(3))}
	items := maprun.Counts{Total: 100000, Pending: 100000}
	known := map[int]float64{}
	for m := 0; m < 120; m++ {
		at := t0.Add(time.Duration(m)*time.Minute + time.Duration(rng.IntN(20))*time.Second)
		limit := int64(effective(cur.MaxConcurrency))
		items.Running = min(items.Pending+items.Running, int64(float64(limit)*(0.3+0.8*rng.Float64())))
		fin := int64(rng.IntN(int(items.Running) + 1))
		failed := int64(0)
		if rng.IntN(4) == 0 {
			failed = int64(rng.IntN(int(fin) + 1))
		}
		items.Succeeded += fin - failed
		items.Failed += failed
		items.Pending = max(0, items.Total-items.Done()-items.Running)
		if rng.IntN(3) > 0 {
			known[m-1-rng.IntN(3)] = float64(rng.IntN(3)) * float64(rng.IntN(200))
		}
		obs := Observation{
			At:             at,
			Run:            maprun.Snapshot{Status: maprun.StatusRunning, StartDate: t0, Settings: cur, Items: items},
			MetricsWatched: rng.IntN(5) > 0,
			Throttles:      points(known),
			Failures:       FailureSample{Sampled: 10, Throttle: rng.IntN(11)},
		}
		d := Decide(cfg, st, obs)
		if d.Reason == "" || d.Message == "" {
			t.Fatalf("seed %d minute %d: decision without reason: %+v", seed, m, d)
		}
		n := d.New
		if n.MaxConcurrency == 0 && !cfg.Unlimited && cur.MaxConcurrency != 0 {
			t.Fatalf("seed %d minute %d: sent 0 without unlimited: %s", seed, m, d.Message)
		}
		if n.MaxConcurrency != cur.MaxConcurrency && n.MaxConcurrency != 0 && (n.MaxConcurrency < cfg.MinConcurrency || n.MaxConcurrency > cfg.MaxConcurrency) {
			t.Fatalf("seed %d minute %d: %d outside [%d, %d]: %s", seed, m, n.MaxConcurrency, cfg.MinConcurrency, cfg.MaxConcurrency, d.Message)
		}
		inRange := cur.MaxConcurrency >= cfg.MinConcurrency && cur.MaxConcurrency <= cfg.MaxConcurrency
		if inRange && n.MaxConcurrency > cur.MaxConcurrency && float64(n.MaxConcurrency) > math.Ceil(float64(cur.MaxConcurrency)*cfg.MaxStepUp) {
			t.Fatalf("seed %d minute %d: step up %d -> %d beyond x%.2g", seed, m, cur.MaxConcurrency, n.MaxConcurrency, cfg.MaxStepUp)
		}
		if inRange && n.MaxConcurrency != 0 && n.MaxConcurrency < cur.MaxConcurrency && float64(n.MaxConcurrency) < math.Floor(float64(cur.MaxConcurrency)*cfg.MaxStepDown) {
			t.Fatalf("seed %d minute %d: step down %d -> %d beyond x%.2g", seed, m, cur.MaxConcurrency, n.MaxConcurrency, cfg.MaxStepDown)
		}
		if d.ToleranceReason != ReasonFailFast {
			if n.ToleratedFailurePercentage != cur.ToleratedFailurePercentage && n.ToleratedFailurePercentage < items.FailurePercent() {
				t.Fatalf("seed %d minute %d: tolerance %.4g%% set below the %.4g%% already failed: %s", seed, m, n.ToleratedFailurePercentage, items.FailurePercent(), d.Message)
			}
			if n.ToleratedFailureCount != cur.ToleratedFailureCount && n.ToleratedFailureCount < items.Failures() {
				t.Fatalf("seed %d minute %d: tolerance %d set below the %d already failed: %s", seed, m, n.ToleratedFailureCount, items.Failures(), d.Message)
			}
		}
		if d.Update != (n != cur) {
			t.Fatalf("seed %d minute %d: update %v for %+v -> %+v", seed, m, d.Update, cur, n)
		}
		st, cur = d.State, n
	}
}

func TestDecideIsSafe(t *testing.T) {
	for seed := range uint64(300) {
		checkSafe(t, seed, seed%5 == 0)
	}
}

func FuzzDecideIsSafe(f *testing.F) {
	for seed := range uint64(10) {
		f.Add(seed, seed%2 == 0)
	}
	f.Fuzz(checkSafe)
}
