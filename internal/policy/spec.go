package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"go.yaml.in/yaml/v3"
)

// The bounds Step Functions puts on a Distributed Map.
const (
	// MaxConcurrencyLimit is the highest maxConcurrency Step Functions accepts
	// other than 0 (no limit): 10,000 parallel children.
	MaxConcurrencyLimit = 10000
	// MaxSignals is the most throttle signals one policy may name; each costs
	// one CloudWatch metric query per Map Run per tick.
	MaxSignals = 10
	// MaxDimensions is the most dimensions CloudWatch accepts on one metric.
	MaxDimensions = 30
	// MaxFailureSample is the highest failureSample: failed children are
	// described one call each, out of a shared API budget.
	MaxFailureSample = 100
	// MinStaleAfter is the shortest staleAfter: throttle datapoints are
	// one-minute aggregates, so anything shorter would always be stale.
	MinStaleAfter = time.Minute
)

// spec is a policy or a label override as written in a file. A nil field was
// not written there and takes its value from the level below: the policy for
// a label override, the built-in defaults for a policy.
type spec struct {
	MinConcurrency     *int64
	MaxConcurrency     *int64
	InitialConcurrency *int64
	Unlimited          *bool
	GrowthFactor       *float64
	Backoff            *float64
	MaxStepUp          *float64
	MaxStepDown        *float64
	Band               *float64
	RecoveryTime       *time.Duration
	ThrottleThreshold  *float64
	StaleAfter         *time.Duration
	DryRun             *bool
	FailureSample      *int64
	ThrottleSignals    *[]Signal
	Group              *string
	Tolerance          toleranceSpec
}

// toleranceSpec is the tolerance part of a spec; nil fields were not written.
type toleranceSpec struct {
	BaselinePercent  *float64
	BaselineCount    *int64
	CeilingPercent   *float64
	CeilingCount     *int64
	RaiseUnset       *bool
	FailFast         *bool
	FailFastRate     *float64
	FailFastMinItems *int64
}

// DefaultSignalThreshold is the throttleThreshold of a policy that names
// no throttleSignals and no throttleThreshold: the built-in signal,
// ExecutionThrottled, counts only Step Functions' own throttling.
const DefaultSignalThreshold = 2.0

// builtin holds the built-in defaults; every field is set. It is the single
// source of the default values: docs/policies.md is checked against it.
var builtin = spec{
	MinConcurrency:     new(int64(1)),
	MaxConcurrency:     new(int64(1000)),
	InitialConcurrency: new(int64(10)),
	Unlimited:          new(false),
	GrowthFactor:       new(1.5),
	Backoff:            new(0.7),
	MaxStepUp:          new(2.0),
	MaxStepDown:        new(0.5),
	Band:               new(0.02),
	RecoveryTime:       new(10 * time.Minute),
	ThrottleThreshold:  new(0.0),
	StaleAfter:         new(5 * time.Minute),
	DryRun:             new(false),
	FailureSample:      new(int64(10)),
	ThrottleSignals: &[]Signal{{
		Namespace:  statesNamespace,
		Metric:     "ExecutionThrottled",
		Stat:       "Sum",
		Dimensions: map[string]string{"StateMachineArn": "${LabelledStateMachineArn}"},
	}},
	Group: new(""),
	Tolerance: toleranceSpec{
		BaselinePercent:  new(0.0),
		BaselineCount:    new(int64(0)),
		CeilingPercent:   new(10.0),
		CeilingCount:     new(int64(1000)),
		RaiseUnset:       new(false),
		FailFast:         new(false),
		FailFastRate:     new(0.5),
		FailFastMinItems: new(int64(100)),
	},
}

// field describes one field of a spec: how it is decoded and checked, and
// how its value passes from level to level.
type field struct {
	// name is the path of the field in a policy: "maxConcurrency",
	// "tolerance.ceilingPercent".
	name string
	// decode reads n into s, or records why it cannot; it reports success.
	decode func(d *decoder, n *yaml.Node, at loc, s *spec) bool
	// check returns the problem with the field's value in s, or "" when it
	// is fine or not set.
	check func(s *spec) string
	// isSet reports whether s sets the field.
	isSet func(s *spec) bool
	// copy sets the field of dst to that of src when src sets it.
	copy func(dst, src *spec)
	// show formats the field's value in s as the docs write it; "" when unset.
	show func(s *spec) string
}

