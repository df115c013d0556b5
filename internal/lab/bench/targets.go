package bench

import (
	"fmt"
	"math"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// The tuner's targets besides the makespan and throttled calls (which a
// scenario's Bound sets), from the issues that set them. Each is judged on
// the median over seeds unless it says otherwise.
const (
	// FailFastTarget bounds the failed items of a run that must fail, in
	// percent of its items.
	FailFastTarget = 2.0
	// PoisonTarget bounds the tuner's makespan with a poison batch over its
	// makespan without it (same seed).
	PoisonTarget = 1.10
	// OpenRunsMakespanTarget bounds the makespan over the oracle's of a
	// scenario of many open runs (Class.OpenRuns).
	OpenRunsMakespanTarget = 1.15
	// CadenceTarget bounds, with many open runs, the time from a run's
	// start to its first decision (every run) and between two decisions
	// of a run (p95), in minutes.
	CadenceTarget = 2.0
)

// The target names.
const (
	// TargetMakespan bounds the makespan over the reference's (Bound).
	TargetMakespan = "makespan"
	// TargetThrottled bounds the throttled calls (Bound).
	TargetThrottled = "throttled"
	// TargetThrottleFailures wants no run failed by throttling.
	TargetThrottleFailures = "throttle-failures"
	// TargetRunsFailed wants no run failed at all (Bound.NoRunFailed).
	TargetRunsFailed = "runs-failed"
	// TargetFailFast wants a run that must fail to fail fast.
	TargetFailFast = "fail-fast"
	// TargetPoison bounds the slow-down a poison batch causes.
	TargetPoison = "poison"
	// TargetCadence bounds how soon and how often each run is decided
	// (CadenceTarget), with many open runs.
	TargetCadence = "cadence"
	// TargetAPIThrottled wants no API call of the tuner throttled, with
	// many open runs.
	TargetAPIThrottled = "api-throttled"
	// TargetBudget wants the tuner's calls of BudgetAPIs within its
	// budget in every period, and no API call throttled on any seed
	// (Bound.Budget), with many open runs.
	TargetBudget = "budget"
	// TargetAheadPrefix starts the names of the targets of being ahead of
	// another strategy: ahead-aimd, ahead-cubic, ahead-unlimited.
	TargetAheadPrefix = "ahead-"
)

// targetRank orders target names as targets lists them.
func targetRank(name string) int {
	if i := slices.Index([]string{TargetMakespan, TargetThrottled, TargetThrottleFailures, TargetRunsFailed, TargetFailFast, TargetPoison, TargetCadence, TargetAPIThrottled, TargetBudget}, name); i >= 0 {
		return i
	}
	return 9
}

// AheadOf are the strategies the tuner must be ahead of, in every scenario.
var AheadOf = []string{StrategyAIMD, StrategyCUBIC, StrategyUnlimited}

// The results of a target.
const (
	// StatusPass is a target met.
	StatusPass = "pass"
	// StatusMiss is a target missed.
	StatusMiss = "MISS"
	// StatusNotRun is a target that could not be judged because what it
	// compares with was not run (a strategy or baseline scenario left out).
	StatusNotRun = "not run"
)

// Target is one target of the tuner in one scenario, judged.
type Target struct {
	// Name is one of the Target names: makespan, throttled, ...,
	// ahead-<strategy>.
	Name string `json:"name"`
	// Want says the target; Got the figures it was judged on.
	Want string `json:"want"`
	Got  string `json:"got"`
	// Status is pass, MISS or not run.
	Status string `json:"status"`
}

func judge(ok bool) string {
	if ok {
		return StatusPass
	}
	return StatusMiss
}

// targets judges the tuner's targets in one scenario. bound is what its
// makespan and throttled calls are held to (see boundOf); tuner is its
// report; others the reports of the other strategies run; baseline the
// tuner's per-seed makespans in the scenario's poison baseline (nil when
// not run).
func targets(class Class, bound Bound, tuner StrategyReport, others map[string]StrategyReport, baseline map[uint64]float64) []Target {
	var out []Target
	s := tuner.Summary
	var follow *StrategyReport
	if f, ok := others[StrategyFollow]; ok {
		follow = &f
	}
	m := measure(tuner, follow, bound.Reference, false)
	if bound.Makespan > 0 {
		b := Bound{Makespan: bound.Makespan, Reference: bound.Reference}
		t := Target{Name: TargetMakespan, Want: b.want(), Got: formatRatio(m.Makespan), Status: judgeBound(b, m)}
		if t.Status == StatusNotRun {
			t.Got = "-"
		}
		out = append(out, t)
	}
	if bound.Throttled > 0 {
		b := Bound{Throttled: bound.Throttled}
		out = append(out, Target{Name: TargetThrottled, Want: b.want(), Got: formatPercent(m.Throttled), Status: judgeBound(b, m)})
	}
	out = append(out, Target{
		Name:   TargetThrottleFailures,
		Want:   "no Map Run fails because of throttling (any seed)",
		Got:    fmt.Sprintf("%d of %d runs", s.ThrottleFailures, m.Runs),
		Status: judge(s.ThrottleFailures == 0),
	})
	if bound.NoRunFailed {
		b := Bound{NoRunFailed: true}
		out = append(out, Target{Name: TargetRunsFailed, Want: b.want(), Got: fmt.Sprintf("%d of %d runs", m.FailedRuns, m.Runs), Status: judgeBound(b, m)})
	}
	if class.FailFast {
		pct := make([]float64, 0, len(tuner.Seeds))
		allFailed := true
		for _, f := range tuner.Seeds {
			pct = append(pct, 100*float64(f.FailedThrottle+f.FailedPoison)/float64(max(f.Items, 1)))
			allFailed = allFailed && f.Outcomes.Failed > 0 && f.Outcomes.Succeeded == 0 && f.Outcomes.Running == 0
		}
		med := statOf(pct).Median
		got := "failed items " + formatPercent(med)
		if !allFailed {
			got += ", but not every run FAILED"
		}
		out = append(out, Target{
			Name:   TargetFailFast,
			Want:   fmt.Sprintf("every run %s with failed items <= %.0f %% of its items", types.MapRunStatusFailed, FailFastTarget),
			Got:    got,
			Status: judge(allFailed && float64(med) <= FailFastTarget),
		})
	}
	if class.PoisonBaseline != "" {
		t := Target{Name: TargetPoison, Want: fmt.Sprintf("makespan <= %.2f x the tuner's in %s", PoisonTarget, class.PoisonBaseline), Status: StatusNotRun, Got: "-"}
		if baseline != nil {
			var r []float64
			for _, f := range tuner.Seeds {
				b, ok := baseline[f.Seed]
				switch {
				case !ok:
					r = append(r, math.NaN())
				case f.Completed && b > 0:
					r = append(r, f.Makespan/b)
				default:
					r = append(r, math.Inf(1))
				}
			}
			med := statOf(r).Median
			t.Got, t.Status = formatRatio(med), judge(float64(med) <= PoisonTarget)
		}
		out = append(out, t)
	}
	if class.OpenRuns {
		c := s.Cadence
		out = append(out, Target{
			Name:   TargetCadence,
			Want:   fmt.Sprintf("every run first decided within %.0f min of its start, re-decided within %.0f min (p95)", CadenceTarget, CadenceTarget),
			Got:    fmt.Sprintf("first max %s min, every p95 %s min", formatTenths(c.FirstMax), formatTenths(c.EveryP95)),
			Status: judge(float64(c.FirstMax) <= CadenceTarget && float64(c.EveryP95) <= CadenceTarget),
		}, Target{
			Name:   TargetAPIThrottled,
			Want:   "no API call throttled by the account's quotas",
			Got:    fmt.Sprintf("%s calls", formatCount(s.APIThrottled.Median)),
			Status: judge(float64(s.APIThrottled.Median) == 0),
		})
	}
	if bound.Budget {
		b, sp := Bound{Budget: true}, spendOf(tuner)
		out = append(out, Target{Name: TargetBudget, Want: b.want(), Got: sp.String(), Status: judgeBound(b, Measured{Spend: &sp})})
	}
	for _, name := range AheadOf {
		t := Target{
			Name:   TargetAheadPrefix + name,
			Want:   fmt.Sprintf("makespan <= %s's at throttled calls <= %s's", name, name),
			Got:    "-",
			Status: StatusNotRun,
		}
		if class.NoMakespan {
			t.Want = fmt.Sprintf("failed items <= %s's at throttled calls <= %s's", name, name)
		}
		o, ok := others[name]
		if !ok {
			out = append(out, t)
			continue
		}
		tt, ot := float64(s.ThrottledPercent.Median), float64(o.Summary.ThrottledPercent.Median)
		throttles := fmt.Sprintf("throttled %s vs %s", formatPercent(Num(tt)), formatPercent(Num(ot)))
		if class.NoMakespan {
			// A run that must fail is judged by the work it wastes.
			tf, of := failedItems(tuner), failedItems(o)
			t.Got = fmt.Sprintf("failed items %s vs %s, %s", formatCount(Num(tf)), formatCount(Num(of)), throttles)
			t.Status = judge(tf <= of && tt <= ot)
		} else {
			tm, om := float64(s.MakespanRatio.Median), float64(o.Summary.MakespanRatio.Median)
			t.Got = fmt.Sprintf("makespan %s vs %s, %s", formatRatio(Num(tm)), formatRatio(Num(om)), throttles)
			t.Status = judge(!math.IsInf(tm, 0) && tm <= om && tt <= ot)
		}
		out = append(out, t)
	}
	return out
}

// failedItems is the median over seeds of a strategy's failed items.
func failedItems(s StrategyReport) float64 {
	v := make([]float64, len(s.Seeds))
	for i, f := range s.Seeds {
		v[i] = float64(f.FailedThrottle + f.FailedPoison)
	}
	return float64(statOf(v).Median)
}

// judgement is what passed counts: a Target or a CaseResult.
type judgement interface{ status() string }

func (t Target) status() string     { return t.Status }
func (c CaseResult) status() string { return c.Status }

// passed counts the targets or cases met, and those judged.
func passed[T judgement](ts []T) (pass, judged int) {
	for _, t := range ts {
		if t.status() != StatusNotRun {
			judged++
		}
		if t.status() == StatusPass {
			pass++
		}
	}
	return pass, judged
}

// missed lists the names of the targets missed.
func missed(ts []Target) []string {
	var out []string
	for _, t := range ts {
		if t.Status == StatusMiss {
			out = append(out, t.Name)
		}
	}
	return out
}
