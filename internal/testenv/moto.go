// Package testenv starts the real local services that integration tests run
// against. A test that needs one and cannot start it fails: it never skips.
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Moto is a running moto_server on loopback.
type Moto struct {
	// URL is the endpoint, for example http://127.0.0.1:45123.
	URL string
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: find free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartMoto starts moto_server on a free port with Step Functions execution
// on, sets fake credentials and region in the environment, and stops the
// server when the test ends.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("testenv: moto_server not on PATH (make test installs it): %v", err)
	}
	port := FreePort(t)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start moto_server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	m := &Moto{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	if err := WaitHTTP(m.URL+"/moto-api/", 30*time.Second); err != nil {
		t.Fatalf("testenv: moto_server did not come up: %v\n%s", err, out.String())
	}
	resp, err := http.Post(m.URL+"/moto-api/config", "application/json",
		bytes.NewBufferString(`{"stepfunctions":{"execute_state_machine":true}}`))
	if err != nil {
		t.Fatalf("testenv: configure moto_server: %v", err)
	}
	resp.Body.Close()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":     "testing",
		"AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_REGION":            "us-east-1",
	} {
		if os.Getenv(k) == "" {
			t.Setenv(k, v)
		}
	}
	return m
}

// WaitHTTP polls url until it answers any HTTP status or the timeout passes.
// It waits for a server to start; it measures nothing.
func WaitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("testenv: %s not answering after %s: %w", url, timeout, last)
}
