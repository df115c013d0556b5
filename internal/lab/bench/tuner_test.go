package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// loadScenario loads a shipped scenario by name, or a test one from
// testdata with a path.
func loadScenario(t testing.TB, name string) sim.Scenario {
	t.Helper()
	path := name
	if !strings.Contains(name, "/") {
		path = "../../../scenarios/" + name + ".yaml"
	}
	sc, err := sim.LoadScenario(path)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestTunerStrategy runs the real tuner on shipped scenarios and checks
// what must hold whatever the controller's tuning: it acts without error
// and within the API quotas, never sends 0 (unlimited), raises the limit
// above the definition's 10 towards the capacity, and every run succeeds.
// With -v it logs each run's minutes.
func TestTunerStrategy(t *testing.T) {
	for _, name := range []string{"fixed-concurrency", "capacity-halves", "shared-downstream"} {
		t.Run(name, func(t *testing.T) {
			sc := loadScenario(t, name)
			w := sim.New(sc, 1)
			s := TunerStrategy(TickPeriod)(w)
			res := sim.Run(context.Background(), w, s, LookEvery)
			if res.StrategyErrors != 0 {
				t.Errorf("%d strategy errors, first: %s", res.StrategyErrors, res.StrategyError)
			}
			checkPeriods(t, s.(*tunerStrategy).ticks, res)
			if res.API.TotalThrottled != 0 {
				t.Errorf("%d API calls throttled: the tuner's budget should keep within the quotas", res.API.TotalThrottled)
			}
			// The full pass and the looks share each period's budget (half
			// of a minute's refill, at most half the bucket, in us-east-1),
			// and the looks re-decide runs within the period.
			periods := float64(res.Elapsed/TickPeriod + 1)
			for api, limit := range map[string]float64{"DescribeMapRun": 30, "GetExecutionHistory": 200, "ListExecutions": 100} {
				if n := float64(res.API.Calls[api]); n > limit*periods {
					t.Errorf("%.0f %s calls in %.0f periods: over the budget of %.0f a period", n, api, periods, limit)
				}
			}
			if n := float64(res.API.Calls["DescribeMapRun"]); n < 1.5*periods {
				t.Errorf("%.0f DescribeMapRun calls in %.0f periods: the looks did not run", n, periods)
			}
			if res.API.Calls["UpdateMapRun"] == 0 {
				t.Error("no UpdateMapRun call")
			}
			for _, r := range res.Runs {
				for _, p := range r.Series {
					t.Logf("%s minute %d: limit %d running %.0f capacity %.0f finished %d throttles %d", r.Name, p.Minute, p.Limit, p.Running, p.Capacity, p.Succeeded+p.Failed, p.Throttles)
				}
				if r.Status != "SUCCEEDED" || r.FailedPoison != 0 {
					t.Errorf("%s: status %s with %d failed by poison, want SUCCEEDED with none", r.Name, r.Status, r.FailedPoison)
				}
				highest := int32(0)
				for _, l := range r.Limits {
					if l.MaxConcurrency == 0 {
						t.Errorf("%s: limit 0 (unlimited) set at %s", r.Name, l.At)
					}
					highest = max(highest, l.MaxConcurrency)
				}
				if highest < 50 {
					t.Errorf("%s: highest limit %d, want the tuner to have raised it from 10 towards the capacity", r.Name, highest)
				}
			}
		})
	}
}

// checkPeriods checks the calls the bench counts per period from the
// tuner's reports (a full pass's spent so far, each look's own) against
// the calls the world served: every call of the tuner is budgeted, so
// they sum to the same per API; and no period spent more than its budget
// of BudgetAPIs.
func checkPeriods(t *testing.T, tk ticks, res sim.Result) {
	t.Helper()
	if n, least := len(tk.periods), int(res.Elapsed/TickPeriod); n < least || n > least+1 {
		t.Errorf("%d periods in %s, want one a minute", n, res.Elapsed)
	}
	sum := map[string]int64{}
	for i, p := range tk.periods {
		for api, n := range p {
			sum[string(api)] += int64(n)
		}
		for _, api := range BudgetAPIs {
			if p[api] > periodBudget[api] {
				t.Errorf("period %d: %d %s calls, over the budget of %d", i, p[api], api, periodBudget[api])
			}
		}
	}
	for api, n := range res.API.Calls {
		if sum[api] != n {
			t.Errorf("%s: %d calls in the periods' reports, %d served by the world", api, sum[api], n)
		}
	}
}

func TestTunerStrategyIdle(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*sim.Scenario)
		wantErr string
	}{
		{name: "untagged state machine", edit: func(sc *sim.Scenario) { sc.Runs[0].Tags = nil }},
		{name: "invalid policy", edit: func(sc *sim.Scenario) { sc.Policy.Content[1].Value = "7" }, wantErr: "bench: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := loadScenario(t, "testdata/tiny.yaml")
			tt.edit(&sc)
			w := sim.New(sc, 1)
			res := sim.Run(context.Background(), w, TunerStrategy(TickPeriod)(w), LookEvery)
			switch {
			case tt.wantErr == "" && res.StrategyErrors != 0:
				t.Errorf("%d strategy errors, first: %s", res.StrategyErrors, res.StrategyError)
			case tt.wantErr != "" && (res.StrategyErrors == 0 || !strings.Contains(res.StrategyError, tt.wantErr)):
				t.Errorf("strategy errors %d, first %q; want some containing %q", res.StrategyErrors, res.StrategyError, tt.wantErr)
			}
			if n := res.API.Calls["UpdateMapRun"]; n != 0 {
				t.Errorf("%d UpdateMapRun calls, want none", n)
			}
			if r := res.Runs[0]; r.Status != "SUCCEEDED" || r.MaxConcurrency != 2 {
				t.Errorf("status %s, limit %d; want SUCCEEDED at the definition's 2", r.Status, r.MaxConcurrency)
			}
		})
	}
}

