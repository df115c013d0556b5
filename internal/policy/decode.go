package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The limits on names in a policies file.
const (
	// maxPolicyName is the longest policy name.
	maxPolicyName = 128
	// maxLabelName is the longest Map label: a state name has at most 80 characters.
	maxLabelName = 80
	// maxNameLen is the longest CloudWatch namespace, metric or dimension name.
	maxNameLen = 255
	// maxValueLen is the longest CloudWatch dimension value.
	maxValueLen = 1024
	// maxMergeDepth bounds YAML merge keys (<<) within merged mappings.
	maxMergeDepth = 16
	// maxAliasDepth bounds chains of YAML aliases.
	maxAliasDepth = 64
	// maxEntries bounds the mapping entries read, merge keys expanded: a
	// file of aliases to merges of aliases could otherwise expand to
	// billions of entries.
	maxEntries = 100000
)

// extensionPrefix starts the top-level keys that are ignored: a place for
// YAML anchors that policies share.
const extensionPrefix = "x-"

// policyName is what a policy name may be: it is a tag value, and tag values
// allow these characters.
var policyName = regexp.MustCompile(`^[A-Za-z0-9_.:/=+@-]+$`)

// level is one policy or label override as decoded, with where its fields
// were written.
type level struct {
	// name is the policy or label name.
	name string
	// line is the line of the name.
	line int
	// spec holds the fields written and decoded without error.
	spec spec
	// lines maps the path of each field in spec to the line it was written on.
	lines map[string]int
	// bad holds the paths of the fields written but rejected.
	bad map[string]bool
}

// newLevel returns an empty level named name, written on line.
func newLevel(name string, line int) level {
	return level{name: name, line: line, lines: map[string]int{}, bad: map[string]bool{}}
}

// policyLevel is a decoded policy with its label overrides, in file order.
type policyLevel struct {
	level
	labels []level
}

// fileSpec is a decoded policies file, policies in file order.
type fileSpec struct {
	policies []policyLevel
}

// loc is where in a file a value is: policy, label override and field path.
type loc struct {
	policy, label, field string
}

// with returns l with name appended to its field path.
func (l loc) with(name string) loc {
	l.field = joinPath(l.field, name)
	return l
}

// index returns l with the list index i appended to its field path.
func (l loc) index(i int) loc {
	l.field += "[" + strconv.Itoa(i) + "]"
	return l
}

// decoder walks the YAML node tree of one file and collects every problem.
type decoder struct {
	file string
	errs []*FieldError
	// read counts the mapping entries read, up to maxEntries.
	read int
}

// errorf records a problem with node n (nil: no line) at at.
func (d *decoder) errorf(n *yaml.Node, at loc, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &FieldError{
		File: d.file, Line: line, Policy: at.policy, Label: at.label, Field: at.field,
		Problem: fmt.Sprintf(format, args...),
	})
}

// decodeFile decodes and validates a policies file. It returns every
// problem found; the fileSpec is complete only when there is none.
func decodeFile(name string, data []byte) (fileSpec, []*FieldError) {
	d := &decoder{file: name}
	var f fileSpec
	root := d.parse(data)
	if root == nil {
		return f, d.errs
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root, loc{}, "want a mapping with version and policies, got %s", describe(root))
		return f, d.errs
	}
	var haveVersion, haveDefault bool
	var policiesNode *yaml.Node
	for _, e := range d.mappingEntries(root, loc{}, 0) {
		switch e.name {
		case "version":
			haveVersion = true
			at := loc{field: "version"}
			if v, ok := d.integer(e.val, at); ok && v != 1 {
				d.errorf(e.val, at, "%d is not supported; want 1", v)
			}
		case "policies":
			policiesNode = e.key
			for _, p := range d.mappingEntries(d.mapping(e.val, loc{field: "policies"}), loc{field: "policies"}, 0) {
				pl := d.policy(p)
				haveDefault = haveDefault || pl.name == DefaultPolicy
				f.policies = append(f.policies, pl)
			}
		default:
			if strings.HasPrefix(e.name, extensionPrefix) {
				continue
			}
			d.unknown(e, loc{}, []string{"version", "policies"})
		}
	}
	if !haveVersion {
		d.errorf(root, loc{field: "version"}, "missing; want version: 1")
	}
	if !haveDefault {
		d.errorf(policiesNode, loc{field: "policies"}, "no policy named %q; every file needs one", DefaultPolicy)
	}
	return f, d.errs
}

// parse reads the single YAML document of data and returns its root node,
// or nil after recording why there is none.
func (d *decoder) parse(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(nil, loc{}, "file is empty; want version: 1 and policies")
		} else {
			d.syntax(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntax(err)
		return nil
	default:
		d.errorf(&extra, loc{}, "more than one YAML document; want one")
		return nil
	}
	if len(doc.Content) == 0 {
		d.errorf(nil, loc{}, "file is empty; want version: 1 and policies")
		return nil
	}
	root := deref(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		d.errorf(root, loc{}, "file is empty; want version: 1 and policies")
		return nil
	}
	return root
}

