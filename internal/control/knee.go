package control

// This file turns the live counts (DescribeMapRun, read at every look)
// into evidence of a knee: a limit raised past the point where the
// downstream slows down buys no throughput, and every child holds its
// place longer. It is the signal for Express children, which have no
// execution history, and it needs no metric.

import (
	"fmt"
	"math"
	"time"
)

const (
	// kneeSlow is how much longer than at a lower limit a child may hold
	// its place at a raised limit before the raise is taken as past the
	// knee, and kneeClean how much longer it may hold it for the raise
	// to be confirmed by the counts: between the two, the counts cannot
	// tell from noise.
	kneeSlow  = 0.15
	kneeClean = 0.07
	// kneeGain is the share of a raise the throughput must gain for the
	// raise to have bought anything: raising 200 to 300 (50 %) must add
	// at least 25 % to the throughput.
	kneeGain = 0.5
	// kneeWindow is the shortest span of counts a limit is measured on,
	// and kneeTurn the shortest wait after a change before its counts
	// are measured: the children of the old limit finish first.
	kneeWindow = time.Minute
	kneeTurn   = 20 * time.Second
	// kneeJudged is how many windows after a raise the raise is judged
	// on: a limit held for long is no longer the question.
	kneeJudged = 3
)

// measured is what the live counts showed of one limit: the children
// finished per second, and the mean number running, over its span after
// the children of the limit before it turned over.
type measured struct {
	limit    int32
	from, to time.Time
	rate     float64
	running  float64
}

// hold is how long, in seconds, a child held its place: running over
// throughput, by Little's law.
func (m measured) hold() float64 { return m.running / m.rate }

