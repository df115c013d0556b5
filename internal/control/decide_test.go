package control

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func testConfig() Config {
	return Config{
		MinConcurrency: 1, MaxConcurrency: 1000, InitialConcurrency: 10,
		GrowthFactor: 2, Backoff: 0.7, MaxStepUp: 2, MaxStepDown: 0.5, Band: 0.05,
		RecoveryTime: 5 * time.Minute, StaleAfter: 5 * time.Minute,
		Tolerance: Tolerance{CeilingPercent: 5, CeilingCount: 1000},
	}
}

// run is a Map Run as the controller sees it: a limit, busy children, items.
func run(limit int32, running, pending int64) maprun.Snapshot {
	return maprun.Snapshot{
		ARN: "arn:aws:states:us-east-1:123456789012:mapRun:etl/ProcessItems:1", Status: maprun.StatusRunning,
		StartDate: t0,
		Settings:  maprun.Settings{MaxConcurrency: limit},
		Items:     maprun.Counts{Running: running, Pending: pending, Total: 100000},
	}
}

func points(vals map[int]float64) []Datapoint {
	var ps []Datapoint
	for m, v := range vals {
		ps = append(ps, Datapoint{Minute: at(m), Value: v})
	}
	return ps
}

// closedLoop drives Decide against a downstream of capacity children whose
// throttle counts are published delay minutes late, one tick a minute, and
// returns the limit after each tick.
func closedLoop(t *testing.T, cfg Config, capacity func(min int) int32, minutes, delay int) []int32 {
	t.Helper()
	var st State
	limit := int32(10)
	known := map[int]float64{}
	var limits []int32
	limitAt := map[int]int32{}
	for m := 0; m < minutes; m++ {
		limitAt[m] = limit
		if p := m - delay - 1; p >= 0 {
			known[p] = math.Max(0, float64(limitAt[p]-capacity(p)))
		}
		obs := Observation{At: at(m).Add(30 * time.Second), Run: run(limit, int64(limit), 50000), MetricsWatched: true, Throttles: points(known)}
		if m == 0 {
			obs.Throttles = nil
			obs.MetricsWatched = false
		}
		d := Decide(cfg, st, obs)
		if d.New.MaxConcurrency <= 0 {
			t.Fatalf("minute %d: limit %d sent (never 0): %s", m, d.New.MaxConcurrency, d.Message)
		}
		if d.Reason == "" || d.Message == "" {
			t.Fatalf("minute %d: decision without reason: %+v", m, d)
		}
		st, limit = d.State, d.New.MaxConcurrency
		limits = append(limits, limit)
	}
	return limits
}

func TestStartAtTenReachesCapacity(t *testing.T) {
	for _, capacity := range []int32{60, 150, 400} {
		limits := closedLoop(t, testConfig(), func(int) int32 { return capacity }, 90, 2)
		tail := limits[45:]
		var sum float64
		lo, hi := tail[0], tail[0]
		for _, l := range tail {
			sum += float64(l)
			lo, hi = min(lo, l), max(hi, l)
		}
		mean := sum / float64(len(tail))
		if mean < 0.75*float64(capacity) || mean > 1.15*float64(capacity) {
			t.Errorf("capacity %d: steady-state mean limit %.1f, want within [0.75, 1.15] x capacity; limits %v", capacity, mean, limits)
		}
		if float64(hi) > 1.5*float64(capacity) {
			t.Errorf("capacity %d: steady state reached %d, over 1.5x capacity; limits %v", capacity, hi, limits)
		}
		first := -1
		for i, l := range limits {
			if float64(l) >= 0.7*float64(capacity) {
				first = i
				break
			}
		}
		if first < 0 || first > 20 {
			t.Errorf("capacity %d: took %d minutes to reach 70%% of capacity, want <= 20; limits %v", capacity, first, limits)
		}
	}
}

