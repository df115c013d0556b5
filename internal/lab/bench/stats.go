package bench

import (
	"math"
	"slices"
	"strconv"
)

// Num is a figure that may be undefined or unbounded: NaN means not
// applicable (an overshoot in a scenario without a capacity step) and +Inf
// means never or not at all (a run that never converged, a makespan ratio
// of a run that did not complete). Both marshal to JSON null; the per-seed
// flags (Completed, Converged) tell them apart.
type Num float64

// MarshalJSON writes the number, or null for NaN and infinities.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// Stat is the median and the 90th percentile of one figure over seeds,
// computed by quantile. A figure not applicable on any seed gives NaN for
// both; one unbounded on enough seeds gives +Inf.
type Stat struct {
	Median Num `json:"median"`
	P90    Num `json:"p90"`
}

// statOf summarizes values over seeds; NaN values (not applicable) are left
// out.
func statOf(values []float64) Stat {
	var v []float64
	for _, x := range values {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	slices.Sort(v)
	return Stat{Median: Num(quantile(v, 0.5)), P90: Num(quantile(v, 0.9))}
}

// quantile is the q-quantile (q in [0, 1]) of sorted values, by linear
// interpolation between the order statistics at ranks floor(h) and ceil(h),
// h = q * (n - 1) (Hyndman and Fan's type 7, the default of R and NumPy).
// An empty input gives NaN; when either order statistic is +Inf the result
// is +Inf.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	h := q * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	hi := int(math.Ceil(h))
	a, b := sorted[lo], sorted[hi]
	if math.IsInf(a, 1) || math.IsInf(b, 1) {
		return math.Inf(1)
	}
	return a + (h-float64(lo))*(b-a)
}
