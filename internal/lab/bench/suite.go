package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"slices"
	"sync"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// DefaultSeeds is the number of seeds a suite runs when none is given.
const DefaultSeeds = 10

// scenarioName is what a scenario's name must look like: it names its plot
// file and its heading's anchor.
var scenarioName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ErrConfig is wrapped by the errors about a suite's Config.
var ErrConfig = errors.New("invalid benchmark config")

// Config is what a suite runs.
type Config struct {
	// Scenarios are the scenarios reported on, in report order.
	Scenarios []sim.Scenario
	// Baselines are scenarios run with the tuner only, as the poison
	// baselines (Class.PoisonBaseline) of Scenarios that are not among
	// them; not reported.
	Baselines []sim.Scenario
	// Seeds is how many seeds each scenario runs: seeds 1 to Seeds; zero
	// means DefaultSeeds.
	Seeds int
	// Strategies are run on every scenario and seed, in report order; nil
	// means DefaultStrategies. The oracle's grid search runs whether it is
	// listed or not: every makespan is divided by its.
	Strategies []Strategy
	// Workers bounds the simulations run at once; zero means GOMAXPROCS.
	Workers int
}

// Report is a suite's figures. The same Config gives a Report that
// marshals to the same bytes, whatever the number of workers.
type Report struct {
	// Seeds are the seeds run, the same for every scenario.
	Seeds []uint64 `json:"seeds"`
	// Strategies are the strategies reported, in order.
	Strategies []string `json:"strategies"`
	// Scenarios are the scenarios' figures, in Config order.
	Scenarios []ScenarioReport `json:"scenarios"`
	// Cases are issue 8's targets (Cases), judged on the scenarios run;
	// empty when the tuner was not run.
	Cases []CaseResult `json:"cases,omitempty"`
}

// ScenarioReport holds the figures of one scenario.
type ScenarioReport struct {
	// Name and Description are the scenario's.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Class is the scenario's target class (see Classes).
	Class Class `json:"class"`
	// Oracle is the grid search's outcome per seed.
	Oracle []OracleSeed `json:"oracle"`
	// Strategies are the figures per strategy, in Report order.
	Strategies []StrategyReport `json:"strategies"`
	// DefaultPolicy are the figures of the tuner under the built-in
	// default policy, no metric named, whatever policy the scenario
	// gives (its Strategy is DefaultPolicyRow); nil when the tuner was not
	// run.
	DefaultPolicy *StrategyReport `json:"defaultPolicy,omitempty"`
	// Bound is what the tuner's pass under the scenario's policy is held
	// to (see boundOf).
	Bound Bound `json:"bound"`
	// Targets are the tuner's targets, judged; empty when the tuner was
	// not run.
	Targets []Target `json:"targets,omitempty"`
	// Seeds are the seeds this scenario ran: the suite's, or fewer (see
	// Class.MaxSeeds).
	Seeds []uint64 `json:"seeds"`
	// PlotSeed is the seed plotted: the tuner's median seed by makespan
	// ratio (the lower middle one for an even count), or the first seed
	// without the tuner.
	PlotSeed uint64 `json:"plotSeed"`

	plotTuner, plotOracle *sim.Result
}

// OracleSeed is the oracle's best static setting on one seed.
type OracleSeed struct {
	// Seed is the world's seed.
	Seed uint64 `json:"seed"`
	// Best is the best static maxConcurrency; Makespan its makespan in
	// minutes; Completed whether every run succeeded with it.
	Best      int32   `json:"best"`
	Makespan  float64 `json:"makespanMinutes"`
	Completed bool    `json:"completed"`
	// Tried is how many static settings the grid search ran.
	Tried int `json:"tried"`
}

// StrategyReport holds one strategy's figures in one scenario.
type StrategyReport struct {
	// Strategy is the strategy's name (see ParseStrategy).
	Strategy string `json:"strategy"`
	// Summary summarizes Seeds.
	Summary Summary `json:"summary"`
	// Seeds are the figures per seed, in seed order.
	Seeds []SeedFigures `json:"seeds"`
	// FirstError is the first strategy error met, on the first seed that
	// had one; empty when none.
	FirstError string `json:"firstError,omitempty"`
}

