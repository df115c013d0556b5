package testenv

import (
	"context"
	"testing"

	"github.com/maptuner/maptuner/internal/lab/local"
)

// RIE is a running AWS Lambda Runtime Interface Emulator serving one
// function bootstrap on loopback; see local.Function.
type RIE = local.Function

// FunctionError is a handler error as the Lambda runtime reports it; see
// local.FunctionError.
type FunctionError = local.FunctionError

// The errors of RIE.Invoke other than a *FunctionError.
var (
	// ErrFunctionTimeout: the function ran past its timeout.
	ErrFunctionTimeout = local.ErrFunctionTimeout
	// ErrEmulator: the emulator failed the invocation without a function error.
	ErrEmulator = local.ErrEmulator
)

// StartRIE starts aws-lambda-rie on free loopback ports running the bootstrap
// executable, and stops it when the test ends. It looks for aws-lambda-rie in
// bin/tools at the repository root, then on PATH, and fails the test if it
// finds neither (make tools installs it). The function sees the test
// process's environment, then env on top; see local.FunctionOptions.
func StartRIE(t testing.TB, bootstrap string, env []string) *RIE {
	t.Helper()
	f, err := local.StartFunction(context.Background(), local.FunctionOptions{Bootstrap: bootstrap, Env: env})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	stopAtEnd(t, "aws-lambda-rie", f)
	return f
}

// BuildBootstrap builds the Lambda function ./functions/<pkg> of this
// repository for the host and returns its path, <t.TempDir()>/<pkg>/bootstrap;
// see local.BuildBootstrap. It fails the test if the build fails.
func BuildBootstrap(t testing.TB, pkg string) string {
	t.Helper()
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	out, err := local.BuildBootstrap(context.Background(), root, pkg, t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return out
}
