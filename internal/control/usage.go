package control

// This file turns what a provisioned downstream says of its own capacity
// (Observation.Usage: a DynamoDB table's consumed and provisioned units)
// into an estimate of the run's capacity in children, which slow start
// climbs to without waiting for each step's throttle datapoints and which
// no raise of a run alone on the table goes past.

import (
	"fmt"
	"math"
	"slices"
	"time"
)

const (
	// usageMargin is how far below the low end of a usage estimate slow
	// start climbs without confirmation: the rest is approached in steps
	// of approachStep, each confirmed clean.
	usageMargin = 0.05
	// usageMinutes is how many of the newest usable minutes an estimate
	// pools.
	usageMinutes = 3
	// usageTicks is how many observations a minute needs for the children
	// running in it to be known: one, at a steady limit, for a run looked
	// at once a minute.
	usageTicks = 1
	// usageSpread is how many standard deviations of the count of units
	// consumed the low end of an estimate lies below it.
	usageSpread = 2
	// usageMemory is how long an estimate stands once made.
	usageMemory = 10 * time.Minute
	// provisionedStale is how old the newest provisioned datapoint may be
	// for an estimate: DynamoDB publishes it every five minutes, a few
	// minutes late.
	provisionedStale = 12 * time.Minute
)

// UsageEstimate is the run's capacity, in children, as the consumed and
// provisioned units of its table tell it (Observation.Usage).
type UsageEstimate struct {
	// Table names the table, for messages.
	Table string `json:"table"`
	// Capacity is the estimate: the children that would consume the
	// units provisioned now at the units a child consumed in the minutes
	// pooled.
	Capacity float64 `json:"capacity"`
	// Low is Capacity less usageSpread standard deviations of the count
	// of units consumed, taken as one a request (a write of up to 1 KB):
	// the capacity is above it but by chance.
	Low float64 `json:"low"`
	// Running is the children the run ran in the minutes pooled, on
	// average, and Used the share of the units provisioned now that every
	// caller consumed in them, on average (1 is all of them).
	Running float64 `json:"running"`
	Used    float64 `json:"used"`
	// At is the observation the estimate was made at.
	At time.Time `json:"at"`
}

// target is the limit slow start climbs to on the estimate alone.
func (u UsageEstimate) target() float64 { return (1 - usageMargin) * u.Low }

// noteUsage keeps in the state the estimate the observation's usage
// gives, if any: minutes that give one are few while the limit moves.
func (st *State) noteUsage(cfg Config, obs Observation) {
	if u, ok := usageOf(cfg, *st, obs); ok {
		st.Usage = &u
	}
}

// usageKnown is the estimate kept in st, if made within usageMemory of at.
func usageKnown(st State, at time.Time) (UsageEstimate, bool) {
	if st.Usage == nil || at.Sub(st.Usage.At) > usageMemory {
		return UsageEstimate{}, false
	}
	return *st.Usage, true
}

// usageOf is the estimate of the run's capacity from Observation.Usage:
// of the tables that give one, the lowest capacity and the lowest low end
// (each table limits the run). ok is false when none gives one.
func usageOf(cfg Config, st State, obs Observation) (UsageEstimate, bool) {
	var out UsageEstimate
	found := false
	for _, u := range obs.Usage {
		e, ok := estimateUsage(cfg, st, obs, u)
		switch {
		case !ok:
		case !found:
			out, found = e, true
		default:
			low := min(out.Low, e.Low)
			if e.Capacity < out.Capacity {
				out = e
			}
			out.Low = low
		}
	}
	return out, found
}

// estimateUsage pools the newest usageMinutes minutes of u that are
// settled, steady (the limit unchanged from one item time before the
// minute to its end, so that the children's units are those of a steady
// state whenever in its item a child consumes them), observed usageTicks
// times or more while the children ran, and judged unthrottled by a
// throttle datapoint (a throttled minute's children wait to retry and
// consume less each). The units a child consumed in those minutes, against
// the lowest units provisioned since the oldest of them, give the
// capacity. Every caller's units count, so that another writer makes it
// lower, on the safe side. ok is false with no usable minute, nothing
// consumed, or no provisioned datapoint within provisionedStale.
func estimateUsage(cfg Config, st State, obs Observation, u Usage) (UsageEstimate, bool) {
	provisioned := slices.Clone(u.Provisioned)
	slices.SortFunc(provisioned, func(a, b Datapoint) int { return a.Minute.Compare(b.Minute) })
	if n := len(provisioned); n == 0 || obs.At.Sub(provisioned[n-1].Minute) > provisionedStale {
		return UsageEstimate{}, false
	}
	consumed := slices.Clone(u.Consumed)
	slices.SortFunc(consumed, func(a, b Datapoint) int { return b.Minute.Compare(a.Minute) })
	var running, units float64
	var oldest time.Time
	n := 0
	for _, c := range consumed {
		if n == usageMinutes {
			break
		}
		end := c.Minute.Add(minute)
		if end.Add(settled).After(obs.At) || !finite(c.Value) || c.Value < 0 || !cleanIn(cfg, obs.Throttles, c.Minute) {
			continue
		}
		hold, known := holdFor(st, c.Minute)
		if !known {
			continue
		}
		if _, steady := steadyDuring(st.History, c.Minute.Add(-hold), end); !steady {
			continue
		}
		kids, ok := runningIn(st.Ticks, c.Minute, end)
		if !ok {
			continue
		}
		running += kids
		units += c.Value
		oldest = c.Minute
		n++
	}
	p := provisionedSince(provisioned, oldest)
	if n == 0 || units <= 0 || !finite(p) || p <= 0 {
		return UsageEstimate{}, false
	}
	perChild := units / running // units a child consumes in a minute
	capacity := p * minute.Seconds() / perChild
	return UsageEstimate{
		Table:    u.Name,
		Capacity: capacity,
		Low:      capacity * max(0, 1-usageSpread/math.Sqrt(units)),
		Running:  running / float64(n),
		Used:     units / float64(n) / (p * minute.Seconds()),
		At:       obs.At,
	}, true
}

