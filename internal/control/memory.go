package control

import (
	"fmt"
	"math"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

// Prior is what an earlier run of the same job (state machine, Map label
// and policy) learned: the memory across runs.
type Prior struct {
	// Limit is the maxConcurrency that run converged to, or the highest
	// limit it held clean long enough, times the number of open runs that
	// shared its downstream then (State.SharedBy): what the job could use
	// alone; > 0.
	Limit int32 `json:"limit"`
	// At is when it was learned.
	At time.Time `json:"at"`
	// ItemTime is how long, in seconds, a child held its place then when
	// nothing throttled; zero if not measured.
	ItemTime float64 `json:"itemTime,omitempty"`
	// Run names the run it was learned from; empty if not known.
	Run string `json:"run,omitempty"`
}

const (
	// DefaultPriorMaxAge is the default of Config.PriorMaxAge.
	DefaultPriorMaxAge = 14 * 24 * time.Hour
	// priorStart is the share of a fresh Prior's limit a run starts at;
	// priorAging is how much lower an older one starts, in proportion to
	// its age over PriorMaxAge (0.95 new, 0.85 at the end of its life).
	priorStart = 0.95
	priorAging = 0.10
	// learnHold is how long a run must hold its confirmed limit, with no
	// throttling, before that limit is worth remembering.
	learnHold = 5 * time.Minute
	// recallProbe is the one step a run takes past the learned limit once
	// back at it, clean.
	recallProbe = 0.02
)

// recall starts a run from what an earlier run of its job learned, when
// obs.Prior is fresh: just below its limit (less the older it is), the
// limit itself standing as the bound to return to once the start is
// confirmed clean. A throttled start lowers the bound at once, as any
// throttling does, and the run learns the lower limit instead. It reports
// false, changing nothing, without a fresh Prior.
func recall(cfg Config, st *State, obs Observation) (int32, string, bool) {
	p := obs.Prior
	if p == nil || p.Limit <= 0 {
		return 0, "", false
	}
	maxAge := cfg.PriorMaxAge
	if maxAge <= 0 {
		maxAge = DefaultPriorMaxAge
	}
	age := max(obs.At.Sub(p.At), 0)
	if age >= maxAge {
		return 0, "", false
	}
	share := priorStart - priorAging*float64(age)/float64(maxAge)
	// Its share of the downstream, when other runs share it now.
	limit := min(max(p.Limit/int32(max(obs.Shared.runs(), 1)), cfg.MinConcurrency), cfg.MaxConcurrency)
	to := max(int32(math.Floor(share*float64(limit))), cfg.MinConcurrency)
	st.Recall = limit
	// The learned limit was clean, the band above it is not known to be:
	// the bracket holds at the limit once it is confirmed.
	// A whole run confirmed that bound: it stands as long as one that
	// probes missed three times in a row, eight times RecoveryTime.
	// The bound stands above the one small probe past the limit, so that
	// the probe, once clean, holds there instead of clearing the bound.
	probed := int32(math.Ceil(float64(limit) * (1 + recallProbe)))
	st.Hi, st.HiAt, st.Phase = probed+bandOf(cfg, limit), obs.At, PhaseBracket
	st.Misses = 3
	if st.ItemTime == 0 {
		st.ItemTime = p.ItemTime
	}
	from := ""
	if p.Run != "" {
		from = " from run " + p.Run
	}
	return to, fmt.Sprintf("starting at %d, %.0f%% of the %d learned %s ago%s; back to %d once %d is confirmed clean.",
		to, 100*share, limit, age.Round(time.Minute), from, limit, to), true
}

// learn returns what the run has learned worth keeping for the next run
// of its job, and notes it in st.Taught; nil when nothing new: while it
// runs, the confirmed limit it has held for learnHold with no throttling;
// once it has succeeded, the highest limit confirmed clean.
func learn(st *State, obs Observation, limit int32) *Prior {
	at := obs.At
	lo := st.Lo
	if lo <= 0 || lo == st.Taught {
		return nil
	}
	if obs.Run.Status.Ended() {
		if obs.Run.Status != maprun.StatusSucceeded {
			return nil
		}
	} else {
		last := st.History[len(st.History)-1]
		if effective(limit) != lo || at.Sub(last.From) < learnHold || !st.ThrottledAt.IsZero() && at.Sub(st.ThrottledAt) < learnHold {
			return nil
		}
	}
	st.Taught = lo
	// A run sharing its downstream held its share of it.
	return &Prior{Limit: min(lo*int32(max(st.SharedBy, 1)), unlimited), At: at, ItemTime: st.ItemTime}
}

// hintShare is the share of Observation.Bound a run with no memory starts
// at: the downstream allows that many, and other callers may use it too.
const hintShare = 0.5

// hinted starts a run with no memory from the upper bound its downstream's
// configuration gives (Observation.Bound), which also ends slow start:
// at half of it (divided among the runs sharing the downstream) when the
// run starts lower. It reports false, keeping
// only the bound, when there is none or the run starts at half or above.
func hinted(cfg Config, st *State, obs Observation) (int32, string, bool) {
	if obs.Bound <= 0 {
		return 0, "", false
	}
	st.Bound = obs.Bound
	cur := obs.Run.Settings.MaxConcurrency
	share := hintShare / float64(max(obs.Shared.runs(), 1))
	to := min(max(min(int32(share*float64(obs.Bound)), room(obs.Bound, obs)), cfg.MinConcurrency), cfg.MaxConcurrency)
	if cur == 0 || cur >= to || obs.Run.Items.Done() > 0 {
		return 0, "", false
	}
	return to, fmt.Sprintf("the downstream allows at most %d children: starting at %d instead of %d.", obs.Bound, to, cur), true
}
