// Package simserver serves a simulated AWS account (a sim.World) as real AWS
// endpoints over HTTP, so that unmodified SDK clients, the aws CLI and the
// deployed Lambda bootstraps can run against it:
//
//   - Step Functions in awsJson 1.0 (POST /, X-Amz-Target
//     AWSStepFunctions.<Operation>): DescribeMapRun, UpdateMapRun,
//     ListMapRuns, GetExecutionHistory, ListExecutions, DescribeExecution,
//     ListTagsForResource and DescribeStateMachine;
//   - CloudWatch GetMetricData in Smithy RPCv2 CBOR (POST
//     /service/GraniteServiceVersion20100801/operation/GetMetricData), the
//     Go SDK's default, and in awsJson 1.0 (X-Amz-Target
//     GraniteServiceVersion20100801.GetMetricData), what the aws CLI sends;
//   - Lambda GetFunctionConcurrency in restJson1 (GET
//     /2019-09-30/functions/FUNCTION/concurrency).
//
// Requests decode from the wire members of the API models into the SDK's
// input types, the world answers with the SDK's output types and errors,
// and the server encodes those back as the protocol wants them: timestamps
// in epoch seconds, errors as __type and message with HTTP 400 (500 for a
// server fault), X-Amzn-ErrorType, and for CloudWatch, which is
// awsQuery-compatible, X-Amzn-Query-Error.
//
// The server owns the world and its virtual clock. With a rate, virtual
// time runs that many times faster than the wall clock from Start on, and
// the world is moved to it before every request; with rate 0 only Advance
// moves it. Control endpoints under /_maptuner/ let a driver start the
// parent executions, read the clock, the progress and the result, and move
// a manual clock; see Server.ServeHTTP.
package simserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// MaxRate is the fastest virtual clock a Server runs: virtual seconds per
// wall second.
const MaxRate = 100_000

// maxBody bounds a request body, bytes.
const maxBody = 4 << 20

// The service identifiers on the wire.
const (
	sfnTarget        = "AWSStepFunctions"
	cloudWatchTarget = "GraniteServiceVersion20100801"
)

// ErrInvalidConfig is wrapped by the errors about a Config that cannot work.
var ErrInvalidConfig = errors.New("invalid simserver configuration")

// Config says what a Server serves and how its clock runs.
type Config struct {
	// Scenario is the simulated account; it must validate.
	Scenario sim.Scenario
	// Seed fixes the world's random draws.
	Seed uint64
	// Rate is how many virtual seconds pass per wall second once the
	// parents are started, in [0, MaxRate]; zero is the manual clock,
	// which only Advance moves.
	Rate float64
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// Log gets a line per request that failed on the server's side; nil
	// discards.
	Log *slog.Logger
}

// Server serves a simulated account over HTTP. It is safe for concurrent
// use; requests to the world are served one at a time, in arrival order.
type Server struct {
	cfg     Config
	now     func() time.Time
	log     *slog.Logger
	sfn     *service
	cw      *service
	horizon time.Time

	mu        sync.Mutex
	world     *sim.World
	started   bool
	wallStart time.Time
	virtStart time.Time
	updates   []Update
	requests  map[string]map[string]int64
}

// service is an AWS service the server serves: its operations and how it
// names its members on the wire.
type service struct {
	id     string
	naming naming
	// queryCompatible services answer X-Amzn-Query-Error to clients in
	// query mode.
	queryCompatible bool
	ops             map[string]operation
}

// operation is one API operation: a new input value and the call.
type operation struct {
	newInput func() any
	call     func(ctx context.Context, in any) (any, error)
}

// op adapts an SDK-shaped method to an operation.
func op[In, Out, Opt any](f func(context.Context, *In, ...Opt) (*Out, error)) operation {
	return operation{
		newInput: func() any { return new(In) },
		call: func(ctx context.Context, in any) (any, error) {
			out, err := f(ctx, in.(*In))
			if err != nil {
				return nil, err
			}
			return out, nil
		},
	}
}

