package policy

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/maptuner/maptuner/internal/maprun"
)

// Signal is one CloudWatch metric whose one-minute values count throttling.
// A policy's signals are queried at a one-minute period and summed.
type Signal struct {
	// Namespace is the CloudWatch namespace, such as AWS/Lambda.
	Namespace string `json:"namespace"`
	// Metric is the metric name, such as Throttles.
	Metric string `json:"metric"`
	// Stat is the statistic: Sum, Maximum, Minimum, Average, SampleCount or
	// a percentile pNN (p99, p99.9).
	Stat string `json:"stat"`
	// Dimensions are the metric's dimensions, name to value; nil for none.
	// Values may hold the placeholders Expand fills.
	Dimensions map[string]string `json:"dimensions,omitempty"`
	// Sparse says the metric publishes only the minutes with throttling
	// (a custom counter of 429s, DynamoDB throttle events): a whole minute
	// with no datapoint, once CloudWatch has had time to publish it, counts
	// as 0 instead of missing. False (the default) holds on such a minute.
	Sparse bool `json:"sparse,omitempty"`
}

// The placeholders a dimension value may contain, filled by Signal.Expand
// from the Map Run ARN.
const (
	// PlaceholderLabelledStateMachineARN is the ARN the children run under:
	// arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME/LABEL.
	PlaceholderLabelledStateMachineARN = "${LabelledStateMachineArn}"
	// PlaceholderStateMachineARN is the parent state machine's ARN.
	PlaceholderStateMachineARN = "${StateMachineArn}"
	// PlaceholderStateMachineName is the parent state machine's name.
	PlaceholderStateMachineName = "${StateMachineName}"
	// PlaceholderLabel is the Map Run's label.
	PlaceholderLabel = "${Label}"
)

var placeholders = []string{
	PlaceholderLabelledStateMachineARN,
	PlaceholderStateMachineARN,
	PlaceholderStateMachineName,
	PlaceholderLabel,
}

// Expand returns a copy of s with the placeholders of its dimension values
// filled in for the Map Run arn. Text that is not a known placeholder is
// left as it is; the values are not expanded again.
func (s Signal) Expand(arn maprun.ARN) Signal {
	r := strings.NewReplacer(
		PlaceholderLabelledStateMachineARN, arn.LabelledStateMachineARN(),
		PlaceholderStateMachineARN, arn.StateMachineARN(),
		PlaceholderStateMachineName, arn.StateMachine,
		PlaceholderLabel, arn.Label,
	)
	out := s
	if s.Dimensions != nil {
		out.Dimensions = make(map[string]string, len(s.Dimensions))
		for k, v := range s.Dimensions {
			out.Dimensions[k] = r.Replace(v)
		}
	}
	return out
}

// NamesDownstream reports whether s measures a downstream the run's
// children call, which runs of other state machines may call too: any
// metric but Step Functions' own (namespace AWS/States, such as the
// built-in ExecutionThrottled of the run's labelled state machine).
func (s Signal) NamesDownstream() bool { return s.Namespace != statesNamespace }

// statesNamespace is the CloudWatch namespace of Step Functions' own
// metrics.
const statesNamespace = "AWS/States"

// Key returns a stable identity of s: equal for two signals with the same
// namespace, metric, stat and dimensions, whatever the map order, and
// different otherwise. Use it to query each distinct metric once.
func (s Signal) Key() string {
	var b strings.Builder
	b.WriteString(strconv.Quote(s.Namespace))
	b.WriteString(" " + strconv.Quote(s.Metric))
	b.WriteString(" " + strconv.Quote(s.Stat))
	for _, k := range slices.Sorted(maps.Keys(s.Dimensions)) {
		b.WriteString(" " + strconv.Quote(k) + "=" + strconv.Quote(s.Dimensions[k]))
	}
	return b.String()
}

// cloneSignals returns a deep copy of sigs; nil stays nil.
func cloneSignals(sigs []Signal) []Signal {
	if sigs == nil {
		return nil
	}
	out := make([]Signal, len(sigs))
	for i, s := range sigs {
		out[i] = s
		out[i].Dimensions = maps.Clone(s.Dimensions)
	}
	return out
}

// percentile matches the shape of a CloudWatch percentile statistic, such
// as p99 or p99.9; checkStat bounds its value to [0, 100].
var percentile = regexp.MustCompile(`^p[0-9]{1,3}(\.[0-9]{1,10})?$`)

// checkStat returns the problem with a statistic, or "".
func checkStat(stat string) string {
	switch stat {
	case "Sum", "Maximum", "Minimum", "Average", "SampleCount":
		return ""
	}
	if percentile.MatchString(stat) {
		if v, err := strconv.ParseFloat(stat[1:], 64); err == nil && v <= 100 {
			return ""
		}
	}
	return strconv.Quote(stat) + " is not a statistic; want Sum, Maximum, Minimum, Average, SampleCount or a percentile such as p99"
}

// checkPlaceholders returns the problem with the placeholders of a
// dimension value, or "".
func checkPlaceholders(v string) string {
	rest := v
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			return ""
		}
		rest = rest[i:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return "unterminated placeholder " + strconv.Quote(rest) + "; want one of " + strings.Join(placeholders, ", ")
		}
		if p := rest[:j+1]; !slices.Contains(placeholders, p) {
			return "unknown placeholder " + p + "; want one of " + strings.Join(placeholders, ", ")
		}
		rest = rest[j+1:]
	}
}
