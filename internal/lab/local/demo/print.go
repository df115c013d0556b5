package demo

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/tuner"
)

// eraseLine moves to the start of the line and erases it (ANSI).
const eraseLine = "\r\x1b[K"

// printer writes the demo's output: lines of their own, and one progress
// line, which a terminal shows rewritten in place and other writers get
// every few ticks.
type printer struct {
	out io.Writer
	// live rewrites the progress line in place; every is the ticks between
	// two progress lines otherwise.
	live  bool
	every int
	// shown reports that a live progress line is on the screen, with no
	// newline after it.
	shown bool
	// printed is the last progress line written as a line of its own.
	printed string
}

// line writes s, one or more lines, over a live progress line if one is
// shown.
func (p *printer) line(s string) {
	if p.shown {
		fmt.Fprint(p.out, eraseLine)
		p.shown = false
	}
	fmt.Fprintln(p.out, s)
}

// progress shows the progress line s of tick: in place when live, else on
// the first tick and every p.every ticks.
func (p *printer) progress(tick int, s string) {
	if p.live {
		fmt.Fprint(p.out, "\r"+s+"\x1b[K")
		p.shown = true
		return
	}
	if tick == 1 || tick%p.every == 0 {
		p.line(s)
		p.printed = s
	}
}

// finish shows the last progress line s and ends it, unless it was just
// printed.
func (p *printer) finish(s string) {
	if p.live || s != p.printed {
		p.line(s)
		p.printed = s
	}
}

// end ends a live progress line left on the screen, so that what follows
// starts on a line of its own.
func (p *printer) end() {
	if p.shown {
		fmt.Fprintln(p.out)
		p.shown = false
	}
}

// printTick writes what one tick did that is worth a line: discoveries,
// decisions that change a setting (holds are only counted), errors, and
// runs skipped when nothing was decided.
func printTick(p *printer, at time.Time, rep tuner.Report, prog Progress) {
	stamp := at.UTC().Format("15:04")
	if rep.Discovered > 0 {
		p.line(fmt.Sprintf("%s  discovered %d new map run(s)", stamp, rep.Discovered))
	}
	for _, d := range rep.Decisions {
		if d.Decision.Update {
			p.line(decisionLine(at, d, runOf(prog, d.MapRunARN)))
		}
	}
	for _, e := range rep.Errors {
		p.line(fmt.Sprintf("%s  error: %s", stamp, e))
	}
	if rep.Decided == 0 && len(rep.Skipped) > 0 {
		p.line(fmt.Sprintf("%s  no decision: %d run(s) tracked%s", stamp, rep.Tracked, skipped(rep.Skipped)))
	}
}

// decisionLine is one readable line about one decision: the tick's time,
// the run, old -> new maxConcurrency and tolerances, the reasons, whether
// it was applied, the controller's sentence, and the run's items when
// known.
func decisionLine(at time.Time, d tuner.RunDecision, run *RunProgress) string {
	dec := d.Decision
	reason := string(dec.Reason)
	if dec.ToleranceReason != "" {
		reason += "+" + string(dec.ToleranceReason)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s  maxConcurrency %s -> %s, tolerated %s -> %s  %s, %s: %s",
		at.UTC().Format("15:04"), runName(d.MapRunARN),
		concurrency(dec.Old.MaxConcurrency), concurrency(dec.New.MaxConcurrency),
		tolerance(dec.Old), tolerance(dec.New),
		reason, outcome(d), dec.Message)
	if run != nil {
		fmt.Fprintf(&b, " [items %s]", items(*run))
	}
	return b.String()
}

