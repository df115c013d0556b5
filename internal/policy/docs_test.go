package policy

import (
	"os"
	"strings"
	"testing"
)

// TestDocsMatchDefaults checks that the reference table of the policies
// docs lists every field with its built-in default.
func TestDocsMatchDefaults(t *testing.T) {
	data, err := os.ReadFile("../../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[strings.Trim(cells[0], "`")] = cells
	}
	for _, f := range fields {
		row, ok := rows[f.name]
		if !ok {
			t.Errorf("docs: no row for %s", f.name)
			continue
		}
		if f.name == "throttleSignals" {
			continue // described in words and shown in full below the table
		}
		if len(row) < 4 {
			t.Errorf("docs: row of %s has %d cells, want 4", f.name, len(row))
			continue
		}
		if want := "`" + f.show(&builtin) + "`"; row[2] != want {
			t.Errorf("docs: %s default %q, want %s", f.name, row[2], want)
		}
	}
}

// TestPackageDocMatchesDefaults checks that the field table of the package
// documentation lists every field with its built-in default.
func TestPackageDocMatchesDefaults(t *testing.T) {
	data, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		if words := strings.Fields(strings.TrimPrefix(line, "//\t")); len(words) >= 3 && fieldByName[words[0]] != nil {
			rows[words[0]] = words
		}
	}
	for _, f := range fields {
		row, ok := rows[f.name]
		switch {
		case !ok:
			t.Errorf("doc.go: no row for %s", f.name)
		case f.name != "throttleSignals" && row[2] != f.show(&builtin):
			t.Errorf("doc.go: %s default %q, want %q", f.name, row[2], f.show(&builtin))
		}
	}
}
