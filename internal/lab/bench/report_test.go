package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/lab/sim"
)

var (
	tinyOnce   sync.Once
	tinyReport Report
	tinyErr    error
)

// tinySuite is one suite on the tiny scenario, shared by the report tests.
func tinySuite(t *testing.T) Report {
	t.Helper()
	tinyOnce.Do(func() {
		var sc sim.Scenario
		if sc, tinyErr = sim.LoadScenario("testdata/tiny.yaml"); tinyErr == nil {
			tinyReport, tinyErr = Run(context.Background(), Config{Scenarios: []sim.Scenario{sc}, Seeds: 3})
		}
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyReport
}

func TestWriteText(t *testing.T) {
	rep := tinySuite(t)
	var b bytes.Buffer
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"tiny: fixed capacity, seeds 1 to 3; cells are median (p90) over seeds\n",
		"oracle: best static maxConcurrency per seed ",
		"\nstrategy  ", "  makespan min  ",
		"\ntuner ", "\ntuner, default policy ", "\naimd ", "\ncubic ", "\nunlimited ", "\nfollow ", "\noracle ",
		"tuner targets: ",
		"issue 8 targets: 0 of 0 met\n",
		"  not run  short job (10 minutes at best static)  ",
		"throttle-failures  no Map Run fails because of throttling (any seed)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if err := WriteText(failWriter{}, rep); err == nil {
		t.Error("WriteText to a failing writer: no error")
	}
}

func TestWriteJSON(t *testing.T) {
	rep := tinySuite(t)
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Seeds     []uint64 `json:"seeds"`
		Scenarios []struct {
			Name       string `json:"name"`
			Oracle     []OracleSeed
			Strategies []struct {
				Strategy string
				Summary  map[string]json.RawMessage
				Seeds    []map[string]json.RawMessage
			}
			Targets       []Target
			DefaultPolicy *struct{ Strategy string }
			Bound         Bound
		}
		Cases []CaseResult
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not parse: %v", err)
	}
	if len(back.Seeds) != 3 || len(back.Scenarios) != 1 || len(back.Scenarios[0].Strategies) != len(DefaultStrategies) || len(back.Scenarios[0].Targets) == 0 {
		t.Fatalf("JSON misses figures: %s", b.String())
	}
	if d := back.Scenarios[0].DefaultPolicy; d == nil || d.Strategy != DefaultPolicyRow {
		t.Errorf("JSON lacks the default-policy pass: %+v", d)
	}
	if back.Scenarios[0].Bound != fixedBound || len(back.Cases) != len(Cases) {
		t.Errorf("JSON bound %+v, %d cases; want the fixed class's and one per Case", back.Scenarios[0].Bound, len(back.Cases))
	}
	for _, s := range back.Scenarios[0].Strategies {
		if len(s.Seeds) != 3 {
			t.Errorf("%s: %d seeds in JSON, want 3", s.Strategy, len(s.Seeds))
		}
		for _, key := range []string{"makespanRatio", "throttledPercent", "failedThrottle", "failedPoison", "outcomes", "convergeMinutes", "oscillation", "overshoot", "updateMapRunCalls", "otherApiCalls", "apiThrottled", "apiErrors"} {
			if _, ok := s.Summary[key]; !ok {
				t.Errorf("%s: summary lacks %s", s.Strategy, key)
			}
		}
	}
	if err := WriteJSON(failWriter{}, rep); err == nil {
		t.Error("WriteJSON to a failing writer: no error")
	}
}