// TestDefaultPolicyTuner runs a scenario whose runs name a policy of their
// own, and whose file's default policy too, cap the limit at 5: the tuner
// under the scenario's policy stays at or below 5; under the built-in
// default policy, which names no metric and no cap, it acts without error
// and goes past 5 towards the capacity of 20.
func TestDefaultPolicyTuner(t *testing.T) {
	sc := loadScenario(t, "testdata/tiny-capped.yaml")
	peak := func(s sim.NewStrategy) (int32, sim.Result) {
		t.Helper()
		w := sim.New(sc, 1)
		res := sim.Run(context.Background(), w, s(w), LookEvery)
		if res.StrategyErrors != 0 {
			t.Fatalf("%d strategy errors, first: %s", res.StrategyErrors, res.StrategyError)
		}
		var top int32
		for _, l := range res.Runs[0].Limits {
			top = max(top, l.MaxConcurrency)
		}
		return top, res
	}
	if top, _ := peak(TunerStrategy(TickPeriod)); top > 5 {
		t.Errorf("scenario's policy: limit reached %d, want at most the policy's 5", top)
	}
	top, res := peak(defaultPolicyTuner(TickPeriod))
	if top <= 5 || res.Runs[0].Status != "SUCCEEDED" {
		t.Errorf("default policy: limit reached %d, status %s; want past 5 and SUCCEEDED", top, res.Runs[0].Status)
	}
}

func TestDefaultAlready(t *testing.T) {
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"../../../scenarios/default-policy.yaml", true},
		{"../../../scenarios/thousand-runs.yaml", false},
		{"../../../scenarios/fixed-concurrency.yaml", false},
		{"testdata/tiny-capped.yaml", false},
	} {
		sc, err := sim.LoadScenario(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := defaultAlready(sc); got != tt.want {
			t.Errorf("%s: defaultAlready = %v, want %v", tt.path, got, tt.want)
		}
	}
}