// syntax records a YAML syntax error, taking its line out of the message.
func (d *decoder) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				line, msg = v, after
			}
		}
	}
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Problem: "invalid YAML: " + msg})
}

// policy decodes one entry of policies and checks it.
func (d *decoder) policy(e entry) policyLevel {
	at := loc{policy: e.name}
	if !policyName.MatchString(e.name) || len(e.name) > maxPolicyName {
		d.errorf(e.key, loc{field: "policies"}, "invalid policy name %q: want 1 to %d letters, digits and _.:/=+@- (it is the value of the %s tag)", e.name, maxPolicyName, TagKey)
	}
	p := policyLevel{level: newLevel(e.name, e.key.Line)}
	for _, fe := range d.mappingEntries(d.mapping(e.val, at), at, 0) {
		if fe.name == "labels" {
			p.labels = d.labels(fe.val, at)
			continue
		}
		d.field(fe, at, &p.level)
	}
	d.check(at, &p.level, &p.spec, p.bad, false)
	for i := range p.labels {
		l := &p.labels[i]
		explicit := l.spec.over(&p.spec)
		bad := maps.Clone(p.bad)
		maps.Copy(bad, l.bad)
		d.check(loc{policy: e.name, label: l.name}, l, &explicit, bad, true)
	}
	return p
}

// labels decodes the label overrides of a policy.
func (d *decoder) labels(n *yaml.Node, at loc) []level {
	var out []level
	for _, e := range d.mappingEntries(d.mapping(n, at.with("labels")), at.with("labels"), 0) {
		if e.name == "" {
			d.errorf(e.key, at.with("labels"), "empty label name")
			continue
		}
		lat := loc{policy: at.policy, label: e.name}
		if problem := checkLabel(e.name); problem != "" {
			d.errorf(e.key, lat, "%s", problem)
		}
		l := newLevel(e.name, e.key.Line)
		for _, fe := range d.mappingEntries(d.mapping(e.val, lat), lat, 0) {
			if fe.name == "labels" {
				d.errorf(fe.key, lat.with("labels"), "a label override cannot have labels of its own")
				continue
			}
			d.field(fe, lat, &l)
		}
		out = append(out, l)
	}
	return out
}

// checkLabel returns the problem with a Map label name, or "".
func checkLabel(name string) string {
	switch {
	case utf8.RuneCountInString(name) > maxLabelName:
		return fmt.Sprintf("label is longer than %d characters", maxLabelName)
	case strings.Contains(name, ":"):
		return "a Map Run label cannot contain ':'"
	case strings.IndexFunc(name, unicode.IsControl) >= 0 || !utf8.ValidString(name):
		return "label contains control characters or invalid UTF-8"
	}
	return ""
}

// topFields and toleranceFields are the field names allowed at the top of a
// policy or label override and under tolerance.
var topFields, toleranceFields = func() (top, tol []string) {
	for _, f := range fields {
		if name, ok := strings.CutPrefix(f.name, "tolerance."); ok {
			tol = append(tol, name)
		} else {
			top = append(top, f.name)
		}
	}
	return append(top, "tolerance"), tol
}()

// field decodes one entry of a policy or label override into lv.
func (d *decoder) field(e entry, at loc, lv *level) {
	if e.name == "tolerance" {
		tat := at.with("tolerance")
		for _, te := range d.mappingEntries(d.mapping(e.val, tat), tat, 0) {
			d.setField("tolerance."+te.name, te, at, lv)
		}
		return
	}
	d.setField(e.name, e, at, lv)
}

// setField decodes the field at path into lv.
func (d *decoder) setField(path string, e entry, at loc, lv *level) {
	f, ok := fieldByName[path]
	if !ok {
		d.unknownField(path, e, at)
		return
	}
	if f.decode(d, e.val, at.with(path), &lv.spec) {
		lv.lines[path] = e.key.Line
	} else {
		lv.bad[path] = true
	}
}

// unknownField records an unknown field of a policy or label override.
func (d *decoder) unknownField(path string, e entry, at loc) {
	if name, ok := strings.CutPrefix(path, "tolerance."); ok {
		if fieldByName[name] != nil {
			d.errorf(e.key, at.with(path), "unknown field; %s belongs at the top of the policy, not under tolerance", name)
			return
		}
		d.unknown(e, at.with("tolerance"), toleranceFields)
		return
	}
	if fieldByName["tolerance."+path] != nil {
		d.errorf(e.key, at.with(path), "unknown field; it belongs under tolerance: tolerance.%s", path)
		return
	}
	candidates := topFields
	if at.label == "" {
		candidates = append(candidates[:len(candidates):len(candidates)], "labels")
	}
	d.unknown(e, at, candidates)
}

// unknown records an unknown key, suggesting the closest candidate.
func (d *decoder) unknown(e entry, at loc, candidates []string) {
	if s := suggest(e.name, candidates); s != "" {
		d.errorf(e.key, at.with(e.name), "unknown field; did you mean %s?", s)
		return
	}
	d.errorf(e.key, at.with(e.name), "unknown field; want one of %s", strings.Join(candidates, ", "))
}

