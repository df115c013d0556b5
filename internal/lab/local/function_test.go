package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bodies the emulator really answered with, running the echo function and a
// runtime that exits at once.
var (
	sampleEcho    = []byte(`{"echo":{"a":1}}`)
	sampleFailure = []byte(`{"errorMessage":"nope","errorType":"rejectedError"}`)
	samplePanic   = []byte(`{"errorMessage":"boom","errorType":"string","stackTrace":[{"path":"echo/main.go","line":46,"label":"handle"}]}`)
	sampleTimeout = []byte(`Task timed out after 2.00 seconds`)
)

// echoBootstrap builds the echo test function into <t.TempDir()>/echo/bootstrap.
func echoBootstrap(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "echo", "bootstrap")
	if err := goBuild(context.Background(), repoRoot(t), "./internal/lab/local/testdata/echo", out); err != nil {
		t.Fatal(err)
	}
	return out
}

// repoRoot returns the repository root or fails the test.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// startFunction starts bootstrap with env and closes it when the test ends.
func startFunction(t *testing.T, bootstrap string, env []string) *Function {
	t.Helper()
	f, err := StartFunction(context.Background(), FunctionOptions{Bootstrap: bootstrap, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, f)
	return f
}

// stopAtEnd stops p when the test ends, and logs its output if the test failed.
func stopAtEnd(t *testing.T, p interface {
	Close() error
	Logs() string
}) {
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("output:\n%s", p.Logs())
		}
	})
}

// invokeJSON invokes r with v marshalled.
func invokeJSON(t *testing.T, r *Function, v any) ([]byte, error) {
	t.Helper()
	payload, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal payload: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return r.Invoke(ctx, payload)
}

