package demo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/local"
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

// demoPolicies is the policies file make demo uses.
func demoPolicies(t *testing.T) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "cmd", "maptuner-demo", "policies.yaml")
}

// TestRunAgainstMoto runs the whole demo, in short: a 4-item sample whose
// children finish within about 5 seconds, a tick every half second. The
// first decision caps the unlimited run at 10 and moto's DescribeMapRun
// then reports what was applied.
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
		Ticks:      20,
		Interval:   500 * time.Millisecond,
		Timeout:    40 * time.Second,
	}, b, &out)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	if sum.Stopped != "execution SUCCEEDED" || sum.Final.Execution != "SUCCEEDED" {
		t.Errorf("stopped by %q with execution %q, want the execution SUCCEEDED", sum.Stopped, sum.Final.Execution)
	}
	if sum.Decisions < 2 || sum.Updates != 1 || sum.Errors != 0 || sum.Ticks < sum.Decisions {
		t.Errorf("summary %+v: want at least 2 decisions in as many ticks, 1 update, no error", sum)
	}
	text := out.String()
	decisionLines := 0
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "  demo-test/Map1  maxConcurrency ") {
			decisionLines++
		}
	}
	if decisionLines != sum.Decisions {
		t.Errorf("%d decision lines printed, want %d", decisionLines, sum.Decisions)
	}
	for _, want := range []string{
		"watch: registered: execution ",
		"discovered 1 new map run(s)",
		"demo-test/Map1  maxConcurrency unlimited -> 10, tolerated 0%/0 -> 2%/0  Initial+Baseline, applied: run started at maxConcurrency 0",
		"Ended, held: map run is SUCCEEDED",
		"decisions, 1 applied with UpdateMapRun, 0 errors",
		"summary: map run demo-test/Map1 SUCCEEDED: maxConcurrency 10, tolerated 2%/0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
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
	startErr  error
}

var _ Backend = (*fakeBackend)(nil)

func (f *fakeBackend) About() string        { return "fake" }
func (f *fakeBackend) Endpoints() Endpoints { return f.endpoints }
func (f *fakeBackend) Start(context.Context, map[string]string) (local.Started, error) {
	return local.Started{}, f.startErr
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
			name: "empty config", cfg: Config{}, backend: &fakeBackend{endpoints: unreachable},
			wantErr: "repo root is required\npolicy file is required", wantIs: ErrInvalidConfig,
		},
		{
			name: "negative limits", cfg: with(func(c *Config) { c.Ticks, c.Interval, c.Timeout = -1, -time.Second, -time.Second }),
			backend: &fakeBackend{endpoints: unreachable},
			wantErr: "ticks -1 is negative\ninterval -1s is negative\ntimeout -1s is negative", wantIs: ErrInvalidConfig,
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
			name: "unknown policy", cfg: with(func(c *Config) { c.Policy = "nope" }),
			backend: &fakeBackend{endpoints: unreachable}, wantErr: `policy "nope" of `,
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
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out bytes.Buffer
			_, err := Run(ctx, tc.cfg, tc.backend, &out)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("Run error = %v, want one containing %q (is %v)", err, tc.wantErr, tc.wantIs)
			}
		})
	}
}

// TestRunReportsAFailedStart runs against moto with a backend whose Start
// fails, and with a watch bootstrap that is not a Lambda function: each
// must stop the demo with an error naming the part.
func TestRunReportsAFailedStart(t *testing.T) {
	ctx := context.Background()
	m, err := StartMoto(ctx, MotoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	cfg := Config{RepoRoot: repoRoot(t), PolicyFile: demoPolicies(t), Bootstraps: fakeBootstraps(t)}

	failing := &fakeBackend{endpoints: m.Endpoints(), startErr: errors.New("no capacity")}
	if _, err := Run(ctx, cfg, failing, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "start the sample: no capacity") {
		t.Fatalf("Run with a failing Start: error = %v", err)
	}

	cfg.Table = "second-table"
	_, err = Run(ctx, cfg, m, &bytes.Buffer{})
	if !errors.Is(err, local.ErrEmulator) || !strings.Contains(err.Error(), "watch function") {
		t.Fatalf("Run with a watch bootstrap that exits: error = %v, want ErrEmulator naming the watch function", err)
	}
}
