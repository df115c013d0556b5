package tuner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/registry"
)

// The state machine tags that pause or pin every run of the state machine,
// as the operator's controls do. They are read with the opt-in tag, every
// tagRecheckEvery, and kept in the store as controls of source
// registry.SourceTag.
const (
	// PauseTagKey pauses the runs when its value is "true" (any case);
	// "false" does not.
	PauseTagKey = "maptuner:pause"
	// PinTagKey pins maxConcurrency to its value, a whole number >= 1;
	// values above registry.MaxPin are held at registry.MaxPin.
	PinTagKey = "maptuner:pin"
)

// controlStore is what steering needs of the store.
type controlStore interface {
	Controls(ctx context.Context) ([]registry.Control, error)
	PutControl(ctx context.Context, c registry.Control) error
}

// steering is one tick's view of the operators' controls that hold
// something, read from the store once, when first needed.
type steering struct {
	loaded bool
	// err is why the controls could not be read; runs are then held.
	err error
	// held are the controls, by target, then source.
	held map[string]map[registry.Source]registry.Control
}

// steering returns the tick's controls, reading them on first use. An
// undecodable control is reported and the others are used.
func (t *Tuner) steering(tc *tick) *steering {
	s := &tc.steer
	if s.loaded {
		return s
	}
	s.loaded, s.held = true, map[string]map[registry.Source]registry.Control{}
	cs, err := t.deps.Store.Controls(tc.work)
	if err != nil {
		t.fail(tc.rep, "read the controls", err)
		if !errors.Is(err, registry.ErrCorrupt) {
			s.err = err
		}
	}
	for _, c := range cs {
		s.set(c)
	}
	return s
}

func (s *steering) set(c registry.Control) {
	if !c.Holds() {
		delete(s.held[c.Target], c.Source)
		return
	}
	if s.held[c.Target] == nil {
		s.held[c.Target] = map[registry.Source]registry.Control{}
	}
	s.held[c.Target][c.Source] = c
}

// tagControl turns the tags of state machine sm, just read, into its
// control of source tag, and stores it when it changed. A tag whose value
// does not parse is reported and counts as absent.
func (t *Tuner) tagControl(tc *tick, sm string, tags map[string]string) {
	c, errs := parseTags(sm, tags)
	for _, err := range errs {
		t.fail(tc.rep, "read the steering tags of "+sm, err)
	}
	s := t.steering(tc)
	if s.err != nil {
		return
	}
	old, had := s.held[sm][registry.SourceTag]
	if !had && !c.Holds() || had && old.Paused == c.Paused && old.Pin == c.Pin {
		return
	}
	c.At = tc.now
	if err := t.deps.Store.PutControl(tc.work, c); err != nil {
		t.fail(tc.rep, "keep the steering tags of "+sm, err)
		return
	}
	s.set(c)
	t.deps.Log.Info("state machine steering tags changed", "stateMachine", sm, "paused", c.Paused, "pin", c.Pin)
}

// parseTags reads the steering tags of state machine sm into a control of
// source tag, without its instant; the errors name the tags ignored.
func parseTags(sm string, tags map[string]string) (registry.Control, []error) {
	c := registry.Control{Target: sm, Source: registry.SourceTag}
	var errs []error
	var by []string
	if v, ok := tags[PauseTagKey]; ok {
		switch {
		case strings.EqualFold(v, "true"):
			c.Paused = true
			by = append(by, PauseTagKey+"="+v)
		case !strings.EqualFold(v, "false"):
			errs = append(errs, fmt.Errorf("tag %s=%q is neither true nor false: ignored", PauseTagKey, v))
		}
	}
	if v, ok := tags[PinTagKey]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch {
		case err != nil || n < 1:
			errs = append(errs, fmt.Errorf("tag %s=%q is not a whole number >= 1: ignored", PinTagKey, v))
		case n > registry.MaxPin:
			c.Pin = registry.MaxPin
			by = append(by, fmt.Sprintf("%s=%s, held at %d", PinTagKey, v, registry.MaxPin))
		default:
			c.Pin = int32(n)
			by = append(by, PinTagKey+"="+v)
		}
	}
	if len(by) > 0 {
		c.By = "tag " + strings.Join(by, ", ")
	}
	return c, errs
}

