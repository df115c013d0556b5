package tuner

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/registry"
)

// loseSave is a Store whose first Save after more than after UpdateMapRun
// calls fails, as when the Lambda times out or DynamoDB fails between the
// update and the save.
type loseSave struct {
	Store
	acct  *fakeAccount
	after int
	mu    sync.Mutex
	lost  int
}

func (s *loseSave) Record(ctx context.Context, r registry.Run, owner string, now time.Time) (registry.Run, error) {
	s.acct.mu.Lock()
	updated := len(s.acct.updates) > s.after
	s.acct.mu.Unlock()
	s.mu.Lock()
	lose := updated && s.lost == 0
	if lose {
		s.lost++
	}
	s.mu.Unlock()
	if lose {
		return registry.Run{}, errors.New("save lost: the invocation timed out")
	}
	return s.Store.Record(ctx, r, owner, now)
}

// useAll has the run's children use its whole limit.
func (f *fakeAccount) useAll(arn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.runs[arn]
	c := *r.ItemCounts
	c.Pending -= int64(r.MaxConcurrency) - c.Running
	c.Running = int64(r.MaxConcurrency)
	r.ItemCounts = &c
	ec := types.MapRunExecutionCounts(c)
	r.ExecutionCounts = &ec
}

// minutes answers every metric query with value v for the n minutes
// before the last whole minute before at: CloudWatch publishes late.
func minutes(at time.Time, n int, v float64) map[time.Time]float64 {
	out := map[time.Time]float64{}
	end := at.Truncate(time.Minute)
	for i := 2; i <= n+1; i++ {
		out[end.Add(-time.Duration(i)*time.Minute)] = v
	}
	return out
}

