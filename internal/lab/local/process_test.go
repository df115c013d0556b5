package local

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWaitHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	nothing := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	exited := make(chan struct{})
	close(exited)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		url     string
		exited  chan struct{}
		wantErr string
	}{
		{name: "any status is up", ctx: context.Background(), url: srv.URL + "/missing"},
		{name: "nothing listening", ctx: context.Background(), url: nothing, wantErr: "not answering after 200ms"},
		{name: "process exited", ctx: context.Background(), url: nothing, exited: exited, wantErr: "the process exited"},
		{name: "context canceled", ctx: canceled, url: nothing, wantErr: "context canceled"},
		{name: "bad url", ctx: context.Background(), url: "http://[::1", wantErr: "wait for http://[::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := waitHTTP(tc.ctx, tc.url, tc.exited, 200*time.Millisecond)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("waitHTTP: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("waitHTTP error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if err := WaitHTTP(context.Background(), srv.URL, time.Second); err != nil {
		t.Fatalf("WaitHTTP of a running server: %v", err)
	}
}

func TestModulePath(t *testing.T) {
	tests := []struct {
		gomod string
		want  string
	}{
		{"module github.com/maptuner/maptuner\n\ngo 1.26\n", ModulePath},
		{"// a comment\nmodule \"example.com/x\" // trailing\n", "example.com/x"},
		{"go 1.26\n", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := modulePath(strings.NewReader(tc.gomod)); got != tc.want {
			t.Errorf("modulePath(%q) = %q, want %q", tc.gomod, got, tc.want)
		}
	}
}

// TestProcessStop stops a process that ignores nothing and one whose
// child would hold its output open: both stop, and stop is idempotent.
func TestProcessStop(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "parent")
	// The parent starts a child that shares its output and both wait.
	writeExecutable(t, script, "#!/bin/sh\nsleep 300 &\necho started\nwait\n")
	p, err := startProcess("parent", script, nil, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	select {
	case <-p.exited:
	default:
		t.Fatal("process not waited for after stop")
	}
	if err := p.stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if _, err := startProcess("missing", filepath.Join(dir, "missing"), nil, dir, nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("startProcess of a missing executable: error = %v, want os.ErrNotExist", err)
	}
}