// Summary is the median and p90 over seeds of each figure of SeedFigures,
// and the sums of its counts.
type Summary struct {
	// MakespanMinutes to FailedPoison summarize the figures of the same
	// names; see SeedFigures.
	MakespanMinutes  Stat `json:"makespanMinutes"`
	MakespanRatio    Stat `json:"makespanRatio"`
	ThrottledPercent Stat `json:"throttledPercent"`
	FailedThrottle   Stat `json:"failedThrottle"`
	FailedPoison     Stat `json:"failedPoison"`
	// Outcomes sums the runs' statuses over seeds; ThrottleFailures the
	// runs failed because of throttling.
	Outcomes         Outcomes `json:"outcomes"`
	ThrottleFailures int      `json:"throttleFailures"`
	// ConvergeMinutes is +Inf where too many seeds never converged;
	// Converged counts the seeds that did.
	ConvergeMinutes Stat `json:"convergeMinutes"`
	Converged       int  `json:"converged"`
	// Oscillation to APIErrors summarize the figures of the same names.
	Oscillation       Stat `json:"oscillation"`
	Overshoot         Stat `json:"overshoot"`
	UpdateMapRunCalls Stat `json:"updateMapRunCalls"`
	OtherAPICalls     Stat `json:"otherApiCalls"`
	APIThrottled      Stat `json:"apiThrottled"`
	APIErrors         Stat `json:"apiErrors"`
	// StrategyErrors sums the strategy errors over seeds.
	StrategyErrors int `json:"strategyErrors"`
	// Cadence summarizes the seeds' (see summarizeCadence).
	Cadence Cadence `json:"cadence"`
	// Runs summarize the figures of each Map Run, in scenario order, when
	// the scenario has more than one; nil otherwise.
	Runs []RunSummary `json:"runs,omitempty"`
}

// RunSummary is the median and p90 over seeds of one Map Run's figures
// (see RunFigures).
type RunSummary struct {
	Name             string `json:"name"`
	MakespanMinutes  Stat   `json:"makespanMinutes"`
	MakespanRatio    Stat   `json:"makespanRatio"`
	ThrottledPercent Stat   `json:"throttledPercent"`
}

func summarize(seeds []SeedFigures) Summary {
	var s Summary
	col := func(get func(SeedFigures) float64) Stat {
		v := make([]float64, len(seeds))
		for i, f := range seeds {
			v[i] = get(f)
		}
		return statOf(v)
	}
	s.MakespanMinutes = col(func(f SeedFigures) float64 { return f.Makespan })
	s.MakespanRatio = col(func(f SeedFigures) float64 { return float64(f.MakespanRatio) })
	s.ThrottledPercent = col(func(f SeedFigures) float64 { return f.ThrottledPercent })
	s.FailedThrottle = col(func(f SeedFigures) float64 { return float64(f.FailedThrottle) })
	s.FailedPoison = col(func(f SeedFigures) float64 { return float64(f.FailedPoison) })
	s.ConvergeMinutes = col(func(f SeedFigures) float64 { return float64(f.ConvergeMinutes) })
	s.Oscillation = col(func(f SeedFigures) float64 { return float64(f.Oscillation) })
	s.Overshoot = col(func(f SeedFigures) float64 { return float64(f.Overshoot) })
	s.UpdateMapRunCalls = col(func(f SeedFigures) float64 { return float64(f.UpdateMapRunCalls) })
	s.OtherAPICalls = col(func(f SeedFigures) float64 { return float64(f.OtherAPICalls) })
	s.APIThrottled = col(func(f SeedFigures) float64 { return float64(f.APIThrottled) })
	s.APIErrors = col(func(f SeedFigures) float64 { return float64(f.APIErrors) })
	s.Cadence = summarizeCadence(seeds)
	if len(seeds) > 0 {
		for i, r := range seeds[0].Runs {
			run := func(get func(RunFigures) float64) Stat {
				return col(func(f SeedFigures) float64 { return get(f.Runs[i]) })
			}
			s.Runs = append(s.Runs, RunSummary{
				Name:             r.Name,
				MakespanMinutes:  run(func(r RunFigures) float64 { return r.Makespan }),
				MakespanRatio:    run(func(r RunFigures) float64 { return float64(r.MakespanRatio) }),
				ThrottledPercent: run(func(r RunFigures) float64 { return r.ThrottledPercent }),
			})
		}
	}
	for _, f := range seeds {
		s.Outcomes.add(f.Outcomes)
		s.ThrottleFailures += f.ThrottleFailures
		s.StrategyErrors += f.StrategyErrors
		if f.Converged {
			s.Converged++
		}
	}
	return s
}

