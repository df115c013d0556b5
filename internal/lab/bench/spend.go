package bench

import (
	"fmt"
	"math"
	"strings"

	"github.com/maptuner/maptuner/internal/budget"
)

// BudgetAPIs are the APIs the budget target (Bound.Budget) judges the
// tuner's spend of: those whose calls grow with the runs open, a describe
// per run and the listings and histories of its children that the live
// sample and the failure sample read.
var BudgetAPIs = []budget.API{budget.DescribeMapRun, budget.ListExecutions, budget.GetExecutionHistory}

// periodBudget is, per API of BudgetAPIs, the calls one of the tuner's
// periods may make: what budget.New gives for the Config the benchmark
// runs the tuner with (tunerConfig, a period of TickPeriod), the full
// pass and the looks up to the next one spending from it.
var periodBudget = func() map[budget.API]int {
	cfg := tunerConfig(TickPeriod)
	b, err := budget.New(budget.Config{Region: cfg.Region, Fraction: cfg.BudgetFraction, Period: cfg.Period})
	if err != nil {
		// The Config is the benchmark's own, a constant: a programming
		// error.
		panic(fmt.Sprintf("bench: the tuner's budget: %v", err))
	}
	out := make(map[budget.API]int, len(BudgetAPIs))
	for _, api := range BudgetAPIs {
		out[api] = b.Remaining(api)
	}
	return out
}()

// Spend is what the budget target judges of a tuner's pass over a
// scenario: the most calls of one period of each API of BudgetAPIs, over
// the periods of every seed, against the period's budget, and the most
// API calls the account's quotas refused on one seed.
type Spend struct {
	Periods      []PeriodSpend `json:"periods"`
	APIThrottled int64         `json:"apiThrottledMost"`
}

// PeriodSpend is the most calls of one API in one period, and the
// period's budget of it.
type PeriodSpend struct {
	API    string `json:"api"`
	Most   int    `json:"most"`
	Budget int    `json:"budget"`
}

// spendOf reads a tuner's pass: its periods' calls (Cadence.PeriodCalls,
// the most over seeds) and its API calls throttled per seed. An API never
// called counts 0.
func spendOf(tuner StrategyReport) Spend {
	var s Spend
	for _, api := range BudgetAPIs {
		p := PeriodSpend{API: string(api), Budget: periodBudget[api]}
		for _, o := range tuner.Summary.Cadence.PeriodCalls {
			if m := float64(o.Max); o.API == string(api) && !math.IsNaN(m) {
				p.Most = int(math.Ceil(m))
			}
		}
		s.Periods = append(s.Periods, p)
	}
	for _, f := range tuner.Seeds {
		s.APIThrottled = max(s.APIThrottled, f.APIThrottled)
	}
	return s
}

// within reports whether no period spent more than its budget of an API
// and no API call was throttled.
func (s Spend) within() bool {
	for _, p := range s.Periods {
		if p.Most > p.Budget {
			return false
		}
	}
	return s.APIThrottled == 0
}

// worse is the worse of s and o, API by API: the most calls of each, and
// the most calls throttled.
func (s Spend) worse(o Spend) Spend {
	out := Spend{APIThrottled: max(s.APIThrottled, o.APIThrottled)}
	for i, p := range s.Periods {
		if i < len(o.Periods) && o.Periods[i].API == p.API {
			p.Most = max(p.Most, o.Periods[i].Most)
		}
		out.Periods = append(out.Periods, p)
	}
	return out
}

// String writes the figure: most calls in a period vs budget per API, and
// the calls throttled.
func (s Spend) String() string {
	parts := make([]string, len(s.Periods))
	for i, p := range s.Periods {
		parts[i] = fmt.Sprintf("%s %d vs %d", p.API, p.Most, p.Budget)
	}
	return fmt.Sprintf("most calls in a period vs budget: %s; API calls throttled %d", strings.Join(parts, ", "), s.APIThrottled)
}

// budgetWant says the budget target in words.
func budgetWant() string {
	parts := make([]string, len(BudgetAPIs))
	for i, api := range BudgetAPIs {
		parts[i] = fmt.Sprintf("%s <= %d", api, periodBudget[api])
	}
	return "calls in every period (a full pass and its looks) of every seed within its budget: " + strings.Join(parts, ", ") +
		"; no API call throttled by the account's quotas"
}

// budgetList lists the period's budget of each API of BudgetAPIs: "30
// DescribeMapRun, ...".
func budgetList() string {
	parts := make([]string, len(BudgetAPIs))
	for i, api := range BudgetAPIs {
		parts[i] = fmt.Sprintf("%d %s", periodBudget[api], api)
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
