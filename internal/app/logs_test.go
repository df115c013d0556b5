package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/smithy-go"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/tuner"
	"github.com/maptuner/maptuner/internal/watch"
)

// syncBuffer is a bytes.Buffer safe for the handler's writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes the JSON lines written so far, and forgets them.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for l := range strings.Lines(b.buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line not JSON: %v: %s", err, l)
		}
		out = append(out, m)
	}
	b.buf.Reset()
	return out
}

func event(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func invoke(t *testing.T, fn any, requestID string, payload []byte) error {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: requestID})
	_, err := lambda.NewHandler(fn).Invoke(ctx, payload)
	return err
}

// noSFN and noMetrics are an account the tune function makes no call
// to: nothing is tracked or watched.
type (
	noSFN     struct{ tuner.SFNAPI }
	noMetrics struct{ observe.MetricsAPI }
)

// TestTuneLogKeys: every line of a tune invocation, sent through the real
// JSON path, carries the service, the request ID, whether it is a cold
// start, and the tick.
func TestTuneLogKeys(t *testing.T) {
	store, err := registry.NewMemory(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	logs := NewLogs(&out, slog.LevelInfo)
	tu, err := tuner.New(tuner.Config{Owner: "test", Region: "us-east-1"}, tuner.Deps{
		SFN: noSFN{}, CloudWatch: noMetrics{}, Store: store, Policies: policy.Default(), Log: logs.Logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &tuner.Handler{Tuner: tu, Now: func() time.Time { return time.Date(2026, 11, 24, 2, 5, 1, 0, time.UTC) }}
	fn := Handler(logs, h.Handle, TickAttrs)

	for i, want := range []struct {
		requestID string
		cold      bool
	}{{"req-1", true}, {"req-2", false}} {
		if err := invoke(t, fn, want.requestID, event(t, "schedule.json")); err != nil {
			t.Fatal(err)
		}
		lines := out.lines(t)
		if len(lines) == 0 {
			t.Fatalf("invocation %d logged nothing", i)
		}
		sawTick := false
		for _, l := range lines {
			if l["service"] != "maptuner" || l["function_request_id"] != want.requestID || l["cold_start"] != want.cold ||
				l["tick"] != "2026-11-24T02:05:00Z" {
				t.Errorf("invocation %d: line %v lacks the keys of the invocation", i, l)
			}
			sawTick = sawTick || l["msg"] == "tick"
		}
		if !sawTick {
			t.Errorf("invocation %d: no tick line in %v", i, lines)
		}
	}
}

// stubTags opts every state machine in under the default policy.
type stubTags struct{}

func (stubTags) PolicyTag(context.Context, string) (string, bool, error) { return "default", true, nil }

// TestWatchLogKeys: the watch function's lines carry the invocation's
// keys but no tick; a refused event is logged with the type of its
// error, and the error goes back to Lambda.
func TestWatchLogKeys(t *testing.T) {
	store, err := registry.NewMemory(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	logs := NewLogs(&out, slog.LevelInfo)
	h := &watch.Handler{Store: store, Tags: stubTags{}, Policies: policy.Default(), Log: logs.Logger, Now: time.Now}
	fn := Handler(logs, h.Handle, nil)

	if err := invoke(t, fn, "req-a", event(t, "status-running.json")); err != nil {
		t.Fatal(err)
	}
	lines := out.lines(t)
	if len(lines) != 1 || lines[0]["msg"] != "event handled" || lines[0]["function_request_id"] != "req-a" ||
		lines[0]["cold_start"] != true || lines[0]["service"] != "maptuner" || lines[0]["tick"] != nil {
		t.Fatalf("lines %v", lines)
	}

	if err := invoke(t, fn, "req-b", event(t, "malformed.json")); err == nil {
		t.Fatal("a malformed event is accepted")
	}
	lines = out.lines(t)
	failed := 0
	for _, l := range lines {
		if l["level"] != "ERROR" || l["function_request_id"] != "req-b" || l["cold_start"] != false {
			t.Errorf("line %v", l)
		}
		if l["error_type"] != "malformed event" || !strings.Contains(fmt.Sprint(l["error"]), "stateMachineArn") {
			t.Errorf("error logged as %q of type %q, want its text and the sentinel's", l["error"], l["error_type"])
		}
		if l["msg"] == "invocation failed" {
			failed++
		}
	}
	if len(lines) != 2 || failed != 1 {
		t.Fatalf("want the refusal and one invocation failed line, got %v", lines)
	}
}

func TestErrorType(t *testing.T) {
	api := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	opErr := &smithy.OperationError{ServiceID: "SFN", OperationName: "DescribeMapRun", Err: api}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"AWS API error, wrapped", fmt.Errorf("tuner: describe: %w", opErr), "ThrottlingException"},
		{"sentinel, wrapped", fmt.Errorf("observe: %w: DescribeMapRun", budget.ErrExhausted), "api budget exhausted"},
		{"sentinel, wrapped twice", fmt.Errorf("tuner: save: %w", fmt.Errorf("registry: %w", registry.ErrConflict)), "conditional write lost"},
		{"joined: the first", errors.Join(fmt.Errorf("a: %w", registry.ErrCorrupt), budget.ErrExhausted), "undecodable item"},
		{"deadline", fmt.Errorf("tuner: %w", context.DeadlineExceeded), "context.deadlineExceededError"},
		{"network", fmt.Errorf("send: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), "syscall.Errno"},
		{"plain text", errors.New("something odd"), "*errors.errorString"},
		{"formatted, not wrapped", fmt.Errorf("bad %d", 1), "*errors.errorString"},
	}
	for _, tt := range tests {
		if got := ErrorType(tt.err); got != tt.want {
			t.Errorf("%s: ErrorType(%v) = %q, want %q", tt.name, tt.err, got, tt.want)
		}
	}
}
