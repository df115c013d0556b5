package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/awsapi"
	"github.com/maptuner/maptuner/internal/lab/testenv"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/tuner"
	"github.com/maptuner/maptuner/internal/watch"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// event returns the sample event at path with the sample ARNs replaced by
// real ones.
func event(t *testing.T, path string, replace map[string]string) []byte {
	t.Helper()
	s := string(readFile(t, path))
	for old, new := range replace {
		s = strings.ReplaceAll(s, old, new)
	}
	return []byte(s)
}

func scheduleAt(t *testing.T, at time.Time) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFile(t, "../../../events/schedule.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["time"] = at.UTC().Format(time.RFC3339)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMotoEndToEnd runs a real Distributed Map in moto_server, registers it
// through the watch bootstrap, tunes it through the tune bootstrap, and reads
// the settings back from moto's DescribeMapRun.
func TestMotoEndToEnd(t *testing.T) {
	moto := testenv.StartMoto(t)
	for _, svc := range []string{"SFN", "CLOUDWATCH", "DYNAMODB"} {
		t.Setenv("AWS_ENDPOINT_URL_"+svc, moto.URL)
	}
	ctx := context.Background()
	clients, err := awsapi.Load(ctx, awsapi.Options{CloudWatchProtocol: awsapi.CloudWatchJSON})
	if err != nil {
		t.Fatal(err)
	}
	const table = "maptuner-e2e"
	if err := registry.CreateTable(ctx, clients.DynamoDB, table); err != nil {
		t.Fatal(err)
	}
	started := testenv.StartDistributedMap(t, clients.SFN, testenv.DistributedMap{
		Name: "etl-nightly", Execution: "nightly-e2e", Items: 50, WaitSeconds: 120,
		ToleratedFailurePercentage: 1, ToleratedFailureCount: 3,
		Tags: map[string]string{policy.TagKey: "default"},
	})
	if len(started.MapRunARNs) != 1 {
		t.Fatalf("map runs %v, want 1", started.MapRunARNs)
	}
	runARN := started.MapRunARNs[0]

	policies, err := filepath.Abs("testdata/policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"TABLE_NAME=" + table, "POLICY_FILE=" + policies,
		"MAPTUNER_CLOUDWATCH_PROTOCOL=json", "MAPTUNER_CLOCK=event", "LOG_LEVEL=debug",
	}
	watchFn := testenv.StartRIE(t, testenv.BuildBootstrap(t, "watch"), env)
	tuneFn := testenv.StartRIE(t, testenv.BuildBootstrap(t, "tune"), env)

	// The RUNNING event of the real execution registers it.
	running := event(t, "../../../events/status-running.json", map[string]string{
		"arn:aws:states:us-east-1:123456789012:execution:etl-nightly:nightly-2026-11-24": started.ExecutionARN,
		"arn:aws:states:us-east-1:123456789012:stateMachine:etl-nightly":                 started.StateMachineARN,
	})
	for i, want := range []string{"registered", "duplicate"} {
		out, err := watchFn.Invoke(ctx, running)
		if err != nil {
			t.Fatalf("watch RUNNING %d: %v\n%s", i, err, watchFn.Logs())
		}
		var res watch.Result
		if err := json.Unmarshal(out, &res); err != nil || res.Action != want {
			t.Fatalf("watch RUNNING %d: %s, want action %q", i, out, want)
		}
	}

	// The malformed event is refused with a clear error and writes nothing.
	_, err = watchFn.Invoke(ctx, readFile(t, "../../../events/malformed.json"))
	var fe *testenv.FunctionError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "detail.stateMachineArn: missing") {
		t.Fatalf("malformed event: %v", err)
	}

	// First tick: discovery, then the first decision on the run.
	at := time.Now().UTC().Truncate(time.Minute)
	out, err := tuneFn.Invoke(ctx, scheduleAt(t, at))
	if err != nil {
		t.Fatalf("tune: %v\n%s", err, tuneFn.Logs())
	}
	var rep tuner.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("tune report %s: %v", out, err)
	}
	if rep.Discovered != 1 || rep.Decided != 1 || rep.Updated != 1 || len(rep.Errors) != 0 {
		t.Fatalf("report %s\nlogs:\n%s", out, tuneFn.Logs())
	}
	d := rep.Decisions[0]
	if d.MapRunARN != runARN || !d.Applied || d.Decision.New.MaxConcurrency != 10 {
		t.Fatalf("decision %+v", d)
	}

	// moto's DescribeMapRun reports what the tuner decided.
	got, err := clients.SFN.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(runARN)})
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxConcurrency != 10 || got.ToleratedFailurePercentage != 2 || got.ToleratedFailureCount != 5 {
		t.Fatalf("moto says maxConcurrency %d, tolerated %.4g%% / %d; want 10, 2%% / 5",
			got.MaxConcurrency, got.ToleratedFailurePercentage, got.ToleratedFailureCount)
	}
	if !bytes.Contains([]byte(tuneFn.Logs()), []byte(`"msg":"decision"`)) {
		t.Fatalf("no decision log line:\n%s", tuneFn.Logs())
	}

	// A second invocation for the same tick (an at-least-once retry) acts on nothing.
	out, err = tuneFn.Invoke(ctx, scheduleAt(t, at.Add(time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	rep = tuner.Report{}
	if err := json.Unmarshal(out, &rep); err != nil || rep.Updated != 0 || rep.Skipped["fresh"] != 1 {
		t.Fatalf("repeated tick: %s", out)
	}
}
