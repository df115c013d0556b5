package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestStartRate checks that children start at 100/s (Standard) or 1,000/s
// (Express), however high the limit.
func TestStartRate(t *testing.T) {
	tests := []struct {
		typ  string
		want int64
	}{
		{ExecutionStandard, 501}, // t = 0, 10ms, ..., 5s
		{ExecutionExpress, 5001}, // t = 0, 1ms, ..., 5s
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			w := started(t, fmt.Sprintf(`
downstreams: [{name: fn}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 20000, executionType: %s, duration: {dist: fixed, value: 100s}}]
`, tt.typ), 1)
			w.Advance(5 * time.Second)
			d := describe(t, w)
			if d.ExecutionCounts.Running != tt.want {
				t.Errorf("running children after 5s = %d, want %d", d.ExecutionCounts.Running, tt.want)
			}
			if d.ItemCounts.Pending != 20000-tt.want {
				t.Errorf("pending items = %d, want %d", d.ItemCounts.Pending, 20000-tt.want)
			}
		})
	}
}

// TestUnlimitedMeans10000 checks that maxConcurrency 0 allows 10,000
// children and no more.
func TestUnlimitedMeans10000(t *testing.T) {
	w := started(t, `
downstreams: [{name: fn}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 12000, executionType: EXPRESS, maxConcurrency: 0, duration: {dist: fixed, value: 1h}}]
`, 1)
	w.Advance(time.Minute)
	if got := describe(t, w).ExecutionCounts.Running; got != MaxConcurrencyLimit {
		t.Errorf("running = %d, want %d", got, MaxConcurrencyLimit)
	}
}

// TestLimitAppliesToNewStarts checks that lowering maxConcurrency stops
// new starts but lets running children finish.
func TestLimitAppliesToNewStarts(t *testing.T) {
	w := started(t, `
downstreams: [{name: fn}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 1000, maxConcurrency: 100, duration: {dist: fixed, value: 60s}}]
`, 1)
	ctx := context.Background()
	arn := w.MapRunARNs()[0]
	steps := []struct {
		advance       time.Duration
		lower         int32
		wantRunning   int64
		wantSucceeded int64
	}{
		{advance: 10 * time.Second, lower: 10, wantRunning: 100, wantSucceeded: 0},
		{advance: 40 * time.Second, wantRunning: 100, wantSucceeded: 0},
		{advance: 12 * time.Second, wantRunning: 10, wantSucceeded: 100},
	}
	for i, s := range steps {
		w.Advance(s.advance)
		if s.lower != 0 {
			if _, err := w.SFN().UpdateMapRun(ctx, &sfn.UpdateMapRunInput{MapRunArn: aws.String(arn), MaxConcurrency: aws.Int32(s.lower)}); err != nil {
				t.Fatalf("update: %v", err)
			}
		}
		d := describe(t, w)
		if d.ExecutionCounts.Running != s.wantRunning || d.ItemCounts.Succeeded != s.wantSucceeded {
			t.Errorf("step %d at %s: running %d succeeded %d, want %d and %d", i, w.Now().Sub(DefaultStart), d.ExecutionCounts.Running, d.ItemCounts.Succeeded, s.wantRunning, s.wantSucceeded)
		}
		if d.MaxConcurrency != 10 && s.lower != 0 {
			t.Errorf("step %d: MaxConcurrency = %d, want 10", i, d.MaxConcurrency)
		}
	}
}