// progressLine is the one-line view of the Map Runs at tick instant at:
// items done of the total, the limits set; while a run is open, the
// children running and, when the backend measures them, the throughput,
// the throttled calls of the last minute and the time left; once every run
// ended, their statuses. Several runs are summed, the limits listed.
func progressLine(at time.Time, prog Progress) string {
	stamp := at.UTC().Format("15:04")
	if len(prog.Runs) == 0 {
		return stamp + "  no map run has started yet"
	}
	var total, done, failed, throttles int64
	var running, throughput float64
	var eta time.Duration
	live, ended := true, true
	limits := make([]string, 0, len(prog.Runs))
	statuses := map[string]int{}
	for _, r := range prog.Runs {
		total += r.Total
		done += r.Done
		failed += r.Failed
		running += r.Running
		throughput += r.Throughput
		throttles += r.Throttles
		eta = max(eta, r.ETA)
		live = live && r.Live
		ended = ended && r.Status != "RUNNING"
		limits = append(limits, concurrency(r.Settings.MaxConcurrency))
		statuses[r.Status]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  items %s/%s (%d%%)", stamp, count(done), count(total), percent(done, total))
	if failed > 0 {
		fmt.Fprintf(&b, ", %s failed", count(failed))
	}
	noun := "limit"
	if len(limits) > 1 {
		noun = "limits"
	}
	fmt.Fprintf(&b, "  %s %s", noun, strings.Join(limits, ", "))
	if ended {
		b.WriteString("  " + tally(statuses))
		return b.String()
	}
	fmt.Fprintf(&b, "  running %.0f", running)
	if live {
		fmt.Fprintf(&b, "  throughput %.1f/s  throttles %s/min", throughput, count(throttles))
		if eta > 0 {
			b.WriteString("  ETA " + short(eta))
		}
	}
	return b.String()
}

// printSummary writes the closing lines: the ticks, the decisions, each
// run as it ended, and the comparison with static settings when there is
// one.
func printSummary(p *printer, sum Summary) {
	p.line(fmt.Sprintf("summary: %d ticks, one virtual minute each, in %s of wall time; stopped by %s",
		sum.Ticks, sum.Elapsed.Round(100*time.Millisecond), sum.Stopped))
	p.line(fmt.Sprintf("summary: %d decisions: %d changed a setting (%d applied with UpdateMapRun), %d held; %d errors reported by the tune function",
		sum.Decisions, sum.Changes, sum.Updates, sum.Decisions-sum.Changes, sum.Errors))
	for _, r := range sum.Final.Runs {
		p.line(fmt.Sprintf("summary: map run %s %s: maxConcurrency %s, tolerated %s; items %s",
			runName(r.ARN), r.Status, concurrency(r.Settings.MaxConcurrency), tolerance(r.Settings), items(r)))
	}
	if sum.Comparison != nil {
		p.line(sum.Comparison.String())
	}
	if sum.PlotFile != "" {
		p.line("plot: " + sum.PlotFile + " (maptuner beside the best static setting, minute by minute)")
	}
}

// outcome says what became of a decision.
func outcome(d tuner.RunDecision) string {
	switch {
	case !d.Decision.Update:
		return "held"
	case d.Applied:
		return "applied"
	case d.DryRun:
		return "dry run, not applied"
	default:
		return "not applied"
	}
}

// concurrency renders a maxConcurrency, 0 as unlimited.
func concurrency(n int32) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.FormatInt(int64(n), 10)
}

// tolerance renders the failure tolerances as PERCENT%/COUNT.
func tolerance(s maprun.Settings) string {
	return strconv.FormatFloat(s.ToleratedFailurePercentage, 'f', -1, 64) + "%/" + strconv.FormatInt(s.ToleratedFailureCount, 10)
}

// items renders a run's items, and its running children while it runs.
func items(r RunProgress) string {
	s := fmt.Sprintf("%s done, %s failed of %s", count(r.Done), count(r.Failed), count(r.Total))
	if r.Status == "RUNNING" {
		s += fmt.Sprintf(", %.0f running", r.Running)
	}
	return s
}

// count renders n with thousands separators: 20,000.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// percent is part of whole in whole percent, rounded down; 0 when whole is 0.
func percent(part, whole int64) int64 {
	if whole <= 0 {
		return 0
	}
	return part * 100 / whole
}

// short renders a duration to the minute (to the second under a minute):
// 45s, 18m, 1h05m.
func short(d time.Duration) string {
	if s := int64(math.Round(d.Seconds())); s < 60 {
		return fmt.Sprintf("%ds", s)
	}
	m := int64(d.Round(time.Minute) / time.Minute)
	if m < 60 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%02dm", m/60, m%60)
}

// tally renders counts of statuses, sorted: "SUCCEEDED" for one kind,
// "1 FAILED, 2 SUCCEEDED" for several.
func tally(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	if len(keys) == 1 {
		return keys[0]
	}
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

// runOf returns the run arn of prog, or nil.
func runOf(prog Progress, arn string) *RunProgress {
	for i := range prog.Runs {
		if prog.Runs[i].ARN == arn {
			return &prog.Runs[i]
		}
	}
	return nil
}

// skipped renders the reasons runs were skipped, sorted by reason.
func skipped(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return ", skipped: " + strings.Join(parts, ", ")
}