// newField builds the field descriptor of a field of type T, read by read,
// reached by get, checked by check (nil: any value of the type is fine) and
// formatted by show.
func newField[T any](name string, read func(*decoder, *yaml.Node, loc) (T, bool), get func(*spec) **T, check func(T) string, show func(T) string) field {
	f := field{
		name:  name,
		isSet: func(s *spec) bool { return *get(s) != nil },
		copy: func(dst, src *spec) {
			if p := *get(src); p != nil {
				*get(dst) = p
			}
		},
		show: func(s *spec) string {
			if p := *get(s); p != nil {
				return show(*p)
			}
			return ""
		},
		check: func(*spec) string { return "" },
	}
	if check != nil {
		f.check = func(s *spec) string {
			if p := *get(s); p != nil {
				return check(*p)
			}
			return ""
		}
	}
	f.decode = func(d *decoder, n *yaml.Node, at loc, s *spec) bool {
		v, ok := read(d, n, at)
		if !ok {
			return false
		}
		if check != nil {
			if msg := check(v); msg != "" {
				d.errorf(n, at, "%s", msg)
				return false
			}
		}
		*get(s) = &v
		return true
	}
	return f
}

// fields lists every field of a spec, in the order of the docs.
var fields = []field{
	newField("minConcurrency", (*decoder).integer, func(s *spec) **int64 { return &s.MinConcurrency }, concurrency(""), showInt),
	newField("maxConcurrency", (*decoder).integer, func(s *spec) **int64 { return &s.MaxConcurrency }, concurrency(" (0, no limit, is reached with unlimited: true)"), showInt),
	newField("initialConcurrency", (*decoder).integer, func(s *spec) **int64 { return &s.InitialConcurrency }, concurrency(""), showInt),
	newField("unlimited", (*decoder).boolean, func(s *spec) **bool { return &s.Unlimited }, nil, strconv.FormatBool),
	newField("growthFactor", (*decoder).number, func(s *spec) **float64 { return &s.GrowthFactor }, openClosed(1, 10), showFloat),
	newField("backoff", (*decoder).number, func(s *spec) **float64 { return &s.Backoff }, openOpen(0, 1), showFloat),
	newField("maxStepUp", (*decoder).number, func(s *spec) **float64 { return &s.MaxStepUp }, atLeast(1), showFloat),
	newField("maxStepDown", (*decoder).number, func(s *spec) **float64 { return &s.MaxStepDown }, openClosed(0, 1), showFloat),
	newField("band", (*decoder).number, func(s *spec) **float64 { return &s.Band }, closedOpen(0, 1), showFloat),
	newField("recoveryTime", (*decoder).duration, func(s *spec) **time.Duration { return &s.RecoveryTime }, positiveDuration(0), showDuration),
	newField("throttleThreshold", (*decoder).number, func(s *spec) **float64 { return &s.ThrottleThreshold }, atLeast(0), showFloat),
	newField("staleAfter", (*decoder).duration, func(s *spec) **time.Duration { return &s.StaleAfter }, positiveDuration(MinStaleAfter), showDuration),
	newField("dryRun", (*decoder).boolean, func(s *spec) **bool { return &s.DryRun }, nil, strconv.FormatBool),
	newField("failureSample", (*decoder).integer, func(s *spec) **int64 { return &s.FailureSample }, intRange(0, MaxFailureSample), showInt),
	newField("throttleSignals", (*decoder).signals, func(s *spec) **[]Signal { return &s.ThrottleSignals }, nil, showSignals),
	newField("group", (*decoder).str, func(s *spec) **string { return &s.Group }, checkGroup, func(v string) string { return v }),
	newField("tolerance.baselinePercent", (*decoder).number, func(s *spec) **float64 { return &s.Tolerance.BaselinePercent }, closed(0, 100), showFloat),
	newField("tolerance.baselineCount", (*decoder).integer, func(s *spec) **int64 { return &s.Tolerance.BaselineCount }, intRange(0, -1), showInt),
	newField("tolerance.ceilingPercent", (*decoder).number, func(s *spec) **float64 { return &s.Tolerance.CeilingPercent }, closed(0, 100), showFloat),
	newField("tolerance.ceilingCount", (*decoder).integer, func(s *spec) **int64 { return &s.Tolerance.CeilingCount }, intRange(0, -1), showInt),
	newField("tolerance.raiseUnset", (*decoder).boolean, func(s *spec) **bool { return &s.Tolerance.RaiseUnset }, nil, strconv.FormatBool),
	newField("tolerance.failFast", (*decoder).boolean, func(s *spec) **bool { return &s.Tolerance.FailFast }, nil, strconv.FormatBool),
	newField("tolerance.failFastRate", (*decoder).number, func(s *spec) **float64 { return &s.Tolerance.FailFastRate }, openClosed(0, 1), showFloat),
	newField("tolerance.failFastMinItems", (*decoder).integer, func(s *spec) **int64 { return &s.Tolerance.FailFastMinItems }, intRange(1, -1), showInt),
}

