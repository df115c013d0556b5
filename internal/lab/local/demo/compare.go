package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/maptuner/maptuner/internal/lab/bench"
	"github.com/maptuner/maptuner/internal/lab/sim"
)

// simulatedBackend is a Backend that simulates the account from a
// scenario, so that Run can set the tuned run beside static settings of the
// same scenario and seed.
type simulatedBackend interface {
	Backend
	// Scenario is the simulated account; Seed fixes its random draws.
	Scenario() sim.Scenario
	Seed() uint64
	// Result is the simulated world's figures so far.
	Result() sim.Result
}

var _ simulatedBackend = (*Sim)(nil)

// Comparison sets the run the functions tuned beside static settings,
// each run on a fresh world of the same scenario and seed: the same items,
// the same durations, the same downstream.
type Comparison struct {
	// Scenario is the scenario's name; Seed the seed of every world.
	Scenario string
	Seed     uint64
	// Tuned is the run the functions tuned.
	Tuned sim.Result
	// Best is the run at the best static maxConcurrency, BestSetting, as
	// bench.SearchOracle finds it, set on every Map Run of the scenario,
	// tuned or not; Tried is how many static settings the search ran, and
	// FailsFrom the lowest setting from which every setting tried fails a
	// run (0 when the highest one tried does not).
	Best        sim.Result
	BestSetting int32
	Tried       int
	FailsFrom   int32
	// Definition is the run left at the maxConcurrency its definition
	// sets, DefinitionSettings, one per Map Run of the scenario (0 is
	// unlimited).
	Definition         sim.Result
	DefinitionSettings []int32
}

// baselines are the static runs, simulated while the functions tune.
type baselines struct {
	oracle     sim.OracleResult
	definition sim.Result
	err        error
}

// asWritten is the strategy of a user who leaves the definition alone.
type asWritten struct{}

func (asWritten) Step(context.Context, time.Time) error { return nil }

var _ sim.Strategy = asWritten{}

// startBaselines simulates the static settings of sc with seed in the
// background and sends them once done, or ctx's error.
func startBaselines(ctx context.Context, sc sim.Scenario, seed uint64) <-chan baselines {
	ch := make(chan baselines, 1)
	go func() {
		var b baselines
		b.oracle, b.err = bench.SearchOracle(ctx, sc, seed)
		if b.err == nil {
			b.definition = sim.Run(ctx, sim.New(sc, seed), asWritten{}, bench.TickPeriod)
			b.err = ctx.Err()
		}
		ch <- b
	}()
	return ch
}

// compare waits for the static runs, sets the tuned run beside them in
// sum.Comparison, and writes the plot to cfg.PlotFile, if set.
func compare(ctx context.Context, cfg Config, b simulatedBackend, ch <-chan baselines, sum *Summary) error {
	var base baselines
	select {
	case base = <-ch:
	case <-ctx.Done():
		return fmt.Errorf("demo: compare with static settings: %w", ctx.Err())
	}
	if base.err != nil {
		return fmt.Errorf("demo: compare with static settings: %w", base.err)
	}
	sc := b.Scenario()
	c := &Comparison{
		Scenario: sc.Name, Seed: b.Seed(),
		Tuned: b.Result(),
		Best:  base.oracle.Result, BestSetting: base.oracle.Best, Tried: len(base.oracle.Grid), FailsFrom: failsFrom(base.oracle.Grid),
		Definition: base.definition,
	}
	for _, r := range sc.Runs {
		c.DefinitionSettings = append(c.DefinitionSettings, r.MaxConcurrency)
	}
	sum.Comparison = c
	if cfg.PlotFile == "" {
		return nil
	}
	title := fmt.Sprintf("%s, seed %d: maptuner (left) beside the best static setting, %d (right)", c.Scenario, c.Seed, c.BestSetting)
	svg := bench.ComparisonPlot(title,
		bench.PlotColumn{Title: "maptuner", Result: &c.Tuned},
		bench.PlotColumn{Title: fmt.Sprintf("static %d", c.BestSetting), Result: &c.Best})
	if err := os.MkdirAll(filepath.Dir(cfg.PlotFile), 0o755); err != nil {
		return fmt.Errorf("demo: plot: %w", err)
	}
	if err := os.WriteFile(cfg.PlotFile, svg, 0o644); err != nil {
		return fmt.Errorf("demo: plot: %w", err)
	}
	sum.PlotFile = cfg.PlotFile
	return nil
}

