// Package demo runs maptuner's main job locally, with no AWS account: a
// Backend serves the AWS APIs and runs a sample Distributed Map whose state
// machine opts in with the maptuner:policy tag; the real watch and tune
// bootstraps run under the AWS Lambda Runtime Interface Emulator; the watch
// function gets the execution's RUNNING status-change event, and the tune
// function is driven tick by tick, one virtual minute a tick, while the
// demo prints each decision as it is made.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/maptuner/maptuner/internal/local"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/tuner"
	"github.com/maptuner/maptuner/internal/watch"
)

// ErrNoDecision is returned by Run when the tune function made no decision
// in any tick: the demo showed nothing of the tuner.
var ErrNoDecision = errors.New("the tuner made no decision")

// ErrInvalidConfig is wrapped by the errors about a Config that cannot work.
var ErrInvalidConfig = errors.New("invalid demo configuration")

// Defaults of Config.
const (
	// DefaultTicks is the number of ticks run at most when Config.Ticks is zero.
	DefaultTicks = 30
	// DefaultTimeout is the wall time the ticks may take when Config.Timeout is zero.
	DefaultTimeout = 90 * time.Second
	// DefaultTable is the registry table when Config.Table is empty.
	DefaultTable = "maptuner-demo"
)

// tickPeriod is how far the virtual clock moves each tick: the tune
// function's schedule period.
const tickPeriod = time.Minute

// invokeTimeout bounds one invocation of a function.
const invokeTimeout = time.Minute

// Endpoints are where a Backend serves the AWS APIs.
type Endpoints struct {
	// SFN, CloudWatch and DynamoDB are the service endpoints, for example
	// http://127.0.0.1:45123; all three are required.
	SFN, CloudWatch, DynamoDB string
	// CloudWatchProtocol is the CloudWatch wire protocol the backend
	// speaks, as awsapi names it ("cbor", "json" or "query"); empty is the
	// SDK default, CBOR.
	CloudWatchProtocol string
	// Region is the Region served; empty means local.DefaultRegion.
	Region string
}

// Progress is how the sample execution stands.
type Progress struct {
	// Execution is the execution's status: RUNNING, SUCCEEDED, FAILED,
	// TIMED_OUT, ABORTED or PENDING_REDRIVE.
	Execution string
	// Runs are the execution's Map Runs as DescribeMapRun reports them.
	Runs []maprun.Snapshot
}

// Ended reports whether the execution is over.
func (p Progress) Ended() bool { return p.Execution != "" && p.Execution != "RUNNING" }

// Backend serves the AWS APIs the functions call and runs the sample.
type Backend interface {
	// About describes the backend in a sentence for the demo's output.
	About() string
	// Endpoints are where the functions reach the backend.
	Endpoints() Endpoints
	// Start creates the sample state machine with tags, starts one
	// execution of it, and returns once the execution's Map Runs are listed.
	Start(ctx context.Context, tags map[string]string) (local.Started, error)
	// Progress reports how the execution Start started stands at the tick
	// instant at. A backend whose clock is simulated moves it to at first;
	// one that runs in real time ignores at.
	Progress(ctx context.Context, at time.Time) (Progress, error)
	// Close stops the backend; it is safe to call more than once.
	Close() error
}

// Config says how Run runs the demo.
type Config struct {
	// RepoRoot is the repository root, where the sample events
	// (events/status-running.json, events/schedule.json) and, unless
	// Bootstraps is set, the functions to build are; required.
	RepoRoot string
	// Bootstraps is a directory holding watch/bootstrap and tune/bootstrap,
	// as make build lays out bin/; empty builds both into a temporary
	// directory.
	Bootstraps string
	// Emulator is the aws-lambda-rie executable; empty finds it as
	// local.FunctionOptions does.
	Emulator string
	// PolicyFile is the policies file the functions load; required.
	PolicyFile string
	// Policy is the policy the sample state machine opts into; empty means
	// the file's default policy.
	Policy string
	// Table is the registry's DynamoDB table; empty means DefaultTable.
	Table string
	// Start is the virtual instant of the first tick; zero means the wall
	// clock's current minute. Each tick is one minute later.
	Start time.Time
	// Ticks is the most ticks run; zero means DefaultTicks.
	Ticks int
	// Interval is the wall time between ticks, for a backend that runs in
	// real time; zero means no pause.
	Interval time.Duration
	// Timeout bounds the wall time of the ticks; zero means DefaultTimeout.
	// The demo stops after the tick that passes it.
	Timeout time.Duration
}

