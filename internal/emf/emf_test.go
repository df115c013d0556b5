package emf

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	err := Write(&buf, Record{
		Namespace:  "maptuner",
		Dimensions: map[string]string{"MapRun": "etl/ProcessItems"},
		Aggregate:  true,
		Metrics:    []Metric{{"MaxConcurrency", 120, Count}, {"Throughput", 3.5, CountPerSec}},
		Properties: map[string]any{"reason": "SlowStart"},
		Time:       at,
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		MapRun         string
		MaxConcurrency float64
		Reason         string `json:"reason"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.String())
	}
	cw := doc.AWS.CloudWatchMetrics
	if doc.AWS.Timestamp != at.UnixMilli() || len(cw) != 1 || cw[0].Namespace != "maptuner" ||
		len(cw[0].Dimensions) != 2 || cw[0].Dimensions[0][0] != "MapRun" || len(cw[0].Dimensions[1]) != 0 ||
		len(cw[0].Metrics) != 2 || cw[0].Metrics[1].Unit != "Count/Second" {
		t.Fatalf("bad EMF document: %s", buf.String())
	}
	if doc.MapRun != "etl/ProcessItems" || doc.MaxConcurrency != 120 || doc.Reason != "SlowStart" {
		t.Fatalf("values not at the top level: %s", buf.String())
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("want one line, got %q", buf.String())
	}
}

func TestWriteRejects(t *testing.T) {
	tests := map[string]Record{
		"no namespace": {Metrics: []Metric{{"A", 1, Count}}},
		"no metrics":   {Namespace: "n"},
		"clash":        {Namespace: "n", Dimensions: map[string]string{"A": "x"}, Metrics: []Metric{{"A", 1, Count}}},
	}
	for name, r := range tests {
		var buf bytes.Buffer
		if err := Write(&buf, r); err == nil || buf.Len() != 0 {
			t.Errorf("%s: err %v, wrote %q", name, err, buf.String())
		}
	}
}
