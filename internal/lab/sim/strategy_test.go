package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// small is a fixed capacity of 100 with items of 20 s: about 10 minutes of
// job at the best static setting.
const small = `
downstreams: [{name: fn, concurrency: 100}]
runs:
  - stateMachine: sm
    label: L
    downstream: fn
    items: 3000
    maxConcurrency: 10
    toleratedFailurePercentage: 5
    retry: {interval: 2s, backoffRate: 2, maxAttempts: 6, jitter: FULL}
    duration: {dist: lognormal, median: 20s, sigma: 0.3}
`

// TestStrategiesRunToCompletion runs every baseline on a scenario to the end.
func TestStrategiesRunToCompletion(t *testing.T) {
	tests := []struct {
		name        string
		make        NewStrategy
		wantSuccess bool
		apiCalls    bool
	}{
		{"static", Static(100), true, false},
		{"unlimited", Unlimited(), false, false},
		{"aimd", AIMD(AIMDConfig{}), true, true},
		{"cubic", CUBIC(CUBICConfig{}), false, true},
		{"capacity oracle", CapacityOracle(), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := New(parse(t, small), 1)
			res := Run(context.Background(), w, tt.make(w), time.Minute)
			if !res.Done || res.StrategyErrors != 0 {
				t.Fatalf("done %v, %d strategy errors (%s)", res.Done, res.StrategyErrors, res.StrategyError)
			}
			r := res.Runs[0]
			if tt.wantSuccess && r.Status != "SUCCEEDED" {
				t.Errorf("status %s (%d failed), want SUCCEEDED", r.Status, r.Failed)
			}
			if got := res.API.TotalCalls > 0; got != tt.apiCalls {
				t.Errorf("API calls %d, want some: %v", res.API.TotalCalls, tt.apiCalls)
			}
			if tt.apiCalls && res.API.Calls["UpdateMapRun"] == 0 {
				t.Error("no UpdateMapRun")
			}
		})
	}
}

// TestAIMDRule checks AIMD's limit trace: +1 a tick, or
// max(1, min(l-1, floor(0.9 l))) on a throttled tick.
func TestAIMDRule(t *testing.T) {
	w := New(parse(t, strings.Replace(small, "concurrency: 100", "concurrency: 30", 1)), 1)
	res := Run(context.Background(), w, AIMD(AIMDConfig{})(w), time.Minute)
	limits := res.Runs[0].Limits
	if len(limits) < 2 || limits[0].MaxConcurrency != 10 {
		t.Fatalf("limits %+v: want AIMD from the definition's 10", limits)
	}
	cuts := 0
	for i := 1; i < len(limits); i++ {
		prev, cur := limits[i-1].MaxConcurrency, limits[i].MaxConcurrency
		cut := max(1, min(prev-1, int32(float64(prev)*0.9)))
		switch cur {
		case prev + 1:
		case cut:
			cuts++
		default:
			t.Errorf("limit %d -> %d at %s: neither +1 nor %d", prev, cur, limits[i].At, cut)
		}
	}
	if cuts == 0 {
		t.Error("no cut against a capacity of 30")
	}
}

// TestCUBICRule checks CUBIC's trace: it never shrinks before the first
// throttle, and a throttle cuts by at least 30 %.
func TestCUBICRule(t *testing.T) {
	w := New(parse(t, strings.Replace(small, "toleratedFailurePercentage: 5", "toleratedFailurePercentage: 100", 1)), 1)
	res := Run(context.Background(), w, CUBIC(CUBICConfig{})(w), time.Minute)
	limits := res.Runs[0].Limits
	first := -1
	for i := 1; i < len(limits); i++ {
		if limits[i].MaxConcurrency < limits[i-1].MaxConcurrency {
			first = i
			break
		}
	}
	if first < 0 {
		t.Fatalf("limits %+v: no cut against a capacity of 100", limits)
	}
	if prev, cur := limits[first-1].MaxConcurrency, limits[first].MaxConcurrency; float64(cur) > 0.7*float64(prev)+1 {
		t.Errorf("first cut %d -> %d, want at least 30 %%", prev, cur)
	}
	if limits[first-1].MaxConcurrency <= 100 {
		t.Errorf("first cut from %d, want it after growing past the capacity of 100", limits[first-1].MaxConcurrency)
	}
}

