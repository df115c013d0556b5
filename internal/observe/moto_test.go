package observe

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/awsapi"
	"github.com/maptuner/maptuner/internal/lab/testenv"
	"github.com/maptuner/maptuner/internal/maprun"
)

func TestObserverAgainstMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	t.Setenv("AWS_ENDPOINT_URL", m.URL)
	ctx := context.Background()
	// The clients the functions build, retries and all: on a loaded
	// machine a connection may close under an answer, as against AWS, and
	// the SDK sends the request again.
	c, err := awsapi.Load(ctx, awsapi.Options{Region: "us-east-1", CloudWatchProtocol: awsapi.CloudWatchJSON})
	if err != nil {
		t.Fatal(err)
	}
	st := testenv.StartDistributedMap(t, c.SFN, testenv.DistributedMap{
		Name: "orders", Execution: "e1", Maps: 2, Items: 4, WaitSeconds: 1,
		MaxConcurrency: 2, ToleratedFailurePercentage: 5,
		Tags: map[string]string{PolicyTagKey: "lambda-fanout", "team": "data"},
	})
	if len(st.MapRunARNs) != 2 {
		t.Fatalf("started %d map runs, want 2", len(st.MapRunARNs))
	}
	o := &Observer{SFN: c.SFN, Metrics: c.CloudWatch, Budget: bigBudget(t)}
	missingExec := "arn:aws:states:us-east-1:123456789012:execution:orders:nope"

	t.Run("history", func(t *testing.T) {
		h, err := o.ReadHistory(ctx, st.ExecutionARN, HistoryPosition{})
		if err != nil {
			t.Fatalf("ReadHistory: %v", err)
		}
		got := slices.Sorted(slices.Values(h.MapRuns))
		want := slices.Sorted(slices.Values(st.MapRunARNs))
		if !slices.Equal(got, want) || h.Position.EventID == 0 || h.Position.Token != "" {
			t.Errorf("ReadHistory = runs %v, position %+v; want %v, read to the end", got, h.Position, want)
		}
		// Read again, newest first down to the position: only new events.
		again, err := o.ReadHistory(ctx, st.ExecutionARN, h.Position)
		if err != nil {
			t.Fatalf("ReadHistory from %+v: %v", h.Position, err)
		}
		if again.Position.EventID < h.Position.EventID || len(again.MapRuns) != 0 || again.Calls != 1 {
			t.Errorf("second read = %+v; want one call, no Map Run again, position not behind %d", again, h.Position.EventID)
		}
		if _, err := o.ReadHistory(ctx, missingExec, HistoryPosition{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("ReadHistory of a missing execution: error = %v, want ErrNotFound", err)
		}
	})

	t.Run("describe while running", func(t *testing.T) {
		for _, arn := range st.MapRunARNs {
			s, err := o.Describe(ctx, arn)
			if err != nil {
				t.Fatalf("Describe(%s): %v", arn, err)
			}
			want := maprun.Settings{MaxConcurrency: 2, ToleratedFailurePercentage: 5}
			if s.ARN != arn || s.ExecutionARN != st.ExecutionARN || s.Settings != want || s.StartDate.IsZero() {
				t.Errorf("Describe(%s) = %+v, want settings %+v of execution %s", arn, s, want, st.ExecutionARN)
			}
			if s.Items.Total > 4 {
				t.Errorf("Describe(%s) total items = %d, want <= 4", arn, s.Items.Total)
			}
		}
	})

	t.Run("policy tag", func(t *testing.T) {
		p, ok, err := o.PolicyTag(ctx, st.StateMachineARN)
		if err != nil || !ok || p != "lambda-fanout" {
			t.Errorf("PolicyTag = %q, %v, %v; want lambda-fanout, true", p, ok, err)
		}
		plain, err := c.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name:       aws.String("untagged"),
			Definition: aws.String(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`),
			RoleArn:    aws.String(testenv.TestRoleARN),
		})
		if err != nil {
			t.Fatal(err)
		}
		p, ok, err = o.PolicyTag(ctx, aws.ToString(plain.StateMachineArn))
		if err != nil || ok || p != "" {
			t.Errorf("PolicyTag(untagged) = %q, %v, %v; want \"\", false", p, ok, err)
		}
	})

	t.Run("throttle metrics", func(t *testing.T) {
		base := time.Now().UTC().Truncate(time.Minute)
		put := func(fn string, at time.Time, v float64) {
			t.Helper()
			_, err := c.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
				Namespace: aws.String("AWS/Lambda"),
				MetricData: []cwtypes.MetricDatum{{
					MetricName: aws.String("Throttles"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("FunctionName"), Value: aws.String(fn)}},
					Timestamp:  aws.Time(at), Value: aws.Float64(v),
				}},
			})
			if err != nil {
				t.Fatalf("PutMetricData: %v", err)
			}
		}
		put("resize", base.Add(-3*time.Minute+5*time.Second), 3)
		put("resize", base.Add(-3*time.Minute+40*time.Second), 1)
		put("resize", base.Add(-1*time.Minute+1*time.Second), 2)
		queries := []MetricQuery{lambdaQuery(st.MapRunARNs[0]+"#0", "resize"), lambdaQuery(st.MapRunARNs[1]+"#0", "quiet")}
		got, err := o.Series(ctx, queries, base.Add(-10*time.Minute), base.Add(time.Minute))
		if err != nil {
			t.Fatalf("Throttles: %v", err)
		}
		want := []struct {
			minute time.Time
			value  float64
		}{{base.Add(-3 * time.Minute), 4}, {base.Add(-time.Minute), 2}}
		p := got[queries[0].ID]
		if len(p) != len(want) {
			t.Fatalf("Throttles[%q] = %v, want %v", queries[0].ID, p, want)
		}
		for i, w := range want {
			if !p[i].Minute.Equal(w.minute) || p[i].Value != w.value {
				t.Errorf("datapoint %d = %+v, want %+v", i, p[i], w)
			}
		}
		if q, ok := got[queries[1].ID]; !ok || len(q) != 0 {
			t.Errorf("Throttles[%q] = %v (present %v), want an empty entry", queries[1].ID, q, ok)
		}
	})

	t.Run("execution status and end of run", func(t *testing.T) {
		if s, err := o.ExecutionStatus(ctx, st.ExecutionARN); err != nil || (s != "RUNNING" && s != "SUCCEEDED") {
			t.Errorf("ExecutionStatus = %q, %v; want RUNNING or SUCCEEDED", s, err)
		}
		if _, err := o.ExecutionStatus(ctx, missingExec); !errors.Is(err, ErrNotFound) {
			t.Errorf("ExecutionStatus(missing) error = %v, want ErrNotFound", err)
		}
		if s := testenv.WaitExecution(t, c.SFN, st.ExecutionARN, 20*time.Second); s != "SUCCEEDED" {
			t.Fatalf("execution ended %s, want SUCCEEDED", s)
		}
		if s, err := o.ExecutionStatus(ctx, st.ExecutionARN); err != nil || s != "SUCCEEDED" {
			t.Errorf("ExecutionStatus after the end = %q, %v; want SUCCEEDED", s, err)
		}
		for _, arn := range st.MapRunARNs {
			s, err := o.Describe(ctx, arn)
			if err != nil {
				t.Fatalf("Describe(%s): %v", arn, err)
			}
			if s.Status != maprun.StatusSucceeded || s.Items.Succeeded != 4 || s.Items.Total != 4 || s.StopDate.IsZero() {
				t.Errorf("Describe(%s) after the end = %+v, want SUCCEEDED with 4 of 4 items and a stop date", arn, s)
			}
		}
	})
}
