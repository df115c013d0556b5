package main

import (
	"bytes"
	"context"
	"path/filepath"
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
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStderr: "-dynalite"},
		{name: "unknown flag", args: []string{"-nope"}, wantCode: 2, wantStderr: "flag provided but not defined: -nope"},
		{name: "arguments", args: []string{"extra"}, wantCode: 2, wantStderr: `unexpected arguments ["extra"]`},
		{name: "zero ticks", args: []string{"-ticks", "0"}, wantCode: 2, wantStderr: "-ticks 0: want at least 1"},
		{name: "zero warm-up", args: []string{"-warmup", "0s"}, wantCode: 2, wantStderr: "-warmup 0s: want a positive duration"},
		{name: "no out", args: []string{"-out", ""}, wantCode: 2, wantStderr: "-out: want a file"},
		{name: "two DynamoDBs", args: []string{"-dynamodb", "http://127.0.0.1:8000", "-dynalite", "cli.js"}, wantCode: 2, wantStderr: "choose one"},
		{name: "missing scenario", args: []string{"-scenario", filepath.Join(t.TempDir(), "none.yaml")}, wantCode: 1, wantStderr: "-scenario:"},
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

func TestParseDefaults(t *testing.T) {
	opt, code := parse(nil, &bytes.Buffer{})
	if code != -1 || opt.scenario != filepath.Join("scenarios", "thousand-runs.yaml") || opt.cfg.Seed != 1 || opt.cfg.Ticks != 5 ||
		opt.out != filepath.Join("docs", "bench", "tick-rie.txt") || opt.cfg.DynamoDB != "" || opt.cfg.Dynalite != "" {
		t.Fatalf("parse() = %+v, %d", opt, code)
	}
}
