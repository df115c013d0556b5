package control

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

// randomConfig returns a random policy within the rules a policies file
// must meet (internal/policy checks them): 1 <= min <= initial <= max <=
// 10,000, band in [0, 1), growthFactor in (1 + band, 10], maxStepUp > 1 +
// band, backoff in (0, 1), maxStepDown in (0, 1], recoveryTime > 0,
// staleAfter >= 1m, baselines at most their ceilings, failFastRate in (0,
// 1], failFastMinItems >= 1. Growth steps are at least 5 % above the band,
// so that the slowest policy still reaches its maximum in a few hundred ticks.
func randomConfig(rng *rand.Rand) Config {
	c := Config{
		MinConcurrency:    int32(1 + rng.IntN(20)),
		Unlimited:         rng.IntN(4) == 0,
		Backoff:           0.1 + 0.85*rng.Float64(),
		MaxStepDown:       0.1 + 0.9*rng.Float64(),
		Band:              0.1 * rng.Float64(),
		RecoveryTime:      time.Duration(1+rng.IntN(30)) * time.Minute,
		ThrottleThreshold: float64(rng.IntN(2)) * 20 * rng.Float64(),
		StaleAfter:        time.Minute + time.Duration(rng.IntN(600))*time.Second,
	}
	c.GrowthFactor = 1.05 + c.Band + 2.9*rng.Float64()
	c.MaxStepUp = 1.05 + c.Band + 2*rng.Float64()
	c.MaxConcurrency = c.MinConcurrency + int32(rng.IntN(3000))
	c.InitialConcurrency = c.MinConcurrency + int32(rng.IntN(int(min(c.MaxConcurrency-c.MinConcurrency, 100))+1))
	t := &c.Tolerance
	t.BaselinePercent = float64(rng.IntN(2)) * 5 * rng.Float64()
	t.BaselineCount = int64(rng.IntN(2) * rng.IntN(100))
	t.CeilingPercent = t.BaselinePercent + float64(rng.IntN(20))
	t.CeilingCount = t.BaselineCount + int64(rng.IntN(2000))
	t.RaiseUnset = rng.IntN(2) == 0
	if t.FailFast = rng.IntN(3) == 0; t.FailFast {
		t.FailFastRate, t.FailFastMinItems = 0.05+0.95*rng.Float64(), int64(1+rng.IntN(200))
	}
	return c
}