func TestFunctionInvoke(t *testing.T) {
	r := startFunction(t, echoBootstrap(t), nil)
	tests := []struct {
		name    string
		payload string
		want    string
		wantErr *FunctionError
	}{
		{name: "echo", payload: `{"echo":{"a":[1,2]}}`, want: `{"echo":{"a":[1,2]}}`},
		{name: "empty echo", payload: `{}`, want: `{}`},
		{
			name:    "handler error",
			payload: `{"fail":"bad input"}`,
			wantErr: &FunctionError{Type: "rejectedError", Message: "bad input", Status: http.StatusOK},
		},
		{
			name:    "payload the handler cannot decode",
			payload: `not json`,
			wantErr: &FunctionError{Type: "SyntaxError", Status: http.StatusOK},
		},
		{
			name:    "panic",
			payload: `{"panic":"boom"}`,
			wantErr: &FunctionError{Type: "string", Message: "boom", Status: http.StatusBadGateway},
		},
		{name: "fresh runtime after a panic", payload: `{"echo":3}`, want: `{"echo":3}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Invoke(context.Background(), []byte(tc.payload))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				if string(got) != tc.want {
					t.Fatalf("Invoke = %s, want %s", got, tc.want)
				}
				return
			}
			var fe *FunctionError
			if !errors.As(err, &fe) {
				t.Fatalf("Invoke error = %v (response %s), want *FunctionError", err, got)
			}
			if fe.Type != tc.wantErr.Type || fe.Status != tc.wantErr.Status {
				t.Fatalf("FunctionError = %+v, want type %q status %d", fe, tc.wantErr.Type, tc.wantErr.Status)
			}
			if tc.wantErr.Message != "" && fe.Message != tc.wantErr.Message {
				t.Fatalf("FunctionError message = %q, want %q", fe.Message, tc.wantErr.Message)
			}
		})
	}
	if logs := r.Logs(); !strings.Contains(logs, "START RequestId") {
		t.Fatalf("Logs has no START line:\n%s", logs)
	}
	if cmd, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(r.EmulatorPID()), "cmdline")); err != nil || !strings.Contains(string(cmd), emulatorName) {
		t.Fatalf("EmulatorPID %d: command line %q, %v; want the emulator's", r.EmulatorPID(), cmd, err)
	}
}

func TestFunctionEnvironment(t *testing.T) {
	t.Setenv("MAPTUNER_TEST_INHERITED", "from-test-process")
	t.Setenv("MAPTUNER_TEST_OVERRIDDEN", "from-test-process")
	bootstrap := echoBootstrap(t)
	r := startFunction(t, bootstrap, []string{
		"MAPTUNER_TEST_OVERRIDDEN=from-env-argument",
		"MAPTUNER_TEST_EQUALS=a=b",
		"LOG_LEVEL=debug",
	})
	out, err := invokeJSON(t, r, map[string][]string{"env": {
		"MAPTUNER_TEST_INHERITED", "MAPTUNER_TEST_OVERRIDDEN", "MAPTUNER_TEST_EQUALS",
		"LOG_LEVEL", "AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT",
	}})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var got struct {
		Env map[string]string `json:"env"`
		Cwd string            `json:"cwd"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	dir := filepath.Dir(bootstrap)
	want := map[string]string{
		"MAPTUNER_TEST_INHERITED":  "from-test-process",
		"MAPTUNER_TEST_OVERRIDDEN": "from-env-argument",
		"MAPTUNER_TEST_EQUALS":     "a=b",
		"LOG_LEVEL":                "debug",
		"AWS_LAMBDA_FUNCTION_NAME": "echo",
		"LAMBDA_TASK_ROOT":         dir,
	}
	for k, v := range want {
		if got.Env[k] != v {
			t.Errorf("function sees %s=%q, want %q", k, got.Env[k], v)
		}
	}
	if got.Cwd != dir {
		t.Errorf("function working directory = %q, want %q", got.Cwd, dir)
	}
}

func TestFunctionConcurrentInvokesAreSerialized(t *testing.T) {
	r := startFunction(t, echoBootstrap(t), nil)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			want := fmt.Sprintf(`{"echo":%d}`, i)
			got, err := r.Invoke(context.Background(), []byte(want))
			switch {
			case err != nil:
				errs[i] = err
			case string(got) != want:
				errs[i] = fmt.Errorf("got %s, want %s", got, want)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("invocation %d: %v", i, err)
		}
	}
}

func TestFunctionTimeout(t *testing.T) {
	r := startFunction(t, echoBootstrap(t), []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=1"})
	if _, err := invokeJSON(t, r, map[string]bool{"wait": true}); !errors.Is(err, ErrFunctionTimeout) {
		t.Fatalf("Invoke of a function that outlives its timeout: error = %v, want ErrFunctionTimeout", err)
	}
	got, err := invokeJSON(t, r, map[string]int{"echo": 1})
	if err != nil || string(got) != `{"echo":1}` {
		t.Fatalf("Invoke after a timeout = %s, %v; want {\"echo\":1}", got, err)
	}
}

func TestFunctionRuntimeThatExits(t *testing.T) {
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(bootstrap, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := startFunction(t, bootstrap, nil)
	_, err := r.Invoke(context.Background(), []byte(`{}`))
	if !errors.Is(err, ErrEmulator) {
		t.Fatalf("Invoke of a runtime that exits: error = %v, want ErrEmulator", err)
	}
}

func TestFunctionInvokeContextCanceled(t *testing.T) {
	r := startFunction(t, echoBootstrap(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Invoke(ctx, []byte(`{}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Invoke with a canceled context: error = %v, want context.Canceled", err)
	}
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     []byte
		want     string
		wantFE   *FunctionError
		wantSent error
	}{
		{name: "response", status: 200, body: sampleEcho, want: string(sampleEcho)},
		{name: "null response", status: 200, body: []byte("null"), want: "null"},
		{name: "empty response", status: 200, body: nil, want: ""},
		{
			name:   "returned error",
			status: 200, body: sampleFailure,
			wantFE: &FunctionError{Type: "rejectedError", Message: "nope", Status: 200},
		},
		{
			name:   "panic",
			status: 502, body: samplePanic,
			wantFE: &FunctionError{Type: "string", Message: "boom", Status: 502},
		},
		{name: "timeout", status: 200, body: sampleTimeout, wantSent: ErrFunctionTimeout},
		{name: "runtime exited", status: 502, body: nil, wantSent: ErrEmulator},
		{name: "overlapping call", status: 400, body: nil, wantSent: ErrEmulator},
		{
			name:   "response with an errorType field among others",
			status: 200, body: []byte(`{"errorType":"x","errorMessage":"y","items":3}`),
			want: `{"errorType":"x","errorMessage":"y","items":3}`,
		},
		{
			name:   "empty errorType is a response",
			status: 200, body: []byte(`{"errorType":"","errorMessage":"y"}`),
			want: `{"errorType":"","errorMessage":"y"}`,
		},
		{
			name:   "non-string errorMessage is a response",
			status: 200, body: []byte(`{"errorType":"x","errorMessage":1}`),
			want: `{"errorType":"x","errorMessage":1}`,
		},
		{
			name:   "text that mentions a timeout is a response",
			status: 200, body: []byte(`"Task timed out after 2.00 seconds"`),
			want: `"Task timed out after 2.00 seconds"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeResponse(tc.status, tc.body)
			switch {
			case tc.wantFE != nil:
				var fe *FunctionError
				if !errors.As(err, &fe) || *fe != *tc.wantFE {
					t.Fatalf("decodeResponse error = %#v, want %#v", err, tc.wantFE)
				}
			case tc.wantSent != nil:
				if !errors.Is(err, tc.wantSent) {
					t.Fatalf("decodeResponse error = %v, want %v", err, tc.wantSent)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Fatalf("decodeResponse = %q, %v; want %q", got, err, tc.want)
				}
			}
		})
	}
}

func FuzzDecodeResponse(f *testing.F) {
	for _, body := range [][]byte{sampleEcho, sampleFailure, samplePanic, sampleTimeout, nil, []byte("null")} {
		f.Add(200, body)
		f.Add(502, body)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		got, err := decodeResponse(status, body)
		if err == nil {
			if status != http.StatusOK {
				t.Fatalf("status %d decoded without error", status)
			}
			if string(got) != string(body) {
				t.Fatalf("response %q altered to %q", body, got)
			}
			return
		}
		if got != nil {
			t.Fatalf("error %v came with a response %q", err, got)
		}
		var fe *FunctionError
		if !errors.As(err, &fe) && !errors.Is(err, ErrEmulator) && !errors.Is(err, ErrFunctionTimeout) {
			t.Fatalf("error %v is of no documented class", err)
		}
		if fe != nil && (fe.Type == "" || fe.Status != status) {
			t.Fatalf("FunctionError %+v for status %d", fe, status)
		}
	})
}

func TestFunctionEnvRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{name: "entry without =", env: []string{"TABLE_NAME"}, wantErr: `"TABLE_NAME" is not KEY=VALUE`},
		{name: "entry without key", env: []string{"=x"}, wantErr: `"=x" is not KEY=VALUE`},
		{name: "timeout with unit", env: []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=30s"}, wantErr: `AWS_LAMBDA_FUNCTION_TIMEOUT "30s"`},
		{name: "zero timeout", env: []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=0"}, wantErr: `AWS_LAMBDA_FUNCTION_TIMEOUT "0"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := functionEnv("/task/bootstrap", nil, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("functionEnv error = %v, want one containing %s", err, tc.wantErr)
			}
		})
	}
}