// suggest returns the candidate closest to name when it is close enough to
// be a typo (an edit for every three characters, and one more), or "".
func suggest(name string, candidates []string) string {
	best, bestDist := "", 2+len(name)/3
	for _, c := range candidates {
		if strings.EqualFold(c, name) {
			return c
		}
		if dist := editDistance(strings.ToLower(name), strings.ToLower(c)); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// signals reads a list of throttle signals.
func (d *decoder) signals(n *yaml.Node, at loc) ([]Signal, bool) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, at, "want a list of metrics ([] for none), got %s", describe(n))
		return nil, false
	}
	if len(n.Content) > MaxSignals {
		d.errorf(n, at, "%d metrics; at most %d", len(n.Content), MaxSignals)
		return nil, false
	}
	out := make([]Signal, 0, len(n.Content))
	ok := true
	seen := map[string]int{}
	for i, item := range n.Content {
		iat := at.index(i)
		sig, good := d.signal(item, iat)
		if !good {
			ok = false
			continue
		}
		if j, dup := seen[sig.Key()]; dup {
			d.errorf(item, iat, "same metric as %s; it would be counted twice", at.index(j).field)
			ok = false
			continue
		}
		seen[sig.Key()] = i
		out = append(out, sig)
	}
	return out, ok
}

// signalFields are the fields of a throttle signal, as signal reads them.
var signalFields = []string{"namespace", "metric", "stat", "dimensions", "sparse"}

// signal reads one throttle signal.
func (d *decoder) signal(n *yaml.Node, at loc) (Signal, bool) {
	var s Signal
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, at, "want a mapping with namespace, metric, stat and dimensions, got %s", describe(n))
		return s, false
	}
	ok := true
	var have [3]bool
	for _, e := range d.mappingEntries(n, at, 0) {
		fat := at.with(e.name)
		switch e.name {
		case "namespace":
			v, good := d.cwName(e.val, fat)
			if good && strings.HasPrefix(v, ":") {
				d.errorf(e.val, fat, "%q starts with ':'", v)
				good = false
			}
			s.Namespace, have[0], ok = v, true, ok && good
		case "metric":
			v, good := d.cwName(e.val, fat)
			s.Metric, have[1], ok = v, true, ok && good
		case "stat":
			v, good := d.text(e.val, fat)
			if good {
				if problem := checkStat(v); problem != "" {
					d.errorf(e.val, fat, "%s", problem)
					good = false
				}
			}
			s.Stat, have[2], ok = v, true, ok && good
		case "dimensions":
			dims, good := d.dimensions(e.val, fat)
			s.Dimensions, ok = dims, ok && good
		case "sparse":
			v, good := d.boolean(e.val, fat)
			s.Sparse, ok = v, ok && good
		default:
			d.unknown(e, at, signalFields)
			ok = false
		}
	}
	for i, name := range []string{"namespace", "metric", "stat"} {
		if !have[i] {
			d.errorf(n, at, "missing %s", name)
			ok = false
		}
	}
	return s, ok
}

// cwName reads a CloudWatch namespace, metric or dimension name value:
// 1 to 255 characters, no placeholder.
func (d *decoder) cwName(n *yaml.Node, at loc) (string, bool) {
	v, ok := d.text(n, at)
	if !ok {
		return "", false
	}
	switch {
	case v == "":
		d.errorf(n, at, "empty")
		return "", false
	case utf8.RuneCountInString(v) > maxNameLen:
		d.errorf(n, at, "longer than %d characters", maxNameLen)
		return "", false
	case strings.Contains(v, "${"):
		d.errorf(n, at, "placeholders are filled in dimension values only, got %q", v)
		return "", false
	}
	return v, true
}

// dimensions reads the dimensions of a signal, name to value.
func (d *decoder) dimensions(n *yaml.Node, at loc) (map[string]string, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, true
	}
	m := d.mapping(n, at)
	if m == nil {
		return nil, false
	}
	entries := d.mappingEntries(m, at, 0)
	if len(entries) > MaxDimensions {
		d.errorf(m, at, "%d dimensions; CloudWatch allows at most %d", len(entries), MaxDimensions)
		return nil, false
	}
	out := make(map[string]string, len(entries))
	ok := true
	for _, e := range entries {
		eat := at.with(e.name)
		switch {
		case e.name == "":
			d.errorf(e.key, at, "empty dimension name")
			ok = false
			continue
		case utf8.RuneCountInString(e.name) > maxNameLen:
			d.errorf(e.key, eat, "dimension name longer than %d characters", maxNameLen)
			ok = false
			continue
		}
		v, good := d.text(e.val, eat)
		if !good {
			ok = false
			continue
		}
		problem := checkPlaceholders(v)
		switch {
		case v == "":
			problem = "empty value"
		case utf8.RuneCountInString(v) > maxValueLen:
			problem = fmt.Sprintf("value longer than %d characters", maxValueLen)
		}
		if problem != "" {
			d.errorf(e.val, eat, "%s", problem)
			ok = false
			continue
		}
		out[e.name] = v
	}
	return out, ok
}
