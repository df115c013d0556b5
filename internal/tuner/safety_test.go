package tuner

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

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

func (s *loseSave) Save(ctx context.Context, r registry.Run, owner string, now time.Time) error {
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
		return errors.New("save lost: the invocation timed out")
	}
	return s.Store.Save(ctx, r, owner, now)
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