func TestFunctionEnvLayers(t *testing.T) {
	got, err := functionEnv("/task/fn/bootstrap",
		[]string{"AWS_REGION=eu-west-1", "PATH=/bin", "malformed"},
		[]string{"AWS_LAMBDA_FUNCTION_TIMEOUT=5", "PATH=/usr/bin"})
	if err != nil {
		t.Fatalf("functionEnv: %v", err)
	}
	want := []string{
		"AWS_LAMBDA_FUNCTION_NAME=fn",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=5",
		"AWS_REGION=eu-west-1",
		"LAMBDA_TASK_ROOT=/task/fn",
		"PATH=/usr/bin",
		"_HANDLER=bootstrap",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("functionEnv =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFindEmulator(t *testing.T) {
	tests := []struct {
		name    string
		root    bool // search under a repository root
		local   bool // bin/tools/aws-lambda-rie under the root
		onPath  bool
		want    string // "local", "path" or "" for an error
		wantErr string
	}{
		{name: "project-local wins", root: true, local: true, onPath: true, want: "local"},
		{name: "project-local only", root: true, local: true, want: "local"},
		{name: "PATH only", root: true, onPath: true, want: "path"},
		{name: "no root, PATH", onPath: true, want: "path"},
		{name: "neither", root: true, wantErr: "bin/tools/aws-lambda-rie nor on PATH (make tools installs it)"},
		{name: "no root, not on PATH", wantErr: "aws-lambda-rie is not on PATH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, pathDir := t.TempDir(), t.TempDir()
			local := filepath.Join(root, "bin", "tools", "aws-lambda-rie")
			onPath := filepath.Join(pathDir, "aws-lambda-rie")
			if tc.local {
				writeExecutable(t, local, "#!/bin/sh\n")
			}
			if tc.onPath {
				writeExecutable(t, onPath, "#!/bin/sh\n")
			}
			t.Setenv("PATH", pathDir)
			searched := root
			if !tc.root {
				searched = ""
			}
			got, err := findEmulator(searched)
			switch tc.want {
			case "local":
				if err != nil || got != local {
					t.Fatalf("findEmulator = %q, %v; want %q", got, err, local)
				}
			case "path":
				if err != nil || got != onPath {
					t.Fatalf("findEmulator = %q, %v; want %q", got, err, onPath)
				}
			default:
				if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("findEmulator = %q, %v; want ErrNotInstalled containing %q", got, err, tc.wantErr)
				}
			}
		})
	}
}

