package bench

import (
	"fmt"
	"math"
)

// formatRatio writes a ratio with two decimals; - for NaN, ∞ for +Inf.
func formatRatio(n Num) string {
	return formatNum(n, "%.2f", "∞")
}

// formatPercent writes a percentage: two decimals below 10, one above.
func formatPercent(n Num) string {
	if f := float64(n); !math.IsNaN(f) && !math.IsInf(f, 0) && f >= 10 {
		return fmt.Sprintf("%.1f %%", f)
	}
	return formatNum(n, "%.2f %%", "∞")
}

// formatMinutes writes whole minutes; never for +Inf.
func formatMinutes(n Num) string {
	return formatNum(n, "%.0f", "never")
}

// formatTenths writes minutes with one decimal; never for +Inf.
func formatTenths(n Num) string {
	return formatNum(n, "%.1f", "never")
}

// formatCount writes a count, or a median of counts, without decimals
// unless it is a half.
func formatCount(n Num) string {
	if f := float64(n); f != math.Trunc(f) {
		return formatNum(n, "%.1f", "∞")
	}
	return formatNum(n, "%.0f", "∞")
}

func formatNum(n Num, format, inf string) string {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return "-"
	case math.IsInf(f, 1):
		return inf
	}
	return fmt.Sprintf(format, f)
}

// cell writes a Stat as "median (p90)", or the median alone when both are
// the same text.
func cell(s Stat, format func(Num) string) string {
	m, p := format(s.Median), format(s.P90)
	if m == p {
		return m
	}
	return m + " (" + p + ")"
}

// tableHeader are the columns of a strategy table, and tableRow its rows.
var tableHeader = []string{
	"strategy", "makespan min", "makespan / oracle", "throttled calls", "failed: throttle", "failed: poison",
	"runs S/F/R", "converge min", "oscillation", "overshoot", "UpdateMapRun", "other API calls", "API throttles", "API errors",
}

func tableRow(s StrategyReport) []string {
	m := s.Summary
	return []string{
		s.Strategy,
		cell(m.MakespanMinutes, func(n Num) string { return formatNum(n, "%.1f", "∞") }),
		cell(m.MakespanRatio, formatRatio),
		cell(m.ThrottledPercent, formatPercent),
		cell(m.FailedThrottle, formatCount),
		cell(m.FailedPoison, formatCount),
		fmt.Sprintf("%d/%d/%d", m.Outcomes.Succeeded, m.Outcomes.Failed, m.Outcomes.Running),
		cell(m.ConvergeMinutes, formatMinutes),
		cell(m.Oscillation, formatRatio),
		cell(m.Overshoot, formatRatio),
		cell(m.UpdateMapRunCalls, formatCount),
		cell(m.OtherAPICalls, formatCount),
		cell(m.APIThrottled, formatCount),
		cell(m.APIErrors, formatCount),
	}
}
