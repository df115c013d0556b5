package demo

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/lab/local"
	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/lab/simserver"
	"github.com/maptuner/maptuner/internal/policy"
)

// repoRoot returns the repository root or fails the test.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// demoPolicies is the policies file the moto demo uses.
func demoPolicies(t *testing.T) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "cmd", "maptuner-demo", "policies.yaml")
}

// shortScenario loads testdata/short.yaml: 600 items against a capacity of
// 30, about eight virtual minutes.
func shortScenario(t *testing.T) sim.Scenario {
	t.Helper()
	sc, err := simserver.LoadScenario(filepath.Join("testdata", "short.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// startSim starts the simulated backend on sc and closes it at the end.
func startSim(t *testing.T, sc sim.Scenario) *Sim {
	t.Helper()
	b, err := StartSim(context.Background(), SimOptions{Scenario: sc, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// hangGuard and hangGuardTicks bound a demo run in a test only against a
// hang: a run stops as soon as its executions have ended, and a loaded
// machine must not fail a test by being slow.
const (
	hangGuard      = 10 * time.Minute
	hangGuardTicks = 1200
)

// TestRunSimulated runs the whole demo on the simulated backend with a
// short scenario: the real bootstraps tune it to the end, the summary
// compares the run with the static settings, and the plot is written.
func TestRunSimulated(t *testing.T) {
	ctx := context.Background()
	b := startSim(t, shortScenario(t))
	plot := filepath.Join(t.TempDir(), "out", "demo.svg")
	var out bytes.Buffer
	sum, err := Run(ctx, Config{
		RepoRoot:   repoRoot(t),
		PolicyFile: b.PolicyFile(),
		Ticks:      120,
		Timeout:    hangGuard,
		PlotFile:   plot,
	}, b, &out)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	if sum.Stopped != "execution SUCCEEDED" || len(sum.Final.Runs) != 1 || sum.Final.Runs[0].Status != "SUCCEEDED" {
		t.Fatalf("stopped by %q, final %+v; want the run SUCCEEDED", sum.Stopped, sum.Final)
	}
	if r := sum.Final.Runs[0]; r.Done != 600 || r.Total != 600 {
		t.Errorf("final run %+v: want 600 of 600 items done", r)
	}
	if sum.Errors != 0 || sum.Changes == 0 || sum.Updates != sum.Changes || sum.Decisions < sum.Ticks-2 {
		t.Errorf("summary %+v: want a decision a tick, changes all applied, no error", sum)
	}
	c := sum.Comparison
	if c == nil {
		t.Fatal("no comparison")
	}
	if c.Scenario != "demo-short" || c.Seed != 1 || c.BestSetting < 20 || c.BestSetting > 40 || len(c.DefinitionSettings) != 1 || c.DefinitionSettings[0] != 10 {
		t.Errorf("comparison %s seed %d: best %d, definition %v; want demo-short, 1, best near the capacity of 30, definition [10]",
			c.Scenario, c.Seed, c.BestSetting, c.DefinitionSettings)
	}
	if c.Tuned.Makespan <= 0 || c.Tuned.Makespan >= c.Definition.Makespan || c.Best.Makespan > c.Tuned.Makespan {
		t.Errorf("makespans: tuned %s, best static %s, definition %s; want best <= tuned < definition", c.Tuned.Makespan, c.Best.Makespan, c.Definition.Makespan)
	}

	text := out.String()
	// It ends with the status of the run, as the maptuner command prints it.
	if !strings.Contains(text, "status: what maptuner status --all shows") || !regexp.MustCompile(`\n  etl-short/ProcessItems:\S+ +\S+ +ended +\d+ `).MatchString(text) {
		t.Errorf("no status line of the ended run in the output")
	}
	changes := 0
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, "  etl-short/ProcessItems  maxConcurrency ") {
			changes++
			if strings.Contains(line, ", held: ") {
				t.Errorf("a hold was printed: %s", line)
			}
		}
	}
	if changes != sum.Changes {
		t.Errorf("%d decision lines printed, want one per change: %d", changes, sum.Changes)
	}
	for _, want := range []string{
		"backend: simulated account at http://127.0.0.1:",
		"sample: state machine arn:aws:states:us-east-1:123456789012:stateMachine:etl-short (tag maptuner:policy=default)",
		"watch: registered: execution ",
		"00:00  discovered 1 new map run(s)\n",
		// The downstream's reserved concurrency, 30, is the capacity hint:
		// the run starts at half of it, then slow start.
		"etl-short/ProcessItems  maxConcurrency 10 -> 15, tolerated 5%/0 -> 5%/0  CapacityHint, applied: ",
		"00:00  items 0/600 (0%)  limit 15  running 0  throughput 0.0/s  throttles 0/min\n",
		"etl-short/ProcessItems  maxConcurrency 15 -> 23, tolerated 5%/0 -> 5%/0  SlowStart, applied: ",
		"items 600/600 (100%)",
		"SUCCEEDED\nsummary: ",
		"stopped by execution SUCCEEDED",
		"summary: map run etl-short/ProcessItems SUCCEEDED: maxConcurrency ",
		"compare: scenario demo-short, seed 1: the same 600 items under each setting, simulated\n",
		"compare:  maptuner, as tuned above ",
		"compare:  best static maxConcurrency, " + strconv.Itoa(int(c.BestSetting)),
		"compare:  the definition's, 10 ",
		"plot: " + plot + " (",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(text, "\r") || strings.Contains(text, "\x1b") {
		t.Error("output to a non-terminal has carriage returns or escapes")
	}
	checkSVG(t, plot)
}

// checkSVG checks that the file at path is well-formed XML with one svg
// element that draws lines.
func checkSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("plot: %v", err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	elements := map[string]int{}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("plot %s is not well-formed XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			elements[se.Name.Local]++
		}
	}
	if elements["svg"] != 1 || elements["polyline"] == 0 || elements["text"] == 0 {
		t.Fatalf("plot %s has elements %v, want one svg with polylines and text", path, elements)
	}
}

// TestRunAgainstMoto runs the whole demo on moto, in short: a 4-item
// sample whose children finish within about 5 seconds, a tick every half
// second. The first decision caps the unlimited run at 10 and moto's
// DescribeMapRun then reports what was applied.
func TestRunAgainstMoto(t *testing.T) {
	ctx := context.Background()
	b, err := StartMoto(ctx, MotoOptions{Sample: local.DistributedMap{
		Name: "demo-test", Execution: "short", Items: 4, WaitSeconds: 1, WaitStepSeconds: 1, NameLabels: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	var out bytes.Buffer
	sum, err := Run(ctx, Config{
		RepoRoot:   repoRoot(t),
		PolicyFile: demoPolicies(t),
		// The run stops when the execution ends, however long moto takes on
		// a loaded machine: the limits only guard against a hang.
		Ticks:         hangGuardTicks,
		Interval:      500 * time.Millisecond,
		Timeout:       hangGuard,
		ProgressEvery: 2,
		PlotFile:      filepath.Join(t.TempDir(), "never.svg"),
	}, b, &out)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	if sum.Stopped != "execution SUCCEEDED" || len(sum.Final.Executions) != 1 || sum.Final.Executions[0] != "SUCCEEDED" {
		t.Errorf("stopped by %q with executions %v, want the execution SUCCEEDED", sum.Stopped, sum.Final.Executions)
	}
	if sum.Decisions < 2 || sum.Changes != 1 || sum.Updates != 1 || sum.Errors != 0 || sum.Ticks < sum.Decisions {
		t.Errorf("summary %+v: want at least 2 decisions in as many ticks, 1 change applied, no error", sum)
	}
	if sum.Comparison != nil || sum.PlotFile != "" {
		t.Errorf("moto is not simulated, yet a comparison %v or a plot %q", sum.Comparison, sum.PlotFile)
	}
	text := out.String()
	for _, want := range []string{
		"sample: state machine arn:aws:states:us-east-1:123456789012:stateMachine:demo-test (tag maptuner:policy=default)",
		"watch: registered: execution ",
		"discovered 1 new map run(s)",
		"items 4/4 (100%)  limit 10  SUCCEEDED\n",
		"decisions: 1 changed a setting (1 applied with UpdateMapRun), ",
		"summary: map run demo-test/Map1 SUCCEEDED: maxConcurrency 10, tolerated 2%/0; items 4 done, 0 failed of 4",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Initial when the first tick comes before moto starts the children,
	// Clamped when after: moto starts them when it will.
	first := regexp.MustCompile(`demo-test/Map1  maxConcurrency unlimited -> 10, tolerated 0%/0 -> 2%/0  (Initial|Clamped)\+Baseline, applied: run (started at maxConcurrency 0|under way with no limit)`)
	if !first.MatchString(text) {
		t.Errorf("output lacks the first change, matching %s", first)
	}
	if strings.Contains(text, "throughput") || strings.Contains(text, "compare:") {
		t.Error("moto's progress shows figures it does not measure, or a comparison")
	}

	// moto's own DescribeMapRun, read here with a client of our own.
	ep := b.Endpoints()
	client := sfn.New(sfn.Options{
		Region: ep.Region, BaseEndpoint: aws.String(ep.SFN),
		Credentials: credentials.NewStaticCredentialsProvider(local.FakeAccessKeyID, local.FakeSecretAccessKey, ""),
	})
	if len(sum.Final.Runs) != 1 {
		t.Fatalf("final runs %+v, want 1", sum.Final.Runs)
	}
	got, err := client.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(sum.Final.Runs[0].ARN)})
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxConcurrency != 10 || got.ToleratedFailurePercentage != 2 {
		t.Fatalf("moto's DescribeMapRun: maxConcurrency %d, tolerated %v%%; want 10 and 2%%", got.MaxConcurrency, got.ToleratedFailurePercentage)
	}
}

// fakeBootstraps returns a directory laid out as make build lays out bin/,
// whose watch and tune bootstraps exit at once: not Lambda functions.
func fakeBootstraps(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, fn := range []string{"watch", "tune"} {
		p := filepath.Join(dir, fn, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeBackend is a Backend that serves nothing: for the failures Run must
// report before or while it reaches the backend.
type fakeBackend struct {
	endpoints Endpoints
	execs     []Execution
	startErr  error
}

var _ Backend = (*fakeBackend)(nil)

func (f *fakeBackend) About() string        { return "fake" }
func (f *fakeBackend) Endpoints() Endpoints { return f.endpoints }
func (f *fakeBackend) Start(context.Context) ([]Execution, error) {
	return f.execs, f.startErr
}
func (f *fakeBackend) Progress(context.Context, time.Time) (Progress, error) {
	return Progress{}, errors.New("fake: no progress")
}
func (f *fakeBackend) Close() error { return nil }

func TestRunFailures(t *testing.T) {
	root := repoRoot(t)
	bins := fakeBootstraps(t) // nothing is built
	port, err := local.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	nowhere := "http://127.0.0.1:" + strconv.Itoa(port)
	unreachable := Endpoints{SFN: nowhere, CloudWatch: nowhere, DynamoDB: nowhere}
	good := Config{RepoRoot: root, PolicyFile: demoPolicies(t), Bootstraps: bins}
	with := func(f func(*Config)) Config {
		c := good
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     Config
		backend Backend
		wantErr string
		wantIs  error
	}{
		{
			name: "empty config", cfg: Config{PolicyFile: "policies.yaml"}, backend: &fakeBackend{endpoints: unreachable},
			wantErr: "repo root is required\npolicy file \"policies.yaml\" is not an absolute path", wantIs: ErrInvalidConfig,
		},
		{
			name:    "negative limits",
			cfg:     with(func(c *Config) { c.Ticks, c.Interval, c.Timeout, c.ProgressEvery = -1, -time.Second, -time.Second, -1 }),
			backend: &fakeBackend{endpoints: unreachable},
			wantErr: "ticks -1 is negative\ninterval -1s is negative\ntimeout -1s is negative\nprogress every -1 ticks is negative", wantIs: ErrInvalidConfig,
		},
		{
			name: "endpoint missing", cfg: good, backend: &fakeBackend{endpoints: Endpoints{SFN: nowhere}},
			wantErr: "backend fake: an endpoint is missing",
		},
		{
			name: "policies file missing", cfg: with(func(c *Config) { c.PolicyFile = filepath.Join(bins, "none.yaml") }),
			backend: &fakeBackend{endpoints: unreachable}, wantErr: "none.yaml",
		},
		{
			name: "no sample events", cfg: with(func(c *Config) { c.RepoRoot = bins }),
			backend: &fakeBackend{endpoints: unreachable}, wantErr: "sample event",
		},
		{
			name: "bootstraps missing", cfg: with(func(c *Config) { c.Bootstraps = filepath.Join(bins, "none") }),
			backend: &fakeBackend{endpoints: unreachable}, wantErr: "(make build writes it)",
		},
		{
			name: "backend not answering", cfg: good, backend: &fakeBackend{endpoints: unreachable},
			wantErr: "create table maptuner-demo",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard only
			defer cancel()
			var out bytes.Buffer
			_, err := Run(ctx, tc.cfg, tc.backend, &out)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("Run error = %v, want one containing %q (is %v)", err, tc.wantErr, tc.wantIs)
			}
		})
	}
}

// TestRunReportsAFailedStart runs against moto with backends whose Start
// fails or starts nothing to tune, and with a watch bootstrap that is not
// a Lambda function: each must stop the demo with an error naming the
// part.
func TestRunReportsAFailedStart(t *testing.T) {
	ctx := context.Background()
	m, err := StartMoto(ctx, MotoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	sample := local.Started{
		StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:s",
		ExecutionARN:    "arn:aws:states:us-east-1:123456789012:execution:s:e",
		StartDate:       time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
	}
	tests := []struct {
		name    string
		backend Backend
		wantErr string
		wantIs  error
	}{
		{
			name:    "start fails",
			backend: &fakeBackend{endpoints: m.Endpoints(), startErr: errors.New("no capacity")},
			wantErr: "start the sample: no capacity",
		},
		{
			name:    "nothing started",
			backend: &fakeBackend{endpoints: m.Endpoints()},
			wantErr: "the backend started no execution", wantIs: ErrNotOptedIn,
		},
		{
			name:    "nothing opted in",
			backend: &fakeBackend{endpoints: m.Endpoints(), execs: []Execution{{Started: sample}}},
			wantErr: "none of the 1 state machines has a maptuner:policy tag", wantIs: ErrNotOptedIn,
		},
		{
			name:    "unknown policy",
			backend: &fakeBackend{endpoints: m.Endpoints(), execs: []Execution{{Started: sample, Policy: "nope"}}},
			wantErr: "stateMachine:s: tag maptuner:policy=nope: policy of ",
		},
		{
			name:    "watch is not a function",
			backend: m,
			wantErr: "watch function", wantIs: local.ErrEmulator,
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{
				RepoRoot: repoRoot(t), PolicyFile: demoPolicies(t), Bootstraps: fakeBootstraps(t),
				Table: "table-" + strconv.Itoa(i),
			}
			_, err := Run(ctx, cfg, tc.backend, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("Run error = %v, want one containing %q (is %v)", err, tc.wantErr, tc.wantIs)
			}
		})
	}
}

func TestProgressEnded(t *testing.T) {
	tests := []struct {
		name string
		p    Progress
		want bool
	}{
		{"nothing started", Progress{}, false},
		{"running", Progress{Executions: []string{"RUNNING"}}, false},
		{"unknown status", Progress{Executions: []string{""}}, false},
		{"one of two running", Progress{Executions: []string{"SUCCEEDED", "RUNNING"}}, false},
		{"succeeded", Progress{Executions: []string{"SUCCEEDED"}}, true},
		{"all ended", Progress{Executions: []string{"FAILED", "ABORTED", "TIMED_OUT"}}, true},
		{"horizon passed", Progress{Executions: []string{"RUNNING"}, Over: true}, true},
	}
	for _, tc := range tests {
		if got := tc.p.Ended(); got != tc.want {
			t.Errorf("%s: Ended() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStoppedBy(t *testing.T) {
	tests := []struct {
		p    Progress
		want string
	}{
		{Progress{Executions: []string{"SUCCEEDED"}}, "execution SUCCEEDED"},
		{Progress{Executions: []string{"SUCCEEDED", "FAILED"}}, "executions SUCCEEDED, FAILED"},
		{Progress{Executions: []string{"SUCCEEDED", "RUNNING"}, Over: true}, "the end of the simulated time"},
		{Progress{Executions: []string{"FAILED"}, Over: true}, "execution FAILED"},
	}
	for _, tc := range tests {
		if got := stoppedBy(tc.p); got != tc.want {
			t.Errorf("stoppedBy(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestExecutionLines(t *testing.T) {
	e := Execution{Started: local.Started{
		StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:s",
		ExecutionARN:    "arn:aws:states:us-east-1:123456789012:execution:s:e",
		MapRunARNs:      []string{"arn:aws:states:us-east-1:123456789012:mapRun:s/M:1"},
	}}
	got := executionLines(e)
	want := "sample: state machine arn:aws:states:us-east-1:123456789012:stateMachine:s (no " + policy.TagKey + " tag: not tuned)\n" +
		"sample: execution arn:aws:states:us-east-1:123456789012:execution:s:e\n" +
		"sample: map run arn:aws:states:us-east-1:123456789012:mapRun:s/M:1"
	if got != want {
		t.Errorf("executionLines =\n%s\nwant\n%s", got, want)
	}
	e.Policy = "fast"
	if got := executionLines(e); !strings.Contains(got, "stateMachine:s (tag maptuner:policy=fast)\n") {
		t.Errorf("executionLines with a policy =\n%s", got)
	}
}
