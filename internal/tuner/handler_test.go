package tuner

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
			h := &Handler{Tuner: e.tuner(t, Config{}), Now: func() time.Time { return now }}
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
			if err != nil || json.Unmarshal(out, &rep) != nil || rep.Updated != 1 {
				t.Fatalf("report %s, error %v", out, err)
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
			h := &Handler{Tuner: e.tuner(t, Config{}), Now: func() time.Time { return now }, EventTime: tt.event}
			out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), []byte(tt.payload))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			var rep Report
			if err != nil || json.Unmarshal(out, &rep) != nil || len(rep.Decisions) != 1 {
				t.Fatalf("report %s, error %v", out, err)
			}
			if got := rep.Decisions[0].Decision.State.PrevAt; !got.IsZero() && !got.Equal(tt.wantAt) {
				t.Fatalf("tick at %s, want %s", got, tt.wantAt)
			}
		})
	}
}
