// Command maptuner-bench runs the real tuner and the baseline strategies on
// simulated Map Runs and reports the figures.
//
//	maptuner-bench -scenario FILE [-seeds N] [-strategy LIST] [-json]
//	maptuner-bench -all DIR [-seeds N] [-strategy LIST] [-out FILE] [-plots DIR] [-json]
//
// With -scenario it prints the table of one scenario file (or, with -json,
// every figure); with -all it runs every scenario file of DIR and writes
// the Markdown report and the plots. LIST is a comma-separated list of
// tuner, oracle, follow, unlimited, aimd, cubic and static-N.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/lab/bench"
	"github.com/maptuner/maptuner/internal/lab/sim"
)

const (
	defaultOut   = "BENCHMARKS.md"
	defaultPlots = "docs/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command with args and returns its exit code: 0 done, 1 the
// suite failed, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("maptuner-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("scenario", "", "run one scenario `file` and print its table")
	dir := fs.String("all", "", "run every scenario file (.yaml, .yml, .json) of `dir` and write -out and -plots")
	seeds := fs.Int("seeds", bench.DefaultSeeds, "number of seeds, 1 to `N`")
	list := fs.String("strategy", "", "comma-separated `strategies` (default "+strings.Join(bench.DefaultStrategies, ",")+")")
	asJSON := fs.Bool("json", false, "print every figure as JSON instead of the table")
	out := fs.String("out", defaultOut, "with -all, the Markdown report to write")
	plots := fs.String("plots", defaultPlots, "with -all, the `directory` of the SVG plots")
	workers := fs.Int("workers", 0, "simulations run at once (default GOMAXPROCS)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "maptuner-bench: "+format+"\n", a...)
		fs.Usage()
		return 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if (*file == "") == (*dir == "") {
		return usage("give exactly one of -scenario FILE and -all DIR")
	}
	if *seeds < 1 {
		return usage("-seeds %d: want at least 1", *seeds)
	}
	strategies, err := bench.ParseStrategies(*list)
	if err != nil {
		return usage("-strategy: %v", err)
	}
	cfg := bench.Config{Seeds: *seeds, Strategies: strategies, Workers: *workers}
	if *file != "" {
		err = loadOne(&cfg, *file)
	} else {
		err = loadAll(&cfg, *dir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "maptuner-bench: %v\n", err)
		return 1
	}
	if *dir != "" && !slices.ContainsFunc(strategies, func(s bench.Strategy) bool { return s.Name == bench.StrategyTuner }) {
		return usage("-all plots the tuner: -strategy must include tuner")
	}

	began := time.Now()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "maptuner-bench: %v\n", err)
		return 1
	}
	if *dir != "" {
		err = bench.WriteFiles(rep, bench.Files{Markdown: *out, PlotDir: *plots, Command: command(*dir, *seeds, *list, *out, *plots)})
		if err == nil {
			fmt.Fprintf(stderr, "maptuner-bench: %d scenarios x %d strategies x %d seeds in %s; wrote %s and %s\n",
				len(rep.Scenarios), len(rep.Strategies), len(rep.Seeds), time.Since(began).Round(100*time.Millisecond), *out, *plots)
		}
	}
	switch {
	case err != nil:
	case *asJSON:
		err = bench.WriteJSON(stdout, rep)
	case *file != "":
		err = bench.WriteText(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "maptuner-bench: %v\n", err)
		return 1
	}
	return 0
}

// loadOne loads one scenario and, if it has a poison baseline, the
// baseline's file from the same directory; without that file the poison
// target is reported as not run.
func loadOne(cfg *bench.Config, file string) error {
	sc, err := sim.LoadScenario(file)
	if err != nil {
		return err
	}
	cfg.Scenarios = []sim.Scenario{sc}
	if name := bench.ClassOf(sc).PoisonBaseline; name != "" {
		base, err := sim.LoadScenario(filepath.Join(filepath.Dir(file), name+".yaml"))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("poison baseline of %s: %w", sc.Name, err)
		default:
			cfg.Baselines = []sim.Scenario{base}
		}
	}
	return nil
}

// loadAll loads every scenario file of dir, in file name order.
func loadAll(cfg *bench.Config, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("scenario directory: %w", err)
	}
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		if e.IsDir() {
			continue
		}
		sc, err := sim.LoadScenario(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		cfg.Scenarios = append(cfg.Scenarios, sc)
	}
	if len(cfg.Scenarios) == 0 {
		return fmt.Errorf("scenario directory %s: no .yaml, .yml or .json file", dir)
	}
	return nil
}

// command is the command line that reproduces a -all run, shown in the
// report: the flags that differ from their defaults, in a fixed order.
func command(dir string, seeds int, list, out, plots string) string {
	c := []string{"go", "run", "./cmd/maptuner-bench", "-all", dir, "-seeds", strconv.Itoa(seeds)}
	if list != "" {
		c = append(c, "-strategy", list)
	}
	if out != defaultOut {
		c = append(c, "-out", out)
	}
	if plots != defaultPlots {
		c = append(c, "-plots", plots)
	}
	return strings.Join(c, " ")
}
