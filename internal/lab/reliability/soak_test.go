package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/registry"
)

// soakRuns Map Runs start over soakDay, one every soakDay/soakRuns, each
// against one of five functions of reserved concurrency 60.
const (
	soakRuns = 50
	soakDay  = 24 * time.Hour
	// soakFaultRate is the share of every outside call that fails, drawn
	// among throttle, 5xx and timeout.
	soakFaultRate = 0.03
	// maxStateBytes bounds the JSON of one run's state at any tick.
	maxStateBytes = 32 << 10
	// maxQuarterGrowth bounds how much the live heap may grow in each
	// quarter of the day, in bytes. What grows is the simulated world's
	// finished children (about 50 bytes each, 37,500 a quarter) and the
	// in-memory decision log (one item per decision, which DynamoDB expires
	// by TTL): linear in the work done, not in the state the tuner keeps.
	maxQuarterGrowth = 8 << 20
)

// soakScenario writes the day's scenario.
func soakScenario() string {
	var b strings.Builder
	b.WriteString("name: soak\nhorizon: 26h\ndownstreams:\n")
	for i := range 5 {
		fmt.Fprintf(&b, "  - name: fn-%d\n    concurrency: 60\n", i)
	}
	b.WriteString("runs:\n")
	for i := range soakRuns {
		fmt.Fprintf(&b, `  - stateMachine: job-%02d
    label: Items
    downstream: fn-%d
    delay: %s
    items: 3000
    duration: {dist: lognormal, median: 20s, sigma: 0.3}
    tags: {"maptuner:policy": default}
    maxConcurrency: 10
    toleratedFailurePercentage: 5
    retry: {interval: 2s, backoffRate: 2, maxAttempts: 6, jitter: FULL}
`, i, i%5, time.Duration(i)*soakDay/soakRuns)
	}
	b.WriteString(`policy:
  version: 1
  policies:
    default:
      throttleSignals:
`)
	for i := range 5 {
		fmt.Fprintf(&b, "        - {namespace: AWS/Lambda, metric: Throttles, dimensions: {FunctionName: fn-%d}, stat: Sum}\n", i)
	}
	return b.String()
}

// TestSoak runs 50 Map Runs over a simulated day with 3 % of every outside
// call failing, the registry in memory: the live heap stays flat, every
// run's state stays bounded, no call is throttled by the account's quotas,
// and every run is tracked from its start to its end.
func TestSoak(t *testing.T) {
	sc, err := sim.ParseScenario("soak", []byte(soakScenario()))
	if err != nil {
		t.Fatal(err)
	}
	mem, err := registry.NewMemory(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, sc, func(*injector) store { return mem })
	e.in.random(rand.New(rand.NewPCG(1, 2)), soakFaultRate, []fault{throttle, serverError, timeout})
	ctx := context.Background()

	var heap []uint64 // live heap after each quarter of the day
	maxState, ticks := 0, 0
	seen := map[string]bool{}
	for e.world.Now().Sub(sc.Start) < soakDay || !e.world.Done() {
		if _, err := e.tick(ctx); err != nil {
			// The registry in memory never fails; the tick must not either.
			t.Fatalf("tick at %s: %v", e.world.Now(), err)
		}
		ticks++
		runs, err := e.store.ActiveRuns(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			seen[r.ARN] = true
			b, err := json.Marshal(r.State)
			if err != nil {
				t.Fatal(err)
			}
			maxState = max(maxState, len(b))
		}
		if elapsed := e.world.Now().Sub(sc.Start); elapsed%(soakDay/4) == 0 && elapsed <= soakDay {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap = append(heap, ms.HeapAlloc)
		}
		if ticks > 2*int(soakDay/time.Minute) {
			t.Fatalf("the day did not end in %d ticks", ticks)
		}
	}

	res := e.world.Result()
	for _, r := range res.Runs {
		if r.Status != "SUCCEEDED" {
			t.Errorf("map run %s ended %s (%s: %s)", r.Name, r.Status, r.Error, r.Cause)
		}
		if !seen[r.MapRunARN] {
			t.Errorf("map run %s was never tracked", r.Name)
		}
	}
	if left, _ := e.store.ActiveRuns(ctx); len(left) > 0 {
		t.Errorf("%d runs still tracked after every run ended", len(left))
	}
	if maxState > maxStateBytes {
		t.Errorf("a run's state reached %d bytes, more than %d", maxState, maxStateBytes)
	}
	if res.API.TotalThrottled > 0 {
		t.Errorf("the account's quotas throttled %d calls: %v", res.API.TotalThrottled, res.API.Throttled)
	}
	if len(heap) != 4 {
		t.Fatalf("heap measured %d times, want once a quarter", len(heap))
	}
	for i := 1; i < len(heap); i++ {
		if heap[i] > heap[i-1]+maxQuarterGrowth {
			t.Errorf("live heap after each quarter of the day %v bytes: grew more than %d in quarter %d", heap, maxQuarterGrowth, i+1)
		}
	}
	t.Logf("%d ticks, %d faults injected, %d calls, heap %v, largest state %d bytes", ticks, e.in.injected(), res.API.TotalCalls, heap, maxState)
}
