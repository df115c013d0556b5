// Package demo runs maptuner's main job locally, with no AWS account: a
// Backend serves the AWS APIs and runs a sample Distributed Map whose state
// machine opts in with the maptuner:policy tag; the real watch and tune
// bootstraps run under the AWS Lambda Runtime Interface Emulator; the watch
// function gets each execution's RUNNING status-change event, and the tune
// function is driven tick by tick, one virtual minute a tick, while the
// demo prints a live progress line and every decision that changes a
// setting. There are two backends: Sim, a simulated account
// (internal/lab/simserver) on a manual virtual clock, after which Run compares
// the tuned run with static settings on the same scenario and seed and
// plots it; and Moto, moto_server running a small sample for real.
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
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/maptuner/maptuner/internal/lab/local"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/status"
	"github.com/maptuner/maptuner/internal/tuner"
	"github.com/maptuner/maptuner/internal/watch"
)

// ErrNoDecision is returned by Run when the tune function made no decision
// in any tick: the demo showed nothing of the tuner.
var ErrNoDecision = errors.New("the tuner made no decision")

// ErrInvalidConfig is wrapped by the errors about a Config that cannot work.
var ErrInvalidConfig = errors.New("invalid demo configuration")

// ErrNotOptedIn is wrapped by the error Run returns when no execution the
// backend started opts in with the maptuner:policy tag: nothing to tune.
var ErrNotOptedIn = errors.New("no execution opts in")

