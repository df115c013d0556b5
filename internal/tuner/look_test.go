package tuner

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/registry"
)

// step is one call of a step script: Tick or Look at an instant, and what
// its report must say.
type step struct {
	at               time.Duration // after now
	look             bool
	decided, looking int
	skipped          map[string]int
	describes        int // DescribeMapRun calls of the step
}

func runSteps(t *testing.T, tu *Tuner, steps []step) {
	t.Helper()
	ctx := context.Background()
	for i, s := range steps {
		at := now.Add(s.at)
		var (
			rep  Report
			err  error
			name = "tick"
		)
		if s.look {
			rep, name = tu.Look(ctx, at), "look"
		} else {
			rep, err = tu.Tick(ctx, at)
		}
		if err != nil || len(rep.Errors) > 0 {
			t.Fatalf("step %d, %s at +%s: %v %v", i, name, s.at, err, rep.Errors)
		}
		if rep.Decided != s.decided || rep.Looking != s.looking || len(rep.Skipped) != len(s.skipped) {
			t.Fatalf("step %d, %s at +%s: decided %d, looking %d, skipped %v; want %d, %d, %v",
				i, name, s.at, rep.Decided, rep.Looking, rep.Skipped, s.decided, s.looking, s.skipped)
		}
		for why, n := range s.skipped {
			if rep.Skipped[why] != n {
				t.Fatalf("step %d, %s at +%s: skipped %v, want %v", i, name, s.at, rep.Skipped, s.skipped)
			}
		}
		if got := rep.Calls[budget.DescribeMapRun]; got != s.describes {
			t.Fatalf("step %d, %s at +%s: %d DescribeMapRun calls, want %d", i, name, s.at, got, s.describes)
		}
	}
}

// decidedAt is the instant of tu's last decision on run arn, which it
// keeps in the process whether it wrote it or not.
func decidedAt(t *testing.T, tu *Tuner, arn string) time.Time {
	t.Helper()
	k := tu.known[arn]
	if k == nil {
		t.Fatalf("%s: not known to the tuner", arn)
	}
	return k.run.State.PrevAt
}

// holdSpy is a Store that records the lease lengths taken.
type holdSpy struct {
	Store
	ttls []time.Duration
}

func (s *holdSpy) Hold(ctx context.Context, r registry.Run, owner string, now time.Time, ttl time.Duration) (registry.Run, error) {
	s.ttls = append(s.ttls, ttl)
	return s.Store.Hold(ctx, r, owner, now, ttl)
}

// TestLooksRedecideHotRun: a new run, in slow start, is decided by the
// full pass and again by every look of the period; the look after the
// period's end does nothing, and the next full pass decides it again. A
// lease, taken to update, ends with the period at the latest.
func TestLooksRedecideHotRun(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	e.watchExec(t, "default")
	spy := &holdSpy{Store: e.store}
	tu := e.tuner(t, Config{})
	tu.deps.Store = timedStore{spy, DefaultCallTimeout}
	runSteps(t, tu, []step{
		{at: 0, decided: 1, looking: 1, describes: 1},
		{at: 10 * time.Second, look: true, decided: 1, looking: 1, describes: 1},
		{at: 20 * time.Second, look: true, decided: 1, looking: 1, describes: 1},
		{at: 50 * time.Second, look: true, decided: 1, looking: 1, describes: 1},
		{at: 60 * time.Second, look: true}, // the period is over
		{at: 60 * time.Second, decided: 1, looking: 1, describes: 1},
	})
	if got := decidedAt(t, tu, runARN); !got.Equal(now.Add(time.Minute)) {
		t.Fatalf("last decision at %s, want the second full pass", got)
	}
	// Only the updates take a lease: the first decision's and the first
	// look's (the limit doubles once; the children do not use more).
	want := []time.Duration{time.Minute, 50 * time.Second}
	if !slices.Equal(spy.ttls, want) {
		t.Fatalf("leases %v, want %v", spy.ttls, want)
	}
}