// TestCapacityOracleFollows checks that the capacity oracle tracks a step.
func TestCapacityOracleFollows(t *testing.T) {
	sc, err := LoadScenario(scenarioDir + "/capacity-doubles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w := New(sc, 1)
	res := Run(context.Background(), w, CapacityOracle()(w), time.Minute)
	var got []string
	for _, l := range res.Runs[0].Limits {
		got = append(got, fmt.Sprintf("%d@%s", l.MaxConcurrency, l.At))
	}
	if want := "10@0s,100@0s,200@15m0s"; strings.Join(got, ",") != want {
		t.Errorf("limits %s, want %s", strings.Join(got, ","), want)
	}
	if r := res.Runs[0]; r.Status != "SUCCEEDED" || r.Throttled != 0 {
		t.Errorf("status %s, %d throttled: want SUCCEEDED, none", r.Status, r.Throttled)
	}
}

func TestOracleStatic(t *testing.T) {
	sc := parse(t, strings.Replace(small, "concurrency: 100", "concurrency: 50", 1))
	best, err := OracleStatic(context.Background(), sc, 1, []int32{10, 25, 50, 100}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if best.Best != 50 || best.Result.Runs[0].Status != "SUCCEEDED" || len(best.Grid) != 4 {
		t.Errorf("best %d (%s), %d grid points; want 50, SUCCEEDED, 4", best.Best, best.Result.Runs[0].Status, len(best.Grid))
	}
	if g := best.Grid[3]; g.Succeeded || g.MaxConcurrency != 100 {
		t.Errorf("grid point %+v: want 100 to fail", g)
	}
	if g := best.Grid; !(g[0].Makespan > g[1].Makespan && g[1].Makespan > g[2].Makespan) {
		t.Errorf("makespans %v, %v, %v: want shorter with more concurrency", g[0].Makespan, g[1].Makespan, g[2].Makespan)
	}
	if _, err := OracleStatic(context.Background(), sc, 1, nil, time.Minute); !errors.Is(err, ErrEmptyGrid) {
		t.Errorf("empty grid: %v, want ErrEmptyGrid", err)
	}
	if _, err := OracleStatic(context.Background(), sc, 1, []int32{-1}, time.Minute); err == nil {
		t.Error("negative grid value: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OracleStatic(ctx, sc, 1, []int32{10}, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

func TestGeometricGrid(t *testing.T) {
	tests := []struct {
		lo, hi int32
		ratio  float64
		want   string
	}{
		{10, 100, 2, "[10 20 40 80 100]"},
		{1, 4, 1.1, "[1 2 3 4]"},
		{100, 100, 2, "[100]"},
		{0, 20000, 10, "[1 10 100 1000 10000]"},
		{5, 1, 2, "[]"},
		{1, 10, 1, "[]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(GeometricGrid(tt.lo, tt.hi, tt.ratio)); got != tt.want {
			t.Errorf("GeometricGrid(%d, %d, %v) = %s, want %s", tt.lo, tt.hi, tt.ratio, got, tt.want)
		}
	}
}

func TestRunStops(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w := New(parse(t, small), 1)
		if res := Run(ctx, w, AIMD(AIMDConfig{})(w), time.Minute); res.Done || res.Elapsed != 0 {
			t.Errorf("done %v after %s, want an unfinished run at once", res.Done, res.Elapsed)
		}
	})
	t.Run("horizon", func(t *testing.T) {
		w := New(parse(t, small+"horizon: 5m\n"), 1)
		res := Run(context.Background(), w, Static(10)(w), 0)
		if res.Done || res.Elapsed != 5*time.Minute || res.Runs[0].Status != "RUNNING" || res.Makespan != 5*time.Minute {
			t.Errorf("done %v after %s, status %s, makespan %s; want a run still open at the 5m horizon", res.Done, res.Elapsed, res.Runs[0].Status, res.Makespan)
		}
	})
	t.Run("static after start", func(t *testing.T) {
		w := New(parse(t, small), 1)
		w.Start()
		res := Run(context.Background(), w, Static(10)(w), time.Minute)
		if res.StrategyErrors != 1 || !strings.Contains(res.StrategyError, ErrStarted.Error()) {
			t.Errorf("%d strategy errors, first %q; want one naming %q", res.StrategyErrors, res.StrategyError, ErrStarted)
		}
	})
}
