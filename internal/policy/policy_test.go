package policy

import (
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/control"
)

// builtinResolved is what the built-in defaults resolve to, written out.
func builtinResolved(policy, label string) Resolved {
	return Resolved{
		Policy: policy,
		Label:  label,
		Control: control.Config{
			MinConcurrency:     1,
			MaxConcurrency:     1000,
			InitialConcurrency: 10,
			GrowthFactor:       1.5,
			Backoff:            0.7,
			MaxStepUp:          2,
			MaxStepDown:        0.5,
			Band:               0.02,
			RecoveryTime:       10 * time.Minute,
			ThrottleThreshold:  DefaultSignalThreshold,
			StaleAfter:         5 * time.Minute,
			Tolerance: control.Tolerance{
				CeilingPercent:   10,
				CeilingCount:     1000,
				FailFastRate:     0.5,
				FailFastMinItems: 100,
			},
		},
		Signals: []Signal{{
			Namespace:  "AWS/States",
			Metric:     "ExecutionThrottled",
			Stat:       "Sum",
			Dimensions: map[string]string{"StateMachineArn": "${LabelledStateMachineArn}"},
		}},
		FailureSample: 10,
	}
}

func mustParse(t *testing.T, data []byte) *Set {
	t.Helper()
	set, err := Parse("t.yaml", data)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	return set
}

func TestDefault(t *testing.T) {
	set := Default()
	if got := set.Names(); !slices.Equal(got, []string{DefaultPolicy}) {
		t.Errorf("Names() = %q, want [default]", got)
	}
	for _, label := range []string{"", "ProcessItems"} {
		got, err := set.Resolve(DefaultPolicy, label)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if want := builtinResolved(DefaultPolicy, label); !reflect.DeepEqual(got, want) {
			t.Errorf("Resolve(default, %q) =\n%+v\nwant\n%+v", label, got, want)
		}
		if err := ValidateConfig(got.Control); err != nil {
			t.Errorf("built-in config invalid: %v", err)
		}
	}
}

// TestEveryFieldWritten checks that each field of a file reaches Resolved,
// at the policy and through label overrides.
func TestEveryFieldWritten(t *testing.T) {
	set, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Names(); !slices.Equal(got, []string{"default", "etl"}) {
		t.Errorf("Names() = %q", got)
	}
	def, err := set.Resolve("default", "")
	if err != nil {
		t.Fatal(err)
	}
	want := builtinResolved("default", "")
	want.Control.ThrottleThreshold = 0 // written out, as every field
	if !reflect.DeepEqual(def, want) {
		t.Errorf("default, written out in full, =\n%+v\nwant the built-in\n%+v", def, want)
	}
	etl := Resolved{
		Policy: "etl",
		Control: control.Config{
			MinConcurrency:     5,
			MaxConcurrency:     5000,
			Unlimited:          true,
			InitialConcurrency: 50,
			GrowthFactor:       1.5,
			Backoff:            0.6,
			MaxStepUp:          3,
			MaxStepDown:        0.25,
			Band:               0.1,
			RecoveryTime:       150 * time.Second,
			ThrottleThreshold:  3,
			StaleAfter:         4 * time.Minute,
			Tolerance: control.Tolerance{
				BaselinePercent:  1,
				BaselineCount:    10,
				CeilingPercent:   20,
				CeilingCount:     50000,
				RaiseUnset:       true,
				FailFast:         true,
				FailFastRate:     0.8,
				FailFastMinItems: 500,
			},
		},
		Signals: []Signal{
			{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"FunctionName": "etl-worker"}},
			{Namespace: "AWS/DynamoDB", Metric: "WriteThrottleEvents", Stat: "Maximum", Dimensions: map[string]string{"TableName": "orders"}},
			{Namespace: "Custom/Partner", Metric: "Http429", Stat: "p99.9", Dimensions: map[string]string{"Job": "${StateMachineName}-${Label}", "Parent": "${StateMachineArn}"}},
		},
		Group:         "etl-worker",
		DryRun:        true,
		FailureSample: 20,
	}
	items := etl
	items.Label = "ProcessItems"
	items.Control.MaxConcurrency = 200
	items.Control.Tolerance.CeilingPercent = 7.5
	export := etl
	export.Label = "Export"
	export.Signals = []Signal{}
	export.Group = ""
	export.DryRun = false
	other := etl
	other.Label = "Other"
	for _, want := range []Resolved{etl, items, export, other} {
		got, err := set.Resolve("etl", want.Label)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Resolve(etl, %q) =\n%+v\nwant\n%+v", want.Label, got, want)
		}
	}
}