// step is one decision of a script: what is observed at minute min, and what
// must come out.
type step struct {
	min       int
	limit     int32
	running   int64
	throttles map[int]float64
	watched   bool
	failed    int64
	done      int64
	sample    FailureSample
	tol       maprun.Settings
	wantLimit int32
	wantTol   *maprun.Settings
	reason    Reason
	tolReason Reason
	update    bool
}

func script(t *testing.T, cfg Config, steps []step) {
	t.Helper()
	var st State
	for i, s := range steps {
		r := run(s.limit, s.running, 50000)
		r.Items.Failed = s.failed
		r.Items.Succeeded = s.done
		r.Settings.ToleratedFailurePercentage = s.tol.ToleratedFailurePercentage
		r.Settings.ToleratedFailureCount = s.tol.ToleratedFailureCount
		obs := Observation{At: at(s.min), Run: r, MetricsWatched: s.watched, Throttles: points(s.throttles), Failures: s.sample}
		d := Decide(cfg, st, obs)
		if d.New.MaxConcurrency != s.wantLimit {
			t.Fatalf("step %d (minute %d): limit %d -> %d, want %d (%s: %s)", i, s.min, s.limit, d.New.MaxConcurrency, s.wantLimit, d.Reason, d.Message)
		}
		if s.reason != "" && d.Reason != s.reason {
			t.Fatalf("step %d: reason %s, want %s (%s)", i, d.Reason, s.reason, d.Message)
		}
		if s.tolReason != "" && d.ToleranceReason != s.tolReason {
			t.Fatalf("step %d: tolerance reason %q, want %q (%s)", i, d.ToleranceReason, s.tolReason, d.Message)
		}
		if s.wantTol != nil && (d.New.ToleratedFailurePercentage != s.wantTol.ToleratedFailurePercentage || d.New.ToleratedFailureCount != s.wantTol.ToleratedFailureCount) {
			t.Fatalf("step %d: tolerances %.4g%%/%d, want %.4g%%/%d (%s)", i, d.New.ToleratedFailurePercentage, d.New.ToleratedFailureCount, s.wantTol.ToleratedFailurePercentage, s.wantTol.ToleratedFailureCount, d.Message)
		}
		if d.Update != s.update {
			t.Fatalf("step %d: update %v, want %v (%s)", i, d.Update, s.update, d.Message)
		}
		st = d.State
	}
}

func tol(pct float64, count int64) *maprun.Settings {
	return &maprun.Settings{ToleratedFailurePercentage: pct, ToleratedFailureCount: count}
}

