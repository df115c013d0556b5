package observe

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
)

const histExec = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"

// history serves one growing execution history through GetExecutionHistory
// as the API pages it: tokens are offsets in the order asked for. It counts
// the events it returns.
type history struct {
	events   []types.HistoryEvent
	returned int
	issued   int    // tokens issued, to make each one unique
	expired  string // a token refused as expired; "t1000*" refuses every token at offset 1000
}

func (h *history) add(n int, special map[int]types.HistoryEvent) {
	for range n {
		id := int64(len(h.events) + 1)
		ev, ok := special[int(id)]
		if !ok {
			ev = types.HistoryEvent{Type: types.HistoryEventTypeTaskStateEntered}
		}
		ev.Id, ev.Timestamp = id, aws.Time(time.Unix(id, 0))
		h.events = append(h.events, ev)
	}
}

func (h *history) serve(in *sfn.GetExecutionHistoryInput) (*sfn.GetExecutionHistoryOutput, error) {
	if aws.ToString(in.ExecutionArn) != histExec {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("no such execution")}
	}
	events := append([]types.HistoryEvent{}, h.events...)
	if in.ReverseOrder {
		for l, r := 0, len(events)-1; l < r; l, r = l+1, r-1 {
			events[l], events[r] = events[r], events[l]
		}
	}
	from := 0
	if in.NextToken != nil {
		if *in.NextToken == h.expired || strings.HasSuffix(h.expired, "*") && strings.HasPrefix(*in.NextToken, strings.TrimSuffix(h.expired, "*")) {
			return nil, &types.InvalidToken{Message: aws.String("expired")}
		}
		off, _, _ := strings.Cut(strings.TrimPrefix(*in.NextToken, "t"), ".")
		from, _ = strconv.Atoi(off)
	}
	size := int(in.MaxResults)
	if size == 0 {
		size = 100
	}
	to := min(len(events), from+size)
	out := &sfn.GetExecutionHistoryOutput{Events: events[from:to]}
	if to < len(events) {
		h.issued++
		out.NextToken = aws.String("t" + strconv.Itoa(to) + "." + strconv.Itoa(h.issued))
	}
	h.returned += to - from
	return out, nil
}

func mapRunStarted(arn string) types.HistoryEvent {
	return types.HistoryEvent{Type: types.HistoryEventTypeMapRunStarted, MapRunStartedEventDetails: &types.MapRunStartedEventDetails{MapRunArn: aws.String(arn)}}
}

