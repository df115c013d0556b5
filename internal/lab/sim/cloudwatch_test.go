package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
)

// steady is a run that calls its downstream every minute for an hour and
// more, throttled now and then.
const steady = `
downstreams: [{name: fn, concurrency: 8}]
runs: [{stateMachine: sm, label: L, downstream: fn, items: 100000, maxConcurrency: 10, toleratedFailurePercentage: 100, duration: {dist: fixed, value: 10s}}]
`

func query(id, namespace, name string, dims map[string]string, period int32, stat string) cwtypes.MetricDataQuery {
	var ds []cwtypes.Dimension
	for _, k := range sortedKeys(dims) {
		ds = append(ds, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(dims[k])})
	}
	return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{
		Metric: &cwtypes.Metric{Namespace: aws.String(namespace), MetricName: aws.String(name), Dimensions: ds},
		Period: aws.Int32(period), Stat: aws.String(stat),
	}}
}

var throttles = query("t", "AWS/Lambda", "Throttles", map[string]string{"FunctionName": "fn"}, 60, "Sum")

// visible returns the minutes (from the world's start) of the datapoints a
// query sees now over the first two hours.
func visible(t *testing.T, w *World, q cwtypes.MetricDataQuery) map[int]float64 {
	t.Helper()
	out, err := w.CloudWatch().GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(DefaultStart), EndTime: aws.Time(DefaultStart.Add(2 * time.Hour)),
		MetricDataQueries: []cwtypes.MetricDataQuery{q},
	})
	if err != nil {
		t.Fatalf("get metric data: %v", err)
	}
	got := map[int]float64{}
	for _, r := range out.MetricDataResults {
		for i, ts := range r.Timestamps {
			got[int(ts.Sub(DefaultStart)/time.Minute)] = r.Values[i]
		}
	}
	return got
}

// TestMetricDelay checks that a minute's datapoint appears only its delay
// after the minute closes, with a delay drawn per datapoint.
func TestMetricDelay(t *testing.T) {
	t.Run("fixed delay", func(t *testing.T) {
		w := started(t, steady+"cloudwatch: {delay: {min: 2m, max: 2m}}\n", 1)
		checks := []struct {
			at   time.Duration
			want int
		}{{2*time.Minute + 59*time.Second, 0}, {3 * time.Minute, 1}, {5*time.Minute + 30*time.Second, 3}}
		for _, c := range checks {
			w.Advance(c.at - w.Now().Sub(DefaultStart))
			if got := visible(t, w, throttles); len(got) != c.want {
				t.Errorf("at %s: %d datapoints %v, want %d", c.at, len(got), got, c.want)
			}
		}
	})
	t.Run("drawn delay", func(t *testing.T) {
		w := started(t, steady+"cloudwatch: {delay: {min: 1m, max: 3m}}\n", 1)
		w.Advance(30 * time.Minute)
		got := visible(t, w, throttles)
		for m := range 30 {
			_, ok := got[m]
			switch {
			case m <= 25 && !ok:
				t.Errorf("minute %d: not published 4 minutes after it closed", m)
			case m >= 28 && ok:
				t.Errorf("minute %d: published less than 1 minute after it closed", m)
			}
		}
		late := 0
		for at := 10 * time.Minute; at < 20*time.Minute; at += 10 * time.Second {
			w2 := started(t, steady+"cloudwatch: {delay: {min: 1m, max: 3m}}\n", 1)
			w2.Advance(at)
			if _, ok := visible(t, w2, throttles)[int(at/time.Minute)-3]; !ok {
				late++
			}
		}
		if late == 0 || late == 60 {
			t.Errorf("%d of 60 looks saw the datapoint of 3 minutes ago late: want some, not all", late)
		}
	})
}