// TestLooksLeaveConvergedRun: a run converged at its confirmed limit, with
// the throttle metric clean, is decided once a period, by the full pass.
func TestLooksLeaveConvergedRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.acct.addRun(execARN, runARN, 200, 200, 1000)
	e.acct.throttles = minutes(now, 5, 0)
	st := control.State{Phase: control.PhaseBracket, Lo: 200, Hi: 204, HiAt: now.Add(-6 * time.Minute), CutAt: now.Add(-6 * time.Minute), LoAt: now.Add(-5 * time.Minute),
		History: []control.Setting{{From: now.Add(-time.Hour), MaxConcurrency: 200}}, PrevAt: now.Add(-time.Minute),
		Prev: maprun.Counts{Running: 200, Pending: 1000, Total: 1200}}
	if _, err := e.store.PutRun(ctx, registry.Run{ARN: runARN, Policy: "watched", DiscoveredAt: now.Add(-time.Hour), State: st}); err != nil {
		t.Fatal(err)
	}
	tu := e.tuner(t, Config{})
	runSteps(t, tu, []step{
		{at: 0, decided: 1, describes: 1},
		{at: 10 * time.Second, look: true},
		{at: 30 * time.Second, look: true},
	})
	if got := decidedAt(t, tu, runARN); !got.Equal(now) {
		t.Fatalf("last decision at %s, want the full pass's", got)
	}
}

