package registry

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func testRecordScan(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	if _, err := f.PutExecution(ctx, execution(StatusRunning, time.Time{})); err != nil {
		t.Fatal(err)
	}
	steps := []Scan{
		{EventID: 1000, Token: "page-2", At: t0.Add(time.Minute)},
		{EventID: 1204, At: t0.Add(2 * time.Minute)}, // read to the end: no token
	}
	for _, s := range steps {
		if err := f.RecordScan(ctx, execARN, s); err != nil {
			t.Fatalf("RecordScan(%+v): %v", s, err)
		}
		got, err := f.ActiveExecutions(ctx)
		if err != nil || len(got) != 1 {
			t.Fatalf("ActiveExecutions = %+v, %v", got, err)
		}
		if got[0].Scan != s {
			t.Errorf("scan = %+v, want %+v", got[0].Scan, s)
		}
	}
	// A duplicate RUNNING event keeps the position.
	if changed, err := f.PutExecution(ctx, execution(StatusRunning, time.Time{})); err != nil || changed {
		t.Fatalf("duplicate PutExecution = %v, %v", changed, err)
	}
	if got, _ := f.ActiveExecutions(ctx); got[0].Scan != steps[1] {
		t.Errorf("scan after a duplicate event = %+v, want %+v", got[0].Scan, steps[1])
	}
	tests := []struct {
		name string
		arn  string
		s    Scan
		want error
	}{
		{"not stored", execARN + "x", Scan{EventID: 1, At: t0}, ErrNotFound},
		{"no time", execARN, Scan{EventID: 1}, ErrInvalid},
		{"negative id", execARN, Scan{EventID: -1, At: t0}, ErrInvalid},
		{"no arn", "", Scan{At: t0}, ErrInvalid},
	}
	for _, tt := range tests {
		if err := f.RecordScan(ctx, tt.arn, tt.s); !errors.Is(err, tt.want) {
			t.Errorf("%s: RecordScan = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := f.PutExecution(ctx, execution(StatusSucceeded, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := f.RecordScan(ctx, execARN, Scan{EventID: 1300, At: t0.Add(3 * time.Minute)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordScan of an ended execution = %v, want ErrNotFound", err)
	}
}

func testRedrive(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	put := func(status string, stopped time.Time, redrives int32) bool {
		t.Helper()
		e := execution(status, stopped)
		e.RedriveCount = redrives
		changed, err := f.PutExecution(ctx, e)
		if err != nil {
			t.Fatalf("PutExecution(%s, redrive %d): %v", status, redrives, err)
		}
		return changed
	}
	steps := []struct {
		name     string
		status   string
		stopped  time.Time
		redrives int32
		changed  bool
		active   bool
	}{
		{"running", StatusRunning, time.Time{}, 0, true, true},
		{"failed", StatusFailed, t0.Add(time.Hour), 0, true, false},
		{"late running event of the first attempt", StatusRunning, time.Time{}, 0, false, false},
		{"redriven", StatusRunning, time.Time{}, 1, true, true},
		{"late failure of the first attempt", StatusFailed, t0.Add(time.Hour), 0, false, true},
		{"same redrive again", StatusRunning, time.Time{}, 1, false, true},
		{"second attempt fails", StatusFailed, t0.Add(2 * time.Hour), 1, true, false},
		{"redriven again", StatusRunning, time.Time{}, 2, true, true},
	}
	for _, s := range steps {
		if got := put(s.status, s.stopped, s.redrives); got != s.changed {
			t.Errorf("%s: changed = %v, want %v", s.name, got, s.changed)
		}
		active, err := f.ActiveExecutions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(active) == 1; got != s.active {
			t.Errorf("%s: watched = %v, want %v", s.name, got, s.active)
		}
	}
}

func testStateMachineListing(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{TagCacheTTL: 10 * time.Minute, StateMachineTTL: 24 * time.Hour})
	in := StateMachine{ARN: smARN, Policy: "lambda-100", OptedIn: true, CheckedAt: t0, SeenAt: t0.Add(-time.Minute)}
	out := StateMachine{ARN: smARN + "-other", CheckedAt: t0}
	for _, sm := range []StateMachine{in, out} {
		if err := f.PutStateMachine(ctx, sm); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.StateMachines(ctx)
	if err != nil || !reflect.DeepEqual(got, []StateMachine{in}) {
		t.Fatalf("StateMachines = %+v, %v; want only the opted-in %+v", got, err, in)
	}
	// Remembered a day after it was last seen, not only as long as its tags are fresh.
	if got, want := expiresAt(t, f, pkStateMachine+smARN, skStateMachine), in.SeenAt.Add(24*time.Hour).Unix(); got != want {
		t.Errorf("expiresAt = %d, want %d", got, want)
	}
	if got, want := expiresAt(t, f, pkStateMachine+out.ARN, skStateMachine), t0.Add(10*time.Minute).Unix(); got != want {
		t.Errorf("expiresAt of a state machine not opted in = %d, want %d", got, want)
	}
	if err := f.RecordListing(ctx, smARN, t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err = f.StateMachines(ctx)
	if err != nil || len(got) != 1 || !got[0].ListedAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("StateMachines after listing = %+v, %v; want ListedAt %s", got, err, t0.Add(5*time.Minute))
	}
	if err := f.RecordListing(ctx, smARN+"-missing", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordListing of a state machine not stored = %v, want ErrNotFound", err)
	}
	if err := f.RecordListing(ctx, smARN, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("RecordListing at a zero time = %v, want ErrInvalid", err)
	}
	// The tag removed: the state machine leaves the listing.
	if err := f.PutStateMachine(ctx, StateMachine{ARN: smARN, CheckedAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.StateMachines(ctx); err != nil || len(got) != 0 {
		t.Errorf("StateMachines after opt-out = %+v, %v; want none", got, err)
	}
}
