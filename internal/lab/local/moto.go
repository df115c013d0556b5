package local

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// DefaultRegion is the Region local clients and functions use unless told
// otherwise.
const DefaultRegion = "us-east-1"

// The credentials sent to local servers, which check none.
const (
	FakeAccessKeyID     = "testing"
	FakeSecretAccessKey = "testing"
)

// defaultMotoStartTimeout is MotoOptions.StartTimeout's zero value.
const defaultMotoStartTimeout = 2 * time.Minute

// motoConfig turns on the execution of state machines: without it moto
// accepts StartExecution but runs nothing.
const motoConfig = `{"stepfunctions":{"execute_state_machine":true}}`

// motoServe is the program that serves moto one request at a time; see
// motoserve.py.
//
//go:embed motoserve.py
var motoServe string

// MotoOptions say how StartMoto starts moto_server. The zero value starts
// it with python3 from PATH on a free port.
type MotoOptions struct {
	// Python is the Python interpreter moto is installed for; empty means
	// python3 on PATH.
	Python string
	// Port is the port on 127.0.0.1 to listen on; zero lets the server bind
	// a free one.
	Port int
	// StartTimeout bounds how long StartMoto waits for the server to answer;
	// zero means 2 minutes.
	StartTimeout time.Duration
}

// Moto is a running moto_server on loopback: one server for every AWS
// service, Step Functions state machines executed for real. It serves one
// request at a time, so that a conditional write is atomic as in DynamoDB
// (moto's own moto_server command serves requests on several threads and
// does not serialise them). Its methods are safe for concurrent use.
//
// Quirks that matter to maptuner: it runs one execution per Region at a
// time (a second StartExecution in the Region fails with HTTP 500);
// ListMapRuns fails with HTTP 500 for a moment after StartExecution; a Map
// Run's label is a random UUID unless the Map state sets Label; it starts a
// Map Run's workers once, MaxConcurrency of them (all items when 0), and
// UpdateMapRun changes the recorded settings only; it counts no pending
// items and enforces no failure tolerance; ListExecutions with a mapRunArn
// fails with HTTP 500; its CloudWatch does not speak CBOR.
type Moto struct {
	// URL is the endpoint of every service, for example http://127.0.0.1:45123.
	URL string

	proc *process
}

// StartMoto starts moto_server on 127.0.0.1, waits until it answers, and
// turns on the execution of state machines. ctx bounds the start only; the
// server runs until Close.
func StartMoto(ctx context.Context, opt MotoOptions) (*Moto, error) {
	if opt.Port < 0 || opt.Port > 65535 {
		return nil, fmt.Errorf("local: start moto_server: port %d is not in [0, 65535]", opt.Port)
	}
	if opt.StartTimeout < 0 {
		return nil, fmt.Errorf("local: start moto_server: start timeout %s is negative", opt.StartTimeout)
	}
	bin := opt.Python
	if bin == "" {
		var err error
		if bin, err = findExecutable("python3", "make tools installs moto for it"); err != nil {
			return nil, fmt.Errorf("local: start moto_server: %w", err)
		}
	}
	timeout := opt.StartTimeout
	if timeout == 0 {
		timeout = defaultMotoStartTimeout
	}
	// Port 0 lets the server bind a free port itself and say which: a port
	// chosen here could be taken by another process before the bind.
	proc, err := startProcess("moto_server", bin, []string{"-c", motoServe, "127.0.0.1", strconv.Itoa(opt.Port)}, "", nil)
	if err != nil {
		return nil, err
	}
	port, err := listeningPort(ctx, proc, timeout)
	if err != nil {
		_ = proc.stop()
		return nil, fmt.Errorf("%w\nmoto_server output:\n%s", err, proc.logs.String())
	}
	m := &Moto{URL: fmt.Sprintf("http://127.0.0.1:%d", port), proc: proc}
	if err := m.configure(ctx, timeout); err != nil {
		_ = proc.stop()
		return nil, fmt.Errorf("%w\nmoto_server output:\n%s", err, proc.logs.String())
	}
	return m, nil
}

// listeningRE is the line motoserve.py prints once it listens.
var listeningRE = regexp.MustCompile(`moto listening on port (\d+)`)

// listeningPort waits until the server says which port it listens on.
func listeningPort(ctx context.Context, proc *process, timeout time.Duration) (int, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if m := listeningRE.FindStringSubmatch(proc.logs.String()); m != nil {
			return strconv.Atoi(m[1])
		}
		select {
		case <-proc.exited:
			return 0, errors.New("local: moto_server did not come up: the process exited")
		case <-ctx.Done():
			return 0, fmt.Errorf("local: moto_server did not come up: %w", ctx.Err())
		case <-deadline.C:
			return 0, fmt.Errorf("local: moto_server did not come up: no port after %s", timeout)
		case <-tick.C:
		}
	}
}

// configure waits for the server and turns on state machine execution.
func (m *Moto) configure(ctx context.Context, timeout time.Duration) error {
	if err := waitHTTP(ctx, m.URL+"/moto-api/", m.proc.exited, timeout); err != nil {
		return fmt.Errorf("local: moto_server did not come up: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/moto-api/config", bytes.NewBufferString(motoConfig))
	if err != nil {
		return fmt.Errorf("local: configure moto_server: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("local: configure moto_server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("local: configure moto_server: HTTP %d: %s", resp.StatusCode, body)
	}
	return nil
}

// Logs returns everything the server has written so far.
func (m *Moto) Logs() string { return m.proc.logs.String() }

// Close stops the server. It is safe to call more than once.
func (m *Moto) Close() error { return m.proc.stop() }

// SFN returns a Step Functions client for the server in region, with the
// fake credentials and the retries of closedConnRetryer: a server error
// shows at once.
func (m *Moto) SFN(region string) *sfn.Client {
	return sfn.New(sfn.Options{
		Region:       region,
		BaseEndpoint: aws.String(m.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(FakeAccessKeyID, FakeSecretAccessKey, ""),
		Retryer:      closedConnRetryer(),
	})
}

// closedConnAttempts is how many times closedConnRetryer sends a request.
const closedConnAttempts = 3

// closedConnRetryer retries one error only: an answer that could not be
// read because the connection closed under the client (net.ErrClosed), a
// race of Go's HTTP transport that the SDK's standard retryer also
// retries, seen against loopback servers on a loaded machine. Every other
// error, a server's included, is returned at once.
func closedConnRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = closedConnAttempts
		o.RateLimiter = ratelimit.None
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			return aws.BoolTernary(errors.Is(err, net.ErrClosed))
		})}
	})
}
