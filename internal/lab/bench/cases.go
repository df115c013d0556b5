package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Reference is the makespan a makespan target divides the tuner's by, on
// the same seed.
type Reference string

// The references.
const (
	// RefOracle is the oracle's makespan: its best static setting's.
	RefOracle Reference = "oracle"
	// RefFollow is the capacity follower's (StrategyFollow) makespan.
	RefFollow Reference = "follow"
)

// Bound is what a tuner's pass over a scenario is held to, judged on the
// medians over seeds.
type Bound struct {
	// Makespan bounds the makespan over Reference's; zero: no makespan
	// target.
	Makespan  float64   `json:"makespan,omitempty"`
	Reference Reference `json:"reference,omitempty"`
	// Throttled bounds the throttled calls, in percent; zero: no throttled
	// target.
	Throttled float64 `json:"throttledPercent,omitempty"`
	// NoRunFailed wants no Map Run FAILED on any seed, whatever the cause.
	NoRunFailed bool `json:"noRunFailed,omitempty"`
	// Budget wants the tuner's calls of BudgetAPIs within its budget in
	// every period of every seed, and no API call throttled on any seed
	// (see Spend).
	Budget bool `json:"budget,omitempty"`
}

// The bounds of the capacity classes, from issue 8's targets: a scenario
// that no Case judges on its own policy is held to its class's.
var (
	fixedBound    = Bound{Makespan: 1.10, Reference: RefOracle, Throttled: 5}
	changingBound = Bound{Makespan: 1.15, Reference: RefFollow, Throttled: 7}
	sharedBound   = Bound{Makespan: 1.15, Reference: RefOracle, Throttled: 5}
)

// want says the bound in words.
func (b Bound) want() string {
	var parts []string
	if b.Makespan > 0 {
		parts = append(parts, fmt.Sprintf("makespan <= %.2f x the %s", b.Makespan, refText(b.Reference)))
	}
	if b.Throttled > 0 {
		parts = append(parts, fmt.Sprintf("throttled calls <= %s", formatBound(b.Throttled)))
	}
	if b.NoRunFailed {
		parts = append(parts, "no Map Run FAILED on any seed")
	}
	if b.Budget {
		parts = append(parts, budgetWant())
	}
	return strings.Join(parts, ", ")
}

func refText(r Reference) string {
	if r == RefFollow {
		return "capacity follower's"
	}
	return "oracle's"
}

// formatBound writes a percentage bound without needless decimals.
func formatBound(pct float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.1f", pct), ".0") + " %"
}

// Pass is which of the tuner's passes over a scenario a Case judges.
type Pass string

// The passes.
const (
	// PassTuner is the tuner under the scenario's policy, all its Map Runs.
	PassTuner Pass = "tuner"
	// PassDefaultPolicy is the tuner under the built-in default policy,
	// with no metric named (ScenarioReport.DefaultPolicy).
	PassDefaultPolicy Pass = "default-policy"
	// PassLastRun is the tuner under the scenario's policy, its last Map
	// Run alone: a later run of a job run several times.
	PassLastRun Pass = "last-run"
)

// Judged is one scenario's pass that a Case judges.
type Judged struct {
	Scenario string `json:"scenario"`
	Pass     Pass   `json:"pass"`
}

func (j Judged) String() string {
	switch j.Pass {
	case PassDefaultPolicy:
		return j.Scenario + " (default policy)"
	case PassLastRun:
		return j.Scenario + " (last run)"
	}
	return j.Scenario
}

// Case is one row of issue 8's targets: a case, the scenario passes that
// show it, and the bound each of them must meet.
type Case struct {
	Name   string
	Judged []Judged
	Bound  Bound
}

// fixedConcurrency are the scenarios of one job against a downstream of
// fixed concurrency, whatever else they test (metrics late or missing,
// long items, heavy tails).
var fixedConcurrency = []string{"fixed-concurrency", "lognormal", "pareto", "drain", "late-missing-metrics", "metric-outage", "poison-batch-baseline"}

