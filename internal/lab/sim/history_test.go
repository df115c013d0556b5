package sim

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// twoChildren is a run whose second child is throttled exactly twice: the
// first child holds the one slot from 200ms to 5.2s; the second calls at
// 210ms and 2.21s (throttled), then at 6.21s after a 4s wait (admitted),
// and succeeds at 11.21s.
const twoChildren = `
downstreams: [{name: fn, concurrency: 1}]
runs:
  - stateMachine: etl
    label: Items
    downstream: fn
    items: 2
    task: %s
    duration: {dist: fixed, value: 5s}
    retry: {interval: 2s, backoffRate: 2, maxAttempts: 5}
`

// fullHistory reads a whole history, a page of size at a time.
func fullHistory(t *testing.T, api *SFN, arn string, reverse bool, size int32) []types.HistoryEvent {
	t.Helper()
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), ReverseOrder: reverse, MaxResults: size}
	var all []types.HistoryEvent
	for pages := 0; ; pages++ {
		out, err := api.GetExecutionHistory(context.Background(), in)
		if err != nil {
			t.Fatalf("history of %s: %v", arn, err)
		}
		if size > 0 && len(out.Events) > int(size) {
			t.Fatalf("page of %d events, asked for %d", len(out.Events), size)
		}
		all = append(all, out.Events...)
		if out.NextToken == nil {
			return all
		}
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		in.NextToken = out.NextToken
	}
}

// runningChildren lists a Map Run's RUNNING children, newest first.
func runningChildren(t *testing.T, w *World, size int32) []types.ExecutionListItem {
	t.Helper()
	in := &sfn.ListExecutionsInput{MapRunArn: aws.String(w.MapRunARNs()[0]), StatusFilter: types.ExecutionStatusRunning, MaxResults: size}
	var all []types.ExecutionListItem
	for pages := 0; ; pages++ {
		out, err := w.SFN().ListExecutions(context.Background(), in)
		if err != nil {
			t.Fatalf("list running children: %v", err)
		}
		all = append(all, out.Executions...)
		if out.NextToken == nil {
			return all
		}
		if pages > 10000 {
			t.Fatal("paging does not end")
		}
		in.NextToken = out.NextToken
	}
}

