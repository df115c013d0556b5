// Package bench measures strategies on simulated Map Runs: it runs the real
// tuner and the baselines through internal/lab/sim, computes the figures, and
// writes the report and plots.
package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/tuner"
)

// TunerStrategy runs the real tuner, the same code the tune Lambda runs,
// against a simulated account: the world's Step Functions and CloudWatch
// APIs, an in-memory registry, and the scenario's policies. The parent
// executions are registered as the watch function would register them.
//
// Run it with a tick of LookEvery: as the tune function does, it runs the
// full pass (Tuner.Tick) once a period and looks (Tuner.Look) at the
// ticks in between.
func TunerStrategy(period time.Duration) sim.NewStrategy {
	return func(w *sim.World) sim.Strategy {
		s := &tunerStrategy{w: w, period: period}
		s.err = s.init(period)
		return s
	}
}

// DefaultPolicyRow names the tuner's pass under the default policy in the
// report (ScenarioReport.DefaultPolicy).
const DefaultPolicyRow = "tuner, default policy"

// defaultAlready reports whether the tuner runs scenario sc under the
// default policy anyway: it gives no policy document, and every run it
// opts in is tagged with policy.DefaultPolicy.
func defaultAlready(sc sim.Scenario) bool {
	if doc, err := sc.PolicyYAML(); err != nil || len(doc) > 0 {
		return false
	}
	for _, r := range sc.Runs {
		if name := r.Tags[policy.TagKey]; name != "" && name != policy.DefaultPolicy {
			return false
		}
	}
	return true
}

// defaultPolicyTuner is TunerStrategy under the policy a user gets who
// names none: the built-in set (policy.Default), whatever the scenario's
// policy document says, every opted-in run under policy.DefaultPolicy.
// No throttle metric is named, so the tuner sees the downstream only
// through the children's histories, their failures and the live counts.
func defaultPolicyTuner(period time.Duration) sim.NewStrategy {
	return func(w *sim.World) sim.Strategy {
		s := &tunerStrategy{w: w, period: period, defaultPolicy: true}
		s.err = s.init(period)
		return s
	}
}

// tunerConfig is the tuner's Config in the benchmark, with period its
// period: the Region of the simulated account, the default budget
// fraction.
func tunerConfig(period time.Duration) tuner.Config {
	return tuner.Config{Owner: "bench", Region: "us-east-1", Period: period}
}

// LookEvery is the tuner's tick in the simulator: the tune function's
// looks within its period (tuner.DefaultLookEvery).
const LookEvery = tuner.DefaultLookEvery

// tickOf is the simulator's tick for a strategy: LookEvery for the tuner,
// TickPeriod for the others.
func tickOf(s Strategy) time.Duration {
	if s.Name == StrategyTuner {
		return LookEvery
	}
	return TickPeriod
}

type tunerStrategy struct {
	w          *sim.World
	tuner      *tuner.Tuner
	store      *registry.Memory
	ticks      ticks
	registered bool
	err        error
	// noHints runs the tuner without capacity hints, as a stack deployed
	// with CapacityHints=Disabled.
	noHints bool
	// defaultPolicy runs the tuner under the built-in policies (see
	// defaultPolicyTuner).
	defaultPolicy bool
	// period is the tuner's period, and next the instant of its next
	// full pass.
	period time.Duration
	next   time.Time
}

func (s *tunerStrategy) init(period time.Duration) error {
	doc, err := s.w.Scenario().PolicyYAML()
	if err != nil {
		return fmt.Errorf("bench: scenario policy: %w", err)
	}
	pols := policy.Default()
	if len(doc) > 0 && !s.defaultPolicy {
		if pols, err = policy.Parse(s.w.Scenario().Name+" policy", doc); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	if s.store, err = registry.NewMemory(registry.Config{}); err != nil {
		return err
	}
	s.tuner, err = tuner.New(tunerConfig(period),
		tuner.Deps{SFN: s.w.SFN(), CloudWatch: s.w.CloudWatch(), Lambda: s.lambda(), Store: s.store, Policies: pols})
	return err
}

// Step registers the parents on the first call, then runs the full pass
// when a period starts and a look otherwise.
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
			if s.defaultPolicy {
				name = policy.DefaultPolicy
			}
			e := registry.Execution{ARN: p.ExecutionARN, StateMachineARN: p.StateMachineARN, Status: registry.StatusRunning, Policy: name, UpdatedAt: now}
			if _, err := s.store.PutExecution(ctx, e); err != nil {
				return fmt.Errorf("bench: register %s: %w", p.ExecutionARN, err)
			}
		}
		s.registered = true
	}
	var (
		rep  tuner.Report
		err  error
		what = "look"
	)
	if now.Before(s.next) {
		rep = s.tuner.Look(ctx, now)
	} else {
		what, s.next = "tick", now.Add(s.period)
		if rep, err = s.tuner.Tick(ctx, now); err != nil {
			return err
		}
	}
	s.ticks.record(now, rep, what == "tick")
	if len(rep.Errors) > 0 {
		return fmt.Errorf("bench: %s at %s: %s", what, now.Format(time.TimeOnly), rep.Errors[0])
	}
	return nil
}

// lambda is the Lambda API the tuner reads capacity hints from; nil when
// hints are off.
func (s *tunerStrategy) lambda() observe.FunctionAPI {
	if s.noHints {
		return nil
	}
	return s.w.Lambda()
}
