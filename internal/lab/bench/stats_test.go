package bench

import (
	"encoding/json"
	"math"
	"testing"
)

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name   string
		sorted []float64
		q      float64
		want   float64
	}{
		{"empty", nil, 0.5, math.NaN()},
		{"one", []float64{7}, 0.9, 7},
		{"odd median", []float64{1, 2, 10}, 0.5, 2},
		{"even median interpolates", []float64{1, 2, 3, 10}, 0.5, 2.5},
		{"p90 of ten", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9, 9.1},
		{"p0 is the least", []float64{3, 4}, 0, 3},
		{"p100 is the most", []float64{3, 4}, 1, 4},
		{"inf above the median", []float64{1, 2, inf}, 0.5, 2},
		{"inf at the median", []float64{1, inf, inf}, 0.5, inf},
		{"interpolating towards inf", []float64{1, 2, 3, inf}, 0.9, inf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := quantile(tt.sorted, tt.q)
			if !same(got, tt.want) {
				t.Errorf("quantile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

func TestStatOf(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name        string
		values      []float64
		median, p90 float64
	}{
		{"unsorted", []float64{5, 1, 3}, 3, 4.6},
		{"NaN left out", []float64{nan, 4, nan, 2}, 3, 3.8},
		{"all NaN", []float64{nan, nan}, nan, nan},
		{"some never", []float64{1, 2, 3, math.Inf(1)}, 2.5, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := statOf(tt.values)
			if !same(float64(s.Median), tt.median) || !same(float64(s.P90), tt.p90) {
				t.Errorf("statOf(%v) = %v, want median %v p90 %v", tt.values, s, tt.median, tt.p90)
			}
		})
	}
}

// same is equality to 1e-9 that also holds for two NaNs or two infinities.
func same(a, b float64) bool {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return math.IsNaN(a) && math.IsNaN(b)
	case math.IsInf(a, 0) || math.IsInf(b, 0):
		return a == b
	}
	return math.Abs(a-b) <= 1e-9
}

func TestNumJSON(t *testing.T) {
	tests := []struct {
		n    Num
		want string
	}{
		{1.5, "1.5"},
		{0, "0"},
		{Num(math.NaN()), "null"},
		{Num(math.Inf(1)), "null"},
		{Num(math.Inf(-1)), "null"},
		{1e21, "1e+21"},
	}
	for _, tt := range tests {
		got, err := json.Marshal(Stat{Median: tt.n, P90: tt.n})
		if err != nil {
			t.Fatalf("marshal %v: %v", tt.n, err)
		}
		if want := `{"median":` + tt.want + `,"p90":` + tt.want + `}`; string(got) != want {
			t.Errorf("marshal %v = %s, want %s", float64(tt.n), got, want)
		}
	}
}