// TestChildHistoryRecordsThrottledAttempts follows the child throttled
// twice through its life, with each kind of Task, in both orders and in
// pages of every size.
func TestChildHistoryRecordsThrottledAttempts(t *testing.T) {
	const (
		begun     = 10 * time.Millisecond
		firstCall = 210 * time.Millisecond
		retry1    = 2210 * time.Millisecond
		retry2    = 6210 * time.Millisecond
		done      = 11210 * time.Millisecond
	)
	type ev struct {
		typ types.HistoryEventType
		at  time.Duration
	}
	tests := []struct {
		task                             string
		scheduled, started, failed, succ types.HistoryEventType
	}{
		{TaskInvoke, types.HistoryEventTypeTaskScheduled, types.HistoryEventTypeTaskStarted, types.HistoryEventTypeTaskFailed, types.HistoryEventTypeTaskSucceeded},
		{TaskFunction, types.HistoryEventTypeLambdaFunctionScheduled, types.HistoryEventTypeLambdaFunctionStarted, types.HistoryEventTypeLambdaFunctionFailed, types.HistoryEventTypeLambdaFunctionSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.task, func(t *testing.T) {
			w := started(t, fmt.Sprintf(twoChildren, tt.task), 1)
			api := w.SFN()
			attempt := func(at time.Duration, failed bool) []ev {
				out := []ev{{tt.scheduled, at}, {tt.started, at}}
				if failed {
					out = append(out, ev{tt.failed, at})
				}
				return out
			}
			head := []ev{{types.HistoryEventTypeExecutionStarted, begun}, {types.HistoryEventTypeTaskStateEntered, begun}}
			concat := func(parts ...[]ev) []ev {
				var out []ev
				for _, p := range parts {
					out = append(out, p...)
				}
				return out
			}
			steps := []struct {
				at      time.Duration
				running int
				want    []ev
			}{
				{100 * time.Millisecond, 2, head},
				{time.Second, 2, concat(head, attempt(firstCall, true))},
				{3 * time.Second, 2, concat(head, attempt(firstCall, true), attempt(retry1, true))},
				{7 * time.Second, 1, concat(head, attempt(firstCall, true), attempt(retry1, true), attempt(retry2, false))},
				{12 * time.Second, 0, concat(head, attempt(firstCall, true), attempt(retry1, true), attempt(retry2, false), []ev{
					{tt.succ, done}, {types.HistoryEventTypeTaskStateExited, done}, {types.HistoryEventTypeExecutionSucceeded, done},
				})},
			}
			var arn string
			for _, st := range steps {
				w.Advance(st.at - (w.Now().Sub(DefaultStart)))
				running := runningChildren(t, w, 1)
				if len(running) != st.running {
					t.Fatalf("at %s: %d RUNNING children, want %d", st.at, len(running), st.running)
				}
				if st.running == 2 {
					// Newest first: the second child, then the first.
					if aws.ToString(running[0].ExecutionArn) != w.childARN(w.runs[0], 1) || aws.ToString(running[1].ExecutionArn) != w.childARN(w.runs[0], 0) {
						t.Fatalf("at %s: RUNNING children %s, %s; want the newest first", st.at, aws.ToString(running[0].ExecutionArn), aws.ToString(running[1].ExecutionArn))
					}
				}
				arn = w.childARN(w.runs[0], 1)
				events := fullHistory(t, api, arn, false, 0)
				got := make([]ev, len(events))
				for i, e := range events {
					got[i] = ev{e.Type, e.Timestamp.Sub(DefaultStart)}
				}
				if !reflect.DeepEqual(got, st.want) {
					t.Fatalf("at %s: history\n%v\nwant\n%v", st.at, got, st.want)
				}
				for i, e := range events {
					wantPrev := int64(i)
					if i == 1 {
						wantPrev = 0
					}
					if e.Id != int64(i+1) || e.PreviousEventId != wantPrev {
						t.Errorf("at %s: event %d (%s) has id %d after %d, want %d after %d", st.at, i, e.Type, e.Id, e.PreviousEventId, i+1, wantPrev)
					}
				}
				for size := int32(1); size <= int32(len(events))+1; size++ {
					if fwd := fullHistory(t, api, arn, false, size); !reflect.DeepEqual(fwd, events) {
						t.Fatalf("at %s: forward in pages of %d differs", st.at, size)
					}
					rev := fullHistory(t, api, arn, true, size)
					for i := range rev {
						if !reflect.DeepEqual(rev[i], events[len(events)-1-i]) {
							t.Fatalf("at %s: reverse in pages of %d: event %d is %s, want %s", st.at, size, i, rev[i].Type, events[len(events)-1-i].Type)
						}
					}
				}
			}

			// The finished history in detail: the two failures carry the
			// throttle error and cause, the Task's resource, in order.
			events := fullHistory(t, api, arn, false, 0)
			var failures []types.HistoryEvent
			for _, e := range events {
				if e.Type == tt.failed {
					failures = append(failures, e)
				}
			}
			if len(failures) != 2 {
				t.Fatalf("%d failed events, want 2", len(failures))
			}
			for _, f := range failures {
				var errName, cause string
				if tt.task == TaskInvoke {
					d := f.TaskFailedEventDetails
					if aws.ToString(d.Resource) != "invoke" || aws.ToString(d.ResourceType) != "lambda" {
						t.Errorf("TaskFailed resource %s/%s, want lambda/invoke", aws.ToString(d.ResourceType), aws.ToString(d.Resource))
					}
					errName, cause = aws.ToString(d.Error), aws.ToString(d.Cause)
				} else {
					d := f.LambdaFunctionFailedEventDetails
					errName, cause = aws.ToString(d.Error), aws.ToString(d.Cause)
				}
				if errName != DefaultThrottleError || cause != DefaultThrottleCause {
					t.Errorf("failed attempt %q / %q, want %q / %q", errName, cause, DefaultThrottleError, DefaultThrottleCause)
				}
			}
			if tt.task == TaskInvoke {
				p := aws.ToString(events[2].TaskScheduledEventDetails.Parameters)
				if p != `{"FunctionName":"fn","Payload":{"item":1}}` || aws.ToString(events[2].TaskScheduledEventDetails.Region) != Region {
					t.Errorf("TaskScheduled parameters %s", p)
				}
			} else if r := aws.ToString(events[2].LambdaFunctionScheduledEventDetails.Resource); r != FunctionARN("fn") {
				t.Errorf("LambdaFunctionScheduled resource %s, want %s", r, FunctionARN("fn"))
			}
			newest, err := api.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), ReverseOrder: true, MaxResults: 1})
			if err != nil || len(newest.Events) != 1 || newest.Events[0].Type != types.HistoryEventTypeExecutionSucceeded || newest.Events[0].Id != int64(len(events)) {
				t.Errorf("newest event: %+v, %v", newest, err)
			}
		})
	}
}

