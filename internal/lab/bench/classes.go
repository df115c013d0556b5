package bench

import "github.com/maptuner/maptuner/internal/lab/sim"

// Capacity is a scenario's capacity class, which sets its makespan and
// throttled targets (unless a Case sets them; see boundOf) and what the
// limit converges to.
type Capacity string

// The capacity classes.
const (
	// CapacityFixed is a capacity that never changes: makespan at most
	// 1.10 x the oracle's, throttled calls at most 5 %; the limit
	// converges to the best static setting.
	CapacityFixed Capacity = "fixed"
	// CapacityChanging is a capacity that changes while the job runs (a
	// schedule, a neighbour): makespan at most 1.15 x the capacity
	// follower's, throttled calls at most 7 %; the limit converges to the
	// capacity of each minute.
	CapacityChanging Capacity = "changing"
	// CapacityShared is one downstream shared by several Map Runs: their
	// combined makespan at most 1.15 x the oracle's, throttled calls at
	// most 5 %; each run's limit converges to its share of the capacity.
	CapacityShared Capacity = "shared"
)

// Class says which targets a scenario is held to, besides those every
// scenario is held to (no run failed by throttling, ahead of AIMD, CUBIC
// and unlimited).
type Class struct {
	// Capacity is the capacity class.
	Capacity Capacity `json:"capacity"`
	// NoMakespan drops the makespan target: in a scenario that must fail
	// (a broken deployment), time to failure is judged by FailFast.
	NoMakespan bool `json:"noMakespan,omitempty"`
	// FailFast holds the scenario to failing fast: every run FAILED, with
	// at most 2 % of its items failed.
	FailFast bool `json:"failFast,omitempty"`
	// PoisonBaseline names the same scenario without its poison items: the
	// tuner's makespan must be within 10 % of the one it has there.
	PoisonBaseline string `json:"poisonBaseline,omitempty"`
	// OpenRuns holds the scenario to the targets of many open runs:
	// makespan at most OpenRunsMakespanTarget x the oracle's instead of
	// its capacity class's, every run first decided and re-decided (p95)
	// within CadenceTarget, no API call throttled, and the tuner's calls
	// within its budget in every period (Bound.Budget).
	OpenRuns bool `json:"openRuns,omitempty"`
	// OracleGrid, when set, are the only static settings the oracle tries,
	// in one pass, instead of SearchOracle's three: for a scenario too
	// large to search whose best setting is known to be among them.
	OracleGrid []int32 `json:"oracleGrid,omitempty"`
	// MaxSeeds, when set, runs at most this many of the suite's seeds, the
	// first ones: for a scenario too large to run on every seed.
	MaxSeeds int `json:"maxSeeds,omitempty"`
}

// Classes maps the shipped scenarios, by name, to their class. The scenario
// format has no field for it, so the benchmark keeps it here; a scenario
// not listed gets InferClass.
var Classes = map[string]Class{
	"fixed-concurrency":     {Capacity: CapacityFixed},
	"fixed-rate":            {Capacity: CapacityFixed},
	"lognormal":             {Capacity: CapacityFixed},
	"pareto":                {Capacity: CapacityFixed},
	"late-missing-metrics":  {Capacity: CapacityFixed},
	"metric-outage":         {Capacity: CapacityFixed},
	"drain":                 {Capacity: CapacityFixed},
	"congestion-collapse":   {Capacity: CapacityFixed},
	"poison-batch-baseline": {Capacity: CapacityFixed},
	"poison-batch":          {Capacity: CapacityFixed, PoisonBaseline: "poison-batch-baseline"},
	"broken-deployment":     {Capacity: CapacityFixed, NoMakespan: true, FailFast: true},
	"default-policy":        {Capacity: CapacityFixed},
	"short-job":             {Capacity: CapacityFixed},
	"latency-knee":          {Capacity: CapacityFixed},
	"capacity-halves":       {Capacity: CapacityChanging},
	"capacity-doubles":      {Capacity: CapacityChanging},
	"capacity-10x":          {Capacity: CapacityChanging},
	"neighbour-sine":        {Capacity: CapacityChanging},
	"shared-downstream":     {Capacity: CapacityShared},
	"shared-group":          {Capacity: CapacityShared},
	// One job run three times in a row: the runs share the downstream one
	// after the other, and are judged on their combined makespan.
	"nightly-repeat": {Capacity: CapacityShared},
	// 1,000 runs, each alone on a function of reserved concurrency 40:
	// the best static setting is 40, so the oracle tries 39 to 41 only;
	// one seed takes minutes of CPU, so the scenario runs 3 seeds.
	"thousand-runs": {Capacity: CapacityFixed, OpenRuns: true, OracleGrid: []int32{39, 40, 41}, MaxSeeds: 3},
	// 30 runs, each alone on a function of reserved concurrency 40 to
	// 120: one DescribeMapRun a run a minute is the tuner's whole
	// DescribeMapRun budget. A seed of every strategy takes a few seconds
	// of CPU, so it runs every seed and the oracle's full search (which
	// finds 40, the smallest function's: one static setting cannot suit
	// every run).
	"thirty-runs": {Capacity: CapacityFixed, OpenRuns: true},
}

// ClassOf is the scenario's class: from Classes by name, else InferClass.
func ClassOf(sc sim.Scenario) Class {
	if c, ok := Classes[sc.Name]; ok {
		return c
	}
	return InferClass(sc)
}

// InferClass derives a class from what a scenario describes: shared when
// two runs call one downstream, changing when a downstream the runs call
// has a schedule or a neighbour, fixed otherwise. Fail-fast and poison
// baselines cannot be read from a scenario; they come from Classes only.
func InferClass(sc sim.Scenario) Class {
	callers := map[string]int{}
	for _, r := range sc.Runs {
		callers[r.Downstream]++
	}
	c := Class{Capacity: CapacityFixed}
	for _, d := range sc.Downstreams {
		switch {
		case callers[d.Name] > 1:
			return Class{Capacity: CapacityShared}
		case callers[d.Name] > 0 && (len(d.Schedule) > 0 || d.Neighbour != nil):
			c.Capacity = CapacityChanging
		}
	}
	return c
}