// Defaults of Config.
const (
	// DefaultTicks is the number of ticks run at most when Config.Ticks is zero.
	DefaultTicks = 30
	// DefaultTimeout is the wall time the ticks may take when Config.Timeout is zero.
	DefaultTimeout = 5 * time.Minute
	// DefaultTable is the registry table when Config.Table is empty.
	DefaultTable = "maptuner-demo"
	// DefaultProgressEvery is the ticks between two progress lines when
	// Config.Live is off and Config.ProgressEvery is zero.
	DefaultProgressEvery = 10
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

// Execution is a parent execution a Backend started.
type Execution struct {
	// Started has its ARNs, its start date and the ARNs of the Map Runs
	// that had started when Start returned (none when a run starts later).
	local.Started
	// Policy is the value of its state machine's maptuner:policy tag;
	// empty when the state machine does not opt in.
	Policy string
}

// Progress is how the executions a Backend started stand.
type Progress struct {
	// Executions are the statuses of the executions, in the order Start
	// returned them: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or
	// PENDING_REDRIVE.
	Executions []string
	// Over reports that nothing more will happen whatever the statuses
	// say: a simulated world passed its horizon.
	Over bool
	// Runs are the Map Runs started so far.
	Runs []RunProgress
}

// RunProgress is how one Map Run stands.
type RunProgress struct {
	// ARN is the Map Run's ARN; Status RUNNING, SUCCEEDED, FAILED or
	// ABORTED.
	ARN    string
	Status string
	// Settings are the run's maxConcurrency (0 is unlimited) and failure
	// tolerances in effect.
	Settings maprun.Settings
	// Total is the run's items; Done those finished, whatever the outcome;
	// Failed those failed or timed out.
	Total, Done, Failed int64
	// Running is the children running: the count DescribeMapRun reports,
	// or, from a simulated backend, the mean over the latest minute.
	Running float64
	// Live reports whether the backend measures Throughput, Throttles and
	// ETA; zero values are then measured zeros.
	Live bool
	// Throughput is the items finished per second over the last whole
	// minute.
	Throughput float64
	// Throttles is the downstream's throttled calls in the last whole
	// minute.
	Throttles int64
	// ETA is the time left at the current throughput; zero when unknown
	// or the run ended.
	ETA time.Duration
}

// Ended reports whether the executions are over: every one has ended, or
// the backend will run nothing more.
func (p Progress) Ended() bool {
	if p.Over {
		return true
	}
	if len(p.Executions) == 0 {
		return false
	}
	for _, s := range p.Executions {
		if s == "" || s == "RUNNING" {
			return false
		}
	}
	return true
}

// Backend serves the AWS APIs the functions call and runs the sample.
type Backend interface {
	// About describes the backend in a sentence for the demo's output.
	About() string
	// Endpoints are where the functions reach the backend.
	Endpoints() Endpoints
	// Start starts the sample's executions and returns them once the Map
	// Runs that start with them are listed. It works once.
	Start(ctx context.Context) ([]Execution, error)
	// Progress reports how the executions Start started stand at the tick
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
	// PolicyFile is the policies file the functions load, an absolute
	// path; empty means the built-in default policies.
	PolicyFile string
	// Table is the registry's DynamoDB table; empty means DefaultTable.
	Table string
	// Start is the virtual instant of the first tick; zero means the start
	// date of the first execution. Each tick is one minute later.
	Start time.Time
	// Ticks is the most ticks run; zero means DefaultTicks.
	Ticks int
	// Interval is the wall time between ticks, for a backend that runs in
	// real time; zero means no pause.
	Interval time.Duration
	// Timeout bounds the wall time of the ticks; zero means DefaultTimeout.
	// The demo stops after the tick that passes it.
	Timeout time.Duration
	// Live rewrites the progress line in place, for a terminal; otherwise
	// a progress line is printed every ProgressEvery ticks.
	Live bool
	// ProgressEvery is the ticks between two progress lines when Live is
	// off; zero means DefaultProgressEvery.
	ProgressEvery int
	// PlotFile is where Run writes the SVG plot of the comparison with the
	// best static setting, for a backend that simulates the account; its
	// directory is created. Empty writes no plot.
	PlotFile string
}

// Summary is what Run did.
type Summary struct {
	// Ticks is the number of tune invocations.
	Ticks int
	// Decisions is the number of decisions made; Changes how many of them
	// changed a setting, Updates how many UpdateMapRun applied.
	Decisions, Changes, Updates int
	// Errors is the number of errors the tune function reported without
	// failing the tick.
	Errors int
	// Stopped says why the ticks stopped: the executions ended, or a limit.
	Stopped string
	// Final is the backend's last report, after the last tick.
	Final Progress
	// Comparison sets the run beside static settings; nil unless the
	// backend simulates the account.
	Comparison *Comparison
	// PlotFile is the plot written; empty when none was.
	PlotFile string
	// Elapsed is the wall time of the whole demo.
	Elapsed time.Duration
}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.RepoRoot == "" {
		errs = append(errs, errors.New("repo root is required"))
	}
	if c.PolicyFile != "" && !filepath.IsAbs(c.PolicyFile) {
		errs = append(errs, fmt.Errorf("policy file %q is not an absolute path: the functions run in their own directory", c.PolicyFile))
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
	if c.ProgressEvery < 0 {
		errs = append(errs, fmt.Errorf("progress every %d ticks is negative", c.ProgressEvery))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("demo: %w: %w", ErrInvalidConfig, err)
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Ticks == 0 {
		c.Ticks = DefaultTicks
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = DefaultProgressEvery
	}
	return c, nil
}

// Run runs the demo against b, writing what happens to out, and returns a
// summary. With a backend that simulates the account, it also compares the
// run with the best and the definition's static settings on the same
// scenario and seed, and writes the plot. It fails if any part does not
// start, if a function invocation fails, or with ErrNoDecision if no
// decision was made. It does not close b.
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
	policies := policy.Default()
	if cfg.PolicyFile != "" {
		if policies, err = policy.Load(cfg.PolicyFile); err != nil {
			return Summary{}, fmt.Errorf("demo: %w", err)
		}
	}
	running, err := os.ReadFile(filepath.Join(cfg.RepoRoot, "events", "status-running.json"))
	if err != nil {
		return Summary{}, fmt.Errorf("demo: sample event: %w", err)
	}
	schedule, err := os.ReadFile(filepath.Join(cfg.RepoRoot, "events", "schedule.json"))
	if err != nil {
		return Summary{}, fmt.Errorf("demo: sample event: %w", err)
	}

	p := &printer{out: out, live: cfg.Live, every: cfg.ProgressEvery}
	p.line("backend: " + b.About())
	// The static settings are simulated while the functions tune.
	var comparing <-chan baselines
	sb, simulated := b.(simulatedBackend)
	if simulated {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		comparing = startBaselines(ctx, sb.Scenario(), sb.Seed())
	}
	watchBin, tuneBin, cleanup, err := bootstraps(ctx, cfg, p)
	if err != nil {
		return Summary{}, err
	}
	defer cleanup()

	if err := registry.CreateTable(ctx, dynamoClient(ep), cfg.Table); err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	p.line("registry: created DynamoDB table " + cfg.Table)

	execs, err := b.Start(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("demo: start the sample: %w", err)
	}
	if err := checkOptIn(execs, policies, cfg.PolicyFile); err != nil {
		return Summary{}, err
	}
	for _, e := range execs {
		p.line(executionLines(e))
	}
	if cfg.Start.IsZero() {
		cfg.Start = execs[0].StartDate
	}

	env := FunctionEnv(ep, cfg.Table, cfg.PolicyFile)
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
	p.line("functions: watch and tune are running under aws-lambda-rie")

	for _, e := range execs {
		if err := register(ctx, watchFn, running, e, p); err != nil {
			return Summary{}, err
		}
	}

	p.line(fmt.Sprintf("tune: one tick per virtual minute from %s, at most %d ticks%s",
		cfg.Start.UTC().Format("15:04 UTC"), cfg.Ticks, every(cfg.Interval)))
	p.line("tune: a change reads: time  map run  maxConcurrency old -> new, tolerated failures percent/count old -> new  reason, outcome: why [items]")
	sum, err := ticks(ctx, cfg, b, tuneFn, schedule, p)
	if err != nil {
		sum.Elapsed = time.Since(began)
		return sum, err
	}
	if simulated {
		if err := compare(ctx, cfg, sb, comparing, &sum); err != nil {
			return sum, err
		}
	}
	sum.Elapsed = time.Since(began)
	printSummary(p, sum)
	if err := printStatus(ctx, ep, cfg.Table, cfg.Start.Add(time.Duration(max(sum.Ticks-1, 0))*tickPeriod), p); err != nil {
		return sum, err
	}
	if sum.Decisions == 0 {
		return sum, fmt.Errorf("demo: %w in %d ticks", ErrNoDecision, sum.Ticks)
	}
	return sum, nil
}

// every describes the pause between ticks.
func every(interval time.Duration) string {
	if interval == 0 {
		return ", each as soon as the last one is done"
	}
	return ", one every " + interval.String() + " of wall time"
}

// checkOptIn checks that at least one execution opts in, and that every
// policy named by a tag is in the policies.
func checkOptIn(execs []Execution, policies *policy.Set, file string) error {
	if len(execs) == 0 {
		return fmt.Errorf("demo: start the sample: %w: the backend started no execution", ErrNotOptedIn)
	}
	if file == "" {
		file = "the built-in policies"
	}
	opted := false
	for _, e := range execs {
		if e.Policy == "" {
			continue
		}
		opted = true
		if _, err := policies.Resolve(e.Policy, ""); err != nil {
			return fmt.Errorf("demo: state machine %s: tag %s=%s: policy of %s: %w", e.StateMachineARN, policy.TagKey, e.Policy, file, err)
		}
	}
	if !opted {
		return fmt.Errorf("demo: %w: none of the %d state machines has a %s tag, so maptuner leaves them alone", ErrNotOptedIn, len(execs), policy.TagKey)
	}
	return nil
}

// executionLines describes an execution the backend started.
func executionLines(e Execution) string {
	tag := fmt.Sprintf("tag %s=%s", policy.TagKey, e.Policy)
	if e.Policy == "" {
		tag = "no " + policy.TagKey + " tag: not tuned"
	}
	lines := []string{
		fmt.Sprintf("sample: state machine %s (%s)", e.StateMachineARN, tag),
		"sample: execution " + e.ExecutionARN,
	}
	for _, arn := range e.MapRunARNs {
		lines = append(lines, "sample: map run "+arn)
	}
	return strings.Join(lines, "\n")
}

// register sends the watch function the RUNNING event of e: an opted-in
// execution must be registered, any other ignored.
func register(ctx context.Context, watchFn *local.Function, template []byte, e Execution, p *printer) error {
	ev, err := statusEvent(template, e.Started, rand.Text())
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var res watch.Result
	if err := invoke(ctx, watchFn, "watch", ev, &res); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	p.line(fmt.Sprintf("watch: %s: %s", res.Action, res.Detail))
	want := "registered"
	if e.Policy == "" {
		want = "ignored"
	}
	if res.Action != want {
		return fmt.Errorf("demo: watch answered %q to the RUNNING event of %s, want %q: %s", res.Action, e.ExecutionARN, want, res.Detail)
	}
	return nil
}

// ticks drives the tune function until the executions have ended and a
// tick has seen it, or a limit is reached. Each tick reads the backend
// twice: before the tune invocation, which moves a simulated clock to the
// tick's instant, and after it, for the lines printed.
func ticks(ctx context.Context, cfg Config, b Backend, tuneFn *local.Function, schedule []byte, p *printer) (Summary, error) {
	var sum Summary
	deadline := time.Now().Add(cfg.Timeout)
	var at time.Time
	for tick := 1; sum.Stopped == ""; tick++ {
		at = cfg.Start.Add(time.Duration(tick-1) * tickPeriod)
		seen, err := b.Progress(ctx, at)
		if err != nil {
			p.end()
			return sum, fmt.Errorf("demo: tick %d: progress: %w", tick, err)
		}
		ev, err := scheduleEvent(schedule, at)
		if err != nil {
			p.end()
			return sum, fmt.Errorf("demo: %w", err)
		}
		var rep tuner.Report
		if err := invoke(ctx, tuneFn, "tune", ev, &rep); err != nil {
			p.end()
			return sum, fmt.Errorf("demo: tick %d: %w", tick, err)
		}
		if sum.Final, err = b.Progress(ctx, at); err != nil {
			p.end()
			return sum, fmt.Errorf("demo: tick %d: progress after it: %w", tick, err)
		}
		sum.Ticks = tick
		sum.Decisions += rep.Decided
		sum.Updates += rep.Updated
		sum.Errors += len(rep.Errors)
		for _, d := range rep.Decisions {
			if d.Decision.Update {
				sum.Changes++
			}
		}
		printTick(p, at, rep, sum.Final)
		p.progress(tick, progressLine(at, sum.Final))

		switch {
		case seen.Ended():
			sum.Stopped = stoppedBy(seen)
		case tick >= cfg.Ticks:
			sum.Stopped = fmt.Sprintf("tick limit (%d)", cfg.Ticks)
		case !time.Now().Before(deadline):
			sum.Stopped = fmt.Sprintf("time limit (%s)", cfg.Timeout)
		default:
			if err := pause(ctx, cfg.Interval); err != nil {
				p.end()
				return sum, fmt.Errorf("demo: %w", err)
			}
		}
	}
	p.finish(progressLine(at, sum.Final))
	return sum, nil
}

// stoppedBy says how the executions ended.
func stoppedBy(prog Progress) string {
	running := slices.ContainsFunc(prog.Executions, func(s string) bool { return s == "" || s == "RUNNING" })
	if prog.Over && running {
		return "the end of the simulated time"
	}
	noun := "execution"
	if len(prog.Executions) > 1 {
		noun = "executions"
	}
	return noun + " " + strings.Join(prog.Executions, ", ")
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
func bootstraps(ctx context.Context, cfg Config, p *printer) (watchBin, tuneBin string, cleanup func(), err error) {
	if cfg.Bootstraps != "" {
		watchBin = filepath.Join(cfg.Bootstraps, "watch", "bootstrap")
		tuneBin = filepath.Join(cfg.Bootstraps, "tune", "bootstrap")
		for _, path := range []string{watchBin, tuneBin} {
			if _, err := os.Stat(path); err != nil {
				return "", "", nil, fmt.Errorf("demo: bootstrap: %w (make build writes it)", err)
			}
		}
		p.line(fmt.Sprintf("functions: using %s and %s", watchBin, tuneBin))
		return watchBin, tuneBin, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "maptuner-demo-")
	if err != nil {
		return "", "", nil, fmt.Errorf("demo: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	p.line("functions: building watch and tune")
	if watchBin, err = local.BuildBootstrap(ctx, cfg.RepoRoot, "watch", dir); err == nil {
		tuneBin, err = local.BuildBootstrap(ctx, cfg.RepoRoot, "tune", dir)
	}
	if err != nil {
		cleanup()
		return "", "", nil, fmt.Errorf("demo: %w", err)
	}
	return watchBin, tuneBin, cleanup, nil
}

// FunctionEnv is the environment of both functions, as KEY=VALUE entries:
// the backend's endpoints (Lambda's too, for capacity hints) and fake
// credentials, the registry table and the policies file (empty: the
// built-in policies), the CloudWatch protocol, and the event clock, so
// that a tick's instant is the "time" of its event.
func FunctionEnv(ep Endpoints, table, policyFile string) []string {
	return []string{
		"AWS_REGION=" + ep.Region,
		"AWS_ACCESS_KEY_ID=" + local.FakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + local.FakeSecretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_ENDPOINT_URL_SFN=" + ep.SFN,
		"AWS_ENDPOINT_URL_CLOUDWATCH=" + ep.CloudWatch,
		"AWS_ENDPOINT_URL_DYNAMODB=" + ep.DynamoDB,
		// Both backends serve Lambda where they serve Step Functions.
		"AWS_ENDPOINT_URL_LAMBDA=" + ep.SFN,
		"MAPTUNER_CLOUDWATCH_PROTOCOL=" + ep.CloudWatchProtocol,
		"MAPTUNER_CLOCK=event",
		"TABLE_NAME=" + table,
		"POLICY_FILE=" + policyFile,
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

// printStatus writes the status of the runs in the registry table, as
// maptuner status --all prints it, at the virtual instant now.
func printStatus(ctx context.Context, ep Endpoints, table string, now time.Time, p *printer) error {
	store, err := registry.NewDynamoDB(dynamoClient(ep), registry.Config{Table: table})
	if err != nil {
		return fmt.Errorf("demo: status: %w", err)
	}
	rows, err := status.Read(ctx, store, true, now)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var b strings.Builder
	if err := status.WriteTable(&b, rows, now); err != nil {
		return fmt.Errorf("demo: status: %w", err)
	}
	p.line("status: what maptuner status --all shows of the table " + table + ":")
	for line := range strings.SplitSeq(strings.TrimSuffix(b.String(), "\n"), "\n") {
		p.line("  " + line)
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