func TestScripts(t *testing.T) {
	clean := func(ms ...int) map[int]float64 {
		m := map[int]float64{}
		for _, x := range ms {
			m[x] = 0
		}
		return m
	}
	tests := []struct {
		name  string
		cfg   func(*Config)
		steps []step
	}{
		{"unlimited start is never kept and never sent", nil, []step{
			{min: 0, limit: 0, running: 5, wantLimit: 10, reason: ReasonInitial, update: true},
		}},
		{"an unlimited run found under way is limited to what runs", nil, []step{
			{min: 0, limit: 0, running: 500, done: 40, wantLimit: 500, reason: ReasonClamped, update: true},
		}},
		{"slow start doubles one confirmed step at a time", nil, []step{
			{min: 0, limit: 10, running: 10, wantLimit: 20, reason: ReasonSlowStart, update: true},
			{min: 1, limit: 20, running: 20, watched: true, throttles: clean(), wantLimit: 20, reason: ReasonMissingData},
			{min: 3, limit: 20, running: 20, watched: true, throttles: clean(0), wantLimit: 40, reason: ReasonSlowStart, update: true},
			// 40 is not measured yet: minutes 1 and 2 ran at 20.
			{min: 4, limit: 40, running: 40, watched: true, throttles: clean(0, 1, 2), wantLimit: 40, reason: ReasonAwaitSignal},
			{min: 6, limit: 40, running: 40, watched: true, throttles: clean(0, 1, 2, 3, 4), wantLimit: 80, reason: ReasonSlowStart, update: true},
		}},
		{"a clean minute the children did not fill confirms nothing", nil, []step{
			{min: 0, limit: 100, running: 100, watched: true, throttles: clean(), wantLimit: 100, reason: ReasonMissingData},
			{min: 2, limit: 100, running: 100, watched: true, throttles: clean(0), wantLimit: 200, reason: ReasonSlowStart, update: true},
			{min: 3, limit: 200, running: 120, watched: true, throttles: clean(0), wantLimit: 200, reason: ReasonAwaitSignal},
			{min: 5, limit: 200, running: 120, watched: true, throttles: clean(0, 1, 2, 3), wantLimit: 200, reason: ReasonAwaitSignal},
		}},
		{"throttle spike cuts at once, then approaches the bound from below", func(c *Config) { c.RecoveryTime = 15 * time.Minute }, []step{
			{min: 0, limit: 200, running: 200, watched: true, throttles: clean(), wantLimit: 200, reason: ReasonMissingData},
			{min: 3, limit: 200, running: 200, watched: true, throttles: map[int]float64{1: 0, 2: 1500}, wantLimit: 140, reason: ReasonThrottled, update: true},
			// The same datapoint again cuts nothing more, and nothing grows
			// before a clean minute below the bound is measured.
			{min: 4, limit: 140, running: 140, watched: true, throttles: map[int]float64{1: 0, 2: 1500}, wantLimit: 140, reason: ReasonAwaitSignal},
			// 140 clean: 5 % up, not halfway to 200.
			{min: 6, limit: 140, running: 140, watched: true, throttles: map[int]float64{2: 1500, 3: 0, 4: 0}, wantLimit: 147, reason: ReasonBisect, update: true},
			{min: 7, limit: 147, running: 147, watched: true, throttles: map[int]float64{2: 1500, 3: 0, 4: 0, 5: 0}, wantLimit: 147, reason: ReasonAwaitSignal},
			{min: 9, limit: 147, running: 147, watched: true, throttles: map[int]float64{6: 0, 7: 0}, wantLimit: 155, reason: ReasonBisect, update: true},
			// 155 throttles: back to the clean 147, and 147..155 is narrow enough to hold.
			{min: 12, limit: 155, running: 155, watched: true, throttles: map[int]float64{9: 30}, wantLimit: 147, reason: ReasonThrottled, update: true},
			{min: 13, limit: 147, running: 147, watched: true, throttles: map[int]float64{9: 30, 10: 30}, wantLimit: 147, reason: ReasonConverged},
			{min: 26, limit: 147, running: 147, watched: true, throttles: map[int]float64{14: 0, 15: 0, 24: 0}, wantLimit: 147, reason: ReasonConverged},
			// No throttling for the recovery time: probe past the bound in a 2 % step.
			{min: 28, limit: 147, running: 147, watched: true, throttles: map[int]float64{25: 0}, wantLimit: 150, reason: ReasonProbe, update: true},
		}},
		{"a datapoint two minutes late is charged to the limit of its minute", func(c *Config) { c.MaxStepDown = 0.1 }, []step{
			{min: 0, limit: 100, running: 100, watched: true, throttles: clean(), wantLimit: 100, reason: ReasonMissingData},
			{min: 2, limit: 100, running: 100, watched: true, throttles: clean(0), wantLimit: 200, reason: ReasonSlowStart, update: true},
			{min: 3, limit: 200, running: 200, watched: true, throttles: clean(0), wantLimit: 200, reason: ReasonAwaitSignal},
			// Minute 1 ran at 100 and throttled: the cut is from 100, not from today's 200.
			{min: 4, limit: 200, running: 200, watched: true, throttles: map[int]float64{0: 0, 1: 1000}, wantLimit: 70, reason: ReasonThrottled, update: true},
			// Minutes 2 and 3, at 200, throttled too: already paid for, no second cut.
			{min: 5, limit: 70, running: 70, watched: true, throttles: map[int]float64{1: 1000, 2: 4000, 3: 9000}, wantLimit: 70, reason: ReasonAwaitSignal},
			// Minute 4, the first at 70, still had children of 200 running; minute 5 throttled at 70: 70 is too high as well.
			{min: 7, limit: 70, running: 70, watched: true, throttles: map[int]float64{2: 4000, 3: 9000, 4: 8000, 5: 500}, wantLimit: 49, reason: ReasonThrottled, update: true},
		}},
		{"a limit confirmed clean that throttles a little steps back a little", func(c *Config) { c.MaxConcurrency = 200 }, []step{
			{min: 0, limit: 200, running: 200, watched: true, throttles: clean(), wantLimit: 200, reason: ReasonMissingData},
			{min: 2, limit: 200, running: 200, watched: true, throttles: clean(0), wantLimit: 200, reason: ReasonAtCeiling},
			// Minute 1 confirmed 200; minute 2 throttled 40 times, about one child too many.
			{min: 4, limit: 200, running: 200, watched: true, throttles: map[int]float64{1: 0, 2: 40}, wantLimit: 180, reason: ReasonThrottled, update: true},
		}},
		{"the throughput of a throttled minute sets the cut", nil, []step{
			{min: 0, limit: 100, running: 100, watched: true, wantLimit: 100, reason: ReasonMissingData},
			{min: 1, limit: 100, running: 100, done: 200, watched: true, wantLimit: 100, reason: ReasonMissingData},
			// Minute 0 is clean: 100 children finishing 200 items a minute hold their place 30 s each.
			{min: 2, limit: 100, running: 100, done: 400, watched: true, throttles: clean(0), wantLimit: 200, reason: ReasonSlowStart, update: true},
			{min: 3, limit: 200, running: 200, done: 650, watched: true, throttles: clean(0, 1), wantLimit: 200, reason: ReasonAwaitSignal},
			// At 200, only 250 items a minute finished: about 125 children's worth. Cut to 95 % of that.
			{min: 4, limit: 200, running: 200, done: 900, watched: true, throttles: map[int]float64{3: 500}, wantLimit: 118, reason: ReasonThrottled, update: true},
			{min: 5, limit: 118, running: 118, done: 1130, watched: true, throttles: map[int]float64{3: 500}, wantLimit: 118, reason: ReasonAwaitSignal},
		}},
		{"the throughput confirms a limit before its metrics do", nil, []step{
			{min: 0, limit: 100, running: 100, watched: true, wantLimit: 100, reason: ReasonMissingData},
			{min: 1, limit: 100, running: 100, done: 200, watched: true, wantLimit: 100, reason: ReasonMissingData},
			{min: 2, limit: 100, running: 100, done: 400, watched: true, throttles: clean(0), wantLimit: 200, reason: ReasonSlowStart, update: true},
			{min: 3, limit: 200, running: 200, done: 650, watched: true, throttles: clean(0, 1), wantLimit: 200, reason: ReasonAwaitSignal},
			// A full minute at 200 finished 400 items: every child works at the clean pace.
			{min: 4, limit: 200, running: 200, done: 1050, watched: true, throttles: clean(0, 1), wantLimit: 400, reason: ReasonSlowStart, update: true},
		}},
		{"a minute read clean while filling is judged again", nil, []step{
			{min: 0, limit: 100, running: 100, watched: true, throttles: clean(), wantLimit: 100, reason: ReasonMissingData},
			// Minute 1 reads 0 at 2:00, fresh but not settled; the run's own 100 is trusted, so it grows.
			{min: 2, limit: 100, running: 100, watched: true, throttles: clean(1), wantLimit: 200, reason: ReasonSlowStart, update: true},
			// The same minute now reads 80: throttled after all, and charged to the 100 of its time.
			{min: 3, limit: 200, running: 200, watched: true, throttles: map[int]float64{1: 80}, wantLimit: 100, reason: ReasonThrottled, update: true},
			// 200 is not confirmed either: the cut goes on to Backoff x 100.
			{min: 4, limit: 100, running: 100, watched: true, throttles: map[int]float64{1: 80}, wantLimit: 70, reason: ReasonThrottled, update: true},
		}},
		{"a raise's start burst is not a throttle, the steady minute after it is", nil, []step{
			{min: 0, limit: 100, running: 100, watched: true, throttles: clean(), wantLimit: 100, reason: ReasonMissingData},
			{min: 2, limit: 100, running: 100, watched: true, throttles: clean(0), wantLimit: 200, reason: ReasonSlowStart, update: true},
			// Minute 2 saw the 100 new children start at once: 40 throttles is a burst.
			{min: 5, limit: 200, running: 200, watched: true, throttles: map[int]float64{1: 0, 2: 40}, wantLimit: 200, reason: ReasonAwaitSignal},
			{min: 6, limit: 200, running: 200, watched: true, throttles: map[int]float64{3: 40}, wantLimit: 140, reason: ReasonThrottled, update: true},
		}},
		{"a burst far beyond the children started is a throttle", nil, []step{
			{min: 0, limit: 100, running: 100, watched: true, throttles: clean(), wantLimit: 100, reason: ReasonMissingData},
			{min: 2, limit: 100, running: 100, watched: true, throttles: clean(0), wantLimit: 200, reason: ReasonSlowStart, update: true},
			{min: 5, limit: 200, running: 200, watched: true, throttles: map[int]float64{1: 0, 2: 5000}, wantLimit: 140, reason: ReasonThrottled, update: true},
		}},
		{"missing and stale data hold, never raise", nil, []step{
			{min: 0, limit: 50, running: 50, watched: true, wantLimit: 50, reason: ReasonMissingData},
			{min: 9, limit: 50, running: 50, watched: true, throttles: clean(1, 2), wantLimit: 50, reason: ReasonMissingData},
		}},
		{"a cut is bounded per tick and continues next tick", func(c *Config) { c.MaxStepDown = 0.8 }, []step{
			{min: 0, limit: 500, running: 500, watched: true, throttles: clean(), wantLimit: 500, reason: ReasonMissingData},
			{min: 2, limit: 500, running: 500, watched: true, throttles: map[int]float64{0: 100}, wantLimit: 400, reason: ReasonThrottled, update: true},
			{min: 3, limit: 400, running: 400, watched: true, throttles: map[int]float64{0: 100}, wantLimit: 350, reason: ReasonThrottled, update: true},
		}},
		{"clamps to the policy range", func(c *Config) { c.MaxConcurrency = 300; c.MinConcurrency = 5 }, []step{
			{min: 0, limit: 900, running: 900, done: 100, wantLimit: 300, reason: ReasonClamped, update: true},
			{min: 1, limit: 300, running: 300, watched: true, throttles: clean(0), wantLimit: 300, reason: ReasonAtCeiling},
			// An operator sets 6: left alone for an hour, throttled or not.
			{min: 2, limit: 6, running: 6, watched: true, throttles: clean(0), wantLimit: 6, reason: ReasonOverride},
			{min: 30, limit: 6, running: 6, watched: true, throttles: map[int]float64{28: 1e6}, wantLimit: 6, reason: ReasonOverride},
			{min: 64, limit: 6, running: 6, watched: true, throttles: map[int]float64{63: 1e6}, wantLimit: 5, reason: ReasonThrottled, update: true},
		}},
		{"at the maximum, 0 only when the policy allows unlimited", func(c *Config) { c.MaxConcurrency = 100 }, []step{
			{min: 0, limit: 100, running: 100, wantLimit: 100, reason: ReasonAtCeiling},
		}},
		{"unlimited allowed lifts the limit at the maximum", func(c *Config) { c.MaxConcurrency = 100; c.Unlimited = true }, []step{
			{min: 0, limit: 100, running: 100, wantLimit: 0, reason: ReasonAtCeiling, update: true},
		}},
		{"underused limit is not raised", nil, []step{
			{min: 0, limit: 100, running: 20, wantLimit: 100, reason: ReasonIdle},
		}},
		{"throttle-caused failures cut and raise the tolerances up to the ceiling", func(c *Config) { c.Tolerance.CeilingCount = 100 }, []step{
			{min: 0, limit: 200, running: 200, tol: *tol(1, 50), wantLimit: 400, reason: ReasonSlowStart, update: true},
			{min: 1, limit: 400, running: 400, failed: 40, tol: *tol(1, 50), sample: FailureSample{Sampled: 10, Throttle: 9}, wantLimit: 280, reason: ReasonThrottleFails, tolReason: ReasonThrottleFails, wantTol: tol(2, 90), update: true},
			{min: 2, limit: 280, running: 280, failed: 60, tol: *tol(2, 90), sample: FailureSample{Sampled: 10, Throttle: 10}, wantLimit: 280, reason: ReasonThrottleFails, wantTol: tol(2, 100), update: true},
			// Failures stop; after the recovery time the tolerances come down, never to what already failed.
			{min: 9, limit: 280, running: 280, failed: 60, tol: *tol(2, 100), wantTol: tol(2, 90), wantLimit: 286, reason: ReasonProbe, update: true},
		}},
		{"a run that sets no tolerance keeps failing on its first failed item", func(c *Config) { c.Tolerance.BaselinePercent = 2 }, []step{
			{min: 0, limit: 100, running: 100, watched: true, throttles: clean(), wantLimit: 100, reason: ReasonMissingData, wantTol: tol(0, 0)},
			// Neither the baseline nor a throttled minute changes its tolerances...
			{min: 2, limit: 100, running: 100, watched: true, throttles: map[int]float64{0: 3}, wantLimit: 70, reason: ReasonThrottled, wantTol: tol(0, 0), update: true},
			// ...nor failures that are throttling.
			{min: 3, limit: 70, running: 70, failed: 1, watched: true, throttles: map[int]float64{0: 3}, sample: FailureSample{Sampled: 1, Throttle: 1}, wantLimit: 70, reason: ReasonThrottleFails, wantTol: tol(0, 0)},
		}},
		{"a run that sets no tolerance has it raised when the policy opts in", func(c *Config) { c.Tolerance.RaiseUnset = true }, []step{
			{min: 0, limit: 100, running: 100, watched: true, throttles: clean(), wantLimit: 100, reason: ReasonMissingData, wantTol: tol(0, 0)},
			{min: 2, limit: 100, running: 100, watched: true, throttles: map[int]float64{0: 3}, wantLimit: 70, reason: ReasonThrottled, tolReason: ReasonThrottleFails, wantTol: tol(1, 0), update: true},
			{min: 3, limit: 70, running: 70, failed: 1, tol: *tol(1, 0), watched: true, throttles: map[int]float64{0: 3}, sample: FailureSample{Sampled: 1, Throttle: 1}, wantLimit: 70, reason: ReasonThrottleFails, tolReason: ReasonThrottleFails, wantTol: tol(2, 0), update: true},
		}},
		{"tolerances return to the baseline after throttling without failures", func(c *Config) { c.Tolerance.RaiseUnset = true }, []step{
			{min: 0, limit: 100, running: 100, watched: true, throttles: clean(), wantLimit: 100, reason: ReasonMissingData},
			// A run that set no tolerance gets a percentage, not a count.
			{min: 2, limit: 100, running: 100, watched: true, throttles: map[int]float64{0: 3}, wantLimit: 70, wantTol: tol(1, 0), update: true},
			{min: 9, limit: 70, running: 70, watched: true, throttles: map[int]float64{0: 3, 7: 0}, tol: *tol(1, 0), wantLimit: 72, wantTol: tol(0, 0), update: true},
		}},
		{"the policy's baseline is set at the start", func(c *Config) { c.Tolerance.BaselinePercent, c.Tolerance.BaselineCount = 2, 50 }, []step{
			{min: 0, limit: 100, running: 100, tol: *tol(1, 3), wantLimit: 200, tolReason: ReasonBaseline, wantTol: tol(2, 50), update: true},
			{min: 1, limit: 200, running: 200, tol: *tol(2, 50), wantLimit: 400, wantTol: tol(2, 50), update: true},
		}},
		{"a run that set only a percentage never gets a count", func(c *Config) { c.Tolerance.BaselinePercent, c.Tolerance.BaselineCount = 2, 50 }, []step{
			{min: 0, limit: 100, running: 100, tol: *tol(1, 0), wantLimit: 200, tolReason: ReasonBaseline, wantTol: tol(2, 0), update: true},
		}},
		{"a run that set only a count never gets a percentage", func(c *Config) { c.Tolerance.BaselinePercent, c.Tolerance.BaselineCount = 2, 50 }, []step{
			{min: 0, limit: 100, running: 100, tol: *tol(0, 3), wantLimit: 200, tolReason: ReasonBaseline, wantTol: tol(0, 50), update: true},
		}},
		{"a user's own tolerance is the floor", nil, []step{
			{min: 0, limit: 100, running: 100, tol: *tol(10, 0), wantLimit: 200, wantTol: tol(10, 0), update: true},
		}},
		{"fail-fast on a broken deployment", func(c *Config) {
			c.Tolerance.FailFast, c.Tolerance.FailFastRate, c.Tolerance.FailFastMinItems = true, 0.5, 100
		}, []step{
			{min: 0, limit: 100, running: 100, tol: *tol(5, 0), wantLimit: 200, update: true},
			{min: 1, limit: 200, running: 200, failed: 150, tol: *tol(5, 0), sample: FailureSample{Sampled: 10, Throttle: 0}, wantLimit: 200, tolReason: ReasonFailFast, wantTol: tol(0, 0), update: true, reason: ReasonFailFast},
		}},
		{"fail-fast ignores throttle failures classified a few minutes ago", func(c *Config) {
			c.Tolerance.FailFast, c.Tolerance.FailFastRate, c.Tolerance.FailFastMinItems = true, 0.5, 10
		}, []step{
			{min: 0, limit: 100, running: 100, tol: *tol(5, 0), wantLimit: 200, update: true},
			{min: 1, limit: 200, running: 200, failed: 100, done: 20, tol: *tol(5, 0), sample: FailureSample{Sampled: 10, Throttle: 10}, wantLimit: 140, reason: ReasonThrottleFails, update: true, wantTol: tol(5, 0)},
			// No new sample this tick: the last one still says throttling, so
			// neither fail-fast nor the failing-run hold.
			{min: 2, limit: 140, running: 140, failed: 100, done: 40, tol: *tol(5, 0), wantLimit: 147, wantTol: tol(5, 0), reason: ReasonBisect, update: true},
		}},
		{"fail-fast needs enough recent items, not just enough items", func(c *Config) {
			c.Tolerance.FailFast, c.Tolerance.FailFastRate, c.Tolerance.FailFastMinItems = true, 0.5, 100
		}, []step{
			{min: 0, limit: 100, running: 100, done: 9990, tol: *tol(5, 0), wantLimit: 200, update: true},
			{min: 1, limit: 200, running: 200, done: 9990, failed: 1, tol: *tol(5, 0), sample: FailureSample{Sampled: 1}, wantTol: tol(5, 0), wantLimit: 200, reason: ReasonFailing},
		}},
		{"fail-fast waits for its minimum sample", func(c *Config) {
			c.Tolerance.FailFast, c.Tolerance.FailFastRate, c.Tolerance.FailFastMinItems = true, 0.5, 1000
		}, []step{
			{min: 0, limit: 100, running: 100, tol: *tol(5, 0), wantLimit: 200, update: true},
			{min: 1, limit: 200, running: 200, failed: 150, tol: *tol(5, 0), sample: FailureSample{Sampled: 10}, wantLimit: 200, wantTol: tol(5, 0), reason: ReasonFailing},
		}},
		{"ended run is left alone", nil, []step{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			script(t, cfg, tt.steps)
		})
	}
}

