package bench

import (
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/maptuner/maptuner/internal/budget"
)

// fakeSeeds are three seeds of made-up figures: makespans of 40 x ratio
// minutes (the reference's are 40), throttled calls in percent, one Map
// Run each, or runs when given (the last one with lastRatio and
// lastThrottled).
type fakeSeeds struct {
	ratio, throttled         float64
	runs                     int
	lastRatio, lastThrottled float64
	failedSeeds              int
	// periodMost are the most calls of a period, by API, on every seed;
	// apiThrottled the API calls throttled on the first seed.
	periodMost   map[budget.API]int
	apiThrottled int64
}

func (f fakeSeeds) report(name string) StrategyReport {
	s := StrategyReport{Strategy: name}
	for seed := uint64(1); seed <= 3; seed++ {
		sf := SeedFigures{Seed: seed, Makespan: 40 * f.ratio, Completed: true, MakespanRatio: Num(f.ratio), ThrottledPercent: f.throttled, Items: 1000, Outcomes: Outcomes{Succeeded: max(f.runs, 1)}, Cadence: noCadence()}
		for _, api := range slices.Sorted(maps.Keys(f.periodMost)) {
			sf.Cadence.PeriodCalls = append(sf.Cadence.PeriodCalls, OpCalls{API: string(api), Median: Num(f.periodMost[api]), Max: Num(f.periodMost[api])})
		}
		if seed == 1 {
			sf.APIThrottled = f.apiThrottled
		}
		if int(seed) <= f.failedSeeds {
			sf.Completed, sf.MakespanRatio = false, Num(math.Inf(1))
			sf.Outcomes = Outcomes{Succeeded: max(f.runs, 1) - 1, Failed: 1}
		}
		for i := range f.runs {
			r := RunFigures{Name: "night-" + string(rune('1'+i)), Status: statusSucceeded, Makespan: 40 * f.ratio, MakespanRatio: Num(f.ratio), ThrottledPercent: f.throttled}
			if i == f.runs-1 {
				r.Makespan, r.MakespanRatio, r.ThrottledPercent = 40*f.lastRatio, Num(f.lastRatio), f.lastThrottled
			}
			sf.Runs = append(sf.Runs, r)
		}
		s.Seeds = append(s.Seeds, sf)
	}
	s.Summary = summarize(s.Seeds)
	return s
}

// fakeScenario is a scenario report with the tuner, the follower (always at
// the reference's makespan) and the default-policy pass.
func fakeScenario(name string, tuner, def fakeSeeds) ScenarioReport {
	d := def.report(DefaultPolicyRow)
	follow := fakeSeeds{ratio: 1, runs: tuner.runs, lastRatio: 1}
	return ScenarioReport{Name: name, Strategies: []StrategyReport{tuner.report(StrategyTuner), follow.report(StrategyFollow)}, DefaultPolicy: &d}
}

// goodReport is a report of every scenario Cases judge, each meeting its
// Case: the tuner at 1.0 x with 1 % throttled, 1.1 x and 4 % under the
// default policy, nightly-repeat's last run at 1.01 x and 1 %,
// thirty-runs at its budget (atBudget).
func goodReport() Report {
	var rep Report
	seen := map[string]bool{}
	for _, c := range Cases {
		for _, j := range c.Judged {
			if seen[j.Scenario] {
				continue
			}
			seen[j.Scenario] = true
			tuner := fakeSeeds{ratio: 1, throttled: 1}
			switch j.Scenario {
			case "nightly-repeat":
				tuner.runs, tuner.lastRatio, tuner.lastThrottled = 3, 1.01, 1
			case "thirty-runs":
				tuner.periodMost = atBudget(0, 0)
			}
			rep.Scenarios = append(rep.Scenarios, fakeScenario(j.Scenario, tuner, fakeSeeds{ratio: 1.1, throttled: 4}))
		}
	}
	return rep
}

