package local

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

func TestDistributedMapDefinition(t *testing.T) {
	tests := []struct {
		name    string
		d       DistributedMap
		want    []string
		wantErr string
	}{
		{
			name: "percentage as a float literal",
			d:    DistributedMap{Name: "a", Items: 3, WaitSeconds: 2, MaxConcurrency: 4, ToleratedFailurePercentage: 5},
			want: []string{`"ToleratedFailurePercentage":5.0`, `"MaxConcurrency":4`, `"SecondsPath":"$.wait"`, `"Mode":"DISTRIBUTED"`, `"ItemsPath":"$.items"`, `"Map1"`},
		},
		{
			name: "fractional percentage and count",
			d:    DistributedMap{Name: "a", Items: 1, Maps: 3, ToleratedFailurePercentage: 12.5, ToleratedFailureCount: 9},
			want: []string{`"ToleratedFailurePercentage":12.5`, `"ToleratedFailureCount":9`, `"Map3"`},
		},
		{
			name: "labels named after the states",
			d:    DistributedMap{Name: "a", Items: 1, Maps: 2, NameLabels: true},
			want: []string{`"Label":"Map1"`, `"Label":"Map2"`, `"ToleratedFailurePercentage":0.0`},
		},
		{name: "negative maps", d: DistributedMap{Maps: -1}, wantErr: "maps -1"},
		{name: "negative max concurrency", d: DistributedMap{MaxConcurrency: -1}, wantErr: "max concurrency -1"},
		{name: "negative count", d: DistributedMap{ToleratedFailureCount: -1}, wantErr: "tolerated failure count -1"},
		{name: "percentage not a number", d: DistributedMap{ToleratedFailurePercentage: math.NaN()}, wantErr: "percentage NaN"},
		{name: "negative wait", d: DistributedMap{WaitSeconds: -1}, wantErr: "wait seconds -1"},
		{name: "negative wait step", d: DistributedMap{WaitStepSeconds: -1}, wantErr: "wait step seconds -1"},
		{name: "percentage above 100", d: DistributedMap{ToleratedFailurePercentage: 101}, wantErr: "percentage 101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, err := tt.d.Definition()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Definition error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid([]byte(def)) {
				t.Fatalf("definition is not JSON: %s", def)
			}
			for _, w := range tt.want {
				if !strings.Contains(def, w) {
					t.Errorf("definition %s lacks %s", def, w)
				}
			}
		})
	}
}

func TestDistributedMapInput(t *testing.T) {
	tests := []struct {
		d    DistributedMap
		want string
	}{
		{DistributedMap{Items: 3, WaitSeconds: 2}, `{"items":[{"wait":2},{"wait":2},{"wait":2}]}`},
		{DistributedMap{Items: 3, WaitSeconds: 1, WaitStepSeconds: 2}, `{"items":[{"wait":1},{"wait":3},{"wait":5}]}`},
		{DistributedMap{Items: 1}, `{"items":[{"wait":0}]}`},
	}
	for _, tc := range tests {
		got, err := tc.d.input()
		if err != nil || got != tc.want {
			t.Errorf("input of %+v = %s, %v; want %s", tc.d, got, err, tc.want)
		}
	}
}

func TestStartDistributedMapAgainstMoto(t *testing.T) {
	m := startMoto(t)
	client := m.SFN(DefaultRegion)
	ctx := context.Background()
	st, err := StartDistributedMap(ctx, client, DistributedMap{
		Name: "sample", Execution: "e1", Maps: 2, Items: 3, WaitStepSeconds: 1, MaxConcurrency: 2,
		NameLabels: true, Tags: map[string]string{"maptuner:policy": "default", "team": "data"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(st.ExecutionARN, ":execution:sample:e1") || !strings.HasSuffix(st.StateMachineARN, ":stateMachine:sample") || st.StartDate.IsZero() {
		t.Fatalf("Started = %+v", st)
	}
	if len(st.MapRunARNs) != 2 {
		t.Fatalf("map runs %v, want 2", st.MapRunARNs)
	}
	for _, arn := range st.MapRunARNs {
		if !strings.Contains(arn, ":mapRun:sample/Map1:") && !strings.Contains(arn, ":mapRun:sample/Map2:") {
			t.Errorf("map run %s is not labelled Map1 or Map2", arn)
		}
	}
	tags, err := client.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String(st.StateMachineARN)})
	if err != nil || len(tags.Tags) != 2 {
		t.Fatalf("tags = %v, %v; want 2", tags, err)
	}

	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // a hang guard only
	defer cancel()
	status, err := WaitExecution(wctx, client, st.ExecutionARN)
	if err != nil || status != types.ExecutionStatusSucceeded {
		t.Fatalf("WaitExecution = %s, %v; want SUCCEEDED", status, err)
	}
}

func TestStartDistributedMapFailures(t *testing.T) {
	m := startMoto(t)
	client := m.SFN(DefaultRegion)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		d       DistributedMap
		wantErr string
	}{
		{name: "no name", ctx: context.Background(), d: DistributedMap{Items: 1}, wantErr: "no state machine name"},
		{name: "no items", ctx: context.Background(), d: DistributedMap{Name: "x"}, wantErr: "items 0, want >= 1"},
		{name: "bad definition", ctx: context.Background(), d: DistributedMap{Name: "x", Items: 1, WaitSeconds: -2}, wantErr: "wait seconds -2"},
		{name: "bad name", ctx: context.Background(), d: DistributedMap{Name: "has space", Items: 1}, wantErr: `create state machine "has space"`},
		{name: "context canceled", ctx: canceled, d: DistributedMap{Name: "y", Items: 1}, wantErr: "context canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := StartDistributedMap(tc.ctx, client, tc.d)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("StartDistributedMap error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := WaitExecution(context.Background(), client, "arn:aws:states:us-east-1:123456789012:execution:none:e"); err == nil ||
		!strings.Contains(err.Error(), "describe execution arn:aws:states:us-east-1:123456789012:execution:none:e") {
		t.Fatalf("WaitExecution of a missing execution: error = %v, want one naming it", err)
	}
}
