package control

// This file turns what a provisioned downstream says of its own capacity
// (Observation.Usage: a DynamoDB table's consumed and provisioned units)
// into an estimate of the run's capacity in children, which slow start
// climbs to without waiting for each step's throttle datapoints.

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
	usageMinutes = 5
	// usageTicks is how many observations a minute needs for the children
	// running in it to be known.
	usageTicks = 2
	// usageSpread is how many standard deviations of the count of units
	// consumed the low end of an estimate lies below it.
	usageSpread = 2
)

// usageEstimate is the run's capacity, in children, as the consumed and
// provisioned units of its downstream tell it.
type usageEstimate struct {
	// name is the table's, for messages.
	name string
	// capacity is the estimate: the children that would consume the
	// provisioned units, at the units per child of the minutes pooled.
	capacity float64
	// low is capacity less usageSpread standard deviations of the count
	// of units consumed, taken as one a request (a write of up to 1 KB):
	// the capacity is above it but by chance.
	low float64
	// running is the children running in the minutes pooled, on average,
	// and used the share of the provisioned units they consumed.
	running, used float64
}

// target is the limit slow start climbs to on the estimate alone.
func (u usageEstimate) target() float64 { return (1 - usageMargin) * u.low }

// usageOf is the estimate of the run's capacity from Observation.Usage:
// the lowest of the tables' (each limits the run). ok is false when no
// table gives one.
func usageOf(cfg Config, st State, obs Observation) (usageEstimate, bool) {
	var best usageEstimate
	found := false
	for _, u := range obs.Usage {
		if e, ok := estimateUsage(cfg, st, obs, u); ok && (!found || e.low < best.low) {
			best, found = e, true
		}
	}
	return best, found
}

// estimateUsage pools the newest usageMinutes minutes of u that are
// settled, were observed usageTicks times or more while the run's children
// ran, had a provisioned capacity published at or before their end (or,
// with none yet, the first after), and were not throttled: a throttled
// minute's children wait to retry and consume less each. The units per
// child of those minutes, against the provisioned units, give the
// capacity. Every caller's units count, so that another writer makes it
// lower, on the safe side. ok is false when no minute is usable or
// nothing was consumed.
func estimateUsage(cfg Config, st State, obs Observation, u Usage) (usageEstimate, bool) {
	provisioned := slices.Clone(u.Provisioned)
	slices.SortFunc(provisioned, func(a, b Datapoint) int { return a.Minute.Compare(b.Minute) })
	consumed := slices.Clone(u.Consumed)
	slices.SortFunc(consumed, func(a, b Datapoint) int { return b.Minute.Compare(a.Minute) })
	var running, used, units float64
	n := 0
	for _, c := range consumed {
		if n == usageMinutes {
			break
		}
		end := c.Minute.Add(minute)
		if end.Add(settled).After(obs.At) || c.Value < 0 || throttledIn(cfg, obs.Throttles, c.Minute) {
			continue
		}
		kids, ok := runningIn(st.Ticks, c.Minute, end)
		p := provisionedAt(provisioned, end)
		if !ok || p <= 0 {
			continue
		}
		running += kids
		used += c.Value / (p * minute.Seconds())
		units += c.Value
		n++
	}
	if n == 0 || used <= 0 || running <= 0 {
		return usageEstimate{}, false
	}
	capacity := running / used
	return usageEstimate{
		name:     u.Name,
		capacity: capacity,
		low:      capacity * max(0, 1-usageSpread/math.Sqrt(units)),
		running:  running / float64(n),
		used:     used / float64(n),
	}, true
}

// throttledIn reports whether the throttle datapoints count more than the
// threshold in the minute from m.
func throttledIn(cfg Config, points []Datapoint, m time.Time) bool {
	for _, p := range points {
		if p.Minute.Equal(m) && p.Value > cfg.ThrottleThreshold {
			return true
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

// provisionedAt is the provisioned units per second published newest at
// or before end in points (oldest first), or the oldest after it when none
// was; zero when points is empty.
func provisionedAt(points []Datapoint, end time.Time) float64 {
	if len(points) == 0 {
		return 0
	}
	i, _ := slices.BinarySearchFunc(points, end, func(p Datapoint, t time.Time) int { return p.Minute.Compare(t) })
	if i > 0 {
		return points[i-1].Value
	}
	return points[0].Value
}

// usageRaise reports whether slow start steps on usage estimate u alone:
// while the limit cur is below the estimate's target, up to it (MaxStepUp
// bounds the step), a minute after the last change at the soonest, with
// no confirmation of the limit reached, since the downstream's own count
// says it has room.
func usageRaise(st State, obs Observation, u usageEstimate, cur int32) bool {
	return float64(cur) < u.target() && len(st.History) > 0 && obs.At.Sub(st.History[len(st.History)-1].From) >= minute
}

// String says what the estimate rests on.
func (u usageEstimate) String() string {
	return fmt.Sprintf("%s used %.0f%% of its provisioned capacity with %.0f children running: capacity near %.0f children, above %.0f", u.name, 100*u.used, u.running, u.capacity, u.low)
}