// atBudget are the most calls of a period of thirty-runs: DescribeMapRun
// and GetExecutionHistory at their budgets plus over, ListExecutions at 59.
func atBudget(dmrOver, gehOver int) map[budget.API]int {
	return map[budget.API]int{budget.DescribeMapRun: 30 + dmrOver, budget.ListExecutions: 59, budget.GetExecutionHistory: 200 + gehOver, budget.DescribeStateMachine: 30}
}

// edit replaces one scenario's report in rep.
func edit(rep Report, name string, sr ScenarioReport) Report {
	i := slices.IndexFunc(rep.Scenarios, func(s ScenarioReport) bool { return s.Name == name })
	rep.Scenarios[i] = sr
	return rep
}

func TestJudgeCases(t *testing.T) {
	const (
		first    = "fixed concurrency, first run, scenario's policy"
		later    = "fixed concurrency, a later run of the same job"
		def      = "fixed concurrency, default policy, no metric named"
		bucket   = "token-bucket downstream (fixed-rate)"
		changing = "changing capacity"
		shared   = "shared downstream"
		collapse = "congestion collapse"
		knee     = "latency knee, Express children"
		short    = "short job (10 minutes at best static)"
		spend    = "API budget, 30 runs open"
	)
	allPass := func() map[string]string {
		m := map[string]string{}
		for _, c := range Cases {
			m[c.Name] = StatusPass
		}
		return m
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	good := fakeSeeds{ratio: 1, throttled: 1}
	goodDefault := fakeSeeds{ratio: 1.1, throttled: 4}
	tests := []struct {
		name string
		rep  Report
		want map[string]string
		// got is a Case whose figure must contain gotText.
		got, gotText string
	}{
		{name: "every case met", rep: goodReport(), want: allPass(), got: def, gotText: "makespan 1.10 on fixed-concurrency (default policy), throttled 4.00 % on fixed-concurrency (default policy)"},
		{
			name: "first run throttles too much",
			rep:  edit(goodReport(), "pareto", fakeScenario("pareto", fakeSeeds{ratio: 1, throttled: 6}, goodDefault)),
			want: with(allPass(), first, StatusMiss), got: first, gotText: "throttled 6.00 % on pareto",
		},
		{
			name: "a later run no faster than the first",
			rep:  edit(goodReport(), "nightly-repeat", fakeScenario("nightly-repeat", fakeSeeds{ratio: 1, throttled: 1, runs: 3, lastRatio: 1.05, lastThrottled: 1.5}, goodDefault)),
			want: with(allPass(), later, StatusMiss), got: later, gotText: "makespan 1.05, throttled 1.50 %",
		},
		{
			name: "a later run throttles over 2 %",
			rep:  edit(goodReport(), "nightly-repeat", fakeScenario("nightly-repeat", fakeSeeds{ratio: 1, throttled: 1, runs: 3, lastRatio: 1.0, lastThrottled: 2.5}, goodDefault)),
			want: with(allPass(), later, StatusMiss),
		},
		{
			name: "default policy slower than 1.20",
			rep:  edit(goodReport(), "drain", fakeScenario("drain", good, fakeSeeds{ratio: 1.25, throttled: 1})),
			want: with(allPass(), def, StatusMiss), got: def, gotText: "makespan 1.25 on drain (default policy)",
		},
		{
			name: "the default-policy scenario is judged on its own tuner pass",
			rep:  edit(goodReport(), "default-policy", fakeScenario("default-policy", fakeSeeds{ratio: 1.3, throttled: 1}, goodDefault)),
			want: with(allPass(), def, StatusMiss), got: def, gotText: "makespan 1.30 on default-policy",
		},
		{
			name: "token bucket at 1.16",
			rep:  edit(goodReport(), "fixed-rate", fakeScenario("fixed-rate", fakeSeeds{ratio: 1.16, throttled: 1}, goodDefault)),
			want: with(allPass(), bucket, StatusMiss),
		},
		{
			name: "changing capacity over 1.15 x the follower",
			rep:  edit(goodReport(), "capacity-10x", fakeScenario("capacity-10x", fakeSeeds{ratio: 1.2, throttled: 1}, goodDefault)),
			want: with(allPass(), changing, StatusMiss), got: changing, gotText: "makespan 1.20 on capacity-10x",
		},
		{
			name: "changing capacity throttles 7.5 %",
			rep:  edit(goodReport(), "neighbour-sine", fakeScenario("neighbour-sine", fakeSeeds{ratio: 1, throttled: 7.5}, goodDefault)),
			want: with(allPass(), changing, StatusMiss),
		},
		{
			name: "shared downstream throttles 5.1 %",
			rep:  edit(goodReport(), "shared-downstream", fakeScenario("shared-downstream", fakeSeeds{ratio: 1, throttled: 5.1}, goodDefault)),
			want: with(allPass(), shared, StatusMiss),
		},
		{
			name: "congestion collapse throttling is not judged",
			rep:  edit(goodReport(), "congestion-collapse", fakeScenario("congestion-collapse", fakeSeeds{ratio: 1.45, throttled: 30}, goodDefault)),
			want: allPass(), got: collapse, gotText: "makespan 1.45, 0 of 3 runs FAILED",
		},
		{
			name: "congestion collapse with one run failed",
			rep:  edit(goodReport(), "congestion-collapse", fakeScenario("congestion-collapse", fakeSeeds{ratio: 1.2, throttled: 1, failedSeeds: 1}, goodDefault)),
			want: with(allPass(), collapse, StatusMiss), got: collapse, gotText: "makespan 1.20, 1 of 3 runs FAILED",
		},
		{
			name: "latency knee at 1.44",
			rep:  edit(goodReport(), "latency-knee", fakeScenario("latency-knee", fakeSeeds{ratio: 1.44, throttled: 0.4}, goodDefault)),
			want: with(allPass(), knee, StatusMiss),
		},
		{
			name: "short job at 1.29 and throttling, not judged",
			rep:  edit(goodReport(), "short-job", fakeScenario("short-job", fakeSeeds{ratio: 1.29, throttled: 20}, goodDefault)),
			want: allPass(),
		},
		{
			name: "short job at 1.31",
			rep:  edit(goodReport(), "short-job", fakeScenario("short-job", fakeSeeds{ratio: 1.31, throttled: 0}, goodDefault)),
			want: with(allPass(), short, StatusMiss), got: short, gotText: "makespan 1.31",
		},
		{
			name: "30 runs at the budget",
			rep:  goodReport(), want: allPass(),
			got: spend, gotText: "most calls in a period vs budget: DescribeMapRun 30 vs 30, ListExecutions 59 vs 100, GetExecutionHistory 200 vs 200; API calls throttled 0",
		},
		{
			name: "30 runs over the DescribeMapRun budget",
			rep:  edit(goodReport(), "thirty-runs", fakeScenario("thirty-runs", fakeSeeds{ratio: 0.5, throttled: 1, periodMost: atBudget(1, 0)}, goodDefault)),
			want: with(allPass(), spend, StatusMiss), got: spend, gotText: "DescribeMapRun 31 vs 30",
		},
		{
			name: "30 runs over the GetExecutionHistory budget",
			rep:  edit(goodReport(), "thirty-runs", fakeScenario("thirty-runs", fakeSeeds{ratio: 0.5, throttled: 1, periodMost: atBudget(0, 12)}, goodDefault)),
			want: with(allPass(), spend, StatusMiss), got: spend, gotText: "GetExecutionHistory 212 vs 200",
		},
		{
			name: "30 runs within the budget, one API call throttled",
			rep:  edit(goodReport(), "thirty-runs", fakeScenario("thirty-runs", fakeSeeds{ratio: 0.5, throttled: 1, periodMost: atBudget(0, 0), apiThrottled: 1}, goodDefault)),
			want: with(allPass(), spend, StatusMiss), got: spend, gotText: "; API calls throttled 1",
		},
		{
			name: "30 runs, the makespan and throttling are not judged",
			rep:  edit(goodReport(), "thirty-runs", fakeScenario("thirty-runs", fakeSeeds{ratio: 3, throttled: 20, periodMost: atBudget(0, 0)}, goodDefault)),
			want: allPass(),
		},
		{
			name: "only the short job run",
			rep:  Report{Scenarios: []ScenarioReport{fakeScenario("short-job", good, goodDefault)}},
			want: map[string]string{first: StatusNotRun, later: StatusNotRun, def: StatusNotRun, bucket: StatusNotRun, changing: StatusNotRun, shared: StatusNotRun, collapse: StatusNotRun, knee: StatusNotRun, short: StatusPass, spend: StatusNotRun},
			got:  first, gotText: "-",
		},
		{
			name: "changing capacity without the follower",
			rep: func() Report {
				sr := fakeScenario("capacity-halves", good, goodDefault)
				sr.Strategies = sr.Strategies[:1]
				return Report{Scenarios: []ScenarioReport{sr}}
			}(),
			want: map[string]string{first: StatusNotRun, later: StatusNotRun, def: StatusNotRun, bucket: StatusNotRun, changing: StatusNotRun, shared: StatusNotRun, collapse: StatusNotRun, knee: StatusNotRun, short: StatusNotRun, spend: StatusNotRun},
			got:  changing, gotText: "makespan -, throttled 1.00 %",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judgeCases(tt.rep)
			if len(got) != len(Cases) {
				t.Fatalf("%d cases judged, want one per Case (%d)", len(got), len(Cases))
			}
			for i, c := range got {
				if c.Case != Cases[i].Name {
					t.Errorf("case %d is %q, want %q: the issue's order", i, c.Case, Cases[i].Name)
				}
				if c.Status != tt.want[c.Case] {
					t.Errorf("%s: %s (%s), want %s", c.Case, c.Status, c.Got, tt.want[c.Case])
				}
				if c.Case == tt.got && !strings.Contains(c.Got, tt.gotText) {
					t.Errorf("%s: figure %q, want it to contain %q", c.Case, c.Got, tt.gotText)
				}
			}
		})
	}
}

