package observe

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
)

var (
	t0     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	idRule = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
)

func minute(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

func lambdaQuery(id, fn string) MetricQuery {
	return MetricQuery{ID: id, Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"FunctionName": fn}}
}

func result(id string, status cwtypes.StatusCode, pts ...float64) cwtypes.MetricDataResult {
	r := cwtypes.MetricDataResult{Id: aws.String(id), StatusCode: status}
	for i := 0; i+1 < len(pts); i += 2 {
		r.Timestamps = append(r.Timestamps, minute(int(pts[i])))
		r.Values = append(r.Values, pts[i+1])
	}
	return r
}

func equalPoints(a, b []control.Datapoint) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if !a[i].Minute.Equal(b[i].Minute) || a[i].Value != b[i].Value {
			return false
		}
	}
	return true
}

func pts(kv ...float64) []control.Datapoint {
	out := []control.Datapoint{}
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, control.Datapoint{Minute: minute(int(kv[i])), Value: kv[i+1]})
	}
	return out
}

func TestSeries(t *testing.T) {
	queries := []MetricQuery{
		lambdaQuery("arn:aws:states:us-east-1:1:mapRun:a/B:c#0", "f1"),
		lambdaQuery("run 2 / signal 0", "f2"),
		{ID: "ddb", Namespace: "AWS/DynamoDB", Metric: "WriteThrottleEvents", Stat: "Sum", Dimensions: map[string]string{"TableName": "t", "Operation": "PutItem"}},
	}
	tests := []struct {
		name      string
		budget    int
		pages     []*cloudwatch.GetMetricDataOutput
		callErr   error
		want      map[string][]control.Datapoint
		wantErr   error
		errNames  []string
		wantCalls int
	}{
		{
			name: "maps ids back, sorts by minute", budget: 5, wantCalls: 1,
			pages: []*cloudwatch.GetMetricDataOutput{{MetricDataResults: []cwtypes.MetricDataResult{
				result("m1", cwtypes.StatusCodeComplete, 3, 0, 1, 5),
				result("m0", cwtypes.StatusCodeComplete, 2, 4, 1, 1, 0, 0),
				result("m2", cwtypes.StatusCodeComplete),
			}}},
			want: map[string][]control.Datapoint{
				queries[0].ID: pts(0, 0, 1, 1, 2, 4),
				queries[1].ID: pts(1, 5, 3, 0),
				queries[2].ID: {},
			},
		},
		{
			name: "missing result gives no entry", budget: 5, wantCalls: 1,
			pages: []*cloudwatch.GetMetricDataOutput{{MetricDataResults: []cwtypes.MetricDataResult{
				result("m0", cwtypes.StatusCodeComplete, 0, 2),
				result("m9", cwtypes.StatusCodeComplete, 0, 9),
			}}},
			want: map[string][]control.Datapoint{queries[0].ID: pts(0, 2)},
		},
		{
			name: "partial data continues on the next page", budget: 5, wantCalls: 2,
			pages: []*cloudwatch.GetMetricDataOutput{
				{
					MetricDataResults: []cwtypes.MetricDataResult{
						result("m0", cwtypes.StatusCodePartialData, 0, 1, 1, 2),
						result("m1", cwtypes.StatusCodeComplete, 0, 7),
						result("m2", cwtypes.StatusCodePartialData, 0, 3),
					},
					NextToken: aws.String("next"),
				},
				{MetricDataResults: []cwtypes.MetricDataResult{
					result("m0", cwtypes.StatusCodeComplete, 2, 3),
					result("m2", cwtypes.StatusCodeComplete, 1, 4),
				}},
			},
			want: map[string][]control.Datapoint{
				queries[0].ID: pts(0, 1, 1, 2, 2, 3),
				queries[1].ID: pts(0, 7),
				queries[2].ID: pts(0, 3, 1, 4),
			},
		},
		{
			name: "failed queries are named, the rest returned", budget: 5, wantCalls: 1,
			pages: []*cloudwatch.GetMetricDataOutput{{MetricDataResults: []cwtypes.MetricDataResult{
				result("m0", cwtypes.StatusCodeComplete, 0, 1),
				{Id: aws.String("m1"), StatusCode: cwtypes.StatusCodeInternalError, Messages: []cwtypes.MessageData{{Code: aws.String("InternalError"), Value: aws.String("try later")}}},
				result("m2", cwtypes.StatusCodeForbidden),
			}}},
			want:     map[string][]control.Datapoint{queries[0].ID: pts(0, 1)},
			wantErr:  ErrIncomplete,
			errNames: []string{queries[1].ID, "InternalError", "try later", `"ddb": status Forbidden`},
		},
		{
			name: "partial data at the last page is incomplete", budget: 5, wantCalls: 1,
			pages: []*cloudwatch.GetMetricDataOutput{{
				MetricDataResults: []cwtypes.MetricDataResult{result("m0", cwtypes.StatusCodePartialData, 0, 1)},
				Messages:          []cwtypes.MessageData{{Code: aws.String("MaxDatapointsExceeded"), Value: aws.String("too many")}},
			}},
			want:     map[string][]control.Datapoint{},
			wantErr:  ErrIncomplete,
			errNames: []string{queries[0].ID, "PartialData", "MaxDatapointsExceeded"},
		},
		{
			name: "timestamps and values of different lengths", budget: 5, wantCalls: 1,
			pages: []*cloudwatch.GetMetricDataOutput{{MetricDataResults: []cwtypes.MetricDataResult{
				{Id: aws.String("m0"), StatusCode: cwtypes.StatusCodeComplete, Timestamps: []time.Time{t0}, Values: []float64{1, 2}},
			}}},
			want:     map[string][]control.Datapoint{},
			wantErr:  ErrIncomplete,
			errNames: []string{"1 timestamps for 2 values"},
		},
		{
			name: "budget runs out between pages", budget: 1, wantCalls: 1,
			pages: []*cloudwatch.GetMetricDataOutput{{
				MetricDataResults: []cwtypes.MetricDataResult{result("m0", cwtypes.StatusCodePartialData, 0, 1)},
				NextToken:         aws.String("next"),
			}},
			want:    map[string][]control.Datapoint{},
			wantErr: budget.ErrExhausted,
		},
		{
			name: "call error", budget: 5, wantCalls: 1, callErr: errUnexpected,
			want:    map[string][]control.Datapoint{},
			wantErr: errUnexpected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeMetrics{fn: func(in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
				if tt.callErr != nil {
					return nil, tt.callErr
				}
				i := 0
				if in.NextToken != nil {
					i = 1
				}
				return tt.pages[i], nil
			}}
			o := &Observer{Metrics: f, Budget: budgetOf(t, tt.budget)}
			got, err := o.Series(context.Background(), queries, t0.Add(-10*time.Minute), t0.Add(5*time.Minute))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Series error = %v, want %v", err, tt.wantErr)
				}
				for _, s := range tt.errNames {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("Series error %q does not name %q", err, s)
					}
				}
			} else if err != nil {
				t.Fatalf("Throttles: %v", err)
			}
			if len(f.requests) != tt.wantCalls {
				t.Errorf("GetMetricData calls = %d, want %d", len(f.requests), tt.wantCalls)
			}
			if len(got) != len(tt.want) {
				t.Errorf("Series = %v, want %v", got, tt.want)
			}
			for id, want := range tt.want {
				if g, ok := got[id]; !ok || !equalPoints(g, want) {
					t.Errorf("Series[%q] = %v (present %v), want %v", id, g, ok, want)
				}
			}
		})
	}
}

