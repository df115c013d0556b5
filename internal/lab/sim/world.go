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
// ExecutionsTimedOut never has a datapoint: a simulated child has no
// timeout.
var statesMetricNames = []string{
	"ExecutionThrottled", "ExecutionTime", "ExecutionsAborted",
	"ExecutionsFailed", "ExecutionsStarted", "ExecutionsSucceeded",
	"ExecutionsTimedOut",
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
		m, c := spec.throttleMetric(), spec.concurrencyMetric()
		d := &downstream{spec: spec, tokens: spec.Burst, throttles: w.cw.series(m.Namespace, m.Name, m.Dimensions),
			concurrent: w.cw.series(c.Namespace, c.Name, c.Dimensions)}
		if consumed, provisioned, ok := spec.capacityMetrics(); ok {
			d.consumed = w.cw.series(consumed.Namespace, consumed.Name, consumed.Dimensions)
			d.provisioned = w.cw.series(provisioned.Namespace, provisioned.Name, provisioned.Dimensions)
		}
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