// TestMetricValues checks the statistics against the run's own counts.
func TestMetricValues(t *testing.T) {
	w := started(t, steady+"cloudwatch: {delay: {min: 0s, max: 0s}}\n", 1)
	w.Advance(20 * time.Minute)
	series := w.Result().Runs[0].Series
	dims := map[string]string{"FunctionName": "fn"}
	sum := visible(t, w, query("s", "AWS/Lambda", "Throttles", dims, 60, "Sum"))
	count := visible(t, w, query("c", "AWS/Lambda", "Throttles", dims, 60, "SampleCount"))
	avg := visible(t, w, query("a", "AWS/Lambda", "Throttles", dims, 60, "Average"))
	maxv := visible(t, w, query("x", "AWS/Lambda", "Throttles", dims, 60, "Maximum"))
	minv := visible(t, w, query("n", "AWS/Lambda", "Throttles", dims, 60, "Minimum"))
	two := visible(t, w, query("p", "AWS/Lambda", "Throttles", dims, 120, "Sum"))
	started := visible(t, w, query("e", "AWS/States", "ExecutionsStarted", map[string]string{"StateMachineArn": labelledARN("sm", "L")}, 60, "Sum"))
	if len(sum) != 20 {
		t.Fatalf("%d minutes of Throttles, want 20", len(sum))
	}
	var throttled int
	for m := range 20 {
		p := series[m]
		if sum[m] != float64(p.Throttles) || count[m] != float64(p.Calls) || started[m] != float64(p.Started) {
			t.Errorf("minute %d: sum %v count %v started %v, want %d %d %d", m, sum[m], count[m], started[m], p.Throttles, p.Calls, p.Started)
		}
		if avg[m] != sum[m]/count[m] || minv[m] != 0 {
			t.Errorf("minute %d: average %v minimum %v", m, avg[m], minv[m])
		}
		if p.Throttles > 0 {
			throttled++
			if maxv[m] != 1 {
				t.Errorf("minute %d: maximum %v, want 1", m, maxv[m])
			}
		}
		if m%2 == 0 && two[m] != sum[m]+sum[m+1] {
			t.Errorf("two-minute period at %d: %v, want %v", m, two[m], sum[m]+sum[m+1])
		}
	}
	if throttled == 0 {
		t.Error("no throttled minute: the test needs some")
	}
}

// TestMetricGaps checks missing datapoints and outages.
func TestMetricGaps(t *testing.T) {
	tests := []struct {
		name     string
		cw       string
		at       time.Duration
		missing  []int // minutes that must be missing
		present  []int // minutes that must be present
		fraction [2]float64
	}{
		{"outage drops", "{delay: {min: 1m, max: 1m}, outages: [{at: 10m, for: 5m}]}", 30 * time.Minute,
			[]int{8, 9, 10, 11, 12}, []int{7, 13, 27}, [2]float64{}},
		{"outage backfills at its end", "{delay: {min: 1m, max: 1m}, outages: [{at: 10m, for: 5m, backfill: true}]}", 15 * time.Minute,
			nil, []int{7, 8, 9, 10, 11, 12}, [2]float64{}},
		{"outage before its end", "{delay: {min: 1m, max: 1m}, outages: [{at: 10m, for: 5m, backfill: true}]}", 14*time.Minute + 59*time.Second,
			[]int{8, 9, 10, 11}, []int{7}, [2]float64{}},
		{"half missing", "{delay: {min: 0s, max: 0s}, missing: 0.5}", 100 * time.Minute,
			nil, nil, [2]float64{0.35, 0.65}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := started(t, steady+"horizon: 3h\ncloudwatch: "+tt.cw+"\n", 1)
			w.Advance(tt.at)
			got := visible(t, w, throttles)
			for _, m := range tt.missing {
				if _, ok := got[m]; ok {
					t.Errorf("minute %d published, want missing", m)
				}
			}
			for _, m := range tt.present {
				if _, ok := got[m]; !ok {
					t.Errorf("minute %d missing, want published", m)
				}
			}
			if tt.fraction != [2]float64{} {
				f := float64(len(got)) / tt.at.Minutes()
				if f < tt.fraction[0] || f > tt.fraction[1] {
					t.Errorf("%.2f of minutes published, want within %v", f, tt.fraction)
				}
				again := visible(t, w, throttles)
				if fmt.Sprint(again) != fmt.Sprint(got) {
					t.Error("a second query saw other gaps")
				}
			}
		})
	}
}

