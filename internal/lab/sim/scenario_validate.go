package sim

// This file holds a scenario's defaults and validation.

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

func (s *Scenario) applyDefaults() {
	if s.Start.IsZero() {
		s.Start = DefaultStart
	}
	s.Start = s.Start.UTC()
	if s.Horizon == 0 {
		s.Horizon = DefaultHorizon
	}
	if s.CloudWatch.Delay == nil {
		s.CloudWatch.Delay = &DelaySpec{Min: time.Minute, Max: 2 * time.Minute}
	}
	s.Faults.applyDefaults()
	for i := range s.Downstreams {
		d := &s.Downstreams[i]
		if d.Rate > 0 && d.Burst == 0 {
			d.Burst = d.Rate
		}
		if d.Latency != nil && d.Latency.Exponent == 0 {
			d.Latency.Exponent = 1
		}
		if d.ThrottleError == "" {
			d.ThrottleError = DefaultThrottleError
			if d.ThrottleCause == "" {
				d.ThrottleCause = DefaultThrottleCause
			}
		}
	}
	for i := range s.Runs {
		r := &s.Runs[i]
		if r.Name == "" {
			r.Name = r.StateMachine + "/" + r.Label
		}
		if r.ExecutionType == "" {
			r.ExecutionType = ExecutionStandard
		}
		if r.Task == "" {
			r.Task = TaskInvoke
		}
		if r.StartLatency == 0 {
			r.StartLatency = DefaultStartLatency
		}
		if r.BatchSize == 0 {
			r.BatchSize = 1
		}
		if r.Retry.Interval == 0 {
			r.Retry.Interval = time.Second
		}
		if r.Retry.BackoffRate == 0 {
			r.Retry.BackoffRate = 2
		}
		if r.Retry.MaxAttempts == nil {
			n := 3
			r.Retry.MaxAttempts = &n
		}
		if r.Retry.Jitter == "" {
			r.Retry.Jitter = JitterNone
		}
		if r.Failures.Error == "" {
			r.Failures.Error = DefaultFailureError
			if r.Failures.Cause == "" {
				r.Failures.Cause = DefaultFailureCause
			}
		}
	}
}

var (
	namePattern      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	metricNamePatten = regexp.MustCompile(`^[^\x00-\x1f]{1,255}$`)
)

// problems collects validation errors for one file.
type problems struct {
	file string
	errs []error
}

func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%w: %s: %s: %s", ErrInvalidScenario, p.file, field, fmt.Sprintf(format, args...)))
}