// each judges one pass of every scenario named.
func each(p Pass, scenarios ...string) []Judged {
	out := make([]Judged, len(scenarios))
	for i, s := range scenarios {
		out[i] = Judged{Scenario: s, Pass: p}
	}
	return out
}

// Cases are issue 8's targets, in its order. A scenario that a Case judges
// on PassTuner is held to that Case's bound in its own targets too (see
// boundOf), so that the two tables agree.
var Cases = []Case{
	{Name: "fixed concurrency, first run, scenario's policy", Judged: each(PassTuner, fixedConcurrency...), Bound: fixedBound},
	{Name: "fixed concurrency, a later run of the same job", Judged: each(PassLastRun, "nightly-repeat"), Bound: Bound{Makespan: 1.03, Reference: RefOracle, Throttled: 2}},
	{
		Name:   "fixed concurrency, default policy, no metric named",
		Judged: append(each(PassDefaultPolicy, fixedConcurrency...), Judged{Scenario: "default-policy", Pass: PassTuner}),
		Bound:  Bound{Makespan: 1.20, Reference: RefOracle, Throttled: 8},
	},
	{Name: "token-bucket downstream (fixed-rate)", Judged: each(PassTuner, "fixed-rate"), Bound: Bound{Makespan: 1.15, Reference: RefOracle, Throttled: 5}},
	{Name: "changing capacity", Judged: each(PassTuner, "capacity-halves", "capacity-doubles", "capacity-10x", "neighbour-sine"), Bound: changingBound},
	{Name: "shared downstream", Judged: each(PassTuner, "shared-downstream"), Bound: sharedBound},
	{Name: "congestion collapse", Judged: each(PassTuner, "congestion-collapse"), Bound: Bound{Makespan: 1.5, Reference: RefOracle, NoRunFailed: true}},
	{Name: "latency knee, Express children", Judged: each(PassTuner, "latency-knee"), Bound: Bound{Makespan: 1.15, Reference: RefOracle, Throttled: 5}},
	{Name: "short job (10 minutes at best static)", Judged: each(PassTuner, "short-job"), Bound: Bound{Makespan: 1.3, Reference: RefOracle}},
	{Name: "API budget, 30 runs open", Judged: each(PassTuner, "thirty-runs"), Bound: Bound{Budget: true}},
}

// boundOf is what a scenario's tuner pass is held to in its own targets:
// its class's bound (many open runs: their makespan bound, and the
// budget), with what each Case that judges it on PassTuner sets: its
// makespan and throttled bounds where it sets them, no run failed and the
// budget when it wants them. A class without a makespan target keeps
// none.
func boundOf(name string, class Class) Bound {
	b := fixedBound
	switch class.Capacity {
	case CapacityChanging:
		b = changingBound
	case CapacityShared:
		b = sharedBound
	}
	if class.OpenRuns {
		b.Makespan, b.Reference = OpenRunsMakespanTarget, RefOracle
		b.Budget = true
	}
	for _, c := range Cases {
		if !slices.Contains(c.Judged, Judged{Scenario: name, Pass: PassTuner}) {
			continue
		}
		if c.Bound.Makespan > 0 {
			b.Makespan, b.Reference = c.Bound.Makespan, c.Bound.Reference
		}
		if c.Bound.Throttled > 0 {
			b.Throttled = c.Bound.Throttled
		}
		b.NoRunFailed = b.NoRunFailed || c.Bound.NoRunFailed
		b.Budget = b.Budget || c.Bound.Budget
	}
	if class.NoMakespan {
		b.Makespan, b.Reference = 0, ""
	}
	return b
}

