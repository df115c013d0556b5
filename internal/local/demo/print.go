package demo

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/tuner"
)

// printTick writes what one tick did: a line per discovered run, per
// decision and per error, or one line saying why nothing was decided.
func printTick(out io.Writer, at time.Time, rep tuner.Report, prog Progress) {
	stamp := at.UTC().Format("15:04")
	if rep.Discovered > 0 {
		fmt.Fprintf(out, "%s  discovered %d new map run(s)\n", stamp, rep.Discovered)
	}
	for _, d := range rep.Decisions {
		fmt.Fprintln(out, decisionLine(at, d, itemsOf(prog, d.MapRunARN)))
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(out, "%s  error: %s\n", stamp, e)
	}
	if len(rep.Decisions) == 0 {
		fmt.Fprintf(out, "%s  no decision: %d run(s) tracked%s\n", stamp, rep.Tracked, skipped(rep.Skipped))
	}
}

// decisionLine is one readable line about one decision: the tick's time,
// the run, old -> new maxConcurrency and tolerances, the reasons, whether
// it was applied, the controller's sentence, and the run's item counts
// when known.
func decisionLine(at time.Time, d tuner.RunDecision, items *maprun.Counts) string {
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
	if items != nil {
		fmt.Fprintf(&b, " [items %s]", counts(*items))
	}
	return b.String()
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

// counts renders item counts.
func counts(c maprun.Counts) string {
	return fmt.Sprintf("%d running, %d succeeded, %d failed of %d", c.Running, c.Succeeded, c.Failures(), c.Total)
}

// itemsOf returns the item counts of run arn in prog, or nil.
func itemsOf(prog Progress, arn string) *maprun.Counts {
	for _, r := range prog.Runs {
		if r.ARN == arn {
			return &r.Items
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
