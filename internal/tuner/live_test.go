package tuner

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
)

// TestTickSeesLiveThrottlingWithoutMetrics: the policy names no metric, and
// half of the running children retry on throttling: the tick samples their
// histories and cuts at once.
func TestTickSeesLiveThrottlingWithoutMetrics(t *testing.T) {
	e := newEnv(t)
	e.acct.addRun(execARN, runARN, 200, 200, 1000)
	e.watchExec(t, "default")
	for i := range 10 {
		arn := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:etl-nightly/ProcessItems:child-%d", i)
		e.acct.children[runARN] = append(e.acct.children[runARN], types.ExecutionListItem{ExecutionArn: aws.String(arn), StartDate: aws.Time(now.Add(-40 * time.Second))})
		ev := types.HistoryEvent{Type: types.HistoryEventTypeTaskScheduled, Timestamp: aws.Time(now.Add(-10 * time.Second))}
		if i%2 == 0 {
			ev = types.HistoryEvent{Type: types.HistoryEventTypeTaskFailed, Timestamp: aws.Time(now.Add(-12 * time.Second)),
				TaskFailedEventDetails: &types.TaskFailedEventDetails{Error: aws.String("Lambda.TooManyRequestsException"), Cause: aws.String("Rate Exceeded.")}}
		}
		e.acct.childEvents[arn] = []types.HistoryEvent{ev}
	}
	rep, err := e.tuner(t, Config{}).Tick(context.Background(), now)
	if err != nil || len(rep.Errors) > 0 {
		t.Fatalf("tick: %v %v", err, rep.Errors)
	}
	if len(rep.Decisions) != 1 {
		t.Fatalf("report %+v", rep)
	}
	d := rep.Decisions[0].Decision
	if d.Reason != control.ReasonLiveThrottled || d.New.MaxConcurrency >= 200 || !rep.Decisions[0].Applied || !strings.Contains(d.Message, "live signal") {
		t.Fatalf("decision %s %d (applied %v): %s; want a cut below 200 on the live signal", d.Reason, d.New.MaxConcurrency, rep.Decisions[0].Applied, d.Message)
	}
	if children := rep.Calls["GetExecutionHistory"] - e.acct.historyCalls; e.acct.childListCalls != 1 || children != 10 {
		t.Fatalf("%d listings of children, %d histories of children; want 1 listing and 10 histories", e.acct.childListCalls, children)
	}
}

func TestNeedsLive(t *testing.T) {
	running := maprun.Snapshot{Status: maprun.StatusRunning, Settings: maprun.Settings{MaxConcurrency: 200}, Items: maprun.Counts{Running: 200}}
	ended := running
	ended.Status = maprun.StatusSucceeded
	idle := running
	idle.Items.Running = 0
	converged := control.State{Phase: control.PhaseBracket, Lo: 200, CutAt: now.Add(-time.Hour)}
	tests := []struct {
		name    string
		st      control.State
		snap    maprun.Snapshot
		metrics bool
		want    bool
	}{
		{"slow start", control.State{Phase: control.PhaseSlowStart}, running, true, true},
		{"probing", control.State{Phase: control.PhaseProbe, Lo: 200}, running, true, true},
		{"just cut", control.State{Phase: control.PhaseBracket, Lo: 200, CutAt: now.Add(-2 * time.Minute)}, running, true, true},
		{"not confirmed", control.State{Phase: control.PhaseBracket, Lo: 150, CutAt: now.Add(-time.Hour)}, running, true, true},
		{"converged, metrics watched", converged, running, true, false},
		{"converged, no metric", converged, running, false, true},
		{"ended", control.State{Phase: control.PhaseSlowStart}, ended, false, false},
		{"nothing running", control.State{Phase: control.PhaseSlowStart}, idle, false, false},
	}
	for _, tt := range tests {
		if got := needsLive(tt.st, tt.snap, tt.metrics, now); got != tt.want {
			t.Errorf("%s: needsLive = %v, want %v", tt.name, got, tt.want)
		}
	}
}