// TestRetryThenFailure checks the child's Retry policy on throttling: the
// delays, the attempt count, and the failure after the last retry with the
// downstream's throttle error, which fails a run that tolerates nothing.
func TestRetryThenFailure(t *testing.T) {
	// Child 0 takes the only slot at 0.2s; child 1 calls at 0.21s and is
	// throttled on every attempt.
	tests := []struct {
		name       string
		retry      string
		wantStop   time.Duration // child 1's failure, from the start; 0: only bounded
		maxStop    time.Duration
		wantThrott int64
	}{
		{"no retry", "{maxAttempts: 0}", 210 * time.Millisecond, 0, 1},
		{"defaults", "{}", 7210 * time.Millisecond, 0, 4},
		{"two attempts", "{interval: 1s, backoffRate: 2, maxAttempts: 2}", 3210 * time.Millisecond, 0, 3},
		{"max delay", "{interval: 1s, backoffRate: 3, maxAttempts: 3, maxDelay: 1500ms}", 4210 * time.Millisecond, 0, 4},
		{"full jitter", "{interval: 1s, backoffRate: 2, maxAttempts: 3, jitter: FULL}", 0, 7210 * time.Millisecond, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := started(t, `
downstreams: [{name: fn, concurrency: 1, throttleError: Lambda.TooManyRequestsException, throttleCause: Rate Exceeded.}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 2, maxConcurrency: 2, retry: `+tt.retry+`, duration: {dist: fixed, value: 100s}}]
`, 7)
			runToEnd(t, w)
			ctx := context.Background()
			arn := w.MapRunARNs()[0]
			list, err := w.SFN().ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(arn), StatusFilter: types.ExecutionStatusFailed})
			if err != nil || len(list.Executions) != 1 {
				t.Fatalf("failed children: %v, %v", list, err)
			}
			e, err := w.SFN().DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: list.Executions[0].ExecutionArn})
			if err != nil {
				t.Fatalf("describe child: %v", err)
			}
			if aws.ToString(e.Error) != "Lambda.TooManyRequestsException" || aws.ToString(e.Cause) != "Rate Exceeded." {
				t.Errorf("child error %q cause %q", aws.ToString(e.Error), aws.ToString(e.Cause))
			}
			stop := e.StopDate.Sub(DefaultStart)
			if tt.wantStop != 0 && stop != tt.wantStop {
				t.Errorf("child failed at %s, want %s", stop, tt.wantStop)
			}
			if tt.maxStop != 0 && (stop < 210*time.Millisecond || stop >= tt.maxStop) {
				t.Errorf("child failed at %s, want within [210ms, %s)", stop, tt.maxStop)
			}
			res := w.Result()
			r := res.Runs[0]
			if r.Throttled != tt.wantThrott || r.FailedThrottle != 1 || r.FailedPoison != 0 {
				t.Errorf("throttled %d failedThrottle %d failedPoison %d, want %d, 1, 0", r.Throttled, r.FailedThrottle, r.FailedPoison, tt.wantThrott)
			}
			if r.Status != "FAILED" || r.Error != ToleranceError || r.Aborted != 1 {
				t.Errorf("run status %s error %q aborted %d, want FAILED, %s, 1", r.Status, r.Error, r.Aborted, ToleranceError)
			}
			if r.Makespan != stop {
				t.Errorf("run failed at %s, want at the child's failure %s", r.Makespan, stop)
			}
		})
	}
}

// TestTolerance checks the Map Run failure rule on items failing one by
// one: (failed) / total > percentage, or failed > count, whichever is set;
// with neither set, one failure fails the run.
func TestTolerance(t *testing.T) {
	tests := []struct {
		name       string
		tolerance  string
		poison     int
		wantStatus string
		wantFailed int64
	}{
		{"none set, one failure", "", 1, "FAILED", 1},
		{"none set, no failure", "", 0, "SUCCEEDED", 0},
		{"5% of 100, five failures", "toleratedFailurePercentage: 5,", 5, "SUCCEEDED", 5},
		{"5% of 100, six failures", "toleratedFailurePercentage: 5,", 9, "FAILED", 6},
		{"count 3, three failures", "toleratedFailureCount: 3,", 3, "SUCCEEDED", 3},
		{"count 3, fourth fails it", "toleratedFailureCount: 3,", 8, "FAILED", 4},
		{"count trips first", "toleratedFailurePercentage: 10, toleratedFailureCount: 3,", 8, "FAILED", 4},
		{"percentage trips first", "toleratedFailurePercentage: 2, toleratedFailureCount: 10,", 8, "FAILED", 3},
		{"count 0 set explicitly", "toleratedFailurePercentage: 50, toleratedFailureCount: 0,", 1, "FAILED", 1},
		{"100% tolerates all", "toleratedFailurePercentage: 100,", 100, "SUCCEEDED", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failures := ""
			if tt.poison > 0 {
				failures = fmt.Sprintf("failures: {poisonBatch: {from: 0, count: %d}},", tt.poison)
			}
			w := started(t, `
downstreams: [{name: fn}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 100, maxConcurrency: 1, `+tt.tolerance+failures+` duration: {dist: fixed, value: 1s}}]
`, 1)
			runToEnd(t, w)
			r := w.Result().Runs[0]
			if r.Status != tt.wantStatus || r.Failed != tt.wantFailed {
				t.Errorf("status %s failed %d, want %s and %d", r.Status, r.Failed, tt.wantStatus, tt.wantFailed)
			}
			if r.Failed != r.FailedPoison {
				t.Errorf("failed %d, of them poison %d: want all poison", r.Failed, r.FailedPoison)
			}
		})
	}
}