// TestGetMetricDataPaging checks MaxDatapoints, NextToken, ScanBy and
// ReturnData.
func TestGetMetricDataPaging(t *testing.T) {
	w := started(t, steady+"cloudwatch: {delay: {min: 0s, max: 0s}}\n", 1)
	w.Advance(5 * time.Minute)
	hidden := query("h", "AWS/Lambda", "Throttles", map[string]string{"FunctionName": "fn"}, 60, "Sum")
	hidden.ReturnData = aws.Bool(false)
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(DefaultStart), EndTime: aws.Time(DefaultStart.Add(time.Hour)),
		MetricDataQueries: []cwtypes.MetricDataQuery{
			query("a", "AWS/Lambda", "Throttles", map[string]string{"FunctionName": "fn"}, 60, "SampleCount"),
			query("b", "AWS/States", "ExecutionsStarted", map[string]string{"StateMachineArn": labelledARN("sm", "L")}, 60, "Sum"),
			hidden,
		},
		MaxDatapoints: aws.Int32(3),
		ScanBy:        cwtypes.ScanByTimestampAscending,
	}
	points := map[string][]time.Time{}
	pages := 0
	for {
		out, err := w.CloudWatch().GetMetricData(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		n := 0
		for _, r := range out.MetricDataResults {
			if aws.ToString(r.Id) == "h" {
				t.Error("a query with ReturnData false was returned")
			}
			points[aws.ToString(r.Id)] = append(points[aws.ToString(r.Id)], r.Timestamps...)
			n += len(r.Timestamps)
		}
		if n > 3 {
			t.Errorf("page %d has %d points, want at most 3", pages, n)
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 4 || len(points["a"]) != 5 || len(points["b"]) != 5 {
		t.Errorf("%d pages, %d and %d points; want 4 pages of 5 and 5", pages, len(points["a"]), len(points["b"]))
	}
	for _, ts := range points {
		for i := 1; i < len(ts); i++ {
			if !ts[i].After(ts[i-1]) {
				t.Errorf("ascending scan out of order: %v", ts)
			}
		}
	}
	in.NextToken, in.MaxDatapoints, in.ScanBy = nil, nil, ""
	out, err := w.CloudWatch().GetMetricData(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	ts := out.MetricDataResults[0].Timestamps
	if len(ts) != 5 || !ts[0].After(ts[4]) || out.MetricDataResults[0].StatusCode != cwtypes.StatusCodeComplete {
		t.Errorf("default scan: %v %s, want 5 newest first, Complete", ts, out.MetricDataResults[0].StatusCode)
	}
}

// TestGetMetricDataValidation checks the answers to bad requests.
func TestGetMetricDataValidation(t *testing.T) {
	w := started(t, steady, 1)
	good := query("m", "AWS/Lambda", "Throttles", nil, 60, "Sum")
	start, end := aws.Time(DefaultStart), aws.Time(DefaultStart.Add(time.Hour))
	with := func(f func(*cwtypes.MetricDataQuery)) []cwtypes.MetricDataQuery {
		q := good
		ms := *good.MetricStat
		q.MetricStat = &ms
		f(&q)
		return []cwtypes.MetricDataQuery{q}
	}
	many := make([]cwtypes.MetricDataQuery, 501)
	for i := range many {
		many[i] = query(fmt.Sprintf("m%d", i), "AWS/Lambda", "Throttles", nil, 60, "Sum")
	}
	invalid := is[*cwtypes.InvalidParameterValueException]
	tests := []struct {
		name string
		in   *cloudwatch.GetMetricDataInput
		want func(error) bool
	}{
		{"nil input", nil, is[smithy.InvalidParamsError]},
		{"no start", &cloudwatch.GetMetricDataInput{EndTime: end, MetricDataQueries: []cwtypes.MetricDataQuery{good}}, is[smithy.InvalidParamsError]},
		{"start after end", &cloudwatch.GetMetricDataInput{StartTime: end, EndTime: start, MetricDataQueries: []cwtypes.MetricDataQuery{good}}, invalid},
		{"no queries", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: []cwtypes.MetricDataQuery{}}, invalid},
		{"501 queries", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: many}, invalid},
		{"bad id", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: with(func(q *cwtypes.MetricDataQuery) { q.Id = aws.String("Upper") })}, invalid},
		{"duplicate id", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: []cwtypes.MetricDataQuery{good, good}}, invalid},
		{"expression", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("e"), Expression: aws.String("SUM(METRICS())")}}}, invalid},
		{"no metric stat", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("e")}}}, invalid},
		{"period 30", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: with(func(q *cwtypes.MetricDataQuery) { q.MetricStat.Period = aws.Int32(30) })}, invalid},
		{"period 90", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: with(func(q *cwtypes.MetricDataQuery) { q.MetricStat.Period = aws.Int32(90) })}, invalid},
		{"percentile", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: with(func(q *cwtypes.MetricDataQuery) { q.MetricStat.Stat = aws.String("p99") })}, invalid},
		{"max datapoints", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: []cwtypes.MetricDataQuery{good}, MaxDatapoints: aws.Int32(0)}, invalid},
		{"bad token", &cloudwatch.GetMetricDataInput{StartTime: start, EndTime: end, MetricDataQueries: []cwtypes.MetricDataQuery{good}, NextToken: aws.String("p-1")}, is[*cwtypes.InvalidNextToken]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.CloudWatch().GetMetricData(context.Background(), tt.in)
			var oe *smithy.OperationError
			if !tt.want(err) || !errors.As(err, &oe) || oe.Service() != "CloudWatch" {
				t.Errorf("error %v (%T)", err, err)
			}
		})
	}
}

