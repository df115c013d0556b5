package policy

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
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
		if want := docDefault(f, "`"); row[2] != want {
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
		case f.name != "throttleSignals" && row[2] != docDefault(f, ""):
			t.Errorf("doc.go: %s default %q, want %q", f.name, row[2], docDefault(f, ""))
		}
	}
}

// docDefault is how the docs write the built-in default of field f,
// quoted with q: none for an empty one (group).
func docDefault(f field, q string) string {
	if v := f.show(&builtin); v != "" {
		return q + v + q
	}
	return "none"
}

// docsExamples returns the YAML examples of the policies docs as policies
// files: a whole file as it is; a policy body (it names throttleSignals or
// tolerance at its top) as the default policy; named policies with a
// default one added; a list of signals as the default policy's.
func docsExamples(t *testing.T) []policyDoc {
	t.Helper()
	const path = "../../docs/policies.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []policyDoc
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		indent, ok := strings.CutSuffix(lines[i], "```yaml")
		if !ok || strings.TrimSpace(indent) != "" {
			continue
		}
		start := i + 1
		var block []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			block = append(block, strings.TrimPrefix(lines[i], indent))
		}
		name := fmt.Sprintf("%s:%d", path, start)
		text := []byte(strings.Join(block, "\n"))
		var v any
		if err := yaml.Unmarshal(text, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var file map[string]any
		switch v := v.(type) {
		case []any:
			file = map[string]any{"version": 1, "policies": map[string]any{DefaultPolicy: map[string]any{"throttleSignals": v}}}
		case map[string]any:
			switch {
			case v["version"] != nil:
				out = append(out, policyDoc{name, text})
				continue
			case v["throttleSignals"] != nil || v["tolerance"] != nil:
				file = map[string]any{"version": 1, "policies": map[string]any{DefaultPolicy: v}}
			default:
				if v[DefaultPolicy] == nil {
					v[DefaultPolicy] = map[string]any{}
				}
				file = map[string]any{"version": 1, "policies": v}
			}
		default:
			t.Fatalf("%s: an example that is neither a mapping nor a list", name)
		}
		b, err := yaml.Marshal(file)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, policyDoc{name, b})
	}
	if len(out) < 5 {
		t.Fatalf("%s: %d YAML examples found; the docs have more", path, len(out))
	}
	return out
}
