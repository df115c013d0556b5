package tuner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrMalformed is wrapped by the error about a trigger event that cannot be read.
var ErrMalformed = errors.New("malformed schedule event")

// Handler is the tune function: one tick per invocation.
type Handler struct {
	Tuner *Tuner
	// Now is the wall clock.
	Now func() time.Time
	// EventTime takes the tick's instant from the event's "time" field
	// instead of Now, for rehearsals against a simulated account.
	EventTime bool
}

// scheduleEvent is what the tune function reads of its trigger: an
// EventBridge scheduled event, or any JSON object carrying a time.
type scheduleEvent struct {
	DetailType *string    `json:"detail-type"`
	Time       *time.Time `json:"time"`
}

// Handle runs one tick, and writes its summary (Tuner.Health).
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
	now := h.Now()
	if h.EventTime {
		if ev.Time == nil {
			return Report{}, fmt.Errorf("tune: %w: the event clock is on and the event has no time", ErrMalformed)
		}
		now = *ev.Time
	}
	start := h.Now()
	rep, err := h.Tuner.Tick(ctx, now)
	h.Tuner.Health(now, rep, err, h.Now().Sub(start))
	return rep, err
}
