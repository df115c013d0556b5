package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// The JSON Schema of the policies file, published at the repository's root
// for editors, and the root itself.
const (
	schemaPath = "../../policies.schema.json"
	repoRoot   = "../.."
)

// compileSchema compiles the published schema.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("policies.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("policies.schema.json")
	if err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	return sch
}

// schemaDoc is the schema as plain JSON, to walk its properties.
type schemaDoc struct {
	Properties  map[string]json.RawMessage `json:"properties"`
	Definitions struct {
		Fields struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"fields"`
		Signal struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"signal"`
	} `json:"definitions"`
}

// schemaProperty is what the test reads of one property.
type schemaProperty struct {
	Default    json.RawMessage            `json:"default"`
	Properties map[string]json.RawMessage `json:"properties"`
}

func readSchemaDoc(t *testing.T) schemaDoc {
	t.Helper()
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc schemaDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	return doc
}

func property(t *testing.T, raw json.RawMessage) schemaProperty {
	t.Helper()
	var p schemaProperty
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// lowerFirst is a Go field name as the file writes it: MaxConcurrency,
// maxConcurrency.
func lowerFirst(s string) string {
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// TestSchemaMatchesDecoder checks that the schema knows exactly the fields
// the decoder knows, with the built-in defaults: the spec structs, the
// decoder's field table and signal fields, and the schema's properties, so
// that none can change without the others.
func TestSchemaMatchesDecoder(t *testing.T) {
	// The spec structs against the field table.
	var structFields []string
	st := reflect.TypeFor[spec]()
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Type == reflect.TypeFor[toleranceSpec]() {
			for j := range f.Type.NumField() {
				structFields = append(structFields, "tolerance."+lowerFirst(f.Type.Field(j).Name))
			}
			continue
		}
		structFields = append(structFields, lowerFirst(f.Name))
	}
	var tableFields []string
	for _, f := range fields {
		tableFields = append(tableFields, f.name)
	}
	if !equalSets(structFields, tableFields) {
		t.Errorf("spec struct fields %v, decoder fields %v", structFields, tableFields)
	}
	var sigFields []string
	for i := range reflect.TypeFor[Signal]().NumField() {
		tag, _, _ := strings.Cut(reflect.TypeFor[Signal]().Field(i).Tag.Get("json"), ",")
		sigFields = append(sigFields, tag)
	}
	if !equalSets(sigFields, signalFields) {
		t.Errorf("Signal fields %v, decoder signal fields %v", sigFields, signalFields)
	}

	// The field table against the schema.
	doc := readSchemaDoc(t)
	if got := keys(doc.Properties); !equalSets(got, []string{"version", "policies"}) {
		t.Errorf("schema: top-level properties %v, want version and policies", got)
	}
	props := doc.Definitions.Fields.Properties
	tolerance := property(t, props["tolerance"]).Properties
	var schemaFields []string
	for name := range props {
		if name != "tolerance" && name != "labels" {
			schemaFields = append(schemaFields, name)
		}
	}
	for name := range tolerance {
		schemaFields = append(schemaFields, "tolerance."+name)
	}
	if !equalSets(schemaFields, tableFields) {
		t.Errorf("schema fields %v, decoder fields %v", schemaFields, tableFields)
	}
	if _, ok := props["labels"]; !ok {
		t.Error("schema: no labels")
	}
	if got := keys(doc.Definitions.Signal.Properties); !equalSets(got, signalFields) {
		t.Errorf("schema signal fields %v, decoder signal fields %v", got, signalFields)
	}

	// Every default the schema states is the built-in one.
	for _, f := range fields {
		raw, ok := props[f.name]
		if name, isTol := strings.CutPrefix(f.name, "tolerance."); isTol {
			raw, ok = tolerance[name]
		}
		if !ok {
			continue // reported above
		}
		def := property(t, raw).Default
		if def == nil {
			t.Errorf("schema: %s has no default", f.name)
			continue
		}
		if f.name == "throttleSignals" {
			var sigs []Signal
			if err := json.Unmarshal(def, &sigs); err != nil {
				t.Fatalf("schema: throttleSignals default: %v", err)
			}
			if !reflect.DeepEqual(sigs, *builtin.ThrottleSignals) {
				t.Errorf("schema: throttleSignals default %+v, want %+v", sigs, *builtin.ThrottleSignals)
			}
			continue
		}
		var v any
		if err := json.Unmarshal(def, &v); err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(v), f.show(&builtin); got != want {
			t.Errorf("schema: %s default %s, want %s", f.name, got, want)
		}
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func equalSets(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// instance converts YAML (or JSON) to what the schema validates.
func instance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("YAML: %v", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("as JSON: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// policyDoc is a policies file found in the repository: a whole file, the
// policy block of a scenario, or an example of the docs.
type policyDoc struct {
	name string
	data []byte
}

// skipDirs are not searched for policies files.
var skipDirs = map[string]bool{".git": true, "bin": true, "out": true, ".aws-sam": true, "fuzz": true}

// repoPolicies returns every policies file of the repository but the
// invalid testdata: files with version and policies at the top, and the
// policy blocks of scenario files.
func repoPolicies(t *testing.T) []policyDoc {
	t.Helper()
	var out []policyDoc
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		if strings.HasPrefix(d.Name(), "invalid") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var top map[string]any
		if yaml.Unmarshal(data, &top) != nil {
			return nil // not a mapping: not a policies file
		}
		if top["policies"] != nil && top["version"] != nil {
			out = append(out, policyDoc{path, data})
			return nil
		}
		if block, ok := top["policy"].(map[string]any); ok && block["policies"] != nil {
			b, err := yaml.Marshal(block)
			if err != nil {
				return err
			}
			out = append(out, policyDoc{path + " (policy)", b})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaAcceptsEveryPolicyFile checks that every policies file of the
// repository, every scenario's policy block and every example of the docs
// is valid for the decoder and for the schema.
func TestSchemaAcceptsEveryPolicyFile(t *testing.T) {
	sch := compileSchema(t)
	docs := repoPolicies(t)
	seen := map[string]bool{}
	for _, d := range docs {
		seen[filepath.ToSlash(strings.TrimPrefix(d.name, repoRoot+"/"))] = true
	}
	// The ones that must be found, so that a change of layout cannot make
	// the walk find nothing.
	for _, want := range []string{"policies.yaml", "cmd/maptuner-demo/policies.yaml", "internal/policy/testdata/full.yaml",
		"internal/policy/testdata/policies.json", "scenarios/fixed-rate.yaml (policy)", "internal/lab/simserver/builtin.yaml (policy)"} {
		if !seen[want] {
			t.Errorf("no policies found in %s", want)
		}
	}
	docs = append(docs, docsExamples(t)...)
	for _, d := range docs {
		if _, err := Parse(d.name, d.data); err != nil {
			t.Errorf("%s: the decoder rejects it: %v", d.name, err)
		}
		if err := sch.Validate(instance(t, d.data)); err != nil {
			t.Errorf("%s: the schema rejects it: %v", d.name, err)
		}
	}
}

// TestSchemaRejectsInvalidTestdata checks that the invalid testdata file,
// all of whose problems but one (a baseline above its ceiling) a schema can
// express, is rejected by the schema too.
func TestSchemaRejectsInvalidTestdata(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if compileSchema(t).Validate(instance(t, data)) == nil {
		t.Error("the schema accepts testdata/invalid.yaml")
	}
}

// TestSchemaAgreesWithDecoder checks files that differ from a valid one in
// one place: the decoder and the schema both reject each one of the
// schema's kind, and the decoder alone the cross-field ones a schema
// cannot express (the schema's description names them).
func TestSchemaAgreesWithDecoder(t *testing.T) {
	sch := compileSchema(t)
	file := func(policy string) string { return "version: 1\npolicies:\n  default:\n" + policy }
	sig := func(s string) string {
		return file("    throttleSignals:\n      - {namespace: AWS/Lambda, metric: Throttles, stat: Sum" + s + "}\n")
	}
	cases := []struct {
		name, data string
		valid      bool // for the decoder
		schemaOnly bool // a cross-field rule: the schema accepts it
	}{
		{"minimal", file("    {}\n"), true, false},
		{"null policy", "version: 1\npolicies:\n  default:\n", true, false},
		{"extension key", "version: 1\nx-shared: {a: 1}\npolicies:\n  default: {}\n", true, false},
		{"version 2", "version: 2\npolicies:\n  default: {}\n", false, false},
		{"no version", "policies:\n  default: {}\n", false, false},
		{"no default", "version: 1\npolicies:\n  etl: {}\n", false, false},
		{"unknown top key", "version: 1\nextra: 1\npolicies:\n  default: {}\n", false, false},
		{"policy name", "version: 1\npolicies:\n  default: {}\n  'a b': {}\n", false, false},
		{"unknown field", file("    maxConcurency: 5\n"), false, false},
		{"tolerance field at the top", file("    ceilingPercent: 5\n"), false, false},
		{"string for an integer", file("    maxConcurrency: \"100\"\n"), false, false},
		{"fraction for an integer", file("    maxConcurrency: 10.5\n"), false, false},
		{"maxConcurrency 0", file("    maxConcurrency: 0\n"), false, false},
		{"maxConcurrency 10001", file("    maxConcurrency: 10001\n"), false, false},
		{"backoff 1", file("    backoff: 1\n"), false, false},
		{"band 1", file("    band: 1\n"), false, false},
		{"maxStepDown 0", file("    maxStepDown: 0\n"), false, false},
		{"failureSample 101", file("    failureSample: 101\n"), false, false},
		{"number for a duration", file("    recoveryTime: 300\n"), false, false},
		{"duration without unit", file("    recoveryTime: \"300\"\n"), false, false},
		{"duration", file("    recoveryTime: 1h30m\n"), true, false},
		{"ceilingPercent 101", file("    tolerance: {ceilingPercent: 101}\n"), false, false},
		{"failFastMinItems 0", file("    tolerance: {failFastMinItems: 0}\n"), false, false},
		{"unknown tolerance field", file("    tolerance: {ceiling: 5}\n"), false, false},
		{"label", file("    labels: {ProcessItems: {maxConcurrency: 5}}\n"), true, false},
		{"label with a colon", file("    labels: {'a:b': {maxConcurrency: 5}}\n"), false, false},
		{"label of 81 characters", file("    labels: {" + strings.Repeat("a", 81) + ": {}}\n"), false, false},
		{"labels in an override", file("    labels: {A: {labels: {}}}\n"), false, false},
		{"no signals", file("    throttleSignals: []\n"), true, false},
		{"11 signals", file("    throttleSignals:\n" + strings.Repeat("      - {namespace: N, metric: M, stat: Sum}\n", 11)), false, false},
		{"signal without stat", file("    throttleSignals: [{namespace: N, metric: M}]\n"), false, false},
		{"unknown signal field", sig(", unit: Count"), false, false},
		{"sparse", sig(", sparse: true"), true, false},
		{"stat p99.9", strings.Replace(sig(""), "Sum", "p99.9", 1), true, false},
		{"stat p100", strings.Replace(sig(""), "Sum", "p100", 1), true, false},
		{"stat p100.5", strings.Replace(sig(""), "Sum", "p100.5", 1), false, false},
		{"stat Total", strings.Replace(sig(""), "Sum", "Total", 1), false, false},
		{"placeholders", sig(`, dimensions: {Job: "${StateMachineName}/${Label}", Arn: "$${LabelledStateMachineArn}$"}`), true, false},
		{"unknown placeholder", sig(`, dimensions: {FunctionName: "${Function}"}`), false, false},
		{"unterminated placeholder", sig(`, dimensions: {FunctionName: "${Label"}`), false, false},
		{"placeholder in a name", strings.Replace(sig(""), "Throttles", `"${Label}"`, 1), false, false},
		{"namespace starting with a colon", strings.Replace(sig(""), "AWS/Lambda", "':x'", 1), false, false},
		{"empty dimension value", sig(`, dimensions: {A: ""}`), false, false},
		{"31 dimensions", sig(", dimensions: {" + dims(31) + "}"), false, false},
		{"group", file("    group: process-item\n"), true, false},
		{"no group", file("    group: \"\"\n"), true, false},
		{"group with a space", file("    group: process item\n"), false, false},
		{"group a number", file("    group: 42\n"), false, false},
		{"group of 129", file("    group: " + strings.Repeat("g", 129) + "\n"), false, false},
		{"min above max", file("    minConcurrency: 50\n    maxConcurrency: 20\n"), false, true},
		{"baseline above ceiling", file("    tolerance: {baselinePercent: 10, ceilingPercent: 5}\n"), false, true},
		{"staleAfter 30s", file("    staleAfter: 30s\n"), false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.data))
			if decoded := err == nil; decoded != c.valid {
				t.Fatalf("decoder: valid %v, want %v (%v)", decoded, c.valid, err)
			}
			serr := sch.Validate(instance(t, []byte(c.data)))
			if want := c.valid || c.schemaOnly; (serr == nil) != want {
				t.Errorf("schema: valid %v, want %v (%v)", serr == nil, want, serr)
			}
		})
	}
}

// dims returns n distinct dimensions in YAML flow style.
func dims(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("D%d: v", i)
	}
	return strings.Join(parts, ", ")
}
