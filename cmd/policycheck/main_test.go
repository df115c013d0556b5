package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("version: 1\npolicies:\n  default: {}\n  etl: {maxConcurrency: 50}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("version: 1\npolicies:\n  default: {maxConcurrency: 20000, backoff: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		prefix     bool // stdout need only start with stdout
		stderrHas  []string
		stderrNone bool
	}{
		{"valid", []string{good}, 0, good + ": ok, 2 policies: default, etl\n", false, nil, true},
		{"deployed file", []string{"../../policies.yaml"}, 0, "../../policies.yaml: ok, ", true, nil, true},
		{"invalid", []string{good, bad}, 1, good + ": ok, 2 policies: default, etl\n", false, []string{
			bad + `:3: policy "default": maxConcurrency: 20000 is above 10000`,
			bad + `:3: policy "default": backoff: 2 is not in (0, 1)`,
		}, false},
		{"missing", []string{filepath.Join(dir, "none.yaml")}, 1, "", false, []string{"none.yaml", "no such file"}, false},
		{"no files", nil, 2, "", false, []string{"usage: policycheck FILE..."}, false},
		{"flag", []string{"-h"}, 2, "", false, []string{"usage: policycheck FILE..."}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, &stderr)
			}
			if got := stdout.String(); got != tt.stdout && !(tt.prefix && strings.HasPrefix(got, tt.stdout)) {
				t.Errorf("stdout %q, want %q", &stdout, tt.stdout)
			}
			for _, want := range tt.stderrHas {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q lacks %q", &stderr, want)
				}
			}
			if tt.stderrNone && stderr.Len() > 0 {
				t.Errorf("stderr %q, want none", &stderr)
			}
		})
	}
}
