package tuner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/maptuner/maptuner/internal/control"
)

// TestHandlerEvents sends every events/*.json through the tune handler's
// real JSON path: the schedule event ticks, the others are refused and
// change nothing.
func TestHandlerEvents(t *testing.T) {
	want := map[string]string{
		"schedule.json":         "",
		"status-running.json":   "detail-type \"Step Functions Execution Status Change\"",
		"status-succeeded.json": "detail-type \"Step Functions Execution Status Change\"",
		"maprun-started.json":   "detail-type \"MapRunStarted\"",
		"malformed.json":        "detail-type \"Step Functions Execution Status Change\"",
	}
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no events: %v", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		wantErr, ok := want[name]
		if !ok {
			t.Errorf("events/%s has no expectation in this test", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			payload, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t)
			e.acct.addRun(execARN, runARN, 0, 5, 1000)
			e.watchExec(t, "default")
			clk := &fakeClock{at: now}
			h := &Handler{Tuner: e.tuner(t, Config{}), Now: clk.now, Wait: clk.wait}
			out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload)
			if wantErr != "" {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("error %v, want ErrMalformed containing %q", err, wantErr)
				}
				if len(e.acct.updates) != 0 {
					t.Fatalf("a refused event updated %+v", e.acct.updates)
				}
				return
			}
			var rep Report
			if err != nil || json.Unmarshal(out, &rep) != nil || rep.Updated < 1 || rep.Looks != 5 {
				t.Fatalf("report %s, error %v; want an update and 5 looks", out, err)
			}
		})
	}
}

func TestHandlerClock(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		event   bool
		wantErr string
		wantAt  time.Time
	}{
		{"wall clock ignores the event time", `{"time":"2020-01-01T00:00:00Z"}`, false, "", now},
		{"event clock", `{"detail-type":"Scheduled Event","time":"2026-11-25T13:00:00Z"}`, true, "", time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)},
		{"event clock needs a time", `{}`, true, "has no time", time.Time{}},
		{"not an object", `[1]`, false, "want a JSON object", time.Time{}},
		{"bad time", `{"time":"noon"}`, false, "malformed schedule event", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.acct.addRun(execARN, runARN, 0, 5, 1000)
			e.watchExec(t, "default")
			clk := &fakeClock{at: now}
			h := &Handler{Tuner: e.tuner(t, Config{}), Now: clk.now, Wait: clk.wait, EventTime: tt.event}
			out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), []byte(tt.payload))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			var rep Report
			if err != nil || json.Unmarshal(out, &rep) != nil || len(rep.Decisions) == 0 {
				t.Fatalf("report %s, error %v", out, err)
			}
			if got := rep.Decisions[0].Decision.State.PrevAt; !got.IsZero() && !got.Equal(tt.wantAt) {
				t.Fatalf("tick at %s, want %s", got, tt.wantAt)
			}
			// The event clock does not move while the invocation waits: no looks.
			if tt.event && (len(clk.waits) > 0 || rep.Looks > 0) {
				t.Fatalf("event clock: waits %v, %d looks; want none", clk.waits, rep.Looks)
			}
		})
	}
}

// fakeClock is a Handler clock whose waits pass at once.
type fakeClock struct {
	at    time.Time
	waits []time.Duration
	// late is how much later than asked each wait ends.
	late time.Duration
	// cancel, when set, is called at the wait numbered cancelAt (from 1).
	cancel   func()
	cancelAt int
}

func (c *fakeClock) now() time.Time { return c.at }

func (c *fakeClock) wait(ctx context.Context, d time.Duration) bool {
	c.waits = append(c.waits, d)
	if c.cancel != nil && len(c.waits) == c.cancelAt {
		c.cancel()
	}
	if ctx.Err() != nil {
		return false
	}
	c.at = c.at.Add(d + c.late)
	return true
}