// TestLooksShareTheBudget: the period's budget of 3 DescribeMapRun calls
// is shared by the full pass and the looks: two hot runs take 2 in the
// full pass, the looks spread the third, and once it is spent they decide
// nothing; the next full pass has a budget of its own and decides both.
func TestLooksShareTheBudget(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 2 {
		arn := fmt.Sprintf("%s-%d", runARN, i)
		e.acct.addRun(execARN, arn, 0, 5, 1000)
		if _, err := e.store.PutRun(ctx, registry.Run{ARN: arn, Policy: "default", DiscoveredAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	// 5 % of a minute of DescribeMapRun's refill of 1/s.
	tu := e.tuner(t, Config{BudgetFraction: 0.05})
	runSteps(t, tu, []step{
		{at: 0, decided: 2, looking: 2, describes: 2},
		// The budget is spent: nothing left to look with (the handler stops).
		{at: 10 * time.Second, look: true, decided: 1, describes: 1, skipped: map[string]int{"budget": 1}},
		{at: 20 * time.Second, look: true, skipped: map[string]int{"budget": 2}},
		{at: 50 * time.Second, look: true, skipped: map[string]int{"budget": 2}},
		{at: 60 * time.Second, decided: 2, looking: 2, describes: 2},
	})
}

// TestLooksPaceTheBudget: a look spends its share of what is left of the
// period's budget, so that the later looks get theirs: the least recently
// decided run first.
func TestLooksPaceTheBudget(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var arns []string
	for i := range 4 {
		arn := fmt.Sprintf("%s-%d", runARN, i)
		arns = append(arns, arn)
		e.acct.addRun(execARN, arn, 0, 5, 1000)
		if _, err := e.store.PutRun(ctx, registry.Run{ARN: arn, Policy: "default", DiscoveredAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	// 6 DescribeMapRun calls a period: 4 for the full pass, 2 for 5 looks.
	tu := e.tuner(t, Config{BudgetFraction: 0.1})
	runSteps(t, tu, []step{
		{at: 0, decided: 4, looking: 4, describes: 4},
		{at: 10 * time.Second, look: true, decided: 1, looking: 4, describes: 1, skipped: map[string]int{"budget": 3}},
		{at: 20 * time.Second, look: true, decided: 1, describes: 1, skipped: map[string]int{"budget": 3}},
		{at: 30 * time.Second, look: true, skipped: map[string]int{"budget": 4}},
	})
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 0, 0} {
		if got := decidedAt(t, tu, arns[i]); !got.Equal(now.Add(want)) {
			t.Errorf("%s decided last at +%s, want +%s", arns[i], got.Sub(now), want)
		}
	}
}

// TestLooksPaceTheLiveSamples: the looks' live samples (10 histories
// each) share the period's 40 GetExecutionHistory calls; once they are
// spent, no run is left to look at.
func TestLooksPaceTheLiveSamples(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	if _, err := e.store.PutRun(context.Background(), registry.Run{ARN: runARN, Policy: "default", DiscoveredAt: now}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		arn := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:etl-nightly/ProcessItems:child-%d", i)
		e.acct.children[runARN] = append(e.acct.children[runARN], types.ExecutionListItem{ExecutionArn: aws.String(arn), StartDate: aws.Time(now.Add(-40 * time.Second))})
		e.acct.childEvents[arn] = []types.HistoryEvent{{Type: types.HistoryEventTypeTaskScheduled, Timestamp: aws.Time(now.Add(-10 * time.Second))}}
	}
	tu := e.tuner(t, Config{BudgetFraction: 0.1}) // 6 DescribeMapRun, 40 GetExecutionHistory
	runSteps(t, tu, []step{
		{at: 0, decided: 1, looking: 1, describes: 1},
		{at: 10 * time.Second, look: true, decided: 1, looking: 1, describes: 1},
		{at: 20 * time.Second, look: true, decided: 1, looking: 1, describes: 1},
		{at: 30 * time.Second, look: true, decided: 1, describes: 1},
		{at: 40 * time.Second, look: true, skipped: map[string]int{"budget": 1}},
	})
}

// TestLooksKeepInvocationsApart: an overlapping invocation does not
// decide a run another decided moments ago, its looks never decide a run
// it did not decide, and a look does not take a run leased to another, nor
// one another invocation decided on since.
func TestLooksKeepInvocationsApart(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	if _, err := e.store.PutRun(context.Background(), registry.Run{ARN: runARN, Policy: "default", DiscoveredAt: now}); err != nil {
		t.Fatal(err)
	}
	a := e.tuner(t, Config{Owner: "tuner-a"})
	b := e.tuner(t, Config{Owner: "tuner-b"})
	runSteps(t, a, []step{{at: 0, decided: 1, looking: 1, describes: 1}})
	runSteps(t, b, []step{
		{at: 2 * time.Second, skipped: map[string]int{"fresh": 1}},
		{at: 10 * time.Second, look: true},
	})
	runSteps(t, a, []step{{at: 10 * time.Second, look: true, decided: 1, looking: 1, describes: 1}})
	updates := len(e.acct.updates)
	// b mid-decision holds the lease: a's look leaves the run alone.
	if _, err := e.store.Claim(context.Background(), runARN, "tuner-b", now.Add(15*time.Second), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	runSteps(t, a, []step{{at: 20 * time.Second, look: true, looking: 1, skipped: map[string]int{"leased": 1}}})
	if len(e.acct.updates) != updates {
		t.Fatalf("%d updates, want %d: a's look updated a run leased to b", len(e.acct.updates), updates)
	}
	// b's lease lapsed; c's full pass takes the run over (a decided on
	// it 26 s ago): from then on the looks are c's, not a's.
	c := e.tuner(t, Config{Owner: "tuner-c"})
	runSteps(t, c, []step{{at: 36 * time.Second, decided: 1, looking: 1, describes: 1}})
	runSteps(t, a, []step{{at: 40 * time.Second, look: true, skipped: map[string]int{"taken": 1}}})
	runSteps(t, c, []step{{at: 46 * time.Second, look: true, decided: 1, looking: 1, describes: 1}})
	runSteps(t, a, []step{{at: 50 * time.Second, look: true}})
	if got := decidedAt(t, c, runARN); !got.Equal(now.Add(46 * time.Second)) {
		t.Fatalf("last decision at +%s, want c's look's", got.Sub(now))
	}
}

// TestLooksOff: a negative LookEvery is one pass a period.
func TestLooksOff(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 0, 5, 1000)
	e.watchExec(t, "default")
	runSteps(t, e.tuner(t, Config{LookEvery: -1}), []step{
		{at: 0, decided: 1, describes: 1},
		{at: 10 * time.Second, look: true},
		// Decided moments ago: half a period is the window without looks.
		{at: 20 * time.Second, skipped: map[string]int{"fresh": 1}},
	})
}

func TestNeedsLook(t *testing.T) {
	running := maprun.Snapshot{Status: maprun.StatusRunning, Settings: maprun.Settings{MaxConcurrency: 200}, Items: maprun.Counts{Running: 200}}
	ended := running
	ended.Status = maprun.StatusSucceeded
	unlimited := running
	unlimited.Settings.MaxConcurrency = 0
	tests := []struct {
		name string
		st   control.State
		snap maprun.Snapshot
		want bool
	}{
		{"new", control.State{}, running, true},
		{"slow start", control.State{Phase: control.PhaseSlowStart}, running, true},
		{"probing", control.State{Phase: control.PhaseProbe, Lo: 200}, running, true},
		{"above the confirmed limit", control.State{Phase: control.PhaseBracket, Lo: 190}, running, true},
		{"unlimited", control.State{Phase: control.PhaseBracket, Lo: 200}, unlimited, true},
		{"just cut", control.State{Phase: control.PhaseBracket, Lo: 200, CutAt: now.Add(-4 * time.Minute)}, running, true},
		{"converged", control.State{Phase: control.PhaseBracket, Lo: 200, CutAt: now.Add(-6 * time.Minute)}, running, false},
		{"converged, items failing", control.State{Phase: control.PhaseBracket, Lo: 200, CutAt: now.Add(-6 * time.Minute),
			Ticks: []control.Tick{{At: now.Add(-time.Minute), Failed: 3}, {At: now, Failed: 40}}}, running, true},
		{"converged, failures steady", control.State{Phase: control.PhaseBracket, Lo: 200, CutAt: now.Add(-6 * time.Minute),
			Ticks: []control.Tick{{At: now.Add(-time.Minute), Failed: 40}, {At: now, Failed: 40}}}, running, false},
		{"ended", control.State{Phase: control.PhaseSlowStart}, ended, false},
	}
	for _, tt := range tests {
		if got := needsLook(tt.st, tt.snap, now); got != tt.want {
			t.Errorf("%s: needsLook = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestHoldingRunIsNotWritten: a converged run whose decision holds is
// written by its first decision (logged: the run had none), then not each
// period, only once its observations are saveEvery old; a new process
// reads it as stored and goes on from there.
func TestHoldingRunIsNotWritten(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.acct.addRun(execARN, runARN, 200, 200, 100000)
	st := control.State{Phase: control.PhaseBracket, Lo: 200, Hi: 204, HiAt: now.Add(-6 * time.Minute), CutAt: now.Add(-6 * time.Minute), LoAt: now.Add(-5 * time.Minute),
		History: []control.Setting{{From: now.Add(-time.Hour), MaxConcurrency: 200}}, PrevAt: now.Add(-time.Minute),
		Prev: maprun.Counts{Running: 200, Pending: 100000, Total: 100200}}
	if _, err := e.store.PutRun(ctx, registry.Run{ARN: runARN, Policy: "watched", DiscoveredAt: now.Add(-time.Hour), State: st}); err != nil {
		t.Fatal(err)
	}
	tu := e.tuner(t, Config{})
	writes := func() int64 { return e.store.Usage().KindWRU["run"] }
	for _, i := range []int{0, 1, 2, 3, 5} {
		at := now.Add(time.Duration(i) * time.Minute)
		e.acct.throttles = minutes(at, 5, 0)
		before := writes()
		if rep, err := tu.Tick(ctx, at); err != nil || rep.Decided != 1 || len(rep.Errors) > 0 {
			t.Fatalf("tick at +%d min: %+v, %v", i, rep, err)
		}
		stored, err := e.store.GetRun(ctx, runARN)
		if err != nil {
			t.Fatal(err)
		}
		wantWrite := i == 0 || i == 5
		wantAt := now
		if i == 5 {
			wantAt = at
		}
		if !stored.State.PrevAt.Equal(wantAt) || !decidedAt(t, tu, runARN).Equal(at) {
			t.Fatalf("tick at +%d min: stored state observed at %s, tuner's at %s; want %s and the tick", i, stored.State.PrevAt, decidedAt(t, tu, runARN), wantAt)
		}
		if wrote := writes() > before; wrote != wantWrite {
			t.Fatalf("tick at +%d min: run written %v (%d WRU), want %v", i, wrote, writes()-before, wantWrite)
		}
	}
	// A new process reads the run as stored and decides on.
	if rep, err := e.tuner(t, Config{Owner: "tuner-b"}).Tick(ctx, now.Add(6*time.Minute)); err != nil || rep.Decided != 1 || len(rep.Errors) > 0 {
		t.Fatalf("new process: %+v, %v", rep, err)
	}
}
