package bench

import (
	"context"
	"runtime"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// openRunsWarmup is how far the world runs before a tick is measured: every
// run of thousand-runs has started by then (the last at 10 min), and the
// tuner has discovered and decided them for a few ticks.
const openRunsWarmup = 15 * time.Minute

// BenchmarkTickOpenRuns measures one tuner.Tick, the tune function's work,
// at 1,000 open Map Runs: the scenario thousand-runs, ticked every minute
// from its start to openRunsWarmup, then one tick a minute measured, each
// after the world advanced a minute (not measured). The simulated APIs and
// the in-memory registry answer in the same process, so ns/op and B/op
// count their work too: an upper bound of the tick's own. heap-MB is the
// live heap before a tick (world, registry and tuner; after a collection),
// the most over the ticks; B/op what a tick allocates on top of it.
func BenchmarkTickOpenRuns(b *testing.B) {
	sc := loadScenario(b, "thousand-runs")
	ctx := context.Background()
	var (
		w *sim.World
		s *tunerStrategy
	)
	start := func() {
		w = sim.New(sc, 1)
		s = TunerStrategy(TickPeriod)(w).(*tunerStrategy)
		w.Start()
		w.Advance(0)
		for w.Now().Sub(sc.Start) < openRunsWarmup {
			if err := s.Step(ctx, w.Now()); err != nil {
				b.Fatal(err)
			}
			w.Advance(TickPeriod)
		}
	}
	start()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var (
		heap  uint64
		cpu   time.Duration
		ticks int
	)
	open := len(sc.Runs)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		w.Advance(TickPeriod)
		if w.Done() {
			start()
		}
		running := 0
		for _, r := range w.Result().Runs {
			if r.Status == "RUNNING" {
				running++
			}
		}
		open = min(open, running)
		runtime.GC()
		metrics.Read(sample)
		heap = max(heap, sample[0].Value.Uint64())
		before := cpuTime(b)
		b.StartTimer()
		if err := s.Step(ctx, w.Now()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime(b) - before
		ticks++
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(ticks), "cpu-ms/op")
	b.ReportMetric(float64(open), "open-runs")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