// Measured are the figures of one pass that a Bound judges: medians over
// seeds, and the Map Runs FAILED over seeds.
type Measured struct {
	// Makespan is the median makespan over the reference's; NaN when the
	// reference was not run.
	Makespan Num `json:"makespanRatio"`
	// Throttled is the median throttled calls, in percent.
	Throttled Num `json:"throttledPercent"`
	// FailedRuns counts the Map Runs FAILED, of Runs, over seeds.
	FailedRuns int `json:"failedRuns"`
	Runs       int `json:"runs"`
	// Spend is the tuner's spend of its budget, read only for a bound
	// that judges it (Bound.Budget); nil otherwise.
	Spend *Spend `json:"spend,omitempty"`
}

// measure reads what a Bound judges of a tuner's pass. follow is the
// capacity follower's report on the same scenario, nil when not run;
// lastRun reads the last Map Run of every seed alone.
func measure(tuner StrategyReport, follow *StrategyReport, ref Reference, lastRun bool) Measured {
	ratios := make([]float64, len(tuner.Seeds))
	throttled := make([]float64, len(tuner.Seeds))
	var m Measured
	for i, f := range tuner.Seeds {
		v := viewOf(f, lastRun)
		throttled[i] = v.ThrottledPercent
		m.FailedRuns += v.failed
		m.Runs += v.runs
		switch {
		case ref != RefFollow:
			ratios[i] = float64(v.MakespanRatio)
		case follow == nil || i >= len(follow.Seeds):
			ratios[i] = math.NaN()
		default:
			o := viewOf(follow.Seeds[i], lastRun)
			ratios[i] = float64(makespanRatio(v.Makespan, v.completed, o.Makespan, o.completed))
		}
	}
	m.Makespan, m.Throttled = statOf(ratios).Median, statOf(throttled).Median
	if ref == RefFollow && follow == nil {
		m.Makespan = Num(math.NaN())
	}
	return m
}

// seedView is one seed's figures of a whole scenario or of one of its runs.
type seedView struct {
	RunFigures
	completed    bool
	failed, runs int
}

// viewOf is a seed's figures, or its last Map Run's when lastRun and the
// seed has per-run figures.
func viewOf(f SeedFigures, lastRun bool) seedView {
	if lastRun && len(f.Runs) > 0 {
		r := f.Runs[len(f.Runs)-1]
		v := seedView{RunFigures: r, completed: r.Status == statusSucceeded, runs: 1}
		if r.Status == statusFailed {
			v.failed = 1
		}
		return v
	}
	return seedView{
		RunFigures: RunFigures{Makespan: f.Makespan, MakespanRatio: f.MakespanRatio, ThrottledPercent: f.ThrottledPercent},
		completed:  f.Completed,
		failed:     f.Outcomes.Failed,
		runs:       f.Outcomes.Succeeded + f.Outcomes.Failed + f.Outcomes.Running,
	}
}

// judgeBound judges measured figures against a bound: not run when the
// makespan's reference was not run.
func judgeBound(b Bound, m Measured) string {
	ok := true
	if b.Makespan > 0 {
		if math.IsNaN(float64(m.Makespan)) {
			return StatusNotRun
		}
		ok = float64(m.Makespan) <= b.Makespan
	}
	if b.Throttled > 0 {
		ok = ok && float64(m.Throttled) <= b.Throttled
	}
	if b.NoRunFailed {
		ok = ok && m.FailedRuns == 0
	}
	if b.Budget {
		if m.Spend == nil {
			return StatusNotRun
		}
		ok = ok && m.Spend.within()
	}
	return judge(ok)
}

// CaseResult is one Case, judged.
type CaseResult struct {
	// Case is the Case's name; Want says its bound.
	Case string `json:"case"`
	Want string `json:"want"`
	// Got are the worst figures over the passes judged, each naming its
	// pass ("on ...") when there are several.
	Got string `json:"got"`
	// Status is pass when every pass judged met the bound, MISS when one
	// missed it, not run when none of the Case's scenarios was run or a
	// reference was missing.
	Status string `json:"status"`
	// Figures are the passes judged (those of the scenarios run), with
	// their own figures and status.
	Figures []CaseFigure `json:"figures"`
}

