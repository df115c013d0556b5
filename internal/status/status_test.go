package status

import (
	"bytes"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/registry"
)

const (
	runARN = "arn:aws:states:us-east-1:123456789012:mapRun:orders/Fanout:77aa"
	smARN  = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestNewRow(t *testing.T) {
	r := registry.Run{ARN: runARN, Policy: "default", LeaseOwner: "tuner-a", LeaseUntil: now.Add(-time.Second),
		State: control.State{Phase: control.PhaseProbe, History: []control.Setting{{MaxConcurrency: 0}, {MaxConcurrency: 30}}}}
	cs := []registry.Control{
		{Target: smARN, Source: registry.SourceTag, Pin: 12, At: now},
		{Target: smARN + "2", Source: registry.SourceOperator, Paused: true, At: now},
	}
	row := NewRow(r, cs, now)
	if row.StateMachine != "orders" || row.Label != "Fanout" || row.MaxConcurrency != 30 || row.Lease != "" || row.Phase != "probe" {
		t.Errorf("row %+v: want orders/Fanout at 30, the expired lease not shown", row)
	}
	if got := row.Hold.String(); got != "pinned 12 (state machine tag)" {
		t.Errorf("hold %q", got)
	}
	r.Ended, r.EndReason = true, "SUCCEEDED"
	if row := NewRow(r, cs, now); row.Phase != "ended" || row.EndReason != "SUCCEEDED" || row.Hold != nil {
		t.Errorf("ended row %+v: want phase ended and no hold", row)
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{bracket(0, 0), "-"}, {bracket(10, 0), "10.."}, {bracket(0, 40), "..40"}, {bracket(10, 40), "10..40"},
		{Limit(0), "unlimited"}, {Limit(7), "7"},
		{ago(time.Time{}, now), "-"}, {ago(now.Add(-90*time.Second), now), "1m30s ago"},
		{(*Hold)(nil).String(), "-"}, {(&Hold{Paused: true, Target: runARN, Source: registry.SourceOperator}).String(), "paused (run)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	var b bytes.Buffer
	if err := WriteTable(&b, nil, now); err != nil || b.String() != "no map run is tracked\n" {
		t.Errorf("empty table: %q, %v", b.String(), err)
	}
}
