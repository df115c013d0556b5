package demo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/maptuner/maptuner/internal/lab/local"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/policy"
)

// MotoSample is the Distributed Map the moto backend runs unless told
// otherwise: 24 items with no MaxConcurrency, as many jobs are written, so
// that moto starts every child at once; child i waits 2+i seconds, so that
// they finish one a second and the run takes about 26 seconds.
var MotoSample = local.DistributedMap{
	Name:            "maptuner-demo",
	Execution:       "demo-1",
	Items:           24,
	WaitSeconds:     2,
	WaitStepSeconds: 1,
	NameLabels:      true,
}

// MotoOptions say how StartMoto starts the moto backend. The zero value
// starts moto_server from PATH and runs MotoSample under the default policy.
type MotoOptions struct {
	// Server says how moto_server is started.
	Server local.MotoOptions
	// Sample is the state machine Start creates; a zero Name means
	// MotoSample.
	Sample local.DistributedMap
	// Policy is the value of the maptuner:policy tag Start adds to the
	// sample's tags; empty means policy.DefaultPolicy.
	Policy string
	// Region is the Region the sample runs in; empty means local.DefaultRegion.
	Region string
}

// Moto is the moto_server backend: real AWS APIs on loopback, with the
// sample's children run for real, in real time.
type Moto struct {
	server  *local.Moto
	client  local.SFNAPI
	obs     *observe.Observer
	sample  local.DistributedMap
	policy  string
	region  string
	started local.Started
}

var _ Backend = (*Moto)(nil)

// StartMoto starts moto_server for the demo. ctx bounds the start only.
func StartMoto(ctx context.Context, opt MotoOptions) (*Moto, error) {
	sample := opt.Sample
	if sample.Name == "" {
		sample = MotoSample
	}
	if _, err := sample.Definition(); err != nil {
		return nil, fmt.Errorf("demo: moto backend: %w", err)
	}
	region := opt.Region
	if region == "" {
		region = local.DefaultRegion
	}
	pol := opt.Policy
	if pol == "" {
		pol = policy.DefaultPolicy
	}
	server, err := local.StartMoto(ctx, opt.Server)
	if err != nil {
		return nil, fmt.Errorf("demo: moto backend: %w", err)
	}
	client := server.SFN(region)
	return &Moto{
		server: server,
		client: client,
		// No budget: the demo's own reads are not the tuner's.
		obs:    &observe.Observer{SFN: client},
		sample: sample,
		policy: pol,
		region: region,
	}, nil
}

// About implements Backend. It names moto's behaviours that show in the
// demo: the children it has started keep running whatever UpdateMapRun
// says, and it counts no pending items, so that the tuner finds nothing
// to grow into.
func (m *Moto) About() string {
	return fmt.Sprintf("moto_server at %s runs the children for real, in real time; it starts a Map Run's children once "+
		"(all of them when MaxConcurrency is 0), records UpdateMapRun without applying it to them, and counts no pending items",
		m.server.URL)
}

// Endpoints implements Backend: moto serves every service at one URL, and
// its CloudWatch speaks JSON but not CBOR.
func (m *Moto) Endpoints() Endpoints {
	return Endpoints{
		SFN: m.server.URL, CloudWatch: m.server.URL, DynamoDB: m.server.URL,
		CloudWatchProtocol: "json",
		Region:             m.region,
	}
}

// Start implements Backend: it creates the sample state machine, tagged
// maptuner:policy with the policy of the options, and starts one execution.
// moto runs one execution per Region, so Start works once.
func (m *Moto) Start(ctx context.Context) ([]Execution, error) {
	if m.started.ExecutionARN != "" {
		return nil, fmt.Errorf("demo: moto backend: the sample was already started: %s", m.started.ExecutionARN)
	}
	d := m.sample
	d.Tags = maps.Clone(d.Tags)
	if d.Tags == nil {
		d.Tags = map[string]string{}
	}
	d.Tags[policy.TagKey] = m.policy
	st, err := local.StartDistributedMap(ctx, m.client, d)
	if err != nil {
		return nil, fmt.Errorf("demo: moto backend: %w", err)
	}
	m.started = st
	return []Execution{{Started: st, Policy: m.policy}}, nil
}

// Progress implements Backend; moto runs in real time, so at is ignored.
// The figures are DescribeMapRun's: no throughput, throttles or ETA.
func (m *Moto) Progress(ctx context.Context, at time.Time) (Progress, error) {
	if m.started.ExecutionARN == "" {
		return Progress{}, errors.New("demo: moto backend: progress before the sample was started")
	}
	status, err := m.obs.ExecutionStatus(ctx, m.started.ExecutionARN)
	if err != nil {
		return Progress{}, fmt.Errorf("demo: moto backend: %w", err)
	}
	p := Progress{Executions: []string{status}, Runs: make([]RunProgress, 0, len(m.started.MapRunARNs))}
	for _, arn := range m.started.MapRunARNs {
		s, err := m.obs.Describe(ctx, arn)
		if err != nil {
			return Progress{}, fmt.Errorf("demo: moto backend: %w", err)
		}
		p.Runs = append(p.Runs, RunProgress{
			ARN: s.ARN, Status: string(s.Status), Settings: s.Settings,
			Total: s.Items.Total, Done: s.Items.Done(), Failed: s.Items.Failures(), Running: float64(s.Items.Running),
		})
	}
	return p, nil
}

// Close implements Backend: it stops moto_server.
func (m *Moto) Close() error { return m.server.Close() }
