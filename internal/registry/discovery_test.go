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

func testRedriveRun(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	if _, err := f.PutRun(ctx, Run{ARN: runARN, ExecutionARN: execARN, Policy: "lambda-100", DiscoveredAt: t0}); err != nil {
		t.Fatal(err)
	}
	claimed, err := f.Claim(ctx, runARN, "tuner-a", t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	claimed.State.Start.MaxConcurrency = 40
	claimed.Failures = 3 // ticks it could not be tuned, before it ended
	claimed.Ended, claimed.EndReason = true, "FAILED"
	if err := f.Save(ctx, claimed, "tuner-a", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		redrives int32
		reopened bool
		active   bool
	}{
		{"first redrive", 1, true, true},
		{"the same redrive read again while it runs", 1, false, true},
		{"a later redrive while it runs", 2, false, true},
	}
	for _, s := range steps {
		got, err := f.Redrive(ctx, runARN, s.redrives, t0.Add(time.Hour))
		if err != nil || got != s.reopened {
			t.Fatalf("%s: Redrive = %v, %v; want %v", s.name, got, err, s.reopened)
		}
		runs, _ := f.ActiveRuns(ctx)
		if (len(runs) == 1) != s.active {
			t.Fatalf("%s: active runs %+v, want active %v", s.name, runs, s.active)
		}
	}
	r, err := f.GetRun(ctx, runARN)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ended || r.EndReason != "" || !r.EndedAt.IsZero() || r.State.Start.MaxConcurrency != 0 || r.LastDecision != nil || r.RedriveCount != 2 || r.LeaseOwner != "" || r.Version != 2 || r.Failures != 0 {
		t.Errorf("redriven run %+v: want it taken up as new (no end, zero state, no failures), count 2, version 2", r)
	}
	if raw := f.raw(t, pkRun+runARN, skRun); raw["expiresAt"] != nil {
		t.Errorf("redriven run still expires at %v", raw["expiresAt"])
	}
	// Ended again, the redrives already seen do not take it up again.
	if err := f.EndRun(ctx, runARN, "FAILED", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int32{1, 2} {
		if got, err := f.Redrive(ctx, runARN, n, t0.Add(3*time.Hour)); err != nil || got {
			t.Errorf("redrive %d read again after the end = %v, %v; want nothing done", n, got, err)
		}
	}
	if got, err := f.Redrive(ctx, runARN, 3, t0.Add(3*time.Hour)); err != nil || !got {
		t.Errorf("third redrive = %v, %v; want the run taken up", got, err)
	}
	if _, err := f.Redrive(ctx, runARN+"x", 1, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("redrive of a run not stored = %v, want ErrNotFound", err)
	}
	if _, err := f.Redrive(ctx, runARN, 0, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("redrive count 0 = %v, want ErrInvalid", err)
	}
}