// New builds a Server for a scenario, with the world at the scenario's
// start and nothing running.
func New(cfg Config) (*Server, error) {
	if err := cfg.Scenario.Validate(); err != nil {
		return nil, fmt.Errorf("simserver: %w", err)
	}
	if math.IsNaN(cfg.Rate) || cfg.Rate < 0 || cfg.Rate > MaxRate {
		return nil, fmt.Errorf("simserver: %w: rate %v is outside [0, %d]", ErrInvalidConfig, cfg.Rate, MaxRate)
	}
	w := sim.New(cfg.Scenario, cfg.Seed)
	s := &Server{
		cfg:      cfg,
		now:      cfg.Now,
		log:      cfg.Log,
		world:    w,
		horizon:  w.Scenario().Start.Add(w.Scenario().Horizon),
		requests: map[string]map[string]int64{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	api := w.SFN()
	s.sfn = &service{id: "SFN", naming: camelCase, ops: map[string]operation{
		"DescribeMapRun":       op(api.DescribeMapRun),
		"UpdateMapRun":         op(s.updateMapRun),
		"ListMapRuns":          op(api.ListMapRuns),
		"GetExecutionHistory":  op(api.GetExecutionHistory),
		"ListExecutions":       op(api.ListExecutions),
		"DescribeExecution":    op(api.DescribeExecution),
		"ListTagsForResource":  op(api.ListTagsForResource),
		"DescribeStateMachine": op(api.DescribeStateMachine),
	}}
	s.cw = &service{id: "CloudWatch", naming: pascalCase, queryCompatible: true, ops: map[string]operation{
		"GetMetricData": op(w.CloudWatch().GetMetricData),
	}}
	return s, nil
}

// updateMapRun calls the world's UpdateMapRun and records what it accepted;
// called with s.mu held.
func (s *Server) updateMapRun(ctx context.Context, in *sfn.UpdateMapRunInput, _ ...func(*sfn.Options)) (*sfn.UpdateMapRunOutput, error) {
	out, err := s.world.SFN().UpdateMapRun(ctx, in)
	if err == nil {
		s.updates = append(s.updates, Update{
			At: s.world.Now(), MapRunARN: *in.MapRunArn, MaxConcurrency: in.MaxConcurrency,
			ToleratedFailurePercentage: in.ToleratedFailurePercentage, ToleratedFailureCount: in.ToleratedFailureCount,
		})
	}
	return out, err
}

// ServeHTTP serves the AWS APIs and the control endpoints:
//
//	GET  /_maptuner/clock     the virtual clock (Clock)
//	POST /_maptuner/start     start the parent executions (Started)
//	POST /_maptuner/advance?d=1m  move a manual clock (Clock)
//	GET  /_maptuner/progress  a compact live view of the runs (Progress)
//	GET  /_maptuner/result    the world's figures (sim.Result)
//	GET  /_maptuner/updates   every UpdateMapRun accepted ([]Update)
//	GET  /_maptuner/stats     requests served by protocol (Stats)
//
// Control answers are JSON; their errors are {"message": "..."}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, controlPrefix):
		s.control(w, r)
	case strings.HasPrefix(path, "/service/"):
		s.serveCBOR(w, r)
	case strings.HasPrefix(path, lambdaFunctions):
		s.serveLambda(w, r)
	case path == "/" && r.Header.Get("X-Amz-Target") != "":
		s.serveJSON(w, r)
	case path == "/" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		writeQueryError(w, "UnsupportedProtocol", "this server speaks CloudWatch in Smithy RPCv2 CBOR and awsJson 1.0, not awsQuery: "+
			"use the SDK's default protocol or awsJson (MAPTUNER_CLOUDWATCH_PROTOCOL=cbor or json)")
	default:
		writeAPIError(w, r, awsJSON, nil, clientError(codeUnknownOperation,
			"%s %q is not an AWS API this server serves: POST / with X-Amz-Target, POST /service/%s/operation/OPERATION, or %s...",
			r.Method, path, cloudWatchTarget, controlPrefix))
	}
}

// serveJSON serves an awsJson 1.0 request.
func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	prefix, name, _ := strings.Cut(target, ".")
	var svc *service
	switch prefix {
	case sfnTarget:
		svc = s.sfn
	case cloudWatchTarget:
		svc = s.cw
	default:
		writeAPIError(w, r, awsJSON, nil, clientError(codeUnknownOperation,
			"X-Amz-Target %q names no service of this server (%s, %s)", target, sfnTarget, cloudWatchTarget))
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, jsonContentType) {
		writeAPIError(w, r, awsJSON, svc, clientError(codeSerialization, "Content-Type %q: want %s", ct, jsonContentType))
		return
	}
	s.serveAPI(w, r, awsJSON, svc, name)
}