// safeSequence drives Decide through one random but plausible run: a
// random valid policy, ticks at irregular intervals, throttle datapoints
// published late, revised and sometimes missing, decisions sometimes not
// applied (control.Unapplied), the limit sometimes changed by an operator,
// and the run sometimes ending. It fails on any decision a tuner must never
// make, and returns how many decisions it checked.
func safeSequence(t *testing.T, seed uint64, unlimitedOK bool) int {
	rng := rand.New(rand.NewPCG(seed, 7))
	cfg := randomConfig(rng)
	cfg.Unlimited = cfg.Unlimited || unlimitedOK
	fail := func(tick int, format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d tick %d (reproduce: safeSequence(t, %d, %v)): "+format, append([]any{seed, tick, seed, unlimitedOK}, args...)...)
	}
	var st State
	cur := maprun.Settings{MaxConcurrency: int32(rng.IntN(3000)), ToleratedFailurePercentage: float64(rng.IntN(3)), ToleratedFailureCount: int64(rng.IntN(2) * rng.IntN(50))}
	start := cur
	items := maprun.Counts{Total: 100000, Pending: 100000}
	status := maprun.StatusRunning
	published := map[time.Time]float64{}
	var overrideAt time.Time
	// reserved is the downstream's reserved concurrency, which an operator
	// changes now and then.
	reserved := int32(1 + rng.IntN(3000))
	now := t0
	ticks := 10 + rng.IntN(100)
	for k := range ticks {
		// Irregular ticks: mostly about a minute apart, sometimes a few
		// seconds, sometimes a long gap.
		switch r := rng.IntN(20); {
		case r == 0:
			now = now.Add(time.Duration(2+rng.IntN(15)) * time.Minute)
		case r < 3:
			now = now.Add(time.Duration(1+rng.IntN(20)) * time.Second)
		default:
			now = now.Add(time.Duration(40+rng.IntN(50)) * time.Second)
		}
		limit := int64(effective(cur.MaxConcurrency))
		if status == maprun.StatusRunning {
			items.Running = min(items.Pending+items.Running, int64(float64(limit)*(0.3+0.8*rng.Float64())))
			fin := int64(rng.IntN(int(items.Running) + 1))
			failed := int64(0)
			if rng.IntN(4) == 0 {
				failed = int64(rng.IntN(int(fin) + 1))
			}
			items.Succeeded += fin - failed
			items.Failed += failed
			items.Pending = max(0, items.Total-items.Done()-items.Running)
			if rng.IntN(40) == 0 {
				status = []maprun.Status{maprun.StatusSucceeded, maprun.StatusFailed, maprun.StatusAborted}[rng.IntN(3)]
			}
		}
		// Datapoints: each minute published some random latency after it
		// ends, sometimes not at all, sometimes revised upward later.
		for m := now.Add(-15 * time.Minute).Truncate(minute); m.Add(minute).Before(now); m = m.Add(minute) {
			if _, ok := published[m]; !ok && rng.IntN(3) > 0 && m.Add(minute+time.Duration(rng.IntN(240))*time.Second).Before(now) {
				published[m] = float64(rng.IntN(3)) * float64(rng.IntN(200))
			} else if ok && rng.IntN(10) == 0 {
				published[m] += float64(rng.IntN(100))
			}
		}
		var ps []Datapoint
		for m, v := range published {
			if m.After(now.Add(-15 * time.Minute)) {
				ps = append(ps, Datapoint{Minute: m, Value: v})
			} else {
				delete(published, m)
			}
		}
		// An operator changes the limit now and then, once the tuner has seen the run.
		if k > 0 && status == maprun.StatusRunning && rng.IntN(30) == 0 {
			if to := int32(1 + rng.IntN(3000)); to != cur.MaxConcurrency {
				cur.MaxConcurrency, overrideAt = to, now
			}
		}
		obs := Observation{
			At:             now,
			Run:            maprun.Snapshot{Status: status, StartDate: t0, Settings: cur, Items: items},
			MetricsWatched: rng.IntN(5) > 0,
			Throttles:      ps,
			Failures:       FailureSample{Sampled: 10, Throttle: rng.IntN(11)},
		}
		if rng.IntN(2) == 0 {
			obs.Failures = FailureSample{}
		}
		if rng.IntN(2) == 0 {
			// A live sample of the running children: any share throttled,
			// the newest throttled child started any time in the last minutes.
			n := rng.IntN(13)
			obs.Live = LiveSample{Since: now.Add(-time.Duration(rng.IntN(120)) * time.Second), Sampled: n, Throttled: rng.IntN(n + 1)}
			if obs.Live.Throttled > 0 {
				obs.Live.StartedAt = now.Add(-time.Duration(rng.IntN(300)) * time.Second)
			}
		}
		// The bound a capacity hint reads: mostly none read, sometimes the
		// reservation, sometimes none reserved (removed).
		if rng.IntN(20) == 0 {
			reserved = int32(1 + rng.IntN(3000))
		}
		switch r := rng.IntN(10); {
		case r == 0:
			obs.Bound = NoBound
		case r < 4:
			obs.Bound = reserved
		}
		if rng.IntN(2) == 0 {
			// What an earlier run learned, of any limit and age.
			obs.Prior = &Prior{Limit: int32(rng.IntN(12000)), At: now.Add(-time.Duration(rng.IntN(30*24)) * time.Hour), ItemTime: 60 * rng.Float64()}
		}
		d := Decide(cfg, st, obs)
		n := d.New
		if d.Reason == "" || d.Message == "" {
			fail(k, "decision without reason: %+v", d)
		}
		if d.Old != cur || d.Update != (n != cur) {
			fail(k, "old %+v update %v for %+v -> %+v", d.Old, d.Update, cur, n)
		}
		if status != maprun.StatusRunning {
			if d.Update || d.Reason != ReasonEnded {
				fail(k, "ended run (%s) changed: %s %s", status, d.Reason, d.Message)
			}
			st = d.State
			continue
		}
		if n.MaxConcurrency == 0 && !cfg.Unlimited && cur.MaxConcurrency != 0 {
			fail(k, "sent 0 without unlimited: %s", d.Message)
		}
		if n.MaxConcurrency != cur.MaxConcurrency && n.MaxConcurrency != 0 && (n.MaxConcurrency < cfg.MinConcurrency || n.MaxConcurrency > cfg.MaxConcurrency) {
			fail(k, "%d outside [%d, %d]: %s", n.MaxConcurrency, cfg.MinConcurrency, cfg.MaxConcurrency, d.Message)
		}
		inRange := cur.MaxConcurrency >= cfg.MinConcurrency && cur.MaxConcurrency <= cfg.MaxConcurrency
		if d.Reason == ReasonLearned && k == 0 {
			// A run's first decision may start it from what an earlier run
			// learned, at any step, never above that.
			if p := obs.Prior; p == nil || n.MaxConcurrency > max(p.Limit, cfg.MinConcurrency) {
				fail(k, "learned start at %d from %+v: %s", n.MaxConcurrency, p, d.Message)
			}
			inRange = false
		}
		if inRange && n.MaxConcurrency > cur.MaxConcurrency && float64(n.MaxConcurrency) > math.Ceil(float64(cur.MaxConcurrency)*cfg.MaxStepUp) {
			fail(k, "step up %d -> %d beyond x%.3g: %s", cur.MaxConcurrency, n.MaxConcurrency, cfg.MaxStepUp, d.Message)
		}
		if inRange && n.MaxConcurrency != 0 && n.MaxConcurrency < cur.MaxConcurrency && float64(n.MaxConcurrency) < math.Floor(float64(cur.MaxConcurrency)*cfg.MaxStepDown) {
			fail(k, "step down %d -> %d beyond x%.3g: %s", cur.MaxConcurrency, n.MaxConcurrency, cfg.MaxStepDown, d.Message)
		}
		held := !overrideAt.IsZero() && now.Sub(overrideAt) < overrideHold
		if held && inRange && n.MaxConcurrency != cur.MaxConcurrency {
			fail(k, "limit %d set by an operator at %s changed to %d at %s: %s", cur.MaxConcurrency, overrideAt.Format("15:04:05"), n.MaxConcurrency, now.Format("15:04:05"), d.Message)
		}
		if d.Reason == ReasonOverride && !held {
			fail(k, "override seen where no operator changed the limit (own change taken for one?): %s", d.Message)
		}
		if d.ToleranceReason != ReasonFailFast {
			if n.ToleratedFailurePercentage != cur.ToleratedFailurePercentage && n.ToleratedFailurePercentage < items.FailurePercent() {
				fail(k, "tolerance %.4g%% set below the %.4g%% already failed: %s", n.ToleratedFailurePercentage, items.FailurePercent(), d.Message)
			}
			if n.ToleratedFailureCount != cur.ToleratedFailureCount && n.ToleratedFailureCount < items.Failures() {
				fail(k, "tolerance %d set below the %d already failed: %s", n.ToleratedFailureCount, items.Failures(), d.Message)
			}
		}
		if !cfg.Tolerance.RaiseUnset && start.ToleratedFailurePercentage == 0 && start.ToleratedFailureCount == 0 &&
			(n.ToleratedFailurePercentage != cur.ToleratedFailurePercentage || n.ToleratedFailureCount != cur.ToleratedFailureCount) {
			fail(k, "tolerances of a run that set none changed to %.4g%%/%d without raiseUnset: %s", n.ToleratedFailurePercentage, n.ToleratedFailureCount, d.Message)
		}
		if n.ToleratedFailurePercentage > max(cur.ToleratedFailurePercentage, cfg.Tolerance.CeilingPercent) || n.ToleratedFailureCount > max(cur.ToleratedFailureCount, cfg.Tolerance.CeilingCount) {
			fail(k, "tolerances raised to %.4g%%/%d, above the ceilings %.4g%%/%d: %s", n.ToleratedFailurePercentage, n.ToleratedFailureCount, cfg.Tolerance.CeilingPercent, cfg.Tolerance.CeilingCount, d.Message)
		}
		// Apply the decision, or not: a dry run, the off switch, a failed update.
		if d.Update && rng.IntN(5) == 0 {
			st = Unapplied(st, d)
			continue
		}
		st, cur = d.State, n
	}
	return ticks
}

