package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrInvalidScenario is wrapped by every error about the content of a
// scenario file.
var ErrInvalidScenario = errors.New("invalid scenario")

// Limits of a scenario, so that a simulation stays within memory and CPU.
const (
	// MaxItems is the most items one Map Run of a scenario may have.
	MaxItems = 1_000_000
	// MaxRuns is the most Map Runs one scenario may have.
	MaxRuns = 1000
	// MaxHorizon is the longest virtual time a scenario may run.
	MaxHorizon = 7 * 24 * time.Hour
	// DefaultHorizon is the horizon of a scenario that sets none.
	DefaultHorizon = 6 * time.Hour
	// DefaultStartLatency is the StartLatency of a run that sets none.
	DefaultStartLatency = 200 * time.Millisecond
	// MaxConcurrencyLimit is the most children a Distributed Map runs at
	// once; a maxConcurrency of 0 means this many.
	MaxConcurrencyLimit = 10_000
)

// DefaultStart is the virtual start time of a scenario that sets none.
var DefaultStart = time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC)

// The child execution types of a Distributed Map.
const (
	ExecutionStandard = "STANDARD"
	ExecutionExpress  = "EXPRESS"
)

// The duration distributions.
const (
	DistFixed     = "fixed"
	DistLognormal = "lognormal"
	DistPareto    = "pareto"
)

// The jitter strategies of a Retry policy.
const (
	JitterNone = "NONE"
	JitterFull = "FULL"
)

// Error names and causes the simulated children fail with unless a scenario
// says otherwise.
const (
	DefaultThrottleError = "Lambda.TooManyRequestsException"
	DefaultThrottleCause = "Rate Exceeded. (Service: Lambda, Status Code: 429, Request ID: 00000000-0000-0000-0000-000000000000)"
	DefaultFailureError  = "States.TaskFailed"
	DefaultFailureCause  = "the item could not be processed"
)

// Scenario is a simulated account: downstreams with their capacity, Map Runs
// that call them, how CloudWatch publishes, and the maptuner policy to run
// with. Load one with LoadScenario or ParseScenario; those fill the defaults
// and validate it. docs/scenarios.md describes the file format.
type Scenario struct {
	// Name identifies the scenario in results; defaults to the file name
	// without extension.
	Name string `yaml:"name" json:"name"`
	// Description says in prose what the scenario tests.
	Description string `yaml:"description" json:"description,omitempty"`
	// Start is the virtual time the world starts at, a whole minute in UTC;
	// zero means DefaultStart.
	Start time.Time `yaml:"start" json:"start"`
	// Horizon is how long the world may run before it counts as done with
	// runs still open; zero means DefaultHorizon.
	Horizon time.Duration `yaml:"horizon" json:"horizon"`
	// Downstreams are the services the children call.
	Downstreams []Downstream `yaml:"downstreams" json:"downstreams"`
	// Runs are the parent executions, one Distributed Map Run each.
	Runs []RunSpec `yaml:"runs" json:"runs"`
	// CloudWatch is how metrics are published.
	CloudWatch CloudWatchSpec `yaml:"cloudwatch" json:"cloudwatch"`
	// Faults are the fault knobs: API errors, throttles and latency, and
	// metric gaps; zero means none.
	Faults FaultSpec `yaml:"faults" json:"faults,omitzero"`
	// Policy is a maptuner policies file kept as YAML, to be handed to the
	// policy parser (see PolicyYAML); zero when the scenario has none.
	Policy yaml.Node `yaml:"policy" json:"-"`
}

