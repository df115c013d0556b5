package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// invokePath is where the emulator takes invocations, as the Lambda Invoke API
// does.
const invokePath = "/2015-03-31/functions/function/invocations"

// rieStartTimeout bounds how long StartRIE waits for the emulator to listen.
const rieStartTimeout = 30 * time.Second

// rieStopTimeout bounds how long the cleanup waits for the emulator to exit
// after SIGTERM before it kills it.
const rieStopTimeout = 10 * time.Second

// defaultFunctionTimeout is the function timeout, in whole seconds, that the
// emulator enforces unless the environment sets AWS_LAMBDA_FUNCTION_TIMEOUT.
const defaultFunctionTimeout = "30"

// ErrFunctionTimeout is returned by Invoke when the function ran past its
// timeout (AWS_LAMBDA_FUNCTION_TIMEOUT) and the emulator stopped it.
var ErrFunctionTimeout = errors.New("function timed out")

// ErrEmulator is returned by Invoke when the emulator answered with a failure
// that carries no function error, for example when the runtime process exited
// before it could answer.
var ErrEmulator = errors.New("emulator failed the invocation")

// FunctionError is a handler error as the Lambda runtime reports it: the
// function returned an error or panicked.
type FunctionError struct {
	// Type is the runtime's errorType: for a Go handler, the type name of the
	// returned error ("errorString" for errors.New) or of the panic value.
	Type string
	// Message is the runtime's errorMessage.
	Message string
	// Status is the HTTP status the emulator answered with: 200 when the
	// handler returned an error, 502 when the runtime crashed (a panic) or
	// failed to start. The emulator starts a fresh runtime for the next call.
	Status int
}

// Error implements error.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// RIE is a running AWS Lambda Runtime Interface Emulator serving one function
// bootstrap on loopback. Its methods are safe for concurrent use.
type RIE struct {
	// URL is the invoke endpoint, for example
	// http://127.0.0.1:45123/2015-03-31/functions/function/invocations.
	URL string

	client *http.Client
	logs   *syncBuffer
	// mu serializes invocations: the emulator serves one at a time and
	// rejects a call that overlaps another.
	mu sync.Mutex
}

// StartRIE starts aws-lambda-rie on free loopback ports running the bootstrap
// executable, and stops it when the test ends. It looks for aws-lambda-rie in
// bin/tools at the repository root, then on PATH, and fails the test if it
// finds neither (make tools installs it).
//
// The function sees the test process's environment, then env on top
// (KEY=VALUE entries; later ones win). Unless set there, the Lambda variables
// get defaults: AWS_LAMBDA_FUNCTION_TIMEOUT 30 (whole seconds),
// AWS_LAMBDA_FUNCTION_NAME the name of the bootstrap's directory, AWS_REGION
// us-east-1, LAMBDA_TASK_ROOT the bootstrap's directory. As in Lambda, the
// function runs with its working directory at LAMBDA_TASK_ROOT, so files
// bundled next to the bootstrap are found by relative path.
func StartRIE(t testing.TB, bootstrap string, env []string) *RIE {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	bin, err := findRIE(root)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	bootstrap, err = filepath.Abs(bootstrap)
	if err != nil {
		t.Fatalf("testenv: bootstrap path %q: %v", bootstrap, err)
	}
	if info, err := os.Stat(bootstrap); err != nil {
		t.Fatalf("testenv: bootstrap: %v", err)
	} else if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		t.Fatalf("testenv: bootstrap %s is not an executable file", bootstrap)
	}
	fnEnv, err := rieEnv(bootstrap, os.Environ(), env)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}

	invokePort := FreePort(t)
	apiPort := FreePort(t)
	for apiPort == invokePort {
		apiPort = FreePort(t)
	}
	invokeAddr := fmt.Sprintf("127.0.0.1:%d", invokePort)
	logs := &syncBuffer{}
	cmd := exec.Command(bin,
		// The flag wins over LOG_LEVEL, which is the function's setting.
		"--log-level", "info",
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = fnEnv
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start aws-lambda-rie: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	client := &http.Client{}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		stopProcess(cmd.Process, exited)
		if t.Failed() {
			t.Logf("testenv: aws-lambda-rie output:\n%s", logs.String())
		}
	})

	base := "http://" + invokeAddr
	if err := waitListening(base+"/", exited, rieStartTimeout); err != nil {
		t.Fatalf("testenv: aws-lambda-rie did not come up: %v\n%s", err, logs.String())
	}
	return &RIE{URL: base + invokePath, client: client, logs: logs}
}

// Invoke sends payload to the function and returns its response. A handler
// error comes back as a *FunctionError, a timeout as ErrFunctionTimeout, any
// other failure of the emulator as ErrEmulator. Calls are serialized. If ctx
// ends first, Invoke returns ctx's error, but the function may still be
// running and the emulator still busy with it.
func (r *RIE) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("testenv: invoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("testenv: invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("testenv: invoke: read response: %w", err)
	}
	return decodeResponse(resp.StatusCode, body)
}

// Logs returns everything the emulator and the function have written so far:
// the emulator's own log, START/END/REPORT lines, and the function's stdout
// and stderr.
func (r *RIE) Logs() string { return r.logs.String() }

// timedOut is how the emulator words a timeout, with status 200.
var timedOut = regexp.MustCompile(`^Task timed out after [0-9.]+ seconds$`)