// fieldByName indexes fields by path.
var fieldByName = func() map[string]*field {
	m := make(map[string]*field, len(fields))
	for i := range fields {
		m[fields[i].name] = &fields[i]
	}
	return m
}()

// has reports whether s sets the field at path name.
func (s *spec) has(name string) bool {
	f, ok := fieldByName[name]
	return ok && f.isSet(s)
}

// over returns s laid over base: s's fields where s sets them, base's elsewhere.
func (s *spec) over(base *spec) spec {
	out := *base
	for _, f := range fields {
		f.copy(&out, s)
	}
	return out
}

// resolve lays the explicit fields s (a policy, or a label override already
// laid over its policy) over the built-in defaults. A default never makes a
// policy invalid: when initialConcurrency is not written it is clamped into
// [minConcurrency, maxConcurrency], and ceilings not written are raised to
// the baselines.
func (s *spec) resolve() spec {
	out := s.over(&builtin)
	if s.ThrottleSignals == nil && s.ThrottleThreshold == nil {
		// The built-in signal is Step Functions' own ExecutionThrottled: a
		// transition or start the service delayed and retries itself. A
		// few a minute say nothing of the downstream, and stepping back
		// for each would ratchet the limit down run after run.
		v := DefaultSignalThreshold
		out.ThrottleThreshold = &v
	}
	if s.InitialConcurrency == nil && *out.MinConcurrency <= *out.MaxConcurrency {
		v := min(max(*out.InitialConcurrency, *out.MinConcurrency), *out.MaxConcurrency)
		out.InitialConcurrency = &v
	}
	t := &out.Tolerance
	if s.Tolerance.CeilingPercent == nil && *t.BaselinePercent > *t.CeilingPercent {
		t.CeilingPercent = t.BaselinePercent
	}
	if s.Tolerance.CeilingCount == nil && *t.BaselineCount > *t.CeilingCount {
		t.CeilingCount = t.BaselineCount
	}
	return out
}

// resolved converts a resolved spec, every field set and checked, to a Resolved.
func (s *spec) resolved(policy, label string) Resolved {
	t := s.Tolerance
	return Resolved{
		Policy: policy,
		Label:  label,
		Control: control.Config{
			MinConcurrency:     int32(*s.MinConcurrency),
			MaxConcurrency:     int32(*s.MaxConcurrency),
			Unlimited:          *s.Unlimited,
			InitialConcurrency: int32(*s.InitialConcurrency),
			GrowthFactor:       *s.GrowthFactor,
			Backoff:            *s.Backoff,
			MaxStepUp:          *s.MaxStepUp,
			MaxStepDown:        *s.MaxStepDown,
			Band:               *s.Band,
			RecoveryTime:       *s.RecoveryTime,
			ThrottleThreshold:  *s.ThrottleThreshold,
			StaleAfter:         *s.StaleAfter,
			Tolerance: control.Tolerance{
				BaselinePercent:  *t.BaselinePercent,
				BaselineCount:    *t.BaselineCount,
				CeilingPercent:   *t.CeilingPercent,
				CeilingCount:     *t.CeilingCount,
				RaiseUnset:       *t.RaiseUnset,
				FailFast:         *t.FailFast,
				FailFastRate:     *t.FailFastRate,
				FailFastMinItems: *t.FailFastMinItems,
			},
		},
		Signals:       cloneSignals(*s.ThrottleSignals),
		Group:         *s.Group,
		DryRun:        *s.DryRun,
		FailureSample: int(*s.FailureSample),
	}
}

