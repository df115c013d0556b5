package tuner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/maptuner/maptuner/internal/budget"
)

// ErrMalformed is wrapped by the error about a trigger event that cannot be read.
var ErrMalformed = errors.New("malformed schedule event")

// Handler is the tune function: one period per invocation. It runs the
// full pass (Tuner.Tick), then, while some run needs looks, waits for each
// next instant of Config.LookEvery and looks (Tuner.Look), until the
// period ends or the invocation's deadline, less Config.SaveReserve, is
// too near. An invocation with nothing to look at returns at once.
type Handler struct {
	Tuner *Tuner
	// Now is the wall clock.
	Now func() time.Time
	// EventTime takes the tick's instant from the event's "time" field
	// instead of Now, for rehearsals against a simulated account. The
	// simulated clock moves only between invocations, so an invocation is
	// then its full pass only: no looks.
	EventTime bool
	// Wait blocks until d has passed, or ctx is done, and reports whether
	// d passed; nil means a timer.
	Wait func(ctx context.Context, d time.Duration) bool
}

// wait is a ctx-aware timer: Handler.Wait's default.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// scheduleEvent is what the tune function reads of its trigger: an
// EventBridge scheduled event, or any JSON object carrying a time.
type scheduleEvent struct {
	DetailType *string    `json:"detail-type"`
	Time       *time.Time `json:"time"`
}

// MaxListed is how many updates, errors and warnings the Handler's report
// lists at most (Report.LeftOut counts the others).
const MaxListed = 10

// Handle runs one tick, writes its summary (Tuner.Health), and returns
// the tick's report, summarized: its counts, the first MaxListed
// updates, errors and warnings (see Report.LeftOut).
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Report, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Report{}, fmt.Errorf("tune: %w: want a JSON object, got %.40q", ErrMalformed, raw)
	}
	var ev scheduleEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Report{}, fmt.Errorf("tune: %w: %v", ErrMalformed, err)
	}
	if ev.DetailType != nil && *ev.DetailType != "Scheduled Event" {
		return Report{}, fmt.Errorf("tune: %w: detail-type %q, want \"Scheduled Event\" (status changes go to the watch function)", ErrMalformed, *ev.DetailType)
	}
	began := h.Now()
	now := began
	if h.EventTime {
		if ev.Time == nil {
			return Report{}, fmt.Errorf("tune: %w: the event clock is on and the event has no time", ErrMalformed)
		}
		now = *ev.Time
	}
	rep, err := h.Tuner.Tick(ctx, now)
	if err == nil && !h.EventTime {
		h.look(ctx, began, &rep)
	}
	h.Tuner.Health(now, rep, err, h.Now().Sub(began))
	rep.summarize()
	return rep, err
}

// summarize keeps of r's lists the first MaxListed updates, errors and
// warnings, and counts what it leaves out in r.LeftOut.
func (r *Report) summarize() {
	var left LeftOut
	n := len(r.Decisions)
	r.Decisions = slices.DeleteFunc(r.Decisions, func(d RunDecision) bool { return !d.Decision.Update })
	r.Decisions, left.Decisions = firstOf(r.Decisions), n-min(len(r.Decisions), MaxListed)
	r.Errors, left.Errors = firstOf(r.Errors), max(0, len(r.Errors)-MaxListed)
	r.Warnings, left.Warnings = firstOf(r.Warnings), max(0, len(r.Warnings)-MaxListed)
	if left != (LeftOut{}) {
		r.LeftOut = &left
	}
}

// firstOf is the first MaxListed elements of s.
func firstOf[T any](s []T) []T { return s[:min(len(s), MaxListed):min(len(s), MaxListed)] }

// look runs the looks of the period the full pass at began started, and
// adds them to rep.
func (h *Handler) look(ctx context.Context, began time.Time, rep *Report) {
	cfg := h.Tuner.cfg
	sleep := h.Wait
	if sleep == nil {
		sleep = wait
	}
	deadline, bounded := ctx.Deadline()
	for rep.Looking > 0 && ctx.Err() == nil {
		// The next instant of the period's look grid still ahead.
		elapsed := h.Now().Sub(began)
		next := (elapsed/cfg.LookEvery + 1) * cfg.LookEvery
		if next >= cfg.Period || bounded && !began.Add(next).Before(deadline.Add(-cfg.SaveReserve)) {
			return
		}
		if !sleep(ctx, next-elapsed) {
			return
		}
		rep.add(h.Tuner.Look(ctx, h.Now()))
	}
}

// add adds the report of a look to r: its counts, its decisions that
// change something, its errors and calls.
func (r *Report) add(look Report) {
	r.Discovered += look.Discovered
	r.Decided += look.Decided
	r.Updated += look.Updated
	r.Ended += look.Ended
	r.Looks += look.Looks
	r.Looking = look.Looking
	for why, n := range look.Skipped {
		if r.Skipped == nil {
			r.Skipped = map[string]int{}
		}
		r.Skipped[why] += n
	}
	for _, d := range look.Decisions {
		if d.Decision.Update {
			r.Decisions = append(r.Decisions, d)
		}
	}
	for api, n := range look.Calls {
		if r.Calls == nil {
			r.Calls = map[budget.API]int{}
		}
		r.Calls[api] += n
	}
	r.Errors = append(r.Errors, look.Errors...)
	r.Warnings = append(r.Warnings, look.Warnings...)
}
