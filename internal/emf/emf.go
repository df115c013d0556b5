// Package emf writes CloudWatch embedded metric format (EMF) log lines: JSON
// objects that CloudWatch Logs turns into metrics, with no PutMetricData call.
package emf

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// Namespace is the CloudWatch namespace of maptuner's metrics.
const Namespace = "maptuner"

// Unit is a CloudWatch metric unit.
type Unit string

// The units maptuner emits.
const (
	Count        Unit = "Count"
	CountPerSec  Unit = "Count/Second"
	Milliseconds Unit = "Milliseconds"
	Percent      Unit = "Percent"
	None         Unit = "None"
)

// maxDimensions is the most dimensions EMF takes in one dimension set.
const maxDimensions = 30

// Metric is one value of an EMF record.
type Metric struct {
	Name  string
	Value float64
	Unit  Unit
}

// Record is one EMF line: metrics under one or more dimension sets, plus
// properties that are logged but not turned into metrics.
type Record struct {
	// Namespace is the CloudWatch namespace, for example Namespace.
	Namespace string
	// Dimensions are the dimension values by name; none may be empty.
	Dimensions map[string]string
	// Sets are the dimension sets: the metrics are published once under
	// each, a set being names of Dimensions. An empty set publishes them
	// with no dimension. Nil means one set of all the Dimensions.
	Sets    [][]string
	Metrics []Metric
	// Properties are extra fields for Logs Insights; they must not clash with
	// dimension or metric names.
	Properties map[string]any
	// Time is the timestamp of the values.
	Time time.Time
}

// Write writes r as one JSON line to w.
func Write(w io.Writer, r Record) error {
	if r.Namespace == "" || len(r.Metrics) == 0 {
		return fmt.Errorf("emf: record needs a namespace and at least one metric")
	}
	doc := make(map[string]any, len(r.Properties)+len(r.Dimensions)+len(r.Metrics)+1)
	for k, v := range r.Properties {
		doc[k] = v
	}
	all := make([]string, 0, len(r.Dimensions))
	for k, v := range r.Dimensions {
		if v == "" {
			return fmt.Errorf("emf: dimension %q has no value", k)
		}
		all = append(all, k)
		doc[k] = v
	}
	sort.Strings(all)
	sets := [][]string{all}
	if r.Sets != nil {
		sets = make([][]string, len(r.Sets))
	}
	for i, set := range r.Sets {
		sets[i] = append([]string{}, set...) // an empty set is [], not null
	}
	for _, set := range sets {
		if len(set) > maxDimensions {
			return fmt.Errorf("emf: dimension set %q has %d dimensions, at most %d", set, len(set), maxDimensions)
		}
		for _, name := range set {
			if _, ok := r.Dimensions[name]; !ok {
				return fmt.Errorf("emf: dimension set %q names %q, which has no value", set, name)
			}
		}
	}
	defs := make([]map[string]string, 0, len(r.Metrics))
	for _, m := range r.Metrics {
		if _, clash := doc[m.Name]; clash {
			return fmt.Errorf("emf: metric %q clashes with a dimension or property", m.Name)
		}
		doc[m.Name] = m.Value
		defs = append(defs, map[string]string{"Name": m.Name, "Unit": string(m.Unit)})
	}
	doc["_aws"] = map[string]any{
		"Timestamp": r.Time.UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  r.Namespace,
			"Dimensions": sets,
			"Metrics":    defs,
		}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("emf: encode record: %w", err)
	}
	_, err = w.Write(append(line, '\n'))
	return err
}