// TestPropertyDecideIsSafe checks at least 100,000 random decisions, in
// sequences of random length, from fixed seeds: a failure names its seed.
func TestPropertyDecideIsSafe(t *testing.T) {
	const sequences, want = 2000, 100_000
	decisions := 0
	for seed := range uint64(sequences) {
		decisions += safeSequence(t, seed, seed%5 == 0)
	}
	t.Logf("%d sequences, %d decisions", sequences, decisions)
	if decisions < want {
		t.Fatalf("%d decisions checked, want at least %d", decisions, want)
	}
}

func FuzzDecideIsSafe(f *testing.F) {
	for seed := range uint64(10) {
		f.Add(seed, seed%2 == 0)
	}
	f.Fuzz(func(t *testing.T, seed uint64, unlimitedOK bool) { safeSequence(t, seed, unlimitedOK) })
}

// liveSequence drives a run of a random valid policy against a clean
// downstream (nothing throttles) with fresh metrics: ticks about once a
// minute at a random offset in the minute, each up to 15 s late, each
// minute's datapoint published a random
// 10 s to 4 min after it ends, and staleAfter long enough for that. The
// limit must come within the band of the policy's maximum (or go unlimited,
// when allowed) in a bounded number of ticks: per growth step, the latency
// plus four ticks (a whole minute at the new limit, a minute to settle, a
// tick either side).
func liveSequence(t *testing.T, seed uint64) int {
	rng := rand.New(rand.NewPCG(seed, 11))
	cfg := randomConfig(rng)
	latency := 10*time.Second + time.Duration(rng.IntN(231))*time.Second
	offset := time.Duration(rng.IntN(60)) * time.Second
	cfg.StaleAfter = max(cfg.StaleAfter, latency+2*minute) // the newest datapoint is at most latency + 2 minutes old
	startAt := int32(0)
	if rng.IntN(4) > 0 {
		startAt = int32(1 + rng.IntN(4000))
	}
	w := newWorld(unlimited+1, latency, maprun.Settings{MaxConcurrency: startAt}, 1e12)
	base := startAt
	if base < cfg.MinConcurrency || base > cfg.MaxConcurrency {
		base = cfg.InitialConcurrency
	}
	g := min(cfg.GrowthFactor, cfg.MaxStepUp)
	steps := int(math.Ceil(math.Log(float64(cfg.MaxConcurrency)/float64(base))/math.Log(g))) + 1
	bound := (steps + 1) * (int(math.Ceil(latency.Minutes())) + 4)
	var st State
	var limits []int32
	for k := range bound {
		now := at(k).Add(offset + time.Duration(rng.IntN(16))*time.Second)
		d := Decide(cfg, st, w.observe(now))
		if d.Update {
			w.set(now, d.New)
		}
		st = d.State
		limits = append(limits, d.New.MaxConcurrency)
		if l := d.New.MaxConcurrency; l == 0 && cfg.Unlimited || float64(l)*(1+cfg.Band) >= float64(cfg.MaxConcurrency) {
			return k + 1
		}
	}
	t.Fatalf("seed %d (reproduce: liveSequence(t, %d)): ticks at :%02d, datapoints %s late, policy %+v: limit %d after %d ticks, short of the maximum %d; limits %v",
		seed, seed, int(offset.Seconds()), latency, cfg, limits[len(limits)-1], bound, cfg.MaxConcurrency, limits)
	return bound
}

// TestPropertyLiveness checks liveSequence from fixed seeds: a failure names its seed.
func TestPropertyLiveness(t *testing.T) {
	const sequences = 2000
	decisions := 0
	for seed := range uint64(sequences) {
		decisions += liveSequence(t, seed)
	}
	t.Logf("%d sequences, %d decisions", sequences, decisions)
}