// TestHistoryTokens checks that a history token names an event, so that
// it stays good while a running child's history grows, and is bound to
// its execution and order.
func TestHistoryTokens(t *testing.T) {
	ctx := context.Background()
	w := started(t, fmt.Sprintf(twoChildren, TaskInvoke), 1)
	w.Advance(time.Second)
	api := w.SFN()
	arn := w.childARN(w.runs[0], 1)
	first, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), ReverseOrder: true, MaxResults: 2})
	if err != nil || len(first.Events) != 2 || first.NextToken == nil {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	w.Advance(2 * time.Second) // the retry's events are added
	rest, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), ReverseOrder: true, MaxResults: 10, NextToken: first.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, e := range append(first.Events, rest.Events...) {
		ids = append(ids, e.Id)
	}
	if !reflect.DeepEqual(ids, []int64{5, 4, 3, 2, 1}) {
		t.Errorf("ids across a growing history %v, want 5 down to 1", ids)
	}
	misuse := []*sfn.GetExecutionHistoryInput{
		{ExecutionArn: aws.String(arn), NextToken: first.NextToken},
		{ExecutionArn: aws.String(w.childARN(w.runs[0], 0)), ReverseOrder: true, NextToken: first.NextToken},
		{ExecutionArn: aws.String(arn), ReverseOrder: true, NextToken: aws.String("99." + tokenTag(arn+"\x00reverse"))},
	}
	for i, in := range misuse {
		var it *types.InvalidToken
		if _, err := api.GetExecutionHistory(ctx, in); !errors.As(err, &it) {
			t.Errorf("misuse %d: %v, want InvalidToken", i, err)
		}
	}
}

// TestHistoriesMatchCalls checks, over every child of a run with
// throttling, poison items and a failure that aborts it, that the
// histories record each call the downstream saw: one scheduled event per
// call, one throttle failure per throttled call, and each child's
// outcome as its last event, as DescribeExecution reports it.
func TestHistoriesMatchCalls(t *testing.T) {
	for _, text := range []string{oneRun, `
downstreams: [{name: fn, concurrency: 3}]
runs:
  - stateMachine: etl
    label: Items
    downstream: fn
    items: 40
    maxConcurrency: 8
    task: function
    toleratedFailureCount: 2
    failures: {poisonBatch: {from: 20, count: 3}}
    duration: {dist: fixed, value: 10s}
    retry: {interval: 1s, maxAttempts: 8, jitter: FULL}
`} {
		ctx := context.Background()
		w := started(t, text, 7)
		runToEnd(t, w)
		res := w.Result().Runs[0]
		r := w.runs[0]
		var scheduled, throttled int64
		terminal := map[types.ExecutionStatus]types.HistoryEventType{
			types.ExecutionStatusSucceeded: types.HistoryEventTypeExecutionSucceeded,
			types.ExecutionStatusFailed:    types.HistoryEventTypeExecutionFailed,
			types.ExecutionStatusAborted:   types.HistoryEventTypeExecutionAborted,
		}
		outcomes := map[types.ExecutionStatus]int{}
		for ci := range r.children {
			arn := w.childARN(r, int32(ci))
			events := fullHistory(t, w.SFN(), arn, false, 1000)
			d, err := w.SFN().DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			outcomes[d.Status]++
			last := events[len(events)-1]
			if last.Type != terminal[d.Status] || !last.Timestamp.Equal(*d.StopDate) {
				t.Errorf("child %d %s: last event %s at %s, stopped %s", ci, d.Status, last.Type, last.Timestamp, d.StopDate)
			}
			if d.Status == types.ExecutionStatusFailed && aws.ToString(last.ExecutionFailedEventDetails.Error) != aws.ToString(d.Error) {
				t.Errorf("child %d: ExecutionFailed %q, DescribeExecution %q", ci, aws.ToString(last.ExecutionFailedEventDetails.Error), aws.ToString(d.Error))
			}
			for i, e := range events {
				if i > 0 && e.Timestamp.Before(*events[i-1].Timestamp) {
					t.Errorf("child %d: event %d before event %d", ci, i, i-1)
				}
				switch e.Type {
				case types.HistoryEventTypeTaskScheduled, types.HistoryEventTypeLambdaFunctionScheduled:
					scheduled++
				case types.HistoryEventTypeTaskFailed:
					if aws.ToString(e.TaskFailedEventDetails.Error) == DefaultThrottleError {
						throttled++
					}
				case types.HistoryEventTypeLambdaFunctionFailed:
					if aws.ToString(e.LambdaFunctionFailedEventDetails.Error) == DefaultThrottleError {
						throttled++
					}
				}
			}
		}
		if scheduled != res.Calls || throttled != res.Throttled || res.Throttled == 0 {
			t.Errorf("histories show %d calls, %d throttled; the downstream saw %d and %d", scheduled, throttled, res.Calls, res.Throttled)
		}
		if outcomes[types.ExecutionStatusFailed] == 0 {
			t.Errorf("outcomes %v: want failed children", outcomes)
		}
		// The compact record: one retry record per call after a child's first.
		var callers int64
		for _, c := range r.children {
			if c.called {
				callers++
			}
		}
		if int64(len(r.retries)) != res.Calls-callers {
			t.Errorf("%d retry records for %d calls of %d children", len(r.retries), res.Calls, callers)
		}
	}
}