// holdFor is how long a child held its place around the minute from m:
// the longer of State.ItemTime and what the looks of the two minutes
// before it and the minute itself tell by Little's law (running over
// throughput; a raise in them makes it longer). known is false when
// neither is measured.
func holdFor(st State, m time.Time) (time.Duration, bool) {
	hold := st.ItemTime
	if rate, running, ok := countsOver(st.Ticks, m.Add(-2*minute), m.Add(minute)); ok {
		hold = max(hold, running/rate)
	}
	return time.Duration(hold * float64(time.Second)), hold > 0
}

// finite reports whether v is a number, not NaN or an infinity.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// cleanIn reports whether the throttle datapoints judge the minute from m
// free of throttling: one of them is that minute's, at or below the
// threshold. A minute whose datapoint is not published yet is not judged.
func cleanIn(cfg Config, points []Datapoint, m time.Time) bool {
	for _, p := range points {
		if p.Minute.Equal(m) {
			return p.Value <= cfg.ThrottleThreshold
		}
	}
	return false
}

// runningIn is the mean of the children running at the ticks in (from,
// to], and false with fewer than usageTicks of them or none running. A
// tick counts the children as they were before the decision made at its
// instant: the one at from tells of the minute before, the one at to of
// the minute's end.
func runningIn(ticks []Tick, from, to time.Time) (float64, bool) {
	var sum float64
	n := 0
	for _, t := range ticks {
		if t.At.After(from) && !t.At.After(to) {
			sum += float64(t.Running)
			n++
		}
	}
	if n < usageTicks || sum == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// provisionedSince is the lowest units a second provisioned from the
// minute from on: the datapoint in force then (the newest at or before
// it, or the oldest when none is) and every later one. points are oldest
// first and not empty.
func provisionedSince(points []Datapoint, from time.Time) float64 {
	i, _ := slices.BinarySearchFunc(points, from, func(p Datapoint, t time.Time) int { return p.Minute.Compare(t) })
	if i < len(points) && points[i].Minute.Equal(from) || i == 0 {
		i++
	}
	low := math.Inf(1)
	for _, p := range points[i-1:] {
		low = min(low, p.Value)
	}
	return low
}

// usageRaise reports whether slow start steps on usage estimate u alone:
// while the limit cur is below the estimate's target, up to it (MaxStepUp
// bounds the step), a minute after the last change at the soonest, with
// no confirmation of the limit reached, since the downstream's own count
// says it has room.
func usageRaise(st State, obs Observation, u UsageEstimate, cur int32) bool {
	return float64(cur) < u.target() && len(st.History) > 0 && obs.At.Sub(st.History[len(st.History)-1].From) >= minute
}

// capUsage bounds a raise from cur to limit, whatever decided it, by the
// usage estimate of a run alone on its table: a run sharing it with other
// open runs is not capped, since its estimate is what their consumption
// leaves it now, and the sharing, not the first run's head start, divides
// the table. A raise the cap takes back holds (ok true), and the estimate
// then stands as the bound of the bracket, probed again after
// RecoveryTime within the estimate as it stands then (a table given more
// capacity gives more).
func capUsage(cfg Config, st *State, obs Observation, cur, limit int32) (int32, string, bool) {
	if effective(limit) <= effective(cur) || obs.Shared.runs() >= 2 {
		return limit, "", false
	}
	u, ok := usageKnown(*st, obs.At)
	if !ok || float64(effective(limit)) <= u.Capacity {
		return limit, "", false
	}
	if to := int32(math.Floor(u.Capacity)); to > effective(cur) {
		return to, "", false
	}
	if st.Hi == 0 {
		st.Phase, st.Hi, st.HiAt = PhaseBracket, cur+bandOf(cfg, cur), obs.At
	}
	return cur, fmt.Sprintf("%s: holding %d.", u, cur), true
}

// String says what the estimate rests on.
func (u UsageEstimate) String() string {
	return fmt.Sprintf("%s used %.0f%% of its provisioned capacity with %.0f children running (as of %s): capacity near %.0f children, above %.0f", u.Table, 100*u.Used, u.Running, u.At.UTC().Format(time.TimeOnly), u.Capacity, u.Low)
}