// Summary is what Run did.
type Summary struct {
	// Ticks is the number of tune invocations.
	Ticks int
	// Decisions is the number of decisions made; Updates how many of them
	// UpdateMapRun applied.
	Decisions, Updates int
	// Errors is the number of errors the tune function reported without
	// failing the tick.
	Errors int
	// Stopped says why the ticks stopped: the execution ended, or a limit.
	Stopped string
	// Final is the backend's last report, after the last tick.
	Final Progress
	// Elapsed is the wall time of the whole demo.
	Elapsed time.Duration
}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.RepoRoot == "" {
		errs = append(errs, errors.New("repo root is required"))
	}
	if c.PolicyFile == "" {
		errs = append(errs, errors.New("policy file is required"))
	}
	if c.Ticks < 0 {
		errs = append(errs, fmt.Errorf("ticks %d is negative", c.Ticks))
	}
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("interval %s is negative", c.Interval))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s is negative", c.Timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("demo: %w: %w", ErrInvalidConfig, err)
	}
	if c.Policy == "" {
		c.Policy = policy.DefaultPolicy
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Start.IsZero() {
		c.Start = time.Now().UTC().Truncate(time.Minute)
	}
	if c.Ticks == 0 {
		c.Ticks = DefaultTicks
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c, nil
}

// Run runs the demo against b, writing what happens to out, and returns a
// summary. It fails if any part does not start, if a function invocation
// fails, or with ErrNoDecision if no decision was made. It does not close b.
func Run(ctx context.Context, cfg Config, b Backend, out io.Writer) (Summary, error) {
	began := time.Now()
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	ep := b.Endpoints()
	if ep.Region == "" {
		ep.Region = local.DefaultRegion
	}
	if ep.SFN == "" || ep.CloudWatch == "" || ep.DynamoDB == "" {
		return Summary{}, fmt.Errorf("demo: backend %s: an endpoint is missing: %+v", b.About(), ep)
	}
	policies, err := policy.Load(cfg.PolicyFile)
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	if _, err := policies.Resolve(cfg.Policy, ""); err != nil {
		return Summary{}, fmt.Errorf("demo: policy %q of %s: %w", cfg.Policy, cfg.PolicyFile, err)
	}
	running, err := os.ReadFile(filepath.Join(cfg.RepoRoot, "events", "status-running.json"))
	if err != nil {
		return Summary{}, fmt.Errorf("demo: sample event: %w", err)
	}
	schedule, err := os.ReadFile(filepath.Join(cfg.RepoRoot, "events", "schedule.json"))
	if err != nil {
		return Summary{}, fmt.Errorf("demo: sample event: %w", err)
	}

	fmt.Fprintf(out, "backend: %s\n", b.About())
	watchBin, tuneBin, cleanup, err := bootstraps(ctx, cfg, out)
	if err != nil {
		return Summary{}, err
	}
	defer cleanup()

	if err := registry.CreateTable(ctx, dynamoClient(ep), cfg.Table); err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(out, "registry: created DynamoDB table %s\n", cfg.Table)

	started, err := b.Start(ctx, map[string]string{policy.TagKey: cfg.Policy})
	if err != nil {
		return Summary{}, fmt.Errorf("demo: start the sample: %w", err)
	}
	fmt.Fprintf(out, "sample: state machine %s (tag %s=%s)\n", started.StateMachineARN, policy.TagKey, cfg.Policy)
	fmt.Fprintf(out, "sample: execution %s\n", started.ExecutionARN)
	for _, arn := range started.MapRunARNs {
		fmt.Fprintf(out, "sample: map run %s\n", arn)
	}

	env := functionEnv(ep, cfg)
	watchFn, err := startFunction(ctx, cfg, watchBin, env)
	if err != nil {
		return Summary{}, err
	}
	defer watchFn.Close()
	tuneFn, err := startFunction(ctx, cfg, tuneBin, env)
	if err != nil {
		return Summary{}, err
	}
	defer tuneFn.Close()
	fmt.Fprintln(out, "functions: watch and tune are running under aws-lambda-rie")

	ev, err := statusEvent(running, started, rand.Text())
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	var res watch.Result
	if err := invoke(ctx, watchFn, "watch", ev, &res); err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(out, "watch: %s: %s\n", res.Action, res.Detail)
	if res.Action != "registered" {
		return Summary{}, fmt.Errorf("demo: watch answered %q to the RUNNING event, want \"registered\": %s", res.Action, res.Detail)
	}

	fmt.Fprintf(out, "tune: one tick per virtual minute from %s, at most %d ticks", cfg.Start.Format("15:04 UTC"), cfg.Ticks)
	if cfg.Interval > 0 {
		fmt.Fprintf(out, ", one every %s of wall time", cfg.Interval)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "tune: a decision reads: time  map run  maxConcurrency old -> new, tolerated failures percent/count old -> new  reason, outcome: why [items]")
	sum, err := ticks(ctx, cfg, b, tuneFn, schedule, out)
	sum.Elapsed = time.Since(began)
	if err != nil {
		return sum, err
	}
	printSummary(out, sum)
	if sum.Decisions == 0 {
		return sum, fmt.Errorf("demo: %w in %d ticks", ErrNoDecision, sum.Ticks)
	}
	return sum, nil
}

// ticks drives the tune function until the execution has ended and a tick
// has seen it, or a limit is reached.
func ticks(ctx context.Context, cfg Config, b Backend, tuneFn *local.Function, schedule []byte, out io.Writer) (Summary, error) {
	var sum Summary
	deadline := time.Now().Add(cfg.Timeout)
	var at time.Time
	for tick := 1; ; tick++ {
		at = cfg.Start.Add(time.Duration(tick-1) * tickPeriod)
		prog, err := b.Progress(ctx, at)
		if err != nil {
			return sum, fmt.Errorf("demo: tick %d: progress: %w", tick, err)
		}
		ev, err := scheduleEvent(schedule, at)
		if err != nil {
			return sum, fmt.Errorf("demo: %w", err)
		}
		var rep tuner.Report
		if err := invoke(ctx, tuneFn, "tune", ev, &rep); err != nil {
			return sum, fmt.Errorf("demo: tick %d: %w", tick, err)
		}
		sum.Ticks = tick
		sum.Decisions += len(rep.Decisions)
		sum.Updates += rep.Updated
		sum.Errors += len(rep.Errors)
		printTick(out, at, rep, prog)

		switch {
		case prog.Ended():
			sum.Stopped = "execution " + prog.Execution
		case tick >= cfg.Ticks:
			sum.Stopped = fmt.Sprintf("tick limit (%d)", cfg.Ticks)
		case !time.Now().Before(deadline):
			sum.Stopped = fmt.Sprintf("time limit (%s)", cfg.Timeout)
		}
		if sum.Stopped != "" {
			break
		}
		if err := pause(ctx, cfg.Interval); err != nil {
			return sum, fmt.Errorf("demo: %w", err)
		}
	}
	final, err := b.Progress(ctx, at)
	if err != nil {
		return sum, fmt.Errorf("demo: final progress: %w", err)
	}
	sum.Final = final
	return sum, nil
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	if d == 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// bootstraps returns the watch and tune bootstraps, built into a temporary
// directory unless cfg.Bootstraps has them, and a cleanup that removes what
// was built.
func bootstraps(ctx context.Context, cfg Config, out io.Writer) (watchBin, tuneBin string, cleanup func(), err error) {
	if cfg.Bootstraps != "" {
		watchBin = filepath.Join(cfg.Bootstraps, "watch", "bootstrap")
		tuneBin = filepath.Join(cfg.Bootstraps, "tune", "bootstrap")
		for _, p := range []string{watchBin, tuneBin} {
			if _, err := os.Stat(p); err != nil {
				return "", "", nil, fmt.Errorf("demo: bootstrap: %w (make build writes it)", err)
			}
		}
		fmt.Fprintf(out, "functions: using %s and %s\n", watchBin, tuneBin)
		return watchBin, tuneBin, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "maptuner-demo-")
	if err != nil {
		return "", "", nil, fmt.Errorf("demo: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	fmt.Fprintln(out, "functions: building watch and tune")
	if watchBin, err = local.BuildBootstrap(ctx, cfg.RepoRoot, "watch", dir); err == nil {
		tuneBin, err = local.BuildBootstrap(ctx, cfg.RepoRoot, "tune", dir)
	}
	if err != nil {
		cleanup()
		return "", "", nil, fmt.Errorf("demo: %w", err)
	}
	return watchBin, tuneBin, cleanup, nil
}

// functionEnv is the environment of both functions: the backend's
// endpoints and fake credentials, the registry table and policies, the
// CloudWatch protocol, and the event clock, so that a tick's instant is the
// "time" of its event.
func functionEnv(ep Endpoints, cfg Config) []string {
	return []string{
		"AWS_REGION=" + ep.Region,
		"AWS_ACCESS_KEY_ID=" + local.FakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + local.FakeSecretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_ENDPOINT_URL_SFN=" + ep.SFN,
		"AWS_ENDPOINT_URL_CLOUDWATCH=" + ep.CloudWatch,
		"AWS_ENDPOINT_URL_DYNAMODB=" + ep.DynamoDB,
		"MAPTUNER_CLOUDWATCH_PROTOCOL=" + ep.CloudWatchProtocol,
		"MAPTUNER_CLOCK=event",
		"TABLE_NAME=" + cfg.Table,
		"POLICY_FILE=" + cfg.PolicyFile,
		"LOG_LEVEL=info",
	}
}

// startFunction starts one function with env.
func startFunction(ctx context.Context, cfg Config, bootstrap string, env []string) (*local.Function, error) {
	f, err := local.StartFunction(ctx, local.FunctionOptions{Bootstrap: bootstrap, Env: env, Emulator: cfg.Emulator})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return f, nil
}

// invoke sends payload to f and decodes its response into v. On failure
// the error carries the function's log.
func invoke(ctx context.Context, f *local.Function, name string, payload []byte, v any) error {
	ctx, cancel := context.WithTimeout(ctx, invokeTimeout)
	defer cancel()
	resp, err := f.Invoke(ctx, payload)
	if err != nil {
		return fmt.Errorf("%s function: %w\n%s log:\n%s", name, err, name, f.Logs())
	}
	if err := json.Unmarshal(resp, v); err != nil {
		return fmt.Errorf("%s function answered %.200q: %w", name, resp, err)
	}
	return nil
}

// dynamoClient is a DynamoDB client for the backend.
func dynamoClient(ep Endpoints) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       ep.Region,
		BaseEndpoint: aws.String(ep.DynamoDB),
		Credentials:  credentials.NewStaticCredentialsProvider(local.FakeAccessKeyID, local.FakeSecretAccessKey, ""),
	})
}

// runName is the short name of a Map Run for the output: NAME/LABEL, or
// the ARN as it came if it does not parse.
func runName(arn string) string {
	a, err := maprun.ParseARN(arn)
	if err != nil {
		return arn
	}
	return a.StateMachine + "/" + a.Label
}

// printSummary writes the closing lines.
func printSummary(out io.Writer, sum Summary) {
	fmt.Fprintf(out, "summary: %d ticks, one virtual minute each, in %s of wall time; stopped by %s\n",
		sum.Ticks, sum.Elapsed.Round(time.Second), sum.Stopped)
	fmt.Fprintf(out, "summary: %d decisions, %d applied with UpdateMapRun, %d errors reported by the tune function\n",
		sum.Decisions, sum.Updates, sum.Errors)
	fmt.Fprintf(out, "summary: execution %s\n", sum.Final.Execution)
	for _, r := range sum.Final.Runs {
		fmt.Fprintf(out, "summary: map run %s %s: maxConcurrency %s, tolerated %s, as the backend's DescribeMapRun reports it; items %s\n",
			runName(r.ARN), r.Status, concurrency(r.Settings.MaxConcurrency), tolerance(r.Settings), counts(r.Items))
	}
}
