package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// The simulated account.
const (
	// Region is the simulated AWS Region.
	Region = "us-east-1"
	// Account is the simulated AWS account ID.
	Account = "123456789012"

	arnPrefix = "arn:aws:states:" + Region + ":" + Account + ":"
)

// Start rates of child executions, per Map Run.
const (
	// StandardStartRate is how many Standard children a Map Run starts per second at most.
	StandardStartRate = 100
	// ExpressStartRate is how many Express children a Map Run starts per second at most.
	ExpressStartRate = 1000
)

// The errors a failed Map Run and its parent report.
const (
	ToleranceError = "States.ExceedToleratedFailureThreshold"
	ToleranceCause = "The specified tolerated failure threshold was exceeded"
)

// ErrStarted is returned for a change that must come before World.Start.
var ErrStarted = errors.New("world already started")

// ErrUnknownMapRun is returned by World methods given a Map Run ARN the
// world does not have (or has not started yet).
var ErrUnknownMapRun = errors.New("unknown map run")

func stateMachineARN(name string) string { return arnPrefix + "stateMachine:" + name }

func labelledARN(name, label string) string { return stateMachineARN(name) + "/" + label }

// statesMetricNames are the AWS/States metrics published per labelled ARN.
var statesMetricNames = []string{
	"ExecutionThrottled", "ExecutionTime", "ExecutionsAborted",
	"ExecutionsFailed", "ExecutionsStarted", "ExecutionsSucceeded",
}

// World is a simulated AWS account running one scenario: its parent
// executions, their Map Runs, the downstreams they call, CloudWatch and the
// Step Functions API quotas, on a virtual clock that moves only in Advance.
// The same scenario and seed give the same world, event for event. A World
// is safe for concurrent use, but only calls made in a fixed order keep a
// run deterministic.
type World struct {
	mu      sync.Mutex
	sc      Scenario
	seed    uint64
	start   time.Time
	now     time.Duration
	started bool
	defMax  *int32

	queue eventQueue
	seq   uint64

	downstreams []*downstream
	runs        []*run
	parents     []Parent
	byMapRun    map[string]*run
	byExec      map[string]*run
	byMachine   map[string][]*run
	byLabelled  map[string][]*run

	cw     *metricStore
	quota  quotas
	faults apiFaults
}

// Parent is a parent execution the world started.
type Parent struct {
	// Run is the scenario run's name.
	Run string `json:"run"`
	// ExecutionARN is the parent execution's ARN.
	ExecutionARN string `json:"executionArn"`
	// StateMachineARN is the (unlabelled) state machine's ARN, the one
	// that carries the tags.
	StateMachineARN string `json:"stateMachineArn"`
	// Signal is the throttle metric of the downstream the run's children
	// call, as the scenario defines it.
	Signal Metric `json:"signal"`
}

type childStatus uint8

const (
	childRunning childStatus = iota
	childSucceeded
	childFailed
	childAborted
)

type failCause uint8

const (
	causeNone failCause = iota
	causeThrottle
	causePoison
)

// child is one child execution: a batch of n items from first. It is
// also the compact record its history is rendered from (history.go):
// its first call falls at start plus the run's StartLatency (called
// tells whether it was made), every later call is in the run's retries
// list, newest at lastRetry, and attempts against the calls made tells
// whether the last call was throttled. A child takes 40 bytes.
type child struct {
	first     int64
	start     time.Duration
	stop      time.Duration
	n         int32
	attempts  int32
	lastRetry int32
	status    childStatus
	cause     failCause
	called    bool
}

// minuteAcc accumulates one run's figures over the current minute.
type minuteAcc struct {
	started, succeeded, failed, calls, throttles int64
}

type run struct {
	idx       int
	spec      RunSpec
	ds        *downstream
	smARN     string
	labelled  string
	execName  string
	execARN   string
	mapRunARN string
	childMask uint32

	parentStatus types.ExecutionStatus
	parentStart  time.Duration
	parentStop   time.Duration

	mapStarted bool
	status     types.MapRunStatus
	mapStart   time.Duration
	mapStop    time.Duration
	errName    string
	cause      string

	maxConc  int32
	pct      float64
	pctSet   bool
	count    int64
	countSet bool

	durations []time.Duration
	poison    []bool
	meanCall  time.Duration

	items, batch int64
	nextItem     int64
	children     []child
	running      int
	// retries are the calls after the first of every Standard child,
	// each linked to the child's previous one; live indexes, in start
	// order, the children started and not yet seen finished (history.go).
	retries      []retryCall
	live         []int32
	dead         int
	runningItems int64

	succeeded, failed, failedThrottle, failedPoison, aborted int64
	childSucceeded, childFailed, childAborted                int64
	failedChildren                                           []int32

	startInterval time.Duration
	nextStartAt   time.Duration
	starterQueued bool
	rateBound     bool

	rng         *rand.Rand
	maxAttempts int
	interval    time.Duration
	maxDelay    time.Duration
	backoff     float64
	fullJitter  bool

	mStarted, mSucceeded, mFailed, mAborted, mThrottled, mTime *series

	calls, throttled int64
	updates          int64
	limits           []LimitChange
	points           []Point
	cur              minuteAcc
	area             float64
	lastTouch        time.Duration
}

