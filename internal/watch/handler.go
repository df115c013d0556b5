package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

// Store is the state the watch function writes.
type Store interface {
	PutExecution(ctx context.Context, e registry.Execution) (bool, error)
	PutRun(ctx context.Context, r registry.Run) (bool, error)
	GetStateMachine(ctx context.Context, arn string, now time.Time) (registry.StateMachine, error)
	PutStateMachine(ctx context.Context, sm registry.StateMachine) error
}

var (
	_ Store = (*registry.DynamoDB)(nil)
	_ Store = (*registry.Memory)(nil)
)

// TagReader reads the opt-in tag of a state machine.
type TagReader interface {
	// PolicyTag returns the value of the maptuner:policy tag, and whether
	// the state machine has it.
	PolicyTag(ctx context.Context, stateMachineARN string) (policy string, ok bool, err error)
}

// Handler handles one EventBridge event. Its zero value is not usable: set
// every field.
type Handler struct {
	Store    Store
	Tags     TagReader
	Policies *policy.Set
	// Log gets one line per event; nil discards.
	Log *slog.Logger
	// Now is the clock; it stamps the records written.
	Now func() time.Time
}

// Result says what the handler did with an event.
type Result struct {
	// Action is one of registered, ended, duplicate, ignored.
	Action string `json:"action"`
	// Detail says in a sentence why.
	Detail string `json:"detail"`
}

// Handle parses an event and registers what it announces. A malformed event
// gets an error wrapping ErrMalformed and nothing is written.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Result, error) {
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ev, err := Parse(raw)
	if err != nil {
		log.Error("event refused", "error", err)
		return Result{}, fmt.Errorf("watch: %w", err)
	}
	now := h.Now()
	var smARN string
	switch ev.Kind {
	case KindStatusChange:
		smARN = ev.StateMachineARN
	case KindMapRunStarted:
		smARN = ev.MapRun.StateMachineARN()
	}
	name, res, err := h.optIn(ctx, smARN, now)
	if err != nil || res.Action != "" {
		if err == nil {
			log.Info("event ignored", "event", ev.ID, "stateMachine", smARN, "detail", res.Detail)
		}
		return res, err
	}

	switch ev.Kind {
	case KindStatusChange:
		e := registry.Execution{ARN: ev.ExecutionARN, StateMachineARN: ev.StateMachineARN, Status: ev.Status, Policy: name,
			StartedAt: ev.StartDate, StoppedAt: ev.StopDate, UpdatedAt: now}
		changed, err := h.Store.PutExecution(ctx, e)
		if err != nil {
			return Result{}, fmt.Errorf("watch: record execution %s (%s): %w", ev.ExecutionARN, ev.Status, err)
		}
		res = Result{Action: "duplicate", Detail: fmt.Sprintf("execution %s already recorded as %s or ended", ev.ExecutionARN, ev.Status)}
		if changed {
			res = Result{Action: "registered", Detail: fmt.Sprintf("execution %s is watched under policy %q", ev.ExecutionARN, name)}
			if e.Ended() {
				res = Result{Action: "ended", Detail: fmt.Sprintf("execution %s is %s: no longer watched", ev.ExecutionARN, ev.Status)}
			}
		}
	case KindMapRunStarted:
		arn := ev.MapRun.String()
		created, err := h.Store.PutRun(ctx, registry.Run{ARN: arn, Policy: name, DiscoveredAt: now})
		if err != nil {
			return Result{}, fmt.Errorf("watch: register map run %s: %w", arn, err)
		}
		res = Result{Action: "duplicate", Detail: fmt.Sprintf("map run %s was already registered", arn)}
		if created {
			res = Result{Action: "registered", Detail: fmt.Sprintf("map run %s is tuned under policy %q", arn, name)}
		}
	}
	log.Info("event handled", "event", ev.ID, "action", res.Action, "detail", res.Detail)
	return res, nil
}

// optIn returns the policy of an opted-in state machine, or an "ignored"
// Result for one that is not opted in or names an unknown policy. The tag is
// cached in the store, to spare the ListTagsForResource quota.
func (h *Handler) optIn(ctx context.Context, smARN string, now time.Time) (string, Result, error) {
	sm, err := h.Store.GetStateMachine(ctx, smARN, now)
	if errors.Is(err, registry.ErrNotFound) {
		name, ok, terr := h.Tags.PolicyTag(ctx, smARN)
		if terr != nil {
			return "", Result{}, fmt.Errorf("watch: read tags of %s: %w", smARN, terr)
		}
		sm = registry.StateMachine{ARN: smARN, Policy: name, OptedIn: ok, CheckedAt: now, SeenAt: now}
		if err := h.Store.PutStateMachine(ctx, sm); err != nil {
			return "", Result{}, fmt.Errorf("watch: cache tags of %s: %w", smARN, err)
		}
	} else if err != nil {
		return "", Result{}, fmt.Errorf("watch: read cached tags of %s: %w", smARN, err)
	}
	if !sm.OptedIn {
		return "", Result{Action: "ignored", Detail: fmt.Sprintf("state machine %s has no %s tag", smARN, policy.TagKey)}, nil
	}
	if _, err := h.Policies.Resolve(sm.Policy, ""); err != nil {
		if h.Log != nil {
			h.Log.Warn("state machine left untouched: its tag names an unknown policy", "stateMachine", smARN, "policy", sm.Policy, "error", err)
		}
		return "", Result{Action: "ignored", Detail: fmt.Sprintf("state machine %s: tag %s=%q: %v", smARN, policy.TagKey, sm.Policy, err)}, nil
	}
	return sm.Policy, Result{}, nil
}
