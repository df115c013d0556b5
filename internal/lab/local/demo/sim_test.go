package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/local"
	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/policy"
)

// twoRuns is a scenario of two runs on one downstream: a tagged one that
// starts at once, and an untagged neighbour whose Map Run starts two
// minutes after its parent.
const twoRuns = `
name: demo-two
horizon: 1h
downstreams:
  - name: shared
    concurrency: 40
runs:
  - stateMachine: tuned
    label: Items
    tags: {"maptuner:policy": default}
    downstream: shared
    items: 300
    maxConcurrency: 10
    toleratedFailurePercentage: 5
    duration: {dist: fixed, value: 10s}
  - stateMachine: neighbour
    label: Items
    downstream: shared
    items: 200
    delay: 2m
    maxConcurrency: 5
    toleratedFailurePercentage: 5
    duration: {dist: fixed, value: 10s}
policy:
  version: 1
  policies:
    default:
      throttleSignals:
        - namespace: AWS/Lambda
          metric: Throttles
          dimensions: {FunctionName: shared}
          stat: Sum
`

func parseScenario(t *testing.T, name, text string) sim.Scenario {
	t.Helper()
	sc, err := sim.ParseScenario(name, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestSimBackend(t *testing.T) {
	ctx := context.Background()
	sc := parseScenario(t, "two.yaml", twoRuns)
	b, err := StartSim(ctx, SimOptions{Scenario: sc, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	ep := b.Endpoints()
	if !strings.HasPrefix(ep.SFN, "http://127.0.0.1:") || ep.CloudWatch != ep.SFN || ep.DynamoDB == ep.SFN || ep.CloudWatchProtocol != "" || ep.Region != sim.Region {
		t.Fatalf("Endpoints = %+v: want Step Functions and CloudWatch (CBOR) at the server, DynamoDB elsewhere", ep)
	}
	if about := b.About(); !strings.Contains(about, ep.SFN) || !strings.Contains(about, ep.DynamoDB) || !strings.Contains(about, "scenario demo-two, seed 7: 500 items in 2 map run(s)") {
		t.Fatalf("About = %q", about)
	}
	if b.Scenario().Name != "demo-two" || b.Seed() != 7 {
		t.Fatalf("Scenario %q, Seed %d", b.Scenario().Name, b.Seed())
	}
	doc, err := os.ReadFile(b.PolicyFile())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy.Parse(b.PolicyFile(), doc); err != nil || !filepath.IsAbs(b.PolicyFile()) {
		t.Fatalf("policy file %s: %v", b.PolicyFile(), err)
	}
	if _, err := b.Progress(ctx, time.Now()); err == nil || !strings.Contains(err.Error(), "before the sample was started") {
		t.Fatalf("Progress before Start: error = %v", err)
	}

	execs, err := b.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(execs) != 2 {
		t.Fatalf("Start = %+v, want 2 executions", execs)
	}
	start := sc.Start
	tuned, neighbour := execs[0], execs[1]
	if tuned.Policy != "default" || len(tuned.MapRunARNs) != 1 || !strings.Contains(tuned.StateMachineARN, ":stateMachine:tuned") || !tuned.StartDate.Equal(start) {
		t.Errorf("first execution %+v: want the tagged one, started at %s with its map run", tuned, start)
	}
	if neighbour.Policy != "" || len(neighbour.MapRunARNs) != 0 || !strings.Contains(neighbour.ExecutionARN, ":execution:neighbour:") {
		t.Errorf("second execution %+v: want the untagged one, its map run not started yet", neighbour)
	}
	if _, err := b.Start(ctx); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Fatalf("second Start: error = %v", err)
	}

	p, err := b.Progress(ctx, start.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Executions) != 2 || p.Executions[0] != "RUNNING" || p.Executions[1] != "RUNNING" || p.Over || len(p.Runs) != 2 {
		t.Fatalf("Progress at 3m = %+v: want both running, two map runs", p)
	}
	r := p.Runs[0]
	if r.ARN != tuned.MapRunARNs[0] || r.Status != "RUNNING" || !r.Live || r.Total != 300 || r.Done == 0 || r.Settings.MaxConcurrency != 10 || r.Settings.ToleratedFailurePercentage != 5 {
		t.Fatalf("run progress at 3m %+v", r)
	}
	if r.Throughput <= 0 || r.Running <= 0 || r.ETA <= 0 {
		t.Fatalf("run progress at 3m %+v: want a throughput, children running and an ETA", r)
	}
	// An earlier instant does not move the clock back.
	again, err := b.Progress(ctx, start)
	if err != nil || again.Runs[0].Done != r.Done {
		t.Fatalf("Progress at the start after 3m: %+v, %v; want the same as at 3m", again, err)
	}
	end, err := b.Progress(ctx, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !end.Ended() || end.Executions[0] != "SUCCEEDED" || end.Executions[1] != "SUCCEEDED" || end.Runs[1].Done != 200 {
		t.Fatalf("Progress after an hour = %+v: want both succeeded", end)
	}
	if res := b.Result(); len(res.Runs) != 2 || !res.Done {
		t.Fatalf("Result = %+v", res)
	}

	dir := filepath.Dir(b.PolicyFile())
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("policy directory %s after Close: %v", dir, err)
	}
}

func TestStartSimFailures(t *testing.T) {
	noPolicy := parseScenario(t, "bare.yaml", "name: bare\ndownstreams: [{name: d, concurrency: 5}]\nruns: [{stateMachine: s, label: L, downstream: d, items: 10, duration: {dist: fixed, value: 1s}}]\n")
	badPolicy := noPolicy
	bad := parseScenario(t, "p.yaml", "policy: {version: 1, policies: {other: {}}}\n"+"downstreams: [{name: d}]\nruns: [{stateMachine: s, label: L, downstream: d, items: 1, duration: {dist: fixed, value: 1s}}]\n")
	badPolicy.Policy = bad.Policy
	tests := []struct {
		name    string
		opt     SimOptions
		wantErr string
	}{
		{name: "zero scenario", opt: SimOptions{}, wantErr: "demo: simulated backend: "},
		{name: "policy the tuner refuses", opt: SimOptions{Scenario: badPolicy}, wantErr: `scenario bare: `},
		{name: "no moto_server", opt: SimOptions{Scenario: noPolicy, Moto: local.MotoOptions{Python: filepath.Join(t.TempDir(), "no-python3")}}, wantErr: "DynamoDB: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := StartSim(context.Background(), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				if b != nil {
					b.Close()
				}
				t.Fatalf("StartSim error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}

	// A scenario with no policy leaves the functions on the built-in ones.
	b := startSim(t, noPolicy)
	if b.PolicyFile() != "" {
		t.Fatalf("PolicyFile = %q for a scenario with no policy, want empty", b.PolicyFile())
	}
}

// TestRunSimulatedTwoRuns runs the demo on a scenario whose neighbour run
// is not opted in: watch ignores it, the tuner tunes the other, and both
// end.
func TestRunSimulatedTwoRuns(t *testing.T) {
	b := startSim(t, parseScenario(t, "two.yaml", twoRuns))
	var out bytes.Buffer
	sum, err := Run(context.Background(), Config{RepoRoot: repoRoot(t), PolicyFile: b.PolicyFile(), Ticks: 60, Timeout: hangGuard}, b, &out)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Stopped != "executions SUCCEEDED, SUCCEEDED" || len(sum.Final.Runs) != 2 || sum.Errors != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if c := sum.Comparison; c == nil || len(c.DefinitionSettings) != 2 || c.DefinitionSettings[1] != 5 || sum.PlotFile != "" {
		t.Fatalf("comparison %+v, plot %q: want the definitions [10 5] and no plot", c, sum.PlotFile)
	}
	for _, want := range []string{
		"stateMachine:neighbour (no maptuner:policy tag: not tuned)",
		"watch: ignored: state machine arn:aws:states:us-east-1:123456789012:stateMachine:neighbour has no maptuner:policy tag",
		"watch: registered: execution arn:aws:states:us-east-1:123456789012:execution:tuned:",
		"compare:  the definition's, 10, 5 ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "neighbour/Items  maxConcurrency") {
		t.Error("the neighbour, not opted in, was tuned")
	}
}

// TestStartSimExternalDynamoDB serves DynamoDB from the endpoint given:
// no moto_server is started (a missing Python would fail it).
func TestStartSimExternalDynamoDB(t *testing.T) {
	sc := parseScenario(t, "two.yaml", twoRuns)
	const endpoint = "http://127.0.0.1:1"
	b, err := StartSim(context.Background(), SimOptions{Scenario: sc, DynamoDB: endpoint, Moto: local.MotoOptions{Python: filepath.Join(t.TempDir(), "no-python3")}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if ep := b.Endpoints(); ep.DynamoDB != endpoint || ep.SFN == endpoint {
		t.Fatalf("Endpoints = %+v, want DynamoDB at %s", ep, endpoint)
	}
	if about := b.About(); !strings.Contains(about, "the endpoint at "+endpoint+" for DynamoDB") {
		t.Fatalf("About = %q", about)
	}
}
