// Command maptuner-demo runs maptuner's main job locally, with no AWS
// account, on a sample Distributed Map:
//
//	maptuner-demo [-backend sim|moto] [-scenario FILE|builtin] [-seed N] [-plot FILE]
//	              [-bootstraps DIR] [-policies FILE] [-policy NAME]
//	              [-ticks N] [-interval D] [-timeout D]
//
// With -backend sim, the default, it serves a simulated account on
// loopback (the scenario's Step Functions and CloudWatch, on a virtual
// clock) and starts moto_server for DynamoDB; with -backend moto,
// moto_server serves everything and runs a small sample for real. It
// creates the registry table, starts the sample, runs the real watch and
// tune functions under the AWS Lambda Runtime Interface Emulator, sends
// watch each execution's RUNNING event, then invokes tune once per tick,
// one virtual minute a tick, with a live progress line and a line per
// change of setting, until the executions end or a limit is reached. It
// closes with a summary; with the simulated account, a comparison with the
// best and the definition's static settings on the same scenario and seed,
// and a plot. Run it from the repository (make demo does). It exits 1 when
// a part fails to start or a function fails, and 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/maptuner/maptuner/internal/lab/local"
	"github.com/maptuner/maptuner/internal/lab/local/demo"
	"github.com/maptuner/maptuner/internal/lab/simserver"
)

// The backends -backend names.
const (
	backendSim  = "sim"
	backendMoto = "moto"
)

// motoInterval is the wall time between ticks with the moto backend, whose
// sample runs in real time.
const motoInterval = 2 * time.Second

// options are the command line.
type options struct {
	backend  string
	scenario string
	seed     uint64
	plot     string
	policy   string
	cfg      demo.Config
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the demo with the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opt, code := parse(args, stderr)
	if code >= 0 {
		return code
	}
	opt.cfg.Live = isTerminal(stdout)
	if err := demoMain(ctx, opt, stdout); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "maptuner-demo: interrupted; everything it started is stopped")
			return 1
		}
		fmt.Fprintf(stderr, "maptuner-demo: %v\n", err)
		return 1
	}
	return 0
}

// parse reads the command line; code is -1 when the demo should run, else
// the exit code.
func parse(args []string, stderr io.Writer) (opt options, code int) {
	fs := flag.NewFlagSet("maptuner-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opt.backend, "backend", backendSim, "what serves the AWS APIs: sim (a simulated account, and moto_server for DynamoDB) or moto (moto_server for everything)")
	fs.StringVar(&opt.scenario, "scenario", simserver.Builtin, "sim: scenario file (docs/scenarios.md), or builtin for the built-in one")
	fs.Uint64Var(&opt.seed, "seed", 1, "sim: seed of the simulation's random draws")
	fs.StringVar(&opt.plot, "plot", filepath.Join("out", "demo.svg"), "sim: SVG file to plot the run beside the best static setting in, relative to the repository; empty for none")
	fs.StringVar(&opt.policy, "policy", "", "moto: policy the sample opts into (default the policies file's default policy)")
	fs.StringVar(&opt.cfg.Bootstraps, "bootstraps", "", "directory with watch/bootstrap and tune/bootstrap, as make build writes bin/; empty builds them")
	fs.StringVar(&opt.cfg.PolicyFile, "policies", "", "policies file the functions load (default: sim, the scenario's policy; moto, cmd/maptuner-demo/policies.yaml of the repository)")
	fs.IntVar(&opt.cfg.Ticks, "ticks", 0, "most tune ticks, one virtual minute each (default: sim, up to the scenario's horizon; moto, 30)")
	fs.DurationVar(&opt.cfg.Interval, "interval", 0, "wall time between ticks (default: sim, none; moto, 2s)")
	fs.DurationVar(&opt.cfg.Timeout, "timeout", demo.DefaultTimeout, "wall time the ticks may take")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opt, 0
		}
		return opt, 2
	}
	usage := func(format string, a ...any) (options, int) {
		fmt.Fprintf(stderr, "maptuner-demo: "+format+"\n", a...)
		fs.Usage()
		return opt, 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch opt.backend {
	case backendSim:
		if set["policy"] {
			return usage("-policy is for -backend moto: the simulated state machines carry the scenario's tags")
		}
	case backendMoto:
		for _, name := range []string{"scenario", "seed", "plot"} {
			if set[name] {
				return usage("-%s is for -backend sim", name)
			}
		}
		if !set["interval"] {
			opt.cfg.Interval = motoInterval
		}
	default:
		return usage("-backend %q: want %s or %s", opt.backend, backendSim, backendMoto)
	}
	if opt.cfg.Ticks < 0 || opt.cfg.Interval < 0 || opt.cfg.Timeout <= 0 {
		return usage("-ticks must be >= 0, -interval >= 0 and -timeout > 0")
	}
	return opt, -1
}

// demoMain starts the backend and runs the demo on it.
func demoMain(ctx context.Context, opt options, stdout io.Writer) error {
	root, err := local.RepoRoot()
	if err != nil {
		return fmt.Errorf("%w (run it from the repository, as make demo does)", err)
	}
	cfg := opt.cfg
	cfg.RepoRoot = root
	if cfg.PolicyFile != "" {
		// The functions run in their own directory: they need an absolute path.
		if cfg.PolicyFile, err = filepath.Abs(cfg.PolicyFile); err != nil {
			return err
		}
	}
	var backend demo.Backend
	switch opt.backend {
	case backendSim:
		sc, err := simserver.LoadScenario(opt.scenario)
		if err != nil {
			return fmt.Errorf("-scenario: %w", err)
		}
		fmt.Fprintf(stdout, "starting the simulated account (scenario %s) and moto_server\n", sc.Name)
		b, err := demo.StartSim(ctx, demo.SimOptions{Scenario: sc, Seed: opt.seed})
		if err != nil {
			return err
		}
		backend = b
		if cfg.PolicyFile == "" {
			cfg.PolicyFile = b.PolicyFile()
		}
		if cfg.Ticks == 0 {
			cfg.Ticks = int(sc.Horizon/time.Minute) + 1
		}
		// A relative plot path is the repository's; it is printed as given
		// when the repository is the working directory, as with make demo.
		cfg.PlotFile = opt.plot
		if wd, err := os.Getwd(); cfg.PlotFile != "" && !filepath.IsAbs(cfg.PlotFile) && (err != nil || wd != root) {
			cfg.PlotFile = filepath.Join(root, cfg.PlotFile)
		}
	default:
		if cfg.PolicyFile == "" {
			cfg.PolicyFile = filepath.Join(root, "cmd", "maptuner-demo", "policies.yaml")
		}
		fmt.Fprintln(stdout, "starting moto_server")
		b, err := demo.StartMoto(ctx, demo.MotoOptions{Policy: opt.policy})
		if err != nil {
			return err
		}
		backend = b
	}
	_, runErr := demo.Run(ctx, cfg, backend, stdout)
	return errors.Join(runErr, backend.Close())
}

// isTerminal reports whether w is a terminal, where the progress line can
// be rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