func TestEndedRun(t *testing.T) {
	r := run(100, 0, 0)
	r.Status = maprun.StatusSucceeded
	d := Decide(testConfig(), State{}, Observation{At: t0, Run: r})
	if d.Update || d.Reason != ReasonEnded || !strings.Contains(d.Message, "SUCCEEDED") {
		t.Fatalf("ended run: %+v", d)
	}
}

func TestUnapplied(t *testing.T) {
	cfg := testConfig()
	var st State
	st = Decide(cfg, st, Observation{At: at(0), Run: run(100, 100, 50000), MetricsWatched: true}).State
	// A throttled minute: the decision cuts 100 to 70.
	d := Decide(cfg, st, Observation{At: at(3), Run: run(100, 100, 50000), MetricsWatched: true, Throttles: points(map[int]float64{1: 500})})
	if d.New.MaxConcurrency != 70 || d.State.CutAt.IsZero() {
		t.Fatalf("setup: %+v", d)
	}
	u := Unapplied(st, d)
	if last := u.History[len(u.History)-1]; last.MaxConcurrency != 100 {
		t.Fatalf("history keeps the unapplied 70: %+v", u.History)
	}
	if !u.CutAt.IsZero() || u.Owed != 0 {
		t.Fatalf("the cut is remembered though not applied: %+v", u)
	}
	if len(u.Seen) == 0 || u.Hi != 100 {
		t.Fatalf("what the observation taught is lost: seen %v hi %d", u.Seen, u.Hi)
	}
	// Next tick, still at 100 and nothing new: no override is seen, and the
	// same minute does not cut twice.
	d2 := Decide(cfg, u, Observation{At: at(4), Run: run(100, 100, 50000), MetricsWatched: true, Throttles: points(map[int]float64{1: 500})})
	if d2.Reason == ReasonOverride || d2.Reason == ReasonThrottled {
		t.Fatalf("after an unapplied cut: %s %s", d2.Reason, d2.Message)
	}
}

