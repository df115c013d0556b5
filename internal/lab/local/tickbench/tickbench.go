// Package tickbench measures ticks of the real tune bootstrap under the AWS
// Lambda Runtime Interface Emulator against the local account: a simulated
// account (internal/lab/simserver) serving Step Functions, CloudWatch and
// Lambda over HTTP on a manual virtual clock, and moto_server serving the
// registry's DynamoDB table (or dynalite, a faster DynamoDB in Node.js). It
// reaches the state BenchmarkTickOpenRuns of internal/lab/bench measures in
// process (the scenario's parents registered, then a tick a virtual minute
// until the warm-up has passed and every open run is tracked), then
// measures a few ticks, each after
// the clock moved a minute: the invocation's wall time, the emulator's
// Duration, and the CPU time and peak resident memory of the bootstrap
// process, read from /proc (Linux only: the emulator's "Max Memory Used"
// is the configured memory size, not a measurement).
package tickbench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/maptuner/maptuner/internal/lab/local"
	"github.com/maptuner/maptuner/internal/lab/local/demo"
	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/tuner"
)

// ErrInvalidConfig is wrapped by the errors about a Config that cannot work.
var ErrInvalidConfig = errors.New("invalid tick bench configuration")

// ErrNotTracked is wrapped by the error Run returns when the tuner still
// does not track every open run when the warm-up may last no longer.
var ErrNotTracked = errors.New("open runs not tracked")

// Defaults of Config.
const (
	// DefaultWarmup is Config.Warmup's zero value: as BenchmarkTickOpenRuns,
	// past the start of the last run of thousand-runs (10 min).
	DefaultWarmup = 15 * time.Minute
	// DefaultTicks is Config.Ticks's zero value.
	DefaultTicks = 5
	// DefaultTable is Config.Table's zero value.
	DefaultTable = "maptuner-tickbench"
)

// tickPeriod is the tune function's schedule period, and how far the
// virtual clock moves between two ticks.
const tickPeriod = time.Minute

// The tune function's settings in template.yaml for a period of a minute:
// its timeout, in whole seconds, and memory size, in MB.
const (
	functionTimeout = "55"
	functionMemory  = "512"
)

// invokeTimeout bounds one invocation from the caller's side, past the
// function's own timeout.
const invokeTimeout = time.Minute

// Config says what Run measures.
type Config struct {
	// Scenario is the simulated account; it must validate.
	Scenario sim.Scenario
	// Seed fixes the simulation's random draws.
	Seed uint64
	// Bootstrap is the tune function's executable (make build writes
	// bin/tune/bootstrap); required.
	Bootstrap string
	// Emulator is the aws-lambda-rie executable; empty finds it as
	// local.FunctionOptions does.
	Emulator string
	// Warmup is the virtual time ticked, a tick a minute from the
	// scenario's start, before the first measured tick; zero means
	// DefaultWarmup. The warm-up goes on, up to twice as long, while the
	// tuner tracks fewer runs than are open.
	Warmup time.Duration
	// Ticks is the number of ticks measured; zero means DefaultTicks.
	Ticks int
	// Table is the registry table; empty means DefaultTable. It is
	// created, and must not exist yet.
	Table string
	// DynamoDB is an endpoint that already serves DynamoDB on loopback
	// (a DynamoDB Local, for example); empty starts moto_server, or
	// dynalite with Dynalite.
	DynamoDB string
	// Dynalite is dynalite's cli.js: Run starts it for DynamoDB instead of
	// moto_server, whose Query of 1,000 items can take longer than the
	// tuner's call timeout (10 s) on a loaded machine. Empty: moto_server.
	Dynalite string
	// Progress gets a line per tick; nil discards them.
	Progress io.Writer
}

