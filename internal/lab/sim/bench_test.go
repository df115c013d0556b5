package sim

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkScenario measures the CPU cost of one run of each shipped
// scenario, with one seed, under AIMD: a strategy that observes and acts
// through the simulated APIs every minute, as a tuner does.
func BenchmarkScenario(b *testing.B) {
	for _, f := range shippedScenarios(b) {
		sc, err := LoadScenario(f)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				w := New(sc, uint64(i))
				if res := Run(context.Background(), w, AIMD(AIMDConfig{})(w), time.Minute); len(res.Runs) == 0 {
					b.Fatal("no runs")
				}
			}
		})
	}
}
