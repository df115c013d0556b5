package tuner

import (
	"context"
	"log/slog"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/emf"
	"github.com/maptuner/maptuner/internal/maprun"
)

// The tick's metrics (namespace emf.Namespace, dimension Stack), one value
// each per tick, for alarms on the tuner's health.
const (
	// MetricTickErrors counts the errors of the tick that someone must
	// look at (Report.Errors), plus 1 when the tick could do nothing.
	MetricTickErrors = "TickErrors"
	// MetricRunsTracked is Report.Tracked.
	MetricRunsTracked = "RunsTracked"
	// MetricRunsDecided is Report.Decided.
	MetricRunsDecided = "RunsDecided"
	// MetricBudgetExhausted counts the runs not observed because the
	// tick's API budget ran out.
	MetricBudgetExhausted = "BudgetExhausted"
	// MetricRunsHoldingNoData counts the runs decided to hold for lack of
	// throttle data (control.ReasonMissingData).
	MetricRunsHoldingNoData = "RunsHoldingNoData"
	// MetricTickDuration is the tick's wall time, in milliseconds.
	MetricTickDuration = "TickDuration"
)

// Health writes the summary of the tick at instant at, which took took
// and returned rep and err: one log line "tick" (level ERROR when err is
// not nil) and the tick's metrics.
func (t *Tuner) Health(at time.Time, rep Report, err error, took time.Duration) {
	holding := 0
	for _, d := range rep.Decisions {
		if d.Decision.Reason == control.ReasonMissingData {
			holding++
		}
	}
	failed := len(rep.Errors)
	if err != nil {
		failed++
	}
	attrs := []any{
		"tracked", rep.Tracked, "discovered", rep.Discovered, "decided", rep.Decided, "late", rep.Late, "updated", rep.Updated,
		"ended", rep.Ended, "skipped", rep.Skipped, "holdingNoData", holding,
		"errors", len(rep.Errors), "warnings", len(rep.Warnings), "calls", rep.Calls, "durationMs", took.Milliseconds(),
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
		attrs = append(attrs, "error", err)
	}
	t.deps.Log.Log(context.Background(), level, "tick", attrs...)
	dims, sets := t.dimensions(nil)
	t.metrics(emf.Record{
		Namespace: emf.Namespace, Dimensions: dims, Sets: sets, Time: at,
		Metrics: []emf.Metric{
			{Name: MetricTickErrors, Value: float64(failed), Unit: emf.Count},
			{Name: MetricRunsTracked, Value: float64(rep.Tracked), Unit: emf.Count},
			{Name: MetricRunsDecided, Value: float64(rep.Decided), Unit: emf.Count},
			{Name: MetricBudgetExhausted, Value: float64(rep.Skipped["budget"]), Unit: emf.Count},
			{Name: MetricRunsHoldingNoData, Value: float64(holding), Unit: emf.Count},
			{Name: MetricTickDuration, Value: float64(took.Milliseconds()), Unit: emf.Milliseconds},
		},
	})
}

// dimensions returns the dimensions of a metric record and its dimension
// sets: Stack (when Config.Stack names one) alone, and with each of
// groups, the names of dims (which dimensions adds Stack to).
func (t *Tuner) dimensions(dims map[string]string, groups ...[]string) (map[string]string, [][]string) {
	if dims == nil {
		dims = map[string]string{}
	}
	var base []string
	if t.cfg.Stack != "" {
		dims["Stack"] = t.cfg.Stack
		base = []string{"Stack"}
	}
	sets := make([][]string, 0, len(groups)+1)
	for _, g := range groups {
		sets = append(sets, append(append([]string{}, base...), g...))
	}
	return dims, append(sets, base)
}

// runMetrics writes the metrics of a decision on a run: all of them under
// its policy and the stack, and its limit under its job (state machine
// and Map label). A job's children started, finished and failed are
// AWS/States metrics of its labelled state machine already: publishing
// them again per job would cost a custom metric each per job.
func (t *Tuner) runMetrics(rd RunDecision, snap maprun.Snapshot) {
	d := rd.Decision
	props := map[string]any{"reason": string(d.Reason), "run": rd.MapRunARN}
	if a, err := maprun.ParseARN(rd.MapRunARN); err == nil {
		dims, sets := t.dimensions(map[string]string{"StateMachine": a.StateMachine, "Label": a.Label}, []string{"StateMachine", "Label"})
		t.metrics(emf.Record{
			Namespace: emf.Namespace, Dimensions: dims, Sets: sets[:1], Time: d.State.PrevAt, Properties: props,
			Metrics: []emf.Metric{{Name: "MaxConcurrency", Value: float64(d.New.MaxConcurrency), Unit: emf.Count}},
		})
	}
	var groups [][]string
	dims := map[string]string{}
	if rd.Policy != "" {
		dims["Policy"] = rd.Policy
		groups = append(groups, []string{"Policy"})
	}
	dims, sets := t.dimensions(dims, groups...)
	var updates float64
	if rd.Applied {
		updates = 1
	}
	t.metrics(emf.Record{
		Namespace: emf.Namespace, Dimensions: dims, Sets: sets, Time: d.State.PrevAt,
		Metrics: []emf.Metric{
			{Name: "MaxConcurrency", Value: float64(d.New.MaxConcurrency), Unit: emf.Count},
			{Name: "Running", Value: float64(snap.Items.Running), Unit: emf.Count},
			{Name: "Throughput", Value: d.Signals.Throughput, Unit: emf.CountPerSec},
			{Name: "Throttles", Value: d.Signals.NewestValue, Unit: emf.Count},
			{Name: "FailedItems", Value: float64(snap.Items.Failures()), Unit: emf.Count},
			{Name: "Updates", Value: updates, Unit: emf.Count},
			{Name: "Decisions", Value: 1, Unit: emf.Count},
		},
		Properties: props,
	})
}

// metrics writes r to Deps.Metrics; a failure is logged.
func (t *Tuner) metrics(r emf.Record) {
	if err := emf.Write(t.deps.Metrics, r); err != nil {
		t.deps.Log.Error("tuner: write metrics", "error", err)
	}
}