// failsFrom is the lowest setting of grid from which every setting tried
// fails a run; 0 when the highest does not.
func failsFrom(grid []sim.GridPoint) int32 {
	pts := slices.Clone(grid)
	slices.SortFunc(pts, func(a, b sim.GridPoint) int { return int(a.MaxConcurrency) - int(b.MaxConcurrency) })
	from := int32(0)
	for i := len(pts) - 1; i >= 0 && !pts[i].Succeeded; i-- {
		from = pts[i].MaxConcurrency
	}
	return from
}

// String renders the comparison as a table, one row per setting, and a
// sentence on what it shows; every line starts with "compare:".
func (c *Comparison) String() string {
	var items int64
	for _, r := range c.Tuned.Runs {
		items += r.Items
	}
	var b strings.Builder
	fmt.Fprintf(&b, "compare: scenario %s, seed %d: the same %s items under each setting, simulated\n", c.Scenario, c.Seed, count(items))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "compare:\tsetting\toutcome\tmakespan\tthrottled calls\tfailed items")
	defs := make([]string, len(c.DefinitionSettings))
	for i, n := range c.DefinitionSettings {
		defs[i] = concurrency(n)
	}
	for _, row := range []struct {
		name string
		res  sim.Result
	}{
		{"maptuner, as tuned above", c.Tuned},
		{fmt.Sprintf("best static maxConcurrency, %d", c.BestSetting), c.Best},
		{"the definition's, " + strings.Join(defs, ", "), c.Definition},
	} {
		f := figuresOf(row.res)
		fmt.Fprintf(tw, "compare:\t%s\t%s\t%s\t%.1f%%\t%s\n", row.name, f.outcome, short(row.res.Makespan), f.throttledPct, count(f.failed))
	}
	tw.Flush()
	b.WriteString("compare: " + c.verdict())
	return b.String()
}

// verdict is the comparison in a sentence.
func (c *Comparison) verdict() string {
	tuned, best, def := figuresOf(c.Tuned), figuresOf(c.Best), figuresOf(c.Definition)
	var parts []string
	search := fmt.Sprintf("the best static setting is known only after the fact, by simulating %d of them", c.Tried)
	if c.FailsFrom > 0 {
		search += fmt.Sprintf(" (from %d up, every one fails the run)", c.FailsFrom)
	}
	parts = append(parts, search)
	switch {
	case !tuned.succeeded:
		parts = append(parts, "maptuner's run did not succeed")
	case best.succeeded && c.Best.Makespan > 0:
		parts = append(parts, fmt.Sprintf("maptuner took %.2fx its time without knowing it", c.Tuned.Makespan.Seconds()/c.Best.Makespan.Seconds()))
	}
	switch {
	case !def.succeeded:
		parts = append(parts, "the definition's setting does not get the job done")
	case tuned.succeeded && c.Tuned.Makespan > 0:
		parts = append(parts, fmt.Sprintf("the definition's setting takes %.2fx maptuner's time", c.Definition.Makespan.Seconds()/c.Tuned.Makespan.Seconds()))
	}
	return strings.Join(parts, "; ") + "."
}

// figures are a result's figures over its Map Runs.
type figures struct {
	// outcome tallies the runs' statuses; succeeded reports whether every
	// run succeeded.
	outcome   string
	succeeded bool
	// throttledPct is the share of downstream calls throttled, in percent;
	// failed counts failed items.
	throttledPct float64
	failed       int64
}

func figuresOf(res sim.Result) figures {
	var calls, throttled int64
	f := figures{succeeded: len(res.Runs) > 0}
	statuses := map[string]int{}
	for _, r := range res.Runs {
		calls += r.Calls
		throttled += r.Throttled
		f.failed += r.Failed
		status := r.Status
		if status == "" {
			status = "NOT STARTED"
		}
		statuses[status]++
		f.succeeded = f.succeeded && r.Status == "SUCCEEDED"
	}
	if calls > 0 {
		f.throttledPct = 100 * float64(throttled) / float64(calls)
	}
	f.outcome = tally(statuses)
	return f
}
