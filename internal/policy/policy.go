package policy

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/maptuner/maptuner/internal/control"
)

// TagKey is the state machine tag that opts a state machine in; its value
// names the policy, for example maptuner:policy=default.
const TagKey = "maptuner:policy"

// DefaultPolicy is the name of the policy every file must define.
const DefaultPolicy = "default"

// ErrUnknownPolicy is returned by Resolve for a policy name the Set does not hold.
var ErrUnknownPolicy = errors.New("unknown policy")

// ErrInvalid is wrapped by every validation error: every FieldError, and so
// every error of Parse and Load that is about the file's content.
var ErrInvalid = errors.New("invalid policy file")

// FieldError is one problem found in a policies file or a control.Config.
// It wraps ErrInvalid. Parse and Load join all the problems of a file with
// errors.Join, so errors.As finds the first one and errors.Is(err, ErrInvalid)
// holds for all of them.
type FieldError struct {
	// File is the name of the file; empty for ValidateConfig.
	File string
	// Line is the 1-based line of the offending value; zero when unknown.
	Line int
	// Policy is the policy the problem is in; empty for file-level problems.
	Policy string
	// Label is the Map label override the problem is in; empty outside one.
	Label string
	// Field is the path of the offending field inside the policy or label
	// override, such as "tolerance.ceilingPercent" or "throttleSignals[0].stat",
	// or a top-level key such as "version"; empty when the problem is the
	// policy or label itself.
	Field string
	// Problem says what is wrong with it.
	Problem string
}

// Error formats the problem as FILE:LINE: policy "P": labels.L.FIELD: PROBLEM,
// leaving out the parts that are empty.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Policy != "" {
		fmt.Fprintf(&b, "policy %q: ", e.Policy)
	}
	path := e.Field
	if e.Label != "" {
		path = joinPath(labelPath(e.Label), e.Field)
	}
	if path != "" {
		b.WriteString(path + ": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

var plainLabel = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// labelPath is how a label override is named in messages: labels.NAME, or
// labels["NAME"] when the name is not a plain word.
func labelPath(label string) string {
	if plainLabel.MatchString(label) {
		return "labels." + label
	}
	return "labels[" + strconv.Quote(label) + "]"
}

// joinPath joins two parts of a field path with a dot, either may be empty.
func joinPath(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	case strings.HasPrefix(b, "["):
		return a + b
	}
	return a + "." + b
}

// Resolved is one policy as it applies to the Map Runs of one label: the
// built-in defaults, overridden by the policy, overridden by the policy's
// override for that label.
type Resolved struct {
	// Policy is the policy name.
	Policy string `json:"policy"`
	// Label is the Map label asked for; empty for the policy itself. It is
	// set whether or not the policy has an override for it.
	Label string `json:"label,omitempty"`
	// Control is the controller configuration; it passes ValidateConfig.
	Control control.Config `json:"control"`
	// Signals are the CloudWatch metrics whose per-minute values are summed
	// into the throttle count, with placeholders not yet expanded (see
	// Signal.Expand). Empty when the policy watches no metric.
	Signals []Signal `json:"signals,omitempty"`
	// Group names the downstream the Map Runs of this policy share with
	// those of every policy of the same group, whatever their signals; empty
	// for none, when runs share a downstream only by naming the same signals.
	Group string `json:"group,omitempty"`
	// DryRun is true when the tuner must decide and log but never call UpdateMapRun.
	DryRun bool `json:"dryRun,omitempty"`
	// FailureSample is how many failed children to sample per tick to
	// classify failures, in [0, 100]; zero turns sampling off.
	FailureSample int `json:"failureSample"`
}

// clone returns a copy of r that shares no memory with it.
func (r Resolved) clone() Resolved {
	r.Signals = cloneSignals(r.Signals)
	return r
}

// compiled is one validated policy with its label overrides resolved.
type compiled struct {
	base   Resolved
	labels map[string]Resolved
}

// Set is a validated, immutable set of policies. It is safe for concurrent use.
type Set struct {
	policies map[string]compiled
}

// Names returns the policy names in lexical order.
func (s *Set) Names() []string {
	return slices.Sorted(maps.Keys(s.policies))
}

// Resolve returns the policy named policy as it applies to Map Runs of the
// given label (the LABEL of a Map Run ARN); an empty label, or one the policy
// has no override for, gets the policy itself. The error wraps
// ErrUnknownPolicy and names the policy when the Set has no such policy.
func (s *Set) Resolve(policy, label string) (Resolved, error) {
	p, ok := s.policies[policy]
	if !ok {
		return Resolved{}, fmt.Errorf("%w %q: have %s", ErrUnknownPolicy, policy, quoteAll(s.Names()))
	}
	r, ok := p.labels[label]
	if !ok {
		r = p.base
		r.Label = label
	}
	return r.clone(), nil
}

// quoteAll formats names as "a", "b", "c".
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// Load reads and parses the policies file at path; messages name the file by path.
func Load(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a policies file, YAML or JSON, whose name is
// used in messages. It reports every problem of the file at once, joined
// with errors.Join; each is a *FieldError and wraps ErrInvalid.
func Parse(name string, data []byte) (*Set, error) {
	f, errs := decodeFile(name, data)
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	set := &Set{policies: make(map[string]compiled, len(f.policies))}
	for _, p := range f.policies {
		full := p.spec.resolve()
		c := compiled{base: full.resolved(p.name, ""), labels: make(map[string]Resolved, len(p.labels))}
		for _, l := range p.labels {
			explicit := l.spec.over(&p.spec)
			full := explicit.resolve()
			c.labels[l.name] = full.resolved(p.name, l.name)
		}
		set.policies[p.name] = c
	}
	return set, nil
}

// Default returns the built-in set: one policy, "default", with every field
// at its built-in default.
func Default() *Set { return defaultSet() }

var defaultSet = sync.OnceValue(func() *Set {
	return &Set{policies: map[string]compiled{
		DefaultPolicy: {base: new((&spec{}).resolve()).resolved(DefaultPolicy, ""), labels: map[string]Resolved{}},
	}}
})

// sortLine puts problems without a line after all others.
func sortLine(line int) int {
	if line == 0 {
		return math.MaxInt
	}
	return line
}

// joinErrors orders the problems by line, those without a line last, and
// joins them.
func joinErrors(errs []*FieldError) error {
	slices.SortStableFunc(errs, func(a, b *FieldError) int {
		return cmp.Compare(sortLine(a.Line), sortLine(b.Line))
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}