// governing returns the control that holds the run of plan p, of the run
// or of its state machine; false when none does.
func (s *steering) governing(p plan) (registry.Control, bool) {
	var cs []registry.Control
	for _, target := range []string{p.run.ARN, p.arn.StateMachineARN()} {
		for _, c := range s.held[target] {
			cs = append(cs, c)
		}
	}
	return registry.Governing(p.run.ARN, cs)
}

// steer returns the decision the operators' controls make for the running
// run of plan p, whose state is st and snapshot snap, and true; or false
// when no control holds it, and control.Decide decides. A pause (of the
// run, or of its state machine, by the command or by tag) keeps the limit
// and what the controller learned as they are; only the item counts of
// the observation are kept, for the throughput. A pin drives maxConcurrency to the value
// pinned and holds it there, whatever the policy's range; the limit set
// enters the state's history as maptuner's own, so that after the unpin
// the controller goes on from it. When the controls cannot be read, the
// run is held as if paused.
func (t *Tuner) steer(tc *tick, p plan, st control.State, snap maprun.Snapshot) (control.Decision, bool) {
	if snap.Status != maprun.StatusRunning {
		return control.Decision{}, false
	}
	cur := snap.Settings
	d := control.Decision{Old: cur, New: cur, State: st, Signals: control.Signals{
		Running: snap.Items.Running, FailurePercent: snap.Items.FailurePercent(),
	}}
	// What the controller learned stays; the counts move on, so that the
	// throughput is measured from this observation on.
	if dt := tc.now.Sub(st.PrevAt).Seconds(); !st.PrevAt.IsZero() && dt > 0 {
		d.Signals.Throughput = float64(snap.Items.Done()-st.Prev.Done()) / dt
	}
	d.State.Prev, d.State.PrevAt = snap.Items, tc.now
	s := t.steering(tc)
	if s.err != nil {
		d.Reason, d.Message = control.ReasonMissingData, "the operators' controls could not be read: holding the run as it is"
		return d, true
	}
	c, ok := s.governing(p)
	switch {
	case !ok:
		return control.Decision{}, false
	case c.Paused:
		d.Reason = control.ReasonPaused
		d.Message = fmt.Sprintf("paused by %s: observed, not updated; maxConcurrency stays %d.", describe(c), cur.MaxConcurrency)
		return d, true
	}
	d.Reason, d.New.MaxConcurrency, d.Update = control.ReasonPinned, c.Pin, c.Pin != cur.MaxConcurrency
	d.Message = fmt.Sprintf("pinned at %d by %s", c.Pin, describe(c))
	if cfg := p.policy.Control; c.Pin < cfg.MinConcurrency || c.Pin > cfg.MaxConcurrency {
		d.Message += fmt.Sprintf(", outside the policy's range [%d, %d]: an operator's pin overrides it", cfg.MinConcurrency, cfg.MaxConcurrency)
	}
	d.Message += "."
	if d.Update {
		d.State.History = append(append([]control.Setting(nil), st.History...), control.Setting{From: tc.now, MaxConcurrency: c.Pin})
	}
	return d, true
}

// describe names who set a control, for a decision's sentence.
func describe(c registry.Control) string {
	what := "the run's control"
	if kind, _ := registry.ParseTarget(c.Target); kind == registry.TargetStateMachine {
		what = "the state machine's control"
	}
	switch {
	case c.Source == registry.SourceTag:
		what = "the state machine's " + c.By
	case c.By != "":
		what += " (" + c.By + ")"
	}
	return what + " since " + c.At.UTC().Format("2006-01-02 15:04:05Z")
}

// logged reports whether decision d, steered or not, is to be added to
// the run's decision log after prev: an update always; a hold when its
// reason or setting changes (every decision is in the log lines), and a
// hold by an operator's control when its message changes too.
func logged(prev *control.Decision, d control.Decision, steered bool) bool {
	return d.Update || prev == nil || prev.Reason != d.Reason || prev.New != d.New || steered && prev.Message != d.Message
}
