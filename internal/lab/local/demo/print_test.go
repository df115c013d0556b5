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

var tickAt = time.Date(2026, 11, 25, 8, 5, 0, 0, time.UTC)

func TestDecisionLine(t *testing.T) {
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
	running := &RunProgress{ARN: runARN, Status: "RUNNING", Total: 10_000, Done: 1_250, Failed: 2, Running: 9.6}
	ended := &RunProgress{ARN: runARN, Status: "SUCCEEDED", Total: 10, Done: 10, Running: 0.4}
	tests := []struct {
		name string
		d    tuner.RunDecision
		run  *RunProgress
		want string
	}{
		{
			name: "applied, run open",
			d:    tuner.RunDecision{MapRunARN: runARN, Decision: initial, Applied: true},
			run:  running,
			want: "08:05  maptuner-demo/Map1  maxConcurrency unlimited -> 10, tolerated 0%/0 -> 2.5%/5  Initial+Baseline, applied: starting at 10. [items 1,250 done, 2 failed of 10,000, 10 running]",
		},
		{
			name: "held, run ended",
			d:    tuner.RunDecision{MapRunARN: runARN, Decision: held},
			run:  ended,
			want: "08:05  maptuner-demo/Map1  maxConcurrency 10 -> 10, tolerated 0%/0 -> 0%/0  Underused, held: holding. [items 10 done, 0 failed of 10]",
		},
		{
			name: "dry run, run unknown",
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
			got := decisionLine(tickAt, tc.d, tc.run)
			if strings.Contains(got, "\n") {
				t.Fatalf("decisionLine is not one line: %q", got)
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("decisionLine =\n%s\nwant it to contain\n%s", got, tc.want)
			}
			if tc.run == nil && strings.Contains(got, "[items") {
				t.Fatalf("decisionLine shows items it was not given: %s", got)
			}
		})
	}
}

