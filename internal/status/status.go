// Package status says what maptuner is doing, from its registry alone: one
// row per tuned Map Run (its limit, what the controller learned, its last
// decision, the control that holds it), and one run's decision history.
// The maptuner command and the local demo print it the same way.
package status

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/registry"
)

// Store is what status reads of the registry.
type Store interface {
	ActiveRuns(ctx context.Context) ([]registry.Run, error)
	AllRuns(ctx context.Context) ([]registry.Run, error)
	GetRun(ctx context.Context, arn string) (registry.Run, error)
	DecisionLog(ctx context.Context, arn string, limit int) ([]registry.Logged, error)
	Controls(ctx context.Context) ([]registry.Control, error)
}

var (
	_ Store = (*registry.DynamoDB)(nil)
	_ Store = (*registry.Memory)(nil)
)

// Row is one tuned Map Run as the registry knows it.
type Row struct {
	// Run is the Map Run ARN; StateMachine and Label name its job.
	Run          string `json:"mapRunArn"`
	StateMachine string `json:"stateMachine"`
	Label        string `json:"label"`
	Policy       string `json:"policy"`
	// Phase is the controller's phase; "ended" once tracking ended, and
	// EndReason says why.
	Phase     string `json:"phase"`
	EndReason string `json:"endReason,omitempty"`
	// MaxConcurrency is the limit in effect when last observed; 0 is
	// unlimited.
	MaxConcurrency int32 `json:"maxConcurrency"`
	// Lo and Hi are the bracket the controller learned: the highest limit
	// confirmed clean and the lowest throttled; zero when not known.
	Lo int32 `json:"lo,omitempty"`
	Hi int32 `json:"hi,omitempty"`
	// ToleratedFailurePercentage and ToleratedFailureCount are the
	// tolerances as last decided.
	ToleratedFailurePercentage float64 `json:"toleratedFailurePercentage"`
	ToleratedFailureCount      int64   `json:"toleratedFailureCount"`
	// Items are the item counts when last observed.
	Items maprun.Counts `json:"items"`
	// Throughput is items finished per second at the last decision.
	Throughput float64 `json:"throughput"`
	// Reason and Message are those of the last decision; empty before any.
	Reason  control.Reason `json:"reason,omitempty"`
	Message string         `json:"message,omitempty"`
	// ObservedAt is when the run was last observed; zero before any.
	ObservedAt time.Time `json:"observedAt,omitzero"`
	// Hold is the control that holds the run, if any.
	Hold *Hold `json:"hold,omitempty"`
	// Lease is the tuner holding the run's lease; empty when none does.
	Lease string `json:"lease,omitempty"`
}

// Hold is the operator's control, or the state machine's tag, that holds a run.
type Hold struct {
	// Paused, or else pinned at Pin.
	Paused bool  `json:"paused,omitempty"`
	Pin    int32 `json:"pin,omitempty"`
	// Target is the run, or its state machine; Source is operator or tag.
	Target string          `json:"target"`
	Source registry.Source `json:"source"`
	By     string          `json:"by,omitempty"`
	At     time.Time       `json:"at"`
}

// Read returns one row per run tracked, by ARN; with all, the runs whose
// tracking ended (kept a few days) too. now judges leases. An undecodable
// item is named in the error, returned with the rows that could be read.
func Read(ctx context.Context, s Store, all bool, now time.Time) ([]Row, error) {
	list := s.ActiveRuns
	if all {
		list = s.AllRuns
	}
	runs, err := list(ctx)
	if err != nil && !errors.Is(err, registry.ErrCorrupt) {
		return nil, fmt.Errorf("status: %w", err)
	}
	cs, cerr := s.Controls(ctx)
	if cerr != nil && !errors.Is(cerr, registry.ErrCorrupt) {
		return nil, fmt.Errorf("status: %w", cerr)
	}
	rows := make([]Row, 0, len(runs))
	for _, r := range runs {
		rows = append(rows, NewRow(r, cs, now))
	}
	if err := errors.Join(err, cerr); err != nil {
		return rows, fmt.Errorf("status: %w", err)
	}
	return rows, nil
}

