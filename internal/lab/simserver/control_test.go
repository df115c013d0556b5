package simserver

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

func TestNewRefusesBadConfig(t *testing.T) {
	sc := parseScenario(t, testScenario)
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"negative rate", Config{Scenario: sc, Rate: -1}, ErrInvalidConfig},
		{"NaN rate", Config{Scenario: sc, Rate: math.NaN()}, ErrInvalidConfig},
		{"rate too high", Config{Scenario: sc, Rate: MaxRate + 1}, ErrInvalidConfig},
		{"empty scenario", Config{}, sim.ErrInvalidScenario},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); !errors.Is(err, tt.want) {
				t.Errorf("New: %v, want %v", err, tt.want)
			}
		})
	}
}

// fakeWall is a wall clock a test moves by hand.
type fakeWall struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeWall) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeWall) add(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// TestRunningClock checks that virtual time stands still until the start,
// then runs at the rate, up to the horizon.
func TestRunningClock(t *testing.T) {
	wall := &fakeWall{now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	srv, err := New(Config{Scenario: parseScenario(t, testScenario+"horizon: 2h\n"), Seed: 1, Rate: 60, Now: wall.Now})
	if err != nil {
		t.Fatal(err)
	}
	wall.add(time.Hour)
	if c := srv.Clock(); !c.Now.Equal(sim.DefaultStart) || c.Started || c.Done || c.Rate != 60 {
		t.Errorf("clock before the start %+v, want the scenario's start, not started", c)
	}
	st := srv.Start()
	if !st.Clock.Now.Equal(sim.DefaultStart) || !st.Clock.Started {
		t.Errorf("clock at the start %+v", st.Clock)
	}
	wall.add(10 * time.Second)
	if c := srv.Clock(); !c.Now.Equal(sim.DefaultStart.Add(10*time.Minute)) || c.Elapsed != 10*time.Minute {
		t.Errorf("clock 10 s after the start %+v, want 10 virtual minutes later", c)
	}
	wall.add(1500 * time.Millisecond)
	if got := srv.Progress().Clock.Now; !got.Equal(sim.DefaultStart.Add(11*time.Minute + 30*time.Second)) {
		t.Errorf("progress clock %s, want 11m30s after the start", got)
	}
	if _, err := srv.Advance(time.Minute); !errors.Is(err, ErrRunningClock) {
		t.Errorf("Advance of a running clock: %v, want ErrRunningClock", err)
	}
	wall.add(24 * time.Hour)
	if c := srv.Clock(); !c.Now.Equal(sim.DefaultStart.Add(2*time.Hour)) || !c.Done {
		t.Errorf("clock a day later %+v, want the horizon and done", c)
	}
}

func TestManualClock(t *testing.T) {
	srv, err := New(Config{Scenario: parseScenario(t, testScenario+"horizon: 1h\n"), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := srv.Advance(5 * time.Minute)
	if err != nil || !c.Now.Equal(sim.DefaultStart.Add(5*time.Minute)) || c.Started {
		t.Errorf("Advance before the start: %+v, %v", c, err)
	}
	st := srv.Start()
	p := st.Parents[0]
	if len(st.Parents) != 2 || p.Run != "etl/Items" || p.Status != "RUNNING" || p.Input != "{}" ||
		p.StartDate != sim.DefaultStart.Add(5*time.Minute).UnixMilli() || !strings.HasSuffix(p.ExecutionARN, ":"+p.Name) ||
		p.StateMachineARN != "arn:aws:states:us-east-1:123456789012:stateMachine:etl" || p.Signal.Name != "Throttles" {
		t.Errorf("Start = %+v", st)
	}
	if again := srv.Start(); !reflect.DeepEqual(again.Parents, st.Parents) {
		t.Errorf("a second Start = %+v, want the same parents", again)
	}
	if _, err := srv.Advance(-time.Second); !errors.Is(err, ErrAdvance) {
		t.Errorf("Advance(-1s): %v, want ErrAdvance", err)
	}
	c, err = srv.Advance(10 * time.Hour)
	if err != nil || !c.Now.Equal(sim.DefaultStart.Add(time.Hour)) || !c.Done {
		t.Errorf("Advance past the horizon: %+v, %v; want the horizon, done", c, err)
	}
}

func TestProgress(t *testing.T) {
	srv, err := New(Config{Scenario: parseScenario(t, testScenario), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p := srv.Progress(); len(p.Runs) != 2 || p.Runs[0].MapRunARN != "" || p.Runs[0].Status != "" || p.Runs[0].Items != 1000 {
		t.Errorf("progress before the start %+v", p)
	}
	srv.Start()
	if _, err := srv.Advance(3*time.Minute + 30*time.Second); err != nil {
		t.Fatal(err)
	}
	p := srv.Progress()
	res := srv.Result()
	r, rr := p.Runs[0], res.Runs[0]
	last := rr.Series[2] // minute 2, the last whole one
	if r.Status != "RUNNING" || r.MapRunARN != rr.MapRunARN || r.Done != rr.Succeeded+rr.Failed || r.Limit != 6 ||
		r.Throughput != float64(last.Succeeded+last.Failed)/60 || r.Throttles != last.Throttles || r.Capacity != 5 {
		t.Errorf("progress %+v, result %+v", r, rr)
	}
	if r.Running <= 0 || r.Throughput <= 0 || r.ETA <= 0 {
		t.Errorf("running %v, throughput %v, ETA %s: want them positive", r.Running, r.Throughput, r.ETA)
	}
	if want := time.Duration(float64(r.Items-r.Done) / r.Throughput * float64(time.Second)); r.ETA != want {
		t.Errorf("ETA %s, want %s", r.ETA, want)
	}
	if b := p.Runs[1]; b.Status != "FAILED" || b.ETA != 0 || b.Failed == 0 {
		t.Errorf("progress of the broken run %+v", b)
	}
}

// TestControlEndpoints drives the control endpoints over HTTP through the
// Client, and checks their errors.
func TestControlEndpoints(t *testing.T) {
	srv, err := New(Config{Scenario: parseScenario(t, testScenario), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ctx := context.Background()
	c := &Client{BaseURL: hs.URL + "/"}
	st, err := c.Start(ctx)
	if err != nil || len(st.Parents) != 2 {
		t.Fatalf("Start: %+v, %v", st, err)
	}
	clock, err := c.Advance(ctx, 90*time.Second)
	if err != nil || clock.Elapsed != 90*time.Second {
		t.Fatalf("Advance: %+v, %v", clock, err)
	}
	if clock, err := c.Clock(ctx); err != nil || clock.Elapsed != 90*time.Second || !clock.Started {
		t.Errorf("Clock: %+v, %v", clock, err)
	}
	if p, err := c.Progress(ctx); err != nil || len(p.Runs) != 2 || p.Runs[0].Done == 0 {
		t.Errorf("Progress: %+v, %v", p, err)
	}
	res, err := c.Result(ctx)
	if err != nil || res.Scenario != "server-test" || res.Elapsed != 90*time.Second || len(res.Runs) != 2 {
		t.Errorf("Result: %+v, %v", res, err)
	}
	if u, err := c.Updates(ctx); err != nil || len(u) != 0 || u == nil {
		t.Errorf("Updates: %v, %v; want an empty list", u, err)
	}
	if s, err := c.Stats(ctx); err != nil || len(s.Requests) != 0 {
		t.Errorf("Stats: %+v, %v", s, err)
	}
	if _, err := c.Advance(ctx, -time.Minute); !errors.Is(err, ErrControl) || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "-1m0s is negative") {
		t.Errorf("Advance(-1m): %v", err)
	}

	running, err := New(Config{Scenario: parseScenario(t, testScenario), Seed: 1, Rate: 10})
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(running)
	defer rs.Close()
	if _, err := (&Client{BaseURL: rs.URL}).Advance(ctx, time.Minute); !errors.Is(err, ErrControl) || !strings.Contains(err.Error(), "HTTP 409") {
		t.Errorf("Advance of a running clock: %v, want HTTP 409", err)
	}

	tests := []struct {
		method, path string
		status       int
		message      string
	}{
		{"GET", "/_maptuner/nothing", 404, "no control endpoint /_maptuner/nothing"},
		{"POST", "/_maptuner/clock", 405, "/_maptuner/clock takes GET, not POST"},
		{"GET", "/_maptuner/start", 405, "/_maptuner/start takes POST, not GET"},
		{"POST", "/_maptuner/advance?d=soon", 400, `advance: d="soon" is not a Go duration`},
		{"POST", "/_maptuner/advance", 400, `advance: d="" is not a Go duration`},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, hs.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Message string }
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil || res.StatusCode != tt.status || !strings.Contains(body.Message, tt.message) || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: HTTP %d %q (%v), want %d %q", tt.method, tt.path, res.StatusCode, body.Message, err, tt.status, tt.message)
		}
		if tt.status == 405 && res.Header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tt.method, tt.path)
		}
	}
	if _, err := (&Client{BaseURL: "http://127.0.0.1:1"}).Clock(ctx); err == nil {
		t.Error("Clock of a server that is not there: no error")
	}
}

func TestLoadScenario(t *testing.T) {
	for _, name := range []string{"", Builtin} {
		sc, err := LoadScenario(name)
		if err != nil {
			t.Fatalf("LoadScenario(%q): %v", name, err)
		}
		d := sc.Downstreams[0]
		if sc.Name != Builtin || sc.Runs[0].Items != 20000 || d.Concurrency != 150 || d.Schedule[0].Factor*d.Concurrency != 60 {
			t.Errorf("built-in scenario %+v", sc)
		}
		doc, err := sc.PolicyYAML()
		if err != nil || !strings.Contains(string(doc), "Throttles") {
			t.Errorf("built-in policy %s, %v", doc, err)
		}
		if !sc.Publishes(sim.Metric{Namespace: "AWS/Lambda", Name: "Throttles", Dimensions: map[string]string{"FunctionName": d.Name}}) {
			t.Error("the built-in policy's signal is not published")
		}
	}
	if string(BuiltinYAML()) != string(builtinYAML) {
		t.Error("BuiltinYAML differs from the embedded text")
	}
	if _, err := LoadScenario("testdata/absent.yaml"); err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("LoadScenario of a missing file: %v", err)
	}
}