// TestClimbsWhateverTheMetricTiming drives a run against a clean downstream
// of 400 children, one tick a minute at a fixed offset in the minute, with
// each minute's datapoint published a fixed latency after the minute ends: a
// minute must be judged once it is settled, however early it was first read,
// so the limit climbs to the capacity at every offset and latency.
func TestClimbsWhateverTheMetricTiming(t *testing.T) {
	const capacity, ticks = 400, 60
	for _, offset := range []time.Duration{0, 5 * time.Second, 20 * time.Second, 40 * time.Second, 59 * time.Second} {
		for _, latency := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute} {
			cfg := testConfig()
			cfg.StaleAfter = 6 * time.Minute // the newest datapoint is at most latency + 2 minutes old
			w := newWorld(capacity, latency, maprun.Settings{MaxConcurrency: 10}, 1_000_000)
			var st State
			var limits []int32
			reached := -1
			for k := range ticks {
				now := at(k).Add(offset)
				d := Decide(cfg, st, w.observe(now))
				if d.Update {
					w.set(now, d.New)
				}
				st = d.State
				limits = append(limits, d.New.MaxConcurrency)
				if reached < 0 && float64(d.New.MaxConcurrency) >= 0.9*capacity {
					reached = k
				}
			}
			last := limits[len(limits)-1]
			t.Logf("ticks at :%02d, latency %s: 90%% of capacity at tick %d, limit %d after %d ticks", int(offset.Seconds()), latency, reached, last, ticks)
			if reached < 0 || reached > 30 || float64(last) < 0.8*capacity || float64(last) > 1.1*capacity {
				t.Errorf("ticks at :%02d, datapoints %s after the minute: reached 90%% of capacity %d at tick %d (want by tick 30), limit %d after %d ticks (want within [0.8, 1.1] x capacity); limits %v",
					int(offset.Seconds()), latency, capacity, reached, last, ticks, limits)
			}
		}
	}
}
