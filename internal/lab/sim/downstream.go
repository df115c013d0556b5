package sim

// This file holds the downstreams' capacity and admission of calls.

import (
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// downstream is a service the children call, as it stands in the world:
// calls in flight, its rate bucket, and the runs that call it.
type downstream struct {
	spec       Downstream
	inflight   int
	tokens     float64
	lastRefill time.Duration
	throttles  *series
	// concurrent is the function's AWS/Lambda ConcurrentExecutions: the
	// calls in flight of every tenant, the neighbour's included.
	concurrent *series
	// consumed and provisioned are the consumed and provisioned capacity
	// of a provisioned DynamoDB table or index (Downstream.capacityMetrics);
	// nil for any other downstream.
	consumed, provisioned *series
	// neighbourUnits is the fraction of a unit the neighbour consumed in
	// the minutes closed so far and not yet published in consumed.
	neighbourUnits float64
	runs           []*run
}

// provisionedEvery is how often DynamoDB publishes a table's provisioned
// capacity, in minutes.
const provisionedEvery = 5

// closeCapacity records, for a provisioned table, what DynamoDB publishes
// about the minute [b-1m, b) as the world's minute event at b closes it:
// the units the neighbour consumed in it, as requests of one unit each
// (the fraction of a unit left waits for the next minute), and in every
// fifth minute from the world's start the provisioned units per second,
// Rate times the schedule at the minute's start (the neighbour is another
// tenant's consumption, not a change of provisioning). Nothing for any
// other downstream.
func (d *downstream) closeCapacity(b time.Duration) {
	if d.consumed == nil {
		return
	}
	from := b - time.Minute
	if d.spec.Neighbour != nil {
		d.neighbourUnits += d.neighbourConsumed(from, b)
		if n := math.Floor(d.neighbourUnits); n >= 1 {
			d.consumed.addSamples(from, 1, int64(n))
			d.neighbourUnits -= n
		}
	}
	if int(from/time.Minute)%provisionedEvery == 0 {
		d.provisioned.add(from, d.spec.Rate*d.scheduled(from))
	}
}

// neighbourConsumed is how many units the neighbour consumes in [from,
// to): the rate its share takes, Rate * (scheduled - factor) units per
// second, integrated over one-second steps by the midpoint rule.
func (d *downstream) neighbourConsumed(from, to time.Duration) float64 {
	var units float64
	for t := from; t < to; t += time.Second {
		step := min(time.Second, to-t)
		mid := t + step/2
		units += d.spec.Rate * (d.scheduled(mid) - d.factor(mid)) * step.Seconds()
	}
	return units
}

// Capacity is the true capacity of the downstream a Map Run calls, now, in
// concurrent children, shared equally among the running Map Runs that call
// it: a concurrency limit or knee as it stands, a rate through Little's law
// (rate times the run's mean call duration). A downstream with no limit
// gives MaxConcurrencyLimit. It reads the world directly, as an oracle does.
func (w *World) Capacity(mapRunARN string) (float64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.byMapRun[mapRunARN]
	if r == nil || !r.mapStarted {
		return 0, fmt.Errorf("capacity of %q: %w", mapRunARN, ErrUnknownMapRun)
	}
	return w.capacityFor(r, w.now), nil
}

func (w *World) capacityFor(r *run, t time.Duration) float64 {
	d := r.ds
	f := d.factor(t)
	c := math.Inf(1)
	if d.spec.Concurrency > 0 {
		c = math.Floor(d.spec.Concurrency * f)
	}
	if d.spec.Rate > 0 {
		c = math.Min(c, d.spec.Rate*f*r.meanCall.Seconds())
	}
	if d.spec.Latency != nil {
		c = math.Min(c, d.spec.Latency.Knee*f)
	}
	if math.IsInf(c, 1) {
		c = MaxConcurrencyLimit
	}
	n := 0
	for _, o := range d.runs {
		if o.status == types.MapRunStatusRunning {
			n++
		}
	}
	if n > 1 {
		c /= float64(n)
	}
	return c
}

// factor is the capacity multiplier at t: the schedule times the share the
// neighbour leaves.
func (d *downstream) factor(t time.Duration) float64 {
	f := d.scheduled(t)
	if n := d.spec.Neighbour; n != nil {
		phase := 2 * math.Pi * float64(t+n.Phase) / float64(n.Period)
		f *= 1 - n.Share*(1-math.Cos(phase))/2
	}
	return f
}

// neighbourInFlight is how many calls the neighbour has in flight at t: the
// part of the scheduled concurrency limit that its share takes, less what
// the calls already in flight leave it (the function admits no more than
// its reserved concurrency, a neighbour's calls included). Zero with no
// neighbour or no concurrency limit.
func (d *downstream) neighbourInFlight(t time.Duration) float64 {
	if d.spec.Neighbour == nil || d.spec.Concurrency <= 0 {
		return 0
	}
	reserved := math.Floor(d.spec.Concurrency * d.scheduled(t))
	share := reserved - math.Floor(d.spec.Concurrency*d.factor(t))
	return max(0, min(share, reserved-float64(d.inflight)))
}

// sampleConcurrency records the calls in flight at t, every tenant's, in
// the ConcurrentExecutions series; its Maximum over a minute is the most
// that were in flight at once, since every admission is sampled.
func (d *downstream) sampleConcurrency(t time.Duration) {
	d.concurrent.add(t, float64(d.inflight)+d.neighbourInFlight(t))
}

// scheduled is the schedule's capacity multiplier at t.
func (d *downstream) scheduled(t time.Duration) float64 {
	f := 1.0
	for _, c := range d.spec.Schedule {
		if t < c.At {
			break
		}
		if c.Ramp > 0 && t < c.At+c.Ramp {
			f += (c.Factor - f) * float64(t-c.At) / float64(c.Ramp)
			break
		}
		f = c.Factor
	}
	return f
}

// admit decides whether a call arriving at t is served, and if so the
// factor its latency is stretched by.
func (d *downstream) admit(t time.Duration) (bool, float64) {
	f := d.factor(t)
	if d.spec.Concurrency > 0 && float64(d.inflight) >= math.Floor(d.spec.Concurrency*f) {
		return false, 0
	}
	if d.spec.Rate > 0 {
		d.tokens = math.Min(d.spec.Burst, d.tokens+d.spec.Rate*f*(t-d.lastRefill).Seconds())
		d.lastRefill = t
		if d.tokens < 1 {
			d.tokens = math.Max(-d.spec.Burst, d.tokens-d.spec.RejectCost)
			return false, 0
		}
		d.tokens--
	}
	d.inflight++
	stretch := 1.0
	if l := d.spec.Latency; l != nil {
		knee := math.Max(l.Knee*f, 1e-3)
		if load := float64(d.inflight); load > knee {
			stretch = math.Min(math.Pow(load/knee, l.Exponent), 1000)
		}
	}
	return true, stretch
}
