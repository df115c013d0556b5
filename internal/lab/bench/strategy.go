package bench

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// The strategy names ParseStrategy accepts, besides static-N.
const (
	// StrategyTuner is the real tuner (TunerStrategy), ticking every minute.
	StrategyTuner = "tuner"
	// StrategyOracle is the best static maxConcurrency of each seed, found
	// by grid search (see OracleGrid).
	StrategyOracle = "oracle"
	// StrategyFollow sets each run's true capacity every minute
	// (sim.CapacityOracle).
	StrategyFollow = "follow"
	// StrategyUnlimited is a maxConcurrency of 0: 10,000 children.
	StrategyUnlimited = "unlimited"
	// StrategyAIMD is sim.AIMD with the Netflix concurrency-limits defaults.
	StrategyAIMD = "aimd"
	// StrategyCUBIC is sim.CUBIC with the AWS SDKs' adaptive-mode defaults.
	StrategyCUBIC = "cubic"
	// StaticPrefix starts the name of a static strategy: static-200 sets
	// maxConcurrency 200 in the definition and never changes it.
	StaticPrefix = "static-"
)

// DefaultStrategies are the strategies a suite runs when none are named:
// the tuner, the baselines it must beat, and the two oracles.
var DefaultStrategies = []string{StrategyTuner, StrategyAIMD, StrategyCUBIC, StrategyUnlimited, StrategyFollow, StrategyOracle}

// ErrUnknownStrategy is wrapped by ParseStrategy's errors.
var ErrUnknownStrategy = errors.New("unknown strategy")

// TickPeriod is the strategies' tick and the tuner's period: the tune
// function runs once a minute.
const TickPeriod = time.Minute

// Strategy is one strategy of a suite, by its canonical name.
type Strategy struct {
	// Name is the canonical name: tuner, oracle, follow, unlimited, aimd,
	// cubic or static-N.
	Name string
	// Static is N for static-N; zero otherwise.
	Static int32
}

// ParseStrategy parses a strategy name: tuner, oracle, follow, unlimited,
// aimd, cubic, or static-N with N in [1, 10,000]. Surrounding spaces are
// ignored; case matters.
func ParseStrategy(s string) (Strategy, error) {
	name := strings.TrimSpace(s)
	switch name {
	case StrategyTuner, StrategyOracle, StrategyFollow, StrategyUnlimited, StrategyAIMD, StrategyCUBIC:
		return Strategy{Name: name}, nil
	}
	digits, ok := strings.CutPrefix(name, StaticPrefix)
	if !ok {
		return Strategy{}, fmt.Errorf("%w %q: want one of tuner, oracle, follow, unlimited, aimd, cubic or static-N", ErrUnknownStrategy, s)
	}
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || n < 1 || n > sim.MaxConcurrencyLimit || digits != strconv.FormatInt(n, 10) {
		return Strategy{}, fmt.Errorf("%w %q: N of static-N must be a whole number from 1 to %d", ErrUnknownStrategy, s, sim.MaxConcurrencyLimit)
	}
	return Strategy{Name: StaticPrefix + digits, Static: int32(n)}, nil
}

// ParseStrategies parses a comma-separated list of strategy names; empty
// means DefaultStrategies. Duplicates are errors.
func ParseStrategies(list string) ([]Strategy, error) {
	names := DefaultStrategies
	if strings.TrimSpace(list) != "" {
		names = strings.Split(list, ",")
	}
	out := make([]Strategy, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		s, err := ParseStrategy(n)
		if err != nil {
			return nil, err
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("strategy %q named twice", s.Name)
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	return out, nil
}

// newStrategy builds the simulator strategy; nil for the oracle, which is a
// grid search (SearchOracle) rather than one strategy.
func (s Strategy) newStrategy() sim.NewStrategy {
	switch s.Name {
	case StrategyTuner:
		return TunerStrategy(TickPeriod)
	case StrategyFollow:
		return sim.CapacityOracle()
	case StrategyUnlimited:
		return sim.Unlimited()
	case StrategyAIMD:
		return sim.AIMD(sim.AIMDConfig{})
	case StrategyCUBIC:
		return sim.CUBIC(sim.CUBICConfig{})
	case StrategyOracle:
		return nil
	}
	return sim.Static(s.Static)
}
