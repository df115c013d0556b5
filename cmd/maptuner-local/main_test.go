package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/simserver"
)

func TestUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("runs: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-speed", "2"}, "flag provided but not defined: -speed"},
		{"extra argument", []string{"now"}, `unexpected arguments ["now"]`},
		{"not loopback", []string{"-addr", "0.0.0.0:0"}, `-addr: "0.0.0.0" is not a loopback address`},
		{"no port", []string{"-addr", "127.0.0.1"}, "-addr: address 127.0.0.1: missing port"},
		{"missing scenario", []string{"-scenario", "absent.yaml"}, "-scenario: load scenario: open absent.yaml"},
		{"invalid scenario", []string{"-scenario", bad}, "-scenario: invalid scenario: " + bad},
		{"negative rate", []string{"-rate", "-1"}, "rate -1 is outside [0, 100000]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// TestServes runs the command on a free loopback port, reads the URL from
// its first line, calls a control endpoint and stops it.
func TestServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, stdout := io.Pipe()
	var stderr strings.Builder
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-rate", "0", "-seed", "7"}, stdout, &stderr)
		stdout.Close()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("no first line; stderr %q", stderr.String())
	}
	url, ok := strings.CutPrefix(lines.Text(), "listening on http://127.0.0.1:")
	if !ok {
		t.Fatalf("first line %q, want listening on http://127.0.0.1:PORT", lines.Text())
	}
	url = "http://127.0.0.1:" + url
	if !lines.Scan() || !strings.Contains(lines.Text(), "scenario builtin, seed 7, clock manual") {
		t.Errorf("second line %q", lines.Text())
	}
	go func() {
		for lines.Scan() {
		}
	}()
	st, err := (&simserver.Client{BaseURL: url}).Start(ctx)
	if err != nil || len(st.Parents) != 1 {
		t.Fatalf("start: %+v, %v", st, err)
	}
	res, err := http.Get(url + "/_maptuner/clock")
	if err != nil {
		t.Fatal(err)
	}
	var c simserver.Clock
	err = json.NewDecoder(res.Body).Decode(&c)
	res.Body.Close()
	if err != nil || !c.Started || c.Rate != 0 {
		t.Errorf("clock %+v, %v", c, err)
	}
	cancel()
	select {
	case got := <-code:
		if got != 0 {
			t.Errorf("exit code %d, want 0; stderr %q", got, stderr.String())
		}
	case <-time.After(5 * time.Minute): // a hang guard only
		t.Fatal("the command did not stop after its context ended")
	}
}
