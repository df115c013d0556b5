package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// invokePath is where the emulator takes invocations, as the Lambda Invoke API
// does.
const invokePath = "/2015-03-31/functions/function/invocations"

// defaultFunctionStartTimeout is FunctionOptions.StartTimeout's zero value.
const defaultFunctionStartTimeout = 2 * time.Minute

// defaultFunctionTimeout is the function timeout, in whole seconds, that the
// emulator enforces unless the environment sets AWS_LAMBDA_FUNCTION_TIMEOUT.
const defaultFunctionTimeout = "30"

// emulatorName is the AWS Lambda Runtime Interface Emulator's executable.
const emulatorName = "aws-lambda-rie"

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

// FunctionOptions say which function StartFunction runs and how.
type FunctionOptions struct {
	// Bootstrap is the function's executable, a Lambda custom runtime
	// bootstrap such as BuildBootstrap writes; required.
	Bootstrap string
	// Env are KEY=VALUE entries the function sees on top of this process's
	// environment; later ones win. Unless set there, the Lambda variables
	// get defaults: AWS_LAMBDA_FUNCTION_TIMEOUT 30 (whole seconds),
	// AWS_LAMBDA_FUNCTION_NAME the name of the bootstrap's directory,
	// AWS_REGION DefaultRegion, LAMBDA_TASK_ROOT the bootstrap's directory.
	Env []string
	// Emulator is the aws-lambda-rie executable. Empty means
	// bin/tools/aws-lambda-rie under the repository root (what make tools
	// installs), else aws-lambda-rie on PATH.
	Emulator string
	// StartTimeout bounds how long StartFunction waits for the emulator to
	// listen; zero means 2 minutes.
	StartTimeout time.Duration
}

// Function is one Lambda function running under the AWS Lambda Runtime
// Interface Emulator on loopback. Its methods are safe for concurrent use.
type Function struct {
	// URL is the invoke endpoint, for example
	// http://127.0.0.1:45123/2015-03-31/functions/function/invocations.
	URL string

	client *http.Client
	proc   *process
	// mu serializes invocations: the emulator serves one at a time and
	// rejects a call that overlaps another.
	mu sync.Mutex
}

// StartFunction starts aws-lambda-rie on free loopback ports running
// opt.Bootstrap and waits until it listens. ctx bounds the start only; the
// emulator runs until Close. As in Lambda, the function runs with its
// working directory at LAMBDA_TASK_ROOT, so that files bundled next to the
// bootstrap are found by relative path.
func StartFunction(ctx context.Context, opt FunctionOptions) (*Function, error) {
	if opt.StartTimeout < 0 {
		return nil, fmt.Errorf("local: start function: start timeout %s is negative", opt.StartTimeout)
	}
	if opt.Bootstrap == "" {
		return nil, errors.New("local: start function: no bootstrap")
	}
	bootstrap, err := filepath.Abs(opt.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("local: start function: bootstrap path %q: %w", opt.Bootstrap, err)
	}
	if !isExecutable(bootstrap) {
		return nil, fmt.Errorf("local: start function: bootstrap %s is not an executable file", bootstrap)
	}
	env, err := functionEnv(bootstrap, os.Environ(), opt.Env)
	if err != nil {
		return nil, fmt.Errorf("local: start function: %w", err)
	}
	bin := opt.Emulator
	if bin == "" {
		root, _ := RepoRoot() // outside the repository only PATH is searched
		if bin, err = findEmulator(root); err != nil {
			return nil, fmt.Errorf("local: start function: %w", err)
		}
	}
	timeout := opt.StartTimeout
	if timeout == 0 {
		timeout = defaultFunctionStartTimeout
	}

	invokePort, err := FreePort()
	if err != nil {
		return nil, err
	}
	apiPort := invokePort
	for apiPort == invokePort {
		if apiPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	invokeAddr := fmt.Sprintf("127.0.0.1:%d", invokePort)
	proc, err := startProcess(emulatorName, bin, []string{
		// The flag wins over LOG_LEVEL, which is the function's setting.
		"--log-level", "info",
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		bootstrap,
	}, filepath.Dir(bootstrap), env)
	if err != nil {
		return nil, err
	}
	base := "http://" + invokeAddr
	if err := waitHTTP(ctx, base+"/", proc.exited, timeout); err != nil {
		_ = proc.stop()
		return nil, fmt.Errorf("local: %s did not come up for %s: %w\n%s", emulatorName, bootstrap, err, proc.logs.String())
	}
	return &Function{URL: base + invokePath, client: &http.Client{}, proc: proc}, nil
}

// Invoke sends payload to the function and returns its response. A handler
// error comes back as a *FunctionError, a timeout as ErrFunctionTimeout, any
// other failure of the emulator as ErrEmulator. Calls are serialized. If ctx
// ends first, Invoke returns ctx's error, but the function may still be
// running and the emulator still busy with it.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("local: invoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("local: invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("local: invoke: read response: %w", err)
	}
	return decodeResponse(resp.StatusCode, body)
}

// Logs returns everything the emulator and the function have written so far:
// the emulator's own log, START/END/REPORT lines, and the function's stdout
// and stderr.
func (f *Function) Logs() string { return f.proc.logs.String() }

// EmulatorPID is the process id of the emulator; the function's runtime
// (the bootstrap) runs as its child once the first invocation started it.
func (f *Function) EmulatorPID() int { return f.proc.cmd.Process.Pid }

// Close stops the emulator and the function's runtime. It is safe to call
// more than once.
func (f *Function) Close() error {
	f.client.CloseIdleConnections()
	return f.proc.stop()
}

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
		return nil, fmt.Errorf("local: invoke: %w: HTTP %d: %s", ErrEmulator, status, shown)
	}
	if timedOut.Match(body) {
		return nil, fmt.Errorf("local: invoke: %w: %s", ErrFunctionTimeout, body)
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

// functionEnv builds the emulator's environment, which the emulator passes
// on to the function: defaults, then base (this process's environment),
// then env. It rejects entries that are not KEY=VALUE and a timeout the
// emulator cannot parse (it would crash on the first call).
func functionEnv(bootstrap string, base, env []string) ([]string, error) {
	dir := filepath.Dir(bootstrap)
	vars := map[string]string{
		"AWS_LAMBDA_FUNCTION_TIMEOUT": defaultFunctionTimeout,
		"AWS_LAMBDA_FUNCTION_NAME":    filepath.Base(dir),
		"AWS_REGION":                  DefaultRegion,
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

// findEmulator returns the aws-lambda-rie executable: bin/tools/aws-lambda-rie
// under root (what make tools installs), else the one on PATH. An empty
// root searches PATH only.
func findEmulator(root string) (string, error) {
	var candidates []string
	if root != "" {
		candidates = append(candidates, filepath.Join(root, "bin", "tools", emulatorName))
	}
	return findExecutable(emulatorName, "make tools installs it", candidates...)
}