// Downstream is a service the children of one or more Map Runs call once
// per attempt. Its capacity is a concurrency limit, a token-bucket rate,
// a latency knee, or several of these; all of them follow Schedule and
// Neighbour over time. With none set it has no limit.
type Downstream struct {
	// Name names the downstream; it is the FunctionName dimension of its
	// default throttle metric.
	Name string `yaml:"name" json:"name"`
	// Concurrency is the most calls in flight at once (a Lambda function's
	// reserved concurrency); a call beyond it is throttled. Zero: no limit.
	Concurrency float64 `yaml:"concurrency" json:"concurrency,omitempty"`
	// Rate is the token-bucket refill in calls per second; a call finding
	// the bucket empty is throttled. Zero: no rate limit. For a
	// provisioned DynamoDB table (see Metric) a call is one capacity unit,
	// so Rate is the units per second provisioned.
	Rate float64 `yaml:"rate" json:"rate,omitempty"`
	// Burst is the bucket size in calls; zero means one second of Rate.
	Burst float64 `yaml:"burst" json:"burst,omitempty"`
	// Latency makes calls slower past a knee of calls in flight.
	Latency *Latency `yaml:"latency" json:"latency,omitempty"`
	// RejectCost is the congestion collapse of a rate-limited downstream:
	// the tokens a throttled call still spends, in [0, 1]. Above capacity
	// the rejected calls eat into the capacity left for real work, so
	// goodput falls as offered load rises. Zero: rejections are free.
	RejectCost float64 `yaml:"rejectCost" json:"rejectCost,omitempty"`
	// Schedule multiplies the capacity over time; empty means factor 1.
	Schedule []Change `yaml:"schedule" json:"schedule,omitempty"`
	// Neighbour is another tenant taking a share of the capacity on a sine.
	Neighbour *Neighbour `yaml:"neighbour" json:"neighbour,omitempty"`
	// ThrottleError and ThrottleCause are what a child that failed its last
	// retry on throttling reports. With no ThrottleError both default, to
	// DefaultThrottleError and DefaultThrottleCause; with one, an empty
	// cause stays empty.
	ThrottleError string `yaml:"throttleError" json:"throttleError,omitempty"`
	ThrottleCause string `yaml:"throttleCause" json:"throttleCause,omitempty"`
	// Metric is the CloudWatch metric its throttled calls are counted in;
	// default AWS/Lambda Throttles with FunctionName = Name. With a Rate
	// and an AWS/DynamoDB WriteThrottleEvents or ReadThrottleEvents metric
	// the downstream is a provisioned table (or index), whose consumed and
	// provisioned capacity are published too (see capacityMetrics).
	Metric *Metric `yaml:"metric" json:"metric,omitempty"`
}

// Latency is a latency that rises past a knee: with L calls in flight and a
// knee K (scaled by the capacity factor), a call admitted takes its nominal
// duration times (L/K)^Exponent when L > K. Exponent 1 holds throughput at
// the knee; above 1 throughput falls as load rises (congestion collapse).
type Latency struct {
	// Knee is the number of calls in flight up to which latency is nominal; > 0.
	Knee float64 `yaml:"knee" json:"knee"`
	// Exponent is how steeply latency rises past the knee; zero means 1.
	Exponent float64 `yaml:"exponent" json:"exponent,omitempty"`
}

// Change is one step or ramp of a capacity schedule.
type Change struct {
	// At is when the change starts, from the world's start.
	At time.Duration `yaml:"at" json:"at"`
	// Factor is the capacity multiplier from then on; >= 0.
	Factor float64 `yaml:"factor" json:"factor"`
	// Ramp is how long the factor takes to move linearly from its previous
	// value to Factor; zero is a step.
	Ramp time.Duration `yaml:"ramp" json:"ramp,omitempty"`
}

// Neighbour is another tenant whose share of the capacity follows a sine:
// share(t) = Share * (1 - cos(2 pi (t + Phase) / Period)) / 2, from 0 to Share.
type Neighbour struct {
	// Share is the largest fraction of capacity taken, in [0, 1).
	Share float64 `yaml:"share" json:"share"`
	// Period is the length of one cycle; > 0.
	Period time.Duration `yaml:"period" json:"period"`
	// Phase shifts the cycle; zero starts it at share 0.
	Phase time.Duration `yaml:"phase" json:"phase,omitempty"`
}

// Metric names a CloudWatch metric: namespace, name and the exact set of
// dimensions it is published under.
type Metric struct {
	Namespace  string            `yaml:"namespace" json:"namespace"`
	Name       string            `yaml:"name" json:"name"`
	Dimensions map[string]string `yaml:"dimensions" json:"dimensions,omitempty"`
}

