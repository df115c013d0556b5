package observe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
)

// ErrIncomplete is wrapped by the error Series returns when CloudWatch
// answered some queries with a status other than Complete; the map it
// returns with that error holds the queries that did complete.
var ErrIncomplete = errors.New("metric data incomplete")

// MetricQuery is one metric Series reads, one datapoint per minute.
type MetricQuery struct {
	// ID is the caller's key for the result: any non-empty string, unique
	// within one Series call.
	ID string
	// Namespace, Metric and Stat name the metric and the statistic, for
	// example "AWS/Lambda", "Throttles", "Sum"; all required.
	Namespace, Metric, Stat string
	// Dimensions are the metric's dimensions, name to value; at most 30.
	Dimensions map[string]string
}

const (
	// maxQueriesPerCall is the GetMetricData limit of queries in one call.
	maxQueriesPerCall = 500
	// maxDimensions is the CloudWatch limit of dimensions of one metric.
	maxDimensions = 30
	// metricPeriod is the period of every datapoint, in seconds.
	metricPeriod = 60
)

// Series reads the one-minute datapoints of all queries between start
// and end, each rounded out to whole minutes, in as few GetMetricData calls
// as the limits allow (500 queries a call, plus its NextToken pages), each
// call from the budget. It returns, per query ID, the datapoints (minute
// start, value) in time order.
//
// A query that CloudWatch did not answer gets no entry; one it answered
// Complete with no data gets an empty slice. When some queries completed
// and others did not (status PartialData at the last page, InternalError
// or Forbidden), the map holds the completed ones and the error wraps
// ErrIncomplete and names the others with CloudWatch's messages. When a
// call fails or the budget runs out, the map holds the queries of the calls
// already complete and the error says why; the rest get no entry.
func (o *Observer) Series(ctx context.Context, queries []MetricQuery, start, end time.Time) (map[string][]control.Datapoint, error) {
	start, end = start.UTC().Truncate(time.Minute), ceilMinute(end)
	if start.IsZero() || !end.After(start) {
		return nil, fmt.Errorf("observe: get metric data: %w: window [%s, %s) is empty", ErrInvalidInput, start, end)
	}
	if err := validateQueries(queries); err != nil {
		return nil, fmt.Errorf("observe: get metric data: %w", err)
	}
	out := make(map[string][]control.Datapoint, len(queries))
	var incomplete []string
	for chunk := range slices.Chunk(queries, maxQueriesPerCall) {
		bad, err := o.metricChunk(ctx, chunk, start, end, out)
		incomplete = append(incomplete, bad...)
		if err != nil {
			return out, fmt.Errorf("observe: get metric data: %w", err)
		}
	}
	if len(incomplete) > 0 {
		return out, fmt.Errorf("observe: get metric data: %w: %s", ErrIncomplete, strings.Join(incomplete, "; "))
	}
	return out, nil
}

// ceilMinute is t rounded up to a whole minute, in UTC.
func ceilMinute(t time.Time) time.Time {
	m := t.UTC().Truncate(time.Minute)
	if m.Before(t) {
		return m.Add(time.Minute)
	}
	return m
}

// validateQueries checks what CloudWatch would reject, before any call.
func validateQueries(queries []MetricQuery) error {
	ids := make(map[string]bool, len(queries))
	for i, q := range queries {
		switch {
		case q.ID == "":
			return fmt.Errorf("%w: query %d has no id", ErrInvalidInput, i)
		case ids[q.ID]:
			return fmt.Errorf("%w: query id %q is repeated", ErrInvalidInput, q.ID)
		case q.Namespace == "" || q.Metric == "" || q.Stat == "":
			return fmt.Errorf("%w: query %q needs namespace, metric and stat, got %q, %q, %q",
				ErrInvalidInput, q.ID, q.Namespace, q.Metric, q.Stat)
		case len(q.Dimensions) > maxDimensions:
			return fmt.Errorf("%w: query %q has %d dimensions, at most %d allowed",
				ErrInvalidInput, q.ID, len(q.Dimensions), maxDimensions)
		}
		for name, value := range q.Dimensions {
			if name == "" || value == "" {
				return fmt.Errorf("%w: query %q has dimension %q=%q: name and value must be non-empty",
					ErrInvalidInput, q.ID, name, value)
			}
		}
		ids[q.ID] = true
	}
	return nil
}

