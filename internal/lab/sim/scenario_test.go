package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/policy"
	"go.yaml.in/yaml/v3"
)

const scenarioDir = "../../../scenarios"

func shippedScenarios(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(scenarioDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files in %s: %v", scenarioDir, err)
	}
	return files
}

func TestShippedScenariosLoad(t *testing.T) {
	want := []string{
		"broken-deployment", "capacity-10x", "capacity-doubles", "capacity-halves",
		"congestion-collapse", "default-policy", "drain", "fixed-concurrency", "fixed-rate",
		"late-missing-metrics", "latency-knee", "lognormal", "metric-outage", "neighbour-sine",
		"nightly-repeat", "pareto", "poison-batch-baseline", "poison-batch", "shared-downstream",
		"shared-group", "short-job", "thirty-runs", "thousand-runs",
	}
	var got []string
	for _, f := range shippedScenarios(t) {
		sc, err := LoadScenario(f)
		if err != nil {
			t.Fatalf("load %s: %v", f, err)
		}
		if sc.Name+".yaml" != filepath.Base(f) {
			t.Errorf("%s: name %q does not match the file name", f, sc.Name)
		}
		if sc.Description == "" {
			t.Errorf("%s: no description", f)
		}
		got = append(got, sc.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("scenarios = %v, want %v", got, want)
	}
}

// TestShippedPoliciesWatchPublishedSignals checks that every throttle signal
// of every shipped scenario's policy is a metric the simulator publishes,
// and that every run's policy tag names a policy of the file.
func TestShippedPoliciesWatchPublishedSignals(t *testing.T) {
	builtin, err := policy.Default().Resolve(policy.DefaultPolicy, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range shippedScenarios(t) {
		sc, err := LoadScenario(f)
		if err != nil {
			t.Fatalf("load %s: %v", f, err)
		}
		raw, err := sc.PolicyYAML()
		if err != nil {
			t.Fatalf("%s: policy: %v", f, err)
		}
		if raw == nil {
			// The built-in default policy, on purpose: it names no metric.
			if sc.Name != "default-policy" {
				t.Errorf("%s: no policy block; only default-policy runs the built-in default", f)
			}
			continue
		}
		var file struct {
			Version  int `yaml:"version"`
			Policies map[string]struct {
				// ThrottleSignals is nil when not written: the built-in default.
				ThrottleSignals *[]policy.Signal `yaml:"throttleSignals"`
			} `yaml:"policies"`
		}
		if err := yaml.Unmarshal(raw, &file); err != nil {
			t.Fatalf("%s: policy block: %v", f, err)
		}
		for _, run := range sc.Runs {
			name := run.Tags["maptuner:policy"]
			p, ok := file.Policies[name]
			if !ok {
				t.Fatalf("%s: run %s is tagged with policy %q, which the policy block lacks", f, run.Name, name)
			}
			signals := builtin.Signals
			if p.ThrottleSignals != nil {
				signals = *p.ThrottleSignals
			}
			if len(signals) == 0 {
				t.Fatalf("%s: policy %q watches no throttle signal", f, name)
			}
			for _, s := range signals {
				dims := map[string]string{}
				for k, v := range s.Dimensions {
					v = strings.NewReplacer(
						"${LabelledStateMachineArn}", labelledARN(run.StateMachine, run.Label),
						"${StateMachineArn}", stateMachineARN(run.StateMachine),
						"${StateMachineName}", run.StateMachine,
						"${Label}", run.Label,
					).Replace(v)
					dims[k] = v
				}
				m := Metric{Namespace: s.Namespace, Name: s.Metric, Dimensions: dims}
				if !sc.Publishes(m) {
					t.Errorf("%s: run %s: policy signal %+v is not published by the simulator", f, run.Name, m)
				}
			}
		}
	}
}

func TestScenarioDefaults(t *testing.T) {
	sc := parse(t, `
downstreams: [{name: fn, concurrency: 10}]
runs:
  - {stateMachine: sm, label: L, downstream: fn, items: 5, duration: {dist: fixed, value: 1s}}
`)
	r := sc.Runs[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"name", sc.Name, "test"},
		{"start", sc.Start, DefaultStart},
		{"horizon", sc.Horizon, DefaultHorizon},
		{"delay", *sc.CloudWatch.Delay, DelaySpec{Min: time.Minute, Max: 2 * time.Minute}},
		{"run name", r.Name, "sm/L"},
		{"execution type", r.ExecutionType, ExecutionStandard},
		{"batch", r.BatchSize, int64(1)},
		{"start latency", r.StartLatency, DefaultStartLatency},
		{"retry interval", r.Retry.Interval, time.Second},
		{"retry backoff", r.Retry.BackoffRate, 2.0},
		{"retry attempts", *r.Retry.MaxAttempts, 3},
		{"retry jitter", r.Retry.Jitter, JitterNone},
		{"failure error", r.Failures.Error, DefaultFailureError},
		{"failure cause", r.Failures.Cause, DefaultFailureCause},
		{"throttle error", sc.Downstreams[0].ThrottleError, DefaultThrottleError},
		{"throttle cause", sc.Downstreams[0].ThrottleCause, DefaultThrottleCause},
		{"policy", sc.Policy.Kind, yaml.Kind(0)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if b, err := sc.PolicyYAML(); b != nil || err != nil {
		t.Errorf("PolicyYAML of a scenario without policy = %q, %v; want nil, nil", b, err)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	const ds = "downstreams: [{name: fn, concurrency: 10}]\n"
	const run = "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, duration: {dist: fixed, value: 1s}}]\n"
	tests := []struct {
		name, text string
		want       []string
	}{
		{"empty", "", []string{"test.yaml", "empty document"}},
		{"unknown field", ds + run + "colour: blue\n", []string{"test.yaml", "field colour not found"}},
		{"unknown nested field", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, speed: 3, duration: {dist: fixed, value: 1s}}]\n", []string{"field speed not found"}},
		{"duration as number", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, duration: {dist: fixed, value: 5}}]\n", []string{"line 2", "time.Duration"}},
		{"two documents", ds + run + "---\nname: x\n", []string{"one YAML document"}},
		{"no downstream", run, []string{"downstreams: at least one", "runs[0].downstream: \"fn\" is not a downstream"}},
		{"no run", ds, []string{"runs: want 1 to 1000 runs, got 0"}},
		{"too many runs", ds + "runs:\n" + strings.Repeat("  - {stateMachine: sm, downstream: fn, items: 5, duration: {dist: fixed, value: 1s}}\n", MaxRuns+1), []string{"runs: want 1 to 1000 runs, got 1001"}},
		{"bad items", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 0, duration: {dist: fixed, value: 1s}}]\n", []string{"runs[0].items: 0 is outside"}},
		{"bad dist", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, duration: {dist: normal}}]\n", []string{"runs[0].duration.dist: \"normal\" is not fixed, lognormal or pareto"}},
		{"lognormal without median", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, duration: {dist: lognormal, sigma: 1}}]\n", []string{"runs[0].duration.median"}},
		{"pareto alpha", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, duration: {dist: pareto, min: 1s, alpha: 0.1}}]\n", []string{"runs[0].duration.alpha: 0.1"}},
		{"bad state machine name", ds + "runs: [{stateMachine: 'a b', label: L, downstream: fn, items: 5, duration: {dist: fixed, value: 1s}}]\n", []string{"runs[0].stateMachine"}},
		{"negative concurrency", "downstreams: [{name: fn, concurrency: -1}]\n" + run, []string{"downstreams[0].concurrency: -1"}},
		{"duplicate downstream", "downstreams: [{name: fn}, {name: fn}]\n" + run, []string{"downstreams[1].name: \"fn\" is defined twice"}},
		{"burst without rate", "downstreams: [{name: fn, burst: 3}]\n" + run, []string{"downstreams[0].burst: set without rate"}},
		{"reject cost without rate", "downstreams: [{name: fn, concurrency: 3, rejectCost: 0.5}]\n" + run, []string{"downstreams[0].rejectCost: needs a rate"}},
		{"latency knee", "downstreams: [{name: fn, latency: {knee: 0}}]\n" + run, []string{"downstreams[0].latency.knee"}},
		{"schedule order", "downstreams: [{name: fn, schedule: [{at: 10m, factor: 1}, {at: 5m, factor: 2}]}]\n" + run, []string{"downstreams[0].schedule[1].at"}},
		{"neighbour share", "downstreams: [{name: fn, neighbour: {share: 1, period: 1m}}]\n" + run, []string{"downstreams[0].neighbour.share: 1 is outside [0, 1)"}},
		{"metric dims", "downstreams: [{name: fn, metric: {namespace: '', name: X}}]\n" + run, []string{"downstreams[0].metric.namespace"}},
		{"tolerance", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, toleratedFailurePercentage: 101, toleratedFailureCount: -1, duration: {dist: fixed, value: 1s}}]\n", []string{"runs[0].toleratedFailurePercentage: 101", "runs[0].toleratedFailureCount: -1"}},
		{"retry", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, retry: {interval: 10ms, maxDelay: 1ms, backoffRate: 0.5, maxAttempts: -1, jitter: SOME}, duration: {dist: fixed, value: 1s}}]\n", []string{"runs[0].retry.interval: 10ms", "runs[0].retry.maxDelay: 1ms", "runs[0].retry.backoffRate", "runs[0].retry.maxAttempts", "runs[0].retry.jitter"}},
		{"poison batch outside", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, failures: {poisonBatch: {from: 3, count: 3}}, duration: {dist: fixed, value: 1s}}]\n", []string{"runs[0].failures.poisonBatch: items [3, 6)"}},
		{"broken after", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, failures: {brokenAfter: 5}, duration: {dist: fixed, value: 1s}}]\n", []string{"runs[0].failures.brokenAfter: 5"}},
		{"execution type", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, executionType: FAST, duration: {dist: fixed, value: 1s}}]\n", []string{"runs[0].executionType"}},
		{"task", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, task: arn, duration: {dist: fixed, value: 1s}}]\n", []string{"runs[0].task"}},
		{"duplicate run", ds + "runs: [{stateMachine: sm, label: L, downstream: fn, items: 5, duration: {dist: fixed, value: 1s}}, {stateMachine: sm, label: L, downstream: fn, items: 5, duration: {dist: fixed, value: 1s}}]\n", []string{"runs[1].name: \"sm/L\" is used by another run"}},
		{"cloudwatch", ds + run + "cloudwatch: {delay: {min: 3m, max: 1m}, missing: 1, outages: [{at: 1m, for: 0s}]}\n", []string{"cloudwatch.delay", "cloudwatch.missing", "cloudwatch.outages[0]"}},
		{"start not whole minute", ds + run + "start: 2026-01-05T00:00:30Z\n", []string{"start: 2026-01-05T00:00:30Z is not a whole minute"}},
		{"horizon", ds + run + "horizon: 30s\n", []string{"horizon: 30s is outside"}},
		{"policy not a mapping", ds + run + "policy: [1, 2]\n", []string{"policy: want a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario("test.yaml", []byte(tt.text))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalidScenario) {
				t.Errorf("error %v does not wrap ErrInvalidScenario", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadScenarioMissingFile(t *testing.T) {
	_, err := LoadScenario(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("error = %v, want one naming the file and wrapping os.ErrNotExist", err)
	}
}

func TestScenarioMetrics(t *testing.T) {
	sc := parse(t, `
downstreams:
  - {name: fn, concurrency: 10}
  - {name: api, rate: 1, metric: {namespace: Partner, name: Limited, dimensions: {Api: x}}}
runs:
  - {stateMachine: sm, label: L, downstream: fn, items: 5, duration: {dist: fixed, value: 1s}}
  - {stateMachine: sm, label: L, name: again, downstream: api, items: 5, duration: {dist: fixed, value: 1s}}
`)
	ms := sc.Metrics()
	if len(ms) != 11 {
		t.Fatalf("Metrics() has %d entries, want 2 throttle + 2 ConcurrentExecutions + 7 AWS/States (shared label): %+v", len(ms), ms)
	}
	tests := []struct {
		m    Metric
		want bool
	}{
		{Metric{Namespace: "AWS/Lambda", Name: "Throttles", Dimensions: map[string]string{"FunctionName": "fn"}}, true},
		{Metric{Namespace: "Partner", Name: "Limited", Dimensions: map[string]string{"Api": "x"}}, true},
		{Metric{Namespace: "AWS/States", Name: "ExecutionThrottled", Dimensions: map[string]string{"StateMachineArn": labelledARN("sm", "L")}}, true},
		{Metric{Namespace: "AWS/Lambda", Name: "Throttles", Dimensions: map[string]string{"FunctionName": "api"}}, false},
		{Metric{Namespace: "AWS/Lambda", Name: "ConcurrentExecutions", Dimensions: map[string]string{"FunctionName": "fn"}}, true},
		{Metric{Namespace: "AWS/Lambda", Name: "ConcurrentExecutions", Dimensions: map[string]string{"FunctionName": "api"}}, true},
		{Metric{Namespace: "AWS/Lambda", Name: "ConcurrentExecutions"}, false},
		{Metric{Namespace: "AWS/Lambda", Name: "Throttles"}, false},
		{Metric{Namespace: "AWS/States", Name: "ExecutionsStarted", Dimensions: map[string]string{"StateMachineArn": stateMachineARN("sm")}}, false},
	}
	for _, tt := range tests {
		if got := sc.Publishes(tt.m); got != tt.want {
			t.Errorf("Publishes(%+v) = %v, want %v", tt.m, got, tt.want)
		}
	}
}

// TestScenarioMetricsDynamoDB checks that a provisioned DynamoDB table or
// index lists and publishes its consumed and provisioned capacity under
// exactly the dimensions of its throttle metric.
func TestScenarioMetricsDynamoDB(t *testing.T) {
	sc := parse(t, `
downstreams:
  - {name: orders, rate: 6, metric: {namespace: AWS/DynamoDB, name: WriteThrottleEvents, dimensions: {TableName: orders}}}
  - {name: lookups, rate: 6, metric: {namespace: AWS/DynamoDB, name: ReadThrottleEvents, dimensions: {TableName: orders, GlobalSecondaryIndexName: byCustomer}}}
  - {name: fn, rate: 6}
runs:
  - {stateMachine: sm, label: L, downstream: orders, items: 5, duration: {dist: fixed, value: 1s}}
`)
	table := map[string]string{"TableName": "orders"}
	index := map[string]string{"TableName": "orders", "GlobalSecondaryIndexName": "byCustomer"}
	var capacity []string
	for _, m := range sc.Metrics() {
		if strings.HasSuffix(m.Name, "CapacityUnits") {
			capacity = append(capacity, fmt.Sprint(m.Name, m.Dimensions))
		}
	}
	want := "[ConsumedReadCapacityUnitsmap[GlobalSecondaryIndexName:byCustomer TableName:orders] " +
		"ConsumedWriteCapacityUnitsmap[TableName:orders] " +
		"ProvisionedReadCapacityUnitsmap[GlobalSecondaryIndexName:byCustomer TableName:orders] " +
		"ProvisionedWriteCapacityUnitsmap[TableName:orders]]"
	if got := fmt.Sprint(capacity); got != want {
		t.Errorf("capacity metrics listed: %s, want %s", got, want)
	}
	tests := []struct {
		name string
		dims map[string]string
		want bool
	}{
		{"ConsumedWriteCapacityUnits", table, true},
		{"ProvisionedWriteCapacityUnits", table, true},
		{"ConsumedReadCapacityUnits", index, true},
		{"ProvisionedReadCapacityUnits", index, true},
		{"ConsumedReadCapacityUnits", table, false},
		{"ConsumedWriteCapacityUnits", index, false},
		{"ConsumedWriteCapacityUnits", map[string]string{"TableName": "orders", "Operation": "PutItem"}, false},
		{"ConsumedWriteCapacityUnits", map[string]string{"TableName": "fn"}, false},
		{"ProvisionedWriteCapacityUnits", map[string]string{"FunctionName": "fn"}, false},
	}
	for _, tt := range tests {
		m := Metric{Namespace: "AWS/DynamoDB", Name: tt.name, Dimensions: tt.dims}
		if got := sc.Publishes(m); got != tt.want {
			t.Errorf("Publishes(%+v) = %v, want %v", m, got, tt.want)
		}
	}
}

// FuzzLoadScenario feeds arbitrary bytes to the scenario parser: it must
// never panic, every error must wrap ErrInvalidScenario, and an accepted
// scenario must build a world that runs.
func FuzzLoadScenario(f *testing.F) {
	for _, file := range shippedScenarios(f) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("downstreams: [{name: fn, rate: 2, burst: 2, rejectCost: 1, latency: {knee: 1, exponent: 4}}]\nruns: [{stateMachine: s, label: l, downstream: fn, items: 3, batchSize: 2, executionType: EXPRESS, duration: {dist: pareto, min: 1ms, alpha: 0.5}, failures: {poisonFraction: 1}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := ParseScenario("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidScenario) {
				t.Fatalf("error %v does not wrap ErrInvalidScenario", err)
			}
			return
		}
		if _, err := sc.PolicyYAML(); err != nil {
			t.Fatalf("accepted scenario's policy does not marshal: %v", err)
		}
		var items int64
		for _, r := range sc.Runs {
			items += r.Items
		}
		if items > 20_000 {
			return
		}
		w := New(sc, 1)
		w.Start()
		w.Advance(time.Minute)
		if _, err := json.Marshal(w.Result()); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
	})
}

