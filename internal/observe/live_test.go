package observe

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/lab/sim"
)

const liveRun = "arn:aws:states:us-east-1:123456789012:mapRun:etl/Items:0b1c2d3e-1111-2222-3333-444455556666"

var l0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// childARN is the ARN of child i of liveRun; kind is "execution" or "express".
func childARN(kind string, i int) string {
	return fmt.Sprintf("arn:aws:states:us-east-1:123456789012:%s:etl/Items:child-%d", kind, i)
}

// attempt is one event of a child's history: a failed attempt with an
// error, or any other event when errName is "".
type attempt struct {
	at      time.Duration // after l0
	errName string
	lambda  bool
}

func event(a attempt) types.HistoryEvent {
	ev := types.HistoryEvent{Timestamp: aws.Time(l0.Add(a.at)), Type: types.HistoryEventTypeTaskScheduled}
	switch {
	case a.errName == "":
	case a.lambda:
		ev.Type = types.HistoryEventTypeLambdaFunctionFailed
		ev.LambdaFunctionFailedEventDetails = &types.LambdaFunctionFailedEventDetails{Error: aws.String(a.errName), Cause: aws.String("x")}
	default:
		ev.Type = types.HistoryEventTypeTaskFailed
		ev.TaskFailedEventDetails = &types.TaskFailedEventDetails{Error: aws.String(a.errName), Cause: aws.String("x")}
	}
	return ev
}

// liveFake serves running children whose histories (oldest event first)
// are given, child 0 the newest.
func liveFake(kind string, histories [][]attempt) *fakeSFN {
	byARN := map[string][]types.HistoryEvent{}
	var items []types.ExecutionListItem
	for i, h := range histories {
		arn := childARN(kind, i)
		items = append(items, types.ExecutionListItem{ExecutionArn: aws.String(arn), StartDate: aws.Time(l0.Add(-time.Duration(i) * time.Second))})
		for k := len(h) - 1; k >= 0; k-- {
			byARN[arn] = append(byARN[arn], event(h[k]))
		}
	}
	return &fakeSFN{
		listExecutions: func(in *sfn.ListExecutionsInput) (*sfn.ListExecutionsOutput, error) {
			if aws.ToString(in.MapRunArn) != liveRun || in.StatusFilter != types.ExecutionStatusRunning {
				return nil, errUnexpected
			}
			return &sfn.ListExecutionsOutput{Executions: items}, nil
		},
		getExecutionHistory: func(in *sfn.GetExecutionHistoryInput) (*sfn.GetExecutionHistoryOutput, error) {
			arn := aws.ToString(in.ExecutionArn)
			if kind == "express" {
				return nil, &types.InvalidArn{Message: aws.String("Invalid Arn: 'Resource type not valid in this context: express'")}
			}
			evs, ok := byARN[arn]
			if !ok {
				return nil, &types.ExecutionDoesNotExist{Message: aws.String("gone")}
			}
			if !in.ReverseOrder || in.MaxResults < 1 {
				return nil, errUnexpected
			}
			return &sfn.GetExecutionHistoryOutput{Events: evs[:min(len(evs), int(in.MaxResults))]}, nil
		},
	}
}

