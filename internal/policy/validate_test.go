package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/control"
)

// policyFile returns a policies file with a default policy and a policy
// "etl" whose body, given without indentation, starts on line 5.
func policyFile(body string) []byte {
	var b strings.Builder
	b.WriteString("version: 1\npolicies:\n  default: {}\n  etl:\n")
	for line := range strings.SplitSeq(strings.TrimSpace(body), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return []byte(b.String())
}

// signalsOf returns a throttleSignals body with n distinct Lambda signals.
func signalsOf(n int) string {
	var b strings.Builder
	b.WriteString("throttleSignals:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {namespace: AWS/Lambda, metric: Throttles, stat: Sum, dimensions: {FunctionName: f%d}}\n", i)
	}
	return b.String()
}

// dimensionsOf returns a signal body with n dimensions.
func dimensionsOf(n int) string {
	var b strings.Builder
	b.WriteString("throttleSignals:\n  - namespace: Custom\n    metric: M\n    stat: Sum\n    dimensions:\n")
	for i := range n {
		fmt.Fprintf(&b, "      D%d: v\n", i)
	}
	return b.String()
}

func TestParseRejects(t *testing.T) {
	const p = `t.yaml:%d: policy "etl": `
	tests := []struct {
		name string
		body string
		want []string // every error line, in order
	}{
		{"min below 1", "minConcurrency: 0", []string{p + "minConcurrency: 0 is below 1"}},
		{"min above limit", "minConcurrency: 10001\nmaxConcurrency: 10000", []string{p + "minConcurrency: 10001 is above 10000"}},
		{"max above limit", "maxConcurrency: 20000", []string{p + "maxConcurrency: 20000 is above 10000"}},
		{"max zero", "maxConcurrency: 0", []string{p + "maxConcurrency: 0 is below 1 (0, no limit, is reached with unlimited: true)"}},
		{"initial above limit", "initialConcurrency: 10001", []string{p + "initialConcurrency: 10001 is above 10000"}},
		{"min above max", "minConcurrency: 50\nmaxConcurrency: 20", []string{p + "minConcurrency: 50 is above maxConcurrency 20"}},
		{"initial above max", "maxConcurrency: 100\ninitialConcurrency: 200", []string{fmt.Sprintf(p, 6) + "initialConcurrency: 200 is above maxConcurrency 100"}},
		{"initial above default max", "initialConcurrency: 2000", []string{p + "initialConcurrency: 2000 is above maxConcurrency 1000"}},
		{"max below explicit initial", "initialConcurrency: 50\nmaxConcurrency: 20", []string{p + "initialConcurrency: 50 is above maxConcurrency 20"}},
		{"initial below min", "minConcurrency: 20\ninitialConcurrency: 5", []string{p + "minConcurrency: 20 is above initialConcurrency 5"}},
		{"min above default max", "minConcurrency: 2000", []string{p + "minConcurrency: 2000 is above maxConcurrency 1000"}},
		{"growth 1", "growthFactor: 1", []string{p + "growthFactor: 1 is not in (1, 10]"}},
		{"growth 11", "growthFactor: 11", []string{p + "growthFactor: 11 is not in (1, 10]"}},
		{"backoff 0", "backoff: 0", []string{p + "backoff: 0 is not in (0, 1)"}},
		{"backoff 1", "backoff: 1", []string{p + "backoff: 1 is not in (0, 1)"}},
		{"step up below 1", "maxStepUp: 0.5", []string{p + "maxStepUp: 0.5 is below 1"}},
		{"step up 1", "maxStepUp: 1", []string{p + "maxStepUp: 1 is not above 1 + band (1.02): a step within the band is never sent, so the limit could never grow"}},
		{"growth within band", "growthFactor: 1.2\nband: 0.2", []string{p + "growthFactor: 1.2 is not above 1 + band (1.2): a step within the band is never sent, so the limit could never grow"}},
		{"growth above band", "growthFactor: 1.2\nmaxStepUp: 1.2\nband: 0.1", nil},
		{"label band within policy growth", "growthFactor: 1.2\nlabels:\n  Export:\n    band: 0.25", []string{fmt.Sprintf(p, 8) + "labels.Export.band: 0.25 is not below growthFactor - 1 (0.2): no growth step would be sent"}},
		{"step down 0", "maxStepDown: 0", []string{p + "maxStepDown: 0 is not in (0, 1]"}},
		{"step down above 1", "maxStepDown: 1.5", []string{p + "maxStepDown: 1.5 is not in (0, 1]"}},
		{"band 1", "band: 1", []string{p + "band: 1 is not in [0, 1)"}},
		{"band negative", "band: -0.1", []string{p + "band: -0.1 is not in [0, 1)"}},
		{"recovery zero", "recoveryTime: 0s", []string{p + "recoveryTime: 0s is not positive"}},
		{"recovery negative", "recoveryTime: -1m", []string{p + "recoveryTime: -1m0s is not positive"}},
		{"recovery no unit", "recoveryTime: 300", []string{p + "recoveryTime: want a duration with a unit, such as 30s, 5m or 1h30m, got 300"}},
		{"recovery garbage", "recoveryTime: soon", []string{p + `recoveryTime: want a duration with a unit, such as 30s, 5m or 1h30m, got "soon"`}},
		{"stale short", "staleAfter: 30s", []string{p + "staleAfter: 30s is below 1m"}},
		{"stale zero", "staleAfter: 0s", []string{p + "staleAfter: 0s is not positive"}},
		{"threshold negative", "throttleThreshold: -1", []string{p + "throttleThreshold: -1 is below 0"}},
		{"sample negative", "failureSample: -1", []string{p + "failureSample: -1 is below 0"}},
		{"sample above 100", "failureSample: 101", []string{p + "failureSample: 101 is above 100"}},
		{"baseline percent above 100", "tolerance:\n  baselinePercent: 101", []string{fmt.Sprintf(p, 6) + "tolerance.baselinePercent: 101 is not in [0, 100]"}},
		{"ceiling percent negative", "tolerance:\n  ceilingPercent: -1", []string{fmt.Sprintf(p, 6) + "tolerance.ceilingPercent: -1 is not in [0, 100]"}},
		{"baseline count negative", "tolerance:\n  baselineCount: -1", []string{fmt.Sprintf(p, 6) + "tolerance.baselineCount: -1 is below 0"}},
		{"ceiling count negative", "tolerance:\n  ceilingCount: -5", []string{fmt.Sprintf(p, 6) + "tolerance.ceilingCount: -5 is below 0"}},
		{"ceiling percent below baseline", "tolerance:\n  baselinePercent: 10\n  ceilingPercent: 5", []string{fmt.Sprintf(p, 6) + "tolerance.baselinePercent: 10 is above tolerance.ceilingPercent 5"}},
		{"ceiling count below baseline", "tolerance:\n  ceilingCount: 5\n  baselineCount: 10", []string{fmt.Sprintf(p, 7) + "tolerance.baselineCount: 10 is above tolerance.ceilingCount 5"}},
		{"ceiling count below default baseline", "tolerance:\n  ceilingCount: 5\n  baselineCount: 0", nil},
		{"fail fast rate 0", "tolerance:\n  failFast: true\n  failFastRate: 0", []string{fmt.Sprintf(p, 7) + "tolerance.failFastRate: 0 is not in (0, 1]"}},
		{"fail fast rate above 1", "tolerance:\n  failFastRate: 1.5", []string{fmt.Sprintf(p, 6) + "tolerance.failFastRate: 1.5 is not in (0, 1]"}},
		{"fail fast min items 0", "tolerance:\n  failFast: true\n  failFastMinItems: 0", []string{fmt.Sprintf(p, 7) + "tolerance.failFastMinItems: 0 is below 1"}},
		{"integer as string", `maxConcurrency: "100"`, []string{p + `maxConcurrency: want an integer, got "100"`}},
		{"integer as float", "maxConcurrency: 1.5", []string{p + "maxConcurrency: want an integer, got 1.5"}},
		{"integer as list", "maxConcurrency: [1]", []string{p + "maxConcurrency: want an integer, got a list"}},
		{"number as string", "backoff: half", []string{p + `backoff: want a number, got "half"`}},
		{"number not finite", "backoff: .nan", []string{p + "backoff: want a finite number, got .nan"}},
		{"bool as yes", "dryRun: yes", []string{p + `dryRun: want true or false, got "yes"`}},
		{"bool as 1", "unlimited: 1", []string{p + "unlimited: want true or false, got 1"}},
		{"raise unset as string", "tolerance:\n  raiseUnset: \"true\"", []string{fmt.Sprintf(p, 6) + `tolerance.raiseUnset: want true or false, got "true"`}},
		{"null value", "maxConcurrency:", []string{p + "maxConcurrency: want an integer, got null"}},
		{"unknown field suggested", "minConcurency: 3", []string{p + "minConcurency: unknown field; did you mean minConcurrency?"}},
		{"unknown field case", "MaxConcurrency: 3", []string{p + "MaxConcurrency: unknown field; did you mean maxConcurrency?"}},
		{"unknown field listed", "speed: 3", []string{p + "speed: unknown field; want one of minConcurrency, maxConcurrency, initialConcurrency, unlimited, growthFactor, backoff, maxStepUp, maxStepDown, band, recoveryTime, throttleThreshold, staleAfter, dryRun, failureSample, throttleSignals, group, tolerance, labels"}},
		{"tolerance field at top", "ceilingPercent: 5", []string{p + "ceilingPercent: unknown field; it belongs under tolerance: tolerance.ceilingPercent"}},
		{"top field under tolerance", "tolerance:\n  backoff: 0.5", []string{fmt.Sprintf(p, 6) + "tolerance.backoff: unknown field; backoff belongs at the top of the policy, not under tolerance"}},
		{"unknown tolerance field", "tolerance:\n  ceilingPercnt: 5", []string{fmt.Sprintf(p, 6) + "tolerance.ceilingPercnt: unknown field; did you mean ceilingPercent?"}},
		{"tolerance not mapping", "tolerance: 5", []string{p + "tolerance: want a mapping, got 5"}},
		{"duplicate key", "backoff: 0.5\nbackoff: 0.6", []string{fmt.Sprintf(p, 6) + "backoff: duplicate key (first at line 5)"}},
		{"signals not list", "throttleSignals: {namespace: AWS/Lambda}", []string{p + "throttleSignals: want a list of metrics ([] for none), got a mapping"}},
		{"signals null", "throttleSignals:", []string{p + "throttleSignals: want a list of metrics ([] for none), got null"}},
		{"signal not mapping", "throttleSignals: [Throttles]", []string{p + `throttleSignals[0]: want a mapping with namespace, metric, stat and dimensions, got "Throttles"`}},
		{"signal missing all", "throttleSignals:\n  - dimensions: {}", []string{
			fmt.Sprintf(p, 6) + "throttleSignals[0]: missing namespace",
			fmt.Sprintf(p, 6) + "throttleSignals[0]: missing metric",
			fmt.Sprintf(p, 6) + "throttleSignals[0]: missing stat",
		}},
		{"signal bad stat", "throttleSignals:\n  - {namespace: AWS/Lambda, metric: Throttles, stat: Total}", []string{fmt.Sprintf(p, 6) + `throttleSignals[0].stat: "Total" is not a statistic; want Sum, Maximum, Minimum, Average, SampleCount or a percentile such as p99`}},
		{"signal percentile above 100", "throttleSignals:\n  - {namespace: AWS/Lambda, metric: Throttles, stat: p101}", []string{fmt.Sprintf(p, 6) + `throttleSignals[0].stat: "p101" is not a statistic; want Sum, Maximum, Minimum, Average, SampleCount or a percentile such as p99`}},
		{"signal unknown field", "throttleSignals:\n  - {namespace: AWS/Lambda, metric: Throttles, stat: Sum, period: 60}", []string{fmt.Sprintf(p, 6) + "throttleSignals[0].period: unknown field; want one of namespace, metric, stat, dimensions, sparse"}},
		{"signal empty metric", "throttleSignals:\n  - {namespace: AWS/Lambda, metric: '', stat: Sum}", []string{fmt.Sprintf(p, 6) + "throttleSignals[0].metric: empty"}},
		{"signal namespace colon", "throttleSignals:\n  - {namespace: ':x', metric: M, stat: Sum}", []string{fmt.Sprintf(p, 6) + `throttleSignals[0].namespace: ":x" starts with ':'`}},
		{"signal namespace too long", "throttleSignals:\n  - {namespace: " + strings.Repeat("n", 256) + ", metric: M, stat: Sum}", []string{fmt.Sprintf(p, 6) + "throttleSignals[0].namespace: longer than 255 characters"}},
		{"placeholder in metric", "throttleSignals:\n  - {namespace: Custom, metric: '${Label}', stat: Sum}", []string{fmt.Sprintf(p, 6) + `throttleSignals[0].metric: placeholders are filled in dimension values only, got "${Label}"`}},
		{"unknown placeholder", "throttleSignals:\n  - {namespace: AWS/Lambda, metric: Throttles, stat: Sum, dimensions: {FunctionName: '${Function}'}}", []string{fmt.Sprintf(p, 6) + "throttleSignals[0].dimensions.FunctionName: unknown placeholder ${Function}; want one of ${LabelledStateMachineArn}, ${StateMachineArn}, ${StateMachineName}, ${Label}"}},
		{"unterminated placeholder", "throttleSignals:\n  - {namespace: AWS/Lambda, metric: Throttles, stat: Sum, dimensions: {FunctionName: 'fn-${Label'}}", []string{fmt.Sprintf(p, 6) + `throttleSignals[0].dimensions.FunctionName: unterminated placeholder "${Label"; want one of ${LabelledStateMachineArn}, ${StateMachineArn}, ${StateMachineName}, ${Label}`}},
		{"empty dimension value", "throttleSignals:\n  - {namespace: AWS/Lambda, metric: Throttles, stat: Sum, dimensions: {FunctionName: ''}}", []string{fmt.Sprintf(p, 6) + "throttleSignals[0].dimensions.FunctionName: empty value"}},
		{"dimension value a list", "throttleSignals:\n  - {namespace: AWS/Lambda, metric: Throttles, stat: Sum, dimensions: {FunctionName: [a]}}", []string{fmt.Sprintf(p, 6) + "throttleSignals[0].dimensions.FunctionName: want a string, got a list"}},
		{"dimensions a list", "throttleSignals:\n  - {namespace: AWS/Lambda, metric: Throttles, stat: Sum, dimensions: [a]}", []string{fmt.Sprintf(p, 6) + "throttleSignals[0].dimensions: want a mapping, got a list"}},
		{"31 dimensions", dimensionsOf(31), []string{fmt.Sprintf(p, 10) + "throttleSignals[0].dimensions: 31 dimensions; CloudWatch allows at most 30"}},
		{"30 dimensions", dimensionsOf(30), nil},
		{"11 signals", signalsOf(11), []string{fmt.Sprintf(p, 6) + "throttleSignals: 11 metrics; at most 10"}},
		{"10 signals", signalsOf(10), nil},
		{"duplicate signal", "throttleSignals:\n  - {namespace: AWS/Lambda, metric: Throttles, stat: Sum, dimensions: {FunctionName: f}}\n  - {dimensions: {FunctionName: f}, stat: Sum, metric: Throttles, namespace: AWS/Lambda}", []string{fmt.Sprintf(p, 7) + "throttleSignals[1]: same metric as throttleSignals[0]; it would be counted twice"}},
		{"group with a space", "group: 'process item'", []string{p + `group: invalid group "process item": want 1 to 128 letters, digits and _.:/=+@-, or "" for none`}},
		{"group too long", "group: " + strings.Repeat("g", 129), []string{p + `group: invalid group "` + strings.Repeat("g", 129) + `": want 1 to 128 letters, digits and _.:/=+@-, or "" for none`}},
		{"group a number", "group: 42", []string{p + "group: want a string, got 42"}},
		{"group a list", "group: [a]", []string{p + "group: want a string, got a list"}},
		{"group null", "group:", []string{p + "group: want a string, got null"}},
		{"group of 128", "group: " + strings.Repeat("g", 128), nil},
		{"label group invalid", "group: orders\nlabels:\n  Export:\n    group: 'a,b'", []string{fmt.Sprintf(p, 8) + `labels.Export.group: invalid group "a,b": want 1 to 128 letters, digits and _.:/=+@-, or "" for none`}},
		{"label field out of range", "labels:\n  ProcessItems:\n    maxConcurrency: 20000", []string{fmt.Sprintf(p, 7) + "labels.ProcessItems.maxConcurrency: 20000 is above 10000"}},
		{"label below policy initial", "initialConcurrency: 50\nlabels:\n  ProcessItems:\n    maxConcurrency: 20", []string{fmt.Sprintf(p, 8) + "labels.ProcessItems.maxConcurrency: 20 is below initialConcurrency 50"}},
		{"label ceiling below policy baseline", "tolerance: {baselinePercent: 3, ceilingPercent: 8}\nlabels:\n  Export:\n    tolerance: {ceilingPercent: 2}", []string{fmt.Sprintf(p, 8) + "labels.Export.tolerance.ceilingPercent: 2 is below tolerance.baselinePercent 3"}},
		{"label does not repeat policy problem", "minConcurrency: 50\nmaxConcurrency: 20\nlabels:\n  Export:\n    dryRun: true", []string{p + "minConcurrency: 50 is above maxConcurrency 20"}},
		{"label unknown field", "labels:\n  Export:\n    maxConcurency: 5", []string{fmt.Sprintf(p, 7) + "labels.Export.maxConcurency: unknown field; did you mean maxConcurrency?"}},
		{"label nested labels", "labels:\n  Export:\n    labels: {}", []string{fmt.Sprintf(p, 7) + "labels.Export.labels: a label override cannot have labels of its own"}},
		{"label with colon", "labels:\n  'a:b':\n    dryRun: true", []string{fmt.Sprintf(p, 6) + `labels["a:b"]: a Map Run label cannot contain ':'`}},
		{"label too long", "labels:\n  " + strings.Repeat("L", 81) + ": {}", []string{fmt.Sprintf(p, 6) + "labels." + strings.Repeat("L", 81) + ": label is longer than 80 characters"}},
		{"label empty", "labels:\n  '': {}", []string{fmt.Sprintf(p, 6) + "labels: empty label name"}},
		{"labels not mapping", "labels: [a]", []string{p + "labels: want a mapping, got a list"}},
		{"label signal error", "labels:\n  Export:\n    throttleSignals: [{namespace: X, metric: Y}]", []string{fmt.Sprintf(p, 7) + "labels.Export.throttleSignals[0]: missing stat"}},
		{"bad value and cross rule", "maxConcurrency: lots\ninitialConcurrency: 2000", []string{p + `maxConcurrency: want an integer, got "lots"`}},
		{"several errors", "maxConcurrency: 20000\nbackoff: 2\ndryRun: maybe", []string{
			fmt.Sprintf(p, 5) + "maxConcurrency: 20000 is above 10000",
			fmt.Sprintf(p, 6) + "backoff: 2 is not in (0, 1)",
			fmt.Sprintf(p, 7) + `dryRun: want true or false, got "maybe"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Parse("t.yaml", policyFile(tt.body))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if _, err := set.Resolve("etl", ""); err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", policyFile(tt.body))
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			want := tt.want
			for i, w := range want {
				if strings.Contains(w, "%d") {
					want[i] = fmt.Sprintf(w, 5)
				}
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

func TestParseRejectsFile(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{
		{"empty", "", "t.yaml: file is empty; want version: 1 and policies"},
		{"comments only", "# nothing\n", "t.yaml: file is empty; want version: 1 and policies"},
		{"null document", "---\n", "t.yaml:2: file is empty; want version: 1 and policies"},
		{"syntax", "version: 1\npolicies:\n  default: {\n", "t.yaml:3: invalid YAML: did not find expected node content"},
		{"tab indent", "version: 1\npolicies:\n\tdefault: {}\n", "t.yaml:3: invalid YAML: found character that cannot start any token"},
		{"two documents", "version: 1\npolicies: {default: {}}\n---\nversion: 1\n", "t.yaml:3: more than one YAML document; want one"},
		{"root list", "- version: 1\n", "t.yaml:1: want a mapping with version and policies, got a list"},
		{"version 2", "version: 2\npolicies: {default: {}}\n", "t.yaml:1: version: 2 is not supported; want 1"},
		{"version string", "version: '1'\npolicies: {default: {}}\n", `t.yaml:1: version: want an integer, got "1"`},
		{"version missing", "policies: {default: {}}\n", "t.yaml:1: version: missing; want version: 1"},
		{"policies missing", "version: 1\n", `t.yaml: policies: no policy named "default"; every file needs one`},
		{"no default", "version: 1\npolicies:\n  etl: {}\n", `t.yaml:2: policies: no policy named "default"; every file needs one`},
		{"policies list", "version: 1\npolicies: [default]\n", "t.yaml:2: policies: want a mapping, got a list\nt.yaml:2: policies: no policy named \"default\"; every file needs one"},
		{"policy not mapping", "version: 1\npolicies:\n  default: 5\n", `t.yaml:3: policy "default": want a mapping, got 5`},
		{"policy name", "version: 1\npolicies:\n  default: {}\n  bad name: {}\n", `t.yaml:4: policies: invalid policy name "bad name": want 1 to 128 letters, digits and _.:/=+@- (it is the value of the maptuner:policy tag)`},
		{"policy name too long", "version: 1\npolicies:\n  default: {}\n  " + strings.Repeat("p", 129) + ": {}\n", `t.yaml:4: policies: invalid policy name "` + strings.Repeat("p", 129) + `": want 1 to 128 letters, digits and _.:/=+@- (it is the value of the maptuner:policy tag)`},
		{"duplicate policy", "version: 1\npolicies:\n  default: {}\n  default: {}\n", `t.yaml:4: policies.default: duplicate key (first at line 3)`},
		{"unknown top field", "version: 1\npolicy: {}\npolicies: {default: {}}\n", "t.yaml:2: policy: unknown field; did you mean policies?"},
		{"extension keys ignored", "version: 1\nx-shared: &s {backoff: 2}\npolicies: {default: {<<: *s}}\n", `t.yaml:2: policy "default": backoff: 2 is not in (0, 1)`},
		{"non-name key", "version: 1\npolicies: {default: {}}\n[a]: 1\n", "t.yaml:3: want a name as key, got a list"},
		{"merge of scalar", "version: 1\npolicies:\n  default:\n    <<: 5\n", `t.yaml:4: policy "default": merge key (<<): want a mapping or a list of mappings, got 5`},
		{"json", `{"version": 1, "policies": {"default": {"maxConcurrency": 0}}}`, `t.yaml:1: policy "default": maxConcurrency: 0 is below 1 (0, no limit, is reached with unlimited: true)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.file))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.file)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestParseCollectsAllErrors checks that every problem of a file is
// reported, in line order, each as a *FieldError.
func TestParseCollectsAllErrors(t *testing.T) {
	_, err := Load("testdata/invalid.yaml")
	want := []string{
		"testdata/invalid.yaml:1: version: 2 is not supported; want 1",
		"testdata/invalid.yaml:2: extra: unknown field; want one of version, policies",
		`testdata/invalid.yaml:3: policies: no policy named "default"; every file needs one`,
		`testdata/invalid.yaml:5: policy "etl": maxConcurrency: 20000 is above 10000`,
		`testdata/invalid.yaml:6: policy "etl": minConcurency: unknown field; did you mean minConcurrency?`,
		`testdata/invalid.yaml:7: policy "etl": backoff: 1.5 is not in (0, 1)`,
		`testdata/invalid.yaml:8: policy "etl": group: invalid group "process item": want 1 to 128 letters, digits and _.:/=+@-, or "" for none`,
		`testdata/invalid.yaml:10: policy "etl": tolerance.baselinePercent: 10 is above tolerance.ceilingPercent 5`,
		`testdata/invalid.yaml:15: policy "etl": throttleSignals[0].stat: "Total" is not a statistic; want Sum, Maximum, Minimum, Average, SampleCount or a percentile such as p99`,
		`testdata/invalid.yaml:16: policy "etl": throttleSignals[0].dimensions.FunctionName: unknown placeholder ${Function}; want one of ${LabelledStateMachineArn}, ${StateMachineArn}, ${StateMachineName}, ${Label}`,
		`testdata/invalid.yaml:19: policy "etl": labels.ProcessItems.maxConcurrency: 20000 is above 10000`,
		`testdata/invalid.yaml:20: policy "etl": labels.ProcessItems.initialConcurrency: 0 is below 1`,
	}
	if err == nil {
		t.Fatal("Load accepted testdata/invalid.yaml")
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("error:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not a joined error", err)
	}
	for _, e := range joined.Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Errorf("%v is not a *FieldError", e)
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "version" || fe.Line != 1 || fe.File != "testdata/invalid.yaml" {
		t.Errorf("first FieldError = %+v, want version at testdata/invalid.yaml:1", fe)
	}
}

// TestParseMergeBomb checks that merge keys cannot expand a small file
// into billions of entries.
func TestParseMergeBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nx-0: &a0 {backoff: 0.5}\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "x-%d: &a%d {<<: [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("policies:\n  default:\n    <<: *a11\n")
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(b.String()))
	want := `bomb.yaml:3: more than 100000 mapping entries once aliases and merge keys are expanded`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Parse = %v, want the expansion limit", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Parse took %s", d)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{File: "p.yaml", Line: 3, Policy: "etl", Label: "Items", Field: "band", Problem: "bad"}, `p.yaml:3: policy "etl": labels.Items.band: bad`},
		{FieldError{File: "p.yaml", Policy: "etl", Field: "band", Problem: "bad"}, `p.yaml: policy "etl": band: bad`},
		{FieldError{File: "p.yaml", Line: 1, Field: "version", Problem: "bad"}, `p.yaml:1: version: bad`},
		{FieldError{Field: "band", Problem: "bad"}, `band: bad`},
		{FieldError{File: "p.yaml", Line: 9, Policy: "etl", Label: "Map 1", Problem: "bad"}, `p.yaml:9: policy "etl": labels["Map 1"]: bad`},
		{FieldError{Policy: "etl", Label: "Items", Field: "throttleSignals[2].stat", Problem: "bad"}, `policy "etl": labels.Items.throttleSignals[2].stat: bad`},
		{FieldError{File: "p.yaml", Problem: "bad"}, `p.yaml: bad`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(&tt.err, ErrInvalid) {
			t.Errorf("%q does not wrap ErrInvalid", tt.want)
		}
	}
}

