package sim

// This file holds the event queue, and the hashing that names executions.

import "time"

type eventKind uint8

const (
	evMapStart eventKind = iota
	evStarter
	evCallEnd
	evCall
	evMinute
)

func (w *World) push(at time.Duration, kind eventKind, run int, child int32) {
	w.seq++
	w.queue.push(event{at: at, seq: w.seq, kind: kind, run: int32(run), child: child})
}

func (w *World) handle(ev event) {
	if ev.kind == evMinute {
		w.minute(ev.at)
		return
	}
	r := w.runs[ev.run]
	switch ev.kind {
	case evMapStart:
		w.startMapRun(r)
	case evStarter:
		r.starterQueued = false
		w.runStarter(r)
	case evCallEnd:
		w.callEnd(r, ev.child)
	case evCall:
		w.attempt(r, ev.child)
	}
}

// hash mixes the world's seed with the given values into 64 random-looking
// bits (splitmix64 rounds), for identities and per-datapoint draws.
func (w *World) hash(vals ...uint64) uint64 { return hashSeed(w.seed, vals...) }

func hashSeed(seed uint64, vals ...uint64) uint64 {
	h := mix64(seed ^ 0x6a09e667f3bcc909)
	for _, v := range vals {
		h = mix64(h ^ mix64(v+0x9e3779b97f4a7c15))
	}
	return h
}

func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uuid formats 128 bits as a UUID: a's hex digits as 8-4-4, then b's as
// 4-12 (the hot path of listing children, so no fmt).
func uuid(a, b uint64) string {
	const hexDigits = "0123456789abcdef"
	var buf [36]byte
	put := func(v uint64, digits, at int) {
		for i := at + digits - 1; i >= at; i-- {
			buf[i] = hexDigits[v&0xf]
			v >>= 4
		}
	}
	put(a>>32, 8, 0)
	put(a>>16, 4, 9)
	put(a, 4, 14)
	put(b>>48, 4, 19)
	put(b, 12, 24)
	buf[8], buf[13], buf[18], buf[23] = '-', '-', '-', '-'
	return string(buf[:])
}

// childName is the execution name of child ci of r: a UUID whose last 32
// bits carry the index, masked, so that an ARN can be looked up.
func (w *World) childName(r *run, ci int32) string {
	h := w.hash(uint64(r.idx), 8, uint64(ci))
	low := uint64(uint32(ci) ^ r.childMask)
	return uuid(w.hash(uint64(r.idx), 9, uint64(ci)), h&^0xffffffff|low)
}

func (w *World) childARN(r *run, ci int32) string {
	return w.childARNNamed(r, ci, w.childName(r, ci))
}

// childARNNamed is childARN given the child's name.
func (w *World) childARNNamed(r *run, ci int32, name string) string {
	if r.spec.ExecutionType == ExecutionExpress {
		return arnPrefix + "express:" + r.spec.StateMachine + "/" + r.spec.Label + ":" + name + ":" + uuid(w.hash(uint64(r.idx), 10, uint64(ci)), w.hash(uint64(r.idx), 11, uint64(ci)))
	}
	return arnPrefix + "execution:" + r.spec.StateMachine + "/" + r.spec.Label + ":" + name
}

// event is one scheduled happening; seq breaks ties in the order queued.
type event struct {
	at    time.Duration
	seq   uint64
	run   int32
	child int32
	kind  eventKind
}

// eventQueue is a binary min-heap of events by (at, seq).
type eventQueue []event

func (q eventQueue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}

func (q *eventQueue) push(e event) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *eventQueue) pop() event {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, rgt, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if rgt < len(h) && h.less(rgt, m) {
			m = rgt
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
