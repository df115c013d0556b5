package tuner

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/registry"
)

// steered starts a tuned run (first tick: Initial, limit 10) and returns
// the environment, its tuner and the instant of the next tick.
func steered(t *testing.T) (*env, *Tuner, time.Time) {
	t.Helper()
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	e.watchExec(t, "default")
	tu := e.tuner(t, Config{})
	if rep, err := tu.Tick(context.Background(), now); err != nil || rep.Updated != 1 {
		t.Fatalf("first tick: %+v, %v", rep, err)
	}
	return e, tu, now.Add(time.Minute)
}

func (e *env) control(t *testing.T, c registry.Control) {
	t.Helper()
	if c.At.IsZero() {
		c.At = now
	}
	if err := e.store.PutControl(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

func (e *env) limit(t *testing.T) int32 {
	t.Helper()
	e.acct.mu.Lock()
	defer e.acct.mu.Unlock()
	return e.acct.runs[runARN].MaxConcurrency
}

func (e *env) logged(t *testing.T) []control.Decision {
	t.Helper()
	ds, err := e.store.Decisions(context.Background(), runARN, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func tickOnce(t *testing.T, tu *Tuner, at time.Time) Report {
	t.Helper()
	rep, err := tu.Tick(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 0 {
		t.Fatalf("tick at %s: errors %v", at, rep.Errors)
	}
	return rep
}

// TestPauseHoldsTheRun: a paused run is observed, never updated, and its
// state is kept; the pause is logged once, and the run is tuned again
// once resumed.
func TestPauseHoldsTheRun(t *testing.T) {
	for _, target := range []string{runARN, smARN} {
		t.Run(target[strings.LastIndex(target, ":")+1:], func(t *testing.T) {
			e, tu, at := steered(t)
			before, err := e.store.GetRun(context.Background(), runARN)
			if err != nil {
				t.Fatal(err)
			}
			e.control(t, registry.Control{Target: target, Source: registry.SourceOperator, Paused: true, By: "ops"})
			for i := range 3 {
				rep := tickOnce(t, tu, at.Add(time.Duration(i)*time.Minute))
				if rep.Decided != 1 || rep.Updated != 0 || rep.Decisions[0].Decision.Reason != control.ReasonPaused {
					t.Fatalf("paused tick %d: %+v", i, rep)
				}
			}
			if got := e.limit(t); got != 10 || len(e.acct.updates) != 1 {
				t.Errorf("limit %d after %d updates, want 10 after the first only", got, len(e.acct.updates))
			}
			after, err := e.store.GetRun(context.Background(), runARN)
			if err != nil {
				t.Fatal(err)
			}
			if got := decidedAt(t, tu, runARN); !got.Equal(at.Add(2 * time.Minute)) {
				t.Errorf("observed at %v, want the last tick", got)
			}
			after.State.Prev, after.State.PrevAt = before.State.Prev, before.State.PrevAt
			if !reflect.DeepEqual(after.State, before.State) {
				t.Errorf("state changed while paused:\n%+v\nwas\n%+v", after.State, before.State)
			}
			if after.LastDecision == nil || after.LastDecision.Reason != control.ReasonPaused || !strings.Contains(after.LastDecision.Message, "ops") {
				t.Errorf("last decision %+v, want Paused naming who paused", after.LastDecision)
			}
			if ds := e.logged(t); len(ds) != 2 || ds[0].Reason != control.ReasonPaused {
				t.Errorf("decision log %+v: want the pause once, newest first, after the first decision", ds)
			}
			e.control(t, registry.Control{Target: target, Source: registry.SourceOperator, At: now.Add(time.Hour)})
			rep := tickOnce(t, tu, at.Add(time.Hour))
			if r := rep.Decisions[0].Decision.Reason; r == control.ReasonPaused || r == control.ReasonOverride {
				t.Errorf("after resume: reason %s", r)
			}
		})
	}
}

// TestPinDrivesAndHolds: a pin sets maxConcurrency, whatever the policy's
// range, holds it, and after the unpin the controller takes the pinned
// limit for its own, not for someone else's.
func TestPinDrivesAndHolds(t *testing.T) {
	e, tu, at := steered(t)
	e.control(t, registry.Control{Target: smARN, Source: registry.SourceOperator, Pin: 3})
	e.control(t, registry.Control{Target: runARN, Source: registry.SourceOperator, Pin: 2000}) // the run's own wins
	rep := tickOnce(t, tu, at)
	d := rep.Decisions[0]
	if d.Decision.Reason != control.ReasonPinned || !d.Applied || e.limit(t) != 2000 {
		t.Fatalf("pin: %+v, limit %d; want Pinned, applied, 2000", d, e.limit(t))
	}
	if !strings.Contains(d.Decision.Message, "outside the policy's range [1, 1000]") {
		t.Errorf("message %q does not say the pin overrides the policy's range", d.Decision.Message)
	}
	rep = tickOnce(t, tu, at.Add(time.Minute))
	if d := rep.Decisions[0]; d.Decision.Reason != control.ReasonPinned || d.Decision.Update || e.limit(t) != 2000 {
		t.Fatalf("hold: %+v, limit %d", d, e.limit(t))
	}
	if ds := e.logged(t); len(ds) != 2 {
		t.Errorf("decision log has %d entries, want the first decision and the pin", len(ds))
	}
	// Unpin the run: the state machine's pin applies.
	e.control(t, registry.Control{Target: runARN, Source: registry.SourceOperator, At: now.Add(time.Hour)})
	tickOnce(t, tu, at.Add(2*time.Minute))
	if e.limit(t) != 3 {
		t.Fatalf("limit %d, want the state machine's pin, 3", e.limit(t))
	}
	// A pause wins over a pin.
	e.control(t, registry.Control{Target: runARN, Source: registry.SourceOperator, Paused: true, At: now.Add(time.Hour)})
	e.control(t, registry.Control{Target: smARN, Source: registry.SourceOperator, Pin: 7, At: now.Add(time.Hour)})
	if rep := tickOnce(t, tu, at.Add(3*time.Minute)); rep.Decisions[0].Decision.Reason != control.ReasonPaused || e.limit(t) != 3 {
		t.Fatalf("paused and pinned: %+v, limit %d", rep.Decisions[0], e.limit(t))
	}
	for _, target := range []string{runARN, smARN} {
		e.control(t, registry.Control{Target: target, Source: registry.SourceOperator, At: now.Add(time.Hour)})
	}
	rep = tickOnce(t, tu, at.Add(4*time.Minute))
	run, err := e.store.GetRun(context.Background(), runARN)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Decisions[0].Decision.Reason; r == control.ReasonPinned || r == control.ReasonOverride || !run.State.OverrideAt.IsZero() {
		t.Errorf("after unpin: reason %s, override at %v; the pinned limit is maptuner's own", r, run.State.OverrideAt)
	}
}

// TestSteeringTags: the state machine's maptuner:pause and maptuner:pin
// tags act as its controls, are kept in the store, and a bad value is
// reported and ignored.
func TestSteeringTags(t *testing.T) {
	e, tu, at := steered(t)
	e.acct.mu.Lock()
	e.acct.tags = map[string]map[string]string{smARN: {PinTagKey: "4"}}
	e.acct.mu.Unlock()
	at = at.Add(tagRecheckEvery) // tags are read again
	rep := tickOnce(t, tu, at)
	if rep.Decisions[0].Decision.Reason != control.ReasonPinned || e.limit(t) != 4 {
		t.Fatalf("pin tag: %+v, limit %d", rep.Decisions[0], e.limit(t))
	}
	c, err := e.store.GetControl(context.Background(), smARN, registry.SourceTag)
	if err != nil || c.Pin != 4 || c.By != "tag maptuner:pin=4" {
		t.Errorf("stored tag control %+v, %v", c, err)
	}

	e.acct.mu.Lock()
	e.acct.tags[smARN] = map[string]string{PauseTagKey: "maybe"}
	e.acct.mu.Unlock()
	rep, err = tu.Tick(context.Background(), at.Add(tagRecheckEvery))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], `maptuner:pause="maybe"`) {
		t.Errorf("errors %v, want one naming the bad pause tag", rep.Errors)
	}
	if r := rep.Decisions[0].Decision.Reason; r == control.ReasonPaused || r == control.ReasonPinned {
		t.Errorf("the tags gone or bad, the run is still held: %s", r)
	}
	if got, err := e.store.Controls(context.Background()); err != nil || len(got) != 0 {
		t.Errorf("controls %+v, %v; want none held", got, err)
	}
}

func TestParseTags(t *testing.T) {
	tests := []struct {
		tags   map[string]string
		paused bool
		pin    int32
		errs   int
	}{
		{map[string]string{}, false, 0, 0},
		{map[string]string{PauseTagKey: "TRUE"}, true, 0, 0},
		{map[string]string{PauseTagKey: "false", PinTagKey: " 12 "}, false, 12, 0},
		{map[string]string{PinTagKey: "20000"}, false, registry.MaxPin, 0},
		{map[string]string{PauseTagKey: "yes", PinTagKey: "0"}, false, 0, 2},
		{map[string]string{PinTagKey: "1e3"}, false, 0, 1},
	}
	for _, tt := range tests {
		c, errs := parseTags(smARN, tt.tags)
		if c.Paused != tt.paused || c.Pin != tt.pin || len(errs) != tt.errs || c.Target != smARN || c.Source != registry.SourceTag {
			t.Errorf("parseTags(%v) = %+v, %v; want paused %v, pin %d, %d errors", tt.tags, c, errs, tt.paused, tt.pin, tt.errs)
		}
	}
}

// failControls is a store whose controls cannot be read.
type failControls struct{ Store }

func (failControls) Controls(context.Context) ([]registry.Control, error) {
	return nil, &deniedErr{}
}

type deniedErr struct{}

func (*deniedErr) Error() string { return "AccessDeniedException: not allowed" }

// TestUnreadableControlsHold: when the controls cannot be read, the runs
// are held, not tuned as if nothing held them.
func TestUnreadableControlsHold(t *testing.T) {
	e, _, at := steered(t)
	tu := e.tuner(t, Config{})
	tu.deps.Store = timedStore{failControls{e.store}, time.Second}
	rep, err := tu.Tick(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Decisions) != 1 || rep.Decisions[0].Decision.Reason != control.ReasonMissingData || rep.Updated != 0 || len(rep.Errors) != 1 {
		t.Fatalf("report %+v", rep)
	}
	if got := aws.ToInt32(e.acct.updates[len(e.acct.updates)-1].MaxConcurrency); got != 10 || len(e.acct.updates) != 1 {
		t.Errorf("updates %+v", e.acct.updates)
	}
}