// TestLoweredToleranceFailsAtOnce checks that an UpdateMapRun setting a
// tolerance the run already exceeds fails it at once.
func TestLoweredToleranceFailsAtOnce(t *testing.T) {
	w := started(t, `
downstreams: [{name: fn}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 100, maxConcurrency: 1, toleratedFailurePercentage: 10, failures: {poisonBatch: {from: 0, count: 5}}, duration: {dist: fixed, value: 1s}}]
`, 1)
	w.Advance(30 * time.Second)
	d := describe(t, w)
	if d.Status != types.MapRunStatusRunning || d.ItemCounts.Failed != 5 {
		t.Fatalf("before: status %s failed %d, want RUNNING and 5", d.Status, d.ItemCounts.Failed)
	}
	if _, err := w.SFN().UpdateMapRun(context.Background(), &sfn.UpdateMapRunInput{MapRunArn: d.MapRunArn, ToleratedFailureCount: aws.Int64(4)}); err != nil {
		t.Fatalf("update: %v", err)
	}
	d = describe(t, w)
	if d.Status != types.MapRunStatusFailed || !d.StopDate.Equal(w.Now()) || d.ToleratedFailureCount != 4 {
		t.Errorf("after: status %s stop %v count %d, want FAILED now (%v) with count 4", d.Status, d.StopDate, d.ToleratedFailureCount, w.Now())
	}
}

// TestFailures checks the failures not caused by throttling: a poison
// fraction, a poison batch, a broken deployment, and how an ItemBatcher
// counts them.
func TestFailures(t *testing.T) {
	tests := []struct {
		name       string
		spec       string
		batch      int
		wantFailed int64
		wantTotal  int64 // children
	}{
		{"batch", "poisonBatch: {from: 10, count: 5}", 1, 5, 100},
		{"broken after 60", "brokenAfter: 60", 1, 40, 100},
		{"batch under item batcher", "poisonBatch: {from: 10, count: 5}", 4, 8, 25}, // batches [8,12) and [12,16)
		{"broken under item batcher", "brokenAfter: 98", 3, 4, 34},                  // batches [96,99) and [99,100)
		{"all poison", "poisonFraction: 1", 1, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := started(t, fmt.Sprintf(`
downstreams: [{name: fn}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 100, batchSize: %d, toleratedFailurePercentage: 100, failures: {%s, error: BadItem}, duration: {dist: fixed, value: 1s}}]
`, tt.batch, tt.spec), 1)
			runToEnd(t, w)
			d := describe(t, w)
			r := w.Result().Runs[0]
			if r.FailedPoison != tt.wantFailed || r.Failed != tt.wantFailed || r.Succeeded != 100-tt.wantFailed {
				t.Errorf("failed %d (poison %d) succeeded %d, want %d poison", r.Failed, r.FailedPoison, r.Succeeded, tt.wantFailed)
			}
			if d.ExecutionCounts.Total != tt.wantTotal || d.ItemCounts.Total != 100 {
				t.Errorf("children %d items %d, want %d and 100", d.ExecutionCounts.Total, d.ItemCounts.Total, tt.wantTotal)
			}
		})
	}
	// A poison fraction of 5 % poisons about 5 % of the items.
	w := started(t, `
downstreams: [{name: fn}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 10000, maxConcurrency: 0, toleratedFailurePercentage: 100, failures: {poisonFraction: 0.05}, duration: {dist: fixed, value: 1s}}]
`, 3)
	runToEnd(t, w)
	if f := w.Result().Runs[0].FailedPoison; f < 400 || f > 600 {
		t.Errorf("poison fraction 0.05 of 10,000 failed %d items, want about 500", f)
	}
}

