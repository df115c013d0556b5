package policy

// Reading the YAML node tree: mappings (with merge keys and aliases) and
// the scalars a policy's fields are written as, each problem recorded with
// its line.

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// entry is one key and value of a mapping.
type entry struct {
	name     string
	key, val *yaml.Node
}

// deref follows aliases to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

// mapping returns n as a mapping node: nil for null (an empty mapping), or
// nil after recording that n is something else.
func (d *decoder) mapping(n *yaml.Node, at loc) *yaml.Node {
	n = deref(n)
	switch {
	case n.Kind == yaml.MappingNode:
		return n
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return nil
	}
	d.errorf(n, at, "want a mapping, got %s", describe(n))
	return nil
}

// mappingEntries returns the keys and values of the mapping n (nil: none), with
// YAML merge keys (<<) applied: a key written in n wins over a merged one,
// and an earlier merged mapping over a later one. Duplicate keys and keys
// that are not names are recorded as problems.
func (d *decoder) mappingEntries(n *yaml.Node, at loc, depth int) []entry {
	if n == nil || d.read > maxEntries {
		return nil
	}
	d.read += len(n.Content) / 2
	if d.read > maxEntries {
		d.errorf(n, loc{}, "more than %d mapping entries once aliases and merge keys are expanded", maxEntries)
		return nil
	}
	seen := map[string]*yaml.Node{}
	var own, merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			d.errorf(k, at, "want a name as key, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(v, at, depth)...)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, at.with(k.Value), "duplicate key (first at line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		own = append(own, entry{name: k.Value, key: k, val: v})
	}
	for _, e := range merged {
		if _, ok := seen[e.name]; !ok {
			seen[e.name] = e.key
			own = append(own, e)
		}
	}
	return own
}

// merge returns the entries a merge key's value brings in: those of one
// mapping, or of a list of mappings.
func (d *decoder) merge(v *yaml.Node, at loc, depth int) []entry {
	if depth >= maxMergeDepth {
		d.errorf(v, at, "merge keys (<<) nested deeper than %d", maxMergeDepth)
		return nil
	}
	v = deref(v)
	switch v.Kind {
	case yaml.MappingNode:
		return d.mappingEntries(v, at, depth+1)
	case yaml.SequenceNode:
		var out []entry
		seen := map[string]bool{}
		for _, item := range v.Content {
			item = deref(item)
			if item.Kind != yaml.MappingNode {
				d.errorf(item, at, "merge key (<<): want a mapping or a list of mappings, got a list holding %s", describe(item))
				continue
			}
			for _, e := range d.mappingEntries(item, at, depth+1) {
				if !seen[e.name] {
					seen[e.name] = true
					out = append(out, e)
				}
			}
		}
		return out
	}
	d.errorf(v, at, "merge key (<<): want a mapping or a list of mappings, got %s", describe(v))
	return nil
}

// describe names what a node is, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if utf8.RuneCountInString(v) > 40 {
			v = string([]rune(v)[:40]) + "..."
		}
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return strconv.Quote(v)
		case "!!int", "!!float", "!!bool":
			return v
		}
		return n.ShortTag() + " " + strconv.Quote(v)
	case yaml.AliasNode:
		return "an alias nested too deep"
	}
	return "an empty document"
}

// integer reads a whole number.
func (d *decoder) integer(n *yaml.Node, at loc) (int64, bool) {
	n = deref(n)
	var v int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		d.errorf(n, at, "want an integer, got %s", describe(n))
		return 0, false
	}
	return v, true
}

// number reads a finite number.
func (d *decoder) number(n *yaml.Node, at loc) (float64, bool) {
	n = deref(n)
	var v float64
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&v) != nil {
		d.errorf(n, at, "want a number, got %s", describe(n))
		return 0, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(n, at, "want a finite number, got %s", describe(n))
		return 0, false
	}
	return v, true
}

// boolean reads true or false.
func (d *decoder) boolean(n *yaml.Node, at loc) (bool, bool) {
	n = deref(n)
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		d.errorf(n, at, "want true or false, got %s", describe(n))
		return false, false
	}
	return v, true
}

// duration reads a Go duration such as 90s, 5m or 1h30m.
func (d *decoder) duration(n *yaml.Node, at loc) (time.Duration, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		if v, err := time.ParseDuration(n.Value); err == nil {
			return v, true
		}
	}
	d.errorf(n, at, "want a duration with a unit, such as 30s, 5m or 1h30m, got %s", describe(n))
	return 0, false
}

// text reads a scalar as the string it is written as.
func (d *decoder) text(n *yaml.Node, at loc) (string, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool":
			return n.Value, true
		}
	}
	d.errorf(n, at, "want a string, got %s", describe(n))
	return "", false
}

// str reads a scalar written as a string: 42 or true are not strings.
func (d *decoder) str(n *yaml.Node, at loc) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.errorf(n, at, "want a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}
