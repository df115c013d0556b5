package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/maptuner/maptuner/internal/actuate"
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/status"
)

func cmdStatus(ctx context.Context, c cli, e *env, o options, _ []string) error {
	now := c.now()
	rows, err := status.Read(ctx, e.store, o.all, now)
	if err != nil && rows == nil {
		return err
	}
	if o.output == "json" {
		if werr := status.WriteJSON(c.stdout, rows); werr != nil {
			return werr
		}
	} else if werr := status.WriteTable(c.stdout, rows, now); werr != nil {
		return werr
	}
	return err // items that did not decode: shown, and named
}

func cmdExplain(ctx context.Context, c cli, e *env, o options, args []string) error {
	arn := args[0]
	if err := checkRunARN(arn); err != nil {
		return err
	}
	now := c.now()
	ex, err := status.Explain(ctx, e.store, arn, o.limit, now)
	if errors.Is(err, registry.ErrNotFound) {
		return notTracked(e, arn)
	}
	if err != nil {
		return err
	}
	if o.output == "json" {
		return status.WriteJSON(c.stdout, ex)
	}
	return status.WriteExplanation(c.stdout, ex, now)
}

func cmdPause(ctx context.Context, c cli, e *env, _ options, args []string) error {
	return setControl(ctx, c, e, args[0], func(ctl *registry.Control) string {
		ctl.Paused = true
		return "paused: the next tick observes it and updates nothing"
	})
}

func cmdResume(ctx context.Context, c cli, e *env, _ options, args []string) error {
	return setControl(ctx, c, e, args[0], func(ctl *registry.Control) string {
		ctl.Paused = false
		return "resumed: the next tick tunes it"
	})
}

func cmdPin(ctx context.Context, c cli, e *env, _ options, args []string) error {
	n, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || n < 1 {
		return fmt.Errorf("%w: pin %q: want a whole number from 1 to %d", errUsage, args[1], registry.MaxPin)
	}
	clamped := ""
	if n > registry.MaxPin {
		clamped = fmt.Sprintf(" (%d asked: %d is the most a Map Run takes)", n, registry.MaxPin)
		n = registry.MaxPin
	}
	return setControl(ctx, c, e, args[0], func(ctl *registry.Control) string {
		ctl.Pin = int32(n)
		return fmt.Sprintf("pinned at %d%s: the next tick sets maxConcurrency to it and holds it there", n, clamped)
	})
}

func cmdUnpin(ctx context.Context, c cli, e *env, _ options, args []string) error {
	return setControl(ctx, c, e, args[0], func(ctl *registry.Control) string {
		ctl.Pin = 0
		return "unpinned: the next tick tunes it from the pinned limit"
	})
}

// setControl changes the operator's control of target with change, which
// says what it did, and writes it. The target must be a run the tuner
// tracks and that has not ended, or a state machine it knows.
func setControl(ctx context.Context, c cli, e *env, target string, change func(*registry.Control) string) error {
	if err := checkTarget(ctx, e, target); err != nil {
		return err
	}
	ctl, err := e.store.GetControl(ctx, target, registry.SourceOperator)
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		return err
	}
	ctl.Target, ctl.Source = target, registry.SourceOperator
	said := change(&ctl)
	if ctl.By, err = e.caller(ctx); err != nil {
		return err
	}
	ctl.At = c.now()
	if err := e.store.PutControl(ctx, ctl); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s %s\n", target, said)
	if !ctl.Holds() {
		if tag, err := e.store.GetControl(ctx, target, registry.SourceTag); err == nil && tag.Holds() {
			fmt.Fprintf(c.stdout, "note: its state machine's tags still hold it (%s): remove them to release it\n", tag.By)
		}
	}
	return nil
}

// checkTarget checks that target is a Map Run the tuner tracks and that
// has not ended, or a state machine it knows.
func checkTarget(ctx context.Context, e *env, target string) error {
	kind, err := registry.ParseTarget(target)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if kind == registry.TargetStateMachine {
		sms, err := e.store.StateMachines(ctx)
		if err != nil && !errors.Is(err, registry.ErrCorrupt) {
			return err
		}
		for _, sm := range sms {
			if sm.ARN == target {
				return nil
			}
		}
		return fmt.Errorf("state machine %s is not known to maptuner (table %s): it has no %s tag, or none of its executions was seen", target, e.table, observe.PolicyTagKey)
	}
	r, err := e.store.GetRun(ctx, target)
	if errors.Is(err, registry.ErrNotFound) {
		return notTracked(e, target)
	}
	if err != nil {
		return err
	}
	if r.Ended {
		return fmt.Errorf("map run %s has ended (%s): nothing to steer", target, r.EndReason)
	}
	return nil
}

func checkRunARN(arn string) error {
	if _, err := maprun.ParseARN(arn); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return nil
}

func notTracked(e *env, arn string) error {
	return fmt.Errorf("map run %s is not tracked by maptuner (table %s): check the ARN, or list the runs with 'maptuner status --all'", arn, e.table)
}

// cmdRollback pauses the run, then sets it back to the settings it had
// when the tuner first saw it, with one UpdateMapRun, and logs that.
func cmdRollback(ctx context.Context, c cli, e *env, _ options, args []string) error {
	arn := args[0]
	if err := checkRunARN(arn); err != nil {
		return err
	}
	r, err := e.store.GetRun(ctx, arn)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return notTracked(e, arn)
	case err != nil:
		return err
	case r.State.PrevAt.IsZero():
		return fmt.Errorf("map run %s has not been observed yet: the settings it started with are not known", arn)
	}
	// Paused first, so that no later tick undoes the rollback.
	if err := setControl(ctx, c, e, arn, func(ctl *registry.Control) string {
		ctl.Paused = true
		return "paused, for the rollback"
	}); err != nil {
		return err
	}
	snap, err := (&observe.Observer{SFN: e.sfn}).Describe(ctx, arn)
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	start := r.State.Start
	sent, err := (&actuate.Applier{SFN: e.sfn}).Apply(ctx, actuate.Update{
		MapRunARN: arn, Old: snap.Settings, New: start,
		// The run started unlimited: it may be unlimited again.
		AllowUnlimited: start.MaxConcurrency == 0,
	})
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	by, err := e.caller(ctx)
	if err != nil {
		return err
	}
	d := control.Decision{
		Old: snap.Settings, New: start, Update: sent, Reason: control.ReasonRollback,
		Message: fmt.Sprintf("rolled back by %s to the settings the run started with; paused, so that the tuner does not undo it.", by),
	}
	if err := e.store.AppendDecision(ctx, arn, c.now(), d); err != nil {
		return fmt.Errorf("rollback done, not logged: %w", err)
	}
	if !sent {
		fmt.Fprintf(c.stdout, "%s already has the settings it started with: maxConcurrency %s, tolerated failures %g%%/%d\n",
			arn, status.Limit(start.MaxConcurrency), start.ToleratedFailurePercentage, start.ToleratedFailureCount)
		return nil
	}
	fmt.Fprintf(c.stdout, "%s rolled back: maxConcurrency %s -> %s, tolerated failures %g%%/%d -> %g%%/%d; 'maptuner resume %s' tunes it again\n",
		arn, status.Limit(snap.Settings.MaxConcurrency), status.Limit(start.MaxConcurrency),
		snap.Settings.ToleratedFailurePercentage, snap.Settings.ToleratedFailureCount,
		start.ToleratedFailurePercentage, start.ToleratedFailureCount, arn)
	return nil
}
