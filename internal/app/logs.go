package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/smithy-go"
)

// The log keys that every function's lines carry, named as Powertools for
// AWS Lambda names them, and the keys an error is logged under.
const (
	// KeyService is the service name: Service.
	KeyService = "service"
	// KeyFunction is the Lambda function's name; none outside Lambda.
	KeyFunction = "function_name"
	// KeyRequestID is the request ID of the invocation.
	KeyRequestID = "function_request_id"
	// KeyColdStart is true on the first invocation of an execution
	// environment.
	KeyColdStart = "cold_start"
	// KeyTick is the scheduled instant of the tune function's tick (the
	// "time" of its event), on every line the tick logs.
	KeyTick = "tick"
	// KeyError is the key under which the code logs an error value; the
	// line shows its text.
	KeyError = "error"
	// KeyErrorType is added next to KeyError: see ErrorType.
	KeyErrorType = "error_type"
)

// Service is the value of KeyService.
const Service = "maptuner"

// Logs is the functions' JSON logger. Every line carries KeyService and
// KeyFunction; between Begin and the next Begin, every line also carries
// the invocation's keys (KeyRequestID, KeyColdStart, and those given to
// Begin). An error value logged under KeyError is written as its text,
// with KeyErrorType.
//
// The invocation's keys are the logger's state, not the context's: an
// execution environment runs one invocation at a time, so lines logged
// with or without a context get them. Keys added in a group (WithGroup)
// get them inside the group.
type Logs struct {
	*slog.Logger
	inv *invocation
}

// invocation is the state the handlers of one Logs share.
type invocation struct {
	attrs   atomic.Pointer[[]slog.Attr]
	started atomic.Bool
}

// NewLogs returns a logger writing JSON lines of level and above to w.
func NewLogs(w io.Writer, level slog.Leveler) *Logs {
	inv := &invocation{}
	static := []slog.Attr{slog.String(KeyService, Service)}
	if name := lambdacontext.FunctionName; name != "" {
		static = append(static, slog.String(KeyFunction, name))
	}
	next := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}).WithAttrs(static)
	return &Logs{Logger: slog.New(handler{next: next, inv: inv}), inv: inv}
}

// Begin starts an invocation: the lines logged from now on carry the
// request ID of the Lambda context of ctx (none outside Lambda), whether
// this is the first invocation of the environment, and attrs.
func (l *Logs) Begin(ctx context.Context, attrs ...slog.Attr) {
	cold := !l.inv.started.Swap(true)
	all := make([]slog.Attr, 0, len(attrs)+2)
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		all = append(all, slog.String(KeyRequestID, lc.AwsRequestID))
	}
	all = append(all, slog.Bool(KeyColdStart, cold))
	all = append(all, attrs...)
	l.inv.attrs.Store(&all)
}

// Handler wraps the function handler h for lambda.Start: each invocation
// begins (Begin) with the keys that attrs, when not nil, reads from the
// event, and an error that h returns is logged, with its type, before it
// goes back to Lambda.
func Handler[T any](l *Logs, h func(context.Context, json.RawMessage) (T, error), attrs func(json.RawMessage) []slog.Attr) func(context.Context, json.RawMessage) (T, error) {
	return func(ctx context.Context, raw json.RawMessage) (T, error) {
		var extra []slog.Attr
		if attrs != nil {
			extra = attrs(raw)
		}
		l.Begin(ctx, extra...)
		out, err := h(ctx, raw)
		if err != nil {
			l.Error("invocation failed", KeyError, err)
		}
		return out, err
	}
}

// TickAttrs reads KeyTick from a schedule event: its "time", as sent.
// An event without one, or not JSON, gives no key.
func TickAttrs(raw json.RawMessage) []slog.Attr {
	var ev struct {
		Time string `json:"time"`
	}
	if json.Unmarshal(raw, &ev) != nil || ev.Time == "" {
		return nil
	}
	return []slog.Attr{slog.String(KeyTick, ev.Time)}
}

// ErrorType names the class of err, for KeyErrorType: the error code of an
// AWS API error (ThrottlingException, AccessDeniedException, ...); else,
// when err wraps a sentinel error of maptuner (budget.ErrExhausted,
// registry.ErrConflict, ...), that sentinel's text; else the Go type of
// the innermost error (*net.OpError, context.deadlineExceededError, ...).
// Of joined errors, the first is followed.
func ErrorType(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	inner := err
	for {
		var next error
		switch u := inner.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				next = errs[0]
			}
		}
		if next == nil {
			break
		}
		inner = next
	}
	// errors.New makes the sentinels; one that err wraps is its class.
	// err itself, made so, has nothing to tell it from any other text.
	if t := fmt.Sprintf("%T", inner); t != "*errors.errorString" || inner == err {
		return t
	}
	return inner.Error()
}

// handler adds the invocation's keys to every record and writes an error
// value as its text and type.
type handler struct {
	next slog.Handler
	inv  *invocation
}

var _ slog.Handler = handler{}

func (h handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{next: h.next.WithAttrs(attrs), inv: h.inv}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{next: h.next.WithGroup(name), inv: h.inv}
}

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if attrs := h.inv.attrs.Load(); attrs != nil {
		out.AddAttrs(*attrs...)
	}
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == KeyError && a.Value.Kind() == slog.KindAny {
			out.AddAttrs(slog.String(KeyError, err.Error()), slog.String(KeyErrorType, ErrorType(err)))
			return true
		}
		out.AddAttrs(a)
		return true
	})
	return h.next.Handle(ctx, out)
}