func TestPrintTick(t *testing.T) {
	prog := Progress{Executions: []string{"RUNNING"}, Runs: []RunProgress{{ARN: runARN, Status: "RUNNING", Total: 4, Running: 4}}}
	change := tuner.RunDecision{MapRunARN: runARN, Applied: true, Decision: control.Decision{
		Old: maprun.Settings{MaxConcurrency: 10}, New: maprun.Settings{MaxConcurrency: 20}, Update: true, Reason: control.ReasonSlowStart, Message: "m.",
	}}
	hold := tuner.RunDecision{MapRunARN: runARN, Decision: control.Decision{Reason: control.ReasonIdle, Message: "h."}}
	tests := []struct {
		name   string
		rep    tuner.Report
		want   []string
		absent []string
	}{
		{
			name:   "change with discovery",
			rep:    tuner.Report{Discovered: 1, Tracked: 1, Decisions: []tuner.RunDecision{change}},
			want:   []string{"08:05  discovered 1 new map run(s)\n", "SlowStart, applied: m. [items 0 done, 0 failed of 4, 4 running]\n"},
			absent: []string{"no decision"},
		},
		{
			name:   "hold is not printed",
			rep:    tuner.Report{Tracked: 1, Decisions: []tuner.RunDecision{hold}},
			absent: []string{"h.", "no decision"},
		},
		{
			name: "nothing decided, runs skipped",
			rep:  tuner.Report{Tracked: 2, Skipped: map[string]int{"leased": 1, "budget": 1}, Errors: []string{"describe x: boom"}},
			want: []string{"08:05  error: describe x: boom\n", "08:05  no decision: 2 run(s) tracked, skipped: budget 1, leased 1\n"},
		},
		{
			name:   "nothing to do",
			rep:    tuner.Report{},
			absent: []string{"no decision"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			printTick(&printer{out: &out, every: 1}, tickAt, tc.rep, prog)
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("printTick wrote\n%s\nwant it to contain %q", out.String(), w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(out.String(), a) {
					t.Errorf("printTick wrote\n%s\nwant no %q", out.String(), a)
				}
			}
			if len(tc.want) == 0 && out.Len() > 0 {
				t.Errorf("printTick wrote %q, want nothing", out.String())
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	open := RunProgress{
		ARN: runARN, Status: "RUNNING", Settings: maprun.Settings{MaxConcurrency: 140},
		Total: 20_000, Done: 6_012, Failed: 3, Running: 137.6,
		Live: true, Throughput: 12.94, Throttles: 1_210, ETA: 18*time.Minute + 10*time.Second,
	}
	other := RunProgress{ARN: "b", Status: "RUNNING", Total: 1_000, Done: 500, Running: 10, Live: true, Throughput: 1, ETA: time.Hour + 5*time.Minute}
	tests := []struct {
		name string
		prog Progress
		want string
	}{
		{
			name: "nothing started",
			prog: Progress{Executions: []string{"RUNNING"}},
			want: "08:05  no map run has started yet",
		},
		{
			name: "one run, live",
			prog: Progress{Runs: []RunProgress{open}},
			want: "08:05  items 6,012/20,000 (30%), 3 failed  limit 140  running 138  throughput 12.9/s  throttles 1,210/min  ETA 18m",
		},
		{
			name: "two runs: sums, limits listed, the later ETA",
			prog: Progress{Runs: []RunProgress{open, other}},
			want: "08:05  items 6,512/21,000 (31%), 3 failed  limits 140, unlimited  running 148  throughput 13.9/s  throttles 1,210/min  ETA 1h05m",
		},
		{
			name: "not measured",
			prog: Progress{Runs: []RunProgress{{ARN: runARN, Status: "RUNNING", Settings: maprun.Settings{MaxConcurrency: 10}, Total: 4, Done: 1, Running: 3}}},
			want: "08:05  items 1/4 (25%)  limit 10  running 3",
		},
		{
			name: "live, no ETA yet",
			prog: Progress{Runs: []RunProgress{{ARN: runARN, Status: "RUNNING", Settings: maprun.Settings{MaxConcurrency: 10}, Total: 4, Live: true}}},
			want: "08:05  items 0/4 (0%)  limit 10  running 0  throughput 0.0/s  throttles 0/min",
		},
		{
			name: "ended",
			prog: Progress{Runs: []RunProgress{{ARN: runARN, Status: "SUCCEEDED", Settings: maprun.Settings{MaxConcurrency: 54}, Total: 4, Done: 4, Running: 0.5, Live: true}}},
			want: "08:05  items 4/4 (100%)  limit 54  SUCCEEDED",
		},
		{
			name: "ended differently",
			prog: Progress{Runs: []RunProgress{{ARN: "a", Status: "SUCCEEDED", Total: 2, Done: 2}, {ARN: "b", Status: "FAILED", Total: 2, Done: 1, Failed: 1}}},
			want: "08:05  items 3/4 (75%), 1 failed  limits unlimited, unlimited  1 FAILED, 1 SUCCEEDED",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := progressLine(tickAt, tc.prog); got != tc.want {
				t.Errorf("progressLine =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestPrinter(t *testing.T) {
	steps := func(p *printer) {
		p.line("begin")
		for tick := 1; tick <= 5; tick++ {
			if tick == 3 {
				p.line("change")
			}
			p.progress(tick, "tick "+string(rune('0'+tick)))
		}
		p.finish("tick 5")
		p.line("end")
	}
	tests := []struct {
		name string
		p    printer
		want string
	}{
		{
			name: "plain, every 2 ticks",
			p:    printer{every: 2},
			want: "begin\ntick 1\ntick 2\nchange\ntick 4\ntick 5\nend\n",
		},
		{
			name: "plain, the last tick printed already",
			p:    printer{every: 5},
			want: "begin\ntick 1\nchange\ntick 5\nend\n",
		},
		{
			name: "live",
			p:    printer{live: true, every: 2},
			want: "begin\n" +
				"\rtick 1\x1b[K\rtick 2\x1b[K" +
				"\r\x1b[Kchange\n" +
				"\rtick 3\x1b[K\rtick 4\x1b[K\rtick 5\x1b[K" +
				"\r\x1b[Ktick 5\n" +
				"end\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := tc.p
			p.out = &out
			steps(&p)
			if out.String() != tc.want {
				t.Errorf("wrote\n%q\nwant\n%q", out.String(), tc.want)
			}
		})
	}

	// end leaves a line of its own after a live progress line, once.
	var out bytes.Buffer
	p := printer{out: &out, live: true}
	p.progress(1, "tick 1")
	p.end()
	p.end()
	if want := "\rtick 1\x1b[K\n"; out.String() != want {
		t.Errorf("end wrote %q, want %q", out.String(), want)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 20000: "20,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0s",
		44*time.Second + 600*time.Millisecond: "45s",
		18*time.Minute + 10*time.Second:       "18m",
		59*time.Minute + 40*time.Second:       "1h00m",
		5*time.Hour + 55*time.Minute + 31*time.Second: "5h56m",
	} {
		if got := short(d); got != want {
			t.Errorf("short(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct{ part, whole, want int64 }{{0, 0, 0}, {1, 0, 0}, {1, 3, 33}, {3, 3, 100}} {
		if got := percent(tc.part, tc.whole); got != tc.want {
			t.Errorf("percent(%d, %d) = %d, want %d", tc.part, tc.whole, got, tc.want)
		}
	}
}
