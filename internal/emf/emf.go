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

// Unit is a CloudWatch metric unit.
type Unit string

// The units maptuner emits.
const (
	Count       Unit = "Count"
	CountPerSec Unit = "Count/Second"
	Percent     Unit = "Percent"
	None        Unit = "None"
)

// Metric is one value of an EMF record.
type Metric struct {
	Name  string
	Value float64
	Unit  Unit
}

// Record is one EMF line: metrics under one set of dimensions, plus
// properties that are logged but not turned into metrics.
type Record struct {
	// Namespace is the CloudWatch namespace, for example "maptuner".
	Namespace string
	// Dimensions are name/value pairs; the metrics are published under all of
	// them together, and, when Aggregate is set, also with no dimension.
	Dimensions map[string]string
	// Aggregate also publishes the metrics with no dimension, for account-wide graphs.
	Aggregate bool
	Metrics   []Metric
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
	dims := make([]string, 0, len(r.Dimensions))
	for k, v := range r.Dimensions {
		dims = append(dims, k)
		doc[k] = v
	}
	sort.Strings(dims)
	sets := [][]string{dims}
	if r.Aggregate && len(dims) > 0 {
		sets = append(sets, []string{})
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