func TestSampleRunning(t *testing.T) {
	throttled := []attempt{{at: 0}, {at: 40 * time.Second, errName: "Lambda.TooManyRequestsException"}, {at: 44 * time.Second}}
	early := []attempt{{at: 0, errName: "Lambda.TooManyRequestsException"}, {at: 4 * time.Second}}
	other := []attempt{{at: 40 * time.Second, errName: "KeyError"}}
	direct := []attempt{{at: 50 * time.Second, errName: "Lambda.TooManyRequestsException", lambda: true}}
	clean := []attempt{{at: 30 * time.Second}}
	since := l0.Add(30 * time.Second)
	tests := []struct {
		name      string
		histories [][]attempt
		want      control.LiveSample
		reads     int
	}{
		{"none running", nil, control.LiveSample{Since: since}, 0},
		{"all clean", [][]attempt{clean, clean, clean}, control.LiveSample{Since: since, Sampled: 3, OldestStart: l0.Add(-2 * time.Second)}, 3},
		{"throttled in the window", [][]attempt{clean, throttled, clean},
			control.LiveSample{Since: since, Sampled: 3, Throttled: 1, NewestAt: l0.Add(40 * time.Second), StartedAt: l0.Add(-time.Second), OldestStart: l0.Add(-2 * time.Second)}, 3},
		{"throttled before the window", [][]attempt{early, early}, control.LiveSample{Since: since, Sampled: 2, OldestStart: l0.Add(-time.Second)}, 2},
		{"other errors are failing, not throttled", [][]attempt{other, other}, control.LiveSample{Since: since, Sampled: 2, OldestStart: l0.Add(-time.Second), Failing: 2, FailingStartedAt: l0}, 2},
		{"lambda function task", [][]attempt{clean, clean, direct, throttled},
			control.LiveSample{Since: since, Sampled: 4, Throttled: 2, NewestAt: l0.Add(50 * time.Second), StartedAt: l0.Add(-2 * time.Second), OldestStart: l0.Add(-3 * time.Second)}, 4},
		{"newest and oldest of many", [][]attempt{
			clean, clean, clean, clean, clean, clean, clean, clean, // newest 8
			throttled, throttled, throttled, // not read
			clean, clean, clean, direct, // oldest 4
		}, control.LiveSample{Since: since, Sampled: 12, Throttled: 1, NewestAt: l0.Add(50 * time.Second), StartedAt: l0.Add(-14 * time.Second), OldestStart: l0.Add(-14 * time.Second)}, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := liveFake("execution", tt.histories)
			o := &Observer{SFN: f, Budget: bigBudget(t)}
			got, err := o.SampleRunning(context.Background(), liveRun, since)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("sample = %+v, want %+v", got, tt.want)
			}
			if f.calls["ListExecutions"] != 1 || f.calls["GetExecutionHistory"] != tt.reads {
				t.Errorf("calls = %v, want 1 list and %d history reads", f.calls, tt.reads)
			}
		})
	}
}

func TestSampleRunningSkipsGoneChildren(t *testing.T) {
	f := liveFake("execution", [][]attempt{{{at: 40 * time.Second, errName: "ThrottlingException"}}})
	list := f.listExecutions
	f.listExecutions = func(in *sfn.ListExecutionsInput) (*sfn.ListExecutionsOutput, error) {
		out, err := list(in)
		if err == nil {
			out.Executions = append(out.Executions, types.ExecutionListItem{ExecutionArn: aws.String(childARN("execution", 99))})
		}
		return out, err
	}
	got, err := (&Observer{SFN: f}).SampleRunning(context.Background(), liveRun, l0)
	if err != nil || got.Sampled != 1 || got.Throttled != 1 {
		t.Fatalf("sample = %+v, %v; want 1 of 1 throttled, the gone child skipped", got, err)
	}
}