func (p *problems) err() error { return errors.Join(p.errs...) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (s *Scenario) validate(file string) error {
	p := &problems{file: file}
	if s.Start.Truncate(time.Minute) != s.Start {
		p.add("start", "%s is not a whole minute", s.Start.Format(time.RFC3339Nano))
	}
	if s.Horizon < time.Minute || s.Horizon > MaxHorizon {
		p.add("horizon", "%s is outside [1m, %s]", s.Horizon, MaxHorizon)
	}
	if len(s.Downstreams) == 0 {
		p.add("downstreams", "at least one downstream is required")
	}
	dsNames := map[string]bool{}
	for i := range s.Downstreams {
		s.Downstreams[i].validate(p, fmt.Sprintf("downstreams[%d]", i), dsNames)
	}
	if len(s.Runs) == 0 || len(s.Runs) > MaxRuns {
		p.add("runs", "want 1 to %d runs, got %d", MaxRuns, len(s.Runs))
	}
	runNames := map[string]bool{}
	for i := range s.Runs {
		s.Runs[i].validate(p, fmt.Sprintf("runs[%d]", i), dsNames, runNames)
	}
	s.CloudWatch.validate(p, s.Horizon)
	s.Faults.validate(p, s.Horizon)
	if s.Policy.Kind != 0 && s.Policy.Kind != yaml.MappingNode {
		p.add("policy", "want a mapping (a policies file), got a %s", nodeKind(s.Policy.Kind))
	}
	return p.err()
}

func nodeKind(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "sequence"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "node"
}

func (d *Downstream) validate(p *problems, at string, names map[string]bool) {
	if !namePattern.MatchString(d.Name) {
		p.add(at+".name", "%q is not 1 to 80 letters, digits, '-' or '_'", d.Name)
	} else if names[d.Name] {
		p.add(at+".name", "%q is defined twice", d.Name)
	}
	names[d.Name] = true
	nonNeg := func(field string, v float64) {
		if !finite(v) || v < 0 {
			p.add(at+"."+field, "%v is not a finite number >= 0", v)
		}
	}
	nonNeg("concurrency", d.Concurrency)
	nonNeg("rate", d.Rate)
	nonNeg("burst", d.Burst)
	if d.Rate > 0 && d.Burst < 1 {
		p.add(at+".burst", "%v is below 1 call", d.Burst)
	}
	if d.Rate == 0 && d.Burst != 0 {
		p.add(at+".burst", "set without rate")
	}
	if !finite(d.RejectCost) || d.RejectCost < 0 || d.RejectCost > 1 {
		p.add(at+".rejectCost", "%v is outside [0, 1]", d.RejectCost)
	}
	if d.RejectCost > 0 && d.Rate == 0 {
		p.add(at+".rejectCost", "needs a rate: it spends tokens of the rate bucket")
	}
	if l := d.Latency; l != nil {
		if !finite(l.Knee) || l.Knee <= 0 {
			p.add(at+".latency.knee", "%v is not > 0", l.Knee)
		}
		if !finite(l.Exponent) || l.Exponent < 1 || l.Exponent > 4 {
			p.add(at+".latency.exponent", "%v is outside [1, 4]", l.Exponent)
		}
	}
	var prev time.Duration
	for i, c := range d.Schedule {
		f := fmt.Sprintf("%s.schedule[%d]", at, i)
		if c.At < 0 || (i > 0 && c.At < prev) {
			p.add(f+".at", "%s is negative or before the previous change", c.At)
		}
		prev = c.At
		if !finite(c.Factor) || c.Factor < 0 || c.Factor > 1000 {
			p.add(f+".factor", "%v is outside [0, 1000]", c.Factor)
		}
		if c.Ramp < 0 {
			p.add(f+".ramp", "%s is negative", c.Ramp)
		}
	}
	if n := d.Neighbour; n != nil {
		if !finite(n.Share) || n.Share < 0 || n.Share >= 1 {
			p.add(at+".neighbour.share", "%v is outside [0, 1)", n.Share)
		}
		if n.Period <= 0 {
			p.add(at+".neighbour.period", "%s is not > 0", n.Period)
		}
	}
	if d.ThrottleError == "" || len(d.ThrottleError) > 256 {
		p.add(at+".throttleError", "want 1 to 256 characters")
	}
	if len(d.ThrottleCause) > 32768 {
		p.add(at+".throttleCause", "longer than 32768 characters")
	}
	if m := d.Metric; m != nil {
		validateMetric(p, at+".metric", *m)
	}
}

func validateMetric(p *problems, at string, m Metric) {
	if !metricNamePatten.MatchString(m.Namespace) {
		p.add(at+".namespace", "%q is not 1 to 255 printable characters", m.Namespace)
	}
	if !metricNamePatten.MatchString(m.Name) {
		p.add(at+".name", "%q is not 1 to 255 printable characters", m.Name)
	}
	if len(m.Dimensions) > 30 {
		p.add(at+".dimensions", "%d dimensions, at most 30", len(m.Dimensions))
	}
	for _, k := range sortedKeys(m.Dimensions) {
		if !metricNamePatten.MatchString(k) || !metricNamePatten.MatchString(m.Dimensions[k]) {
			p.add(at+".dimensions."+k, "name and value must be 1 to 255 printable characters")
		}
	}
}

func (r *RunSpec) validate(p *problems, at string, downstreams, names map[string]bool) {
	if names[r.Name] {
		p.add(at+".name", "%q is used by another run", r.Name)
	}
	names[r.Name] = true
	if !namePattern.MatchString(r.StateMachine) {
		p.add(at+".stateMachine", "%q is not 1 to 80 letters, digits, '-' or '_'", r.StateMachine)
	}
	if !namePattern.MatchString(r.Label) || len(r.Label) > 40 {
		p.add(at+".label", "%q is not 1 to 40 letters, digits, '-' or '_'", r.Label)
	}
	if len(r.Tags) > 50 {
		p.add(at+".tags", "%d tags, at most 50", len(r.Tags))
	}
	for _, k := range sortedKeys(r.Tags) {
		if k == "" || len(k) > 128 || len(r.Tags[k]) > 256 {
			p.add(at+".tags."+k, "key must be 1 to 128 characters and value at most 256")
		}
	}
	if !downstreams[r.Downstream] {
		p.add(at+".downstream", "%q is not a downstream of this scenario", r.Downstream)
	}
	if r.Items < 1 || r.Items > MaxItems {
		p.add(at+".items", "%d is outside [1, %d]", r.Items, MaxItems)
	}
	if r.Delay < 0 {
		p.add(at+".delay", "%s is negative", r.Delay)
	}
	if r.StartLatency < 0 || r.StartLatency > time.Minute {
		p.add(at+".startLatency", "%s is outside [0, 1m]", r.StartLatency)
	}
	if r.ExecutionType != ExecutionStandard && r.ExecutionType != ExecutionExpress {
		p.add(at+".executionType", "%q is not STANDARD or EXPRESS", r.ExecutionType)
	}
	if r.Task != TaskInvoke && r.Task != TaskFunction {
		p.add(at+".task", "%q is not invoke or function", r.Task)
	}
	if r.MaxConcurrency < 0 {
		p.add(at+".maxConcurrency", "%d is negative", r.MaxConcurrency)
	}
	if v := r.ToleratedFailurePercentage; v != nil && (!finite(*v) || *v < 0 || *v > 100) {
		p.add(at+".toleratedFailurePercentage", "%v is outside [0, 100]", *v)
	}
	if v := r.ToleratedFailureCount; v != nil && *v < 0 {
		p.add(at+".toleratedFailureCount", "%d is negative", *v)
	}
	if r.BatchSize < 1 || r.BatchSize > 10_000 {
		p.add(at+".batchSize", "%d is outside [1, 10000]", r.BatchSize)
	}
	r.Duration.validate(p, at+".duration")
	rt := r.Retry
	if rt.Interval < time.Second || rt.Interval > 99_999_999*time.Second {
		p.add(at+".retry.interval", "%s is outside [1s, 99999999s], the range of IntervalSeconds", rt.Interval)
	}
	if !finite(rt.BackoffRate) || rt.BackoffRate < 1 || rt.BackoffRate > 100 {
		p.add(at+".retry.backoffRate", "%v is outside [1, 100]", rt.BackoffRate)
	}
	if *rt.MaxAttempts < 0 || *rt.MaxAttempts > 99_999_999 {
		p.add(at+".retry.maxAttempts", "%d is outside [0, 99999999]", *rt.MaxAttempts)
	}
	if rt.MaxDelay != 0 && (rt.MaxDelay < time.Second || rt.MaxDelay > 31_622_401*time.Second) {
		p.add(at+".retry.maxDelay", "%s is outside [1s, 31622401s], the range of MaxDelaySeconds", rt.MaxDelay)
	}
	if rt.Jitter != JitterNone && rt.Jitter != JitterFull {
		p.add(at+".retry.jitter", "%q is not NONE or FULL", rt.Jitter)
	}
	f := r.Failures
	if !finite(f.PoisonFraction) || f.PoisonFraction < 0 || f.PoisonFraction > 1 {
		p.add(at+".failures.poisonFraction", "%v is outside [0, 1]", f.PoisonFraction)
	}
	if b := f.PoisonBatch; b != nil && (b.From < 0 || b.Count < 1 || b.From > r.Items-b.Count) {
		p.add(at+".failures.poisonBatch", "items [%d, %d) are not within the run's %d items", b.From, b.From+b.Count, r.Items)
	}
	if b := f.BrokenAfter; b != nil && (*b < 0 || *b >= r.Items) {
		p.add(at+".failures.brokenAfter", "%d is outside [0, %d)", *b, r.Items)
	}
	if len(f.Error) > 256 {
		p.add(at+".failures.error", "longer than 256 characters")
	}
	if len(f.Cause) > 32768 {
		p.add(at+".failures.cause", "longer than 32768 characters")
	}
}

func (d DurationSpec) validate(p *problems, at string) {
	const most = 24 * time.Hour
	positive := func(field string, v time.Duration) {
		if v <= 0 || v > most {
			p.add(at+"."+field, "%s is outside (0, %s]", v, most)
		}
	}
	switch d.Dist {
	case DistFixed:
		positive("value", d.Value)
	case DistLognormal:
		positive("median", d.Median)
		if !finite(d.Sigma) || d.Sigma < 0 || d.Sigma > 4 {
			p.add(at+".sigma", "%v is outside [0, 4]", d.Sigma)
		}
	case DistPareto:
		positive("min", d.Min)
		if !finite(d.Alpha) || d.Alpha < 0.5 || d.Alpha > 20 {
			p.add(at+".alpha", "%v is outside [0.5, 20]", d.Alpha)
		}
	default:
		p.add(at+".dist", "%q is not fixed, lognormal or pareto", d.Dist)
	}
	if d.Max < 0 || d.Max > most {
		p.add(at+".max", "%s is outside [0, %s]", d.Max, most)
	}
}

func (c *CloudWatchSpec) validate(p *problems, horizon time.Duration) {
	if c.Delay.Min < 0 || c.Delay.Max < c.Delay.Min || c.Delay.Max > time.Hour {
		p.add("cloudwatch.delay", "[%s, %s] is not a range within [0, 1h]", c.Delay.Min, c.Delay.Max)
	}
	if !finite(c.Missing) || c.Missing < 0 || c.Missing >= 1 {
		p.add("cloudwatch.missing", "%v is outside [0, 1)", c.Missing)
	}
	for i, o := range c.Outages {
		if o.At < 0 || o.For <= 0 || o.For > horizon {
			p.add(fmt.Sprintf("cloudwatch.outages[%d]", i), "window [%s, %s) must start at or after 0 and last from 1ns to the horizon", o.At, o.At+o.For)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