func TestWriteFiles(t *testing.T) {
	rep := tinySuite(t)
	dir := t.TempDir()
	f := Files{Markdown: filepath.Join(dir, "BENCHMARKS.md"), PlotDir: filepath.Join(dir, "docs", "bench"), Command: "go run ./cmd/maptuner-bench -all scenarios -seeds 3"}
	if err := WriteFiles(rep, f); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(f.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Benchmarks\n",
		"```sh\ngo run ./cmd/maptuner-bench -all scenarios -seeds 3\n```",
		"seeds 1 to 3",
		"## How to read the figures",
		"![Summary: makespan over the oracle's and throttled calls per scenario and strategy](docs/bench/summary.svg)",
		"| [tiny](#tiny) | fixed capacity |",
		"| scenario | class | tuner | tuner, default policy | aimd |",
		"## Issue 8 targets\n\nThe tuner meets 0 of 0 judged (10 not run: ",
		"| case | judged on | target | figure | status |\n| --- | --- | --- | --- | --- |\n| fixed concurrency, first run, scenario's policy | - | makespan <= 1.10 x the oracle's, throttled calls <= 5 % | - | not run |\n",
		"| short job (10 minutes at best static) | - | makespan <= 1.30 x the oracle's | - | not run |\n",
		"## Targets\n",
		"\n| tuner, default policy | ",
		"### tiny\n",
		"(docs/bench/tiny.svg)",
		"## A tick at 1,000 open runs\n",
		"Not measured yet",
		"Tuner cadence: first decision ",
		"API calls per tick, median (max): ",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("BENCHMARKS.md lacks %q", want)
		}
	}
	const tick = "BenchmarkTickOpenRuns-2  10  123 ns/op  4.0 cpu-ms/op"
	const emulated = "median  1943  1942  790  37.9"
	for name, out := range map[string]string{TickFile: tick, EmulatorTickFile: emulated} {
		if err := os.WriteFile(filepath.Join(f.PlotDir, name), []byte(out+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFiles(rep, f); err != nil {
		t.Fatal(err)
	}
	if md, err = os.ReadFile(f.Markdown); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "```\n"+tick+"\n```") || !strings.Contains(string(md), "```\n"+emulated+"\n```") || strings.Contains(string(md), "Not measured yet") {
		t.Errorf("BENCHMARKS.md does not show the saved %s and %s", TickFile, EmulatorTickFile)
	}
	for _, plot := range []string{"summary.svg", "tiny.svg"} {
		b, err := os.ReadFile(filepath.Join(f.PlotDir, plot))
		if err != nil {
			t.Fatal(err)
		}
		checkSVG(t, plot, b)
	}
	blocked := filepath.Join(dir, "file")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(rep, Files{Markdown: f.Markdown, PlotDir: filepath.Join(blocked, "plots")}); err == nil {
		t.Error("WriteFiles into a plot directory under a file: no error")
	}
}

// checkSVG parses an SVG as XML and checks it draws something.
func checkSVG(t *testing.T, name string, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	counts := map[string]int{}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
		}
	}
	if counts["svg"] != 1 || counts["text"] == 0 || counts["polyline"]+counts["circle"] == 0 {
		t.Errorf("%s: elements %v, want one svg with text and marks", name, counts)
	}
}

