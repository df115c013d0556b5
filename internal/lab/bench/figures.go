package bench

import (
	"math"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// The parameters of the convergence figures.
const (
	// ConvergeBand is how close to the reference the limit must be, as a
	// fraction of the reference: within 10 %.
	ConvergeBand = 0.10
	// ConvergeMinutes is how many whole minutes in a row it must stay
	// there.
	ConvergeMinutes = 5
)

// Outcomes counts Map Runs by their status at the end.
type Outcomes struct {
	// Succeeded and Failed count the runs SUCCEEDED and FAILED.
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Running counts the runs still open at the scenario's horizon, and
	// runs that never started.
	Running int `json:"running"`
}

func (o *Outcomes) add(b Outcomes) {
	o.Succeeded += b.Succeeded
	o.Failed += b.Failed
	o.Running += b.Running
}

// SeedFigures are the figures of one strategy on one seed. Counts sum over
// the scenario's Map Runs.
type SeedFigures struct {
	// Seed is the world's seed.
	Seed uint64 `json:"seed"`
	// Makespan is the world's makespan in minutes: from the first Map
	// Run's start to the last one's stop, whatever their outcome.
	Makespan float64 `json:"makespanMinutes"`
	// Completed is true when every Map Run succeeded.
	Completed bool `json:"completed"`
	// MakespanRatio is Makespan over the oracle's on the same seed. A seed
	// that did not complete while the oracle did counts as +Inf (the job
	// was not done); when the oracle did not complete either (no static
	// setting can: a broken deployment), the raw makespans are compared.
	MakespanRatio Num `json:"makespanRatio"`
	// ThrottledPercent is the share of the children's downstream calls
	// that were throttled, in percent (zero with no call).
	ThrottledPercent float64 `json:"throttledPercent"`
	// FailedThrottle counts items that failed after their last retry on
	// throttling; FailedPoison items that failed for any other reason.
	FailedThrottle int64 `json:"failedThrottle"`
	FailedPoison   int64 `json:"failedPoison"`
	// Items is the scenario's item total.
	Items int64 `json:"items"`
	// Outcomes are the Map Runs' statuses; ThrottleFailures counts the
	// runs that failed because of throttling: FAILED with throttle-caused
	// failures, although their items' own failures stay within their
	// definition's tolerances (see doomed).
	Outcomes         Outcomes `json:"outcomes"`
	ThrottleFailures int      `json:"throttleFailures"`
	// Converged is true when every Map Run converged; ConvergeMinutes is
	// then the latest run's time to converge (see converge), else +Inf.
	Converged       bool `json:"converged"`
	ConvergeMinutes Num  `json:"convergeMinutes"`
	// Oscillation is the largest, over the runs that converged, of
	// (p95 - p5) / median of limit / reference after convergence; NaN
	// when none converged.
	Oscillation Num `json:"oscillation"`
	// Overshoot is the largest overshoot after a capacity step (see
	// overshoot), relative to the new capacity; NaN in scenarios without
	// a step.
	Overshoot Num `json:"overshoot"`
	// UpdateMapRunCalls counts UpdateMapRun calls made, OtherAPICalls every
	// other Step Functions and CloudWatch call, APIThrottled the calls of
	// either kind refused with a ThrottlingException, APIErrors those failed
	// with a server error (a scenario's fault knobs).
	UpdateMapRunCalls int64 `json:"updateMapRunCalls"`
	OtherAPICalls     int64 `json:"otherApiCalls"`
	APIThrottled      int64 `json:"apiThrottled"`
	APIErrors         int64 `json:"apiErrors"`
	// StrategyErrors counts the strategy steps that returned an error.
	StrategyErrors int `json:"strategyErrors"`
	// Cadence is how soon and how often the tuner decided the runs, and
	// its calls per tick; NaN for the other strategies.
	Cadence Cadence `json:"cadence"`
	// Runs are the figures of each Map Run, in scenario order, when the
	// scenario has more than one; nil otherwise.
	Runs []RunFigures `json:"runs,omitempty"`
}

// RunFigures are the figures of one Map Run on one seed.
type RunFigures struct {
	// Name is the scenario run's name; Status its Map Run's status at the
	// end (empty if it never started).
	Name   string `json:"name,omitempty"`
	Status string `json:"status,omitempty"`
	// Makespan is the Map Run's duration in minutes; MakespanRatio over
	// the same run's with the oracle's setting, by the rule of
	// SeedFigures.MakespanRatio.
	Makespan      float64 `json:"makespanMinutes"`
	MakespanRatio Num     `json:"makespanRatio"`
	// ThrottledPercent is the share of its children's calls throttled, in
	// percent.
	ThrottledPercent float64 `json:"throttledPercent"`
}

// The Map Run statuses the figures read.
const (
	statusSucceeded = string(types.MapRunStatusSucceeded)
	statusFailed    = string(types.MapRunStatusFailed)
)

// makespanRatio is a makespan over a reference's, in minutes, each with
// whether its runs all succeeded: +Inf when the reference's did and these
// did not (the job was not done), NaN without a reference.
func makespanRatio(m float64, done bool, ref float64, refDone bool) Num {
	switch {
	case ref <= 0:
		return Num(math.NaN())
	case done || !refDone:
		return Num(m / ref)
	}
	return Num(math.Inf(1))
}

// reference is what a run's limit should converge to: the oracle's best
// static setting when the capacity is fixed (Static > 0), else each
// minute's true capacity share of the run.
type reference struct {
	Static int32
}

// at is the reference of a minute, at least 1.
func (r reference) at(p sim.Point) float64 {
	if r.Static > 0 {
		return float64(r.Static)
	}
	return math.Max(p.Capacity, 1)
}

// facts are what the figures need to know of a scenario.
type facts struct {
	// steps are the capacity steps per downstream name.
	steps map[string][]step
	// doomed says, per run in scenario order, whether the run's own item
	// failures exceed its definition's tolerances.
	doomed []bool
}

func factsOf(sc sim.Scenario) facts {
	f := facts{steps: capacitySteps(sc)}
	for _, r := range sc.Runs {
		f.doomed = append(f.doomed, doomed(r))
	}
	return f
}

// figures computes a seed's figures from its world's result. oracle is the
// oracle's result on the same seed.
func figures(res sim.Result, oracle sim.Result, ref reference, fs facts) SeedFigures {
	f := SeedFigures{
		Seed:              res.Seed,
		Makespan:          res.Makespan.Minutes(),
		Completed:         completed(res),
		UpdateMapRunCalls: res.API.Calls["UpdateMapRun"],
		APIThrottled:      res.API.TotalThrottled,
		APIErrors:         res.API.TotalErrors,
		StrategyErrors:    res.StrategyErrors,
		ConvergeMinutes:   0,
		Oscillation:       Num(math.NaN()),
		Overshoot:         Num(math.NaN()),
		Cadence:           noCadence(),
	}
	f.OtherAPICalls = res.API.TotalCalls - f.UpdateMapRunCalls
	f.MakespanRatio = makespanRatio(f.Makespan, f.Completed, oracle.Makespan.Minutes(), completed(oracle))
	var calls, throttled int64
	f.Converged = len(res.Runs) > 0
	for i, r := range res.Runs {
		calls += r.Calls
		throttled += r.Throttled
		f.FailedThrottle += r.FailedThrottle
		f.FailedPoison += r.FailedPoison
		f.Items += r.Items
		switch types.MapRunStatus(r.Status) {
		case types.MapRunStatusSucceeded:
			f.Outcomes.Succeeded++
		case types.MapRunStatusFailed:
			f.Outcomes.Failed++
			if r.FailedThrottle > 0 && !(i < len(fs.doomed) && fs.doomed[i]) {
				f.ThrottleFailures++
			}
		default:
			f.Outcomes.Running++
		}
		pts := fullPoints(r)
		at, ok := converge(pts, ref)
		if !ok {
			f.Converged = false
			f.ConvergeMinutes = Num(math.Inf(1))
		} else {
			f.ConvergeMinutes = Num(math.Max(float64(f.ConvergeMinutes), at))
			f.Oscillation = maxDefined(f.Oscillation, oscillation(pts, ref, at))
		}
		for _, s := range fs.steps[r.Downstream] {
			f.Overshoot = maxDefined(f.Overshoot, overshoot(pts, s))
		}
		if len(res.Runs) > 1 {
			rf := RunFigures{Name: r.Name, Status: r.Status, Makespan: r.Makespan.Minutes(), ThrottledPercent: r.ThrottledPercent, MakespanRatio: Num(math.NaN())}
			if i < len(oracle.Runs) {
				o := oracle.Runs[i]
				rf.MakespanRatio = makespanRatio(rf.Makespan, r.Status == statusSucceeded, o.Makespan.Minutes(), o.Status == statusSucceeded)
			}
			f.Runs = append(f.Runs, rf)
		}
	}
	if calls > 0 {
		f.ThrottledPercent = 100 * float64(throttled) / float64(calls)
	}
	return f
}

// completed reports whether every Map Run of a result succeeded.
func completed(res sim.Result) bool {
	for _, r := range res.Runs {
		if r.Status != string(types.MapRunStatusSucceeded) {
			return false
		}
	}
	return len(res.Runs) > 0
}

// doomed reports whether a run fails by itself: whether its items' own
// failures (poison items, a broken deployment; the expected count for a
// poison fraction; whole batches under an ItemBatcher) exceed the
// tolerances of its definition. A doomed run that fails is never counted
// as failed by throttling.
func doomed(r sim.RunSpec) bool {
	f := r.Failures
	bs := max(r.BatchSize, 1)
	var own float64
	for start := int64(0); start < r.Items; start += bs {
		end := min(start+bs, r.Items)
		n := float64(end - start)
		hit := f.BrokenAfter != nil && end > *f.BrokenAfter
		hit = hit || f.PoisonBatch != nil && start < f.PoisonBatch.From+f.PoisonBatch.Count && end > f.PoisonBatch.From
		if hit {
			own += n
		} else {
			own += n * (1 - math.Pow(1-f.PoisonFraction, n))
		}
	}
	pct, count := r.ToleratedFailurePercentage, r.ToleratedFailureCount
	if pct == nil && count == nil {
		return own > 0
	}
	return pct != nil && own > *pct*float64(r.Items)/100 || count != nil && own > float64(*count)
}

// limitOf is a point's limit in children: 0 means 10,000.
func limitOf(p sim.Point) float64 {
	if p.Limit == 0 {
		return sim.MaxConcurrencyLimit
	}
	return float64(p.Limit)
}

// fullPoints are the points of a run's whole minutes: its last point is
// left out when the run stopped (or the world stopped) inside that minute.
func fullPoints(r sim.RunResult) []sim.Point {
	end := r.Started + r.Makespan
	pts := r.Series
	for len(pts) > 0 && time.Duration(pts[len(pts)-1].Minute+1)*time.Minute > end {
		pts = pts[:len(pts)-1]
	}
	return pts
}

// converge is a run's time to converge, in minutes from its first minute:
// the first whole minute m from which the limit (at each minute's end) stays
// within ConvergeBand of the reference for ConvergeMinutes whole minutes in
// a row. ok is false when that never happens.
func converge(pts []sim.Point, ref reference) (float64, bool) {
	run := 0
	for i, p := range pts {
		// The slack keeps a limit exactly on the band's edge inside it
		// despite rounding (110 / 100 - 1 is a little above 0.1).
		if math.Abs(limitOf(p)/ref.at(p)-1) <= ConvergeBand+1e-9 {
			run++
		} else {
			run = 0
		}
		if run == ConvergeMinutes {
			start := pts[i-ConvergeMinutes+1]
			return float64(start.Minute - pts[0].Minute), true
		}
	}
	return 0, false
}

// oscillation is (p95 - p5) / median of limit / reference over the whole
// minutes from the run's convergence (at minutes after its first) to its
// end.
func oscillation(pts []sim.Point, ref reference, at float64) float64 {
	from := pts[0].Minute + int(at)
	var v []float64
	for _, p := range pts {
		if p.Minute >= from {
			v = append(v, limitOf(p)/ref.at(p))
		}
	}
	slices.Sort(v)
	med := quantile(v, 0.5)
	if !(med > 0) {
		return math.NaN()
	}
	return (quantile(v, 0.95) - quantile(v, 0.05)) / med
}

// step is a step change of a downstream's capacity: at At (from the world's
// start) until Until (0: the end), up when Rise.
type step struct {
	At, Until time.Duration
	Rise      bool
}

// capacitySteps lists, per downstream name, the steps of its schedule:
// changes without a ramp whose factor differs from the one before.
func capacitySteps(sc sim.Scenario) map[string][]step {
	out := map[string][]step{}
	for _, d := range sc.Downstreams {
		prev := 1.0
		for i, c := range d.Schedule {
			if c.Ramp == 0 && c.Factor != prev {
				s := step{At: c.At, Rise: c.Factor > prev}
				if i+1 < len(d.Schedule) {
					s.Until = d.Schedule[i+1].At
				}
				out[d.Name] = append(out[d.Name], s)
			}
			prev = c.Factor
		}
	}
	return out
}

// overshoot is how far the limit goes past the new capacity C after a
// step, relative to C: max(0, max limit / C - 1) over the whole minutes
// from the step until the next change (or the run's end), counting only the
// minutes from the first one in which the limit reached C (limit >= C
// after a rise, limit <= C after a fall). After a rise the limit never
// reached, the overshoot is 0; after a fall the limit never came down to, it
// counts from the step. C is the run's capacity at the end of the first
// whole minute after the step. NaN when the run has no minute after the
// step.
func overshoot(pts []sim.Point, s step) float64 {
	var win []sim.Point
	for _, p := range pts {
		t := time.Duration(p.Minute) * time.Minute
		if t >= s.At && (s.Until == 0 || t < s.Until) {
			win = append(win, p)
		}
	}
	if len(win) == 0 {
		return math.NaN()
	}
	c := math.Max(win[0].Capacity, 1)
	i := slices.IndexFunc(win, func(p sim.Point) bool {
		if s.Rise {
			return limitOf(p) >= c
		}
		return limitOf(p) <= c
	})
	switch {
	case i < 0 && s.Rise:
		return 0
	case i < 0:
		i = 0
	}
	peak := 0.0
	for _, p := range win[i:] {
		peak = math.Max(peak, limitOf(p))
	}
	return math.Max(0, peak/c-1)
}

// maxDefined is the larger of a and b, ignoring NaN.
func maxDefined(a Num, b float64) Num {
	switch {
	case math.IsNaN(b):
		return a
	case math.IsNaN(float64(a)):
		return Num(b)
	}
	return Num(math.Max(float64(a), b))
}