// TestValidateBuiltInCode checks a scenario built in code: Validate fills
// defaults on a copy, rejects what ParseScenario rejects, and New runs it.
func TestValidateBuiltInCode(t *testing.T) {
	sc := Scenario{
		Name:        "code",
		Downstreams: []Downstream{{Name: "fn", Concurrency: 5, Latency: &Latency{Knee: 3}}},
		Runs:        []RunSpec{{StateMachine: "sm", Label: "L", Downstream: "fn", Items: 10, Duration: DurationSpec{Dist: DistFixed, Value: time.Second}}},
	}
	if err := sc.Validate(); err != nil {
		t.Fatalf("valid scenario: %v", err)
	}
	if sc.Runs[0].Retry.MaxAttempts != nil || sc.Downstreams[0].Latency.Exponent != 0 || sc.CloudWatch.Delay != nil {
		t.Error("Validate changed the caller's scenario")
	}
	w := New(sc, 1)
	w.Start()
	w.Advance(time.Minute)
	if r := w.Result().Runs[0]; r.Status != "SUCCEEDED" {
		t.Errorf("status %s, want SUCCEEDED", r.Status)
	}
	bad := sc
	bad.Runs = []RunSpec{{StateMachine: "sm", Label: "L", Downstream: "nope", Items: 10, Duration: DurationSpec{Dist: DistFixed, Value: time.Second}}}
	err := bad.Validate()
	if !errors.Is(err, ErrInvalidScenario) || !strings.Contains(err.Error(), "scenario code: runs[0].downstream") {
		t.Errorf("invalid scenario: %v", err)
	}
}
