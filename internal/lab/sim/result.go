package sim

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Result holds the figures of a world: per Map Run, and for the account's
// API use. Durations are nanoseconds in JSON. The same scenario, seed and
// strategy give a Result that marshals to the same bytes.
type Result struct {
	// Scenario is the scenario's name; Seed the world's seed.
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	// Start is the world's start time; Elapsed the virtual time run since.
	Start   time.Time     `json:"start"`
	Elapsed time.Duration `json:"elapsed"`
	// Done is true when every parent execution has ended.
	Done bool `json:"done"`
	// Makespan spans from the first Map Run's start to the last one's stop
	// (or to now for a run still open); zero before any Map Run started.
	Makespan time.Duration `json:"makespan"`
	// Runs are the Map Runs, in scenario order.
	Runs []RunResult `json:"runs"`
	// API counts the calls made to the simulated APIs and those throttled.
	API APIStats `json:"api"`
	// StrategyErrors is how many strategy steps returned an error, and
	// StrategyError the first such error's text; set by Run only.
	StrategyErrors int    `json:"strategyErrors"`
	StrategyError  string `json:"strategyError,omitempty"`
}

// RunResult holds the figures of one Map Run.
type RunResult struct {
	// Name is the scenario run's name; Downstream the downstream it calls.
	Name       string `json:"name"`
	Downstream string `json:"downstream"`
	// MapRunARN, ExecutionARN and StateMachineARN identify the run.
	MapRunARN       string `json:"mapRunArn"`
	ExecutionARN    string `json:"executionArn"`
	StateMachineARN string `json:"stateMachineArn"`
	// Status is RUNNING, SUCCEEDED or FAILED; empty if the Map Run had not
	// started. Error and Cause are set for FAILED.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	Cause  string `json:"cause,omitempty"`
	// Started is the Map Run's start, from the world's start.
	Started time.Duration `json:"started"`
	// Makespan is the Map Run's duration, to its stop or, still running,
	// to now.
	Makespan time.Duration `json:"makespan"`
	// Items is the run's total. Succeeded, Failed, Aborted and Pending
	// count items by outcome; Failed splits into FailedThrottle (failed
	// after the last retry on throttling) and FailedPoison (every other
	// failure: poison items, broken deployment).
	Items          int64 `json:"items"`
	Succeeded      int64 `json:"succeeded"`
	Failed         int64 `json:"failed"`
	FailedThrottle int64 `json:"failedThrottle"`
	FailedPoison   int64 `json:"failedPoison"`
	Aborted        int64 `json:"aborted"`
	Pending        int64 `json:"pending"`
	// Calls counts the children's calls to the downstream, retries
	// included; Throttled those throttled, ThrottledPercent their share
	// in percent (zero with no call).
	Calls            int64   `json:"calls"`
	Throttled        int64   `json:"throttled"`
	ThrottledPercent float64 `json:"throttledPercent"`
	// Updates counts accepted UpdateMapRun calls on this run.
	Updates int64 `json:"updates"`
	// Final are the settings at the end: MaxConcurrency (0 = unlimited)
	// and the tolerances (zero when unset).
	MaxConcurrency             int32   `json:"maxConcurrency"`
	ToleratedFailurePercentage float64 `json:"toleratedFailurePercentage"`
	ToleratedFailureCount      int64   `json:"toleratedFailureCount"`
	// Limits is every maxConcurrency the run had, from its start.
	Limits []LimitChange `json:"limits"`
	// Series has one point per minute the run was open; the last one may
	// cover a minute still open, averaged over its part elapsed.
	Series []Point `json:"series"`
}

// LimitChange is a maxConcurrency taking effect.
type LimitChange struct {
	// At is when, from the world's start.
	At time.Duration `json:"at"`
	// MaxConcurrency is the new limit; 0 means unlimited.
	MaxConcurrency int32 `json:"maxConcurrency"`
}