// Run runs a suite: the oracle's grid search on every scenario and seed,
// then every strategy, on a pool of cfg.Workers goroutines, and computes
// the figures and targets. It fails on a Config that cannot run and when
// ctx ends.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.normalize(); err != nil {
		return Report{}, err
	}
	seeds := make([]uint64, cfg.Seeds)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	rep := Report{Seeds: seeds}
	for _, s := range cfg.Strategies {
		rep.Strategies = append(rep.Strategies, s.Name)
	}
	// seedsOf are the seeds a scenario runs: its class may run fewer.
	seedsOf := func(sc sim.Scenario) []uint64 {
		if n := ClassOf(sc).MaxSeeds; n > 0 && n < len(seeds) {
			return seeds[:n]
		}
		return seeds
	}
	var oracleJobs []job
	oracles := make([][]sim.OracleResult, len(cfg.Scenarios))
	for si, sc := range cfg.Scenarios {
		oracles[si] = make([]sim.OracleResult, len(seedsOf(sc)))
		for j := range oracles[si] {
			oracleJobs = append(oracleJobs, job{si, j})
		}
	}
	heaviestFirst(oracleJobs, func(of int) sim.Scenario { return cfg.Scenarios[of] })
	err := parallel(ctx, cfg.Workers, len(oracleJobs), func(i int) error {
		jb := oracleJobs[i]
		sc, seed := cfg.Scenarios[jb.of], seeds[jb.seed]
		var o sim.OracleResult
		var err error
		if grid := ClassOf(sc).OracleGrid; grid != nil {
			o, err = sim.OracleStatic(ctx, sc, seed, grid, TickPeriod)
		} else {
			o, err = SearchOracle(ctx, sc, seed)
		}
		if err != nil {
			return fmt.Errorf("bench: scenario %s seed %d: %w", sc.Name, seed, err)
		}
		oracles[jb.of][jb.seed] = o
		return nil
	})
	if err != nil {
		return Report{}, err
	}

	// The worlds to run: every strategy but the oracle on every scenario,
	// then the tuner on every baseline, then, if the tuner is run, the
	// tuner under the default policy on every scenario, each on every
	// seed.
	type world struct {
		sc            sim.Scenario
		strategy      Strategy
		defaultPolicy bool
	}
	var worlds []world
	tunerRun := false
	for _, sc := range cfg.Scenarios {
		for _, s := range cfg.Strategies {
			if s.Name != StrategyOracle {
				worlds = append(worlds, world{sc: sc, strategy: s})
			}
			tunerRun = tunerRun || s.Name == StrategyTuner
		}
	}
	for _, sc := range cfg.Baselines {
		worlds = append(worlds, world{sc: sc, strategy: Strategy{Name: StrategyTuner}})
	}
	// defaults are the default-policy worlds by scenario index; a scenario
	// that runs the tuner under the default policy anyway has none, and
	// its tuner figures stand for both.
	defaults := map[int]int{}
	if tunerRun {
		for si, sc := range cfg.Scenarios {
			if !defaultAlready(sc) {
				defaults[si] = len(worlds)
				worlds = append(worlds, world{sc: sc, strategy: Strategy{Name: StrategyTuner}, defaultPolicy: true})
			}
		}
	}
	var worldJobs []job
	results := make([][]sim.Result, len(worlds))
	cadences := make([][]Cadence, len(worlds))
	for k, wl := range worlds {
		n := len(seedsOf(wl.sc))
		results[k], cadences[k] = make([]sim.Result, n), make([]Cadence, n)
		for j := range n {
			worldJobs = append(worldJobs, job{k, j})
		}
	}
	heaviestFirst(worldJobs, func(of int) sim.Scenario { return worlds[of].sc })
	err = parallel(ctx, cfg.Workers, len(worldJobs), func(i int) error {
		jb := worldJobs[i]
		wl := worlds[jb.of]
		w := sim.New(wl.sc, seeds[jb.seed])
		newStrategy := wl.strategy.newStrategy()
		if wl.defaultPolicy {
			newStrategy = defaultPolicyTuner(TickPeriod)
		}
		s := newStrategy(w)
		res := sim.Run(ctx, w, s, tickOf(wl.strategy))
		results[jb.of][jb.seed] = res
		cadences[jb.of][jb.seed] = noCadence()
		if t, ok := s.(*tunerStrategy); ok {
			cadences[jb.of][jb.seed] = t.ticks.cadence(res)
		}
		return ctx.Err()
	})
	if err != nil {
		return Report{}, fmt.Errorf("bench: %w", err)
	}

	baselines := map[string]map[uint64]float64{}
	for k, wl := range worlds {
		if wl.strategy.Name != StrategyTuner || wl.defaultPolicy {
			continue
		}
		m := map[uint64]float64{}
		for j, res := range results[k] {
			if completed(res) {
				m[seeds[j]] = res.Makespan.Minutes()
			}
		}
		baselines[wl.sc.Name] = m
	}

	k := 0
	for si, sc := range cfg.Scenarios {
		class := ClassOf(sc)
		fs := factsOf(sc)
		sr := ScenarioReport{Name: sc.Name, Description: sc.Description, Class: class, Bound: boundOf(sc.Name, class)}
		orc := oracles[si]
		sr.Seeds = seedsOf(sc)
		for j, o := range orc {
			sr.Oracle = append(sr.Oracle, OracleSeed{Seed: seeds[j], Best: o.Best, Makespan: o.Result.Makespan.Minutes(), Completed: completed(o.Result), Tried: len(o.Grid)})
		}
		var tunerResults []sim.Result
		for _, s := range cfg.Strategies {
			var res []sim.Result
			var cad []Cadence
			if s.Name == StrategyOracle {
				for _, o := range orc {
					res = append(res, o.Result)
				}
			} else {
				res, cad = results[k], cadences[k]
				k++
			}
			if s.Name == StrategyTuner {
				tunerResults = res
			}
			sr.Strategies = append(sr.Strategies, strategyReport(s.Name, res, cad, orc, class, fs))
		}
		sr.PlotSeed = seeds[0]
		plot := 0
		if tunerResults != nil {
			tr := sr.strategy(StrategyTuner)
			plot = medianSeed(tr.Seeds)
			sr.PlotSeed = seeds[plot]
			sr.plotTuner = &tunerResults[plot]
			others := map[string]StrategyReport{}
			for _, o := range sr.Strategies {
				others[o.Strategy] = o
			}
			var base map[uint64]float64
			if class.PoisonBaseline != "" {
				base = baselines[class.PoisonBaseline]
			}
			sr.Targets = targets(class, sr.Bound, *tr, others, base)
			def := *tr
			if k, ok := defaults[si]; ok {
				def = strategyReport(DefaultPolicyRow, results[k], cadences[k], orc, class, fs)
			}
			def.Strategy = DefaultPolicyRow
			sr.DefaultPolicy = &def
		}
		sr.plotOracle = &orc[plot].Result
		rep.Scenarios = append(rep.Scenarios, sr)
	}
	if tunerRun {
		rep.Cases = judgeCases(rep)
	}
	return rep, nil
}

