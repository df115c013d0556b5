package main

import (
	"bytes"
	"context"
	"os"
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
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStderr: "-backend"},
		{name: "unknown flag", args: []string{"-nope"}, wantCode: 2, wantStderr: "flag provided but not defined: -nope"},
		{name: "arguments", args: []string{"extra"}, wantCode: 2, wantStderr: `unexpected arguments ["extra"]`},
		{name: "unknown backend", args: []string{"-backend", "aws"}, wantCode: 2, wantStderr: `-backend "aws": want sim or moto`},
		{name: "policy with sim", args: []string{"-policy", "fast"}, wantCode: 2, wantStderr: "-policy is for -backend moto"},
		{name: "scenario with moto", args: []string{"-backend", "moto", "-scenario", "x.yaml"}, wantCode: 2, wantStderr: "-scenario is for -backend sim"},
		{name: "seed with moto", args: []string{"-backend", "moto", "-seed", "2"}, wantCode: 2, wantStderr: "-seed is for -backend sim"},
		{name: "plot with moto", args: []string{"-backend", "moto", "-plot", ""}, wantCode: 2, wantStderr: "-plot is for -backend sim"},
		{name: "negative ticks", args: []string{"-ticks", "-1"}, wantCode: 2, wantStderr: "-ticks must be >= 0"},
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

func TestParseDefaults(t *testing.T) {
	sim, code := parse(nil, &bytes.Buffer{})
	if code != -1 || sim.backend != backendSim || sim.scenario != "builtin" || sim.seed != 1 || sim.plot != filepath.Join("out", "demo.svg") || sim.cfg.Interval != 0 || sim.cfg.Ticks != 0 {
		t.Fatalf("parse() = %+v, %d", sim, code)
	}
	moto, code := parse([]string{"-backend", "moto"}, &bytes.Buffer{})
	if code != -1 || moto.backend != backendMoto || moto.cfg.Interval != motoInterval {
		t.Fatalf("parse(-backend moto) = %+v, %d", moto, code)
	}
	moto, code = parse([]string{"-backend", "moto", "-interval", "0s"}, &bytes.Buffer{})
	if code != -1 || moto.cfg.Interval != 0 {
		t.Fatalf("parse(-backend moto -interval 0s) = %+v, %d", moto, code)
	}
}

// TestRunFailsClearly runs the command with what cannot work: it exits 1
// with a message naming the part, after stopping what it started.
func TestRunFailsClearly(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStdout string
		wantStderr string
	}{
		{
			name:       "scenario missing",
			args:       []string{"-scenario", "testdata-missing.yaml"},
			wantStderr: "maptuner-demo: -scenario: ",
		},
		{
			name:       "policies missing",
			args:       []string{"-policies", "testdata-missing.yaml", "-bootstraps", t.TempDir()},
			wantStdout: "starting the simulated account (scenario builtin) and moto_server",
			wantStderr: "testdata-missing.yaml",
		},
		{
			name:       "policies missing, moto",
			args:       []string{"-backend", "moto", "-policies", "testdata-missing.yaml", "-bootstraps", t.TempDir()},
			wantStdout: "starting moto_server",
			wantStderr: "testdata-missing.yaml",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != 1 || !strings.HasPrefix(stderr.String(), "maptuner-demo: ") || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Fatalf("run = %d, stderr %q; want 1 and a message containing %q", code, stderr.String(), tc.wantStderr)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Fatalf("stdout %q, want %q", stdout.String(), tc.wantStdout)
			}
		})
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, backend := range []string{backendSim, backendMoto} {
		var stdout, stderr bytes.Buffer
		if code := run(ctx, []string{"-backend", backend, "-bootstraps", t.TempDir()}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "maptuner-demo: interrupted") {
			t.Fatalf("run -backend %s with a canceled context = %d, stderr %q; want 1 and interrupted", backend, code, stderr.String())
		}
	}
}

// TestRunBuiltin runs what make demo runs: the built-in scenario on the
// simulated account, to the end, with the comparison and the plot.
func TestRunBuiltin(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "demo.svg")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-plot", plot}, &stdout, &stderr)
	t.Logf("stdout:\n%s", stdout.String())
	if code != 0 {
		t.Fatalf("run = %d, stderr %q", code, stderr.String())
	}
	for _, want := range []string{
		"scenario builtin, seed 1: 20,000 items in 1 map run(s)",
		"items 20,000/20,000 (100%)",
		"stopped by execution SUCCEEDED",
		"compare:  maptuner, as tuned above        SUCCEEDED",
		"compare:  the definition's, 10 ",
		"plot: " + plot + " (",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if b, err := os.ReadFile(plot); err != nil || !bytes.HasPrefix(b, []byte("<svg ")) {
		t.Fatalf("plot: %.40q, %v", b, err)
	}
}