func TestReadHistoryReadsOnlyNewEvents(t *testing.T) {
	h := &history{}
	h.add(3500, map[int]types.HistoryEvent{10: mapRunStarted("run-a"), 2600: mapRunStarted("run-b")})
	f := &fakeSFN{getExecutionHistory: h.serve}
	o := &Observer{SFN: f, Budget: bigBudget(t)}

	first, err := o.ReadHistory(t.Context(), histExec, HistoryPosition{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (HistoryPosition{EventID: 3500}); first.Position != want || first.Calls != 4 || first.Events != 3500 {
		t.Fatalf("first read: position %+v, %d calls, %d events; want %+v, 4 calls, 3500 events", first.Position, first.Calls, first.Events, want)
	}
	if !reflect.DeepEqual(first.MapRuns, []string{"run-a", "run-b"}) || first.Status != "" {
		t.Fatalf("first read: map runs %v, status %q", first.MapRuns, first.Status)
	}

	h.add(5, map[int]types.HistoryEvent{3503: mapRunStarted("run-c")})
	h.returned = 0
	second, err := o.ReadHistory(t.Context(), histExec, first.Position)
	if err != nil {
		t.Fatal(err)
	}
	if second.Calls != 1 || second.Events != 5 || second.Position.EventID != 3505 || !reflect.DeepEqual(second.MapRuns, []string{"run-c"}) {
		t.Fatalf("second read: %d calls, %d new events, position %+v, runs %v; want 1 call, 5 events, 3505, [run-c]",
			second.Calls, second.Events, second.Position, second.MapRuns)
	}
	if h.returned > tailPage {
		t.Errorf("second read returned %d events, want at most one page of %d", h.returned, tailPage)
	}

	third, err := o.ReadHistory(t.Context(), histExec, second.Position)
	if err != nil || third.Calls != 1 || third.Events != 0 || third.Position != second.Position || len(third.MapRuns) != 0 {
		t.Fatalf("read with nothing new = %+v, %v; want one call, nothing new, same position", third, err)
	}
}

func TestReadHistoryResumesWithinBudget(t *testing.T) {
	h := &history{}
	h.add(3500, map[int]types.HistoryEvent{10: mapRunStarted("run-a"), 3400: mapRunStarted("run-b")})
	f := &fakeSFN{getExecutionHistory: h.serve}

	// Two calls: the first 2,000 events, then the rest from the token.
	got, err := (&Observer{SFN: f, Budget: budgetOf(t, 2)}).ReadHistory(t.Context(), histExec, HistoryPosition{})
	if !errors.Is(err, budget.ErrExhausted) {
		t.Fatalf("err = %v, want ErrExhausted", err)
	}
	if got.Position.EventID != 2000 || got.Position.Token == "" || !reflect.DeepEqual(got.MapRuns, []string{"run-a"}) {
		t.Fatalf("partial read: position %+v, runs %v; want event 2000 with a token, [run-a]", got.Position, got.MapRuns)
	}
	rest, err := (&Observer{SFN: f, Budget: budgetOf(t, 2)}).ReadHistory(t.Context(), histExec, got.Position)
	if err != nil || rest.Position != (HistoryPosition{EventID: 3500}) || rest.Events != 1500 || !reflect.DeepEqual(rest.MapRuns, []string{"run-b"}) {
		t.Fatalf("resumed read = position %+v, %d events, runs %v, %v; want 3500, 1500 events, [run-b]", rest.Position, rest.Events, rest.MapRuns, err)
	}

	// 250 new events, newest first in pages of 100, and one call allowed:
	// the position stays, so that the 150 unread are read next time.
	h.add(250, map[int]types.HistoryEvent{3510: mapRunStarted("run-c"), 3740: mapRunStarted("run-d")})
	part, err := (&Observer{SFN: f, Budget: budgetOf(t, 1)}).ReadHistory(t.Context(), histExec, rest.Position)
	if !errors.Is(err, budget.ErrExhausted) || part.Position != rest.Position || !reflect.DeepEqual(part.MapRuns, []string{"run-d"}) {
		t.Fatalf("short tail read = position %+v, runs %v, %v; want position kept, [run-d], ErrExhausted", part.Position, part.MapRuns, err)
	}
	full, err := (&Observer{SFN: f, Budget: budgetOf(t, 3)}).ReadHistory(t.Context(), histExec, part.Position)
	if err != nil || full.Position.EventID != 3750 || full.Events != 250 || !reflect.DeepEqual(full.MapRuns, []string{"run-c", "run-d"}) {
		t.Fatalf("tail read = position %+v, %d events, runs %v, %v; want 3750, 250 events, [run-c run-d]", full.Position, full.Events, full.MapRuns, err)
	}
}

func TestReadHistoryStatusAndRedrive(t *testing.T) {
	redriven := types.HistoryEvent{Type: types.HistoryEventTypeMapRunRedriven,
		MapRunRedrivenEventDetails: &types.MapRunRedrivenEventDetails{MapRunArn: aws.String("run-a"), RedriveCount: aws.Int32(1)}}
	h := &history{}
	h.add(4, map[int]types.HistoryEvent{2: mapRunStarted("run-a"), 4: {Type: types.HistoryEventTypeExecutionFailed}})
	o := &Observer{SFN: &fakeSFN{getExecutionHistory: h.serve}, Budget: bigBudget(t)}
	got, err := o.ReadHistory(t.Context(), histExec, HistoryPosition{})
	if err != nil || got.Status != "FAILED" || !got.StoppedAt.Equal(time.Unix(4, 0)) {
		t.Fatalf("failed execution: status %q at %s, %v; want FAILED at event 4", got.Status, got.StoppedAt, err)
	}
	h.add(3, map[int]types.HistoryEvent{5: {Type: types.HistoryEventTypeExecutionRedriven}, 7: redriven})
	again, err := o.ReadHistory(t.Context(), histExec, got.Position)
	if err != nil || again.Status != "" || !reflect.DeepEqual(again.Redriven, []RedrivenMapRun{{ARN: "run-a", RedriveCount: 1}}) {
		t.Fatalf("redriven execution: status %q, redriven %+v, %v; want running, run-a redrive 1", again.Status, again.Redriven, err)
	}
	h.add(1, map[int]types.HistoryEvent{8: {Type: types.HistoryEventTypeExecutionSucceeded}})
	if end, err := o.ReadHistory(t.Context(), histExec, again.Position); err != nil || end.Status != "SUCCEEDED" {
		t.Fatalf("ended execution: status %q, %v; want SUCCEEDED", end.Status, err)
	}
}

func TestReadHistoryErrors(t *testing.T) {
	h := &history{expired: "t1000"}
	h.add(1500, map[int]types.HistoryEvent{10: mapRunStarted("run-a"), 1200: mapRunStarted("run-b")})
	o := &Observer{SFN: &fakeSFN{getExecutionHistory: h.serve}, Budget: bigBudget(t)}
	// The stored token expired: the history is read again from its first event.
	got, err := o.ReadHistory(t.Context(), histExec, HistoryPosition{EventID: 1000, Token: "t1000"})
	if err != nil || got.Position != (HistoryPosition{EventID: 1500}) || !reflect.DeepEqual(got.MapRuns, []string{"run-a", "run-b"}) {
		t.Fatalf("read from an expired token = position %+v, runs %v, %v; want 1500, [run-a run-b]", got.Position, got.MapRuns, err)
	}
	// Tokens refused again after the restart: an error, not a loop.
	h.expired = "t1000*"
	if got, err := o.ReadHistory(t.Context(), histExec, HistoryPosition{EventID: 1000, Token: "t1000"}); err == nil || got.Calls != 3 {
		t.Errorf("read with every token refused = %d calls, %v; want 3 calls and the error", got.Calls, err)
	}
	if _, err := o.ReadHistory(t.Context(), histExec+"x", HistoryPosition{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing execution = %v, want ErrNotFound", err)
	}
}