// NewRow is the row of run r, held by the one of controls cs that governs
// it (registry.Governing); now judges its lease.
func NewRow(r registry.Run, cs []registry.Control, now time.Time) Row {
	st := r.State
	row := Row{
		Run: r.ARN, Policy: r.Policy, Phase: string(st.Phase),
		Lo: st.Lo, Hi: st.Hi, Items: st.Prev, ObservedAt: st.PrevAt,
		MaxConcurrency:             st.Start.MaxConcurrency,
		ToleratedFailurePercentage: st.Start.ToleratedFailurePercentage,
		ToleratedFailureCount:      st.Start.ToleratedFailureCount,
	}
	if a, err := maprun.ParseARN(r.ARN); err == nil {
		row.StateMachine, row.Label = a.StateMachine, a.Label
	}
	if n := len(st.History); n > 0 {
		row.MaxConcurrency = st.History[n-1].MaxConcurrency
	}
	if d := r.LastDecision; d != nil {
		row.Reason, row.Message, row.Throughput = d.Reason, d.Message, d.Signals.Throughput
		row.ToleratedFailurePercentage, row.ToleratedFailureCount = d.New.ToleratedFailurePercentage, d.New.ToleratedFailureCount
	}
	if r.Ended {
		row.Phase, row.EndReason = "ended", r.EndReason
	}
	if r.LeaseOwner != "" && r.LeaseUntil.After(now) {
		row.Lease = r.LeaseOwner
	}
	if c, ok := registry.Governing(r.ARN, cs); ok && !r.Ended {
		row.Hold = &Hold{Paused: c.Paused, Pin: c.Pin, Target: c.Target, Source: c.Source, By: c.By, At: c.At}
	}
	return row
}

// WriteJSON writes v (rows, an Explanation) as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteTable writes rows as an aligned table, one line per run, with a
// header; now dates the last decisions. No rows write a sentence saying so.
func WriteTable(w io.Writer, rows []Row, now time.Time) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no map run is tracked")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPOLICY\tPHASE\tMAXCONC\tBRACKET\tTOLERATED\tDONE/FAILED/TOTAL\tITEMS/S\tLAST\tWHEN\tHOLD\tLEASE")
	for _, r := range rows {
		limit, tolerated := Limit(r.MaxConcurrency), fmt.Sprintf("%g%%/%d", r.ToleratedFailurePercentage, r.ToleratedFailureCount)
		if r.ObservedAt.IsZero() {
			limit, tolerated = "-", "-" // not observed yet: not known
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d/%d\t%.1f\t%s\t%s\t%s\t%s\n",
			r.Name(), dash(r.Policy), dash(r.Phase), limit, bracket(r.Lo, r.Hi), tolerated,
			r.Items.Done(), r.Items.Failures(), r.Items.Total, r.Throughput,
			dash(string(r.Reason)), ago(r.ObservedAt, now), r.Hold.String(), dash(r.Lease))
	}
	return tw.Flush()
}

// Name is the short name of the run: STATE_MACHINE/LABEL:ID, or the ARN
// if it does not parse.
func (r Row) Name() string {
	a, err := maprun.ParseARN(r.Run)
	if err != nil {
		return r.Run
	}
	return a.StateMachine + "/" + a.Label + ":" + a.ID
}

// String says what holds the run in a few words: "-" when nothing does.
func (h *Hold) String() string {
	if h == nil {
		return "-"
	}
	what := "paused"
	if !h.Paused {
		what = fmt.Sprintf("pinned %d", h.Pin)
	}
	scope := "run"
	if kind, _ := registry.ParseTarget(h.Target); kind == registry.TargetStateMachine {
		scope = "state machine"
	}
	if h.Source == registry.SourceTag {
		scope += " tag"
	}
	return what + " (" + scope + ")"
}

func dash(s string) string { return cmp.Or(s, "-") }

// Limit formats a maxConcurrency: "unlimited" for 0.
func Limit(n int32) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

func bracket(lo, hi int32) string {
	switch {
	case lo == 0 && hi == 0:
		return "-"
	case hi == 0:
		return fmt.Sprintf("%d..", lo)
	case lo == 0:
		return fmt.Sprintf("..%d", hi)
	}
	return fmt.Sprintf("%d..%d", lo, hi)
}

// ago says how long before now t was, to the second: "-" for zero.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

// Explanation is one run's row, its decisions, newest first, and what
// the controller learned.
type Explanation struct {
	Row       Row               `json:"run"`
	Decisions []registry.Logged `json:"decisions"`
	State     control.State     `json:"state"`
}