// TestCasesAgreeWithTargets checks that a scenario judged by a Case on its
// own policy is held to the same bounds in its own targets: a report that
// misses a Case misses the scenario's makespan, throttled or budget target
// too. What a Case does not set (a makespan) the scenario's class sets.
func TestCasesAgreeWithTargets(t *testing.T) {
	for _, c := range Cases {
		for _, j := range c.Judged {
			if j.Pass != PassTuner {
				continue
			}
			b := boundOf(j.Scenario, Classes[j.Scenario])
			if c.Bound.Makespan > 0 && (b.Makespan != c.Bound.Makespan || b.Reference != c.Bound.Reference) || b.NoRunFailed != c.Bound.NoRunFailed ||
				c.Bound.Throttled > 0 && b.Throttled != c.Bound.Throttled || c.Bound.Budget && !b.Budget {
				t.Errorf("%s: bound %+v, want the case %q's %+v", j.Scenario, b, c.Name, c.Bound)
			}
			if c.Bound.Makespan == 0 && b.Makespan == 0 {
				t.Errorf("%s: no makespan target: the case %q sets none, so its class's holds", j.Scenario, c.Name)
			}
			if c.Bound.Throttled == 0 && b.Throttled == 0 {
				t.Errorf("%s: no throttled target: the case %q sets none, so its class's holds", j.Scenario, c.Name)
			}
		}
	}
}