func TestLabelOverrides(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		label string
		want  func(r *Resolved)
	}{
		{"policy only", "backoff: 0.5\nlabels:\n  A: {maxConcurrency: 200}", "", func(r *Resolved) { r.Control.Backoff = 0.5 }},
		{"label sets one field, keeps the policy's others", "backoff: 0.5\nmaxConcurrency: 300\nlabels:\n  A: {maxConcurrency: 200}", "A", func(r *Resolved) {
			r.Control.Backoff, r.Control.MaxConcurrency = 0.5, 200
		}},
		{"label without override", "backoff: 0.5\nlabels:\n  A: {maxConcurrency: 200}", "B", func(r *Resolved) { r.Control.Backoff = 0.5 }},
		{"label tolerance field by field", "tolerance: {ceilingPercent: 10, ceilingCount: 50, failFast: true}\nlabels:\n  A:\n    tolerance: {ceilingCount: 7}", "A", func(r *Resolved) {
			r.Control.Tolerance.CeilingPercent, r.Control.Tolerance.CeilingCount, r.Control.Tolerance.FailFast = 10, 7, true
		}},
		{"raising unset tolerances is opted into by a policy", "tolerance: {raiseUnset: true}", "", func(r *Resolved) { r.Control.Tolerance.RaiseUnset = true }},
		{"and out of by a label", "tolerance: {raiseUnset: true}\nlabels:\n  A:\n    tolerance: {raiseUnset: false}", "A", func(*Resolved) {}},
		{"label replaces the signal list", "throttleSignals:\n  - {namespace: A, metric: M, stat: Sum}\n  - {namespace: B, metric: M, stat: Sum}\nlabels:\n  A:\n    throttleSignals: [{namespace: C, metric: M, stat: Maximum}]", "A", func(r *Resolved) {
			r.Signals, r.Control.ThrottleThreshold = []Signal{{Namespace: "C", Metric: "M", Stat: "Maximum"}}, 0
		}},
		{"label watches no metric", "labels:\n  A: {throttleSignals: []}", "A", func(r *Resolved) { r.Signals, r.Control.ThrottleThreshold = []Signal{}, 0 }},
		{"the built-in signal tolerates a few a minute, unless a threshold is written", "throttleThreshold: 0", "", func(r *Resolved) { r.Control.ThrottleThreshold = 0 }},
		{"group", "group: process-item", "", func(r *Resolved) { r.Group = "process-item" }},
		{"label joins another group", "group: process-item\nlabels:\n  A: {group: 'orders:db'}", "A", func(r *Resolved) { r.Group = "orders:db" }},
		{"label leaves the group", "group: process-item\nlabels:\n  A: {group: ''}", "A", func(*Resolved) {}},
		{"label keeps the policy's group", "group: process-item\nlabels:\n  A: {maxConcurrency: 200}", "A", func(r *Resolved) {
			r.Group, r.Control.MaxConcurrency = "process-item", 200
		}},
		{"label turns dry run off", "dryRun: true\nlabels:\n  A: {dryRun: false}", "A", func(r *Resolved) {}},
		{"label null body", "dryRun: true\nlabels:\n  A:", "A", func(r *Resolved) { r.DryRun = true }},
		{"initial clamped to max", "maxConcurrency: 5", "", func(r *Resolved) { r.Control.MaxConcurrency, r.Control.InitialConcurrency = 5, 5 }},
		{"initial clamped to label max", "labels:\n  A: {maxConcurrency: 4}", "A", func(r *Resolved) { r.Control.MaxConcurrency, r.Control.InitialConcurrency = 4, 4 }},
		{"initial clamped to min", "minConcurrency: 50", "", func(r *Resolved) { r.Control.MinConcurrency, r.Control.InitialConcurrency = 50, 50 }},
		{"initial written is kept", "initialConcurrency: 3\nlabels:\n  A: {maxConcurrency: 4}", "A", func(r *Resolved) { r.Control.MaxConcurrency, r.Control.InitialConcurrency = 4, 3 }},
		{"ceilings raised to baselines", "tolerance: {baselinePercent: 10, baselineCount: 2000}", "", func(r *Resolved) {
			r.Control.Tolerance.BaselinePercent, r.Control.Tolerance.CeilingPercent = 10, 10
			r.Control.Tolerance.BaselineCount, r.Control.Tolerance.CeilingCount = 2000, 2000
		}},
		{"ceiling raised to label baseline", "labels:\n  A:\n    tolerance: {baselinePercent: 12}", "A", func(r *Resolved) {
			r.Control.Tolerance.BaselinePercent, r.Control.Tolerance.CeilingPercent = 12, 12
		}},
		{"numbers as integers and floats", "growthFactor: 3\nbackoff: 5e-1\nthrottleThreshold: 2.5", "", func(r *Resolved) {
			r.Control.GrowthFactor, r.Control.Backoff, r.Control.ThrottleThreshold = 3, 0.5, 2.5
		}},
		{"durations", "recoveryTime: 1h30m\nstaleAfter: 90s", "", func(r *Resolved) {
			r.Control.RecoveryTime, r.Control.StaleAfter = 90*time.Minute, 90*time.Second
		}},
		{"dimension values of any scalar", "throttleSignals:\n  - {namespace: N, metric: M, stat: Sum, dimensions: {Port: 443, On: true}}", "", func(r *Resolved) {
			r.Signals = []Signal{{Namespace: "N", Metric: "M", Stat: "Sum", Dimensions: map[string]string{"Port": "443", "On": "true"}}}
			r.Control.ThrottleThreshold = 0
		}},
		{"anchored scalar", "maxConcurrency: &m 300\nlabels:\n  A: {initialConcurrency: *m}", "A", func(r *Resolved) {
			r.Control.MaxConcurrency, r.Control.InitialConcurrency = 300, 300
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := mustParse(t, policyFile(tt.body))
			got, err := set.Resolve("etl", tt.label)
			if err != nil {
				t.Fatal(err)
			}
			want := builtinResolved("etl", tt.label)
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Resolve(etl, %q) =\n%+v\nwant\n%+v", tt.label, got, want)
			}
			if err := ValidateConfig(got.Control); err != nil {
				t.Errorf("resolved config invalid: %v", err)
			}
		})
	}
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		file   string
		policy string
		label  string
		want   func(r *Resolved)
	}{
		{"testdata/minimal.yaml", "default", "", func(*Resolved) {}},
		{"testdata/policies.json", "api", "", func(r *Resolved) {
			r.Control.MaxConcurrency = 50
			r.Signals = []Signal{{Namespace: "AWS/ApiGateway", Metric: "4XXError", Stat: "Sum", Dimensions: map[string]string{"ApiName": "partner"}}}
			r.Control.ThrottleThreshold = 0
		}},
		{"testdata/policies.json", "api", "Fetch", func(r *Resolved) {
			r.Control.MaxConcurrency, r.Control.InitialConcurrency = 20, 10
			r.Signals = []Signal{{Namespace: "AWS/ApiGateway", Metric: "4XXError", Stat: "Sum", Dimensions: map[string]string{"ApiName": "partner"}}}
			r.Control.ThrottleThreshold = 0
		}},
		{"testdata/merge.yaml", "strict", "", func(r *Resolved) {
			r.Control.MaxConcurrency = 100
			r.Control.Tolerance.CeilingPercent, r.Control.Tolerance.FailFast = 10, true
			r.Signals = []Signal{{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"FunctionName": "worker"}}}
			r.Control.ThrottleThreshold = 0
		}},
		{"testdata/merge.yaml", "shared", "", func(r *Resolved) {
			r.Control.Backoff, r.Control.MaxStepDown = 0.5, 0.25
		}},
		{"testdata/merge.yaml", "twin", "", func(r *Resolved) {
			r.Control.MaxConcurrency = 400
			r.Control.Tolerance.CeilingPercent = 10
			r.Signals = []Signal{{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"FunctionName": "worker"}}}
			r.Control.ThrottleThreshold = 0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.policy+"/"+tt.label, func(t *testing.T) {
			set, err := Load(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := set.Resolve(tt.policy, tt.label)
			if err != nil {
				t.Fatal(err)
			}
			want := builtinResolved(tt.policy, tt.label)
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestRootPolicies checks the policies file deployed with the application.
func TestRootPolicies(t *testing.T) {
	set, err := Load(rootPolicies)
	if err != nil {
		t.Fatalf("the deployed policies file is invalid: %v", err)
	}
	if !slices.Contains(set.Names(), DefaultPolicy) {
		t.Errorf("Names() = %q, want default among them", set.Names())
	}
	for _, name := range set.Names() {
		r, err := set.Resolve(name, "AnyLabel")
		if err != nil {
			t.Fatalf("Resolve(%q): %v", name, err)
		}
		if err := ValidateConfig(r.Control); err != nil {
			t.Errorf("policy %q: %v", name, err)
		}
	}
}

func TestResolveUnknownPolicy(t *testing.T) {
	_, err := mustParse(t, policyFile("dryRun: true")).Resolve("etll", "")
	if !errors.Is(err, ErrUnknownPolicy) {
		t.Fatalf("Resolve = %v, want ErrUnknownPolicy", err)
	}
	if want := `unknown policy "etll": have "default", "etl"`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestResolveReturnsCopies checks that a caller cannot change the Set
// through what Resolve returns.
func TestResolveReturnsCopies(t *testing.T) {
	set := mustParse(t, policyFile("labels:\n  A: {dryRun: true}"))
	for _, label := range []string{"", "A"} {
		r, err := set.Resolve("etl", label)
		if err != nil {
			t.Fatal(err)
		}
		r.Signals[0].Dimensions["StateMachineArn"] = "changed"
		r.Signals[0].Metric = "changed"
		r.Signals = append(r.Signals, Signal{Metric: "added"})
		again, err := set.Resolve("etl", label)
		if err != nil {
			t.Fatal(err)
		}
		if want := builtinResolved("etl", "").Signals; !reflect.DeepEqual(again.Signals, want) {
			t.Errorf("label %q: signals changed to %+v", label, again.Signals)
		}
	}
	names := set.Names()
	names[0] = "changed"
	if set.Names()[0] != "default" {
		t.Error("Names() shares memory with the Set")
	}
}

func TestLoad(t *testing.T) {
	_, err := Load("testdata/missing.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("a missing file is not an invalid one: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "testdata/missing.yaml") {
		t.Errorf("error %v does not name the file", err)
	}
}