// decodeResponse turns what the emulator answered into the function's
// response or an error.
func decodeResponse(status int, body []byte) ([]byte, error) {
	if fe := parseFunctionError(body); fe != nil {
		fe.Status = status
		return nil, fe
	}
	if status != http.StatusOK {
		shown := string(body)
		if shown == "" {
			shown = "empty body; the runtime may have exited, see Logs"
		}
		return nil, fmt.Errorf("testenv: invoke: %w: HTTP %d: %s", ErrEmulator, status, shown)
	}
	if timedOut.Match(body) {
		return nil, fmt.Errorf("testenv: invoke: %w: %s", ErrFunctionTimeout, body)
	}
	return body, nil
}

// parseFunctionError returns the error a Lambda runtime reported in body, or
// nil if body is not one: a JSON object with a non-empty string errorType, a
// string errorMessage, and no keys but those and stackTrace.
func parseFunctionError(body []byte) *FunctionError {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil
	}
	for k := range fields {
		if k != "errorType" && k != "errorMessage" && k != "stackTrace" {
			return nil
		}
	}
	var fe FunctionError
	if json.Unmarshal(fields["errorType"], &fe.Type) != nil || fe.Type == "" {
		return nil
	}
	if json.Unmarshal(fields["errorMessage"], &fe.Message) != nil {
		return nil
	}
	return &fe
}

// rieEnv builds the emulator's environment, which the emulator passes on to
// the function: defaults, then base (the test process's environment), then
// env. It rejects entries that are not KEY=VALUE and a timeout the emulator
// cannot parse (it would crash on the first call).
func rieEnv(bootstrap string, base, env []string) ([]string, error) {
	dir := filepath.Dir(bootstrap)
	vars := map[string]string{
		"AWS_LAMBDA_FUNCTION_TIMEOUT": defaultFunctionTimeout,
		"AWS_LAMBDA_FUNCTION_NAME":    filepath.Base(dir),
		"AWS_REGION":                  "us-east-1",
		"LAMBDA_TASK_ROOT":            dir,
		"_HANDLER":                    filepath.Base(bootstrap),
	}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars[k] = v
		}
	}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("environment entry %q is not KEY=VALUE", kv)
		}
		vars[k] = v
	}
	if s := vars["AWS_LAMBDA_FUNCTION_TIMEOUT"]; !isPositiveInt(s) {
		return nil, fmt.Errorf("AWS_LAMBDA_FUNCTION_TIMEOUT %q is not a whole number of seconds >= 1", s)
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// isPositiveInt reports whether s is a decimal integer >= 1.
func isPositiveInt(s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n >= 1 && strconv.FormatInt(n, 10) == s
}

// findRIE returns the aws-lambda-rie executable: bin/tools/aws-lambda-rie
// under root (what make tools installs), else the one on PATH.
func findRIE(root string) (string, error) {
	local := filepath.Join(root, "bin", "tools", "aws-lambda-rie")
	if info, err := os.Stat(local); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 {
		return local, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("aws-lambda-rie is neither in %s nor on PATH (make tools installs it)", local)
}

// waitListening polls url until the server answers any HTTP status, the
// process behind it exits, or the timeout passes. It waits for a server to
// start; it measures nothing.
func waitListening(url string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("the process exited")
		case <-deadline.C:
			return fmt.Errorf("%s not answering after %s: %w", url, timeout, err)
		case <-tick.C:
		}
	}
}

// stopProcess asks p to stop with SIGTERM (the emulator then kills the
// runtime it started) and kills it if it has not exited within
// rieStopTimeout. exited is closed when p has been waited for.
func stopProcess(p *os.Process, exited <-chan struct{}) {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		_ = p.Kill()
	}
	select {
	case <-exited:
	case <-time.After(rieStopTimeout):
		_ = p.Kill()
		<-exited
	}
}

// BuildBootstrap builds the Lambda function ./functions/<pkg> of this
// repository for the host, as a bootstrap executable with the tag
// lambda.norpc and cgo off, and returns its path: <t.TempDir()>/<pkg>/bootstrap.
// pkg is a directory name such as "watch" or "tune". It fails the test if
// the build fails.
func BuildBootstrap(t testing.TB, pkg string) string {
	t.Helper()
	if !validFunctionName.MatchString(pkg) {
		t.Fatalf("testenv: function package %q is not a directory name under functions/", pkg)
	}
	return buildBootstrap(t, "./functions/"+pkg, pkg)
}

// validFunctionName matches the directory names BuildBootstrap accepts.
var validFunctionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// buildBootstrap builds the main package pkgPath (relative to the repository
// root) into <t.TempDir()>/<name>/bootstrap and returns that path.
func buildBootstrap(t testing.TB, pkgPath, name string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	out := filepath.Join(t.TempDir(), name, "bootstrap")
	if err := goBuild(root, pkgPath, out); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return out
}

// goBuild runs go build for the host in dir, writing the executable to out.
func goBuild(dir, pkgPath, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("build %s: go not on PATH: %w", pkgPath, err)
	}
	cmd := exec.Command(goBin, "build", "-tags", "lambda.norpc", "-o", out, pkgPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", pkgPath, err, output)
	}
	return nil
}

// repoRoot returns the nearest directory at or above the working directory
// that holds a go.mod: the module root when run by go test.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

var _ io.Writer = (*syncBuffer)(nil)

// Write implements io.Writer.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
