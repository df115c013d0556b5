package sim

// This file holds the life of a Map Run and its children: starts, calls,
// retries, ends, the failure rule, minutes closed and updates applied.

import (
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

func (w *World) startMapRun(r *run) {
	r.mapStarted = true
	r.status = types.MapRunStatusRunning
	r.mapStart = w.now
	r.lastTouch = w.now
	r.maxConc = r.spec.MaxConcurrency
	if w.defMax != nil {
		r.maxConc = *w.defMax
	}
	if v := r.spec.ToleratedFailurePercentage; v != nil {
		r.pct, r.pctSet = float64(float32(*v)), true
	}
	if v := r.spec.ToleratedFailureCount; v != nil {
		r.count, r.countSet = *v, true
	}
	r.limits = append(r.limits, LimitChange{At: w.now, MaxConcurrency: r.maxConc})
	w.wake(r)
}

// limit is the number of children the run may have running.
func (r *run) limit() int {
	if r.maxConc == 0 || r.maxConc > MaxConcurrencyLimit {
		return MaxConcurrencyLimit
	}
	return int(r.maxConc)
}

func (w *World) wake(r *run) {
	if r.starterQueued || r.status != types.MapRunStatusRunning || r.nextItem >= r.items {
		return
	}
	r.starterQueued = true
	w.push(max(w.now, r.nextStartAt), evStarter, r.idx, 0)
}

// runStarter starts the next child if the limit and the start rate allow,
// and queues itself for the next one.
func (w *World) runStarter(r *run) {
	if r.status != types.MapRunStatusRunning || r.nextItem >= r.items {
		return
	}
	if r.running >= r.limit() {
		r.rateBound = false
		return
	}
	if w.now < r.nextStartAt {
		r.rateBound = true
		w.wake(r)
		return
	}
	delayed := r.rateBound
	w.startChild(r, delayed)
	r.nextStartAt = w.now + r.startInterval
	r.rateBound = r.nextItem < r.items && r.running < r.limit()
	w.wake(r)
}

func (w *World) startChild(r *run, delayed bool) {
	n := min(r.batch, r.items-r.nextItem)
	ci := int32(len(r.children))
	r.children = append(r.children, child{first: r.nextItem, n: int32(n), start: w.now})
	r.nextItem += n
	r.touch(w.now)
	r.running++
	r.runningItems += n
	r.live = append(r.live, ci)
	r.cur.started++
	r.mStarted.add(w.now, 1)
	throttled := 0.0
	if delayed {
		throttled = 1
	}
	r.mThrottled.add(w.now, throttled)
	w.push(w.now+r.spec.StartLatency, evCall, r.idx, ci)
}

// attempt makes one call of a child to the downstream.
func (w *World) attempt(r *run, ci int32) {
	c := &r.children[ci]
	if c.status != childRunning {
		return
	}
	r.recordCall(c, w.now)
	ok, stretch := r.ds.admit(w.now)
	r.ds.sampleConcurrency(w.now)
	r.calls++
	r.cur.calls++
	if ok {
		if !r.ds.spec.sparseThrottles() {
			r.ds.throttles.add(w.now, 0)
		}
		if r.ds.consumed != nil {
			// One unit per admitted call; a throttled call consumes none.
			r.ds.consumed.add(w.now, 1)
		}
		var d time.Duration
		for _, v := range r.durations[c.first : c.first+int64(c.n)] {
			d += v
		}
		w.push(w.now+time.Duration(float64(d)*stretch), evCallEnd, r.idx, ci)
		return
	}
	r.ds.throttles.add(w.now, 1)
	r.throttled++
	r.cur.throttles++
	if int(c.attempts) < r.maxAttempts {
		delay := r.retryDelay(int(c.attempts))
		c.attempts++
		w.push(w.now+delay, evCall, r.idx, ci)
		return
	}
	w.endChild(r, ci, childFailed, causeThrottle)
}

// retryDelay is the wait before retry number n+1: interval * backoff^n,
// capped by maxDelay, with full jitter drawn in [0, delay).
func (r *run) retryDelay(n int) time.Duration {
	d := float64(r.interval) * math.Pow(r.backoff, float64(n))
	if r.maxDelay > 0 {
		d = math.Min(d, float64(r.maxDelay))
	}
	d = math.Min(d, float64(MaxHorizon))
	if r.fullJitter {
		d *= r.rng.Float64()
	}
	return time.Duration(d)
}

func (w *World) callEnd(r *run, ci int32) {
	r.ds.inflight--
	r.ds.sampleConcurrency(w.now)
	c := &r.children[ci]
	if c.status != childRunning {
		return
	}
	if r.poisoned(c) {
		w.endChild(r, ci, childFailed, causePoison)
		return
	}
	w.endChild(r, ci, childSucceeded, causeNone)
}

// poisoned reports whether any item of the child fails for a reason other
// than throttling.
func (r *run) poisoned(c *child) bool {
	f := r.spec.Failures
	last := c.first + int64(c.n) - 1
	if f.BrokenAfter != nil && last >= *f.BrokenAfter {
		return true
	}
	if b := f.PoisonBatch; b != nil && c.first < b.From+b.Count && last >= b.From {
		return true
	}
	if r.poison != nil {
		for _, p := range r.poison[c.first : last+1] {
			if p {
				return true
			}
		}
	}
	return false
}

func (w *World) endChild(r *run, ci int32, st childStatus, cause failCause) {
	c := &r.children[ci]
	c.status, c.stop, c.cause = st, w.now, cause
	n := int64(c.n)
	r.touch(w.now)
	r.running--
	r.runningItems -= n
	r.forget()
	ms := float64(c.stop-c.start) / float64(time.Millisecond)
	if st == childSucceeded {
		r.succeeded += n
		r.childSucceeded++
		r.cur.succeeded += n
		r.mSucceeded.add(w.now, 1)
		r.mTime.add(w.now, ms)
	} else {
		r.failed += n
		if cause == causeThrottle {
			r.failedThrottle += n
		} else {
			r.failedPoison += n
		}
		r.childFailed++
		r.cur.failed += n
		r.failedChildren = append(r.failedChildren, ci)
		r.mFailed.add(w.now, 1)
		r.mTime.add(w.now, ms)
		if r.exceeded() {
			w.failMapRun(r)
			return
		}
	}
	if r.nextItem >= r.items && r.running == 0 {
		w.endMapRun(r, types.MapRunStatusSucceeded)
		return
	}
	w.wake(r)
}

// exceeded applies the Map Run failure rule: the failed (and timed-out)
// items exceed the tolerated percentage of all items, or the tolerated
// count, whichever of the two is set; with neither set, one failure is
// too many.
func (r *run) exceeded() bool {
	f := r.failed
	if f == 0 {
		return false
	}
	if !r.pctSet && !r.countSet {
		return true
	}
	if r.pctSet && float64(f)*100/float64(r.items) > r.pct {
		return true
	}
	return r.countSet && f > r.count
}

func (w *World) failMapRun(r *run) {
	r.errName, r.cause = ToleranceError, ToleranceCause
	r.touch(w.now)
	for i := range r.children {
		c := &r.children[i]
		if c.status != childRunning {
			continue
		}
		c.status, c.stop = childAborted, w.now
		r.aborted += int64(c.n)
		r.childAborted++
		r.mAborted.add(w.now, 1)
	}
	r.running, r.runningItems = 0, 0
	r.live, r.dead = nil, 0
	w.endMapRun(r, types.MapRunStatusFailed)
}

func (w *World) endMapRun(r *run, st types.MapRunStatus) {
	r.status = st
	r.mapStop = w.now
	r.parentStop = w.now
	if st == types.MapRunStatusSucceeded {
		r.parentStatus = types.ExecutionStatusSucceeded
	} else {
		r.parentStatus = types.ExecutionStatusFailed
	}
}

func (r *run) touch(t time.Duration) {
	if t > r.lastTouch {
		r.area += float64(r.running) * float64(t-r.lastTouch)
		r.lastTouch = t
	}
}

// minute closes the minute ending at boundary b for every run active in
// it, and for every provisioned table.
func (w *World) minute(b time.Duration) {
	for _, d := range w.downstreams {
		d.closeCapacity(b)
	}
	open := false
	for _, r := range w.runs {
		if r.parentStatus == types.ExecutionStatusRunning {
			open = true
		}
		if !r.mapStarted || r.mapStart >= b {
			continue
		}
		ended := r.status != types.MapRunStatusRunning
		if ended && r.mapStop <= b-time.Minute {
			continue
		}
		r.touch(b)
		r.points = append(r.points, Point{
			Minute:    int(b/time.Minute) - 1,
			Limit:     r.maxConc,
			Running:   r.area / float64(time.Minute),
			Started:   r.cur.started,
			Succeeded: r.cur.succeeded,
			Failed:    r.cur.failed,
			Calls:     r.cur.calls,
			Throttles: r.cur.throttles,
			Capacity:  w.capacityFor(r, b),
		})
		r.cur, r.area = minuteAcc{}, 0
	}
	if open {
		w.push(b+time.Minute, evMinute, 0, 0)
	}
}

// update applies an accepted UpdateMapRun.
func (w *World) update(r *run, maxConc *int32, pct *float32, count *int64) {
	r.updates++
	if maxConc != nil && *maxConc != r.maxConc {
		r.maxConc = *maxConc
		r.limits = append(r.limits, LimitChange{At: w.now, MaxConcurrency: r.maxConc})
	}
	if pct != nil {
		r.pct, r.pctSet = float64(*pct), true
	}
	if count != nil {
		r.count, r.countSet = *count, true
	}
	if r.exceeded() {
		w.failMapRun(r)
		return
	}
	w.wake(r)
}