// RunSpec is one parent execution of a state machine whose Distributed Map
// starts one Map Run.
type RunSpec struct {
	// Name identifies the run in results; defaults to StateMachine/Label.
	Name string `yaml:"name" json:"name"`
	// StateMachine is the state machine's name; Label the Map state's label.
	StateMachine string `yaml:"stateMachine" json:"stateMachine"`
	Label        string `yaml:"label" json:"label"`
	// Tags are the state machine's tags (for example maptuner:policy).
	Tags map[string]string `yaml:"tags" json:"tags,omitempty"`
	// Downstream is the name of the downstream each child calls.
	Downstream string `yaml:"downstream" json:"downstream"`
	// Items is the number of items; >= 1.
	Items int64 `yaml:"items" json:"items"`
	// Delay is the time from the parent's start to its Map Run's start.
	Delay time.Duration `yaml:"delay" json:"delay,omitempty"`
	// StartLatency is the time from a child's start to its first call of
	// the downstream (state transitions, invocation); zero means
	// DefaultStartLatency. A slot a finished child frees stays open that
	// long for retrying children to take.
	StartLatency time.Duration `yaml:"startLatency" json:"startLatency,omitempty"`
	// ExecutionType is the children's type, STANDARD (started at up to
	// 100/s) or EXPRESS (1,000/s); empty means STANDARD.
	ExecutionType string `yaml:"executionType" json:"executionType"`
	// Task is how the children's Task state names the downstream, a
	// Lambda function: TaskInvoke through the service integration
	// arn:aws:states:::lambda:invoke, or TaskFunction by the function's
	// ARN. It picks the events of a Standard child's history; empty means
	// TaskInvoke.
	Task string `yaml:"task" json:"task"`
	// MaxConcurrency is the definition's value; 0 means no limit (10,000).
	MaxConcurrency int32 `yaml:"maxConcurrency" json:"maxConcurrency"`
	// ToleratedFailurePercentage and ToleratedFailureCount are the
	// definition's tolerances; nil when the definition does not set them.
	// With neither set, one failed item fails the run.
	ToleratedFailurePercentage *float64 `yaml:"toleratedFailurePercentage" json:"toleratedFailurePercentage,omitempty"`
	ToleratedFailureCount      *int64   `yaml:"toleratedFailureCount" json:"toleratedFailureCount,omitempty"`
	// BatchSize is the ItemBatcher's MaxItemsPerBatch; 0 or 1: no batcher.
	BatchSize int64 `yaml:"batchSize" json:"batchSize,omitempty"`
	// Duration is how long one call takes for one item.
	Duration DurationSpec `yaml:"duration" json:"duration"`
	// Retry is the child's Retry policy for the downstream's throttling.
	Retry RetrySpec `yaml:"retry" json:"retry"`
	// Failures are the failures not caused by throttling.
	Failures FailureSpec `yaml:"failures" json:"failures"`
}

// DurationSpec is a distribution of item durations.
type DurationSpec struct {
	// Dist is fixed, lognormal or pareto.
	Dist string `yaml:"dist" json:"dist"`
	// Value is the duration of every item (fixed).
	Value time.Duration `yaml:"value" json:"value,omitempty"`
	// Median and Sigma define a lognormal: median * exp(sigma * N(0,1)).
	Median time.Duration `yaml:"median" json:"median,omitempty"`
	Sigma  float64       `yaml:"sigma" json:"sigma,omitempty"`
	// Min and Alpha define a Pareto: Min / U^(1/Alpha).
	Min   time.Duration `yaml:"min" json:"min,omitempty"`
	Alpha float64       `yaml:"alpha" json:"alpha,omitempty"`
	// Max caps every drawn duration; zero: no cap.
	Max time.Duration `yaml:"max" json:"max,omitempty"`
}

// RetrySpec is a Step Functions Retry policy matching the throttle error.
type RetrySpec struct {
	// Interval is the first retry's delay, at least 1s; zero means 1s.
	Interval time.Duration `yaml:"interval" json:"interval"`
	// BackoffRate multiplies the delay per retry; zero means 2, else >= 1.
	BackoffRate float64 `yaml:"backoffRate" json:"backoffRate"`
	// MaxAttempts is the number of retries after the first attempt; nil
	// means 3, 0 never retries.
	MaxAttempts *int `yaml:"maxAttempts" json:"maxAttempts"`
	// MaxDelay caps one delay, at least 1s; zero: no cap.
	MaxDelay time.Duration `yaml:"maxDelay" json:"maxDelay,omitempty"`
	// Jitter is NONE or FULL (a delay drawn uniformly in [0, delay));
	// empty means NONE.
	Jitter string `yaml:"jitter" json:"jitter"`
}

// FailureSpec are the failures of a run not caused by throttling. A failing
// item fails at the end of its call, with no retry.
type FailureSpec struct {
	// PoisonFraction is the chance that any item is poison, in [0, 1].
	PoisonFraction float64 `yaml:"poisonFraction" json:"poisonFraction,omitempty"`
	// PoisonBatch is a contiguous range of poison items.
	PoisonBatch *ItemRange `yaml:"poisonBatch" json:"poisonBatch,omitempty"`
	// BrokenAfter is a broken deployment: every item from index BrokenAfter
	// on fails (the first BrokenAfter items succeed); nil: none.
	BrokenAfter *int64 `yaml:"brokenAfter" json:"brokenAfter,omitempty"`
	// Error and Cause are what a failing child reports. With no Error both
	// default, to DefaultFailureError and DefaultFailureCause; with one, an
	// empty cause stays empty.
	Error string `yaml:"error" json:"error,omitempty"`
	Cause string `yaml:"cause" json:"cause,omitempty"`
}