// strategy returns the report of a strategy by name, or of the tuner's
// default-policy pass by DefaultPolicyRow; nil if not run.
func (sr *ScenarioReport) strategy(name string) *StrategyReport {
	if name == DefaultPolicyRow {
		return sr.DefaultPolicy
	}
	for i := range sr.Strategies {
		if sr.Strategies[i].Strategy == name {
			return &sr.Strategies[i]
		}
	}
	return nil
}

// rows are the reports of a scenario's table: its strategies, with the
// tuner's default-policy pass after the tuner.
func (sr *ScenarioReport) rows() []StrategyReport {
	var out []StrategyReport
	for _, s := range sr.Strategies {
		out = append(out, s)
		if s.Strategy == StrategyTuner && sr.DefaultPolicy != nil {
			out = append(out, *sr.DefaultPolicy)
		}
	}
	return out
}

// job is one seed of one scenario (oracles) or world (results), by index.
type job struct{ of, seed int }

// heaviestFirst orders jobs by their scenario's items, most first (stable),
// so that the longest simulations do not start last and leave workers idle.
func heaviestFirst(jobs []job, scenario func(of int) sim.Scenario) {
	items := func(j job) (n int64) {
		for _, r := range scenario(j.of).Runs {
			n += r.Items
		}
		return n
	}
	slices.SortStableFunc(jobs, func(a, b job) int { return cmp.Compare(items(b), items(a)) })
}