func TestCasesNameShippedScenarios(t *testing.T) {
	for _, c := range Cases {
		if len(c.Judged) == 0 || c.Bound.want() == "" {
			t.Errorf("case %q judges nothing", c.Name)
		}
		for _, j := range c.Judged {
			if _, ok := Classes[j.Scenario]; !ok {
				t.Errorf("case %q judges %s, not a shipped scenario", c.Name, j.Scenario)
			}
		}
	}
}

func TestBoundOf(t *testing.T) {
	tests := []struct {
		name  string
		class Class
		want  Bound
	}{
		{"unlisted", Class{Capacity: CapacityFixed}, fixedBound},
		{"unlisted", Class{Capacity: CapacityChanging}, changingBound},
		{"unlisted", Class{Capacity: CapacityShared}, sharedBound},
		{"thousand-runs", Classes["thousand-runs"], Bound{Makespan: OpenRunsMakespanTarget, Reference: RefOracle, Throttled: 5, Budget: true}},
		{"thirty-runs", Classes["thirty-runs"], Bound{Makespan: OpenRunsMakespanTarget, Reference: RefOracle, Throttled: 5, Budget: true}},
		{"broken-deployment", Classes["broken-deployment"], Bound{Throttled: 5}},
		{"congestion-collapse", Classes["congestion-collapse"], Bound{Makespan: 1.5, Reference: RefOracle, Throttled: 5, NoRunFailed: true}},
		{"short-job", Classes["short-job"], Bound{Makespan: 1.3, Reference: RefOracle, Throttled: 5}},
		{"default-policy", Classes["default-policy"], Bound{Makespan: 1.2, Reference: RefOracle, Throttled: 8}},
		{"nightly-repeat", Classes["nightly-repeat"], sharedBound},
	}
	for _, tt := range tests {
		if got := boundOf(tt.name, tt.class); got != tt.want {
			t.Errorf("boundOf(%s, %+v) = %+v, want %+v", tt.name, tt.class, got, tt.want)
		}
	}
}