func TestSampleRunningErrors(t *testing.T) {
	clean := [][]attempt{{{at: 0}}, {{at: 0}}, {{at: 0}}}
	t.Run("express children", func(t *testing.T) {
		f := liveFake("express", clean)
		_, err := (&Observer{SFN: f}).SampleRunning(context.Background(), liveRun, l0)
		if !errors.Is(err, ErrUnsupported) || f.calls["GetExecutionHistory"] != 0 {
			t.Fatalf("err = %v after %v; want ErrUnsupported before any history read", err, f.calls)
		}
	})
	t.Run("InvalidArn for a child", func(t *testing.T) {
		f := liveFake("express", clean)
		list := f.listExecutions
		f.listExecutions = func(in *sfn.ListExecutionsInput) (*sfn.ListExecutionsOutput, error) {
			out, err := list(in)
			for i := range out.Executions {
				out.Executions[i].ExecutionArn = aws.String(childARN("execution", i))
			}
			return out, err
		}
		_, err := (&Observer{SFN: f}).SampleRunning(context.Background(), liveRun, l0)
		if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v; want ErrUnsupported, not ErrNotFound", err)
		}
	})
	t.Run("express map run", func(t *testing.T) {
		f := &fakeSFN{listExecutions: func(*sfn.ListExecutionsInput) (*sfn.ListExecutionsOutput, error) {
			return nil, &types.StateMachineTypeNotSupported{Message: aws.String("express")}
		}}
		_, err := (&Observer{SFN: f}).SampleRunning(context.Background(), liveRun, l0)
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("err = %v; want ErrUnsupported", err)
		}
	})
	t.Run("map run not found", func(t *testing.T) {
		f := &fakeSFN{listExecutions: func(*sfn.ListExecutionsInput) (*sfn.ListExecutionsOutput, error) {
			return nil, &types.ResourceNotFound{Message: aws.String("no")}
		}}
		_, err := (&Observer{SFN: f}).SampleRunning(context.Background(), liveRun, l0)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v; want ErrNotFound", err)
		}
	})
	t.Run("bad arn", func(t *testing.T) {
		f := &fakeSFN{}
		_, err := (&Observer{SFN: f}).SampleRunning(context.Background(), "arn:nope", l0)
		if !errors.Is(err, ErrNotFound) || len(f.calls) != 0 {
			t.Fatalf("err = %v after %v; want ErrNotFound and no call", err, f.calls)
		}
	})
	t.Run("budget runs out part way", func(t *testing.T) {
		f := liveFake("execution", [][]attempt{{{at: 0, errName: "ThrottlingException"}}, {{at: 0}}, {{at: 0}}})
		got, err := (&Observer{SFN: f, Budget: budgetOf(t, 2)}).SampleRunning(context.Background(), liveRun, l0)
		if !errors.Is(err, budget.ErrExhausted) || got.Sampled != 2 || got.Throttled != 1 {
			t.Fatalf("sample = %+v, %v; want the 2 children read and ErrExhausted", got, err)
		}
	})
	t.Run("no list budget", func(t *testing.T) {
		f := liveFake("execution", clean)
		b := budgetOf(t, 1)
		b.Take(budget.ListExecutions)
		got, err := (&Observer{SFN: f, Budget: b}).SampleRunning(context.Background(), liveRun, l0)
		if !errors.Is(err, budget.ErrExhausted) || got.Sampled != 0 || len(f.calls) != 0 {
			t.Fatalf("sample = %+v, %v after %v; want no call and ErrExhausted", got, err, f.calls)
		}
	})
}

// TestSampleRunningSimulator reads a simulated Map Run over its capacity:
// children are throttled, and the sample sees it through the same API as
// in Step Functions; the same run with Express children is unsupported.
func TestSampleRunningSimulator(t *testing.T) {
	const text = `
downstreams: [{name: fn, concurrency: 20}]
runs:
  - stateMachine: etl
    label: Items
    downstream: fn
    items: 2000
    executionType: %s
    maxConcurrency: %d
    duration: {dist: fixed, value: 10s}
    retry: {interval: 2s, backoffRate: 2, maxAttempts: 6}
`
	sample := func(t *testing.T, typ string, limit int) (control.LiveSample, error) {
		sc, err := sim.ParseScenario("live", fmt.Appendf(nil, text, typ, limit))
		if err != nil {
			t.Fatal(err)
		}
		w := sim.New(sc, 1)
		w.Start()
		w.Advance(2 * time.Minute)
		since := w.Now().Add(-time.Minute)
		return (&Observer{SFN: w.SFN(), Budget: bigBudget(t)}).SampleRunning(context.Background(), w.MapRunARNs()[0], since)
	}
	over, err := sample(t, "STANDARD", 60)
	if err != nil {
		t.Fatal(err)
	}
	if over.Sampled != LiveNewest+LiveOldest || over.Throttled < 3 || over.NewestAt.IsZero() || over.StartedAt.IsZero() {
		t.Errorf("60 children against 20: sample = %+v, want at least 3 of %d sampled children throttled", over, LiveNewest+LiveOldest)
	}
	under, err := sample(t, "STANDARD", 15)
	if err != nil {
		t.Fatal(err)
	}
	if under.Sampled != LiveNewest+LiveOldest || under.Throttled != 0 {
		t.Errorf("15 children against 20: sample = %+v, want %d sampled, none throttled", under, LiveNewest+LiveOldest)
	}
	if _, err := sample(t, "EXPRESS", 60); !errors.Is(err, ErrUnsupported) {
		t.Errorf("express children: err = %v, want ErrUnsupported", err)
	}
}
