package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tinyScenario = `name: tiny
downstreams:
  - name: small-fn
    concurrency: 10
runs:
  - stateMachine: small-job
    label: Items
    downstream: small-fn
    items: 200
    duration: {dist: fixed, value: 10s}
    tags: {"maptuner:policy": default}
    maxConcurrency: 2
    toleratedFailurePercentage: 5
policy:
  version: 1
  policies:
    default:
      throttleSignals:
        - namespace: AWS/Lambda
          metric: Throttles
          dimensions: {FunctionName: small-fn}
          stat: Sum
`

// scenarioDir writes the tiny scenario, and a file that is not one, into
// a new directory.
func scenarioDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tiny.yaml"), []byte(tinyScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a scenario"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunUsage(t *testing.T) {
	dir := scenarioDir(t)
	file := filepath.Join(dir, "tiny.yaml")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help", []string{"-h"}, 0, "-scenario file"},
		{"nothing", nil, 2, "give exactly one of -scenario FILE and -all DIR"},
		{"both", []string{"-scenario", file, "-all", dir}, 2, "give exactly one of"},
		{"stray argument", []string{"-scenario", file, "extra"}, 2, `unexpected argument "extra"`},
		{"zero seeds", []string{"-scenario", file, "-seeds", "0"}, 2, "-seeds 0: want at least 1"},
		{"bad strategy", []string{"-scenario", file, "-strategy", "tuner,best"}, 2, `unknown strategy "best"`},
		{"unknown flag", []string{"-scenarios", file}, 2, "flag provided but not defined"},
		{"all without the tuner", []string{"-all", dir, "-strategy", "aimd"}, 2, "-strategy must include tuner"},
		{"missing file", []string{"-scenario", filepath.Join(dir, "none.yaml")}, 1, "load scenario"},
		{"missing directory", []string{"-all", filepath.Join(dir, "none")}, 1, "scenario directory"},
		{"empty directory", []string{"-all", t.TempDir()}, 1, "no .yaml, .yml or .json file"},
		{"negative workers", []string{"-scenario", file, "-workers", "-1"}, 1, "workers -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

func TestRunScenario(t *testing.T) {
	file := filepath.Join(scenarioDir(t), "tiny.yaml")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-scenario", file, "-seeds", "2", "-strategy", "tuner,static-10"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"tiny: fixed capacity, seeds 1 to 2", "\ntuner ", "\nstatic-10 ", "tuner targets: "} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	stdout.Reset()
	if code := run(context.Background(), []string{"-scenario", file, "-seeds", "1", "-strategy", "static-10", "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr: %s", code, stderr.String())
	}
	var rep struct {
		Seeds      []uint64
		Strategies []string
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || len(rep.Seeds) != 1 || len(rep.Strategies) != 1 {
		t.Errorf("JSON %s: %+v, %v", stdout.String(), rep, err)
	}
}

// TestRunPoisonBaseline runs a scenario with a poison baseline: with the
// baseline's file beside it, the poison target is judged; without, it is
// not run.
func TestRunPoisonBaseline(t *testing.T) {
	// The class table gives poison-batch the baseline poison-batch-baseline.
	poison := strings.Replace(tinyScenario, "name: tiny", "name: poison-batch", 1)
	tests := []struct {
		name     string
		baseline bool
		want     string
	}{
		{"baseline beside", true, "poison             makespan <= 1.10 x the tuner's in poison-batch-baseline"},
		{"no baseline", false, "not run  poison"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "poison-batch.yaml"), []byte(poison), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.baseline {
				base := strings.Replace(tinyScenario, "name: tiny", "name: poison-batch-baseline", 1)
				if err := os.WriteFile(filepath.Join(dir, "poison-batch-baseline.yaml"), []byte(base), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"-scenario", filepath.Join(dir, "poison-batch.yaml"), "-seeds", "1", "-strategy", "tuner"}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit code %d; stderr: %s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, stdout.String())
			}
		})
	}
}

func TestRunAll(t *testing.T) {
	dir := scenarioDir(t)
	out := filepath.Join(t.TempDir(), "B.md")
	plots := filepath.Join(filepath.Dir(out), "plots")
	var stdout, stderr bytes.Buffer
	args := []string{"-all", dir, "-seeds", "1", "-strategy", "tuner,aimd", "-out", out, "-plots", plots}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr: %s", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing without -json", stdout.String())
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	wantCommand := "go run ./cmd/maptuner-bench -all " + dir + " -seeds 1 -strategy tuner,aimd -out " + out + " -plots " + plots
	if !strings.Contains(string(md), wantCommand) || !strings.Contains(string(md), "](plots/tiny.svg)") {
		t.Errorf("report lacks the command %q or the plot link:\n%s", wantCommand, md)
	}
	for _, f := range []string{"tiny.svg", "summary.svg"} {
		if _, err := os.Stat(filepath.Join(plots, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestCommand(t *testing.T) {
	tests := []struct {
		dir, list, out, plots string
		seeds                 int
		want                  string
	}{
		{"scenarios", "", defaultOut, defaultPlots, 10, "go run ./cmd/maptuner-bench -all scenarios -seeds 10"},
		{"s", "tuner", "X.md", "p", 3, "go run ./cmd/maptuner-bench -all s -seeds 3 -strategy tuner -out X.md -plots p"},
	}
	for _, tt := range tests {
		if got := command(tt.dir, tt.seeds, tt.list, tt.out, tt.plots); got != tt.want {
			t.Errorf("command = %q, want %q", got, tt.want)
		}
	}
}