// Tick is one measured tick.
type Tick struct {
	// At is the tick's virtual instant.
	At time.Time
	// Open is the number of Map Runs running in the simulated account at
	// the tick.
	Open int
	// Wall is the invocation's wall time, from the request sent to the
	// emulator to its response read.
	Wall time.Duration
	// Duration is the emulator's Duration of the invocation (REPORT line).
	Duration time.Duration
	// CPU is the user and system CPU time the bootstrap process used
	// during the invocation, in steps of 10 ms.
	CPU time.Duration
	// PeakRSS is the bootstrap's peak resident set size during the
	// invocation, in bytes: the peak is reset just before it.
	PeakRSS int64
	// Report is the tick's report as the function answered it (counts,
	// the first few updates, errors and warnings).
	Report tuner.Report
}

// Result is what Run measured.
type Result struct {
	// Scenario and Seed are the simulated account's.
	Scenario string
	Seed     uint64
	// DynamoDB is what served DynamoDB: "moto_server", "dynalite, in
	// memory", or the endpoint of Config.DynamoDB.
	DynamoDB string
	// WarmupTicks is the number of ticks before the first measured one.
	WarmupTicks int
	// Ticks are the measured ticks, in order.
	Ticks []Tick
}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Bootstrap == "" {
		errs = append(errs, errors.New("no tune bootstrap"))
	}
	if c.DynamoDB != "" && c.Dynalite != "" {
		errs = append(errs, errors.New("both a DynamoDB endpoint and dynalite"))
	}
	if c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warm-up %s is negative", c.Warmup))
	}
	if c.Ticks < 0 {
		errs = append(errs, fmt.Errorf("ticks %d is negative", c.Ticks))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("tickbench: %w: %w", ErrInvalidConfig, err)
	}
	if c.Warmup == 0 {
		c.Warmup = DefaultWarmup
	}
	if c.Ticks == 0 {
		c.Ticks = DefaultTicks
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c, nil
}

// Run starts the simulated account and moto_server (or dynalite),
// creates the registry table, starts the scenario's parents and registers
// them as the watch function does, starts the tune bootstrap under the
// emulator, warms up, measures cfg.Ticks ticks, and stops everything it
// started. A tick that fails stops it: its error carries the end of the
// function's log.
func Run(ctx context.Context, cfg Config) (_ Result, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return Result{}, err
	}
	served := cmp.Or(cfg.DynamoDB, "moto_server")
	if cfg.Dynalite != "" {
		d, derr := local.StartDynalite(ctx, local.DynaliteOptions{Script: cfg.Dynalite})
		if derr != nil {
			return Result{}, fmt.Errorf("tickbench: %w", derr)
		}
		defer func() { err = errors.Join(err, d.Close()) }()
		cfg.DynamoDB, served = d.URL, "dynalite, in memory"
	}
	s, err := demo.StartSim(ctx, demo.SimOptions{Scenario: cfg.Scenario, Seed: cfg.Seed, DynamoDB: cfg.DynamoDB})
	if err != nil {
		return Result{}, fmt.Errorf("tickbench: %w", err)
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	ep := s.Endpoints()
	fmt.Fprintf(cfg.Progress, "tickbench: %s\n", s.About())

	execs, err := s.Start(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("tickbench: %w", err)
	}
	if len(execs) == 0 {
		return Result{}, errors.New("tickbench: the scenario started no parent execution")
	}
	start := execs[0].StartDate
	if err := register(ctx, ep, cfg.Table, cfg.DynamoDB != "", execs, start); err != nil {
		return Result{}, err
	}
	fmt.Fprintf(cfg.Progress, "tickbench: %d parent executions registered in table %s\n", len(execs), cfg.Table)

	env := append(demo.FunctionEnv(ep, cfg.Table, s.PolicyFile()),
		"AWS_LAMBDA_FUNCTION_NAME=maptuner-tune",
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+functionTimeout,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+functionMemory,
		"TICK_PERIOD="+tickPeriod.String())
	fn, err := local.StartFunction(ctx, local.FunctionOptions{Bootstrap: cfg.Bootstrap, Env: env, Emulator: cfg.Emulator})
	if err != nil {
		return Result{}, fmt.Errorf("tickbench: %w", err)
	}
	defer func() { err = errors.Join(err, fn.Close()) }()

	b := &bench{cfg: cfg, sim: s, fn: fn}
	res := Result{Scenario: cfg.Scenario.Name, Seed: cfg.Seed, DynamoDB: served}
	at := start
	for ; ; at = at.Add(tickPeriod) {
		t, err := b.tick(ctx, at, false)
		if err != nil {
			return res, err
		}
		res.WarmupTicks++
		fmt.Fprintf(cfg.Progress, "warm-up %s\n", t.line())
		if at.Sub(start) < cfg.Warmup {
			continue
		}
		if t.Report.Tracked+t.Report.Discovered >= t.Open {
			break
		}
		if at.Sub(start) >= 2*cfg.Warmup {
			return res, fmt.Errorf("tickbench: %w: after %s of warm-up the tuner tracks %d runs, %d are open", ErrNotTracked, at.Sub(start), t.Report.Tracked+t.Report.Discovered, t.Open)
		}
	}
	for range cfg.Ticks {
		at = at.Add(tickPeriod)
		t, err := b.tick(ctx, at, true)
		if err != nil {
			return res, err
		}
		res.Ticks = append(res.Ticks, t)
		fmt.Fprintf(cfg.Progress, "measured %s\n", t.line())
	}
	return res, nil
}

