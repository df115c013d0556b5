package tuner

// This file is the memory across runs: what earlier runs of a job
// learned, read at a run's first decision and kept for the next.

import (
	"errors"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/registry"
)

// prior reads what earlier runs of p's job learned, for the run's first
// decision; nil when nothing was, or it cannot be read now (the run then
// starts as a first run would).
func (t *Tuner) prior(tc *tick, p plan) *control.Prior {
	l, err := t.deps.Store.GetLearned(tc.work, p.arn.StateMachineARN(), p.arn.Label, p.policy.Policy)
	if errors.Is(err, registry.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.fail(tc.rep, "read what earlier runs of "+p.run.ARN+" learned", err)
		return nil
	}
	return &control.Prior{Limit: l.Limit, At: l.At, ItemTime: l.ItemTime.Seconds(), Run: l.RunARN}
}

// remember keeps what the run of plan p learned for the next run of its
// job, and reports whether it was kept. A store holding something learned
// later keeps it (that counts as kept).
func (t *Tuner) remember(tc *tick, p plan, l control.Prior) bool {
	_, err := t.deps.Store.PutLearned(tc.finish, registry.Learned{
		StateMachineARN: p.arn.StateMachineARN(), Label: p.arn.Label, Policy: p.policy.Policy,
		Limit: l.Limit, ItemTime: time.Duration(l.ItemTime * float64(time.Second)), At: l.At, RunARN: p.run.ARN,
	})
	if err != nil {
		t.fail(tc.rep, "remember what "+p.run.ARN+" learned", err)
		return false
	}
	return true
}
