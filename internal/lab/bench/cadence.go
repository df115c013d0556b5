package bench

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/tuner"
)

// ticks is what the tuner's reports say of one world: the instants each
// Map Run was decided at, the budgeted calls of every tick (a full pass or
// a look), and those of every period (a full pass and the looks up to the
// next one), which spend from one budget.
type ticks struct {
	decided map[string][]time.Time
	calls   []map[budget.API]int
	periods []map[budget.API]int
}

// record keeps what the bench measures of one tick's report: of a full
// pass (Tuner.Tick) when full, else of a look (Tuner.Look). A full pass
// reports what its period's budget spent so far, a look only its own
// calls, so a period's calls are its full pass's plus its looks'.
func (t *ticks) record(now time.Time, rep tuner.Report, full bool) {
	if t.decided == nil {
		t.decided = map[string][]time.Time{}
	}
	for _, d := range rep.Decisions {
		t.decided[d.MapRunARN] = append(t.decided[d.MapRunARN], now)
	}
	t.calls = append(t.calls, rep.Calls)
	if full {
		t.periods = append(t.periods, map[budget.API]int{})
	}
	if len(t.periods) == 0 {
		return
	}
	for api, n := range rep.Calls {
		t.periods[len(t.periods)-1][api] += n
	}
}

// OpCalls is how many calls of one API a tick (or a period) spent, over a
// seed's ticks (or periods): the median and the most.
type OpCalls struct {
	API    string `json:"api"`
	Median Num    `json:"median"`
	Max    Num    `json:"max"`
}

// Cadence are how soon and how often the tuner decided each Map Run, in
// minutes, and what a tick spent. A run never decided counts as +Inf in
// FirstMedian and FirstMax. The intervals between decisions of a run are
// pooled over runs, each run's last one reaching to its stop. NaN for a
// strategy other than the tuner.
type Cadence struct {
	FirstMedian Num `json:"firstDecisionMedianMinutes"`
	FirstMax    Num `json:"firstDecisionMaxMinutes"`
	EveryMedian Num `json:"redecisionMedianMinutes"`
	EveryP95    Num `json:"redecisionP95Minutes"`
	EveryMax    Num `json:"redecisionMaxMinutes"`
	// TickCalls are the calls per tick (a full pass or a look) by API,
	// sorted by API.
	TickCalls []OpCalls `json:"tickCalls,omitempty"`
	// PeriodCalls are the calls per period (a full pass and the looks up
	// to the next one, which spend from one budget) by API, sorted by
	// API.
	PeriodCalls []OpCalls `json:"periodCalls,omitempty"`
}

// noCadence is the Cadence of a strategy that is not the tuner.
func noCadence() Cadence {
	n := Num(math.NaN())
	return Cadence{FirstMedian: n, FirstMax: n, EveryMedian: n, EveryP95: n, EveryMax: n}
}

// cadence computes the figures of one world from its ticks and result.
func (t *ticks) cadence(res sim.Result) Cadence {
	var first, every []float64
	for _, r := range res.Runs {
		if r.Status == "" {
			continue
		}
		start := res.Start.Add(r.Started)
		at := t.decided[r.MapRunARN]
		if len(at) == 0 {
			first = append(first, math.Inf(1))
			continue
		}
		first = append(first, at[0].Sub(start).Minutes())
		for i := 1; i < len(at); i++ {
			every = append(every, at[i].Sub(at[i-1]).Minutes())
		}
		every = append(every, max(0, start.Add(r.Makespan).Sub(at[len(at)-1]).Minutes()))
	}
	slices.Sort(first)
	slices.Sort(every)
	c := Cadence{
		FirstMedian: Num(quantile(first, 0.5)), FirstMax: Num(quantile(first, 1)),
		EveryMedian: Num(quantile(every, 0.5)), EveryP95: Num(quantile(every, 0.95)), EveryMax: Num(quantile(every, 1)),
	}
	c.TickCalls, c.PeriodCalls = opCalls(t.calls), opCalls(t.periods)
	return c
}

// opCalls is, per API called in any of them, the median and the most calls
// of one of spends (ticks or periods), an API not called counting 0;
// sorted by API.
func opCalls(spends []map[budget.API]int) []OpCalls {
	per := map[budget.API][]float64{}
	for _, calls := range spends {
		for api := range calls {
			per[api] = nil
		}
	}
	for api := range per {
		for _, calls := range spends {
			per[api] = append(per[api], float64(calls[api]))
		}
	}
	var out []OpCalls
	for _, api := range slices.Sorted(maps.Keys(per)) {
		v := per[api]
		slices.Sort(v)
		out = append(out, OpCalls{API: string(api), Median: Num(quantile(v, 0.5)), Max: Num(quantile(v, 1))})
	}
	return out
}

// summarizeCadence is the median over seeds of each figure; per API, of
// the calls per tick and per period, the median of the medians and the
// most of the maxima.
func summarizeCadence(seeds []SeedFigures) Cadence {
	col := func(get func(Cadence) Num) Num {
		v := make([]float64, len(seeds))
		for i, f := range seeds {
			v[i] = float64(get(f.Cadence))
		}
		return statOf(v).Median
	}
	c := Cadence{
		FirstMedian: col(func(c Cadence) Num { return c.FirstMedian }),
		FirstMax:    col(func(c Cadence) Num { return c.FirstMax }),
		EveryMedian: col(func(c Cadence) Num { return c.EveryMedian }),
		EveryP95:    col(func(c Cadence) Num { return c.EveryP95 }),
		EveryMax:    col(func(c Cadence) Num { return c.EveryMax }),
	}
	c.TickCalls = summarizeCalls(seeds, func(c Cadence) []OpCalls { return c.TickCalls })
	c.PeriodCalls = summarizeCalls(seeds, func(c Cadence) []OpCalls { return c.PeriodCalls })
	return c
}

// summarizeCalls is, per API, the median of the seeds' medians and the
// most of their maxima of the calls get reads.
func summarizeCalls(seeds []SeedFigures, get func(Cadence) []OpCalls) []OpCalls {
	meds, maxes := map[string][]float64{}, map[string]float64{}
	for _, f := range seeds {
		for _, o := range get(f.Cadence) {
			meds[o.API] = append(meds[o.API], float64(o.Median))
			maxes[o.API] = max(maxes[o.API], float64(o.Max))
		}
	}
	var out []OpCalls
	for _, api := range slices.Sorted(maps.Keys(meds)) {
		out = append(out, OpCalls{API: api, Median: statOf(meds[api]).Median, Max: Num(maxes[api])})
	}
	return out
}