// strategyReport computes one strategy's figures; cad are its cadences per
// seed, nil for the oracle.
func strategyReport(name string, res []sim.Result, cad []Cadence, orc []sim.OracleResult, class Class, fs facts) StrategyReport {
	sr := StrategyReport{Strategy: name}
	for j, r := range res {
		ref := reference{}
		if class.Capacity == CapacityFixed {
			ref.Static = orc[j].Best
		}
		f := figures(r, orc[j].Result, ref, fs)
		if cad != nil {
			f.Cadence = cad[j]
		}
		sr.Seeds = append(sr.Seeds, f)
		if sr.FirstError == "" && r.StrategyError != "" {
			sr.FirstError = fmt.Sprintf("seed %d: %s", r.Seed, r.StrategyError)
		}
	}
	sr.Summary = summarize(sr.Seeds)
	return sr
}

// medianSeed is the index of the seed whose makespan ratio is the median:
// seeds sorted by ratio (then seed), the lower middle one.
func medianSeed(seeds []SeedFigures) int {
	idx := make([]int, len(seeds))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ra, rb := float64(seeds[a].MakespanRatio), float64(seeds[b].MakespanRatio)
		switch {
		case ra < rb || math.IsNaN(rb) && !math.IsNaN(ra):
			return -1
		case ra > rb || math.IsNaN(ra) && !math.IsNaN(rb):
			return 1
		}
		return 0
	})
	return idx[(len(idx)-1)/2]
}

func (cfg *Config) normalize() error {
	if len(cfg.Scenarios) == 0 {
		return fmt.Errorf("%w: no scenario", ErrConfig)
	}
	if cfg.Seeds == 0 {
		cfg.Seeds = DefaultSeeds
	}
	if cfg.Seeds < 1 {
		return fmt.Errorf("%w: seeds %d: want at least 1", ErrConfig, cfg.Seeds)
	}
	if cfg.Strategies == nil {
		s, err := ParseStrategies("")
		if err != nil {
			return err
		}
		cfg.Strategies = s
	}
	if len(cfg.Strategies) == 0 {
		return fmt.Errorf("%w: no strategy", ErrConfig)
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Workers < 1 {
		return fmt.Errorf("%w: workers %d: want at least 1", ErrConfig, cfg.Workers)
	}
	names := map[string]bool{}
	for _, sc := range slices.Concat(cfg.Scenarios, cfg.Baselines) {
		if names[sc.Name] {
			return fmt.Errorf("%w: scenario %q given twice", ErrConfig, sc.Name)
		}
		names[sc.Name] = true
		if !scenarioName.MatchString(sc.Name) {
			return fmt.Errorf("%w: scenario name %q: want letters, digits, '.', '_' and '-' (it names the plot file), at most 100", ErrConfig, sc.Name)
		}
		if err := sc.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return nil
}

// parallel calls fn(0) to fn(n-1) on at most workers goroutines and returns
// the first error; after an error no new call starts.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
