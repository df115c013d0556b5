package policy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error it returns
// wraps ErrInvalid, and that every Set it accepts resolves every policy,
// with or without a label, to a Config that passes ValidateConfig.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*")
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, rootPolicies)
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			if set != nil {
				t.Fatalf("Parse returned a set and an error: %v", err)
			}
			return
		}
		if _, err := set.Resolve(DefaultPolicy, ""); err != nil {
			t.Fatalf("accepted set does not resolve %q: %v", DefaultPolicy, err)
		}
		for _, name := range set.Names() {
			for _, label := range append(set.labels(name), "", "NoSuchLabel") {
				r, err := set.Resolve(name, label)
				if err != nil {
					t.Fatalf("Resolve(%q, %q): %v", name, label, err)
				}
				if err := ValidateConfig(r.Control); err != nil {
					t.Fatalf("Resolve(%q, %q) gave an invalid config: %v", name, label, err)
				}
			}
		}
	})
}
