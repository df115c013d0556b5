package local

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartDynaliteFailures(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		opt     DynaliteOptions
		wantErr string
	}{
		{"no script", DynaliteOptions{}, "no script"},
		{"script not installed", DynaliteOptions{Script: filepath.Join(dir, "cli.js")}, "make bench-tick DYNAMODB=dynalite installs it"},
		{"negative timeout", DynaliteOptions{Script: dir, StartTimeout: -1}, "negative"},
		{"no node", DynaliteOptions{Script: dir, Node: filepath.Join(dir, "no-node")}, "start dynalite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := StartDynalite(context.Background(), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				if d != nil {
					d.Close()
				}
				t.Fatalf("StartDynalite error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
