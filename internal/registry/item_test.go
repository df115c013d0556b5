package registry

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestInstants(t *testing.T) {
	tests := []struct {
		name    string
		t       time.Time
		want    string
		wantErr bool
	}{
		{"zero is absent", time.Time{}, "", false},
		{"whole second keeps nine digits", t0, "2025-03-01T12:00:00.000000000Z", false},
		{"nanoseconds", t0.Add(5), "2025-03-01T12:00:00.000000005Z", false},
		{"other zone goes to UTC", t0.In(time.FixedZone("X", 3600)), "2025-03-01T12:00:00.000000000Z", false},
		{"epoch", time.Unix(0, 0), "1970-01-01T00:00:00.000000000Z", false},
		{"last instant", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), "9999-12-31T23:59:59.999999999Z", false},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), "", true},
		{"after 9999", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := formatTime("X", tt.t)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "X ") {
					t.Fatalf("formatTime = %q, %v; want ErrInvalid naming X", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("formatTime = %q, %v; want %q", got, err, tt.want)
			}
			back, err := parseTime("x", got)
			if err != nil || !back.Equal(tt.t) {
				t.Errorf("parseTime(%q) = %v, %v; want %v", got, back, err, tt.t)
			}
		})
	}
	// The fixed width makes string order time order.
	a, _ := formatTime("a", t0.Add(999*time.Millisecond))
	b, _ := formatTime("b", t0.Add(time.Second))
	if a >= b {
		t.Errorf("%q sorts after %q", a, b)
	}
	for _, s := range []string{"2025-03-01T12:00:00Z", "2025-03-01T12:00:00,000000000Z", "2025-03-01T12:00:00.000000000+01:00", "yesterday"} {
		if _, err := parseTime("leaseUntil", s); err == nil || !strings.Contains(err.Error(), "leaseUntil") {
			t.Errorf("parseTime(%q) = %v, want an error naming the attribute", s, err)
		}
	}
}

// sampleItems are run items as the registry stores them.
func sampleItems(t testing.TB) []runItem {
	it, err := newRunItem(sampleRun(runARN), DefaultActiveTTL, DefaultEndedTTL)
	if err != nil {
		t.Fatalf("newRunItem: %v", err)
	}
	leased := it
	leased.LeaseOwner, leased.LeaseUntil, leased.Version = "tuner-1", t0.Add(time.Minute).Format(timeLayout), 3
	fresh, err := newRunItem(Run{ARN: runARN, DiscoveredAt: t0}, DefaultActiveTTL, DefaultEndedTTL)
	if err != nil {
		t.Fatalf("newRunItem: %v", err)
	}
	return []runItem{it, leased, fresh}
}

// FuzzRunItem decodes stored run items, which may have been written by
// another version or by hand: decoding must fail cleanly or give instants
// that format back to what was stored.
func FuzzRunItem(f *testing.F) {
	for _, it := range sampleItems(f) {
		f.Add(it.State, it.LastDecision, it.DiscoveredAt, it.EndedAt, it.LeaseUntil)
	}
	f.Add(`{"phase":"cubic","wMax":"many"}`, `{"old":{"maxConcurrency":-1}}`, "2025-13-01T00:00:00.000000000Z", "2025-02-29T00:00:00.000000000Z", "not a time")
	f.Add("", "null", "", "", "")
	f.Fuzz(func(t *testing.T, state, lastDecision, discoveredAt, endedAt, leaseUntil string) {
		it := runItem{
			PK: pkRun + runARN, SK: skRun, Kind: kindRun, ARN: runARN,
			State: state, LastDecision: lastDecision,
			DiscoveredAt: discoveredAt, EndedAt: endedAt, LeaseUntil: leaseUntil,
		}
		r, err := it.run()
		if err != nil {
			if !strings.Contains(err.Error(), it.PK) {
				t.Errorf("error %q does not name the item", err)
			}
			return
		}
		for _, c := range []struct {
			stored string
			got    time.Time
		}{{discoveredAt, r.DiscoveredAt}, {endedAt, r.EndedAt}, {leaseUntil, r.LeaseUntil}} {
			if c.stored == "" {
				if !c.got.IsZero() {
					t.Errorf("absent instant decoded as %v", c.got)
				}
				continue
			}
			if back := c.got.Format(timeLayout); back != c.stored {
				t.Errorf("instant %q decoded as %v, formats back as %q", c.stored, c.got, back)
			}
		}
		if (lastDecision == "") != (r.LastDecision == nil) {
			t.Errorf("lastDecision %q decoded as %+v", lastDecision, r.LastDecision)
		}
	})
}

// FuzzExecItem decodes stored execution items.
func FuzzExecItem(f *testing.F) {
	for _, e := range []Execution{execution(StatusRunning, time.Time{}), execution(StatusSucceeded, t0.Add(time.Hour))} {
		it, err := newExecItem(e, DefaultActiveTTL, DefaultEndedTTL)
		if err != nil {
			f.Fatalf("newExecItem: %v", err)
		}
		f.Add(it.Kind, it.StartedAt, it.StoppedAt, it.UpdatedAt)
	}
	f.Add("run", "2025-03-01T12:00:00.000000000", "2025-03-01", "\x00")
	f.Fuzz(func(t *testing.T, kind, startedAt, stoppedAt, updatedAt string) {
		it := execItem{PK: pkExecution + execARN, SK: skExecution, Kind: kind, ARN: execARN, Status: StatusRunning,
			StartedAt: startedAt, StoppedAt: stoppedAt, UpdatedAt: updatedAt}
		e, err := it.execution()
		if err != nil {
			if !strings.Contains(err.Error(), it.PK) {
				t.Errorf("error %q does not name the item", err)
			}
			return
		}
		if kind != kindExecution {
			t.Errorf("item of kind %q decoded as an execution", kind)
		}
		if startedAt != "" && e.StartedAt.Format(timeLayout) != startedAt {
			t.Errorf("startedAt %q decoded as %v", startedAt, e.StartedAt)
		}
	})
}

// FuzzDecisionItem decodes stored decision-log items.
func FuzzDecisionItem(f *testing.F) {
	it, err := newDecisionItem(runARN, t0, sampleDecision("throttled at 40"), DefaultDecisionTTL)
	if err != nil {
		f.Fatalf("newDecisionItem: %v", err)
	}
	f.Add(it.Decision)
	f.Add(`{"old":{"maxConcurrency":40},"new":{"maxConcurrency":1e99},"reason":7}`)
	f.Add(`{"signals":{"throttledMinute":"yesterday"}}`)
	f.Fuzz(func(t *testing.T, decision string) {
		it := decisionItem{PK: pkRun + runARN, SK: skDecision + t0.Format(timeLayout), Kind: kindDecision, Decision: decision}
		if _, err := it.decision(); err != nil && !strings.Contains(err.Error(), it.SK) {
			t.Errorf("error %q does not name the item", err)
		}
	})
}