// register creates the registry table and puts the opted-in parent
// executions in it as the watch function does on their RUNNING events.
// The watch function itself would read each state machine's tag, and
// 1,000 ListTagsForResource calls at one virtual instant exceed the
// simulated account's quota (a bucket of 100).
// With external, the endpoint is not moto_server, and the table gets no
// time to live: nothing expires within a bench, and some DynamoDB
// emulators do not implement UpdateTimeToLive.
func register(ctx context.Context, ep demo.Endpoints, table string, external bool, execs []demo.Execution, now time.Time) error {
	client := dynamodb.New(dynamodb.Options{
		Region:       ep.Region,
		BaseEndpoint: aws.String(ep.DynamoDB),
		Credentials:  credentials.NewStaticCredentialsProvider(local.FakeAccessKeyID, local.FakeSecretAccessKey, ""),
	})
	var tables registry.TableAPI = client
	if external {
		tables = noTTL{client}
	}
	if err := registry.CreateTable(ctx, tables, table); err != nil {
		return fmt.Errorf("tickbench: %w", err)
	}
	store, err := registry.NewDynamoDB(client, registry.Config{Table: table})
	if err != nil {
		return fmt.Errorf("tickbench: %w", err)
	}
	for _, e := range execs {
		if e.Policy == "" {
			continue
		}
		if _, err := store.PutExecution(ctx, registry.Execution{
			ARN: e.ExecutionARN, StateMachineARN: e.StateMachineARN, Status: registry.StatusRunning, Policy: e.Policy, UpdatedAt: now,
		}); err != nil {
			return fmt.Errorf("tickbench: register %s: %w", e.ExecutionARN, err)
		}
	}
	return nil
}

// noTTL is a DynamoDB client whose UpdateTimeToLive does nothing.
type noTTL struct{ *dynamodb.Client }

var _ registry.TableAPI = noTTL{}

// UpdateTimeToLive implements registry.TableAPI: it sends nothing.
func (noTTL) UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	return &dynamodb.UpdateTimeToLiveOutput{}, nil
}

// bench runs the ticks.
type bench struct {
	cfg Config
	sim *demo.Sim
	fn  *local.Function
}