type downstream struct {
	spec       Downstream
	inflight   int
	tokens     float64
	lastRefill time.Duration
	throttles  *series
	runs       []*run
}

// New builds the world of a scenario, at its start time, with nothing
// running yet. The seed fixes every random draw: item durations and poison
// items (drawn per run, so the same for any strategy), retry jitter, and
// metric delays and gaps (drawn per datapoint). New fills the defaults of a
// scenario built in code; like regexp.MustCompile it panics on a scenario
// that Validate rejects, which LoadScenario and ParseScenario never return.
func New(sc Scenario, seed uint64) *World {
	sc, err := sc.normalize("scenario " + sc.Name)
	if err != nil {
		panic(fmt.Sprintf("sim.New: %v", err))
	}
	w := &World{
		sc:         sc,
		seed:       seed,
		start:      sc.Start,
		byMapRun:   map[string]*run{},
		byExec:     map[string]*run{},
		byMachine:  map[string][]*run{},
		byLabelled: map[string][]*run{},
		cw:         newMetricStore(seed, sc.CloudWatch, sc.Faults.MetricGaps),
	}
	w.quota.init()
	w.faults.init(w.sc.Faults)
	byName := map[string]*downstream{}
	for _, spec := range sc.Downstreams {
		m := spec.throttleMetric()
		d := &downstream{spec: spec, tokens: spec.Burst, throttles: w.cw.series(m.Namespace, m.Name, m.Dimensions)}
		w.downstreams = append(w.downstreams, d)
		byName[spec.Name] = d
	}
	for i, spec := range sc.Runs {
		r := w.newRun(i, spec, byName[spec.Downstream])
		w.runs = append(w.runs, r)
		r.ds.runs = append(r.ds.runs, r)
		w.byMapRun[r.mapRunARN] = r
		w.byExec[r.execARN] = r
		w.byMachine[r.smARN] = append(w.byMachine[r.smARN], r)
		w.byLabelled[r.labelled] = append(w.byLabelled[r.labelled], r)
	}
	return w
}

func (w *World) newRun(i int, spec RunSpec, d *downstream) *run {
	r := &run{
		idx:         i,
		spec:        spec,
		ds:          d,
		smARN:       stateMachineARN(spec.StateMachine),
		labelled:    labelledARN(spec.StateMachine, spec.Label),
		execName:    uuid(w.hash(uint64(i), 1), w.hash(uint64(i), 2)),
		childMask:   uint32(w.hash(uint64(i), 3)),
		items:       spec.Items,
		batch:       spec.BatchSize,
		rng:         rand.New(rand.NewPCG(w.seed, w.hash(uint64(i), 4))),
		maxAttempts: *spec.Retry.MaxAttempts,
		interval:    spec.Retry.Interval,
		maxDelay:    spec.Retry.MaxDelay,
		backoff:     spec.Retry.BackoffRate,
		fullJitter:  spec.Retry.Jitter == JitterFull,
	}
	r.execARN = arnPrefix + "execution:" + spec.StateMachine + ":" + r.execName
	r.mapRunARN = arnPrefix + "mapRun:" + spec.StateMachine + "/" + spec.Label + ":" + uuid(w.hash(uint64(i), 5), w.hash(uint64(i), 6))
	if spec.ExecutionType == ExecutionExpress {
		r.startInterval = time.Second / ExpressStartRate
	} else {
		r.startInterval = time.Second / StandardStartRate
	}
	dims := map[string]string{"StateMachineArn": r.labelled}
	r.mStarted = w.cw.series("AWS/States", "ExecutionsStarted", dims)
	r.mSucceeded = w.cw.series("AWS/States", "ExecutionsSucceeded", dims)
	r.mFailed = w.cw.series("AWS/States", "ExecutionsFailed", dims)
	r.mAborted = w.cw.series("AWS/States", "ExecutionsAborted", dims)
	r.mThrottled = w.cw.series("AWS/States", "ExecutionThrottled", dims)
	r.mTime = w.cw.series("AWS/States", "ExecutionTime", dims)
	r.drawItems(rand.New(rand.NewPCG(w.seed, w.hash(uint64(i), 7))))
	return r
}