func TestTargets(t *testing.T) {
	strat := func(name string, ratio, throttled float64, failed int64) StrategyReport {
		s := StrategyReport{Strategy: name}
		for seed := uint64(1); seed <= 3; seed++ {
			s.Seeds = append(s.Seeds, SeedFigures{Seed: seed, Makespan: 40 * ratio, Completed: !math.IsInf(ratio, 1), MakespanRatio: Num(ratio), ThrottledPercent: throttled, FailedPoison: failed, Items: 10000, Outcomes: Outcomes{Succeeded: 1}})
		}
		s.Summary = summarize(s.Seeds)
		return s
	}
	status := func(ts []Target) map[string]string {
		m := map[string]string{}
		for _, tg := range ts {
			m[tg.Name] = tg.Status
		}
		return m
	}
	others := map[string]StrategyReport{
		StrategyAIMD:      strat(StrategyAIMD, 2, 0, 0),
		StrategyCUBIC:     strat(StrategyCUBIC, math.Inf(1), 80, 0),
		StrategyUnlimited: strat(StrategyUnlimited, 1.05, 1.5, 500),
	}
	tests := []struct {
		name     string
		class    Class
		tuner    StrategyReport
		others   map[string]StrategyReport
		baseline map[uint64]float64
		want     map[string]string
	}{
		{
			name:  "fixed, within",
			class: Class{Capacity: CapacityFixed}, tuner: strat("tuner", 1.08, 1.5, 0), others: others,
			want: map[string]string{"makespan": "pass", "throttled": "pass", "throttle-failures": "pass", "ahead-aimd": "MISS", "ahead-cubic": "pass", "ahead-unlimited": "MISS"},
		},
		{
			name:  "fixed, throttled over 5 %",
			class: Class{Capacity: CapacityFixed}, tuner: strat("tuner", 1.08, 5.5, 0), others: map[string]StrategyReport{},
			want: map[string]string{"makespan": "pass", "throttled": "MISS", "throttle-failures": "pass", "ahead-aimd": "not run", "ahead-cubic": "not run", "ahead-unlimited": "not run"},
		},
		{
			name:  "changing is judged against the follower",
			class: Class{Capacity: CapacityChanging}, tuner: strat("tuner", 0.8, 6, 0), others: map[string]StrategyReport{StrategyFollow: strat(StrategyFollow, 0.6, 0, 0)},
			want: map[string]string{"makespan": "MISS", "throttled": "pass", "throttle-failures": "pass", "ahead-aimd": "not run", "ahead-cubic": "not run", "ahead-unlimited": "not run"},
		},
		{
			name:  "changing without the follower",
			class: Class{Capacity: CapacityChanging}, tuner: strat("tuner", 0.8, 8, 0), others: map[string]StrategyReport{},
			want: map[string]string{"makespan": "not run", "throttled": "MISS", "throttle-failures": "pass", "ahead-aimd": "not run", "ahead-cubic": "not run", "ahead-unlimited": "not run"},
		},
		{
			name:  "shared is looser",
			class: Class{Capacity: CapacityShared}, tuner: strat("tuner", 1.14, 0, 0), others: map[string]StrategyReport{},
			want: map[string]string{"makespan": "pass", "throttled": "pass", "throttle-failures": "pass", "ahead-aimd": "not run", "ahead-cubic": "not run", "ahead-unlimited": "not run"},
		},
		{
			name:  "fail-fast judges failed items",
			class: Class{Capacity: CapacityFixed, NoMakespan: true, FailFast: true}, tuner: failing(strat("tuner", 3, 0, 150)), others: map[string]StrategyReport{StrategyAIMD: failing(strat(StrategyAIMD, 7, 0, 751))},
			want: map[string]string{"throttled": "pass", "throttle-failures": "pass", "fail-fast": "pass", "ahead-aimd": "pass", "ahead-cubic": "not run", "ahead-unlimited": "not run"},
		},
		{
			name:  "fail-fast missed",
			class: Class{Capacity: CapacityFixed, NoMakespan: true, FailFast: true}, tuner: failing(strat("tuner", 3, 0, 751)), others: map[string]StrategyReport{},
			want: map[string]string{"throttled": "pass", "throttle-failures": "pass", "fail-fast": "MISS", "ahead-aimd": "not run", "ahead-cubic": "not run", "ahead-unlimited": "not run"},
		},
		{
			name:  "poison within 10 %",
			class: Class{Capacity: CapacityFixed, PoisonBaseline: "base"}, tuner: strat("tuner", 1, 0, 0), others: map[string]StrategyReport{}, baseline: map[uint64]float64{1: 38, 2: 37, 3: 100},
			want: map[string]string{"makespan": "pass", "throttled": "pass", "throttle-failures": "pass", "poison": "pass", "ahead-aimd": "not run", "ahead-cubic": "not run", "ahead-unlimited": "not run"},
		},
		{
			name:  "poison slower",
			class: Class{Capacity: CapacityFixed, PoisonBaseline: "base"}, tuner: strat("tuner", 1, 0, 0), others: map[string]StrategyReport{}, baseline: map[uint64]float64{1: 30, 2: 30, 3: 30},
			want: map[string]string{"makespan": "pass", "throttled": "pass", "throttle-failures": "pass", "poison": "MISS", "ahead-aimd": "not run", "ahead-cubic": "not run", "ahead-unlimited": "not run"},
		},
		{
			name:  "poison baseline not run",
			class: Class{Capacity: CapacityFixed, PoisonBaseline: "base"}, tuner: strat("tuner", 1, 0, 0), others: map[string]StrategyReport{},
			want: map[string]string{"makespan": "pass", "throttled": "pass", "throttle-failures": "pass", "poison": "not run", "ahead-aimd": "not run", "ahead-cubic": "not run", "ahead-unlimited": "not run"},
		},
		{
			name:  "a tuner that did not complete is ahead of nobody",
			class: Class{Capacity: CapacityFixed}, tuner: strat("tuner", math.Inf(1), 0, 0), others: map[string]StrategyReport{StrategyCUBIC: strat(StrategyCUBIC, math.Inf(1), 80, 0)},
			want: map[string]string{"makespan": "MISS", "throttled": "pass", "throttle-failures": "pass", "ahead-aimd": "not run", "ahead-cubic": "MISS", "ahead-unlimited": "not run"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := status(targets(tt.class, boundOf("", tt.class), tt.tuner, tt.others, tt.baseline))
			if len(got) != len(tt.want) {
				t.Errorf("targets %v, want %v", got, tt.want)
			}
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("target %s: %q, want %q (all: %v)", name, got[name], want, got)
				}
			}
		})
	}
}