// TestDurations checks the item duration distributions.
func TestDurations(t *testing.T) {
	tests := []struct {
		name       string
		spec       DurationSpec
		wantMedian time.Duration
		min, max   time.Duration
	}{
		{"fixed", DurationSpec{Dist: DistFixed, Value: 7 * time.Second}, 7 * time.Second, 7 * time.Second, 7 * time.Second},
		{"lognormal", DurationSpec{Dist: DistLognormal, Median: 20 * time.Second, Sigma: 1}, 20 * time.Second, time.Millisecond, MaxHorizon},
		{"pareto", DurationSpec{Dist: DistPareto, Min: 10 * time.Second, Alpha: 1.5}, time.Duration(10 * math.Pow(2, 1/1.5) * float64(time.Second)), 10 * time.Second, MaxHorizon},
		{"capped", DurationSpec{Dist: DistPareto, Min: 10 * time.Second, Alpha: 1.5, Max: 15 * time.Second}, 15 * time.Second, 10 * time.Second, 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &run{items: 20000, batch: 1, spec: RunSpec{Duration: tt.spec}}
			r.drawItems(rand.New(rand.NewPCG(1, 2)))
			d := append([]time.Duration(nil), r.durations...)
			sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
			med := d[len(d)/2]
			if math.Abs(float64(med-tt.wantMedian)) > 0.05*float64(tt.wantMedian) {
				t.Errorf("median %s, want %s within 5%%", med, tt.wantMedian)
			}
			if d[0] < tt.min || d[len(d)-1] > tt.max {
				t.Errorf("range [%s, %s], want within [%s, %s]", d[0], d[len(d)-1], tt.min, tt.max)
			}
		})
	}
}

