package bench

import (
	"context"
	"fmt"
	"slices"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// The oracle's grid search runs three passes of static settings. The first
// tries 1 to 10,000 spaced by a factor of CoarseRatio (42 settings); the
// second spans from the setting below the best so far to the one above it,
// spaced by FineRatio (about 16); the third spans the second's neighbours of
// its best in whole steps, at most FinalSettings of them evenly spaced
// (every setting up to about 400).
const (
	// CoarseRatio spaces the first pass.
	CoarseRatio = 1.25
	// FineRatio spaces the second pass.
	FineRatio = 1.03
	// FinalSettings bounds the settings of the third pass.
	FinalSettings = 25
)

// SearchOracle finds the best static maxConcurrency of scenario sc for one
// seed, by sim's ranking (every run succeeded, then more items succeeded,
// then the shorter makespan, then the smaller setting), in three passes of
// sim.OracleStatic with ticks of TickPeriod. Each pass includes the best of
// the one before, so a pass never loses it. Grid lists every setting tried,
// pass after pass. It fails only when ctx ends.
func SearchOracle(ctx context.Context, sc sim.Scenario, seed uint64) (sim.OracleResult, error) {
	grid := sim.GeometricGrid(1, sim.MaxConcurrencyLimit, CoarseRatio)
	var best sim.OracleResult
	var tried []sim.GridPoint
	for pass := range 3 {
		if pass > 0 {
			i := slices.Index(grid, best.Best)
			lo, hi := grid[max(i-1, 0)], grid[min(i+1, len(grid)-1)]
			if pass == 1 {
				grid = slices.Concat(sim.GeometricGrid(lo, best.Best, FineRatio), sim.GeometricGrid(best.Best, hi, FineRatio))
			} else {
				grid = append(linearGrid(lo, hi, FinalSettings), best.Best)
			}
			slices.Sort(grid)
			grid = slices.Compact(grid)
		}
		res, err := sim.OracleStatic(ctx, sc, seed, grid, TickPeriod)
		if err != nil {
			return sim.OracleResult{}, fmt.Errorf("oracle pass %d: %w", pass+1, err)
		}
		tried = append(tried, res.Grid...)
		best = res
	}
	best.Grid = tried
	return best, nil
}

// linearGrid is lo to hi (both included) in whole, even steps, at most n
// settings (n >= 2).
func linearGrid(lo, hi int32, n int) []int32 {
	step := max(1, (int(hi-lo)+n-2)/(n-1))
	var out []int32
	for v := int(lo); v < int(hi); v += step {
		out = append(out, int32(v))
	}
	return append(out, hi)
}
