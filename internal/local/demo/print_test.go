package demo

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/tuner"
)

const runARN = "arn:aws:states:us-east-1:123456789012:mapRun:maptuner-demo/Map1:0d2b3746"

func TestDecisionLine(t *testing.T) {
	at := time.Date(2026, 11, 25, 8, 5, 0, 0, time.UTC)
	initial := control.Decision{
		Old:    maprun.Settings{},
		New:    maprun.Settings{MaxConcurrency: 10, ToleratedFailurePercentage: 2.5, ToleratedFailureCount: 5},
		Update: true, Reason: control.ReasonInitial, ToleranceReason: control.ReasonBaseline,
		Message: "starting at 10.",
	}
	held := control.Decision{
		Old: maprun.Settings{MaxConcurrency: 10}, New: maprun.Settings{MaxConcurrency: 10},
		Reason: control.ReasonIdle, Message: "holding.",
	}
	items := &maprun.Counts{Running: 3, Succeeded: 5, Failed: 1, TimedOut: 1, Total: 10}
	tests := []struct {
		name  string
		d     tuner.RunDecision
		items *maprun.Counts
		want  string
	}{
		{
			name:  "applied, with items",
			d:     tuner.RunDecision{MapRunARN: runARN, Decision: initial, Applied: true},
			items: items,
			want:  "08:05  maptuner-demo/Map1  maxConcurrency unlimited -> 10, tolerated 0%/0 -> 2.5%/5  Initial+Baseline, applied: starting at 10. [items 3 running, 5 succeeded, 2 failed of 10]",
		},
		{
			name: "held",
			d:    tuner.RunDecision{MapRunARN: runARN, Decision: held},
			want: "08:05  maptuner-demo/Map1  maxConcurrency 10 -> 10, tolerated 0%/0 -> 0%/0  Underused, held: holding.",
		},
		{
			name: "dry run",
			d:    tuner.RunDecision{MapRunARN: runARN, Decision: initial, DryRun: true},
			want: "Initial+Baseline, dry run, not applied: starting at 10.",
		},
		{
			name: "update failed",
			d:    tuner.RunDecision{MapRunARN: runARN, Decision: initial},
			want: "Initial+Baseline, not applied: starting at 10.",
		},
		{
			name: "run ARN that does not parse",
			d:    tuner.RunDecision{MapRunARN: "not-an-arn", Decision: held},
			want: "08:05  not-an-arn  maxConcurrency 10",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decisionLine(at, tc.d, tc.items)
			if strings.Contains(got, "\n") {
				t.Fatalf("decisionLine is not one line: %q", got)
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("decisionLine =\n%s\nwant it to contain\n%s", got, tc.want)
			}
		})
	}
}

func TestPrintTick(t *testing.T) {
	at := time.Date(2026, 11, 25, 8, 5, 0, 0, time.UTC)
	prog := Progress{Execution: "RUNNING", Runs: []maprun.Snapshot{{ARN: runARN, Items: maprun.Counts{Running: 4, Total: 4}}}}
	tests := []struct {
		name string
		rep  tuner.Report
		want []string
	}{
		{
			name: "decision with discovery",
			rep: tuner.Report{Discovered: 1, Tracked: 1, Decisions: []tuner.RunDecision{{
				MapRunARN: runARN, Decision: control.Decision{Reason: control.ReasonIdle, Message: "m."},
			}}},
			want: []string{"08:05  discovered 1 new map run(s)", "Underused, held: m. [items 4 running, 0 succeeded, 0 failed of 4]"},
		},
		{
			name: "nothing decided",
			rep:  tuner.Report{Tracked: 2, Skipped: map[string]int{"leased": 1, "budget": 1}, Errors: []string{"describe x: boom"}},
			want: []string{"08:05  error: describe x: boom", "08:05  no decision: 2 run(s) tracked, skipped: budget 1, leased 1"},
		},
		{
			name: "nothing tracked",
			rep:  tuner.Report{},
			want: []string{"08:05  no decision: 0 run(s) tracked\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			printTick(&out, at, tc.rep, prog)
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("printTick wrote\n%s\nwant it to contain %q", out.String(), w)
				}
			}
		})
	}
}

func TestProgressEnded(t *testing.T) {
	for status, want := range map[string]bool{"": false, "RUNNING": false, "SUCCEEDED": true, "FAILED": true, "ABORTED": true, "TIMED_OUT": true} {
		if got := (Progress{Execution: status}).Ended(); got != want {
			t.Errorf("Progress{%q}.Ended() = %v, want %v", status, got, want)
		}
	}
}