// TestLostSaveAfterUpdateIsNotAnOverride raises a run, loses the save,
// then ticks under heavy throttling: the limit maptuner sent is its own,
// so the run is cut, not left alone for an hour as if an operator had set it.
func TestLostSaveAfterUpdateIsNotAnOverride(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.acct.addRun(execARN, runARN, 10, 10, 5000)
	if _, err := e.store.PutRun(ctx, registry.Run{ARN: runARN, Policy: "watched", DiscoveredAt: now}); err != nil {
		t.Fatal(err)
	}
	pols := e.tuner(t, Config{}).deps.Policies
	store := &loseSave{Store: e.store, acct: e.acct, after: 1}
	tu, err := New(Config{Owner: "tuner-a", Region: "us-east-1"}, Deps{SFN: e.acct, CloudWatch: e.acct, Store: store, Policies: pols})
	if err != nil {
		t.Fatal(err)
	}

	// Clean minutes with every child in use: slow start raises the limit;
	// the save of the second raise is lost.
	at := now
	var rep Report
	for i := 0; store.lost == 0; i++ {
		if i == 10 {
			t.Fatalf("no second raise in %d clean ticks: %+v", i, rep)
		}
		at = now.Add(time.Duration(i) * time.Minute)
		e.acct.useAll(runARN)
		e.acct.throttles = minutes(at, 5, 0)
		var err error
		if rep, err = tu.Tick(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	if len(e.acct.updates) != 2 {
		t.Fatalf("updates %+v, want two raises", e.acct.updates)
	}
	raised := aws.ToInt32(e.acct.updates[1].MaxConcurrency)
	t.Logf("raise whose save was lost: %s %d -> %d, save lost", rep.Decisions[0].Decision.Reason, rep.Decisions[0].Decision.Old.MaxConcurrency, raised)

	at = at.Add(time.Minute)
	e.acct.throttles = minutes(at, 5, 5000)
	rep, err = tu.Tick(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Decided != 1 {
		t.Fatalf("next tick: report %+v", rep)
	}
	d := rep.Decisions[0].Decision
	t.Logf("next tick at 5,000 throttles a minute: %s %d -> %d: %s", d.Reason, d.Old.MaxConcurrency, d.New.MaxConcurrency, d.Message)
	if d.Reason == control.ReasonOverride || d.New.MaxConcurrency >= raised || !rep.Decisions[0].Applied {
		t.Fatalf("next tick decided %s %d -> %d (applied %v), want a cut below %d", d.Reason, d.Old.MaxConcurrency, d.New.MaxConcurrency, rep.Decisions[0].Applied, raised)
	}
}

// stall is the fake account with calls that hang: the calls named in ops
// do their work, then hold until their context ends, as a call that hangs
// or whose answer is lost does. onCall, if set, runs when one starts to
// hold: a test ends the tick's context there, as a deadline would.
type stall struct {
	*fakeAccount
	ops    map[string]bool
	onCall func()

	mu      sync.Mutex
	metrics int // GetMetricData calls
}

func (s *stall) hold(ctx context.Context, op string) error {
	if !s.ops[op] {
		return nil
	}
	if s.onCall != nil {
		s.onCall()
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *stall) DescribeMapRun(ctx context.Context, in *sfn.DescribeMapRunInput, opts ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error) {
	if err := s.hold(ctx, "DescribeMapRun"); err != nil {
		return nil, err
	}
	return s.fakeAccount.DescribeMapRun(ctx, in, opts...)
}

func (s *stall) UpdateMapRun(ctx context.Context, in *sfn.UpdateMapRunInput, opts ...func(*sfn.Options)) (*sfn.UpdateMapRunOutput, error) {
	out, err := s.fakeAccount.UpdateMapRun(ctx, in, opts...)
	if err := s.hold(ctx, "UpdateMapRun"); err != nil {
		return nil, err // applied, but the answer never comes
	}
	return out, err
}

func (s *stall) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	if err := s.hold(ctx, "discovery"); err != nil {
		return nil, err
	}
	return s.fakeAccount.GetExecutionHistory(ctx, in, opts...)
}

func (s *stall) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	s.mu.Lock()
	s.metrics++
	s.mu.Unlock()
	return s.fakeAccount.GetMetricData(ctx, in, opts...)
}

// TestHangingCalls ticks over two tracked runs while calls hang, until
// their own timeout or until the tick's context ends. Whatever hangs,
// nothing is applied without a save that records it, no lease is left
// held, and nothing is read once the tick's context has ended.
func TestHangingCalls(t *testing.T) {
	const other = runARN + "-2"
	tests := []struct {
		name string
		ops  string
		// cancel ends the tick's context when the stalled call starts;
		// otherwise the call's own timeout ends it.
		cancel      bool
		wantUpdates int // UpdateMapRun calls that reached the account
		wantSkipped map[string]int
		wantMetrics int
	}{
		{"update answer lost, call timeout", "UpdateMapRun", false, 2, nil, 1},
		{"update answer lost, tick ended", "UpdateMapRun", true, 1, map[string]int{"deadline": 1}, 1},
		{"describe hangs, call timeout", "DescribeMapRun", false, 0, nil, 1},
		{"describe hangs, tick ended", "DescribeMapRun", true, 0, map[string]int{"deadline": 1}, 1},
		{"discovery hangs, tick ended", "discovery", true, 0, map[string]int{"deadline": 2}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			acct := &stall{fakeAccount: e.acct, ops: map[string]bool{tt.ops: true}}
			if tt.cancel {
				acct.onCall = cancel
			}
			for _, arn := range []string{runARN, other} {
				e.acct.addRun(execARN, arn, 0, 5, 1000)
				if _, err := e.store.PutRun(context.Background(), registry.Run{ARN: arn, Policy: "watched", DiscoveredAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			e.watchExec(t, "watched")
			e.acct.throttles = minutes(now, 5, 0)
			pols := e.tuner(t, Config{}).deps.Policies
			callTimeout := time.Hour // only the tick's end stops a stalled call
			if !tt.cancel {
				callTimeout = 10 * time.Millisecond
			}
			tu, err := New(Config{Owner: "tuner-a", Region: "us-east-1", CallTimeout: callTimeout},
				Deps{SFN: acct, CloudWatch: acct, Store: e.store, Policies: pols, Log: slog.New(slog.NewJSONHandler(e.logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := tu.Tick(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(e.acct.updates) != tt.wantUpdates || !maps.Equal(rep.Skipped, tt.wantSkipped) || acct.metrics != tt.wantMetrics {
				t.Fatalf("updates %d, skipped %v, metric reads %d; want %d, %v, %d\nreport %+v",
					len(e.acct.updates), rep.Skipped, acct.metrics, tt.wantUpdates, tt.wantSkipped, tt.wantMetrics, rep)
			}
			sent := map[string]int32{}
			for _, u := range e.acct.updates {
				sent[aws.ToString(u.MapRunArn)] = aws.ToInt32(u.MaxConcurrency)
			}
			for _, arn := range []string{runARN, other} {
				r, err := e.store.GetRun(context.Background(), arn)
				if err != nil {
					t.Fatal(err)
				}
				if r.LeaseOwner != "" {
					t.Errorf("%s: lease left held by %q", arn, r.LeaseOwner)
				}
				limit, updated := sent[arn]
				if updated && (r.State.Sent == nil || r.State.Sent.MaxConcurrency != limit) {
					t.Errorf("%s: %d applied, saved state records %+v", arn, limit, r.State.Sent)
				}
				if !updated && r.State.Sent != nil {
					t.Errorf("%s: nothing applied, saved state records %+v", arn, r.State.Sent)
				}
			}
			if strings.Contains(e.logs.String(), `"level":"ERROR"`) {
				t.Errorf("a hanging call is logged as an error:\n%s", e.logs)
			}
			if tt.wantUpdates == 0 {
				return
			}
			// The next tick, without hanging calls, knows the limits it sent
			// for its own.
			acct.ops = nil
			rep, err = tu.Tick(context.Background(), now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range rep.Decisions {
				if _, updated := sent[d.MapRunARN]; updated && d.Decision.Reason == control.ReasonOverride {
					t.Errorf("%s: next tick takes the limit it sent for an override: %s", d.MapRunARN, d.Decision.Message)
				}
			}
		})
	}
}

func TestPhases(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.Background(), deadline)
	work, finish, stop := phases(parent, 3*time.Second)
	defer stop()
	if d, ok := work.Deadline(); !ok || !d.Equal(deadline.Add(-3*time.Second)) {
		t.Errorf("work deadline %v %v, want %v", d, ok, deadline.Add(-3*time.Second))
	}
	if d, ok := finish.Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("finish deadline %v %v, want %v", d, ok, deadline)
	}
	cancel()
	<-work.Done()
	if finish.Err() != nil {
		t.Errorf("finish ended with the tick's context: %v", finish.Err())
	}
}

// deny is the fake account where DescribeMapRun fails with err while it is set.
type deny struct {
	*fakeAccount
	err error
}

func (d *deny) DescribeMapRun(ctx context.Context, in *sfn.DescribeMapRunInput, opts ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error) {
	if d.err != nil {
		return nil, d.err
	}
	return d.fakeAccount.DescribeMapRun(ctx, in, opts...)
}

// TestUntunableRunsRetire ticks once a minute over a run that cannot be
// tuned: it is retired after RetireAfter ticks in a row, with a warning; a
// tick that tunes it starts the count again, and a passing error does not
// count.
func TestUntunableRunsRetire(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: states:DescribeMapRun"}
	unavailable := &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "try again", Fault: smithy.FaultServer}
	tests := []struct {
		name   string
		policy string
		// errs is what DescribeMapRun fails with at each tick; nil answers.
		errs        []error
		wantEnded   bool
		wantStrikes int
	}{
		{"policy gone", "gone-from-the-file", make([]error, 3), true, 3},
		{"access denied", "default", []error{denied, denied, denied}, true, 3},
		{"tuned between denials", "default", []error{denied, denied, nil, denied, denied}, false, 2},
		{"service errors do not count", "default", []error{denied, unavailable, unavailable, denied}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.acct.addRun(execARN, runARN, 10, 5, 1000)
			if _, err := e.store.PutRun(ctx, registry.Run{ARN: runARN, Policy: tt.policy, DiscoveredAt: now}); err != nil {
				t.Fatal(err)
			}
			acct := &deny{fakeAccount: e.acct}
			tu, err := New(Config{Owner: "tuner-a", Region: "us-east-1", RetireAfter: 3},
				Deps{SFN: acct, CloudWatch: acct, Store: e.store, Policies: e.tuner(t, Config{}).deps.Policies, Log: slog.New(slog.NewJSONHandler(e.logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			for i, err := range tt.errs {
				acct.err = err
				if _, err := tu.Tick(ctx, now.Add(time.Duration(i)*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			r, err := e.store.GetRun(ctx, runARN)
			if err != nil {
				t.Fatal(err)
			}
			if r.Ended != tt.wantEnded || r.Failures != tt.wantStrikes || r.LeaseOwner != "" {
				t.Fatalf("run ended %v (%q), failures %d, lease %q; want ended %v, failures %d, no lease",
					r.Ended, r.EndReason, r.Failures, r.LeaseOwner, tt.wantEnded, tt.wantStrikes)
			}
			logs := e.logs.String()
			if tt.wantEnded && (!strings.HasPrefix(r.EndReason, "retired: ") || !strings.Contains(logs, `"level":"WARN","msg":"run retired: tracking ended"`)) {
				t.Errorf("end reason %q; want a retirement, logged as a warning:\n%s", r.EndReason, logs)
			}
			for l := range strings.Lines(logs) {
				if strings.Contains(l, `"level":"ERROR"`) && !strings.Contains(l, "ServiceUnavailable") {
					t.Errorf("an expected condition is logged as an error: %s", l)
				}
			}
		})
	}
}
