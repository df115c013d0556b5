package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"
)

func TestFaultDefaults(t *testing.T) {
	sc := parse(t, steady+`
faults:
  api: [{operations: [DescribeMapRun], latency: {min: 40ms}}, {latency: {min: 10ms, max: 30ms}}]
  metricGaps: [{at: 1m, for: 2m}, {at: 1m, for: 2m, missing: 0.25}]
`)
	f := sc.Faults
	checks := []struct {
		name      string
		got, want any
	}{
		{"fixed latency", *f.API[0].Latency, DelaySpec{Min: 40 * time.Millisecond, Max: 40 * time.Millisecond}},
		{"latency range", *f.API[1].Latency, DelaySpec{Min: 10 * time.Millisecond, Max: 30 * time.Millisecond}},
		{"gap missing", f.MetricGaps[0].Missing, 1.0},
		{"gap missing set", f.MetricGaps[1].Missing, 0.25},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestFaultValidation(t *testing.T) {
	tests := []struct {
		name, faults string
		want         []string
	}{
		{"unknown operation", "{api: [{operations: [StartExecution], errorRate: 0.1}]}",
			[]string{`faults.api[0].operations[0]: "StartExecution" is not one of DescribeMapRun`}},
		{"operation twice", "{api: [{operations: [DescribeMapRun]}, {operations: [ListMapRuns, DescribeMapRun]}]}",
			[]string{"faults.api[1].operations[1]: DescribeMapRun is named in faults.api[0] already"}},
		{"two catch-alls", "{api: [{errorRate: 0.1}, {throttleRate: 0.1}]}",
			[]string{"faults.api[1].operations: empty, as in faults.api[0]"}},
		{"rates", "{api: [{errorRate: -0.1, throttleRate: 1.5}]}",
			[]string{"faults.api[0].errorRate: -0.1 is outside [0, 1]", "faults.api[0].throttleRate: 1.5 is outside [0, 1]"}},
		{"rates sum", "{api: [{errorRate: 0.6, throttleRate: 0.6}]}",
			[]string{"faults.api[0]: errorRate + throttleRate is 1.2, more than 1"}},
		{"latency order", "{api: [{latency: {min: 2s, max: 1s}}]}",
			[]string{"faults.api[0].latency: [2s, 1s] is not a range within [0, 1m0s]"}},
		{"latency too long", "{api: [{latency: {min: 2m}}]}",
			[]string{"faults.api[0].latency: [2m0s, 2m0s]"}},
		{"gap window", "{metricGaps: [{at: -1m, for: 0s}]}",
			[]string{"faults.metricGaps[0]: window [-1m0s, -1m0s)"}},
		{"gap longer than horizon", "{metricGaps: [{at: 0s, for: 7h}]}",
			[]string{"faults.metricGaps[0]: window [0s, 7h0m0s)"}},
		{"gap missing", "{metricGaps: [{at: 0s, for: 1m, missing: 1.5}]}",
			[]string{"faults.metricGaps[0].missing: 1.5 is outside (0, 1]"}},
		{"gap selector", "{metricGaps: [{at: 0s, for: 1m, namespace: \"\\x01\", dimensions: {FunctionName: \"\"}}]}",
			[]string{"faults.metricGaps[0].namespace", "faults.metricGaps[0].dimensions.FunctionName"}},
		{"unknown field", "{api: [{errorRate: 0.1, colour: red}]}",
			[]string{"field colour not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario("test.yaml", []byte(steady+"faults: "+tt.faults+"\n"))
			if !errors.Is(err, ErrInvalidScenario) {
				t.Fatalf("error %v does not wrap ErrInvalidScenario", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// outcome classifies an API error: "" for none, then "throttle", "error"
// (a server error with the fault's code) or the error text.
func outcome(err error) string {
	var ae smithy.APIError
	switch {
	case err == nil:
		return ""
	case isThrottle(err):
		return "throttle"
	case errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultServer:
		return "error"
	}
	return err.Error()
}

// describeN makes n DescribeMapRun calls a second apart, so that the quota
// never runs out, and returns their outcomes.
func describeN(t *testing.T, w *World, n int) []string {
	t.Helper()
	arn := w.MapRunARNs()[0]
	out := make([]string, n)
	for i := range out {
		_, err := w.SFN().DescribeMapRun(context.Background(), &sfn.DescribeMapRunInput{MapRunArn: aws.String(arn)})
		out[i] = outcome(err)
		w.Advance(time.Second)
	}
	return out
}

func TestAPIFaultRates(t *testing.T) {
	const faults = "faults: {api: [{operations: [DescribeMapRun], errorRate: 0.3, throttleRate: 0.2}]}\n"
	w := started(t, steady+faults, 7)
	got := describeN(t, w, 1000)
	counts := map[string]int{}
	for _, o := range got {
		counts[o]++
	}
	if len(counts) != 3 {
		t.Fatalf("outcomes %v, want only none, throttle and error", counts)
	}
	if e := counts["error"]; e < 250 || e > 350 {
		t.Errorf("%d server errors in 1000 calls, want about 300", e)
	}
	if th := counts["throttle"]; th < 150 || th > 250 {
		t.Errorf("%d throttles in 1000 calls, want about 200", th)
	}
	api := w.Result().API
	if api.Errors["DescribeMapRun"] != int64(counts["error"]) || api.Throttled["DescribeMapRun"] != int64(counts["throttle"]) ||
		api.Calls["DescribeMapRun"] != 1000 || api.TotalErrors != int64(counts["error"]) {
		t.Errorf("API stats calls %d, errors %d (total %d), throttled %d; want 1000, %d, %d",
			api.Calls["DescribeMapRun"], api.Errors["DescribeMapRun"], api.TotalErrors, api.Throttled["DescribeMapRun"], counts["error"], counts["throttle"])
	}
	var ae smithy.APIError
	_, err := func() (*sfn.DescribeMapRunOutput, error) {
		for {
			out, err := w.SFN().DescribeMapRun(context.Background(), &sfn.DescribeMapRunInput{MapRunArn: aws.String(w.MapRunARNs()[0])})
			if outcome(err) == "error" {
				return out, err
			}
			w.Advance(time.Second)
		}
	}()
	var oe *smithy.OperationError
	if !errors.As(err, &oe) || oe.Operation() != "DescribeMapRun" || !errors.As(err, &ae) || ae.ErrorCode() != InternalFailureCode {
		t.Errorf("server error %v: want an OperationError of DescribeMapRun with code %s", err, InternalFailureCode)
	}
	// Other operations are untouched.
	for i := range 50 {
		if _, err := w.SFN().ListMapRuns(context.Background(), &sfn.ListMapRunsInput{ExecutionArn: aws.String(w.Parents()[0].ExecutionARN)}); err != nil {
			t.Fatalf("ListMapRuns call %d: %v", i, err)
		}
		w.Advance(time.Second)
	}
}

func TestAPIFaultsAreDeterministic(t *testing.T) {
	const faults = "faults: {api: [{errorRate: 0.1, throttleRate: 0.1}]}\n"
	a := describeN(t, started(t, steady+faults, 3), 200)
	b := describeN(t, started(t, steady+faults, 3), 200)
	c := describeN(t, started(t, steady+faults, 4), 200)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("the same seed and calls met different faults")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("another seed met the same faults")
	}
}

func TestAPIFaultEntries(t *testing.T) {
	const faults = "faults: {api: [{operations: [DescribeMapRun], errorRate: 0}, {throttleRate: 1}]}\n"
	w := started(t, steady+faults, 1)
	for i, o := range describeN(t, w, 20) {
		if o != "" {
			t.Fatalf("DescribeMapRun call %d: %q; the named entry has no fault", i, o)
		}
	}
	_, err := w.SFN().ListMapRuns(context.Background(), &sfn.ListMapRunsInput{ExecutionArn: aws.String(w.Parents()[0].ExecutionARN)})
	if !isThrottle(err) {
		t.Errorf("ListMapRuns: %v, want the catch-all's throttle", err)
	}
	_, err = w.CloudWatch().GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(DefaultStart), EndTime: aws.Time(DefaultStart.Add(time.Hour)), MetricDataQueries: []cwtypes.MetricDataQuery{throttles},
	})
	if !isThrottle(err) {
		t.Errorf("GetMetricData: %v, want the catch-all's throttle", err)
	}
	// A faulted call spends no token: the quota is whole after 500 throttles.
	for range 500 {
		_, _ = w.SFN().ListMapRuns(context.Background(), &sfn.ListMapRunsInput{ExecutionArn: aws.String(w.Parents()[0].ExecutionARN)})
	}
	if got := w.quota.tokens[apiListMapRuns]; got != quotaTable[apiListMapRuns].bucket {
		t.Errorf("ListMapRuns tokens %v after faulted calls, want the full bucket %v", got, quotaTable[apiListMapRuns].bucket)
	}
}

func TestGetMetricDataServerFault(t *testing.T) {
	w := started(t, steady+"faults: {api: [{operations: [GetMetricData], errorRate: 1}]}\n", 1)
	_, err := w.CloudWatch().GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(DefaultStart), EndTime: aws.Time(DefaultStart.Add(time.Hour)), MetricDataQueries: []cwtypes.MetricDataQuery{throttles},
	})
	var fault *cwtypes.InternalServiceFault
	if !errors.As(err, &fault) {
		t.Fatalf("GetMetricData: %v, want an InternalServiceFault", err)
	}
	if got := w.Result().API.Errors["GetMetricData"]; got != 1 {
		t.Errorf("GetMetricData errors %d, want 1", got)
	}
}

func TestCallLatency(t *testing.T) {
	const faults = "faults: {api: [{operations: [DescribeMapRun], latency: {min: 50ms}}, {operations: [ListMapRuns], latency: {min: 10ms, max: 90ms}}]}\n"
	w := started(t, steady+faults, 1)
	if got := w.CallLatency("DescribeMapRun"); got != 0 {
		t.Errorf("latency before any call = %s, want 0", got)
	}
	describeN(t, w, 1)
	if got := w.CallLatency("DescribeMapRun"); got != 50*time.Millisecond {
		t.Errorf("fixed latency = %s, want 50ms", got)
	}
	for _, op := range []string{"GetMetricData", "StartExecution"} {
		if got := w.CallLatency(op); got != 0 {
			t.Errorf("latency of %s = %s, want 0", op, got)
		}
	}
	draw := func(w *World) []time.Duration {
		var out []time.Duration
		for range 100 {
			_, _ = w.SFN().ListMapRuns(context.Background(), &sfn.ListMapRunsInput{ExecutionArn: aws.String(w.Parents()[0].ExecutionARN)})
			out = append(out, w.CallLatency("ListMapRuns"))
			w.Advance(time.Second)
		}
		return out
	}
	got := draw(w)
	distinct := map[time.Duration]bool{}
	for i, d := range got {
		if d < 10*time.Millisecond || d > 90*time.Millisecond {
			t.Fatalf("call %d: latency %s outside [10ms, 90ms]", i, d)
		}
		distinct[d] = true
	}
	if len(distinct) < 50 {
		t.Errorf("%d distinct latencies in 100 calls: want a spread", len(distinct))
	}
	w2 := started(t, steady+faults, 1)
	describeN(t, w2, 1)
	if fmt.Sprint(draw(w2)) != fmt.Sprint(got) {
		t.Error("the same seed and calls drew other latencies")
	}
}

func TestMetricGapFaults(t *testing.T) {
	states := query("e", "AWS/States", "ExecutionsStarted", map[string]string{"StateMachineArn": labelledARN("sm", "L")}, 60, "Sum")
	tests := []struct {
		name    string
		gaps    string
		q       cwtypes.MetricDataQuery
		missing []int
		present []int
	}{
		{"gap on the metric", "[{namespace: AWS/Lambda, name: Throttles, at: 10m, for: 5m}]", throttles,
			[]int{10, 11, 12, 13, 14}, []int{9, 15, 30}},
		{"other metrics untouched", "[{namespace: AWS/Lambda, name: Throttles, at: 10m, for: 5m}]", states,
			nil, []int{9, 10, 11, 12, 13, 14, 15}},
		{"dimension selector", "[{dimensions: {FunctionName: fn}, at: 0s, for: 3m}]", throttles,
			[]int{0, 1, 2}, []int{3, 4}},
		{"dimension selector misses", "[{dimensions: {FunctionName: other}, at: 0s, for: 3m}]", throttles,
			nil, []int{0, 1, 2, 3}},
		{"any metric", "[{at: 20m, for: 1m}]", states,
			[]int{20}, []int{19, 21}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := started(t, steady+"horizon: 3h\ncloudwatch: {delay: {min: 0s, max: 0s}}\nfaults: {metricGaps: "+tt.gaps+"}\n", 1)
			w.Advance(40 * time.Minute)
			got := visible(t, w, tt.q)
			for _, m := range tt.missing {
				if _, ok := got[m]; ok {
					t.Errorf("minute %d published, want a gap", m)
				}
			}
			for _, m := range tt.present {
				if _, ok := got[m]; !ok {
					t.Errorf("minute %d missing, want published", m)
				}
			}
		})
	}
	t.Run("partial gap", func(t *testing.T) {
		const text = steady + "horizon: 3h\ncloudwatch: {delay: {min: 0s, max: 0s}}\nfaults: {metricGaps: [{at: 0s, for: 100m, missing: 0.5}]}\n"
		w := started(t, text, 1)
		w.Advance(100 * time.Minute)
		got := visible(t, w, throttles)
		if f := float64(len(got)) / 100; f < 0.35 || f > 0.65 {
			t.Errorf("%.2f of minutes published, want about half", f)
		}
		w2 := started(t, text, 1)
		w2.Advance(100 * time.Minute)
		if fmt.Sprint(visible(t, w2, throttles)) != fmt.Sprint(got) {
			t.Error("the same seed left other gaps")
		}
	})
}

// TestDocumentedFaults parses the fault knobs example of docs/scenarios.md.
func TestDocumentedFaults(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\nfaults:\n")
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("docs/scenarios.md has no faults example")
	}
	sc := parse(t, steady+"faults:\n"+block)
	f := sc.Faults
	if len(f.API) != 2 || f.API[0].ThrottleRate != 0.05 || f.API[1].Latency.Max != 20*time.Millisecond || len(f.MetricGaps) != 2 || f.MetricGaps[1].Missing != 0.05 {
		t.Errorf("documented faults parse to %+v", f)
	}
}
