package demo

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/local"
	"github.com/maptuner/maptuner/internal/watch"
)

// sampleEvent reads a sample event of events/.
func sampleEvent(t testing.TB, name string) []byte {
	t.Helper()
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var started = local.Started{
	StateMachineARN: "arn:aws:states:eu-west-1:111122223333:stateMachine:resize",
	ExecutionARN:    "arn:aws:states:eu-west-1:111122223333:execution:resize:job-7",
	StartDate:       time.Date(2026, 11, 25, 8, 1, 2, 345e6, time.UTC),
}

func TestStatusEvent(t *testing.T) {
	template := sampleEvent(t, "status-running.json")
	got, err := statusEvent(template, started, "evt-1")
	if err != nil {
		t.Fatal(err)
	}
	// The watch function's own parser takes it, with the real execution.
	ev, err := watch.Parse(got)
	if err != nil {
		t.Fatalf("watch.Parse(%s): %v", got, err)
	}
	if ev.Kind != watch.KindStatusChange || ev.ID != "evt-1" || ev.ExecutionARN != started.ExecutionARN ||
		ev.StateMachineARN != started.StateMachineARN || ev.Status != "RUNNING" || !ev.StartDate.Equal(started.StartDate) {
		t.Fatalf("parsed event %+v", ev)
	}
	var fields map[string]any
	if err := json.Unmarshal(got, &fields); err != nil {
		t.Fatal(err)
	}
	if fields["region"] != "eu-west-1" || fields["account"] != "111122223333" || fields["time"] != "2026-11-25T08:01:02Z" {
		t.Fatalf("envelope %v", fields)
	}
	detail := fields["detail"].(map[string]any)
	if detail["name"] != "job-7" || detail["redriveStatus"] != "NOT_REDRIVABLE" {
		t.Fatalf("detail %v: want the name replaced and the other fields kept", detail)
	}
	if strings.Contains(string(got), "etl-nightly") {
		t.Fatalf("a sample ARN survived: %s", got)
	}
}

func TestStatusEventFailures(t *testing.T) {
	template := sampleEvent(t, "status-running.json")
	noDate := started
	noDate.StartDate = time.Time{}
	badARN := started
	badARN.ExecutionARN = "arn:aws:states:eu-west-1:111122223333:stateMachine:resize"
	noMachine := started
	noMachine.StateMachineARN = ""
	tests := []struct {
		name     string
		template string
		st       local.Started
		wantErr  string
		wantIs   error
	}{
		{name: "not JSON", template: "{", st: started, wantErr: "unexpected EOF", wantIs: ErrBadTemplate},
		{name: "not an object", template: "[1]", st: started, wantErr: "cannot unmarshal array", wantIs: ErrBadTemplate},
		{name: "null", template: "null", st: started, wantErr: "not a JSON object", wantIs: ErrBadTemplate},
		{name: "trailing data", template: "{} {}", st: started, wantErr: "data after the JSON object", wantIs: ErrBadTemplate},
		{name: "no detail", template: `{"id":"x"}`, st: started, wantErr: "detail is not an object", wantIs: ErrBadTemplate},
		{name: "not an execution ARN", template: string(template), st: badARN, wantErr: "is not arn:PARTITION:states:REGION:ACCOUNT:execution:NAME:ID"},
		{name: "no state machine", template: string(template), st: noMachine, wantErr: "no state machine ARN"},
		{name: "no start date", template: string(template), st: noDate, wantErr: "has no start date"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := statusEvent([]byte(tc.template), tc.st, "id")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("statusEvent error = %v, want one containing %q (is %v)", err, tc.wantErr, tc.wantIs)
			}
		})
	}
}

func TestScheduleEvent(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name     string
		template []byte
		want     string
		wantErr  string
	}{
		{name: "sample", template: sampleEvent(t, "schedule.json"), want: "2026-11-25T08:30:00Z"},
		{name: "bare object", template: []byte(`{}`), want: "2026-11-25T08:30:00Z"},
		{name: "not an object", template: []byte(`"x"`), wantErr: "bad sample event"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scheduleEvent(tc.template, at)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("scheduleEvent error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ev struct {
				DetailType string `json:"detail-type"`
				Time       string `json:"time"`
			}
			if err := json.Unmarshal(got, &ev); err != nil || ev.Time != tc.want {
				t.Fatalf("scheduleEvent = %s (%v), want time %s", got, err, tc.want)
			}
		})
	}
}

func FuzzStatusEvent(f *testing.F) {
	for _, name := range []string{"status-running.json", "status-succeeded.json", "schedule.json", "maprun-started.json", "malformed.json"} {
		f.Add(sampleEvent(f, name))
	}
	f.Add([]byte(`{"detail":{}}`))
	f.Fuzz(func(t *testing.T, template []byte) {
		got, err := statusEvent(template, started, "id")
		if err != nil {
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(got, &ev); err != nil {
			t.Fatalf("statusEvent produced invalid JSON %q: %v", got, err)
		}
		if d, ok := ev["detail"].(map[string]any); !ok || d["executionArn"] != started.ExecutionARN {
			t.Fatalf("statusEvent produced %s without the execution ARN", got)
		}
	})
}

func FuzzScheduleEvent(f *testing.F) {
	for _, name := range []string{"schedule.json", "status-running.json", "malformed.json"} {
		f.Add(sampleEvent(f, name))
	}
	at := time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, template []byte) {
		got, err := scheduleEvent(template, at)
		if err != nil {
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(got, &ev); err != nil || ev["time"] != "2026-11-25T08:30:00Z" {
			t.Fatalf("scheduleEvent produced %q (%v)", got, err)
		}
	})
}
