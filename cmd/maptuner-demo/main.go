// Command maptuner-demo runs maptuner's main job locally, with no AWS
// account, on a sample Distributed Map:
//
//	maptuner-demo [-bootstraps DIR] [-policies FILE] [-policy NAME]
//	              [-ticks N] [-interval D] [-timeout D]
//
// It starts moto_server, creates the registry table and a sample state
// machine tagged maptuner:policy=NAME, starts it, runs the real watch and
// tune functions under the AWS Lambda Runtime Interface Emulator, sends
// watch the execution's RUNNING event, then invokes tune once per tick, one
// virtual minute a tick, printing every decision, until the execution ends
// or a limit is reached, and prints a summary. Run it from the repository
// (make demo does). It exits 1 when a part fails to start or a function
// fails, and 2 on a usage error.
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

	"github.com/maptuner/maptuner/internal/local"
	"github.com/maptuner/maptuner/internal/local/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the demo with the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("maptuner-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg demo.Config
	fs.StringVar(&cfg.Bootstraps, "bootstraps", "", "directory with watch/bootstrap and tune/bootstrap, as make build writes bin/; empty builds them")
	fs.StringVar(&cfg.PolicyFile, "policies", "", "policies file the functions load (default cmd/maptuner-demo/policies.yaml of the repository)")
	fs.StringVar(&cfg.Policy, "policy", "", "policy the sample opts into (default the file's default policy)")
	fs.IntVar(&cfg.Ticks, "ticks", demo.DefaultTicks, "most tune ticks, one virtual minute each")
	fs.DurationVar(&cfg.Interval, "interval", 2*time.Second, "wall time between ticks")
	fs.DurationVar(&cfg.Timeout, "timeout", demo.DefaultTimeout, "wall time the ticks may take")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "maptuner-demo: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return 2
	}
	if cfg.Ticks < 1 || cfg.Interval < 0 || cfg.Timeout <= 0 {
		fmt.Fprintln(stderr, "maptuner-demo: -ticks must be >= 1, -interval >= 0 and -timeout > 0")
		return 2
	}
	if err := demoMain(ctx, cfg, stdout); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "maptuner-demo: interrupted; everything it started is stopped")
			return 1
		}
		fmt.Fprintf(stderr, "maptuner-demo: %v\n", err)
		return 1
	}
	return 0
}

// demoMain starts the moto backend and runs the demo on it.
func demoMain(ctx context.Context, cfg demo.Config, stdout io.Writer) error {
	root, err := local.RepoRoot()
	if err != nil {
		return fmt.Errorf("%w (run it from the repository, as make demo does)", err)
	}
	cfg.RepoRoot = root
	if cfg.PolicyFile == "" {
		cfg.PolicyFile = filepath.Join(root, "cmd", "maptuner-demo", "policies.yaml")
	}
	// The functions run in their own directory: they need an absolute path.
	if cfg.PolicyFile, err = filepath.Abs(cfg.PolicyFile); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "starting moto_server")
	backend, err := demo.StartMoto(ctx, demo.MotoOptions{})
	if err != nil {
		return err
	}
	_, runErr := demo.Run(ctx, cfg, backend, stdout)
	return errors.Join(runErr, backend.Close())
}