// CaseFigure is one pass of a Case, judged.
type CaseFigure struct {
	Judged
	Measured
	Status string `json:"status"`
}

// judgeCases judges Cases on a suite's report: every pass of the scenarios
// it ran, from the same results as the rest of the report.
func judgeCases(rep Report) []CaseResult {
	out := make([]CaseResult, 0, len(Cases))
	for _, c := range Cases {
		cr := CaseResult{Case: c.Name, Want: c.Bound.want(), Got: "-", Status: StatusNotRun}
		for _, j := range c.Judged {
			i := slices.IndexFunc(rep.Scenarios, func(sr ScenarioReport) bool { return sr.Name == j.Scenario })
			if i < 0 {
				continue
			}
			sr := &rep.Scenarios[i]
			tuner := sr.strategy(StrategyTuner)
			if j.Pass == PassDefaultPolicy {
				tuner = sr.DefaultPolicy
			}
			f := CaseFigure{Judged: j, Status: StatusNotRun, Measured: Measured{Makespan: Num(math.NaN()), Throttled: Num(math.NaN())}}
			if tuner != nil {
				f.Measured = measure(*tuner, sr.strategy(StrategyFollow), c.Bound.Reference, j.Pass == PassLastRun)
				if c.Bound.Budget {
					s := spendOf(*tuner)
					f.Spend = &s
				}
				f.Status = judgeBound(c.Bound, f.Measured)
			}
			cr.Figures = append(cr.Figures, f)
		}
		if len(cr.Figures) > 0 {
			cr.Got, cr.Status = caseGot(c.Bound, cr.Figures), caseStatus(cr.Figures)
		}
		out = append(out, cr)
	}
	return out
}

// caseStatus is MISS when a pass missed, else not run when one could not
// be judged, else pass.
func caseStatus(fs []CaseFigure) string {
	status := StatusPass
	for _, f := range fs {
		switch f.Status {
		case StatusMiss:
			return StatusMiss
		case StatusNotRun:
			status = StatusNotRun
		}
	}
	return status
}

// caseGot writes the worst figures of a Case's passes, naming the pass of
// each when there are several.
func caseGot(b Bound, fs []CaseFigure) string {
	worst := func(get func(CaseFigure) float64) (float64, string) {
		w, at := math.NaN(), ""
		for _, f := range fs {
			if v := get(f); !math.IsNaN(v) && (math.IsNaN(w) || v > w) {
				w, at = v, f.Judged.String()
			}
		}
		if len(fs) == 1 || at == "" {
			return w, ""
		}
		return w, " on " + at
	}
	var parts []string
	if b.Makespan > 0 {
		v, at := worst(func(f CaseFigure) float64 { return float64(f.Makespan) })
		parts = append(parts, "makespan "+formatRatio(Num(v))+at)
	}
	if b.Throttled > 0 {
		v, at := worst(func(f CaseFigure) float64 { return float64(f.Throttled) })
		parts = append(parts, "throttled "+formatPercent(Num(v))+at)
	}
	if b.NoRunFailed {
		failed, runs := 0, 0
		for _, f := range fs {
			failed, runs = failed+f.FailedRuns, runs+f.Runs
		}
		parts = append(parts, fmt.Sprintf("%d of %d runs FAILED", failed, runs))
	}
	if b.Budget {
		// The most calls of each API over the passes judged.
		var worst *Spend
		for _, f := range fs {
			if f.Spend != nil {
				w := *f.Spend
				if worst != nil {
					w = worst.worse(w)
				}
				worst = &w
			}
		}
		got := "most calls in a period -"
		if worst != nil {
			got = worst.String()
		}
		parts = append(parts, got)
	}
	return strings.Join(parts, ", ")
}
