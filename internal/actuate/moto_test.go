package actuate

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/lab/testenv"
	"github.com/maptuner/maptuner/internal/maprun"
)

func TestApplyAgainstMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	client := m.SFN("us-east-1")
	st := testenv.StartDistributedMap(t, client, testenv.DistributedMap{
		Name: "resize", Execution: "nightly", Items: 6, WaitSeconds: 2,
		MaxConcurrency: 2, ToleratedFailurePercentage: 5,
	})
	arn := st.MapRunARNs[0]
	ctx := context.Background()
	a := &Applier{SFN: client, Budget: newBudget(t)}

	describe := func() *sfn.DescribeMapRunOutput {
		t.Helper()
		out, err := client.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeMapRun: %v", err)
		}
		return out
	}
	if out := describe(); out.Status != types.MapRunStatusRunning || out.MaxConcurrency != 2 || out.ToleratedFailurePercentage != 5 {
		t.Fatalf("map run before update: %s, concurrency %d, percentage %v; want RUNNING, 2, 5",
			out.Status, out.MaxConcurrency, out.ToleratedFailurePercentage)
	}

	steps := []struct {
		name     string
		old, new maprun.Settings
	}{
		{"all three", maprun.Settings{MaxConcurrency: 2, ToleratedFailurePercentage: 5}, maprun.Settings{MaxConcurrency: 7, ToleratedFailurePercentage: 33.3, ToleratedFailureCount: 3}},
		{"concurrency only keeps the tolerances", maprun.Settings{MaxConcurrency: 7, ToleratedFailurePercentage: 33.3, ToleratedFailureCount: 3}, maprun.Settings{MaxConcurrency: 4, ToleratedFailurePercentage: 33.3, ToleratedFailureCount: 3}},
		{"count only keeps the rest", maprun.Settings{MaxConcurrency: 4, ToleratedFailurePercentage: 33.3, ToleratedFailureCount: 3}, maprun.Settings{MaxConcurrency: 4, ToleratedFailurePercentage: 33.3, ToleratedFailureCount: 0}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if _, err := a.Apply(ctx, Update{MapRunARN: arn, Old: s.old, New: s.new}); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			out := describe()
			if out.MaxConcurrency != s.new.MaxConcurrency || out.ToleratedFailurePercentage != float32(s.new.ToleratedFailurePercentage) ||
				out.ToleratedFailureCount != s.new.ToleratedFailureCount {
				t.Errorf("after Apply: concurrency %d, percentage %v, count %d; want %+v",
					out.MaxConcurrency, out.ToleratedFailurePercentage, out.ToleratedFailureCount, s.new)
			}
		})
	}
}
