package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// startMoto starts moto_server and closes it when the test ends.
func startMoto(t *testing.T) *Moto {
	t.Helper()
	m, err := StartMoto(context.Background(), MotoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, m)
	return m
}

func TestStartMoto(t *testing.T) {
	m := startMoto(t)
	// Execution being on shows in TestStartDistributedMapAgainstMoto: map
	// runs are listed and the execution succeeds.
	out, err := m.SFN(DefaultRegion).ListStateMachines(context.Background(), &sfn.ListStateMachinesInput{})
	if err != nil || len(out.StateMachines) != 0 {
		t.Fatalf("ListStateMachines = %v, %v; want none", out, err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := http.Get(m.URL + "/moto-api/"); err == nil {
		t.Fatal("moto_server still answers after Close")
	}
}

func TestStartMotoFailures(t *testing.T) {
	dir := t.TempDir()
	exits := filepath.Join(dir, "python3")
	writeExecutable(t, exits, "#!/bin/sh\necho cannot bind >&2\nexit 1\n")
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	// An interpreter without its site-packages, where moto is installed.
	noMoto := filepath.Join(dir, "python-without-moto")
	writeExecutable(t, noMoto, fmt.Sprintf("#!/bin/sh\nexec %s -S \"$@\"\n", python))
	tests := []struct {
		name    string
		opt     MotoOptions
		path    string // PATH while starting; empty keeps it
		wantErr string
		wantIs  error
	}{
		{name: "not installed", path: t.TempDir(), wantErr: "python3 is not on PATH (make tools installs moto for it)", wantIs: ErrNotInstalled},
		{name: "moto not installed", opt: MotoOptions{Python: noMoto}, wantErr: "moto is not installed for"},
		{name: "server that exits", opt: MotoOptions{Python: exits}, wantErr: "the process exited"},
		{name: "server output shown", opt: MotoOptions{Python: exits}, wantErr: "cannot bind"},
		{name: "bad port", opt: MotoOptions{Port: 70000}, wantErr: "port 70000 is not in [0, 65535]"},
		{name: "negative timeout", opt: MotoOptions{StartTimeout: -time.Second}, wantErr: "start timeout -1s is negative"},
		{name: "missing binary", opt: MotoOptions{Python: filepath.Join(dir, "missing")}, wantErr: "start moto_server"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path != "" {
				t.Setenv("PATH", tc.path)
			}
			m, err := StartMoto(context.Background(), tc.opt)
			if err == nil {
				m.Close()
				t.Fatal("StartMoto succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("StartMoto error = %v, want one containing %q (is %v)", err, tc.wantErr, tc.wantIs)
			}
		})
	}
}

func TestMotoSFNClient(t *testing.T) {
	m := &Moto{URL: "http://127.0.0.1:1"}
	c := m.SFN("eu-west-1")
	o := c.Options()
	if o.Region != "eu-west-1" || aws.ToString(o.BaseEndpoint) != m.URL || o.Retryer.MaxAttempts() != closedConnAttempts {
		t.Fatalf("SFN options: region %q endpoint %q attempts %d", o.Region, aws.ToString(o.BaseEndpoint), o.Retryer.MaxAttempts())
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection closed under the read", &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed})}, true},
		{"server error", &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 500}}, Err: errors.New("internal")}, false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, false},
	} {
		if got := o.Retryer.IsErrorRetryable(tc.err); got != tc.want {
			t.Errorf("%s: retryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
