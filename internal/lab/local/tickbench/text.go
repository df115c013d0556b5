package tickbench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets a tick at 1,000 open runs is held to.
const (
	// TargetWall is the most wall time of a tick against the local account.
	TargetWall = 20 * time.Second
	// TargetCPU is the most CPU time of a tick.
	TargetCPU = time.Second
	// TargetPeakRSS is the most peak resident memory of the bootstrap, in
	// bytes.
	TargetPeakRSS = 128 << 20
)

// Host describes the machine a Result was measured on, for the text.
type Host struct {
	// OS, Arch and CPUs are the machine's (runtime.GOOS, runtime.GOARCH,
	// runtime.NumCPU).
	OS, Arch string
	CPUs     int
	// Load is /proc/loadavg's 1-minute load average when the ticks began;
	// negative when unknown.
	Load float64
}

// WriteText writes res as the text BENCHMARKS.md shows: what was measured
// and how, a line per measured tick, their median and max, and the
// targets judged on the max. command is the command that made it.
func WriteText(w io.Writer, res Result, host Host, command string) error {
	if len(res.Ticks) == 0 {
		return errors.New("tickbench: write text: no measured tick")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", command)
	fmt.Fprintf(&b, "the tune bootstrap under aws-lambda-rie, scenario %s seed %d: %d warm-up ticks, then %d measured, a virtual minute apart\n",
		res.Scenario, res.Seed, res.WarmupTicks, len(res.Ticks))
	dynamo := res.DynamoDB
	if dynamo == "moto_server" {
		dynamo += ", one request at a time"
	}
	fmt.Fprintf(&b, "local account: simulated Step Functions, CloudWatch and Lambda over HTTP; DynamoDB on %s\n", dynamo)
	load := "unknown"
	if host.Load >= 0 {
		load = fmt.Sprintf("%.2f", host.Load)
	}
	fmt.Fprintf(&b, "host: %s/%s, %d CPUs, load average %s at the start\n", host.OS, host.Arch, host.CPUs, load)
	fmt.Fprintf(&b, "wall: request to response at the emulator; duration: the emulator's REPORT Duration;\n")
	fmt.Fprintf(&b, "cpu: user+system time of the bootstrap process (/proc/PID/stat, 10 ms steps);\n")
	fmt.Fprintf(&b, "peak-rss: its VmHWM (/proc/PID/status), reset before each tick (the emulator's Max Memory Used is the configured size, not a measure)\n\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "tick\topen\ttracked\tdecided\tupdated\terrors\twall-ms\tduration-ms\tcpu-ms\tpeak-rss-MB\t\n")
	for _, t := range res.Ticks {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", t.At.UTC().Format("15:04"), t.Open, t.Report.Tracked,
			t.Report.Decided, t.Report.Updated, t.errors(), ms(t.Wall), ms(t.Duration), ms(t.CPU), mb(t.PeakRSS))
	}
	wall := column(res.Ticks, func(t Tick) time.Duration { return t.Wall })
	dur := column(res.Ticks, func(t Tick) time.Duration { return t.Duration })
	cpu := column(res.Ticks, func(t Tick) time.Duration { return t.CPU })
	rss := column(res.Ticks, func(t Tick) int64 { return t.PeakRSS })
	fmt.Fprintf(tw, "median\t\t\t\t\t\t%s\t%s\t%s\t%s\t\n", ms(median(wall)), ms(median(dur)), ms(median(cpu)), mb(median(rss)))
	fmt.Fprintf(tw, "max\t\t\t\t\t\t%s\t%s\t%s\t%s\t\n", ms(slices.Max(wall)), ms(slices.Max(dur)), ms(slices.Max(cpu)), mb(slices.Max(rss)))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("tickbench: write text: %w", err)
	}
	fmt.Fprintf(&b, "\ntargets, on the max: wall under %s %s, CPU under %s %s, peak RSS under %d MB %s\n",
		TargetWall, verdict(slices.Max(wall) < TargetWall), TargetCPU, verdict(slices.Max(cpu) < TargetCPU),
		TargetPeakRSS>>20, verdict(slices.Max(rss) < TargetPeakRSS))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("tickbench: write text: %w", err)
	}
	return nil
}

// column is f of each tick.
func column[T time.Duration | int64](ticks []Tick, f func(Tick) T) []T {
	out := make([]T, len(ticks))
	for i, t := range ticks {
		out[i] = f(t)
	}
	return out
}

// median is the median of a non-empty xs: the mean of the middle two for
// an even count.
func median[T time.Duration | int64](xs []T) T {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ms formats d in whole milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%d", d.Round(time.Millisecond).Milliseconds()) }

// mb formats n bytes in MB (2^20 bytes) with one decimal.
func mb(n int64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }

// verdict says whether a target was met.
func verdict(met bool) string {
	if met {
		return "(met)"
	}
	return "(MISSED)"
}