// serveCBOR serves a Smithy RPCv2 CBOR request.
func (s *Server) serveCBOR(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/service/")
	svcName, name, ok := strings.Cut(rest, "/operation/")
	if !ok || svcName != cloudWatchTarget || name == "" || strings.Contains(name, "/") {
		writeAPIError(w, r, rpcCBOR, nil, clientError(codeUnknownOperation,
			"%q is not an RPCv2 CBOR operation of this server: want /service/%s/operation/OPERATION", r.URL.Path, cloudWatchTarget))
		return
	}
	if p := r.Header.Get("Smithy-Protocol"); p != smithyProtocol {
		writeAPIError(w, r, rpcCBOR, s.cw, clientError(codeSerialization, "Smithy-Protocol header %q: want %s", p, smithyProtocol))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != cborContentType {
		writeAPIError(w, r, rpcCBOR, s.cw, clientError(codeSerialization, "Content-Type %q: want %s", ct, cborContentType))
		return
	}
	s.serveAPI(w, r, rpcCBOR, s.cw, name)
}

// serveAPI decodes the input, calls the operation, waits the latency the
// fault knobs give the call, and writes the output or the error.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, p protocol, svc *service, name string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e := clientError(codeUnknownOperation, "method %q: the AWS APIs take POST", r.Method)
		e.status = http.StatusMethodNotAllowed
		writeAPIError(w, r, p, svc, e)
		return
	}
	o, ok := svc.ops[name]
	if !ok {
		writeAPIError(w, r, p, svc, clientError(codeUnknownOperation, "operation %s.%q is not served by this server", svc.id, name))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeAPIError(w, r, p, svc, clientError(codeSerialization, "read the request body: %v", err))
		return
	}
	wire, err := p.unmarshal(body)
	if err != nil {
		writeAPIError(w, r, p, svc, clientError(codeSerialization, "%v", err))
		return
	}
	in := o.newInput()
	if err := decode(wire, reflect.ValueOf(in).Elem(), svc.naming, name+"Input"); err != nil {
		writeAPIError(w, r, p, svc, clientError(codeSerialization, "%v", err))
		return
	}

	s.mu.Lock()
	s.syncLocked()
	out, callErr := o.call(r.Context(), in)
	latency := s.world.CallLatency(name)
	s.count(p.String(), svc.id+"."+name)
	s.mu.Unlock()

	var payload []byte
	if callErr == nil {
		wireOut, _, err := encode(reflect.ValueOf(out), svc.naming)
		if err == nil {
			payload, err = p.marshal(wireOut)
		}
		if err != nil {
			s.log.Error("simserver: encode the output", "operation", svc.id+"."+name, "error", err.Error())
			callErr = fmt.Errorf("encode the output of %s: %w", name, err)
		}
	}
	if !wait(r.Context(), latency) {
		return
	}
	if callErr != nil {
		e := wireError(callErr, svc)
		if e.status >= http.StatusInternalServerError && e.code == codeInternalFailure {
			s.log.Error("simserver: request failed", "operation", svc.id+"."+name, "error", e.message)
		}
		writeAPIError(w, r, p, svc, e)
		return
	}
	writeAPI(w, p, http.StatusOK, payload)
}

// wait waits d, and reports false when ctx ended first.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// count counts a request; called with s.mu held.
func (s *Server) count(protocol, operation string) {
	m := s.requests[protocol]
	if m == nil {
		m = map[string]int64{}
		s.requests[protocol] = m
	}
	m[operation]++
}

// writeAPI writes a response of protocol p.
func writeAPI(w http.ResponseWriter, p protocol, status int, payload []byte) {
	h := w.Header()
	h.Set("Content-Type", p.contentType())
	h.Set("X-Amzn-RequestId", requestID())
	if p == rpcCBOR {
		h.Set("Smithy-Protocol", smithyProtocol)
	}
	w.WriteHeader(status)
	_, _ = w.Write(payload)
}

// writeAPIError writes an error of protocol p; svc is nil when the request
// names no service the server knows.
func writeAPIError(w http.ResponseWriter, r *http.Request, p protocol, svc *service, e *apiError) {
	h := w.Header()
	if p == awsJSON {
		h.Set("X-Amzn-ErrorType", e.code)
	}
	if svc != nil && svc.queryCompatible && strings.EqualFold(r.Header.Get("X-Amzn-Query-Mode"), "true") {
		h.Set("X-Amzn-Query-Error", e.queryError())
	}
	payload, err := p.marshal(e.body())
	if err != nil {
		// The body holds strings and numbers only.
		payload = nil
	}
	writeAPI(w, p, e.status, payload)
}

// writeQueryError writes an awsQuery error document.
func writeQueryError(w http.ResponseWriter, code, message string) {
	var b strings.Builder
	b.WriteString(`<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type><Code>`)
	xmlEscape(&b, code)
	b.WriteString("</Code><Message>")
	xmlEscape(&b, message)
	b.WriteString("</Message></Error><RequestId>")
	b.WriteString(requestID())
	b.WriteString("</RequestId></ErrorResponse>")
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, b.String())
}

func xmlEscape(b *strings.Builder, s string) {
	_, _ = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").WriteString(b, s)
}

// requestID is a random UUID, as AWS request IDs are.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// syncLocked moves a running clock to start + rate * (wall - wall start),
// never past the horizon; called with s.mu held.
func (s *Server) syncLocked() {
	if !s.started || s.cfg.Rate == 0 {
		return
	}
	elapsed := float64(s.now().Sub(s.wallStart)) * s.cfg.Rate
	target := s.horizon
	if elapsed < float64(s.horizon.Sub(s.virtStart)) {
		target = s.virtStart.Add(time.Duration(elapsed))
	}
	if d := target.Sub(s.world.Now()); d > 0 {
		s.world.Advance(d)
	}
}

var _ http.Handler = (*Server)(nil)
