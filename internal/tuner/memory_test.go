package tuner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/registry"
)

// TestFirstDecisionStartsFromWhatWasLearned: a new run of a job whose
// earlier run learned 300 two days ago starts just below it.
func TestFirstDecisionStartsFromWhatWasLearned(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	prev := "arn:aws:states:us-east-1:123456789012:mapRun:etl-nightly/ProcessItems:prev"
	if _, err := e.store.PutLearned(ctx, registry.Learned{StateMachineARN: smARN, Label: "ProcessItems", Policy: "default",
		Limit: 300, ItemTime: 30 * time.Second, At: now.Add(-48 * time.Hour), RunARN: prev}); err != nil {
		t.Fatal(err)
	}
	// Another policy's memory is not this job's.
	if _, err := e.store.PutLearned(ctx, registry.Learned{StateMachineARN: smARN, Label: "ProcessItems", Policy: "watched", Limit: 50, At: now}); err != nil {
		t.Fatal(err)
	}
	e.acct.addRun(execARN, runARN, 10, 5, 1000)
	e.watchExec(t, "default")
	rep, err := e.tuner(t, Config{}).Tick(ctx, now)
	if err != nil || len(rep.Errors) != 0 || len(rep.Decisions) != 1 {
		t.Fatalf("tick: %+v, %v", rep, err)
	}
	d := rep.Decisions[0].Decision
	// 95 % less 10 % times 2 of 14 days: 93.6 % of 300.
	if d.Reason != control.ReasonLearned || d.New.MaxConcurrency != 280 || !strings.Contains(d.Message, prev) {
		t.Fatalf("decision %s %d %q, want Learned 280 naming %s", d.Reason, d.New.MaxConcurrency, d.Message, prev)
	}
	if len(e.acct.updates) != 1 || aws.ToInt32(e.acct.updates[0].MaxConcurrency) != 280 {
		t.Fatalf("updates %+v, want 280", e.acct.updates)
	}
	run, err := e.store.GetRun(ctx, runARN)
	if err != nil || run.State.Recall != 300 || run.State.ItemTime != 30 {
		t.Fatalf("stored state %+v, %v: want the learned limit and item time kept", run.State, err)
	}
}

// TestEndedRunIsRemembered: a run that succeeded hands on the highest
// limit it confirmed clean, for the next run of its job.
func TestEndedRunIsRemembered(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.acct.addRun(execARN, runARN, 180, 0, 0)
	e.acct.runs[runARN].Status = types.MapRunStatusSucceeded
	st := control.State{Lo: 180, ItemTime: 20, History: []control.Setting{{From: now.Add(-time.Hour), MaxConcurrency: 180}}, PrevAt: now.Add(-time.Minute)}
	if _, err := e.store.PutRun(ctx, registry.Run{ARN: runARN, Policy: "default", DiscoveredAt: now.Add(-time.Hour), State: st}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.tuner(t, Config{}).Tick(ctx, now)
	if err != nil || len(rep.Errors) != 0 || rep.Ended != 1 {
		t.Fatalf("tick: %+v, %v", rep, err)
	}
	got, err := e.store.GetLearned(ctx, smARN, "ProcessItems", "default")
	want := registry.Learned{StateMachineARN: smARN, Label: "ProcessItems", Policy: "default", Limit: 180, ItemTime: 20 * time.Second, At: now, RunARN: runARN}
	if err != nil || got != want {
		t.Fatalf("learned %+v, %v; want %+v", got, err, want)
	}
}