// TestConcurrentExecutions checks the function's ConcurrentExecutions as
// Lambda publishes it: per function, every tenant's calls in flight, the
// neighbour's included, with the delay of the other metrics.
func TestConcurrentExecutions(t *testing.T) {
	const fn = `
downstreams: [{name: fn, concurrency: 100, neighbour: {share: 0.5, period: 20m}}]
cloudwatch: {delay: {min: 2m, max: 2m}}
`
	conc := query("c", "AWS/Lambda", "ConcurrentExecutions", map[string]string{"FunctionName": "fn"}, 60, "Maximum")
	t.Run("saturated", func(t *testing.T) {
		// A run that asks for more than the function has: together with
		// the neighbour it fills the reserved concurrency every minute.
		w := started(t, fn+"runs: [{stateMachine: sm, label: L, downstream: fn, items: 100000, maxConcurrency: 200, toleratedFailurePercentage: 100, duration: {dist: fixed, value: 10s}}]\n", 1)
		w.Advance(20 * time.Minute)
		got := visible(t, w, conc)
		if len(got) != 18 {
			t.Fatalf("%d minutes visible at 20m with a 2-minute delay, want 18: %v", len(got), got)
		}
		for m, v := range got {
			if v != 100 {
				t.Errorf("minute %d: Maximum %v, want the reserved concurrency 100", m, v)
			}
		}
	})
	t.Run("light", func(t *testing.T) {
		// A run of 10 children far below the capacity: the metric is its
		// 10 plus what the neighbour runs, which the capacity left shows.
		w := started(t, fn+"runs: [{stateMachine: sm, label: L, downstream: fn, items: 100000, maxConcurrency: 10, duration: {dist: fixed, value: 10s}}]\n", 1)
		arn := w.MapRunARNs()[0]
		var neighbour []float64 // at each minute's start
		for range 21 {
			c, err := w.Capacity(arn)
			if err != nil {
				t.Fatal(err)
			}
			neighbour = append(neighbour, 100-c)
			w.Advance(time.Minute)
		}
		got := visible(t, w, conc)
		if len(got) < 18 {
			t.Fatalf("%d minutes visible, want 18 or more: %v", len(got), got)
		}
		for m := 1; m < 18; m++ {
			lo, hi := min(neighbour[m], neighbour[m+1]), max(neighbour[m], neighbour[m+1])
			if v := got[m] - 10; v < lo || v > hi {
				t.Errorf("minute %d: Maximum %v less the run's 10 is %v, want the neighbour's, within [%v, %v]", m, got[m], v, lo, hi)
			}
		}
		if got[10]-got[1] < 40 {
			t.Errorf("Maximum %v at minute 1 and %v at 10: the neighbour's rise to half the function is not in it", got[1], got[10])
		}
	})
}

