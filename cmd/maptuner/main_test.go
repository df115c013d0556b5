package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/awsapi"
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/lab/testenv"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/status"
	"github.com/maptuner/maptuner/internal/tuner"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// at is the fixed clock of the commands under test.
var at = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// result is what one command line did.
type result struct {
	code           int
	stdout, stderr string
}

// maptuner runs the command line args against the local account at url,
// with the clock at now.
func maptuner(t *testing.T, url string, now time.Time, args ...string) result {
	t.Helper()
	var out, errs bytes.Buffer
	c := cli{stdout: &out, stderr: &errs, now: func() time.Time { return now }}
	if len(args) > 0 {
		args = append(args, "--endpoint-url", url, "--region", "us-east-1")
	}
	code := c.run(context.Background(), args)
	return result{code, out.String(), errs.String()}
}

func (r result) want(t *testing.T, code int, contains ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range contains {
		if !strings.Contains(r.stdout+r.stderr, s) {
			t.Fatalf("output does not say %q\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
		}
	}
}

// local is a moto_server account with a registry table named by a stack's
// output, as a deployment has.
type local struct {
	url   string
	cfg   aws.Config
	table string
	db    *dynamodb.Client
	store *registry.DynamoDB
}

func startLocal(t *testing.T) *local {
	t.Helper()
	moto := testenv.StartMoto(t)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseEndpoint = aws.String(moto.URL)
	l := &local{url: moto.URL, cfg: cfg, table: "maptuner-Table-1A2B3C", db: dynamodb.NewFromConfig(cfg)}
	if err := registry.CreateTable(ctx, l.db, l.table); err != nil {
		t.Fatal(err)
	}
	if l.store, err = registry.NewDynamoDB(l.db, registry.Config{Table: l.table}); err != nil {
		t.Fatal(err)
	}
	// The stack names the table in its TableName output, as template.yaml does.
	tmpl := `{"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
		"Outputs": {"TableName": {"Value": "` + l.table + `"}}}`
	if _, err := cloudformation.NewFromConfig(cfg).CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("maptuner"), TemplateBody: aws.String(tmpl),
	}); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestStatusGolden prints the status of runs stored with known states and