// TestBudgetTarget judges the budget target of a scenario of many open
// runs on made-up periods: three seeds, each with the most calls of one
// period per API and its API calls throttled.
func TestBudgetTarget(t *testing.T) {
	dmr, le, geh := periodBudget[budget.DescribeMapRun], periodBudget[budget.ListExecutions], periodBudget[budget.GetExecutionHistory]
	if dmr != 30 || le != 100 || geh != 200 {
		t.Fatalf("period budget %d, %d, %d; want half a minute's refill in us-east-1, at most half the bucket: 30, 100, 200", dmr, le, geh)
	}
	// seed is one seed's most calls in a period, by API, and its API
	// calls throttled.
	type seed struct {
		most      map[budget.API]int
		throttled int64
	}
	at := func(d, l, g int) map[budget.API]int {
		return map[budget.API]int{budget.DescribeMapRun: d, budget.ListExecutions: l, budget.GetExecutionHistory: g, budget.UpdateMapRun: 99}
	}
	report := func(seeds ...seed) StrategyReport {
		s := StrategyReport{Strategy: StrategyTuner}
		for i, sd := range seeds {
			c := noCadence()
			for _, api := range slices.Sorted(maps.Keys(sd.most)) {
				c.PeriodCalls = append(c.PeriodCalls, OpCalls{API: string(api), Median: Num(sd.most[api] / 2), Max: Num(sd.most[api])})
			}
			s.Seeds = append(s.Seeds, SeedFigures{Seed: uint64(i + 1), Makespan: 40, MakespanRatio: 1, Completed: true, Items: 1000, Outcomes: Outcomes{Succeeded: 30}, APIThrottled: sd.throttled, Cadence: c})
		}
		s.Summary = summarize(s.Seeds)
		return s
	}
	many := Class{Capacity: CapacityFixed, OpenRuns: true}
	tests := []struct {
		name  string
		class Class
		tuner StrategyReport
		// want is the budget target's status, "" when there is none;
		// got what its figure must contain.
		want, got string
		// apiThrottled is the api-throttled target's status (median).
		apiThrottled string
	}{
		{
			name: "at the budget", class: many,
			tuner: report(seed{most: at(30, 59, 200)}, seed{most: at(30, 41, 198)}, seed{most: at(29, 60, 200)}),
			want:  StatusPass, got: "most calls in a period vs budget: DescribeMapRun 30 vs 30, ListExecutions 60 vs 100, GetExecutionHistory 200 vs 200; API calls throttled 0", apiThrottled: StatusPass,
		},
		{
			name: "one period of one seed over its DescribeMapRun budget", class: many,
			tuner: report(seed{most: at(30, 59, 200)}, seed{most: at(31, 41, 198)}, seed{most: at(29, 60, 200)}),
			want:  StatusMiss, got: "DescribeMapRun 31 vs 30", apiThrottled: StatusPass,
		},
		{
			name: "over the ListExecutions budget", class: many,
			tuner: report(seed{most: at(10, 101, 20)}, seed{most: at(10, 10, 20)}, seed{most: at(10, 10, 20)}),
			want:  StatusMiss, got: "ListExecutions 101 vs 100", apiThrottled: StatusPass,
		},
		{
			name: "over the GetExecutionHistory budget", class: many,
			tuner: report(seed{most: at(30, 59, 201)}, seed{most: at(30, 41, 198)}, seed{most: at(29, 60, 200)}),
			want:  StatusMiss, got: "GetExecutionHistory 201 vs 200", apiThrottled: StatusPass,
		},
		{
			name: "within the budget, but one seed had a call throttled", class: many,
			tuner: report(seed{most: at(30, 59, 200)}, seed{most: at(30, 41, 198), throttled: 1}, seed{most: at(29, 60, 200)}),
			want:  StatusMiss, got: "; API calls throttled 1", apiThrottled: StatusPass,
		},
		{
			name: "APIs never called", class: many,
			tuner: report(seed{}, seed{most: map[budget.API]int{budget.DescribeMapRun: 3}}, seed{}),
			want:  StatusPass, got: "DescribeMapRun 3 vs 30, ListExecutions 0 vs 100, GetExecutionHistory 0 vs 200", apiThrottled: StatusPass,
		},
		{
			name: "not judged without many open runs", class: Class{Capacity: CapacityFixed},
			tuner: report(seed{most: at(31, 101, 201), throttled: 5}, seed{most: at(31, 101, 201), throttled: 5}, seed{}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := targets(tt.class, boundOf("", tt.class), tt.tuner, map[string]StrategyReport{}, nil)
			find := func(name string) *Target {
				for i := range ts {
					if ts[i].Name == name {
						return &ts[i]
					}
				}
				return nil
			}
			b := find(TargetBudget)
			switch {
			case tt.want == "" && b != nil:
				t.Fatalf("budget target %+v, want none", *b)
			case tt.want == "":
				return
			case b == nil:
				t.Fatalf("no budget target in %+v", ts)
			}
			if b.Status != tt.want || !strings.Contains(b.Got, tt.got) {
				t.Errorf("budget target %s (%s), want %s with %q", b.Status, b.Got, tt.want, tt.got)
			}
			if !strings.Contains(b.Want, "DescribeMapRun <= 30, ListExecutions <= 100, GetExecutionHistory <= 200") {
				t.Errorf("budget target wants %q, want it to name each API's budget", b.Want)
			}
			if a := find(TargetAPIThrottled); a == nil || a.Status != tt.apiThrottled {
				t.Errorf("api-throttled target %+v, want %s", a, tt.apiThrottled)
			}
		})
	}
}

// failing makes every seed of a strategy a FAILED run.
func failing(s StrategyReport) StrategyReport {
	for i := range s.Seeds {
		s.Seeds[i].Outcomes = Outcomes{Failed: 1}
		s.Seeds[i].Completed = false
	}
	s.Summary = summarize(s.Seeds)
	return s
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