// Point is one Map Run's minute [Minute, Minute+1) from the world's start.
type Point struct {
	Minute int `json:"minute"`
	// Limit is the maxConcurrency at the minute's end; 0 means unlimited.
	Limit int32 `json:"limit"`
	// Running is the mean number of running children over the minute.
	Running float64 `json:"running"`
	// Started counts children started; Succeeded and Failed items finished.
	Started   int64 `json:"started"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	// Calls counts downstream calls and Throttles those throttled.
	Calls     int64 `json:"calls"`
	Throttles int64 `json:"throttles"`
	// Capacity is the run's share of the downstream's true capacity at
	// the minute's end, in concurrent children (see World.Capacity).
	Capacity float64 `json:"capacity"`
}

// APIStats counts API calls by operation name (DescribeMapRun,
// UpdateMapRun, ListMapRuns, ListTagsForResource, ListExecutions,
// DescribeExecution, GetExecutionHistory, GetMetricData).
type APIStats struct {
	// Calls counts every call, throttled or not; Throttled those refused
	// with a ThrottlingException (an empty quota or a fault knob); Errors
	// those failed with a server error by a fault knob.
	Calls     map[string]int64 `json:"calls"`
	Throttled map[string]int64 `json:"throttled"`
	Errors    map[string]int64 `json:"errors"`
	// TotalCalls, TotalThrottled and TotalErrors sum them.
	TotalCalls     int64 `json:"totalCalls"`
	TotalThrottled int64 `json:"totalThrottled"`
	TotalErrors    int64 `json:"totalErrors"`
}

// Result collects the figures so far. It can be called at any time.
func (w *World) Result() Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	res := Result{
		Scenario: w.sc.Name,
		Seed:     w.seed,
		Start:    w.start,
		Elapsed:  w.now,
		Done:     w.started && w.allEnded(),
		API:      APIStats{Calls: map[string]int64{}, Throttled: map[string]int64{}, Errors: map[string]int64{}},
	}
	for a := range numAPIs {
		res.API.Calls[apiNames[a]] = w.quota.calls[a]
		res.API.Throttled[apiNames[a]] = w.quota.throttled[a]
		res.API.Errors[apiNames[a]] = w.quota.errors[a]
		res.API.TotalCalls += w.quota.calls[a]
		res.API.TotalThrottled += w.quota.throttled[a]
		res.API.TotalErrors += w.quota.errors[a]
	}
	first, last, seen := time.Duration(0), time.Duration(0), false
	for _, r := range w.runs {
		rr := w.runResult(r)
		res.Runs = append(res.Runs, rr)
		if !r.mapStarted {
			continue
		}
		end := w.now
		if r.status != types.MapRunStatusRunning {
			end = r.mapStop
		}
		if !seen || r.mapStart < first {
			first = r.mapStart
		}
		if !seen || end > last {
			last = end
		}
		seen = true
	}
	res.Makespan = last - first
	return res
}

// openPoint is the point of the minute still open, over its part elapsed,
// if the run was open in it.
func (w *World) openPoint(r *run) (Point, bool) {
	from := w.now.Truncate(time.Minute)
	if !r.mapStarted || w.now == from || r.mapStart >= w.now {
		return Point{}, false
	}
	if r.status != types.MapRunStatusRunning && r.mapStop <= from {
		return Point{}, false
	}
	area := r.area
	if w.now > r.lastTouch {
		area += float64(r.running) * float64(w.now-r.lastTouch)
	}
	return Point{
		Minute:    int(from / time.Minute),
		Limit:     r.maxConc,
		Running:   area / float64(w.now-from),
		Started:   r.cur.started,
		Succeeded: r.cur.succeeded,
		Failed:    r.cur.failed,
		Calls:     r.cur.calls,
		Throttles: r.cur.throttles,
		Capacity:  w.capacityFor(r, w.now),
	}, true
}

func (w *World) allEnded() bool {
	for _, r := range w.runs {
		if r.parentStatus == types.ExecutionStatusRunning {
			return false
		}
	}
	return true
}

func (w *World) runResult(r *run) RunResult {
	rr := RunResult{
		Name:            r.spec.Name,
		Downstream:      r.ds.spec.Name,
		MapRunARN:       r.mapRunARN,
		ExecutionARN:    r.execARN,
		StateMachineARN: r.smARN,
		Status:          string(r.status),
		Error:           r.errName,
		Cause:           r.cause,
		Items:           r.items,
		Succeeded:       r.succeeded,
		Failed:          r.failed,
		FailedThrottle:  r.failedThrottle,
		FailedPoison:    r.failedPoison,
		Aborted:         r.aborted,
		Pending:         r.items - r.nextItem,
		Calls:           r.calls,
		Throttled:       r.throttled,
		Updates:         r.updates,
		MaxConcurrency:  r.maxConc,
		Limits:          append([]LimitChange{}, r.limits...),
		Series:          append([]Point{}, r.points...),
	}
	if p, ok := w.openPoint(r); ok {
		rr.Series = append(rr.Series, p)
	}
	if r.pctSet {
		rr.ToleratedFailurePercentage = r.pct
	}
	if r.countSet {
		rr.ToleratedFailureCount = r.count
	}
	if r.calls > 0 {
		rr.ThrottledPercent = 100 * float64(r.throttled) / float64(r.calls)
	}
	if r.mapStarted {
		rr.Started = r.mapStart
		rr.Makespan = w.now - r.mapStart
		if r.status != types.MapRunStatusRunning {
			rr.Makespan = r.mapStop - r.mapStart
		}
	}
	return rr
}