// drawItems draws every item's duration and random poison, in item order,
// from a stream of its own, so that they do not depend on what runs.
func (r *run) drawItems(rng *rand.Rand) {
	d := r.spec.Duration
	f := r.spec.Failures.PoisonFraction
	r.durations = make([]time.Duration, r.items)
	if f > 0 {
		r.poison = make([]bool, r.items)
	}
	var total float64
	for i := range r.durations {
		var v float64
		switch d.Dist {
		case DistFixed:
			v = float64(d.Value)
		case DistLognormal:
			v = float64(d.Median) * math.Exp(d.Sigma*rng.NormFloat64())
		case DistPareto:
			v = float64(d.Min) / math.Pow(1-rng.Float64(), 1/d.Alpha)
		}
		if d.Max > 0 && v > float64(d.Max) {
			v = float64(d.Max)
		}
		v = math.Min(math.Max(v, float64(time.Millisecond)), float64(MaxHorizon))
		r.durations[i] = time.Duration(v)
		total += v
		if f > 0 {
			r.poison[i] = rng.Float64() < f
		}
	}
	r.meanCall = time.Duration(total / float64(r.items) * float64(r.batch))
}

// Now is the world's virtual time.
func (w *World) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at(w.now)
}

func (w *World) at(d time.Duration) time.Time { return w.start.Add(d) }

// Scenario is the scenario the world runs.
func (w *World) Scenario() Scenario { return w.sc }

// Seed is the seed the world was built with.
func (w *World) Seed() uint64 { return w.seed }

// SetDefinitionMaxConcurrency replaces the maxConcurrency of every run's
// definition (0 means no limit): a static setting as a user writes it in
// the state machine. It returns ErrStarted once Start was called.
func (w *World) SetDefinitionMaxConcurrency(n int32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return fmt.Errorf("set definition max concurrency %d: %w", n, ErrStarted)
	}
	if n < 0 {
		return fmt.Errorf("set definition max concurrency %d: must be >= 0", n)
	}
	w.defMax = &n
	return nil
}

// Start starts the scenario's parent executions now, in scenario order,
// and returns them; each one's Map Run starts after its run's delay. A
// second call starts nothing and returns the same parents.
func (w *World) Start() []Parent {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return append([]Parent(nil), w.parents...)
	}
	w.started = true
	for _, r := range w.runs {
		r.parentStatus = types.ExecutionStatusRunning
		r.parentStart = w.now
		w.push(w.now+r.spec.Delay, evMapStart, r.idx, 0)
		w.parents = append(w.parents, Parent{
			Run:             r.spec.Name,
			ExecutionARN:    r.execARN,
			StateMachineARN: r.smARN,
			Signal:          r.ds.spec.throttleMetric(),
		})
	}
	w.push(w.now.Truncate(time.Minute)+time.Minute, evMinute, 0, 0)
	return append([]Parent(nil), w.parents...)
}

// Parents are the parent executions Start started; nil before Start.
func (w *World) Parents() []Parent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Parent(nil), w.parents...)
}

// Done reports whether every parent execution has ended, or the scenario's
// horizon has passed.
func (w *World) Done() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done()
}

func (w *World) done() bool {
	if w.now >= w.sc.Horizon {
		return true
	}
	if !w.started {
		return false
	}
	for _, r := range w.runs {
		if r.parentStatus == types.ExecutionStatusRunning {
			return false
		}
	}
	return true
}

// Advance moves the clock forward by d, running every event due by then;
// Advance(0) runs the events due now. A negative d does nothing.
func (w *World) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	target := w.now + d
	for len(w.queue) > 0 && w.queue[0].at <= target {
		ev := w.queue.pop()
		w.now = ev.at
		w.handle(ev)
	}
	w.now = target
}

// MapRunARNs lists the ARNs of the Map Runs started so far, in scenario
// order, whatever their status. It reads the world directly, as an oracle
// does; a tuner finds them through the API.
func (w *World) MapRunARNs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, r := range w.runs {
		if r.mapStarted {
			out = append(out, r.mapRunARN)
		}
	}
	return out
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
	r.calls++
	r.cur.calls++
	if ok {
		r.ds.throttles.add(w.now, 0)
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

// minute closes the minute ending at boundary b for every run active in it.
func (w *World) minute(b time.Duration) {
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