// writeExecutable writes an executable file at path, creating its directory.
func writeExecutable(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestStartFunctionRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "plain")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "bootstrap")
	writeExecutable(t, exe, "#!/bin/sh\n")
	tests := []struct {
		name    string
		opt     FunctionOptions
		path    string // PATH while starting
		wantErr string
		wantIs  error
	}{
		{name: "no bootstrap", opt: FunctionOptions{}, wantErr: "no bootstrap"},
		{name: "missing bootstrap", opt: FunctionOptions{Bootstrap: filepath.Join(dir, "missing")}, wantErr: "is not an executable file"},
		{name: "bootstrap not executable", opt: FunctionOptions{Bootstrap: notExec}, wantErr: "is not an executable file"},
		{name: "bad env entry", opt: FunctionOptions{Bootstrap: exe, Env: []string{"NOEQUALS"}}, wantErr: `"NOEQUALS" is not KEY=VALUE`},
		{name: "negative start timeout", opt: FunctionOptions{Bootstrap: exe, StartTimeout: -time.Second}, wantErr: "start timeout -1s is negative"},
		{
			name: "emulator not installed", opt: FunctionOptions{Bootstrap: exe, Emulator: ""}, path: dir,
			wantErr: "aws-lambda-rie", wantIs: ErrNotInstalled,
		},
		{name: "emulator that exits", opt: FunctionOptions{Bootstrap: exe, Emulator: "/bin/false"}, wantErr: "did not come up"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path != "" {
				t.Chdir(dir) // outside the repository: only PATH is searched
				t.Setenv("PATH", tc.path)
			}
			f, err := StartFunction(context.Background(), tc.opt)
			if err == nil {
				f.Close()
				t.Fatal("StartFunction succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("StartFunction error = %v, want one containing %q (is %v)", err, tc.wantErr, tc.wantIs)
			}
		})
	}
}

func TestFunctionCloseTwice(t *testing.T) {
	f := startFunction(t, echoBootstrap(t), nil)
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := f.Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Fatal("Invoke after Close succeeded")
	}
}
