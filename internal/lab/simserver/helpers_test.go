package simserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/awsapi"
	"github.com/maptuner/maptuner/internal/lab/sim"
)

// testScenario has a run that is throttled, retries and has poison items,
// and a broken one, whose Task names its function by ARN, that fails on
// its first item, on a CloudWatch that publishes at once.
const testScenario = `
name: server-test
downstreams: [{name: fn, concurrency: 5}]
runs:
  - stateMachine: etl
    label: Items
    tags: {"maptuner:policy": default, team: data}
    downstream: fn
    items: 1000
    maxConcurrency: 6
    toleratedFailurePercentage: 100
    failures: {poisonBatch: {from: 0, count: 3}, error: BadRecord, cause: schema}
    duration: {dist: fixed, value: 5s}
    retry: {interval: 1s, backoffRate: 1.5, maxAttempts: 1}
  - stateMachine: broken
    label: Work
    downstream: fn
    task: function
    items: 20
    maxConcurrency: 2
    failures: {brokenAfter: 0}
    duration: {dist: fixed, value: 1s}
cloudwatch: {delay: {min: 0s, max: 0s}}
policy:
  version: 1
  policies:
    default:
      throttleSignals:
        - {namespace: AWS/Lambda, metric: Throttles, dimensions: {FunctionName: fn}, stat: Sum}
`

func parseScenario(t testing.TB, text string) sim.Scenario {
	t.Helper()
	sc, err := sim.ParseScenario("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("parse scenario: %v", err)
	}
	return sc
}

// fixture is a Server on loopback and the real SDK clients pointed at it.
type fixture struct {
	srv *Server
	url string
	sfn *sfn.Client
	// cw holds a CloudWatch client per protocol: "" (CBOR, the default)
	// and "json".
	cw     map[string]*cloudwatch.Client
	lambda *lambda.Client
}

// replay starts the fixture's server and plays the scripted session of
// scenario sc (session) through its clients, whatever each call answers.
func (f *fixture) replay(t testing.TB, sc sim.Scenario) {
	t.Helper()
	twin := sim.New(sc, 1)
	twin.Start()
	twin.Advance(0)
	f.srv.Start()
	for _, st := range session(twin) {
		if st.advance > 0 {
			if _, err := f.srv.Advance(st.advance); err != nil {
				t.Fatal(err)
			}
		}
		_, _ = st.call(context.Background(), f.sfn, f.cw[st.protocol])
	}
}

// serve starts a Server with rate 0 (a manual clock) on loopback. The SDK
// clients are built by awsapi.Load, as the functions build them, from an
// environment that points them at the server, with one attempt per call.
func serve(t *testing.T, cfg Config) *fixture {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return serveWith(t, srv, srv)
}

// serveWith serves h (srv or a wrapper of it).
func serveWith(t testing.TB, srv *Server, h http.Handler) *fixture {
	t.Helper()
	hs := httptest.NewUnstartedServer(h)
	// A connection per request: a client that writes on a kept-alive
	// connection the server is closing reads "use of closed network
	// connection" from a 200 (seen once in 300 runs on a loaded machine).
	hs.Config.SetKeepAlivesEnabled(false)
	hs.Start()
	t.Cleanup(hs.Close)
	isolate(t, hs.URL)
	f := &fixture{srv: srv, url: hs.URL, cw: map[string]*cloudwatch.Client{}}
	for _, p := range []string{"", awsapi.CloudWatchJSON} {
		c, err := awsapi.Load(context.Background(), awsapi.Options{CloudWatchProtocol: p, MaxAttempts: 1})
		if err != nil {
			t.Fatalf("awsapi.Load: %v", err)
		}
		f.sfn, f.cw[p], f.lambda = c.SFN, c.CloudWatch, c.Lambda
	}
	return f
}

// isolate points the SDK's default chain at fake credentials, no shared
// files and no instance metadata, and Step Functions, CloudWatch and
// Lambda at endpoint.
func isolate(t testing.TB, endpoint string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                   "testing",
		"AWS_SECRET_ACCESS_KEY":               "testing",
		"AWS_SESSION_TOKEN":                   "",
		"AWS_PROFILE":                         "",
		"AWS_REGION":                          sim.Region,
		"AWS_DEFAULT_REGION":                  sim.Region,
		"AWS_CONFIG_FILE":                     filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":         filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":           "true",
		"AWS_ENDPOINT_URL":                    "",
		"AWS_ENDPOINT_URL_SFN":                endpoint,
		"AWS_ENDPOINT_URL_CLOUDWATCH":         endpoint,
		"AWS_ENDPOINT_URL_LAMBDA":             endpoint,
		"AWS_MAX_ATTEMPTS":                    "",
		"AWS_RETRY_MODE":                      "",
		"MAPTUNER_CLOUDWATCH_PROTOCOL":        "",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "",
	} {
		t.Setenv(k, v)
	}
}

// metricsInput queries the Throttles and ExecutionsStarted of the test
// scenario's first run over its first hour.
func metricsInput() *cloudwatch.GetMetricDataInput {
	q := func(id, ns, name, dim, value string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(true), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(ns), MetricName: aws.String(name),
				Dimensions: []cwtypes.Dimension{{Name: aws.String(dim), Value: aws.String(value)}}},
			Period: aws.Int32(60), Stat: aws.String("Sum"),
		}}
	}
	return &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(sim.DefaultStart), EndTime: aws.Time(sim.DefaultStart.Add(time.Hour)),
		ScanBy: cwtypes.ScanByTimestampAscending,
		MetricDataQueries: []cwtypes.MetricDataQuery{
			q("throttles", "AWS/Lambda", "Throttles", "FunctionName", "fn"),
			q("started", "AWS/States", "ExecutionsStarted", "StateMachineArn", "arn:aws:states:us-east-1:123456789012:stateMachine:etl/Items"),
		},
	}
}

// sameValue reports whether two SDK values are equal, but for the SDK's
// response metadata and with times compared to the millisecond, the
// precision of the wire.
func sameValue(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() || a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Slice:
		// An empty list and none are the same on the wire of a response
		// the SDK decodes.
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for it := a.MapRange(); it.Next(); {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() || !sameValue(it.Value(), bv) {
				return false
			}
		}
		return true
	case reflect.Struct:
		if a.Type() == reflect.TypeFor[time.Time]() {
			return a.Interface().(time.Time).UnixMilli() == b.Interface().(time.Time).UnixMilli()
		}
		for i := range a.NumField() {
			f := a.Type().Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}
