package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/tuner"
)

type traceStrategy struct{ tunerStrategy }

func TestZZTrace(t *testing.T) {
	file := os.Getenv("TRACE_SCENARIO")
	if file == "" {
		t.Skip("debug")
	}
	seed, _ := strconv.Atoi(os.Getenv("TRACE_SEED"))
	sc, err := sim.LoadScenario(file)
	if err != nil {
		t.Fatal(err)
	}
	w := sim.New(sc, uint64(seed))
	s := &tunerStrategy{w: w, period: time.Minute}
	doc, _ := sc.PolicyYAML()
	pols := policy.Default()
	if len(doc) > 0 {
		pols, _ = policy.Parse("p", doc)
	}
	s.store, _ = registry.NewMemory(registry.Config{})
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(g []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case "time", "level", "mapRunArn", "policy", "signals":
			return slog.Attr{}
		}
		return a
	}})
	s.tuner, err = tuner.New(tuner.Config{Owner: "bench", Region: "us-east-1"}, tuner.Deps{SFN: w.SFN(), CloudWatch: w.CloudWatch(), Lambda: s.lambda(), Store: s.store, Policies: pols, Log: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	res := sim.Run(context.Background(), w, s, LookEvery)
	for _, r := range res.Runs {
		fmt.Printf("run %s %s makespan %s throttled %.2f%% failedT %d\n", r.Name, r.Status, r.Makespan, r.ThrottledPercent, r.FailedThrottle)
		for i, p := range r.Series {
			if i%1 == 0 {
				fmt.Printf("  %+v\n", p)
			}
		}
	}
}