// tick moves the virtual clock to at and invokes the tune function once;
// measured, it also reads the bootstrap's CPU time and peak memory around
// the invocation and the emulator's REPORT line after it.
func (b *bench) tick(ctx context.Context, at time.Time, measured bool) (Tick, error) {
	prog, err := b.sim.Progress(ctx, at)
	if err != nil {
		return Tick{}, fmt.Errorf("tickbench: %w", err)
	}
	t := Tick{At: at}
	for _, r := range prog.Runs {
		if r.Status == "RUNNING" {
			t.Open++
		}
	}
	event, err := json.Marshal(map[string]string{"detail-type": "Scheduled Event", "source": "aws.events", "time": at.UTC().Format(time.RFC3339)})
	if err != nil {
		return Tick{}, fmt.Errorf("tickbench: schedule event: %w", err)
	}
	var (
		pid    int
		before stat
	)
	if measured {
		// The emulator starts the runtime on the first invocation, a
		// warm-up one, and again after a crash: look for it each time.
		if pid, err = childOf(b.fn.EmulatorPID()); err != nil {
			return Tick{}, err
		}
		if err := resetPeak(pid); err != nil {
			return Tick{}, err
		}
		if before, err = readStat(pid); err != nil {
			return Tick{}, err
		}
	}
	logged := len(b.fn.Logs())
	ictx, cancel := context.WithTimeout(ctx, invokeTimeout)
	defer cancel()
	began := time.Now()
	resp, err := b.fn.Invoke(ictx, event)
	t.Wall = time.Since(began)
	if err != nil {
		return t, fmt.Errorf("tickbench: tick at %s: tune function: %w\nlog:\n%s", at.Format(time.TimeOnly), err, tail(b.fn.Logs(), 4000))
	}
	if err := json.Unmarshal(resp, &t.Report); err != nil {
		return t, fmt.Errorf("tickbench: tick at %s: tune function answered %.200q: %w", at.Format(time.TimeOnly), resp, err)
	}
	if !measured {
		return t, nil
	}
	after, err := readStat(pid)
	if err != nil {
		return t, err
	}
	t.CPU = after.CPU - before.CPU
	if t.PeakRSS, err = readPeakRSS(pid); err != nil {
		return t, err
	}
	rep, err := waitReport(ctx, func() string { return b.fn.Logs()[logged:] })
	if err != nil {
		return t, fmt.Errorf("tickbench: tick at %s: %w", at.Format(time.TimeOnly), err)
	}
	t.Duration = rep.Duration
	return t, nil
}

// reportWait bounds how long waitReport waits for the REPORT line, and
// reportPoll is how often it looks.
const (
	reportWait = 10 * time.Second
	reportPoll = 10 * time.Millisecond
)

// waitReport waits for the REPORT line of the invocation in logs: the
// emulator prints it after it has sent the response.
func waitReport(ctx context.Context, logs func() string) (Report, error) {
	deadline := time.NewTimer(reportWait)
	defer deadline.Stop()
	poll := time.NewTicker(reportPoll)
	defer poll.Stop()
	for {
		rep, ok, err := LastReport(logs())
		if err != nil || ok {
			return rep, err
		}
		select {
		case <-ctx.Done():
			return Report{}, ctx.Err()
		case <-deadline.C:
			return Report{}, fmt.Errorf("the emulator printed no REPORT line within %s of the response", reportWait)
		case <-poll.C:
		}
	}
}

// line describes a tick in one line of progress.
func (t Tick) line() string {
	s := fmt.Sprintf("tick at %s: %d runs open, tracked %d, discovered %d, decided %d, updated %d, %d errors, wall %s",
		t.At.UTC().Format("15:04"), t.Open, t.Report.Tracked, t.Report.Discovered, t.Report.Decided, t.Report.Updated,
		t.errors(), t.Wall.Round(time.Millisecond))
	if t.Duration > 0 {
		s += fmt.Sprintf(", duration %s, CPU %s, peak RSS %.1f MB", t.Duration.Round(time.Millisecond), t.CPU, float64(t.PeakRSS)/(1<<20))
	}
	return s
}

// errors is the number of errors the tick reported, listed or left out.
func (t Tick) errors() int {
	n := len(t.Report.Errors)
	if t.Report.LeftOut != nil {
		n += t.Report.LeftOut.Errors
	}
	return n
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
