package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// MaxAPILatency is the longest API latency a scenario's fault knobs may set.
const MaxAPILatency = time.Minute

// The error codes of the faults the knobs inject.
const (
	// InternalFailureCode is the error code of a Step Functions call that
	// failed on the service's side (HTTP 500 on the wire).
	InternalFailureCode = "InternalFailure"
	// ThrottlingCode is the error code of a throttled call.
	ThrottlingCode = "ThrottlingException"
)

// FaultSpec are a scenario's fault knobs: API calls that fail, are throttled
// or are slow, and metric datapoints that never exist. Every draw depends
// only on the seed, the operation or metric, and the call's or minute's
// number, so the same calls in the same order meet the same faults.
type FaultSpec struct {
	// API are the faults of the simulated API calls, per operation.
	API []APIFault `yaml:"api" json:"api,omitempty"`
	// MetricGaps are minutes of metrics whose datapoints never appear.
	MetricGaps []MetricGap `yaml:"metricGaps" json:"metricGaps,omitempty"`
}

// APIFault is what befalls the calls of some operations. A call that the
// knobs fail spends no token of the operation's quota.
type APIFault struct {
	// Operations are the operations it applies to: DescribeMapRun,
	// UpdateMapRun, ListMapRuns, ListTagsForResource, ListExecutions,
	// DescribeExecution, GetExecutionHistory, GetMetricData. Empty means
	// every operation that no other entry names.
	Operations []string `yaml:"operations" json:"operations,omitempty"`
	// ErrorRate is the chance, in [0, 1], that a call fails on the
	// service's side: InternalFailure for Step Functions, CloudWatch's
	// InternalServiceFault; HTTP 500 on the wire.
	ErrorRate float64 `yaml:"errorRate" json:"errorRate,omitempty"`
	// ThrottleRate is the chance, in [0, 1], that a call is refused with a
	// ThrottlingException although its quota has tokens left.
	// ErrorRate + ThrottleRate is at most 1.
	ThrottleRate float64 `yaml:"throttleRate" json:"throttleRate,omitempty"`
	// Latency is how long a call takes in wall-clock time, drawn
	// uniformly in [Min, Max] per call; Max zero means Min (a fixed
	// latency). A World answers at once, whatever the latency: its clock
	// is virtual and does not move during a call; a server serving the
	// world over HTTP waits CallLatency before it answers. Nil: none.
	Latency *DelaySpec `yaml:"latency" json:"latency,omitempty"`
}

// MetricGap is a window in which the datapoints of some metrics are never
// published: the data itself is missing, as when a publisher stops, unlike
// an Outage, which delays or loses everything that falls due in it.
type MetricGap struct {
	// Namespace and Name select the metrics; empty matches any.
	Namespace string `yaml:"namespace" json:"namespace,omitempty"`
	Name      string `yaml:"name" json:"name,omitempty"`
	// Dimensions must all be among a metric's dimensions, with these
	// values; empty matches any.
	Dimensions map[string]string `yaml:"dimensions" json:"dimensions,omitempty"`
	// At and For are the window [At, At+For) from the world's start; the
	// datapoints of the minutes that start in it are affected.
	At  time.Duration `yaml:"at" json:"at"`
	For time.Duration `yaml:"for" json:"for"`
	// Missing is the chance, in (0, 1], that each affected datapoint is
	// lost; zero means 1, every one.
	Missing float64 `yaml:"missing" json:"missing,omitempty"`
}