func TestMeasureLastRun(t *testing.T) {
	tuner := fakeSeeds{ratio: 1, throttled: 3, runs: 3, lastRatio: 1.02, lastThrottled: 0.5}.report(StrategyTuner)
	follow := fakeSeeds{ratio: 1, runs: 3, lastRatio: 0.5}.report(StrategyFollow)
	for _, tt := range []struct {
		name    string
		ref     Reference
		last    bool
		ratio   float64
		thr     float64
		runs    int
		follows *StrategyReport
	}{
		{"whole, oracle", RefOracle, false, 1, 3, 9, nil},
		{"last run, oracle", RefOracle, true, 1.02, 0.5, 3, nil},
		{"last run, follower", RefFollow, true, 2.04, 0.5, 3, &follow},
		{"whole, follower", RefFollow, false, 1, 3, 9, &follow},
	} {
		m := measure(tuner, tt.follows, tt.ref, tt.last)
		if math.Abs(float64(m.Makespan)-tt.ratio) > 1e-9 || float64(m.Throttled) != tt.thr || m.Runs != tt.runs || m.FailedRuns != 0 {
			t.Errorf("%s: %+v, want ratio %.2f, throttled %.1f, %d runs", tt.name, m, tt.ratio, tt.thr, tt.runs)
		}
	}
}

func TestSpendWorse(t *testing.T) {
	spend := func(d, l, g int, throttled int64) Spend {
		return Spend{Periods: []PeriodSpend{{"DescribeMapRun", d, 30}, {"ListExecutions", l, 100}, {"GetExecutionHistory", g, 200}}, APIThrottled: throttled}
	}
	a, b := spend(30, 12, 150, 0), spend(20, 80, 201, 2)
	got := a.worse(b)
	if want := spend(30, 80, 201, 2); !reflect.DeepEqual(got, want) {
		t.Errorf("worse = %+v, want %+v", got, want)
	}
	if a.within() != true || b.within() != false || spend(31, 0, 0, 0).within() || spend(30, 100, 200, 1).within() || !spend(30, 100, 200, 0).within() {
		t.Error("within: want true exactly when every API is at most its budget and nothing was throttled")
	}
}
