// Command maptuner-tickbench measures ticks of the real tune bootstrap
// under the AWS Lambda Runtime Interface Emulator against the local
// account (a simulated account over HTTP, and moto_server for DynamoDB) at
// the scenario's open runs, and writes the figures as text:
//
//	maptuner-tickbench [-scenario FILE] [-seed N] [-bootstrap FILE] [-emulator FILE]
//	                   [-dynamodb URL | -dynalite FILE] [-warmup D] [-ticks N] [-out FILE]
//
// Each measured tick gives the invocation's wall time, the emulator's
// Duration, and the bootstrap process's CPU time and peak resident memory
// (package internal/lab/local/tickbench). make bench-tick builds the
// bootstrap and runs it on thousand-runs. Run it from the repository. It
// exits 1 when a part fails to start or a tick fails, and 2 on a usage
// error.
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
	"runtime"
	"strings"
	"syscall"

	"github.com/maptuner/maptuner/internal/lab/local"
	"github.com/maptuner/maptuner/internal/lab/local/tickbench"
	"github.com/maptuner/maptuner/internal/lab/simserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command line.
type options struct {
	scenario string
	out      string
	command  string
	cfg      tickbench.Config
}

// run runs the bench with the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opt, code := parse(args, stderr)
	if code >= 0 {
		return code
	}
	if err := benchMain(ctx, opt, stdout); err != nil {
		fmt.Fprintf(stderr, "maptuner-tickbench: %v\n", err)
		return 1
	}
	return 0
}

// parse reads the command line; code is -1 when the bench should run,
// else the exit code.
func parse(args []string, stderr io.Writer) (opt options, code int) {
	fs := flag.NewFlagSet("maptuner-tickbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opt.scenario, "scenario", filepath.Join("scenarios", "thousand-runs.yaml"), "scenario file (docs/scenarios.md)")
	fs.Uint64Var(&opt.cfg.Seed, "seed", 1, "seed of the simulation's random draws")
	fs.StringVar(&opt.cfg.Bootstrap, "bootstrap", filepath.Join("bin", "tune", "bootstrap"), "the tune function's bootstrap (make build writes it)")
	fs.StringVar(&opt.cfg.Emulator, "emulator", "", "the aws-lambda-rie executable (default bin/tools/aws-lambda-rie, else PATH's)")
	fs.StringVar(&opt.cfg.DynamoDB, "dynamodb", "", "endpoint of a DynamoDB already serving on loopback, such as a DynamoDB Local (default: start moto_server)")
	fs.StringVar(&opt.cfg.Dynalite, "dynalite", "", "dynalite's cli.js: start it for DynamoDB instead of moto_server")
	fs.DurationVar(&opt.cfg.Warmup, "warmup", tickbench.DefaultWarmup, "virtual time ticked, a tick a minute, before the measured ticks")
	fs.IntVar(&opt.cfg.Ticks, "ticks", tickbench.DefaultTicks, "ticks measured")
	fs.StringVar(&opt.command, "command", "maptuner-tickbench", "the command named in the text, how it was run (make bench-tick sets it)")
	fs.StringVar(&opt.out, "out", filepath.Join("docs", "bench", "tick-rie.txt"), "text file the figures are written to")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opt, 0
		}
		return opt, 2
	}
	usage := func(format string, a ...any) (options, int) {
		fmt.Fprintf(stderr, "maptuner-tickbench: "+format+"\n", a...)
		fs.Usage()
		return opt, 2
	}
	switch {
	case fs.NArg() > 0:
		return usage("unexpected arguments %q", fs.Args())
	case opt.cfg.Ticks <= 0:
		return usage("-ticks %d: want at least 1", opt.cfg.Ticks)
	case opt.cfg.Warmup <= 0:
		return usage("-warmup %s: want a positive duration", opt.cfg.Warmup)
	case opt.out == "":
		return usage("-out: want a file")
	case opt.cfg.DynamoDB != "" && opt.cfg.Dynalite != "":
		return usage("-dynamodb and -dynalite: choose one")
	}
	return opt, -1
}

// benchMain runs the bench and writes its text.
func benchMain(ctx context.Context, opt options, stdout io.Writer) error {
	if _, err := local.RepoRoot(); err != nil {
		return fmt.Errorf("%w (run it from the repository, as make bench-tick does)", err)
	}
	sc, err := simserver.LoadScenario(opt.scenario)
	if err != nil {
		return fmt.Errorf("-scenario: %w", err)
	}
	cfg := opt.cfg
	cfg.Scenario = sc
	// The emulator and the bootstrap start in the bootstrap's directory.
	for _, path := range []*string{&cfg.Emulator, &cfg.Bootstrap} {
		if *path != "" {
			if *path, err = filepath.Abs(*path); err != nil {
				return err
			}
		}
	}
	cfg.Progress = stdout
	host := tickbench.Host{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Load: tickbench.Load()}
	res, err := tickbench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := tickbench.WriteText(&b, res, host, opt.command); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(opt.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(opt.out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s\nwritten to %s\n", b.String(), opt.out)
	return nil
}
