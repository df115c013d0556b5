// Package testenv starts the real local services that integration tests run
// against, through internal/lab/local, and stops them when the test ends. A test
// that needs one and cannot start it fails: it never skips.
package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/local"
)

// Moto is a running moto_server on loopback; URL is its endpoint.
type Moto = local.Moto

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := local.FreePort()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return port
}

// StartMoto starts moto_server on a free port with Step Functions execution
// on, sets fake credentials and region in the environment, and stops the
// server when the test ends.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	m, err := local.StartMoto(context.Background(), local.MotoOptions{})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	stopAtEnd(t, "moto_server", m)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":     local.FakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY": local.FakeSecretAccessKey,
		"AWS_REGION":            local.DefaultRegion,
	} {
		if os.Getenv(k) == "" {
			t.Setenv(k, v)
		}
	}
	return m
}

// part is a started local part.
type part interface {
	Close() error
	Logs() string
}

var (
	_ part = (*local.Moto)(nil)
	_ part = (*local.Function)(nil)
)

// stopAtEnd stops p when the test ends, and logs its output if the test failed.
func stopAtEnd(t testing.TB, name string, p part) {
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("testenv: %v", err)
		}
		if t.Failed() {
			t.Logf("testenv: %s output:\n%s", name, p.Logs())
		}
	})
}

// WaitHTTP polls url until it answers any HTTP status or the timeout passes.
// It waits for a server to start; it measures nothing.
func WaitHTTP(url string, timeout time.Duration) error {
	return local.WaitHTTP(context.Background(), url, timeout)
}