// TestDynamoDBCapacity checks what DynamoDB publishes about a provisioned
// table a downstream with a rate and a WriteThrottleEvents or
// ReadThrottleEvents metric stands for: the capacity consumed per minute
// (one unit per admitted call, throttled calls none) and, every five
// minutes, the capacity provisioned, under the throttle metric's
// dimensions and with the delay of the other metrics.
func TestDynamoDBCapacity(t *testing.T) {
	const table = `
downstreams: [{name: orders, rate: 6, burst: 300, metric: {namespace: AWS/DynamoDB, name: WriteThrottleEvents, dimensions: {TableName: orders}}}]
cloudwatch: {delay: {min: 2m, max: 2m}}
`
	dims := map[string]string{"TableName": "orders"}
	consumed := func(stat string) cwtypes.MetricDataQuery {
		return query("c", "AWS/DynamoDB", "ConsumedWriteCapacityUnits", dims, 60, stat)
	}
	provisioned := func(period int32, stat string) cwtypes.MetricDataQuery {
		return query("p", "AWS/DynamoDB", "ProvisionedWriteCapacityUnits", dims, period, stat)
	}
	// checkConsumed compares the consumed Sum and SampleCount of every
	// minute visible with the calls the run's points say were admitted.
	checkConsumed := func(t *testing.T, w *World, minutes int) (admitted, throttled []int64) {
		t.Helper()
		series := w.Result().Runs[0].Series
		sum, count := visible(t, w, consumed("Sum")), visible(t, w, consumed("SampleCount"))
		if len(sum) != minutes || len(count) != minutes {
			t.Fatalf("%d and %d minutes of consumed Sum and SampleCount visible, want %d: %v", len(sum), len(count), minutes, sum)
		}
		for m := range minutes {
			p := series[m]
			if want := float64(p.Calls - p.Throttles); sum[m] != want || count[m] != want {
				t.Errorf("minute %d: consumed Sum %v SampleCount %v, want the %v calls admitted (%d calls, %d throttled)", m, sum[m], count[m], want, p.Calls, p.Throttles)
			}
			admitted = append(admitted, p.Calls-p.Throttles)
			throttled = append(throttled, p.Throttles)
		}
		return admitted, throttled
	}
	t.Run("consumed below capacity", func(t *testing.T) {
		// 2 children of 1s each (and 200ms to their call): about 100
		// calls a minute, far below the 360 the table takes.
		w := started(t, table+"runs: [{stateMachine: sm, label: L, downstream: orders, items: 100000, maxConcurrency: 2, duration: {dist: fixed, value: 1s}}]\n", 1)
		w.Advance(20 * time.Minute)
		admitted, throttled := checkConsumed(t, w, 18)
		for m, n := range admitted {
			if n < 90 || n > 110 || throttled[m] != 0 {
				t.Errorf("minute %d: %d calls admitted and %d throttled, want about 100 (2 running / 1.2s * 60) and none", m, n, throttled[m])
			}
		}
	})
	t.Run("throttle events are sparse", func(t *testing.T) {
		// DynamoDB's throttle events have datapoints only for the minutes
		// with throttled writes: none far below the capacity, each
		// throttled minute's count above it.
		events := query("e", "AWS/DynamoDB", "WriteThrottleEvents", dims, 60, "Sum")
		w := started(t, table+"runs: [{stateMachine: sm, label: L, downstream: orders, items: 100000, maxConcurrency: 2, duration: {dist: fixed, value: 1s}}]\n", 1)
		w.Advance(20 * time.Minute)
		if got := visible(t, w, events); len(got) != 0 {
			t.Errorf("throttle events %v with no call throttled, want no datapoint", got)
		}
		w = started(t, table+"runs: [{stateMachine: sm, label: L, downstream: orders, items: 100000, maxConcurrency: 200, toleratedFailurePercentage: 100, duration: {dist: fixed, value: 10s}}]\n", 1)
		w.Advance(20 * time.Minute)
		got, series := visible(t, w, events), w.Result().Runs[0].Series
		for m := range 18 {
			if want := series[m].Throttles; want > 0 && got[m] != float64(want) || want == 0 && got[m] != 0 {
				t.Errorf("minute %d: %v throttle events, want the %d calls throttled", m, got[m], want)
			}
		}
	})
	t.Run("consumed at capacity", func(t *testing.T) {
		// 200 children of 10s each ask for about 20 calls a second: past
		// the burst, the table admits its rate, 6 a second, and the
		// throttled calls are not consumed.
		w := started(t, table+"runs: [{stateMachine: sm, label: L, downstream: orders, items: 100000, maxConcurrency: 200, toleratedFailurePercentage: 100, duration: {dist: fixed, value: 10s}}]\n", 1)
		w.Advance(20 * time.Minute)
		admitted, throttled := checkConsumed(t, w, 18)
		if admitted[0] < 600 {
			t.Errorf("minute 0: %d units consumed, want the burst of 300 and a minute of the rate", admitted[0])
		}
		for m := 2; m < 18; m++ {
			if admitted[m] < 359 || admitted[m] > 361 || throttled[m] < 100 {
				t.Errorf("minute %d: %d units consumed and %d calls throttled, want the rate's 360 and many throttled", m, admitted[m], throttled[m])
			}
		}
	})
	t.Run("provisioned", func(t *testing.T) {
		// Provisioned is published for minutes 0, 5, 10, ... only, at
		// the rate times the schedule at the minute's start: 6 until
		// the capacity halves at 12m, 3 from minute 15 on, then a ramp
		// to 12 from 20m over 10 minutes, halfway at minute 25.
		w := started(t, strings.Replace(table, "burst: 300,", "burst: 300, schedule: [{at: 12m, factor: 0.5}, {at: 20m, factor: 2, ramp: 10m}],", 1)+
			"runs: [{stateMachine: sm, label: L, downstream: orders, items: 100000, maxConcurrency: 2, duration: {dist: fixed, value: 1s}}]\n", 1)
		w.Advance(2*time.Minute + 59*time.Second)
		if got := visible(t, w, provisioned(60, "Average")); len(got) != 0 {
			t.Errorf("at 2m59s: provisioned %v, want nothing before minute 0 closes and its 2-minute delay passes", got)
		}
		w.Advance(time.Second)
		if got := visible(t, w, provisioned(60, "Average")); fmt.Sprint(got) != "map[0:6]" {
			t.Errorf("at 3m: provisioned %v, want minute 0 at 6", got)
		}
		w.Advance(27 * time.Minute)
		want := "map[0:6 5:6 10:6 15:3 20:3 25:7.5]"
		for _, stat := range []string{"Average", "Minimum", "Maximum"} {
			if got := visible(t, w, provisioned(60, stat)); fmt.Sprint(got) != want {
				t.Errorf("at 30m: provisioned %s %v, want %s", stat, got, want)
			}
		}
		if got := visible(t, w, provisioned(300, "Average")); fmt.Sprint(got) != want {
			t.Errorf("at 30m: provisioned over 5 minutes %v, want %s", got, want)
		}
	})
	t.Run("read, index", func(t *testing.T) {
		index := map[string]string{"TableName": "orders", "GlobalSecondaryIndexName": "byCustomer"}
		w := started(t, `
downstreams: [{name: orders, rate: 6, metric: {namespace: AWS/DynamoDB, name: ReadThrottleEvents, dimensions: {TableName: orders, GlobalSecondaryIndexName: byCustomer}}}]
cloudwatch: {delay: {min: 2m, max: 2m}}
runs: [{stateMachine: sm, label: L, downstream: orders, items: 100000, maxConcurrency: 2, duration: {dist: fixed, value: 1s}}]
`, 1)
		w.Advance(10 * time.Minute)
		series := w.Result().Runs[0].Series
		sum := visible(t, w, query("c", "AWS/DynamoDB", "ConsumedReadCapacityUnits", index, 60, "Sum"))
		if len(sum) != 8 {
			t.Fatalf("%d minutes of ConsumedReadCapacityUnits, want 8: %v", len(sum), sum)
		}
		for m, v := range sum {
			if p := series[m]; v != float64(p.Calls-p.Throttles) || v == 0 {
				t.Errorf("minute %d: consumed %v, want the %d calls admitted", m, v, p.Calls-p.Throttles)
			}
		}
		if got := visible(t, w, query("p", "AWS/DynamoDB", "ProvisionedReadCapacityUnits", index, 60, "Minimum")); fmt.Sprint(got) != "map[0:6 5:6]" {
			t.Errorf("provisioned read %v, want minutes 0 and 5 at 6", got)
		}
		for _, q := range []cwtypes.MetricDataQuery{
			query("w", "AWS/DynamoDB", "ConsumedWriteCapacityUnits", index, 60, "Sum"),
			query("x", "AWS/DynamoDB", "ProvisionedWriteCapacityUnits", index, 60, "Average"),
			query("t", "AWS/DynamoDB", "ConsumedReadCapacityUnits", map[string]string{"TableName": "orders"}, 60, "Sum"),
		} {
			if got := visible(t, w, q); len(got) != 0 {
				t.Errorf("%s %v: %v, want nothing", *q.MetricStat.Metric.MetricName, q.MetricStat.Metric.Dimensions, got)
			}
		}
	})
	t.Run("neighbour", func(t *testing.T) {
		// A neighbour taking up to half the rate on a 20-minute sine
		// consumes Rate * share(t) units a second, published with the
		// run's as requests of one unit each.
		w := started(t, strings.Replace(table, "burst: 300,", "burst: 300, neighbour: {share: 0.5, period: 20m},", 1)+
			"runs: [{stateMachine: sm, label: L, downstream: orders, items: 100000, maxConcurrency: 2, duration: {dist: fixed, value: 1s}}]\n", 1)
		w.Advance(25 * time.Minute)
		series := w.Result().Runs[0].Series
		sum, count := visible(t, w, consumed("Sum")), visible(t, w, consumed("SampleCount"))
		// neighbour is the units the neighbour consumes in the first m
		// minutes: the integral of 6 * 0.5 * (1 - cos(2 pi t / P)) / 2.
		neighbour := func(m int) float64 {
			p := (20 * time.Minute).Seconds()
			s := float64(m) * 60
			return 6 * 0.5 / 2 * (s - p/(2*math.Pi)*math.Sin(2*math.Pi*s/p))
		}
		var total float64
		for m := range 22 {
			p := series[m]
			if sum[m] != count[m] {
				t.Errorf("minute %d: consumed Sum %v, SampleCount %v, want one unit a request", m, sum[m], count[m])
			}
			own := sum[m] - float64(p.Calls-p.Throttles)
			total += own
			if want := neighbour(m+1) - neighbour(m); math.Abs(own-want) > 1 {
				t.Errorf("minute %d: consumed %v less the run's %d calls admitted is %v, want the neighbour's %.2f", m, sum[m], p.Calls-p.Throttles, own, want)
			}
		}
		if want := neighbour(22); math.Abs(total-want) >= 1 {
			t.Errorf("the neighbour consumed %v units in 22 minutes, want %.2f", total, want)
		}
		if got := visible(t, w, provisioned(60, "Maximum")); fmt.Sprint(got) != "map[0:6 5:6 10:6 15:6 20:6]" {
			t.Errorf("provisioned %v, want 6 every five minutes whatever the neighbour takes", got)
		}
	})
	t.Run("not a provisioned table", func(t *testing.T) {
		// A rate under a Lambda throttle metric, a DynamoDB metric with no
		// rate, and a DynamoDB metric of other throttling: no capacity
		// metric at all.
		for _, ds := range []string{
			"{name: orders, rate: 6, burst: 300}",
			"{name: orders, concurrency: 5, metric: {namespace: AWS/DynamoDB, name: WriteThrottleEvents, dimensions: {TableName: orders}}}",
			"{name: orders, rate: 6, metric: {namespace: AWS/DynamoDB, name: ThrottledRequests, dimensions: {TableName: orders, Operation: PutItem}}}",
		} {
			sc := "downstreams: [" + ds + "]\ncloudwatch: {delay: {min: 2m, max: 2m}}\n" +
				"runs: [{stateMachine: sm, label: L, downstream: orders, items: 100000, maxConcurrency: 2, duration: {dist: fixed, value: 1s}}]\n"
			w := started(t, sc, 1)
			w.Advance(10 * time.Minute)
			for k := range w.cw.byKey {
				if strings.Contains(k, "CapacityUnits") {
					t.Errorf("%s: series %q, want no capacity metric", ds, strings.ReplaceAll(k, "\x00", " "))
				}
			}
			for _, m := range parse(t, sc).Metrics() {
				if strings.Contains(m.Name, "CapacityUnits") {
					t.Errorf("%s: Metrics() lists %+v", ds, m)
				}
			}
			for _, name := range []string{"ConsumedWriteCapacityUnits", "ProvisionedWriteCapacityUnits"} {
				for _, d := range []map[string]string{{"TableName": "orders"}, {"FunctionName": "orders"}} {
					if got := visible(t, w, query("q", "AWS/DynamoDB", name, d, 60, "Maximum")); len(got) != 0 {
						t.Errorf("%s: %s %v: %v, want nothing", ds, name, d, got)
					}
				}
			}
		}
	})
}
