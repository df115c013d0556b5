package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildBootstrap(t *testing.T) {
	root := repoRoot(t)
	tests := []struct {
		name    string
		pkg     string
		wantErr string
	}{
		{name: "a function", pkg: "watch"},
		{name: "a path, not a name", pkg: "../internal", wantErr: `function package "../internal" is not a directory name`},
		{name: "empty", pkg: "", wantErr: `function package "" is not a directory name`},
		{name: "no such function", pkg: "nonexistent", wantErr: "build ./functions/nonexistent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			got, err := BuildBootstrap(context.Background(), root, tc.pkg, out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("BuildBootstrap error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(out, tc.pkg, "bootstrap"); got != want {
				t.Fatalf("BuildBootstrap = %s, want %s", got, want)
			}
			if !isExecutable(got) {
				t.Fatalf("%s is not an executable file", got)
			}
		})
	}
}

func TestValidFunctionName(t *testing.T) {
	tests := []struct {
		pkg  string
		want bool
	}{
		{"watch", true},
		{"tune", true},
		{"my_fn-2", true},
		{"", false},
		{"../internal", false},
		{"watch/sub", false},
		{"-x", false},
	}
	for _, tc := range tests {
		if got := validFunctionName.MatchString(tc.pkg); got != tc.want {
			t.Errorf("validFunctionName(%q) = %v, want %v", tc.pkg, got, tc.want)
		}
	}
}

func TestRepoRoot(t *testing.T) {
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(other, "a", "b")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	ours := t.TempDir()
	if err := os.WriteFile(filepath.Join(ours, "go.mod"), []byte("// comment\nmodule \""+ModulePath+"\"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	oursNested := filepath.Join(ours, "internal", "x")
	if err := os.MkdirAll(oursNested, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		from    string
		want    string
		wantErr string
	}{
		{name: "at the root", from: ours, want: ours},
		{name: "below the root", from: oursNested, want: ours},
		{name: "another module", from: nested, wantErr: "no go.mod of module " + ModulePath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := repoRootFrom(tc.from)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("repoRootFrom(%s) = %q, %v; want an error containing %q", tc.from, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("repoRootFrom(%s) = %q, %v; want %q", tc.from, got, err, tc.want)
			}
		})
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("RepoRoot from the package directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "functions", "tune")); err != nil {
		t.Fatalf("RepoRoot = %s, which has no functions/tune: %v", root, err)
	}
}