// TestCapacityFactor checks capacity schedules: steps, ramps and the
// neighbour's sine.
func TestCapacityFactor(t *testing.T) {
	tests := []struct {
		name string
		spec Downstream
		at   time.Duration
		want float64
	}{
		{"no schedule", Downstream{}, time.Hour, 1},
		{"before step", Downstream{Schedule: []Change{{At: 10 * time.Minute, Factor: 0.5}}}, 9 * time.Minute, 1},
		{"at step", Downstream{Schedule: []Change{{At: 10 * time.Minute, Factor: 0.5}}}, 10 * time.Minute, 0.5},
		{"mid ramp", Downstream{Schedule: []Change{{At: 5 * time.Minute, Factor: 3, Ramp: 10 * time.Minute}}}, 10 * time.Minute, 2},
		{"after ramp", Downstream{Schedule: []Change{{At: 5 * time.Minute, Factor: 3, Ramp: 10 * time.Minute}}}, 20 * time.Minute, 3},
		{"second ramp from first", Downstream{Schedule: []Change{{At: 0, Factor: 2}, {At: 10 * time.Minute, Factor: 4, Ramp: 4 * time.Minute}}}, 11 * time.Minute, 2.5},
		{"sine start", Downstream{Neighbour: &Neighbour{Share: 0.6, Period: 40 * time.Minute}}, 0, 1},
		{"sine quarter", Downstream{Neighbour: &Neighbour{Share: 0.6, Period: 40 * time.Minute}}, 10 * time.Minute, 0.7},
		{"sine peak", Downstream{Neighbour: &Neighbour{Share: 0.6, Period: 40 * time.Minute}}, 20 * time.Minute, 0.4},
		{"sine with phase", Downstream{Neighbour: &Neighbour{Share: 0.6, Period: 40 * time.Minute, Phase: 20 * time.Minute}}, 0, 0.4},
		{"step times sine", Downstream{Schedule: []Change{{At: 0, Factor: 2}}, Neighbour: &Neighbour{Share: 0.5, Period: time.Hour}}, 30 * time.Minute, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &downstream{spec: tt.spec}
			if got := d.factor(tt.at); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("factor(%s) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

// TestAdmission checks the downstream's capacity kinds call by call.
func TestAdmission(t *testing.T) {
	type call struct {
		at          time.Duration
		release     bool // end one call in flight instead
		wantOK      bool
		wantStretch float64
	}
	tests := []struct {
		name  string
		spec  Downstream
		calls []call
	}{
		{"concurrency", Downstream{Concurrency: 2}, []call{
			{wantOK: true, wantStretch: 1}, {wantOK: true, wantStretch: 1}, {wantOK: false},
			{release: true}, {wantOK: true, wantStretch: 1},
		}},
		{"concurrency follows schedule", Downstream{Concurrency: 4, Schedule: []Change{{At: time.Minute, Factor: 0.5}}}, []call{
			{at: time.Minute, wantOK: true, wantStretch: 1}, {at: time.Minute, wantOK: true, wantStretch: 1}, {at: time.Minute, wantOK: false},
		}},
		{"rate", Downstream{Rate: 1, Burst: 2}, []call{
			{wantOK: true, wantStretch: 1}, {wantOK: true, wantStretch: 1}, {wantOK: false},
			{at: 500 * time.Millisecond, wantOK: false}, {at: time.Second, wantOK: true, wantStretch: 1},
		}},
		{"rejections cost", Downstream{Rate: 1, Burst: 2, RejectCost: 0.5}, []call{
			{wantOK: true, wantStretch: 1}, {wantOK: true, wantStretch: 1},
			{wantOK: false}, {wantOK: false}, // tokens now -1
			{at: 1500 * time.Millisecond, wantOK: false}, // -1 + 1.5 = 0.5, then -0
			{at: 2500 * time.Millisecond, wantOK: true, wantStretch: 1},
		}},
		{"latency knee", Downstream{Latency: &Latency{Knee: 2, Exponent: 1}}, []call{
			{wantOK: true, wantStretch: 1}, {wantOK: true, wantStretch: 1}, {wantOK: true, wantStretch: 1.5}, {wantOK: true, wantStretch: 2},
		}},
		{"congestion knee", Downstream{Latency: &Latency{Knee: 2, Exponent: 2}}, []call{
			{wantOK: true, wantStretch: 1}, {wantOK: true, wantStretch: 1}, {wantOK: true, wantStretch: 2.25}, {wantOK: true, wantStretch: 4},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &downstream{spec: tt.spec, tokens: tt.spec.Burst}
			for i, c := range tt.calls {
				if c.release {
					d.inflight--
					continue
				}
				ok, stretch := d.admit(c.at)
				if ok != c.wantOK || (ok && math.Abs(stretch-c.wantStretch) > 1e-9) {
					t.Errorf("call %d at %s: admitted %v stretch %v, want %v %v", i, c.at, ok, stretch, c.wantOK, c.wantStretch)
				}
			}
		})
	}
}

// TestCongestionCollapse checks that goodput falls above capacity when
// rejections cost capacity or latency rises steeply, and holds when not.
func TestCongestionCollapse(t *testing.T) {
	tests := []struct {
		name       string
		downstream string
		collapses  bool
	}{
		{"rate without reject cost", "{name: fn, rate: 5, burst: 5}", false},
		{"rate with reject cost", "{name: fn, rate: 5, burst: 50, rejectCost: 0.5}", true},
		{"latency knee, exponent 1", "{name: fn, latency: {knee: 50, exponent: 1}}", false},
		{"latency knee, exponent 2", "{name: fn, latency: {knee: 50, exponent: 2}}", true},
	}
	goodput := func(t *testing.T, ds string, limit int32) int64 {
		w := New(parse(t, `
horizon: 20m
downstreams: [`+ds+`]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 100000, maxConcurrency: 10, toleratedFailurePercentage: 100, retry: {interval: 1s, maxAttempts: 1000, maxDelay: 5s, jitter: FULL}, duration: {dist: fixed, value: 10s}}]
`), 1)
		res := Run(context.Background(), w, Static(limit)(w), time.Minute)
		return res.Runs[0].Succeeded
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := goodput(t, tt.downstream, 50) // capacity: 5/s * 10s = 50, or the knee
			over := goodput(t, tt.downstream, 150)
			ratio := float64(over) / float64(at)
			if tt.collapses && ratio > 0.6 {
				t.Errorf("goodput at 3x capacity is %.2f of goodput at capacity (%d vs %d), want a collapse below 0.6", ratio, over, at)
			}
			if !tt.collapses && ratio < 0.9 {
				t.Errorf("goodput at 3x capacity is %.2f of goodput at capacity (%d vs %d), want it held above 0.9", ratio, over, at)
			}
		})
	}
}

// TestDeterminism checks that the same scenario, seed and strategy give
// byte-identical results, and another seed a different one.
func TestDeterminism(t *testing.T) {
	sc, err := LoadScenario(scenarioDir + "/neighbour-sine.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, mk := range map[string]NewStrategy{"aimd": AIMD(AIMDConfig{}), "cubic": CUBIC(CUBICConfig{}), "oracle": CapacityOracle()} {
		t.Run(name, func(t *testing.T) {
			result := func(seed uint64) string {
				w := New(sc, seed)
				b, err := json.Marshal(Run(context.Background(), w, mk(w), time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			a, b, c := result(42), result(42), result(43)
			if a != b {
				t.Error("same seed gave different results")
			}
			if a == c {
				t.Error("different seeds gave the same result")
			}
		})
	}
}

// TestSeries checks the per-minute figures against the totals.
func TestSeries(t *testing.T) {
	w := started(t, `
downstreams: [{name: fn, concurrency: 20}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 2000, maxConcurrency: 30, toleratedFailurePercentage: 100, duration: {dist: fixed, value: 10s}}]
`, 1)
	runToEnd(t, w)
	r := w.Result().Runs[0]
	var started, succeeded, failed, calls, throttles int64
	for i, p := range r.Series {
		if p.Minute != i {
			t.Fatalf("point %d is minute %d", i, p.Minute)
		}
		if p.Limit != 30 || p.Capacity != 20 || p.Running < 0 || p.Running > 30 {
			t.Errorf("minute %d: limit %d capacity %v running %v", i, p.Limit, p.Capacity, p.Running)
		}
		started += p.Started
		succeeded += p.Succeeded
		failed += p.Failed
		calls += p.Calls
		throttles += p.Throttles
	}
	if succeeded != r.Succeeded || failed != r.Failed || calls != r.Calls || throttles != r.Throttled || started != r.Items {
		t.Errorf("series sums: started %d succeeded %d failed %d calls %d throttles %d; totals: %d %d %d %d %d",
			started, succeeded, failed, calls, throttles, r.Items, r.Succeeded, r.Failed, r.Calls, r.Throttled)
	}
	if want := int(r.Makespan/time.Minute) + 1; len(r.Series) != want {
		t.Errorf("%d points for a makespan of %s, want %d", len(r.Series), r.Makespan, want)
	}
	if len(r.Limits) != 1 || r.Limits[0] != (LimitChange{MaxConcurrency: 30}) {
		t.Errorf("limits = %+v, want the initial 30 only", r.Limits)
	}
}

// TestCapacity checks World.Capacity: a concurrency as it stands, a rate
// through Little's law, shared among running runs.
func TestCapacity(t *testing.T) {
	w := started(t, `
downstreams:
  - {name: fn, concurrency: 100, schedule: [{at: 10m, factor: 0.5}]}
  - {name: api, rate: 2}
runs:
  - {stateMachine: a, label: L, downstream: fn, items: 100000, maxConcurrency: 10, duration: {dist: fixed, value: 10s}}
  - {stateMachine: b, label: L, downstream: fn, items: 100000, maxConcurrency: 10, delay: 5m, duration: {dist: fixed, value: 10s}}
  - {stateMachine: c, label: L, downstream: api, items: 100000, maxConcurrency: 10, batchSize: 3, duration: {dist: fixed, value: 10s}}
`, 1)
	runs := w.Result().Runs
	capOf := func(i int) float64 {
		c, err := w.Capacity(runs[i].MapRunARN)
		if err != nil {
			t.Fatalf("capacity of run %d: %v", i, err)
		}
		return c
	}
	if got := capOf(0); got != 100 {
		t.Errorf("alone: %v, want 100", got)
	}
	if got := capOf(2); got != 60 {
		t.Errorf("rate 2/s with 30s batches: %v, want 60", got)
	}
	if _, err := w.Capacity(runs[1].MapRunARN); !errors.Is(err, ErrUnknownMapRun) {
		t.Errorf("capacity of a run not started yet: %v, want ErrUnknownMapRun", err)
	}
	w.Advance(6 * time.Minute)
	if got := capOf(0); got != 50 {
		t.Errorf("shared by two: %v, want 50", got)
	}
	w.Advance(5 * time.Minute)
	if got := capOf(1); got != 25 {
		t.Errorf("halved and shared: %v, want 25", got)
	}
	if _, err := w.Capacity("arn:aws:states:us-east-1:123456789012:mapRun:x/y:z"); err == nil {
		t.Error("capacity of an unknown run: no error")
	}
}

func TestSetDefinitionMaxConcurrency(t *testing.T) {
	w := New(parse(t, `
downstreams: [{name: fn}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 100, maxConcurrency: 5, duration: {dist: fixed, value: 10s}}]
`), 1)
	if err := w.SetDefinitionMaxConcurrency(-1); err == nil {
		t.Error("negative: no error")
	}
	if err := w.SetDefinitionMaxConcurrency(7); err != nil {
		t.Fatal(err)
	}
	w.Start()
	w.Advance(time.Second)
	if d := describe(t, w); d.MaxConcurrency != 7 || d.ExecutionCounts.Running != 7 {
		t.Errorf("max %d running %d, want 7 and 7", d.MaxConcurrency, d.ExecutionCounts.Running)
	}
	if err := w.SetDefinitionMaxConcurrency(9); err == nil {
		t.Error("after start: no error")
	}
	if a, b := w.Start(), w.Parents(); len(a) != 1 || len(b) != 1 || a[0].ExecutionARN != b[0].ExecutionARN {
		t.Errorf("second Start %+v, Parents %+v: want the same one parent", a, b)
	}
}
