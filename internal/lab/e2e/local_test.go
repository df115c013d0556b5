package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/awsapi"
	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/lab/simserver"
	"github.com/maptuner/maptuner/internal/lab/testenv"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/tuner"
	"github.com/maptuner/maptuner/internal/watch"
)

// shortJob is about a quarter of an hour of virtual time: 2,000 items of
// about 10 s against a Lambda function with a reserved concurrency of 30,
// starting at 10.
const shortJob = `
name: e2e-short
description: A short job for the end-to-end test against the local server.
downstreams:
  - name: process-item
    concurrency: 30
runs:
  - stateMachine: etl-nightly
    label: ProcessItems
    tags: {"maptuner:policy": default}
    downstream: process-item
    items: 2000
    maxConcurrency: 10
    toleratedFailurePercentage: 5
    duration: {dist: lognormal, median: 10s, sigma: 0.2}
    retry: {interval: 2s, backoffRate: 2, maxAttempts: 6, jitter: FULL}
policy:
  version: 1
  policies:
    default:
      throttleSignals:
        - namespace: AWS/Lambda
          metric: Throttles
          dimensions: {FunctionName: process-item}
          stat: Sum
`

// TestLocalServerEndToEnd runs a short simulated job through the real watch
// and tune bootstraps under the Lambda emulator: Step Functions and
// CloudWatch (in CBOR, the SDK's default) from the local server on a manual
// clock, DynamoDB from moto_server. The watch function gets the RUNNING
// event of the simulated execution, then the tune function runs once per
// virtual minute with the schedule event at the virtual now, until the job
// ends. The run must succeed, the limit must end near the capacity, and no
// update may ever leave the policy's range.
func TestLocalServerEndToEnd(t *testing.T) {
	ctx := context.Background()
	sc, err := sim.ParseScenario("e2e-short.yaml", []byte(shortJob))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := simserver.New(simserver.Config{Scenario: sc, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	local := httptest.NewServer(srv)
	defer local.Close()
	moto := testenv.StartMoto(t)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", moto.URL)
	t.Setenv("AWS_ENDPOINT_URL_SFN", local.URL)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDWATCH", local.URL)
	clients, err := awsapi.Load(ctx, awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const table = "maptuner-local-e2e"
	if err := registry.CreateTable(ctx, clients.DynamoDB, table); err != nil {
		t.Fatal(err)
	}
	doc, err := sc.PolicyYAML()
	if err != nil {
		t.Fatal(err)
	}
	policies := filepath.Join(t.TempDir(), "policies.yaml")
	if err := os.WriteFile(policies, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	pols, err := policy.Parse(policies, doc)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := pols.Resolve("default", "ProcessItems")
	if err != nil {
		t.Fatal(err)
	}

	env := []string{
		"TABLE_NAME=" + table, "POLICY_FILE=" + policies, "MAPTUNER_CLOCK=event", "MAPTUNER_CLOUDWATCH_PROTOCOL=",
		"AWS_ENDPOINT_URL_SFN=" + local.URL, "AWS_ENDPOINT_URL_CLOUDWATCH=" + local.URL, "AWS_ENDPOINT_URL_LAMBDA=" + local.URL,
		"AWS_ENDPOINT_URL_DYNAMODB=" + moto.URL,
	}
	watchFn := testenv.StartRIE(t, testenv.BuildBootstrap(t, "watch"), env)
	tuneFn := testenv.StartRIE(t, testenv.BuildBootstrap(t, "tune"), env)

	control := &simserver.Client{BaseURL: local.URL}
	started, err := control.Start(ctx)
	if err != nil || len(started.Parents) != 1 {
		t.Fatalf("start: %+v, %v", started, err)
	}
	p := started.Parents[0]
	running := event(t, "../../../events/status-running.json", map[string]string{
		"arn:aws:states:us-east-1:123456789012:execution:etl-nightly:nightly-2026-11-24": p.ExecutionARN,
		"arn:aws:states:us-east-1:123456789012:stateMachine:etl-nightly":                 p.StateMachineARN,
		`"nightly-2026-11-24"`: strconv.Quote(p.Name),
		"1795485603512":        strconv.FormatInt(p.StartDate, 10),
	})
	out, err := watchFn.Invoke(ctx, running)
	if err != nil {
		t.Fatalf("watch RUNNING: %v\n%s", err, watchFn.Logs())
	}
	var wres watch.Result
	if err := json.Unmarshal(out, &wres); err != nil || wres.Action != "registered" {
		t.Fatalf("watch RUNNING: %s, want action registered", out)
	}

	// One tune invocation per virtual minute, at the virtual now.
	clock := started.Clock
	ticks, updated, decided := 0, 0, 0
	for !clock.Done {
		if ticks++; ticks > 60 {
			t.Fatalf("the job is still running after %d ticks: %+v", ticks, clock)
		}
		out, err := tuneFn.Invoke(ctx, scheduleAt(t, clock.Now))
		if err != nil {
			t.Fatalf("tune at %s: %v\n%s", clock.Now, err, tuneFn.Logs())
		}
		var rep tuner.Report
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("tune report %s: %v", out, err)
		}
		if len(rep.Errors) > 0 {
			t.Errorf("tune at %s: errors %v", clock.Now.Format(time.TimeOnly), rep.Errors)
		}
		updated += rep.Updated
		decided += rep.Decided
		if clock, err = control.Advance(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	res, err := control.Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Runs[0]
	if r.Status != "SUCCEEDED" || r.Succeeded+r.Failed != r.Items || r.Failed > r.Items/100 {
		t.Fatalf("run %s: %d items succeeded and %d failed of %d; want SUCCEEDED with at most 1%% failed", r.Status, r.Succeeded, r.Failed, r.Items)
	}
	if decided < ticks-2 || updated == 0 {
		t.Errorf("%d ticks made %d decisions and %d updates", ticks, decided, updated)
	}
	t.Logf("%d ticks, %d decisions, %d updates; makespan %s, %d throttled calls of %d", ticks, decided, updated, r.Makespan, r.Throttled, r.Calls)

	// The limit over the last third of the run is near the capacity.
	last := r.Series[len(r.Series)*2/3:]
	for _, pt := range last {
		if ratio := float64(pt.Limit) / pt.Capacity; ratio < 0.5 || ratio > 1.3 {
			t.Errorf("minute %d: limit %d for a capacity of %.0f, want within [0.5, 1.3] x", pt.Minute, pt.Limit, pt.Capacity)
		}
	}

	// Every update the server accepted was safe.
	updates, err := control.Updates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(updates) != updated {
		t.Errorf("the server accepted %d updates, the tune reports say %d", len(updates), updated)
	}
	cfg := resolved.Control
	for _, u := range updates {
		what := fmt.Sprintf("update at %s", u.At.Format(time.TimeOnly))
		if u.MapRunARN != r.MapRunARN {
			t.Errorf("%s of %s, not the run", what, u.MapRunARN)
		}
		if c := u.MaxConcurrency; c != nil && (*c == 0 || *c < cfg.MinConcurrency || *c > cfg.MaxConcurrency) {
			t.Errorf("%s: maxConcurrency %d outside the policy's [%d, %d]", what, *c, cfg.MinConcurrency, cfg.MaxConcurrency)
		}
		if pct := u.ToleratedFailurePercentage; pct != nil && (*pct < 0 || float64(*pct) > cfg.Tolerance.CeilingPercent) {
			t.Errorf("%s: toleratedFailurePercentage %v outside [0, %v]", what, *pct, cfg.Tolerance.CeilingPercent)
		}
		if n := u.ToleratedFailureCount; n != nil && (*n < 0 || *n > cfg.Tolerance.CeilingCount) {
			t.Errorf("%s: toleratedFailureCount %d outside [0, %d]", what, *n, cfg.Tolerance.CeilingCount)
		}
	}

	// The functions read CloudWatch in CBOR, the SDK's default.
	stats, err := control.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Requests[simserver.ProtocolCBOR]["CloudWatch.GetMetricData"] == 0 || stats.Requests[simserver.ProtocolAWSJSON]["CloudWatch.GetMetricData"] != 0 {
		t.Errorf("GetMetricData requests by protocol %v, want CBOR only", stats.Requests)
	}
}