// TestExpressChildrenHaveNoHistory checks Express children as Step
// Functions serves them: listed by their Map Run, RUNNING ones too, with
// Express ARNs, but GetExecutionHistory refuses their ARN as InvalidArn,
// and the refused call still spends its quota.
func TestExpressChildrenHaveNoHistory(t *testing.T) {
	ctx := context.Background()
	w := started(t, `
downstreams: [{name: fn, concurrency: 2}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 20, maxConcurrency: 5, executionType: EXPRESS, duration: {dist: fixed, value: 10s}}]
`, 1)
	w.Advance(time.Second)
	running := runningChildren(t, w, 2)
	if len(running) != 5 {
		t.Fatalf("%d RUNNING Express children, want 5", len(running))
	}
	for i, c := range running {
		if want := w.childARN(w.runs[0], int32(4-i)); aws.ToString(c.ExecutionArn) != want || c.Status != types.ExecutionStatusRunning || aws.ToInt32(c.ItemCount) != 1 {
			t.Errorf("RUNNING child %d: %s %s, want %s", i, aws.ToString(c.ExecutionArn), c.Status, want)
		}
	}
	before := w.Result().API.Calls["GetExecutionHistory"]
	_, err := w.SFN().GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: running[0].ExecutionArn})
	var ia *types.InvalidArn
	if !errors.As(err, &ia) || ia.ErrorMessage() != "Invalid Arn: 'Resource type not valid in this context: express'" {
		t.Errorf("history of an Express child: %v, want InvalidArn", err)
	}
	if got := w.Result().API.Calls["GetExecutionHistory"]; got != before+1 {
		t.Errorf("GetExecutionHistory calls %d, want %d", got, before+1)
	}
	if len(w.runs[0].retries) != 0 {
		t.Errorf("%d retry records kept for Express children", len(w.runs[0].retries))
	}
}