// countsOver measures the ticks from the first at or after from to the
// last at or before to: the rate of finished children, and the mean
// running, weighted by time. ok is false when the ticks span less than
// three quarters of the window or too few children finished to tell.
func countsOver(ticks []Tick, from, to time.Time) (rate, running float64, ok bool) {
	first, last := -1, -1
	for i, t := range ticks {
		if t.At.Before(from) || t.At.After(to) {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
	}
	if first < 0 || last <= first {
		return 0, 0, false
	}
	a, b := ticks[first], ticks[last]
	span := b.At.Sub(a.At)
	if span < to.Sub(from)*3/4 || b.Done-a.Done < minConfirmations {
		return 0, 0, false
	}
	var area float64
	for i := first + 1; i <= last; i++ {
		area += float64(ticks[i-1].Running+ticks[i].Running) / 2 * ticks[i].At.Sub(ticks[i-1].At).Seconds()
	}
	return float64(b.Done-a.Done) / span.Seconds(), area / span.Seconds(), true
}

// measureLimits measures every limit of the history, up to at, that held
// long enough: from its start plus the time a child of the limit before
// held its place (kneeTurn at least) to its end, a window of at least
// kneeWindow, and as long as that hold. Limits the children did not fill
// measure nothing. The last one is the limit in effect, measured so far.
func measureLimits(h []Setting, ticks []Tick, at time.Time) []measured {
	var out []measured
	turn := kneeTurn
	for i, s := range h {
		end := span(h, i)
		if end.IsZero() {
			end = at
		}
		from := s.From.Add(turn)
		if end.Sub(from) < max(kneeWindow, turn) {
			continue
		}
		rate, running, ok := countsOver(ticks, from, end)
		limit := effective(s.MaxConcurrency)
		if !ok || rate <= 0 || running < utilized*float64(limit) {
			continue
		}
		m := measured{limit: limit, from: from, to: end, rate: rate, running: running}
		out = append(out, m)
		turn = max(kneeTurn, time.Duration(m.hold()*float64(time.Second)))
	}
	return out
}

// knee is the verdict of the live counts on the limit in effect, raised
// past lower limits measured before it.
type knee struct {
	// cur is the limit in effect, measured; ref the lower limit measured
	// with the shortest hold, which it is judged against.
	cur, ref measured
	// past is true when the raise bought nothing: children hold their
	// place kneeSlow longer than at ref, and the throughput gained less
	// than kneeGain of the raise.
	past bool
	// clean is true when children hold their place about as long as at
	// ref: the downstream did not slow down.
	clean bool
	// back is the limit to return to when past: the highest lower limit
	// measured clean, or the limit that the throughput seen at cur needs
	// at ref's hold, whichever is higher; below cur.
	back int32
}

// kneeOf judges the limit in effect at at from the live counts in the
// state, while it is young (kneeJudged windows): ok is false when it is
// not measured yet, was not a raise past a measured lower limit, or has
// been held for long.
func kneeOf(st *State, at time.Time) (k knee, ok bool) {
	ms := measureLimits(st.History, st.Ticks, at)
	last := st.History[len(st.History)-1]
	if len(ms) < 2 || !ms[len(ms)-1].to.Equal(at) || ms[len(ms)-1].from.Before(last.From) {
		return knee{}, false
	}
	k.cur = ms[len(ms)-1]
	if k.cur.to.Sub(k.cur.from) > kneeJudged*max(kneeWindow, k.cur.from.Sub(last.From)) {
		return knee{}, false
	}
	found := false
	for _, m := range ms[:len(ms)-1] {
		if m.limit < k.cur.limit && (!found || m.hold() < k.ref.hold()) {
			k.ref, found = m, true
		}
	}
	if !found {
		return knee{}, false
	}
	slow := k.cur.hold() / k.ref.hold()
	raise := float64(k.cur.limit)/float64(k.ref.limit) - 1
	k.clean = slow <= 1+kneeClean
	k.past = slow > 1+kneeSlow && k.cur.rate < k.ref.rate*(1+kneeGain*raise)
	if k.past {
		k.back = max(k.ref.limit, int32(math.Floor(float64(k.cur.limit)/slow)))
		for _, m := range ms[:len(ms)-1] {
			if m.limit < k.cur.limit && m.hold() <= k.ref.hold()*(1+kneeClean) {
				k.back = max(k.back, m.limit)
			}
		}
		k.back = min(k.back, k.cur.limit-1)
	}
	return k, true
}

// kneeCut answers a raise the live counts show past the knee: the limit
// goes back to the knee's estimate, which stands as the clean limit, with
// the raised one as the bound. ok is false when the counts show no knee.
func kneeCut(cfg Config, st *State, obs Observation) (int32, string, bool) {
	at := obs.At
	eff := effective(obs.Run.Settings.MaxConcurrency)
	k, ok := kneeOf(st, at)
	if !ok || !k.past || k.cur.limit != eff {
		return 0, "", false
	}
	if st.Phase == PhaseProbe && st.Probes > 0 {
		st.Misses++
	}
	if st.Hi == 0 || eff < st.Hi {
		st.Hi, st.HiAt = eff, at
	}
	if st.Lo >= eff {
		st.Lo = 0
	}
	st.Lo, st.LoAt = max(st.Lo, k.back), at
	why := fmt.Sprintf("live counts: at %d a child holds its place %.0f s against %.0f s at %d, and %.1f children finish a second against %.1f: past the knee",
		k.cur.limit, k.cur.hold(), k.ref.hold(), k.ref.limit, k.cur.rate, k.ref.rate)
	limit, _, msg := applyCut(cfg, st, at, eff, st.Lo, ReasonKnee, why)
	return limit, msg, true
}

// kneeConfirm takes the live counts as evidence that the limit in effect
// is clean when children hold their place no longer than at a lower
// limit: the step bought throughput, and the next one need not wait for
// the metrics. It does so only while a known bound is approached: slow
// start, with no bound known, waits for its metrics, and so do probes past
// an expired bound: a downstream with a burst
// allowance looks clean in the counts until the burst is spent. It
// reports whether it confirmed.
func kneeConfirm(st *State, obs Observation, newFailures int64) bool {
	eff := effective(obs.Run.Settings.MaxConcurrency)
	if newFailures > 0 || eff <= st.Lo || st.Hi == 0 && (st.Phase != PhaseSlowStart || obs.Live.Sampled > 0) {
		return false
	}
	k, ok := kneeOf(st, obs.At)
	if !ok || !k.clean || k.cur.limit != eff {
		return false
	}
	if st.Hi == 0 {
		w := max(kneeWindow, k.cur.from.Sub(st.History[len(st.History)-1].From))
		if k.cur.to.Sub(k.cur.from) < 2*w {
			return false
		}
		rate, running, ok := countsOver(st.Ticks, obs.At.Add(-w), obs.At)
		if !ok || running > rate*k.ref.hold()*(1+kneeClean) {
			return false
		}
	}
	st.Lo, st.LoAt = eff, obs.At
	return true
}