// fromConfig is the spec of a control.Config: every field of the Config
// set, except the fail-fast rate and minimum when fail-fast is off, where
// the Config leaves them zero.
func fromConfig(c control.Config) spec {
	t := c.Tolerance
	s := spec{
		MinConcurrency:     new(int64(c.MinConcurrency)),
		MaxConcurrency:     new(int64(c.MaxConcurrency)),
		InitialConcurrency: new(int64(c.InitialConcurrency)),
		Unlimited:          new(c.Unlimited),
		GrowthFactor:       new(c.GrowthFactor),
		Backoff:            new(c.Backoff),
		MaxStepUp:          new(c.MaxStepUp),
		MaxStepDown:        new(c.MaxStepDown),
		Band:               new(c.Band),
		RecoveryTime:       new(c.RecoveryTime),
		ThrottleThreshold:  new(c.ThrottleThreshold),
		StaleAfter:         new(c.StaleAfter),
		Tolerance: toleranceSpec{
			BaselinePercent: new(t.BaselinePercent),
			BaselineCount:   new(t.BaselineCount),
			CeilingPercent:  new(t.CeilingPercent),
			CeilingCount:    new(t.CeilingCount),
			RaiseUnset:      new(t.RaiseUnset),
			FailFast:        new(t.FailFast),
		},
	}
	if t.FailFast {
		s.Tolerance.FailFastRate = new(t.FailFastRate)
		s.Tolerance.FailFastMinItems = new(t.FailFastMinItems)
	}
	return s
}

func showInt(v int64) string     { return strconv.FormatInt(v, 10) }
func showFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// showDuration formats d without zero trailing units: 5m rather than 5m0s.
func showDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// showSignals formats signals as NAMESPACE/METRIC STAT {dimensions}, one per signal.
func showSignals(sigs []Signal) string {
	parts := make([]string, len(sigs))
	for i, s := range sigs {
		parts[i] = s.Key()
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// checkGroup checks a group name: empty (no group), or 1 to
// maxPolicyName of the characters a policy name may have.
func checkGroup(v string) string {
	if v != "" && (!policyName.MatchString(v) || len(v) > maxPolicyName) {
		return fmt.Sprintf("invalid group %q: want 1 to %d letters, digits and _.:/=+@-, or \"\" for none", v, maxPolicyName)
	}
	return ""
}

// concurrency checks a maxConcurrency-like value: 1 to 10,000; hint is
// added to the message for 0.
func concurrency(hint string) func(int64) string {
	return func(v int64) string {
		switch {
		case v < 1:
			return fmt.Sprintf("%d is below 1%s", v, hint)
		case v > MaxConcurrencyLimit:
			return fmt.Sprintf("%d is above %d", v, MaxConcurrencyLimit)
		}
		return ""
	}
}

// intRange checks lo <= v <= hi; hi < lo means no upper bound.
func intRange(lo, hi int64) func(int64) string {
	return func(v int64) string {
		switch {
		case v < lo:
			return fmt.Sprintf("%d is below %d", v, lo)
		case hi >= lo && v > hi:
			return fmt.Sprintf("%d is above %d", v, hi)
		}
		return ""
	}
}

// closed checks v in [lo, hi].
func closed(lo, hi float64) func(float64) string {
	return func(v float64) string {
		if v < lo || v > hi {
			return fmt.Sprintf("%s is not in [%s, %s]", showFloat(v), showFloat(lo), showFloat(hi))
		}
		return ""
	}
}

// openOpen checks v in (lo, hi).
func openOpen(lo, hi float64) func(float64) string {
	return func(v float64) string {
		if v <= lo || v >= hi {
			return fmt.Sprintf("%s is not in (%s, %s)", showFloat(v), showFloat(lo), showFloat(hi))
		}
		return ""
	}
}

// openClosed checks v in (lo, hi].
func openClosed(lo, hi float64) func(float64) string {
	return func(v float64) string {
		if v <= lo || v > hi {
			return fmt.Sprintf("%s is not in (%s, %s]", showFloat(v), showFloat(lo), showFloat(hi))
		}
		return ""
	}
}

// closedOpen checks v in [lo, hi).
func closedOpen(lo, hi float64) func(float64) string {
	return func(v float64) string {
		if v < lo || v >= hi {
			return fmt.Sprintf("%s is not in [%s, %s)", showFloat(v), showFloat(lo), showFloat(hi))
		}
		return ""
	}
}

// atLeast checks v >= lo.
func atLeast(lo float64) func(float64) string {
	return func(v float64) string {
		if v < lo {
			return fmt.Sprintf("%s is below %s", showFloat(v), showFloat(lo))
		}
		return ""
	}
}

// positiveDuration checks d > 0 and d >= lo.
func positiveDuration(lo time.Duration) func(time.Duration) string {
	return func(d time.Duration) string {
		switch {
		case d <= 0:
			return fmt.Sprintf("%s is not positive", d)
		case d < lo:
			return fmt.Sprintf("%s is below %s", showDuration(d), showDuration(lo))
		}
		return ""
	}
}
