package watch

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fakeTags answers PolicyTag from a map and counts the calls.
type fakeTags struct {
	tags  map[string]string
	err   error
	calls int
}

func (f *fakeTags) PolicyTag(_ context.Context, arn string) (string, bool, error) {
	f.calls++
	if f.err != nil {
		return "", false, f.err
	}
	p, ok := f.tags[arn]
	return p, ok, nil
}

func newHandler(t *testing.T, tags map[string]string) (*Handler, *registry.Memory, *fakeTags) {
	t.Helper()
	store, err := registry.NewMemory(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ft := &fakeTags{tags: tags}
	return &Handler{Store: store, Tags: ft, Policies: policy.Default(), Now: func() time.Time { return now }}, store, ft
}

// invoke sends payload through the same JSON path the Lambda runtime uses.
func invoke(t *testing.T, h *Handler, payload []byte) (Result, error) {
	t.Helper()
	out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload)
	if err != nil {
		return Result{}, err
	}
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("handler output %s: %v", out, err)
	}
	return r, nil
}

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryEvent sends every events/*.json through the handler.
func TestEveryEvent(t *testing.T) {
	want := map[string]struct{ action, err string }{
		"status-running.json":   {action: "registered"},
		"status-succeeded.json": {action: "ended"},
		"maprun-started.json":   {action: "registered"},
		"schedule.json":         {err: "is not one the watch function handles"},
		"malformed.json":        {err: "malformed event"},
	}
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no events: %v", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		w, ok := want[name]
		if !ok {
			t.Errorf("events/%s has no expectation in this test", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			h, store, _ := newHandler(t, map[string]string{smARN: "default"})
			r, err := invoke(t, h, readEvent(t, name))
			if w.err != "" {
				if err == nil || !strings.Contains(err.Error(), w.err) {
					t.Fatalf("error %v, want one containing %q", err, w.err)
				}
				execs, _ := store.ActiveExecutions(context.Background())
				runs, _ := store.ActiveRuns(context.Background())
				if len(execs)+len(runs) != 0 {
					t.Fatalf("a refused event wrote %d executions and %d runs", len(execs), len(runs))
				}
				return
			}
			if err != nil || r.Action != w.action {
				t.Fatalf("result %+v, error %v; want action %q", r, err, w.action)
			}
		})
	}
}

func TestOutOfOrderAndDuplicates(t *testing.T) {
	h, store, tags := newHandler(t, map[string]string{smARN: "default"})
	ctx := context.Background()
	running, succeeded := readEvent(t, "status-running.json"), readEvent(t, "status-succeeded.json")

	if r, err := invoke(t, h, succeeded); err != nil || r.Action != "ended" {
		t.Fatalf("succeeded first: %+v %v", r, err)
	}
	// RUNNING arriving after SUCCEEDED does not bring the execution back.
	if r, err := invoke(t, h, running); err != nil || r.Action != "duplicate" {
		t.Fatalf("late running: %+v %v", r, err)
	}
	if execs, _ := store.ActiveExecutions(ctx); len(execs) != 0 {
		t.Fatalf("ended execution came back: %+v", execs)
	}
	started := readEvent(t, "maprun-started.json")
	for i, want := range []string{"registered", "duplicate"} {
		if r, err := invoke(t, h, started); err != nil || r.Action != want {
			t.Fatalf("map run event %d: %+v %v, want %s", i, r, err, want)
		}
	}
	if runs, _ := store.ActiveRuns(ctx); len(runs) != 1 || runs[0].Policy != "default" {
		t.Fatalf("runs: %+v", runs)
	}
	if tags.calls != 1 {
		t.Fatalf("tags read %d times, want 1 (cached)", tags.calls)
	}
}

func TestNotOptedInAndUnknownPolicy(t *testing.T) {
	ctx := context.Background()
	for name, tags := range map[string]map[string]string{
		"no tag":         {},
		"unknown policy": {smARN: "no-such-policy"},
	} {
		t.Run(name, func(t *testing.T) {
			h, store, _ := newHandler(t, tags)
			r, err := invoke(t, h, readEvent(t, "status-running.json"))
			if err != nil || r.Action != "ignored" {
				t.Fatalf("%+v %v", r, err)
			}
			if execs, _ := store.ActiveExecutions(ctx); len(execs) != 0 {
				t.Fatalf("wrote %+v", execs)
			}
		})
	}
}

func TestTagErrorIsReturned(t *testing.T) {
	h, store, tags := newHandler(t, nil)
	tags.err = errors.New("AccessDeniedException: no")
	_, err := invoke(t, h, readEvent(t, "status-running.json"))
	if err == nil || !strings.Contains(err.Error(), "read tags of "+smARN) {
		t.Fatalf("error %v", err)
	}
	if _, err := store.GetStateMachine(context.Background(), smARN, now); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("a failed tag read was cached: %v", err)
	}
}
