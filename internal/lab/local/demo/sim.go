package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/maptuner/maptuner/internal/lab/local"
	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/lab/simserver"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/policy"
)

// SimOptions say how StartSim starts the simulated backend.
type SimOptions struct {
	// Scenario is the simulated account, as simserver.LoadScenario loads
	// it; it must validate.
	Scenario sim.Scenario
	// Seed fixes the simulation's random draws.
	Seed uint64
	// Moto says how moto_server, which serves DynamoDB, is started.
	Moto local.MotoOptions
	// DynamoDB is an endpoint that already serves DynamoDB, for example
	// http://127.0.0.1:8000; empty starts moto_server instead.
	DynamoDB string
}

// Sim is the simulated backend: a simulated account (internal/lab/simserver)
// serves Step Functions and CloudWatch on loopback, on a manual virtual
// clock that each tick moves to the tick's instant, and moto_server serves
// DynamoDB. The scenario's state machines keep their own tags, and its
// policy is written to PolicyFile.
type Sim struct {
	sc         sim.Scenario
	seed       uint64
	server     *simserver.Server
	http       *http.Server
	url        string
	moto       *local.Moto
	dynamoDB   string
	dir        string
	policyFile string

	mu      sync.Mutex
	parents []simserver.Parent

	closeOnce sync.Once
	closeErr  error
}

// StartSim serves the scenario on a loopback port, starts moto_server
// unless opt.DynamoDB names an endpoint, and
// writes the scenario's policy to a file. ctx bounds the start only.
func StartSim(ctx context.Context, opt SimOptions) (_ *Sim, err error) {
	srv, err := simserver.New(simserver.Config{Scenario: opt.Scenario, Seed: opt.Seed})
	if err != nil {
		return nil, fmt.Errorf("demo: simulated backend: %w", err)
	}
	s := &Sim{sc: opt.Scenario, seed: opt.Seed, server: srv}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	if s.dir, err = os.MkdirTemp("", "maptuner-demo-sim-"); err != nil {
		return nil, fmt.Errorf("demo: simulated backend: %w", err)
	}
	doc, err := opt.Scenario.PolicyYAML()
	if err != nil {
		return nil, fmt.Errorf("demo: simulated backend: %w", err)
	}
	if len(doc) > 0 {
		s.policyFile = filepath.Join(s.dir, "policies.yaml")
		if _, err := policy.Parse(opt.Scenario.Name+" policy", doc); err != nil {
			return nil, fmt.Errorf("demo: simulated backend: scenario %s: %w", opt.Scenario.Name, err)
		}
		if err := os.WriteFile(s.policyFile, doc, 0o600); err != nil {
			return nil, fmt.Errorf("demo: simulated backend: %w", err)
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: simulated backend: %w", err)
	}
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }() // returns ErrServerClosed on Close
	if s.dynamoDB = opt.DynamoDB; s.dynamoDB != "" {
		return s, nil
	}
	if s.moto, err = local.StartMoto(ctx, opt.Moto); err != nil {
		return nil, fmt.Errorf("demo: simulated backend: DynamoDB: %w", err)
	}
	s.dynamoDB = s.moto.URL
	return s, nil
}

// About implements Backend.
func (s *Sim) About() string {
	items := int64(0)
	for _, r := range s.sc.Runs {
		items += r.Items
	}
	dynamo := "moto_server"
	if s.moto == nil {
		dynamo = "the endpoint"
	}
	return fmt.Sprintf("simulated account at %s (scenario %s, seed %d: %s items in %d map run(s), on a virtual clock moved a minute per tick) "+
		"for Step Functions and CloudWatch, %s at %s for DynamoDB", s.url, s.sc.Name, s.seed, count(items), len(s.sc.Runs), dynamo, s.dynamoDB)
}

// Endpoints implements Backend: Step Functions and CloudWatch, in CBOR,
// the SDK's default, at the simulated account; DynamoDB at moto_server or
// SimOptions.DynamoDB.
func (s *Sim) Endpoints() Endpoints {
	return Endpoints{SFN: s.url, CloudWatch: s.url, DynamoDB: s.dynamoDB, Region: sim.Region}
}

