// Package bench measures strategies on simulated Map Runs: it runs the real
// tuner and the baselines through internal/sim, computes the figures, and
// writes the report and plots.
package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/sim"
	"github.com/maptuner/maptuner/internal/tuner"
)

// TunerStrategy runs the real tuner, the same code the tune Lambda runs,
// against a simulated account: the world's Step Functions and CloudWatch
// APIs, an in-memory registry, and the scenario's policies. The parent
// executions are registered as the watch function would register them.
func TunerStrategy(period time.Duration) sim.NewStrategy {
	return func(w *sim.World) sim.Strategy {
		s := &tunerStrategy{w: w}
		s.err = s.init(period)
		return s
	}
}

type tunerStrategy struct {
	w          *sim.World
	tuner      *tuner.Tuner
	store      *registry.Memory
	ticks      ticks
	registered bool
	err        error
}

func (s *tunerStrategy) init(period time.Duration) error {
	doc, err := s.w.Scenario().PolicyYAML()
	if err != nil {
		return fmt.Errorf("bench: scenario policy: %w", err)
	}
	pols := policy.Default()
	if len(doc) > 0 {
		if pols, err = policy.Parse(s.w.Scenario().Name+" policy", doc); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	if s.store, err = registry.NewMemory(registry.Config{}); err != nil {
		return err
	}
	s.tuner, err = tuner.New(tuner.Config{Owner: "bench", Region: "us-east-1", Period: period},
		tuner.Deps{SFN: s.w.SFN(), CloudWatch: s.w.CloudWatch(), Store: s.store, Policies: pols})
	return err
}

// Step registers the parents on the first call, then runs one tick.
func (s *tunerStrategy) Step(ctx context.Context, now time.Time) error {
	if s.err != nil {
		return s.err
	}
	if !s.registered {
		tags := map[string]map[string]string{}
		for _, r := range s.w.Scenario().Runs {
			tags[r.Name] = r.Tags
		}
		for _, p := range s.w.Parents() {
			name := tags[p.Run][policy.TagKey]
			if name == "" {
				continue
			}
			e := registry.Execution{ARN: p.ExecutionARN, StateMachineARN: p.StateMachineARN, Status: registry.StatusRunning, Policy: name, UpdatedAt: now}
			if _, err := s.store.PutExecution(ctx, e); err != nil {
				return fmt.Errorf("bench: register %s: %w", p.ExecutionARN, err)
			}
		}
		s.registered = true
	}
	rep, err := s.tuner.Tick(ctx, now)
	if err != nil {
		return err
	}
	s.ticks.record(now, rep)
	if len(rep.Errors) > 0 {
		return fmt.Errorf("bench: tick at %s: %s", now.Format(time.TimeOnly), rep.Errors[0])
	}
	return nil
}