// ItemRange is the items [From, From+Count), by zero-based item index.
type ItemRange struct {
	From  int64 `yaml:"from" json:"from"`
	Count int64 `yaml:"count" json:"count"`
}

// CloudWatchSpec is how the simulated CloudWatch publishes one-minute
// datapoints: each one a delay after its minute closes, drawn uniformly in
// [Delay.Min, Delay.Max] per datapoint, some missing, none during outages.
type CloudWatchSpec struct {
	// Delay bounds the publication delay; nil means 1m to 2m.
	Delay *DelaySpec `yaml:"delay" json:"delay"`
	// Missing is the chance a datapoint is never published, in [0, 1).
	Missing float64 `yaml:"missing" json:"missing,omitempty"`
	// Outages are windows in which nothing is published.
	Outages []Outage `yaml:"outages" json:"outages,omitempty"`
}

// DelaySpec bounds a uniform delay.
type DelaySpec struct {
	Min time.Duration `yaml:"min" json:"min"`
	Max time.Duration `yaml:"max" json:"max"`
}

// Outage is a window [At, At+For) in which CloudWatch publishes nothing.
// Datapoints due in it are lost, or published at its end with Backfill.
type Outage struct {
	At       time.Duration `yaml:"at" json:"at"`
	For      time.Duration `yaml:"for" json:"for"`
	Backfill bool          `yaml:"backfill" json:"backfill,omitempty"`
}

// LoadScenario reads, defaults and validates the scenario file at path.
// Errors name the file and the field.
func LoadScenario(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("load scenario: %w", err)
	}
	return ParseScenario(path, data)
}