// TestListRunningChildrenAtScale checks the RUNNING listing against the
// children's statuses while many start and finish: every RUNNING child,
// newest first, in pages, and nothing else.
func TestListRunningChildrenAtScale(t *testing.T) {
	w := started(t, `
downstreams: [{name: fn, concurrency: 150}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 3000, maxConcurrency: 200, toleratedFailurePercentage: 100, duration: {dist: pareto, min: 2s, alpha: 1.2, max: 10m}, retry: {maxAttempts: 8}}]
`, 3)
	most, compacted := 0, false
	for step := 0; !w.Done(); step++ {
		w.Advance(7 * time.Second)
		r := w.runs[0]
		var want []string
		for ci := len(r.children) - 1; ci >= 0; ci-- {
			if r.children[ci].status == childRunning {
				want = append(want, w.childARN(r, int32(ci)))
			}
		}
		var got []string
		for _, c := range runningChildren(t, w, 37) {
			got = append(got, aws.ToString(c.ExecutionArn))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: %d RUNNING children listed, want %d", step, len(got), len(want))
		}
		if len(r.live) > 2*r.running+65 {
			t.Fatalf("step %d: live list of %d for %d running children", step, len(r.live), r.running)
		}
		most = max(most, len(got))
		compacted = compacted || (r.running > 0 && len(r.live) < len(r.children)-1000)
	}
	if most < 150 || !compacted {
		t.Errorf("at most %d RUNNING children listed, compacted %v: want 150 and more, compacted", most, compacted)
	}
}

// TestChildRecordSize bounds the memory a child costs: 40 bytes for its
// record, and 16 more per call after its first (a Standard child's
// retries); nothing else is kept per finished child.
func TestChildRecordSize(t *testing.T) {
	if s := unsafe.Sizeof(child{}); s != 40 {
		t.Errorf("child record %d bytes, want 40", s)
	}
	if s := unsafe.Sizeof(retryCall{}); s != 16 {
		t.Errorf("retry record %d bytes, want 16", s)
	}
}

// BenchmarkMillionItemRun runs a Map Run of 1,000,000 Standard children
// against a downstream that throttles (a static limit 2 % over its
// capacity) and reports the heap the world holds per child at the end,
// and the retry records per child.
func BenchmarkMillionItemRun(b *testing.B) {
	sc := parse(b, `
horizon: 48h
downstreams: [{name: fn, concurrency: 1000}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 1000000, maxConcurrency: 1020, toleratedFailurePercentage: 100, duration: {dist: lognormal, median: 10s, sigma: 0.3}, retry: {interval: 2s, backoffRate: 2, maxAttempts: 6, jitter: FULL}}]
`)
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		w := New(sc, 1)
		w.Start()
		for !w.Done() {
			w.Advance(time.Minute)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		r := w.runs[0]
		n := float64(len(r.children))
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/child")
		b.ReportMetric(float64(len(r.retries))/n, "retries/child")
		b.ReportMetric(float64(w.Result().Runs[0].ThrottledPercent), "throttled%")
		runtime.KeepAlive(w)
	}
}

// BenchmarkSampleChildren measures one sample of a Map Run's children as
// the live throttle signal takes it: ListExecutions of up to 1,000
// RUNNING children, newest first, then the 5 newest events of the 10
// newest and the 5 oldest, among 1,000 running children of a 100,000-item
// run that are being throttled.
func BenchmarkSampleChildren(b *testing.B) {
	ctx := context.Background()
	w := started(b, `
downstreams: [{name: fn, concurrency: 900}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 100000, maxConcurrency: 1000, toleratedFailurePercentage: 100, duration: {dist: fixed, value: 60s}, retry: {interval: 2s, maxAttempts: 6, jitter: FULL}}]
`, 1)
	w.Advance(5 * time.Minute)
	api := w.SFN()
	mr := aws.String(w.MapRunARNs()[0])
	for b.Loop() {
		w.quota.init()
		out, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: mr, StatusFilter: types.ExecutionStatusRunning, MaxResults: 1000})
		if err != nil || len(out.Executions) != 1000 {
			b.Fatalf("list: %d, %v", len(out.Executions), err)
		}
		sample := append(out.Executions[:10:10], out.Executions[995:]...)
		for _, c := range sample {
			if _, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: c.ExecutionArn, ReverseOrder: true, MaxResults: 5}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestUUIDFormat checks the UUID formatter against fmt over many values.
func TestUUIDFormat(t *testing.T) {
	for i := range uint64(2000) {
		a, b := hashSeed(i, 1), hashSeed(i, 2)
		if i < 4 {
			a, b = []uint64{0, ^uint64(0), 1 << 63, 0x0123456789abcdef}[i], []uint64{0, ^uint64(0), 1, 0xfedcba9876543210}[i]
		}
		want := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
		if got := uuid(a, b); got != want {
			t.Fatalf("uuid(%#x, %#x) = %s, want %s", a, b, got, want)
		}
	}
}
