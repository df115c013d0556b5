package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/local"
)

func TestMotoBackend(t *testing.T) {
	ctx := context.Background()
	m, err := StartMoto(ctx, MotoOptions{Region: "eu-west-1", Policy: "fast", Sample: local.DistributedMap{Name: "b", Items: 2, Maps: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	ep := m.Endpoints()
	if ep.SFN == "" || ep.SFN != ep.CloudWatch || ep.SFN != ep.DynamoDB || ep.CloudWatchProtocol != "json" || ep.Region != "eu-west-1" {
		t.Fatalf("Endpoints = %+v", ep)
	}
	if !strings.Contains(m.About(), ep.SFN) {
		t.Fatalf("About %q does not name the endpoint", m.About())
	}
	if _, err := m.Progress(ctx, time.Now()); err == nil || !strings.Contains(err.Error(), "before the sample was started") {
		t.Fatalf("Progress before Start: error = %v", err)
	}
	execs, err := m.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(execs) != 1 {
		t.Fatalf("Start = %+v, want one execution", execs)
	}
	st := execs[0]
	if !strings.HasPrefix(st.ExecutionARN, "arn:aws:states:eu-west-1:") || len(st.MapRunARNs) != 2 || st.Policy != "fast" || st.StartDate.IsZero() {
		t.Fatalf("Start = %+v, want an execution in eu-west-1 with 2 map runs under policy fast", st)
	}
	p, err := m.Progress(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Executions) != 1 || p.Executions[0] == "" || len(p.Runs) != 2 || p.Runs[0].ARN != st.MapRunARNs[0] || p.Runs[1].ARN != st.MapRunARNs[1] {
		t.Fatalf("Progress = %+v", p)
	}
	for _, r := range p.Runs {
		if r.Live || r.Total != 2 || r.Status == "" {
			t.Fatalf("run progress %+v: want 2 items, a status, nothing live", r)
		}
	}
	if _, err := m.Start(ctx); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Fatalf("second Start: error = %v, want already started", err)
	}
}

func TestStartMotoRejectsABadSample(t *testing.T) {
	_, err := StartMoto(context.Background(), MotoOptions{Sample: local.DistributedMap{Name: "x", WaitSeconds: -1}})
	if err == nil || !strings.Contains(err.Error(), "wait seconds -1") {
		t.Fatalf("StartMoto with a bad sample: error = %v", err)
	}
}

func TestMotoSample(t *testing.T) {
	def, err := MotoSample.Definition()
	if err != nil {
		t.Fatal(err)
	}
	// No MaxConcurrency: the run starts unlimited, and the tuner caps it.
	if MotoSample.MaxConcurrency != 0 || !strings.Contains(def, `"MaxConcurrency":0`) || !strings.Contains(def, `"Label":"Map1"`) {
		t.Fatalf("MotoSample definition %s", def)
	}
	// The last child ends within the default tick budget.
	if last := MotoSample.WaitSeconds + (MotoSample.Items-1)*MotoSample.WaitStepSeconds; time.Duration(last)*time.Second > DefaultTimeout/2 {
		t.Fatalf("the sample's last child waits %ds, too long for the default timeout %s", last, DefaultTimeout)
	}
}