// queryID is the GetMetricData Id of the i-th query of a call; Ids must
// match ^[a-z][a-zA-Z0-9_]*$, which the caller's IDs need not.
func queryID(i int) string { return "m" + strconv.Itoa(i) }

// metricChunk reads one call's worth of queries, all its pages, into out.
// It returns the descriptions of the queries that did not complete.
func (o *Observer) metricChunk(ctx context.Context, chunk []MetricQuery, start, end time.Time, out map[string][]control.Datapoint) ([]string, error) {
	mdq := make([]cwtypes.MetricDataQuery, len(chunk))
	byID := make(map[string]string, len(chunk))
	for i, q := range chunk {
		id := queryID(i)
		byID[id] = q.ID
		dims := make([]cwtypes.Dimension, 0, len(q.Dimensions))
		for _, name := range slices.Sorted(maps.Keys(q.Dimensions)) {
			dims = append(dims, cwtypes.Dimension{Name: aws.String(name), Value: aws.String(q.Dimensions[name])})
		}
		mdq[i] = cwtypes.MetricDataQuery{
			Id: aws.String(id),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{
					Namespace:  aws.String(q.Namespace),
					MetricName: aws.String(q.Metric),
					Dimensions: dims,
				},
				Period: aws.Int32(metricPeriod),
				Stat:   aws.String(q.Stat),
			},
			ReturnData: aws.Bool(true),
		}
	}

	type result struct {
		points   []control.Datapoint
		status   cwtypes.StatusCode
		messages []string
		broken   string
	}
	results := map[string]*result{}
	var (
		token    *string
		topLevel []string
	)
	for {
		if err := o.take(budget.GetMetricData); err != nil {
			return nil, err
		}
		page, err := o.Metrics.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
			StartTime:         aws.Time(start),
			EndTime:           aws.Time(end),
			MetricDataQueries: mdq,
			ScanBy:            cwtypes.ScanByTimestampAscending,
			NextToken:         token,
		})
		if err != nil {
			return nil, err
		}
		topLevel = append(topLevel, messageTexts(page.Messages)...)
		for _, r := range page.MetricDataResults {
			caller, ok := byID[aws.ToString(r.Id)]
			if !ok {
				continue
			}
			res := results[caller]
			if res == nil {
				res = &result{}
				results[caller] = res
			}
			res.status = r.StatusCode
			res.messages = append(res.messages, messageTexts(r.Messages)...)
			if len(r.Timestamps) != len(r.Values) {
				res.broken = fmt.Sprintf("%d timestamps for %d values", len(r.Timestamps), len(r.Values))
				continue
			}
			for i, ts := range r.Timestamps {
				res.points = append(res.points, control.Datapoint{Minute: ts.UTC().Truncate(time.Minute), Value: r.Values[i]})
			}
		}
		next := aws.ToString(page.NextToken)
		if next == "" || next == aws.ToString(token) {
			break
		}
		token = page.NextToken
	}

	var bad []string
	for _, q := range chunk {
		res := results[q.ID]
		switch {
		case res == nil:
			continue
		case res.broken != "":
			bad = append(bad, fmt.Sprintf("%q: %s", q.ID, res.broken))
		case res.status != cwtypes.StatusCodeComplete:
			msg := fmt.Sprintf("%q: status %s", q.ID, res.status)
			if m := slices.Concat(res.messages, topLevel); len(m) > 0 {
				msg += " (" + strings.Join(m, ", ") + ")"
			}
			bad = append(bad, msg)
		default:
			pts := res.points
			if pts == nil {
				pts = []control.Datapoint{}
			}
			slices.SortStableFunc(pts, func(a, b control.Datapoint) int { return a.Minute.Compare(b.Minute) })
			out[q.ID] = pts
		}
	}
	return bad, nil
}

// messageTexts formats CloudWatch messages as "Code: Value".
func messageTexts(ms []cwtypes.MessageData) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, aws.ToString(m.Code)+": "+aws.ToString(m.Value))
	}
	return out
}