// TestHandlerLooks: the tune function runs the full pass, then looks at
// each 10 s instant of the period while a run needs it, and sums the
// looks into its report; an invocation with nothing to look at, or no
// budget left to look with, returns at once, and one whose deadline or
// cancellation comes stops looking.
func TestHandlerLooks(t *testing.T) {
	payload, err := os.ReadFile("../../events/schedule.json")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now() // deadlines are on the wall clock
	tests := []struct {
		name      string
		hot       bool
		late      time.Duration
		deadline  time.Duration // after start; zero is none
		cancelAt  int
		wantWaits []time.Duration
		wantLooks int
		wantLast  time.Duration // the instant of the last look
		fraction  float64
	}{
		{"hot run: five looks", true, 0, 0, 0, []time.Duration{10, 10, 10, 10, 10}, 5, 50 * time.Second, 0},
		{"nothing to look at", false, 0, 0, 0, nil, 0, 0, 0},
		// Looks at 22 and 42 s; the one at 62 s is past the period.
		{"late timers: the next instant ahead", true, 12 * time.Second, 0, 0, []time.Duration{10, 8, 8}, 2, 42 * time.Second, 0},
		// 3 s kept to save: no look at 30 s.
		{"deadline at 30 s", true, 0, 30 * time.Second, 0, []time.Duration{10, 10}, 2, 20 * time.Second, 0},
		{"cancelled while waiting", true, 0, 0, 2, []time.Duration{10, 10}, 1, 10 * time.Second, 0},
		// 3 DescribeMapRun calls a period: the full pass's and two looks'.
		{"budget spent", true, 0, 0, 0, []time.Duration{10, 10}, 2, 20 * time.Second, 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.hot {
				e.acct.addRun(execARN, runARN, 0, 5, 1000)
			}
			e.watchExec(t, "default")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.deadline > 0 {
				ctx, cancel = context.WithDeadline(ctx, start.Add(tt.deadline))
				defer cancel()
			}
			clk := &fakeClock{at: start, late: tt.late}
			if tt.cancelAt > 0 {
				clk.cancel, clk.cancelAt = cancel, tt.cancelAt
			}
			tu := e.tuner(t, Config{BudgetFraction: tt.fraction})
			h := &Handler{Tuner: tu, Now: clk.now, Wait: clk.wait}
			out, err := lambda.NewHandler(h.Handle).Invoke(ctx, payload)
			if err != nil {
				t.Fatal(err)
			}
			var rep Report
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatal(err)
			}
			var want []time.Duration
			for _, w := range tt.wantWaits {
				want = append(want, w*time.Second)
			}
			if !slices.Equal(clk.waits, want) {
				t.Fatalf("waits %v, want %v", clk.waits, want)
			}
			looks := tt.wantLooks
			decided := 0
			if tt.hot {
				decided = 1 + looks
			}
			if rep.Looks != looks || rep.Decided != decided || rep.Calls["DescribeMapRun"] != decided {
				t.Fatalf("report %s: want %d looks, %d decisions, as many DescribeMapRun calls", out, looks, decided)
			}
			if tt.hot {
				if last := decidedAt(t, tu, runARN); !last.Equal(start.Add(tt.wantLast)) {
					t.Fatalf("run decided last at +%s; report %s", last.Sub(start), out)
				}
			}
		})
	}
}

// TestHandlerSummarizes: the handler's report lists the first few updates,
// errors and warnings and counts the others, whatever the number of runs.
func TestHandlerSummarizes(t *testing.T) {
	var rep Report
	for i := range 25 {
		rep.Decisions = append(rep.Decisions, RunDecision{MapRunARN: fmt.Sprint(i), Decision: control.Decision{Update: i%2 == 0}})
		rep.Warnings = append(rep.Warnings, fmt.Sprint("warning ", i))
	}
	rep.Errors = []string{"one"}
	rep.summarize()
	if len(rep.Decisions) != MaxListed || rep.Decisions[0].MapRunARN != "0" || rep.Decisions[MaxListed-1].MapRunARN != "18" {
		t.Errorf("decisions %+v, want the first %d updates", rep.Decisions, MaxListed)
	}
	want := LeftOut{Decisions: 15, Warnings: 15}
	if len(rep.Warnings) != MaxListed || len(rep.Errors) != 1 || rep.LeftOut == nil || *rep.LeftOut != want {
		t.Errorf("warnings %d, errors %d, left out %+v; want %d, 1, %+v", len(rep.Warnings), len(rep.Errors), rep.LeftOut, MaxListed, want)
	}
	small := Report{Decisions: []RunDecision{{Decision: control.Decision{Update: true}}}}
	if small.summarize(); small.LeftOut != nil || len(small.Decisions) != 1 {
		t.Errorf("a small report summarized to %+v, want it as it was", small)
	}
}