// matches reports whether the gap applies to the metric.
func (g MetricGap) matches(namespace, name string, dims map[string]string) bool {
	if (g.Namespace != "" && g.Namespace != namespace) || (g.Name != "" && g.Name != name) {
		return false
	}
	for k, v := range g.Dimensions {
		if got, ok := dims[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// covers reports whether the minute starting at t is in the gap's window.
func (g MetricGap) covers(t time.Duration) bool { return t >= g.At && t < g.At+g.For }

// apiByName returns the api named op.
func apiByName(op string) (api, bool) {
	for a, name := range apiNames {
		if name == op {
			return api(a), true
		}
	}
	return 0, false
}

// clone returns a copy of f that shares nothing the defaults change.
func (f FaultSpec) clone() FaultSpec {
	f.API = slices.Clone(f.API)
	for i := range f.API {
		if l := f.API[i].Latency; l != nil {
			c := *l
			f.API[i].Latency = &c
		}
	}
	f.MetricGaps = slices.Clone(f.MetricGaps)
	return f
}

func (f *FaultSpec) applyDefaults() {
	for i := range f.API {
		if l := f.API[i].Latency; l != nil && l.Max == 0 {
			l.Max = l.Min
		}
	}
	for i := range f.MetricGaps {
		if f.MetricGaps[i].Missing == 0 {
			f.MetricGaps[i].Missing = 1
		}
	}
}

func (f *FaultSpec) validate(p *problems, horizon time.Duration) {
	named := map[string]int{}
	catchAll := -1
	for i, e := range f.API {
		at := fmt.Sprintf("faults.api[%d]", i)
		if len(e.Operations) == 0 {
			if catchAll >= 0 {
				p.add(at+".operations", "empty, as in faults.api[%d]: only one entry may apply to every other operation", catchAll)
			}
			catchAll = i
		}
		for j, op := range e.Operations {
			if _, ok := apiByName(op); !ok {
				p.add(fmt.Sprintf("%s.operations[%d]", at, j), "%q is not one of %s", op, strings.Join(apiNames[:], ", "))
				continue
			}
			if k, dup := named[op]; dup {
				p.add(fmt.Sprintf("%s.operations[%d]", at, j), "%s is named in faults.api[%d] already", op, k)
			}
			named[op] = i
		}
		rate := func(field string, v float64) {
			if !finite(v) || v < 0 || v > 1 {
				p.add(at+"."+field, "%v is outside [0, 1]", v)
			}
		}
		rate("errorRate", e.ErrorRate)
		rate("throttleRate", e.ThrottleRate)
		if s := e.ErrorRate + e.ThrottleRate; s > 1 {
			p.add(at, "errorRate + throttleRate is %v, more than 1", s)
		}
		if l := e.Latency; l != nil && (l.Min < 0 || l.Max < l.Min || l.Max > MaxAPILatency) {
			p.add(at+".latency", "[%s, %s] is not a range within [0, %s]", l.Min, l.Max, MaxAPILatency)
		}
	}
	for i, g := range f.MetricGaps {
		at := fmt.Sprintf("faults.metricGaps[%d]", i)
		if g.Namespace != "" && !metricNamePatten.MatchString(g.Namespace) {
			p.add(at+".namespace", "%q is not 1 to 255 printable characters", g.Namespace)
		}
		if g.Name != "" && !metricNamePatten.MatchString(g.Name) {
			p.add(at+".name", "%q is not 1 to 255 printable characters", g.Name)
		}
		for _, k := range sortedKeys(g.Dimensions) {
			if !metricNamePatten.MatchString(k) || !metricNamePatten.MatchString(g.Dimensions[k]) {
				p.add(at+".dimensions."+k, "name and value must be 1 to 255 printable characters")
			}
		}
		if g.At < 0 || g.For <= 0 || g.For > horizon {
			p.add(at, "window [%s, %s) must start at or after 0 and last from 1ns to the horizon", g.At, g.At+g.For)
		}
		if !finite(g.Missing) || g.Missing <= 0 || g.Missing > 1 {
			p.add(at+".missing", "%v is outside (0, 1]", g.Missing)
		}
	}
}

// Salts that keep the fault draws apart from each other and from every
// other draw of the world.
const (
	saltFault   = 0xfa017
	saltLatency = 0x1a7e
	saltGap     = 0x9a9
)

// apiFaults are the resolved fault knobs of each api, and the calls made.
type apiFaults struct {
	spec [numAPIs]*APIFault
	// seq numbers the calls of each api, from 1, in the order made.
	seq [numAPIs]int64
}

func (f *apiFaults) init(spec FaultSpec) {
	// The catch-all first, then the named entries over it.
	for i := range spec.API {
		if len(spec.API[i].Operations) == 0 {
			for a := range numAPIs {
				f.spec[a] = &spec.API[i]
			}
		}
	}
	for i := range spec.API {
		for _, op := range spec.API[i].Operations {
			if a, ok := apiByName(op); ok {
				f.spec[a] = &spec.API[i]
			}
		}
	}
}

// call numbers a new call of a; called with the world locked, first thing
// in every API method.
func (w *World) call(a api) { w.faults.seq[a]++ }

// inject draws the fault knobs for the current call of a: a server error,
// a throttle, or nil for a call that goes on. A faulted call counts as a
// call, and as throttled or errored, in the API statistics. Called with the
// world locked.
func (w *World) inject(a api) error {
	e := w.faults.spec[a]
	if e == nil || e.ErrorRate+e.ThrottleRate == 0 {
		return nil
	}
	u := unit(w.hash(saltFault, uint64(a), uint64(w.faults.seq[a])))
	switch {
	case u < e.ErrorRate:
		w.quota.calls[a]++
		w.quota.errors[a]++
		return serverError(a)
	case u < e.ErrorRate+e.ThrottleRate:
		w.quota.calls[a]++
		w.quota.throttled[a]++
		return throttlingError(a)
	}
	return nil
}

func serverError(a api) error {
	switch a {
	case apiGetMetricData:
		return &cwtypes.InternalServiceFault{Message: aws.String("Internal service error (a simulated fault).")}
	case apiGetFunctionConcurrency:
		return &lambdatypes.ServiceException{Message: aws.String("The Lambda service encountered an internal error (a simulated fault)."), Type: aws.String("Service")}
	}
	return &smithy.GenericAPIError{Code: InternalFailureCode, Message: "The request processing has failed because of an unknown error, exception or failure (a simulated fault).", Fault: smithy.FaultServer}
}

// CallLatency is the wall-clock latency the scenario's fault knobs give the
// latest call of the operation op (DescribeMapRun, ..., GetMetricData): a
// draw from the seed, the operation and the call's number. It is zero for
// an operation without a latency knob, an unknown one, or before its first
// call. A server that serves the world waits that long before it answers.
func (w *World) CallLatency(op string) time.Duration {
	a, ok := apiByName(op)
	if !ok {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	e, n := w.faults.spec[a], w.faults.seq[a]
	if e == nil || e.Latency == nil || n == 0 {
		return 0
	}
	l := e.Latency
	return l.Min + time.Duration(unit(w.hash(saltLatency, uint64(a), uint64(n)))*float64(l.Max-l.Min))
}