// ParseScenario parses, defaults and validates a scenario; name is the file
// name used in messages and, without directory and extension, the default
// scenario name. Unknown fields are errors.
func ParseScenario(name string, data []byte) (Scenario, error) {
	var sc Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil {
		if errors.Is(err, io.EOF) {
			return Scenario{}, fmt.Errorf("%w: %s: empty document", ErrInvalidScenario, name)
		}
		return Scenario{}, fmt.Errorf("%w: %s: %w", ErrInvalidScenario, name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Scenario{}, fmt.Errorf("%w: %s: want one YAML document, found more", ErrInvalidScenario, name)
	}
	if sc.Name == "" {
		base := name[strings.LastIndex(name, "/")+1:]
		if i := strings.LastIndex(base, "."); i > 0 {
			base = base[:i]
		}
		sc.Name = base
	}
	return sc.normalize(name)
}

// Validate applies the defaults to a copy of the scenario and checks it, as
// ParseScenario does: a scenario built or changed in code should pass it
// before New.
func (s Scenario) Validate() error {
	_, err := s.normalize("scenario " + s.Name)
	return err
}

// normalize returns a copy of s with the defaults applied, sharing nothing
// the defaults change, and checks it; file names it in messages.
func (s Scenario) normalize(file string) (Scenario, error) {
	s.Downstreams = append([]Downstream(nil), s.Downstreams...)
	for i := range s.Downstreams {
		if l := s.Downstreams[i].Latency; l != nil {
			c := *l
			s.Downstreams[i].Latency = &c
		}
	}
	s.Runs = append([]RunSpec(nil), s.Runs...)
	if d := s.CloudWatch.Delay; d != nil {
		c := *d
		s.CloudWatch.Delay = &c
	}
	s.Faults = s.Faults.clone()
	s.applyDefaults()
	if err := s.validate(file); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

// PolicyYAML returns the scenario's policy block as a YAML document, ready
// for the policy parser; nil when the scenario has none.
func (s Scenario) PolicyYAML() ([]byte, error) {
	if s.Policy.Kind == 0 {
		return nil, nil
	}
	b, err := yaml.Marshal(&s.Policy)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: marshal policy: %w", s.Name, err)
	}
	return b, nil
}

// Metrics lists every metric the simulated CloudWatch publishes for this
// scenario: each downstream's throttle metric and ConcurrentExecutions, the
// consumed and provisioned capacity of each provisioned DynamoDB table or
// index (see Downstream.Metric) and, per labelled state machine ARN, the
// AWS/States execution metrics. Sorted, no duplicates.
func (s Scenario) Metrics() []Metric {
	seen := map[string]bool{}
	var out []Metric
	add := func(m Metric) {
		k := metricKey(m.Namespace, m.Name, m.Dimensions)
		if !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	for _, d := range s.Downstreams {
		for _, m := range d.metrics() {
			add(m)
		}
	}
	for _, r := range s.Runs {
		arn := labelledARN(r.StateMachine, r.Label)
		for _, name := range statesMetricNames {
			add(Metric{Namespace: "AWS/States", Name: name, Dimensions: map[string]string{"StateMachineArn": arn}})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return metricKey(out[i].Namespace, out[i].Name, out[i].Dimensions) < metricKey(out[j].Namespace, out[j].Name, out[j].Dimensions)
	})
	return out
}

// Publishes reports whether the simulated CloudWatch publishes the metric
// with exactly these namespace, name and dimensions.
func (s Scenario) Publishes(m Metric) bool {
	k := metricKey(m.Namespace, m.Name, m.Dimensions)
	for _, d := range s.Downstreams {
		for _, p := range d.metrics() {
			if metricKey(p.Namespace, p.Name, p.Dimensions) == k {
				return true
			}
		}
	}
	arn, ok := m.Dimensions["StateMachineArn"]
	if m.Namespace != "AWS/States" || len(m.Dimensions) != 1 || !ok || !slices.Contains(statesMetricNames, m.Name) {
		return false
	}
	for _, r := range s.Runs {
		if labelledARN(r.StateMachine, r.Label) == arn {
			return true
		}
	}
	return false
}

// metrics are the metrics published about the downstream: its throttle
// metric, its ConcurrentExecutions and, for a provisioned DynamoDB table
// or index, its consumed and provisioned capacity.
func (d Downstream) metrics() []Metric {
	out := []Metric{d.throttleMetric(), d.concurrencyMetric()}
	if consumed, provisioned, ok := d.capacityMetrics(); ok {
		out = append(out, consumed, provisioned)
	}
	return out
}

func (d Downstream) throttleMetric() Metric {
	if d.Metric != nil {
		return *d.Metric
	}
	return Metric{Namespace: "AWS/Lambda", Name: "Throttles", Dimensions: map[string]string{"FunctionName": d.Name}}
}

// sparseThrottles reports whether the throttle metric has datapoints
// only for the minutes with throttled calls, as DynamoDB's throttle
// events do (a policy watching one marks it sparse); other throttle
// metrics count every call, 0 when admitted.
func (d Downstream) sparseThrottles() bool {
	return d.throttleMetric().Namespace == "AWS/DynamoDB"
}

// concurrencyMetric is the AWS/Lambda ConcurrentExecutions of the function
// the downstream is, which Lambda publishes for every function: the calls
// in flight of every tenant, the neighbour's included (read it with
// Maximum).
func (d Downstream) concurrencyMetric() Metric {
	return Metric{Namespace: "AWS/Lambda", Name: "ConcurrentExecutions", Dimensions: map[string]string{"FunctionName": d.Name}}
}

// capacityMetrics are the AWS/DynamoDB ConsumedWriteCapacityUnits and
// ProvisionedWriteCapacityUnits (Read for ReadThrottleEvents), with the
// dimensions of the throttle metric (TableName, and
// GlobalSecondaryIndexName for an index), of a downstream that is a
// provisioned table: one with a Rate whose throttle metric is AWS/DynamoDB
// WriteThrottleEvents or ReadThrottleEvents. ok is false for any other.
// Consumed has a sample of 1 unit per call admitted (and per unit the
// neighbour consumes), so that Sum is units and SampleCount requests;
// provisioned has a sample every five minutes of the units per second
// provisioned, Rate times the schedule (see downstream.closeCapacity).
func (d Downstream) capacityMetrics() (consumed, provisioned Metric, ok bool) {
	t := d.throttleMetric()
	if d.Rate <= 0 || t.Namespace != "AWS/DynamoDB" {
		return Metric{}, Metric{}, false
	}
	var kind string
	switch t.Name {
	case "WriteThrottleEvents":
		kind = "Write"
	case "ReadThrottleEvents":
		kind = "Read"
	default:
		return Metric{}, Metric{}, false
	}
	consumed = Metric{Namespace: t.Namespace, Name: "Consumed" + kind + "CapacityUnits", Dimensions: maps.Clone(t.Dimensions)}
	provisioned = Metric{Namespace: t.Namespace, Name: "Provisioned" + kind + "CapacityUnits", Dimensions: maps.Clone(t.Dimensions)}
	return consumed, provisioned, true
}
