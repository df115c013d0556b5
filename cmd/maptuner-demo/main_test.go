package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStderr: "-bootstraps"},
		{name: "unknown flag", args: []string{"-nope"}, wantCode: 2, wantStderr: "flag provided but not defined: -nope"},
		{name: "arguments", args: []string{"extra"}, wantCode: 2, wantStderr: `unexpected arguments ["extra"]`},
		{name: "zero ticks", args: []string{"-ticks", "0"}, wantCode: 2, wantStderr: "-ticks must be >= 1"},
		{name: "negative interval", args: []string{"-interval", "-1s"}, wantCode: 2, wantStderr: "-interval >= 0"},
		{name: "zero timeout", args: []string{"-timeout", "0s"}, wantCode: 2, wantStderr: "-timeout > 0"},
		{name: "bad duration", args: []string{"-interval", "soon"}, wantCode: 2, wantStderr: `invalid value "soon"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Fatalf("run(%q) = %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.wantCode, tc.wantStderr)
			}
		})
	}
}

// TestRunFailsClearly runs the command with a policies file that does not
// exist: it exits 1 with a message naming the file, after stopping moto.
func TestRunFailsClearly(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-policies", "testdata-missing.yaml", "-bootstraps", t.TempDir()}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "maptuner-demo: ") || !strings.Contains(stderr.String(), "testdata-missing.yaml") {
		t.Fatalf("run = %d, stderr %q; want 1 and a message naming the file", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "starting moto_server") {
		t.Fatalf("stdout %q", stdout.String())
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"-bootstraps", t.TempDir()}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "maptuner-demo: interrupted") {
		t.Fatalf("run with a canceled context = %d, stderr %q; want 1 and interrupted", code, stderr.String())
	}
}
