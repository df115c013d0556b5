package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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

// echoBootstrap builds the echo test function.
func echoBootstrap(t *testing.T) string {
	t.Helper()
	return buildBootstrap(t, "./internal/testenv/testdata/echo", "echo")
}

// invokeJSON invokes r with v marshalled.
func invokeJSON(t *testing.T, r *RIE, v any) ([]byte, error) {
	t.Helper()
	payload, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal payload: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return r.Invoke(ctx, payload)
}

func TestRIEInvoke(t *testing.T) {
	r := StartRIE(t, echoBootstrap(t), nil)
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
}

func TestRIEEnvironment(t *testing.T) {
	t.Setenv("MAPTUNER_TEST_INHERITED", "from-test-process")
	t.Setenv("MAPTUNER_TEST_OVERRIDDEN", "from-test-process")
	bootstrap := echoBootstrap(t)
	r := StartRIE(t, bootstrap, []string{
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

func TestRIEConcurrentInvokesAreSerialized(t *testing.T) {
	r := StartRIE(t, echoBootstrap(t), nil)
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

func TestRIETimeout(t *testing.T) {
	r := StartRIE(t, echoBootstrap(t), []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=1"})
	if _, err := invokeJSON(t, r, map[string]bool{"wait": true}); !errors.Is(err, ErrFunctionTimeout) {
		t.Fatalf("Invoke of a function that outlives its timeout: error = %v, want ErrFunctionTimeout", err)
	}
	got, err := invokeJSON(t, r, map[string]int{"echo": 1})
	if err != nil || string(got) != `{"echo":1}` {
		t.Fatalf("Invoke after a timeout = %s, %v; want {\"echo\":1}", got, err)
	}
}

func TestRIERuntimeThatExits(t *testing.T) {
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(bootstrap, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := StartRIE(t, bootstrap, nil)
	_, err := r.Invoke(context.Background(), []byte(`{}`))
	if !errors.Is(err, ErrEmulator) {
		t.Fatalf("Invoke of a runtime that exits: error = %v, want ErrEmulator", err)
	}
}

func TestRIEInvokeContextCanceled(t *testing.T) {
	r := StartRIE(t, echoBootstrap(t), nil)
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

func TestRIEEnvRejectsBadInput(t *testing.T) {
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
			_, err := rieEnv("/task/bootstrap", nil, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("rieEnv error = %v, want one containing %s", err, tc.wantErr)
			}
		})
	}
}

func TestRIEEnvLayers(t *testing.T) {
	got, err := rieEnv("/task/fn/bootstrap",
		[]string{"AWS_REGION=eu-west-1", "PATH=/bin", "malformed"},
		[]string{"AWS_LAMBDA_FUNCTION_TIMEOUT=5", "PATH=/usr/bin"})
	if err != nil {
		t.Fatalf("rieEnv: %v", err)
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
		t.Fatalf("rieEnv =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFindRIE(t *testing.T) {
	writeExe := func(t *testing.T, path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		local   bool // bin/tools/aws-lambda-rie under the root
		onPath  bool
		want    string // "local", "path" or "" for an error
		wantErr string
	}{
		{name: "project-local wins", local: true, onPath: true, want: "local"},
		{name: "project-local only", local: true, want: "local"},
		{name: "PATH only", onPath: true, want: "path"},
		{name: "neither", wantErr: "make tools"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, pathDir := t.TempDir(), t.TempDir()
			local := filepath.Join(root, "bin", "tools", "aws-lambda-rie")
			onPath := filepath.Join(pathDir, "aws-lambda-rie")
			if tc.local {
				writeExe(t, local)
			}
			if tc.onPath {
				writeExe(t, onPath)
			}
			t.Setenv("PATH", pathDir)
			got, err := findRIE(root)
			switch tc.want {
			case "local":
				if err != nil || got != local {
					t.Fatalf("findRIE = %q, %v; want %q", got, err, local)
				}
			case "path":
				if err != nil || got != onPath {
					t.Fatalf("findRIE = %q, %v; want %q", got, err, onPath)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("findRIE = %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
			}
		})
	}
}

func TestGoBuildReportsFailures(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	err = goBuild(root, "./internal/testenv/testdata/nonexistent", filepath.Join(t.TempDir(), "bootstrap"))
	if err == nil || !strings.Contains(err.Error(), "build ./internal/testenv/testdata/nonexistent") {
		t.Fatalf("goBuild of a missing package: error = %v, want one naming the package", err)
	}
}

func TestValidFunctionName(t *testing.T) {
	tests := []struct {
		pkg  string
		want bool
	}{
		{"watch", true},
		{"tune", true},
		{"my_fn-2", true},
		{"", false},
		{"../internal", false},
		{"watch/sub", false},
		{"-x", false},
	}
	for _, tc := range tests {
		if got := validFunctionName.MatchString(tc.pkg); got != tc.want {
			t.Errorf("validFunctionName(%q) = %v, want %v", tc.pkg, got, tc.want)
		}
	}
}

// TestBuildBootstrapRunsAFunction builds the real watch function and runs it
// in the emulator. The malformed sample event is refused before any AWS call,
// so no endpoint is needed: the handler's error must come back as a
// *FunctionError with status 200, not as a crash.
func TestBuildBootstrapRunsAFunction(t *testing.T) {
	bootstrap := BuildBootstrap(t, "watch")
	if filepath.Base(filepath.Dir(bootstrap)) != "watch" || filepath.Base(bootstrap) != "bootstrap" {
		t.Fatalf("BuildBootstrap path = %s, want .../watch/bootstrap", bootstrap)
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	event, err := os.ReadFile(filepath.Join(root, "events", "malformed.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := StartRIE(t, bootstrap, []string{
		"TABLE_NAME=maptuner-test", "POLICY_FILE=", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
	})
	_, err = r.Invoke(context.Background(), event)
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Status != http.StatusOK {
		t.Fatalf("Invoke of the malformed event: error = %v, want a *FunctionError with status 200", err)
	}
}