func TestSeriesRequest(t *testing.T) {
	f := &fakeMetrics{fn: func(in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
		return &cloudwatch.GetMetricDataOutput{}, nil
	}}
	o := &Observer{Metrics: f, Budget: bigBudget(t)}
	q := MetricQuery{ID: "Run#0", Namespace: "Custom", Metric: "429s", Stat: "p99", Dimensions: map[string]string{"b": "2", "a": "1"}}
	if _, err := o.Series(context.Background(), []MetricQuery{q}, t0.Add(-90*time.Second), t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 1 {
		t.Fatalf("GetMetricData calls = %d, want 1", len(f.requests))
	}
	in := f.requests[0]
	if !aws.ToTime(in.StartTime).Equal(t0.Add(-2*time.Minute)) || !aws.ToTime(in.EndTime).Equal(t0.Add(time.Minute)) {
		t.Errorf("window = [%s, %s), want [%s, %s): rounded out to whole minutes",
			aws.ToTime(in.StartTime), aws.ToTime(in.EndTime), t0.Add(-2*time.Minute), t0.Add(time.Minute))
	}
	m := in.MetricDataQueries[0]
	ms := m.MetricStat
	if aws.ToString(m.Id) != "m0" || aws.ToInt32(ms.Period) != 60 || aws.ToString(ms.Stat) != "p99" ||
		aws.ToString(ms.Metric.Namespace) != "Custom" || aws.ToString(ms.Metric.MetricName) != "429s" || !aws.ToBool(m.ReturnData) {
		t.Errorf("query = %+v / %+v", m, ms)
	}
	if len(ms.Metric.Dimensions) != 2 || aws.ToString(ms.Metric.Dimensions[0].Name) != "a" || aws.ToString(ms.Metric.Dimensions[1].Value) != "2" {
		t.Errorf("dimensions = %+v, want a=1, b=2 in name order", ms.Metric.Dimensions)
	}
}

func TestSeriesSplitsAt500(t *testing.T) {
	const n = 1201
	queries := make([]MetricQuery, n)
	for i := range queries {
		queries[i] = lambdaQuery(fmt.Sprintf("run-%d", i), fmt.Sprintf("f%d", i))
	}
	f := &fakeMetrics{fn: func(in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
		out := &cloudwatch.GetMetricDataOutput{}
		for _, q := range in.MetricDataQueries {
			fn := aws.ToString(q.MetricStat.Metric.Dimensions[0].Value)
			var v float64
			if _, err := fmt.Sscanf(fn, "f%g", &v); err != nil {
				return nil, err
			}
			out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{
				Id: q.Id, StatusCode: cwtypes.StatusCodeComplete, Timestamps: []time.Time{t0}, Values: []float64{v},
			})
		}
		return out, nil
	}}
	o := &Observer{Metrics: f, Budget: bigBudget(t)}
	got, err := o.Series(context.Background(), queries, t0.Add(-time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 3 {
		t.Fatalf("GetMetricData calls = %d, want 3 (500 + 500 + 201)", len(f.requests))
	}
	for i, want := range []int{500, 500, 201} {
		if got := len(f.requests[i].MetricDataQueries); got != want {
			t.Errorf("call %d has %d queries, want %d", i, got, want)
		}
		for _, q := range f.requests[i].MetricDataQueries {
			if !idRule.MatchString(aws.ToString(q.Id)) {
				t.Errorf("query id %q does not match %s", aws.ToString(q.Id), idRule)
			}
		}
	}
	if len(got) != n {
		t.Fatalf("got %d entries, want %d", len(got), n)
	}
	for i := range n {
		p := got[fmt.Sprintf("run-%d", i)]
		if len(p) != 1 || p[0].Value != float64(i) {
			t.Fatalf("run-%d = %v, want value %d: ids mapped back wrong", i, p, i)
		}
	}
}

func TestSeriesInvalid(t *testing.T) {
	good := lambdaQuery("a", "f")
	tests := []struct {
		name       string
		queries    []MetricQuery
		start, end time.Time
		want       string
	}{
		{"empty window", []MetricQuery{good}, t0, t0, "window"},
		{"end before start", []MetricQuery{good}, t0, t0.Add(-time.Hour), "window"},
		{"zero start", []MetricQuery{good}, time.Time{}, t0, "window"},
		{"no id", []MetricQuery{lambdaQuery("", "f")}, t0, t0.Add(time.Hour), "query 0 has no id"},
		{"repeated id", []MetricQuery{good, lambdaQuery("a", "g")}, t0, t0.Add(time.Hour), `query id "a" is repeated`},
		{"no metric", []MetricQuery{{ID: "x", Namespace: "AWS/Lambda", Stat: "Sum"}}, t0, t0.Add(time.Hour), `query "x" needs namespace, metric and stat`},
		{"empty dimension", []MetricQuery{{ID: "x", Namespace: "N", Metric: "M", Stat: "Sum", Dimensions: map[string]string{"FunctionName": ""}}}, t0, t0.Add(time.Hour), "dimension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeMetrics{}
			_, err := (&Observer{Metrics: f, Budget: bigBudget(t)}).Series(context.Background(), tt.queries, tt.start, tt.end)
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Series error = %v, want ErrInvalidInput naming %q", err, tt.want)
			}
			if len(f.requests) != 0 {
				t.Errorf("made %d calls for invalid input", len(f.requests))
			}
		})
	}
	t.Run("too many dimensions", func(t *testing.T) {
		q := MetricQuery{ID: "x", Namespace: "N", Metric: "M", Stat: "Sum", Dimensions: map[string]string{}}
		for i := range 31 {
			q.Dimensions[fmt.Sprint("d", i)] = "v"
		}
		_, err := (&Observer{Metrics: &fakeMetrics{}, Budget: bigBudget(t)}).Series(context.Background(), []MetricQuery{q}, t0, t0.Add(time.Hour))
		if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "31 dimensions") {
			t.Fatalf("Series error = %v, want ErrInvalidInput naming 31 dimensions", err)
		}
	})
	t.Run("no queries makes no call", func(t *testing.T) {
		f := &fakeMetrics{}
		got, err := (&Observer{Metrics: f, Budget: bigBudget(t)}).Series(context.Background(), nil, t0, t0.Add(time.Hour))
		if err != nil || len(got) != 0 || len(f.requests) != 0 {
			t.Fatalf("Throttles(nil) = %v, %v with %d calls; want empty, nil, 0", got, err, len(f.requests))
		}
	})
}
