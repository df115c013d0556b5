package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maptuner/maptuner/internal/config"
	"github.com/maptuner/maptuner/internal/policy"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1") // the SDK reads the process environment
	a, err := Load(context.Background(), env(map[string]string{
		"TABLE_NAME": "maptuner", "POLICY_FILE": "../../policies.yaml",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if a.Config.Table != "maptuner" || a.Store == nil || a.Clients.SFN == nil || a.Log == nil || a.Clients.Region != "eu-west-1" {
		t.Fatalf("app %+v", a)
	}
	if _, err := a.Policies.Resolve("fail-fast", ""); err != nil {
		t.Fatalf("policies of the file not loaded: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\npolicies:\n  default:\n    maxConcurrency: 20000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		is   error
		want string
	}{
		{"no table", map[string]string{}, config.ErrInvalid, "TABLE_NAME"},
		{"invalid policy file", map[string]string{"TABLE_NAME": "t", "POLICY_FILE": bad}, policy.ErrInvalid, "maxConcurrency: 20000"},
		{"missing policy file", map[string]string{"TABLE_NAME": "t", "POLICY_FILE": "/nonexistent/policies.yaml"}, os.ErrNotExist, "POLICY_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), env(tt.env))
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %v naming %q", err, tt.is, tt.want)
			}
		})
	}
}
