package emf

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// document is what CloudWatch reads of an EMF line.
type document struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	err := Write(&buf, Record{
		Namespace:  Namespace,
		Dimensions: map[string]string{"Stack": "prod", "StateMachine": "etl", "Label": "ProcessItems", "Policy": "default"},
		Sets:       [][]string{{"Stack", "StateMachine", "Label"}, {"Stack", "Policy"}, {}},
		Metrics:    []Metric{{"MaxConcurrency", 120, Count}, {"Throughput", 3.5, CountPerSec}},
		Properties: map[string]any{"reason": "SlowStart"},
		Time:       at,
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc document
	var values struct {
		StateMachine, Label, Policy, Stack string
		MaxConcurrency                     float64
		Reason                             string `json:"reason"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.String())
	}
	if err := json.Unmarshal(buf.Bytes(), &values); err != nil {
		t.Fatal(err)
	}
	cw := doc.AWS.CloudWatchMetrics
	if doc.AWS.Timestamp != at.UnixMilli() || len(cw) != 1 || cw[0].Namespace != "maptuner" ||
		len(cw[0].Metrics) != 2 || cw[0].Metrics[1].Unit != "Count/Second" {
		t.Fatalf("bad EMF document: %s", buf.String())
	}
	if got := cw[0].Dimensions; len(got) != 3 || strings.Join(got[0], ",") != "Stack,StateMachine,Label" ||
		strings.Join(got[1], ",") != "Stack,Policy" || got[2] == nil || len(got[2]) != 0 {
		t.Fatalf("dimension sets %q: %s", got, buf.String())
	}
	if !strings.Contains(buf.String(), `[]]`) {
		t.Fatalf("the empty dimension set is not written as []: %s", buf.String())
	}
	if values.StateMachine != "etl" || values.Label != "ProcessItems" || values.Policy != "default" || values.Stack != "prod" ||
		values.MaxConcurrency != 120 || values.Reason != "SlowStart" {
		t.Fatalf("values not at the top level: %s", buf.String())
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("want one line, got %q", buf.String())
	}
}

func TestWriteOneSetByDefault(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, Record{Namespace: "n", Dimensions: map[string]string{"B": "b", "A": "a"}, Metrics: []Metric{{"M", 1, Count}}}); err != nil {
		t.Fatal(err)
	}
	var doc document
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.AWS.CloudWatchMetrics[0].Dimensions; len(got) != 1 || strings.Join(got[0], ",") != "A,B" {
		t.Fatalf("dimension sets %q, want [[A B]]", got)
	}
}

func TestWriteRejects(t *testing.T) {
	many := make([]string, maxDimensions+1)
	dims := map[string]string{}
	for i := range many {
		many[i] = string(rune('A' + i))
		dims[many[i]] = "x"
	}
	tests := map[string]struct {
		r    Record
		want string
	}{
		"no namespace":      {Record{Metrics: []Metric{{"A", 1, Count}}}, "namespace"},
		"no metrics":        {Record{Namespace: "n"}, "at least one metric"},
		"clash":             {Record{Namespace: "n", Dimensions: map[string]string{"A": "x"}, Metrics: []Metric{{"A", 1, Count}}}, `"A" clashes`},
		"empty value":       {Record{Namespace: "n", Dimensions: map[string]string{"Label": ""}, Metrics: []Metric{{"M", 1, Count}}}, `"Label" has no value`},
		"unknown dimension": {Record{Namespace: "n", Dimensions: map[string]string{"A": "x"}, Sets: [][]string{{"A", "B"}}, Metrics: []Metric{{"M", 1, Count}}}, `names "B"`},
		"too many":          {Record{Namespace: "n", Dimensions: dims, Metrics: []Metric{{"M", 1, Count}}}, "at most 30"},
	}
	for name, tt := range tests {
		var buf bytes.Buffer
		if err := Write(&buf, tt.r); err == nil || !strings.Contains(err.Error(), tt.want) || buf.Len() != 0 {
			t.Errorf("%s: err %v (want one naming %q), wrote %q", name, err, tt.want, buf.String())
		}
	}
}