// PolicyFile is the file holding the scenario's policies, an absolute
// path; empty when the scenario has none, so that the functions use the
// built-in ones.
func (s *Sim) PolicyFile() string { return s.policyFile }

// Scenario is the simulated account.
func (s *Sim) Scenario() sim.Scenario { return s.sc }

// Seed is the seed of the simulation's random draws.
func (s *Sim) Seed() uint64 { return s.seed }

// Result is the simulated world's figures so far.
func (s *Sim) Result() sim.Result { return s.server.Result() }

// Start implements Backend: it starts the scenario's parent executions at
// the virtual now.
func (s *Sim) Start(context.Context) ([]Execution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parents != nil {
		return nil, errors.New("demo: simulated backend: the sample was already started")
	}
	started := s.server.Start()
	s.parents = started.Parents
	arns := map[string]string{}
	for _, r := range s.server.Progress().Runs {
		arns[r.Name] = r.MapRunARN
	}
	tags := map[string]string{}
	for _, r := range s.sc.Runs {
		tags[r.Name] = r.Tags[policy.TagKey]
	}
	execs := make([]Execution, 0, len(started.Parents))
	for _, p := range started.Parents {
		e := Execution{Started: local.Started{
			StateMachineARN: p.StateMachineARN,
			ExecutionARN:    p.ExecutionARN,
			StartDate:       time.UnixMilli(p.StartDate).UTC(),
		}, Policy: tags[p.Run]}
		if arn := arns[p.Run]; arn != "" {
			e.MapRunARNs = []string{arn}
		}
		execs = append(execs, e)
	}
	return execs, nil
}

// Progress implements Backend: it moves the virtual clock to at (never
// back) and reads the world directly, spending none of the simulated API
// quotas.
func (s *Sim) Progress(_ context.Context, at time.Time) (Progress, error) {
	s.mu.Lock()
	parents := s.parents
	s.mu.Unlock()
	if parents == nil {
		return Progress{}, errors.New("demo: simulated backend: progress before the sample was started")
	}
	if d := at.Sub(s.server.Clock().Now); d > 0 {
		if _, err := s.server.Advance(d); err != nil {
			return Progress{}, fmt.Errorf("demo: simulated backend: %w", err)
		}
	}
	live := s.server.Progress()
	res := s.server.Result()
	settings := map[string]maprun.Settings{}
	for _, r := range res.Runs {
		settings[r.Name] = maprun.Settings{
			MaxConcurrency:             r.MaxConcurrency,
			ToleratedFailurePercentage: r.ToleratedFailurePercentage,
			ToleratedFailureCount:      r.ToleratedFailureCount,
		}
	}
	p := Progress{Over: live.Clock.Done}
	status := map[string]string{}
	for _, r := range live.Runs {
		status[r.Name] = r.Status
		if r.MapRunARN == "" {
			continue
		}
		p.Runs = append(p.Runs, RunProgress{
			ARN: r.MapRunARN, Status: r.Status, Settings: settings[r.Name],
			Total: r.Items, Done: r.Done, Failed: r.Failed,
			Running: r.Running, Live: true, Throughput: r.Throughput, Throttles: r.Throttles, ETA: r.ETA,
		})
	}
	// A parent ends with its Map Run.
	for _, parent := range parents {
		st := status[parent.Run]
		if st == "" {
			st = "RUNNING"
		}
		p.Executions = append(p.Executions, st)
	}
	return p, nil
}

// Close implements Backend: it stops the server and moto_server and
// removes the policies file.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.http != nil {
			errs = append(errs, s.http.Close())
		}
		if s.moto != nil {
			errs = append(errs, s.moto.Close())
		}
		if s.dir != "" {
			errs = append(errs, os.RemoveAll(s.dir))
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("demo: simulated backend: close: %w", err)
		}
	})
	return s.closeErr
}
