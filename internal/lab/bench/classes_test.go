package bench

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// TestClasses checks the class table against the shipped scenarios: every
// scenario has a class, every class a scenario, the capacity class is the
// one the scenario describes, and fail-fast and poison baselines match the
// scenarios' failures.
func TestClasses(t *testing.T) {
	files, err := filepath.Glob("../../../scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("shipped scenarios: %v, %v", files, err)
	}
	shipped := map[string]sim.Scenario{}
	for _, f := range files {
		sc := loadScenario(t, f)
		shipped[sc.Name] = sc
	}
	for name, c := range Classes {
		sc, ok := shipped[name]
		if !ok {
			t.Errorf("Classes has %s, which is not a shipped scenario", name)
			continue
		}
		if got := InferClass(sc).Capacity; got != c.Capacity {
			t.Errorf("%s: class capacity %s, but the scenario describes %s", name, c.Capacity, got)
		}
		broken := slices.ContainsFunc(sc.Runs, func(r sim.RunSpec) bool { return r.Failures.BrokenAfter != nil })
		if c.FailFast != broken || c.NoMakespan != broken {
			t.Errorf("%s: FailFast %v, NoMakespan %v; want both %v, as the scenario has a broken deployment or not", name, c.FailFast, c.NoMakespan, broken)
		}
		if c.PoisonBaseline == "" {
			continue
		}
		base, ok := shipped[c.PoisonBaseline]
		if !ok {
			t.Errorf("%s: poison baseline %s is not a shipped scenario", name, c.PoisonBaseline)
			continue
		}
		// The baseline is the scenario less its poison.
		for i := range min(len(sc.Runs), len(base.Runs)) {
			if f := base.Runs[i].Failures; f.PoisonBatch != nil || f.PoisonFraction != 0 || f.BrokenAfter != nil {
				t.Errorf("%s: poison baseline %s has failures of its own: %+v", name, c.PoisonBaseline, f)
			}
			sc.Runs[i].Failures = base.Runs[i].Failures
		}
		sc.Name, sc.Description = base.Name, base.Description
		if got, want := mustJSON(t, sc), mustJSON(t, base); got != want {
			t.Errorf("%s without its poison differs from %s:\n%s\n%s", name, c.PoisonBaseline, got, want)
		}
	}
	for name := range shipped {
		if _, ok := Classes[name]; !ok {
			t.Errorf("shipped scenario %s has no entry in Classes", name)
		}
	}
}

func TestInferClass(t *testing.T) {
	ds := func(name string, edit func(*sim.Downstream)) sim.Downstream {
		d := sim.Downstream{Name: name, Concurrency: 10}
		if edit != nil {
			edit(&d)
		}
		return d
	}
	run := func(downstream string) sim.RunSpec { return sim.RunSpec{Downstream: downstream} }
	tests := []struct {
		name string
		sc   sim.Scenario
		want Capacity
	}{
		{"one run, fixed", sim.Scenario{Downstreams: []sim.Downstream{ds("a", nil)}, Runs: []sim.RunSpec{run("a")}}, CapacityFixed},
		{"schedule", sim.Scenario{Downstreams: []sim.Downstream{ds("a", func(d *sim.Downstream) { d.Schedule = []sim.Change{{At: time.Minute, Factor: 2}} })}, Runs: []sim.RunSpec{run("a")}}, CapacityChanging},
		{"neighbour", sim.Scenario{Downstreams: []sim.Downstream{ds("a", func(d *sim.Downstream) { d.Neighbour = &sim.Neighbour{Share: 0.5, Period: time.Hour} })}, Runs: []sim.RunSpec{run("a")}}, CapacityChanging},
		{"a schedule nobody calls", sim.Scenario{Downstreams: []sim.Downstream{ds("a", nil), ds("b", func(d *sim.Downstream) { d.Schedule = []sim.Change{{At: time.Minute, Factor: 2}} })}, Runs: []sim.RunSpec{run("a")}}, CapacityFixed},
		{"shared", sim.Scenario{Downstreams: []sim.Downstream{ds("a", nil)}, Runs: []sim.RunSpec{run("a"), run("a")}}, CapacityShared},
		{"two runs, two downstreams", sim.Scenario{Downstreams: []sim.Downstream{ds("a", nil), ds("b", nil)}, Runs: []sim.RunSpec{run("a"), run("b")}}, CapacityFixed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InferClass(tt.sc); !reflect.DeepEqual(got, Class{Capacity: tt.want}) {
				t.Errorf("InferClass = %+v, want capacity %s only", got, tt.want)
			}
		})
	}
	if got := ClassOf(sim.Scenario{Name: "broken-deployment"}); !got.FailFast {
		t.Errorf("ClassOf(broken-deployment) = %+v, want the table's fail-fast class", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