// Explain reads the run arn, its controls and up to limit of its
// decisions, newest first (all when limit <= 0). A run not tracked gives
// an error wrapping registry.ErrNotFound.
func Explain(ctx context.Context, s Store, arn string, limit int, now time.Time) (Explanation, error) {
	r, err := s.GetRun(ctx, arn)
	if err != nil {
		return Explanation{}, fmt.Errorf("status: %w", err)
	}
	cs, err := s.Controls(ctx)
	if err != nil && !errors.Is(err, registry.ErrCorrupt) {
		return Explanation{}, fmt.Errorf("status: %w", err)
	}
	ds, err := s.DecisionLog(ctx, arn, limit)
	if err != nil {
		return Explanation{}, fmt.Errorf("status: %w", err)
	}
	return Explanation{Row: NewRow(r, cs, now), Decisions: ds, State: r.State}, nil
}

// WriteExplanation writes e as text: the run, what the controller learned,
// then one paragraph per decision, newest first.
func WriteExplanation(w io.Writer, e Explanation, now time.Time) error {
	r, st := e.Row, e.State
	var b strings.Builder
	fmt.Fprintf(&b, "run:        %s\n", r.Run)
	fmt.Fprintf(&b, "policy:     %s\n", dash(r.Policy))
	fmt.Fprintf(&b, "phase:      %s", dash(r.Phase))
	if r.EndReason != "" {
		fmt.Fprintf(&b, " (%s)", r.EndReason)
	}
	fmt.Fprintf(&b, "\nlimit:      maxConcurrency %s, tolerated failures %g%%/%d\n", Limit(r.MaxConcurrency), r.ToleratedFailurePercentage, r.ToleratedFailureCount)
	fmt.Fprintf(&b, "started:    maxConcurrency %s, tolerated failures %g%%/%d\n", Limit(st.Start.MaxConcurrency), st.Start.ToleratedFailurePercentage, st.Start.ToleratedFailureCount)
	fmt.Fprintf(&b, "items:      %d done, %d failed, %d running, %d total, observed %s\n", r.Items.Done(), r.Items.Failures(), r.Items.Running, r.Items.Total, ago(r.ObservedAt, now))
	fmt.Fprintf(&b, "hold:       %s", r.Hold.String())
	if h := r.Hold; h != nil {
		fmt.Fprintf(&b, ", set %s", h.At.UTC().Format(time.RFC3339))
		if h.By != "" {
			fmt.Fprintf(&b, " by %s", h.By)
		}
	}
	fmt.Fprintf(&b, "\nlease:      %s\n", dash(r.Lease))
	fmt.Fprintf(&b, "learned:    bracket %s", bracket(st.Lo, st.Hi))
	if st.ItemTime > 0 {
		fmt.Fprintf(&b, ", item time %.1fs", st.ItemTime)
	}
	if st.Recall > 0 {
		fmt.Fprintf(&b, ", recalled limit %d", st.Recall)
	}
	if !st.ThrottledAt.IsZero() {
		fmt.Fprintf(&b, ", throttled %s", ago(st.ThrottledAt, now))
	}
	if !st.OverrideAt.IsZero() {
		fmt.Fprintf(&b, ", changed by someone else %s", ago(st.OverrideAt, now))
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if len(e.Decisions) == 0 {
		_, err := fmt.Fprintln(w, "\nno decision logged")
		return err
	}
	fmt.Fprintf(w, "\ndecisions, newest first:\n")
	for _, l := range e.Decisions {
		d, s := l.Decision, l.Decision.Signals
		change := fmt.Sprintf("maxConcurrency %s -> %s", Limit(d.Old.MaxConcurrency), Limit(d.New.MaxConcurrency))
		if !d.Update {
			change = "no change, maxConcurrency " + Limit(d.New.MaxConcurrency)
		}
		fmt.Fprintf(w, "- %s %s: %s\n  %s\n  signals: %d running, %.1f items/s, %.1f%% failed, throttles %g",
			l.At.UTC().Format(time.RFC3339), d.Reason, change, d.Message, s.Running, s.Throughput, s.FailurePercent, s.NewestValue)
		if !s.NewestMinute.IsZero() {
			fmt.Fprintf(w, " in minute %s", s.NewestMinute.UTC().Format("15:04"))
		}
		if s.LiveSampled > 0 {
			fmt.Fprintf(w, ", %d of %d sampled children throttled", s.LiveThrottled, s.LiveSampled)
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	return nil
}
