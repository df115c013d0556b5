package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// CloudWatchAPI is the part of the CloudWatch API the simulator serves,
// with the signatures of the AWS SDK client.
type CloudWatchAPI interface {
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

var (
	_ CloudWatchAPI = (*cloudwatch.Client)(nil)
	_ CloudWatchAPI = (*CloudWatch)(nil)
)

// Limits of one GetMetricData call, as CloudWatch sets them.
const (
	maxMetricQueries      = 500
	defaultMaxDatapoints  = 100_800
	cloudWatchServiceID   = "CloudWatch"
	metricResolution      = time.Minute
	supportedStatsMessage = "Sum, SampleCount, Average, Minimum or Maximum"
)

var metricIDPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// agg is the statistic set of one metric over one minute; n == 0 means no
// datapoint.
type agg struct {
	sum, min, max float64
	n             int64
}

func (a *agg) add(v float64) {
	if a.n == 0 || v < a.min {
		a.min = v
	}
	if a.n == 0 || v > a.max {
		a.max = v
	}
	a.sum += v
	a.n++
}

func (a *agg) merge(b agg) {
	if b.n == 0 {
		return
	}
	if a.n == 0 || b.min < a.min {
		a.min = b.min
	}
	if a.n == 0 || b.max > a.max {
		a.max = b.max
	}
	a.sum += b.sum
	a.n += b.n
}

func (a agg) stat(name string) float64 {
	switch name {
	case "Sum":
		return a.sum
	case "SampleCount":
		return float64(a.n)
	case "Average":
		return a.sum / float64(a.n)
	case "Minimum":
		return a.min
	default:
		return a.max
	}
}

// series is one metric's one-minute aggregates from the world's start,
// and the metric gaps that apply to it.
type series struct {
	id      uint64
	minutes []agg
	gaps    []MetricGap
}

func (s *series) add(t time.Duration, v float64) {
	s.minute(t).add(v)
}

// addSamples adds n samples of value v at t; n > 0.
func (s *series) addSamples(t time.Duration, v float64, n int64) {
	s.minute(t).merge(agg{sum: v * float64(n), min: v, max: v, n: n})
}

// minute is the aggregate of the minute holding t, created as needed.
func (s *series) minute(t time.Duration) *agg {
	i := int(t / metricResolution)
	for len(s.minutes) <= i {
		s.minutes = append(s.minutes, agg{})
	}
	return &s.minutes[i]
}

// metricStore holds every series and decides when each datapoint is
// published.
type metricStore struct {
	seed  uint64
	spec  CloudWatchSpec
	gaps  []MetricGap
	byKey map[string]*series
}

func newMetricStore(seed uint64, spec CloudWatchSpec, gaps []MetricGap) *metricStore {
	return &metricStore{seed: seed, spec: spec, gaps: gaps, byKey: map[string]*series{}}
}

// series returns the series of a metric, creating it.
func (m *metricStore) series(namespace, name string, dims map[string]string) *series {
	k := metricKey(namespace, name, dims)
	s := m.byKey[k]
	if s == nil {
		h := fnv.New64a()
		h.Write([]byte(k))
		s = &series{id: h.Sum64()}
		for _, g := range m.gaps {
			if g.matches(namespace, name, dims) {
				s.gaps = append(s.gaps, g)
			}
		}
		m.byKey[k] = s
	}
	return s
}

// publishedAt is when the datapoint of minute i of s becomes visible, and
// false if it never does (a missing datapoint, a metric gap, an outage).
// The draws depend only on the seed, the metric and the minute, not on what
// was queried before.
func (m *metricStore) publishedAt(s *series, i int) (time.Duration, bool) {
	h := hashSeed(m.seed, s.id, uint64(i))
	if unit(h) < m.spec.Missing {
		return 0, false
	}
	for k, g := range s.gaps {
		if g.covers(time.Duration(i)*metricResolution) && unit(hashSeed(m.seed, saltGap, s.id, uint64(i), uint64(k))) < g.Missing {
			return 0, false
		}
	}
	lo, hi := m.spec.Delay.Min, m.spec.Delay.Max // set by ParseScenario
	at := time.Duration(i+1)*metricResolution + lo + time.Duration(unit(mix64(h))*float64(hi-lo))
	for _, o := range m.spec.Outages {
		if at >= o.At && at < o.At+o.For {
			if !o.Backfill {
				return 0, false
			}
			at = o.At + o.For
		}
	}
	return at, true
}

// unit maps 64 random bits to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

func metricKey(namespace, name string, dims map[string]string) string {
	var b strings.Builder
	b.WriteString(namespace)
	b.WriteByte(0)
	b.WriteString(name)
	for _, k := range sortedKeys(dims) {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(dims[k])
	}
	return b.String()
}

// CloudWatch is the simulated CloudWatch API of a World.
type CloudWatch struct{ w *World }

// CloudWatch returns the world's CloudWatch API.
func (w *World) CloudWatch() *CloudWatch { return &CloudWatch{w: w} }

type datapoint struct {
	at time.Time
	v  float64
}

// GetMetricData answers metric queries (MetricStat only; metric math is
// refused) from the one-minute aggregates published by now. Periods must be
// multiples of 60 seconds; buckets start at StartTime rounded down to the
// minute. Each call spends a token of the account's GetMetricData quota.
// Pages hold at most MaxDatapoints points; NextToken continues. optFns
// are accepted and ignored.
func (c *CloudWatch) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	const op = "GetMetricData"
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	fail := func(err error) error {
		return &smithy.OperationError{ServiceID: cloudWatchServiceID, OperationName: op, Err: err}
	}
	w.call(apiGetMetricData)
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	if in == nil || in.StartTime == nil || in.EndTime == nil || in.MetricDataQueries == nil {
		p := smithy.InvalidParamsError{Context: "GetMetricDataInput"}
		if in == nil || in.MetricDataQueries == nil {
			p.Add(smithy.NewErrParamRequired("MetricDataQueries"))
		}
		if in == nil || in.StartTime == nil {
			p.Add(smithy.NewErrParamRequired("StartTime"))
		}
		if in == nil || in.EndTime == nil {
			p.Add(smithy.NewErrParamRequired("EndTime"))
		}
		return nil, fail(p)
	}
	if err := w.inject(apiGetMetricData); err != nil {
		return nil, fail(err)
	}
	if !w.quota.take(apiGetMetricData, w.now) {
		return nil, fail(throttlingError(apiGetMetricData))
	}
	invalid := func(format string, args ...any) error {
		return fail(&cwtypes.InvalidParameterValueException{Message: aws.String(fmt.Sprintf(format, args...))})
	}
	start := in.StartTime.UTC().Truncate(metricResolution)
	end := in.EndTime.UTC()
	if !end.After(start) {
		return nil, invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	if n := len(in.MetricDataQueries); n == 0 || n > maxMetricQueries {
		return nil, invalid("The collection MetricDataQueries must not have more than %d elements nor be empty; it has %d.", maxMetricQueries, n)
	}
	maxPoints := defaultMaxDatapoints
	if in.MaxDatapoints != nil {
		if *in.MaxDatapoints < 1 {
			return nil, invalid("The parameter MaxDatapoints must be greater than 0.")
		}
		maxPoints = int(*in.MaxDatapoints)
	}
	offset := 0
	if in.NextToken != nil {
		v, err := strconv.Atoi(strings.TrimPrefix(*in.NextToken, "p"))
		if err != nil || v < 1 || !strings.HasPrefix(*in.NextToken, "p") {
			return nil, fail(&cwtypes.InvalidNextToken{Message: aws.String("The service couldn't process the NextToken " + strconv.Quote(*in.NextToken) + ".")})
		}
		offset = v
	}
	type answer struct {
		id, label string
		points    []datapoint
	}
	var answers []answer
	ids := map[string]bool{}
	for i, q := range in.MetricDataQueries {
		id := aws.ToString(q.Id)
		if !metricIDPattern.MatchString(id) {
			return nil, invalid("MetricDataQueries[%d].Id %q must start with a lowercase letter and hold only letters, digits and underscores.", i, id)
		}
		if ids[id] {
			return nil, invalid("MetricDataQueries[%d].Id %q is not unique.", i, id)
		}
		ids[id] = true
		if q.Expression != nil {
			return nil, invalid("MetricDataQueries[%d] (%s): the simulator does not evaluate metric math or Metrics Insights expressions; use MetricStat.", i, id)
		}
		ms := q.MetricStat
		if ms == nil || ms.Metric == nil || ms.Metric.Namespace == nil || ms.Metric.MetricName == nil {
			return nil, invalid("MetricDataQueries[%d] (%s) needs MetricStat with Metric.Namespace and Metric.MetricName.", i, id)
		}
		if ms.Period == nil || *ms.Period < 60 || *ms.Period%60 != 0 {
			return nil, invalid("MetricDataQueries[%d] (%s): Period must be a multiple of 60 seconds.", i, id)
		}
		stat := aws.ToString(ms.Stat)
		switch stat {
		case "Sum", "SampleCount", "Average", "Minimum", "Maximum":
		default:
			return nil, invalid("MetricDataQueries[%d] (%s): Stat %q is not one of %s.", i, id, stat, supportedStatsMessage)
		}
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		dims := map[string]string{}
		for _, d := range ms.Metric.Dimensions {
			dims[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		label := aws.ToString(q.Label)
		if label == "" {
			label = *ms.Metric.MetricName
		}
		var points []datapoint
		if s := w.cw.byKey[metricKey(*ms.Metric.Namespace, *ms.Metric.MetricName, dims)]; s != nil {
			points = w.points(s, start, end, time.Duration(*ms.Period)*time.Second, stat)
		}
		if in.ScanBy != cwtypes.ScanByTimestampAscending {
			for l, r := 0, len(points)-1; l < r; l, r = l+1, r-1 {
				points[l], points[r] = points[r], points[l]
			}
		}
		answers = append(answers, answer{id: id, label: label, points: points})
	}
	out := &cloudwatch.GetMetricDataOutput{MetricDataResults: []cwtypes.MetricDataResult{}}
	skip, room, more := offset, maxPoints, false
	for _, a := range answers {
		res := cwtypes.MetricDataResult{Id: aws.String(a.id), Label: aws.String(a.label), StatusCode: cwtypes.StatusCodeComplete, Timestamps: []time.Time{}, Values: []float64{}}
		pts := a.points
		n := min(skip, len(pts))
		pts, skip = pts[n:], skip-n
		take := min(room, len(pts))
		for _, p := range pts[:take] {
			res.Timestamps = append(res.Timestamps, p.at)
			res.Values = append(res.Values, p.v)
		}
		room -= take
		if take < len(pts) {
			res.StatusCode = cwtypes.StatusCodePartialData
			more = true
		}
		out.MetricDataResults = append(out.MetricDataResults, res)
	}
	if more {
		out.NextToken = aws.String("p" + strconv.Itoa(offset+maxPoints))
	}
	return out, nil
}

// points aggregates the published minutes of s in [start, end) into
// buckets of period from start, oldest first.
func (w *World) points(s *series, start, end time.Time, period time.Duration, stat string) []datapoint {
	first := max(0, int(start.Sub(w.start)/metricResolution))
	var out []datapoint
	var cur agg
	curBucket := -1
	flush := func() {
		if cur.n > 0 {
			out = append(out, datapoint{at: start.Add(time.Duration(curBucket) * period), v: cur.stat(stat)})
		}
		cur = agg{}
	}
	for i := first; i < len(s.minutes); i++ {
		t := w.start.Add(time.Duration(i) * metricResolution)
		if t.Before(start) {
			continue
		}
		if !t.Before(end) {
			break
		}
		a := s.minutes[i]
		if a.n == 0 {
			continue
		}
		if at, ok := w.cw.publishedAt(s, i); !ok || at > w.now {
			continue
		}
		b := int(t.Sub(start) / period)
		if b != curBucket {
			flush()
			curBucket = b
		}
		cur.merge(a)
	}
	flush()
	return out
}

// throttlingError is the error of a call of a throttled by its quota.
func throttlingError(a api) error {
	if a == apiGetFunctionConcurrency {
		return &lambdatypes.TooManyRequestsException{Message: aws.String("Rate exceeded"), Type: aws.String("User"), Reason: lambdatypes.ThrottleReasonCallerRateLimitExceeded}
	}
	return &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded", Fault: smithy.FaultClient}
}
