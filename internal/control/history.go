package control

// This file reads the history a run's state keeps: the limits in effect
// over time and the observations of its children.

import (
	"time"
)

// effective turns a maxConcurrency into a number of children: 0 is unlimited.
func effective(limit int32) int32 {
	if limit <= 0 || limit > unlimited {
		return unlimited
	}
	return limit
}

// span is the end of setting i of h: the next one's start, or zero.
func span(h []Setting, i int) time.Time {
	if i+1 < len(h) {
		return h[i+1].From
	}
	return time.Time{}
}

// limitDuring is the highest limit in effect at any time in [from, to).
// Before the first recorded setting, the first one is assumed.
func limitDuring(h []Setting, from, to time.Time) int32 {
	var best int32
	for i, s := range h {
		end := span(h, i)
		if s.From.Before(to) && (end.IsZero() || end.After(from)) || i == 0 && !s.From.Before(to) {
			best = max(best, effective(s.MaxConcurrency))
		}
	}
	return best
}

// raisedBy is how many children the raises in (from, to) added; zero when
// the limit did not go up.
func raisedBy(h []Setting, from, to time.Time) int32 {
	var n int32
	for i := 1; i < len(h); i++ {
		if h[i].From.After(from) && h[i].From.Before(to) {
			n += max(0, effective(h[i].MaxConcurrency)-effective(h[i-1].MaxConcurrency))
		}
	}
	return n
}

// steadyDuring reports whether one limit covered all of [from, to), and which.
func steadyDuring(h []Setting, from, to time.Time) (int32, bool) {
	for i, s := range h {
		end := span(h, i)
		if !s.From.After(from) && (end.IsZero() || !end.Before(to)) {
			return effective(s.MaxConcurrency), true
		}
	}
	return 0, false
}

// used reports whether the children filled limit around the minute from
// m: an observation in the two minutes after m saw them run it.
func used(ticks []Tick, m time.Time, limit int32) bool {
	for _, t := range ticks {
		if t.At.After(m) && !t.At.After(m.Add(2*minute)) && float64(t.Running) >= utilized*float64(limit) {
			return true
		}
	}
	return false
}

// minuteRate returns the throughput, in items per second, and the mean
// number running, of the interval between two observations that best covers
// the minute from m; ok is false when the observations do not cover it.
func minuteRate(ticks []Tick, m time.Time) (rate, running float64, ok bool) {
	mid := m.Add(minute / 2)
	for i := 1; i < len(ticks); i++ {
		a, b := ticks[i-1], ticks[i]
		if a.At.After(mid) || !b.At.After(mid) {
			continue
		}
		span := b.At.Sub(a.At)
		if span < minute/2 || span > 2*minute || b.Done < a.Done {
			return 0, 0, false
		}
		return float64(b.Done-a.Done) / span.Seconds(), float64(a.Running+b.Running) / 2, true
	}
	return 0, 0, false
}