// controls, as a table and as JSON.
func TestStatusGolden(t *testing.T) {
	l := startLocal(t)
	ctx := context.Background()
	runs := []registry.Run{
		{
			ARN: "arn:aws:states:us-east-1:123456789012:mapRun:etl-nightly/ProcessItems:0b5e", Policy: "lambda-100",
			State: control.State{
				Phase: control.PhaseBracket, Lo: 40, Hi: 56, ItemTime: 4.2, ThrottledAt: at.Add(-20 * time.Minute), PrevAt: at.Add(-30 * time.Second),
				Start:   maprun.Settings{MaxConcurrency: 100, ToleratedFailurePercentage: 1},
				History: []control.Setting{{From: at.Add(-time.Hour), MaxConcurrency: 100}, {From: at.Add(-10 * time.Minute), MaxConcurrency: 48}},
				Prev:    maprun.Counts{Succeeded: 1200, Failed: 3, Running: 48, Pending: 8749, Total: 10000},
			},
			LastDecision: &control.Decision{Reason: control.ReasonBisect, Message: "bisecting 40..56",
				New: maprun.Settings{MaxConcurrency: 48, ToleratedFailurePercentage: 2, ToleratedFailureCount: 5}, Signals: control.Signals{Throughput: 12.25}},
		},
		{
			ARN: "arn:aws:states:us-east-1:123456789012:mapRun:orders/Fanout:77aa", Policy: "default",
			State: control.State{
				Phase: control.PhaseSlowStart, PrevAt: at.Add(-2 * time.Minute),
				Start:   maprun.Settings{},
				History: []control.Setting{{From: at.Add(-5 * time.Minute), MaxConcurrency: 0}, {From: at.Add(-2 * time.Minute), MaxConcurrency: 20}},
				Prev:    maprun.Counts{Succeeded: 10, Running: 20, Total: 500},
			},
			LastDecision: &control.Decision{Reason: control.ReasonSlowStart, New: maprun.Settings{MaxConcurrency: 20}, Signals: control.Signals{Throughput: 0.5}},
		},
		{ARN: "arn:aws:states:us-east-1:123456789012:mapRun:orders/Fanout:new1", Policy: "default"},
	}
	for i, r := range runs {
		r.DiscoveredAt = at.Add(-time.Hour)
		if _, err := l.store.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			continue
		}
		held, err := l.store.Claim(ctx, r.ARN, "tuner-a", at.Add(-time.Minute), 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		r.Version = held.Version
		if i == 0 {
			// The first keeps its lease: a tick is on it.
			if _, err := l.store.Checkpoint(ctx, r, "tuner-a", at.Add(-time.Minute)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := l.store.Save(ctx, r, "tuner-a", at.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []registry.Control{
		{Target: "arn:aws:states:us-east-1:123456789012:stateMachine:orders", Source: registry.SourceTag, Pin: 30, By: "tag maptuner:pin=30", At: at.Add(-time.Hour)},
		{Target: runs[1].ARN, Source: registry.SourceOperator, Paused: true, By: "arn:aws:iam::123456789012:user/ops", At: at.Add(-time.Minute)},
	} {
		if err := l.store.PutControl(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range []control.Decision{
		{Reason: control.ReasonThrottled, Old: maprun.Settings{MaxConcurrency: 100}, New: maprun.Settings{MaxConcurrency: 56}, Update: true,
			Message: "throttled at 100: cut to 56.", Signals: control.Signals{Running: 97, Throughput: 20, NewestValue: 14, NewestMinute: at.Add(-20 * time.Minute)}},
		{Reason: control.ReasonBisect, Old: maprun.Settings{MaxConcurrency: 56}, New: maprun.Settings{MaxConcurrency: 48}, Update: true,
			Message: "bisecting 40..56", Signals: control.Signals{Running: 55, Throughput: 12.25, FailurePercent: 0.03, LiveSampled: 5, LiveThrottled: 1}},
	} {
		if err := l.store.AppendDecision(ctx, runs[0].ARN, at.Add(time.Duration(i-20)*time.Minute), d); err != nil {
			t.Fatal(err)
		}
	}
	ended := registry.Run{ARN: "arn:aws:states:us-east-1:123456789012:mapRun:orders/Fanout:old0", Policy: "default",
		DiscoveredAt: at.Add(-48 * time.Hour), Ended: true, EndedAt: at.Add(-24 * time.Hour), EndReason: "SUCCEEDED"}
	if _, err := l.store.PutRun(ctx, ended); err != nil {
		t.Fatal(err)
	}
	golden(t, "status-all.golden", maptuner(t, l.url, at, "status", "--all"))
	golden(t, "status.golden", maptuner(t, l.url, at, "status"))
	golden(t, "status.json", maptuner(t, l.url, at, "status", "-o", "json"))
	golden(t, "explain.golden", maptuner(t, l.url, at, "explain", runs[0].ARN))

	// The JSON is the rows, for scripts.
	var rows []status.Row
	if err := json.Unmarshal([]byte(maptuner(t, l.url, at, "status", "--output=json").stdout), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].MaxConcurrency != 48 || rows[0].Lease != "tuner-a" || rows[1].Hold == nil || !rows[1].Hold.Paused || rows[2].Hold == nil || rows[2].Hold.Pin != 30 {
		t.Errorf("rows %+v", rows)
	}
}

// golden compares what a command wrote with testdata/name, or rewrites
// it with -update.
func golden(t *testing.T, name string, r result) {
	t.Helper()
	r.want(t, 0)
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.stdout != string(want) {
		t.Errorf("%s: got\n%s\nwant\n%s", name, r.stdout, want)
	}
}

// TestSteer steers a real Distributed Map in moto_server that the tuner
// tunes: pause, pin, explain and rollback, each seen by the tuner's next
// tick and in DescribeMapRun.
func TestSteer(t *testing.T) {
	l := startLocal(t)
	ctx := context.Background()
	for _, svc := range []string{"SFN", "CLOUDWATCH", "DYNAMODB"} {
		t.Setenv("AWS_ENDPOINT_URL_"+svc, l.url)
	}
	clients, err := awsapi.Load(ctx, awsapi.Options{CloudWatchProtocol: awsapi.CloudWatchJSON})
	if err != nil {
		t.Fatal(err)
	}
	started := testenv.StartDistributedMap(t, clients.SFN, testenv.DistributedMap{
		Name: "etl-nightly", Execution: "steer", Items: 50, WaitSeconds: 3600, NameLabels: true,
		ToleratedFailurePercentage: 1, ToleratedFailureCount: 3,
		Tags: map[string]string{policy.TagKey: "default"},
	})
	run := started.MapRunARNs[0]
	if _, err := l.store.PutExecution(ctx, registry.Execution{ARN: started.ExecutionARN, StateMachineARN: started.StateMachineARN,
		Status: registry.StatusRunning, Policy: "default", UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	pols, err := policy.Load("testdata/policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tu, err := tuner.New(tuner.Config{Owner: "tuner-a", Region: "us-east-1"},
		tuner.Deps{SFN: clients.SFN, CloudWatch: clients.CloudWatch, Store: l.store, Policies: pols})
	if err != nil {
		t.Fatal(err)
	}
	tick := 0
	next := func() tuner.RunDecision {
		t.Helper()
		rep, err := tu.Tick(ctx, at.Add(time.Duration(tick)*time.Minute))
		tick++
		if err != nil || len(rep.Errors) != 0 || len(rep.Decisions) != 1 {
			t.Fatalf("tick %d: %+v, %v", tick, rep, err)
		}
		return rep.Decisions[0]
	}
	limit := func() int32 {
		t.Helper()
		out, err := clients.SFN.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(run)})
		if err != nil {
			t.Fatal(err)
		}
		return out.MaxConcurrency
	}
	now := func() time.Time { return at.Add(time.Duration(tick) * time.Minute) }

	if d := next(); !d.Applied || limit() != 10 {
		t.Fatalf("first decision %+v, limit %d; want 10 applied", d, limit())
	}
	maptuner(t, l.url, now(), "status").want(t, 0, "etl-nightly/Map1:", "default", "10", string(control.ReasonInitial))

	// Pause: the next tick observes and does not update.
	maptuner(t, l.url, now(), "pause", run).want(t, 0, "paused")
	if d := next(); d.Decision.Reason != control.ReasonPaused || d.Decision.Update || limit() != 10 {
		t.Fatalf("paused: %+v, limit %d", d, limit())
	}
	maptuner(t, l.url, now(), "status").want(t, 0, "paused (run)", "Paused")

	// Pin, while paused: the pause wins; resumed, the pin holds.
	maptuner(t, l.url, now(), "pin", run, "25").want(t, 0, "pinned at 25")
	if d := next(); d.Decision.Reason != control.ReasonPaused || limit() != 10 {
		t.Fatalf("paused and pinned: %+v, limit %d", d, limit())
	}
	maptuner(t, l.url, now(), "resume", run).want(t, 0, "resumed")
	if d := next(); d.Decision.Reason != control.ReasonPinned || !d.Applied || limit() != 25 {
		t.Fatalf("pinned: %+v, limit %d", d, limit())
	}
	maptuner(t, l.url, now(), "status", "-o", "json").want(t, 0, `"pin": 25`)
	maptuner(t, l.url, now(), "unpin", run).want(t, 0, "unpinned")

	// A state machine's pause holds all its runs.
	maptuner(t, l.url, now(), "pause", started.StateMachineARN).want(t, 0, "paused")
	if d := next(); d.Decision.Reason != control.ReasonPaused || limit() != 25 {
		t.Fatalf("state machine paused: %+v, limit %d", d, limit())
	}
	maptuner(t, l.url, now(), "resume", started.StateMachineARN).want(t, 0, "resumed")

	// Explain: newest first.
	ex := maptuner(t, l.url, now(), "explain", run)
	ex.want(t, 0, "bracket", "started:    maxConcurrency unlimited, tolerated failures 1%/3")
	order := []string{"Z Paused", "Z Pinned", "Z Paused", "Z Initial"}
	rest := ex.stdout
	for _, s := range order {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Fatalf("explain does not list %v newest first:\n%s", order, ex.stdout)
		}
		rest = rest[i+len(s):]
	}

	// Rollback: the start settings, in one update, then paused.
	maptuner(t, l.url, now(), "rollback", run).want(t, 0, "rolled back: maxConcurrency 25 -> unlimited", "maptuner resume")
	out, err := clients.SFN.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(run)})
	if err != nil {
		t.Fatal(err)
	}
	if out.MaxConcurrency != 0 || out.ToleratedFailurePercentage != 1 || out.ToleratedFailureCount != 3 {
		t.Fatalf("after rollback: maxConcurrency %d, tolerated %g%%/%d; want 0 (unlimited), 1%%/3", out.MaxConcurrency, out.ToleratedFailurePercentage, out.ToleratedFailureCount)
	}
	if d := next(); d.Decision.Reason != control.ReasonPaused || limit() != 0 {
		t.Fatalf("after rollback: %+v, limit %d; want the run paused, unlimited", d, limit())
	}
	maptuner(t, l.url, now(), "explain", run).want(t, 0, "Z Rollback: maxConcurrency 25 -> unlimited")

	// What is wrong is named.
	unknown := strings.Replace(run, "etl-nightly/", "etl-other/", 1)
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"pause", unknown}, 1, "map run " + unknown + " is not tracked"},
		{[]string{"explain", unknown}, 1, "is not tracked"},
		{[]string{"rollback", unknown}, 1, "is not tracked"},
		{[]string{"pause", "arn:aws:states:us-east-1:123456789012:stateMachine:nobody"}, 1, "is not known to maptuner"},
		{[]string{"status", "--table", "nope"}, 1, `table "nope" not found`},
		{[]string{"status", "--stack", "nope"}, 1, `stack "nope" not found`},
		{[]string{"pause", "etl-nightly"}, 2, `"etl-nightly" is neither a Map Run ARN`},
		{[]string{"pin", run, "many"}, 2, `pin "many": want a whole number`},
		{[]string{"pin", run, "0"}, 2, "want a whole number from 1 to 10000"},
		{[]string{"pin", run}, 2, "pin takes RUN|STATE_MACHINE N, got 1"},
		{[]string{"status", "-o", "yaml"}, 2, `-o "yaml": want table or json`},
		{[]string{"status", "--stack", "a", "--table", "b"}, 2, "give one"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"status", "--color"}, 2, "flag provided but not defined: -color"},
		{nil, 2, "no command"},
	} {
		maptuner(t, l.url, now(), c.args...).want(t, c.code, c.says)
	}
	maptuner(t, l.url, now(), "pin", run, "20000").want(t, 0, "pinned at 10000 (20000 asked")
	maptuner(t, l.url, now(), "help").want(t, 0, "maptuner rollback RUN")
}