func TestValidateConfig(t *testing.T) {
	good, err := Default().Resolve(DefaultPolicy, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(c *control.Config)
		want   []string
	}{
		{"default", func(*control.Config) {}, nil},
		{"fail fast off with zero rate", func(c *control.Config) { c.Tolerance.FailFastRate, c.Tolerance.FailFastMinItems = 0, 0 }, nil},
		{"fail fast on with zero rate", func(c *control.Config) {
			c.Tolerance.FailFast, c.Tolerance.FailFastRate, c.Tolerance.FailFastMinItems = true, 0, 0
		}, []string{"tolerance.failFastRate: 0 is not in (0, 1]", "tolerance.failFastMinItems: 0 is below 1"}},
		{"zero value", func(c *control.Config) { *c = control.Config{} }, []string{
			"minConcurrency: 0 is below 1",
			"maxConcurrency: 0 is below 1 (0, no limit, is reached with unlimited: true)",
			"initialConcurrency: 0 is below 1",
			"growthFactor: 0 is not in (1, 10]",
			"backoff: 0 is not in (0, 1)",
			"maxStepUp: 0 is below 1",
			"maxStepDown: 0 is not in (0, 1]",
			"recoveryTime: 0s is not positive",
			"staleAfter: 0s is not positive",
		}},
		{"max above limit", func(c *control.Config) { c.MaxConcurrency = 10001 }, []string{"maxConcurrency: 10001 is above 10000"}},
		{"min above max", func(c *control.Config) { c.MinConcurrency, c.MaxConcurrency = 50, 20 }, []string{"minConcurrency: 50 is above maxConcurrency 20"}},
		{"initial outside", func(c *control.Config) { c.InitialConcurrency = 5000 }, []string{"initialConcurrency: 5000 is above maxConcurrency 1000"}},
		{"ceiling below baseline", func(c *control.Config) { c.Tolerance.BaselineCount = 5000 }, []string{"tolerance.baselineCount: 5000 is above tolerance.ceilingCount 1000"}},
		{"stale short", func(c *control.Config) { c.StaleAfter = 10 * time.Second }, []string{"staleAfter: 10s is below 1m"}},
		{"not finite", func(c *control.Config) { c.Band = 2 }, []string{"band: 2 is not in [0, 1)"}},
		{"growth within band", func(c *control.Config) { c.MaxStepUp = 1.02 }, []string{"maxStepUp: 1.02 is not above 1 + band (1.02): a step within the band is never sent, so the limit could never grow"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good.Control
			tt.change(&c)
			err := ValidateConfig(c)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("ValidateConfig: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateConfig accepted %+v", c)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if got := err.Error(); got != strings.Join(tt.want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}
