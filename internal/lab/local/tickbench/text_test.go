package tickbench

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/tuner"
)

func TestWriteText(t *testing.T) {
	at := time.Date(2026, 1, 5, 0, 16, 0, 0, time.UTC)
	tick := func(i int, wall, cpu time.Duration, rss int64) Tick {
		return Tick{
			At: at.Add(time.Duration(i) * time.Minute), Open: 1000, Wall: wall, Duration: wall - 5*time.Millisecond, CPU: cpu, PeakRSS: rss,
			Report: tuner.Report{Tracked: 1000, Decided: 30, Updated: 2, Errors: []string{"x"}, LeftOut: &tuner.LeftOut{Errors: 3}},
		}
	}
	res := Result{Scenario: "thousand-runs", Seed: 1, DynamoDB: "moto_server", WarmupTicks: 16, Ticks: []Tick{
		tick(0, 3*time.Second, 400*time.Millisecond, 60<<20),
		tick(1, 2*time.Second, 1200*time.Millisecond, 70<<20),
		tick(2, 4*time.Second, 300*time.Millisecond, 50<<20),
		tick(3, 1*time.Second, 200*time.Millisecond, 40<<20),
	}}
	var b strings.Builder
	if err := WriteText(&b, res, Host{OS: "linux", Arch: "amd64", CPUs: 2, Load: 11.5}, "make bench-tick"); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"make bench-tick\n",
		"scenario thousand-runs seed 1: 16 warm-up ticks, then 4 measured",
		"DynamoDB on moto_server, one request at a time",
		"2 CPUs, load average 11.50 at the start",
		// A row: tick, open, tracked, decided, updated, errors (listed and left out), wall, duration, cpu, MB.
		"00:17  1000     1000       30        2       4     2000         1995    1200         70.0",
		// Medians of an even count are the mean of the middle two; max is the most.
		"median  2500  2495  350  55.0",
		"max  4000  3995  1200  70.0",
		"wall under 20s (met), CPU under 1s (MISSED), peak RSS under 128 MB (met)",
	} {
		if !strings.Contains(squeeze(text), squeeze(want)) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}

	if err := WriteText(&b, Result{}, Host{}, "x"); err == nil {
		t.Error("WriteText of no tick: no error")
	}
}

// squeeze collapses runs of spaces, so that the test does not depend on
// the columns' widths.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Bootstrap: "b"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Warmup != DefaultWarmup || c.Ticks != DefaultTicks || c.Table != DefaultTable || c.Progress == nil {
		t.Errorf("withDefaults = %+v, want the defaults", c)
	}
	for name, bad := range map[string]Config{
		"no bootstrap":          {},
		"negative warm-up":      {Bootstrap: "b", Warmup: -time.Minute},
		"negative ticks":        {Bootstrap: "b", Ticks: -1},
		"endpoint and dynalite": {Bootstrap: "b", DynamoDB: "http://127.0.0.1:1", Dynalite: "cli.js"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := bad.withDefaults(); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("withDefaults(%+v) = %v, want ErrInvalidConfig", bad, err)
			}
		})
	}
}
