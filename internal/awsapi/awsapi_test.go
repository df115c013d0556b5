package awsapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/lab/testenv"
)

// isolate points the default chain at fake credentials, no shared config
// files and no instance metadata, and every service at endpoint.
func isolate(t *testing.T, region, endpoint string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "testing",
		"AWS_SECRET_ACCESS_KEY":       "testing",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  region,
		"AWS_DEFAULT_REGION":          "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_SFN":        endpoint,
		"AWS_ENDPOINT_URL_CLOUDWATCH": endpoint,
		"AWS_ENDPOINT_URL_DYNAMODB":   endpoint,
		"AWS_MAX_ATTEMPTS":            "",
		"AWS_RETRY_MODE":              "",
	} {
		t.Setenv(k, v)
	}
}

func TestLoadInvalidOptions(t *testing.T) {
	tests := []struct {
		name   string
		region string
		opt    Options
		want   string
	}{
		{"unknown protocol", "us-east-1", Options{CloudWatchProtocol: "xml"}, `cloudwatch protocol "xml"`},
		{"negative attempts", "us-east-1", Options{MaxAttempts: -1}, "max attempts -1"},
		{"no region", "", Options{}, "no region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t, tt.region, "")
			_, err := Load(context.Background(), tt.opt)
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%+v) error = %v, want ErrInvalidOptions naming %q", tt.opt, err, tt.want)
			}
		})
	}
}

func TestLoadRetryer(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want int
	}{
		{"sdk default attempts", Options{}, 3},
		{"explicit attempts", Options{MaxAttempts: 7}, 7},
		{"no retries", Options{MaxAttempts: 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t, "eu-central-1", "")
			c, err := Load(context.Background(), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if c.Region != "eu-central-1" {
				t.Errorf("Region = %q, want eu-central-1", c.Region)
			}
			for name, r := range map[string]aws.Retryer{
				"sfn":        c.SFN.Options().Retryer,
				"cloudwatch": c.CloudWatch.Options().Retryer,
				"dynamodb":   c.DynamoDB.Options().Retryer,
			} {
				if _, ok := r.(*perOperation); !ok {
					t.Errorf("%s retryer is %T, want *perOperation", name, r)
					continue
				}
				if got := r.MaxAttempts(); got != tt.want {
					t.Errorf("%s MaxAttempts = %d, want %d", name, got, tt.want)
				}
			}
		})
	}
}

// recorded is what a fake endpoint saw of one request.
type recorded struct {
	path, target, contentType, smithyProtocol, body string
}

func TestCloudWatchProtocolOnTheWire(t *testing.T) {
	tests := []struct {
		protocol string
		check    func(r recorded) bool
	}{
		{"", func(r recorded) bool {
			return r.path == "/service/GraniteServiceVersion20100801/operation/GetMetricData" && r.smithyProtocol == "rpc-v2-cbor"
		}},
		{CloudWatchCBOR, func(r recorded) bool {
			return r.path == "/service/GraniteServiceVersion20100801/operation/GetMetricData" && r.smithyProtocol == "rpc-v2-cbor"
		}},
		{CloudWatchJSON, func(r recorded) bool {
			return r.target == "GraniteServiceVersion20100801.GetMetricData" && r.contentType == "application/x-amz-json-1.0"
		}},
		{CloudWatchQuery, func(r recorded) bool {
			return strings.HasPrefix(r.contentType, "application/x-www-form-urlencoded") &&
				strings.Contains(r.body, "Action=GetMetricData") && strings.Contains(r.body, "Version=2010-08-01")
		}},
	}
	for _, tt := range tests {
		t.Run("protocol="+tt.protocol, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got []recorded
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				got = append(got, recorded{r.URL.Path, r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"), r.Header.Get("Smithy-Protocol"), string(b)})
				mu.Unlock()
				w.WriteHeader(http.StatusBadRequest)
			}))
			defer srv.Close()
			isolate(t, "us-east-1", srv.URL)
			c, err := Load(context.Background(), Options{CloudWatchProtocol: tt.protocol, MaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			_, err = c.CloudWatch.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now),
				MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("m0"), Expression: aws.String("1")}},
			})
			if err == nil {
				t.Fatal("GetMetricData against a 400 endpoint succeeded")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 {
				t.Fatalf("endpoint saw %d requests, want 1 (MaxAttempts 1)", len(got))
			}
			if !tt.check(got[0]) {
				t.Errorf("request %+v is not the %q protocol", got[0], tt.protocol)
			}
		})
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	tests := []struct {
		name        string
		maxAttempts int
		throttles   int
		wantCalls   int
		wantErr     bool
	}{
		{"one throttle then success", 2, 1, 2, false},
		{"retries off", 1, 1, 1, true},
	}
	const mapRun = "arn:aws:states:us-east-1:123456789012:mapRun:sm/Map:0f4b"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				calls int
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				if r.Header.Get("X-Amz-Target") != "AWSStepFunctions.DescribeMapRun" {
					w.WriteHeader(http.StatusNotFound)
					return
				}
				if n <= tt.throttles {
					w.WriteHeader(http.StatusBadRequest)
					_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
					return
				}
				_, _ = io.WriteString(w, `{"mapRunArn":"`+mapRun+`","executionArn":"arn:aws:states:us-east-1:123456789012:execution:sm:e",`+
					`"status":"RUNNING","startDate":1.7e9,"maxConcurrency":10,"toleratedFailurePercentage":5.0,"toleratedFailureCount":0,`+
					`"itemCounts":{"pending":1,"running":1,"succeeded":0,"failed":0,"timedOut":0,"aborted":0,"total":2,"resultsWritten":0},`+
					`"executionCounts":{"pending":1,"running":1,"succeeded":0,"failed":0,"timedOut":0,"aborted":0,"total":2,"resultsWritten":0}}`)
			}))
			defer srv.Close()
			isolate(t, "us-east-1", srv.URL)
			c, err := Load(context.Background(), Options{MaxAttempts: tt.maxAttempts})
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.SFN.DescribeMapRun(context.Background(), &sfn.DescribeMapRunInput{MapRunArn: aws.String(mapRun)})
			if (err != nil) != tt.wantErr {
				t.Fatalf("DescribeMapRun error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && out.MaxConcurrency != 10 {
				t.Errorf("MaxConcurrency = %d, want 10", out.MaxConcurrency)
			}
			if calls != tt.wantCalls {
				t.Errorf("endpoint saw %d calls, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestClientsAgainstMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	for _, protocol := range []string{CloudWatchJSON, CloudWatchQuery} {
		t.Run("cloudwatch="+protocol, func(t *testing.T) {
			isolate(t, "us-east-1", m.URL)
			ctx := context.Background()
			c, err := Load(ctx, Options{CloudWatchProtocol: protocol, MaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.SFN.ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); err != nil {
				t.Errorf("sfn ListStateMachines: %v", err)
			}
			if _, err := c.DynamoDB.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
				t.Errorf("dynamodb ListTables: %v", err)
			}
			minute := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
			ns := "Test/" + protocol
			_, err = c.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
				Namespace: aws.String(ns),
				MetricData: []cwtypes.MetricDatum{{
					MetricName: aws.String("Throttles"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("FunctionName"), Value: aws.String("fn-" + protocol)}},
					Timestamp:  aws.Time(minute.Add(10 * time.Second)),
					Value:      aws.Float64(7),
				}},
			})
			if err != nil {
				t.Fatalf("cloudwatch PutMetricData: %v", err)
			}
			out, err := c.CloudWatch.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(minute.Add(-5 * time.Minute)),
				EndTime:   aws.Time(minute.Add(5 * time.Minute)),
				MetricDataQueries: []cwtypes.MetricDataQuery{{
					Id: aws.String("m0"),
					MetricStat: &cwtypes.MetricStat{
						Metric: &cwtypes.Metric{
							Namespace: aws.String(ns), MetricName: aws.String("Throttles"),
							Dimensions: []cwtypes.Dimension{{Name: aws.String("FunctionName"), Value: aws.String("fn-" + protocol)}},
						},
						Period: aws.Int32(60), Stat: aws.String("Sum"),
					},
				}},
			})
			if err != nil {
				t.Fatalf("cloudwatch GetMetricData: %v", err)
			}
			if len(out.MetricDataResults) != 1 || len(out.MetricDataResults[0].Values) != 1 || out.MetricDataResults[0].Values[0] != 7 {
				t.Fatalf("GetMetricData results = %+v, want one value 7", out.MetricDataResults)
			}
			if ts := out.MetricDataResults[0].Timestamps[0]; !ts.Equal(minute) {
				t.Errorf("timestamp = %s, want %s", ts, minute)
			}
		})
	}
}

func FuzzCloudWatchProtocol(f *testing.F) {
	for _, s := range []string{"", "cbor", "json", "query", "JSON", "rpcv2", "json "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p, err := cloudWatchProtocol(name)
		switch name {
		case "", CloudWatchCBOR:
			if p != nil || err != nil {
				t.Fatalf("cloudWatchProtocol(%q) = %v, %v; want the SDK default", name, p, err)
			}
		case CloudWatchJSON, CloudWatchQuery:
			if p == nil || err != nil {
				t.Fatalf("cloudWatchProtocol(%q) = %v, %v; want a protocol", name, p, err)
			}
		default:
			if p != nil || !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("cloudWatchProtocol(%q) = %v, %v; want ErrInvalidOptions", name, p, err)
			}
		}
	})
}

// TestThrottleSlowsOnlyItsOperation throttles GetExecutionHistory against
// a local endpoint until its rate limit engages, then calls DescribeMapRun.
// The retryers are set to fail, instead of waiting, when their rate limit
// has no token for an attempt: a DescribeMapRun slowed by the other
// operation's throttling fails here. With one adaptive retryer for the
// whole client, as the SDK makes, it does; with a retryer per operation,
// every DescribeMapRun goes through on its first attempt.
func TestThrottleSlowsOnlyItsOperation(t *testing.T) {
	const (
		mapRun = "arn:aws:states:us-east-1:123456789012:mapRun:sm/Map:0f4b"
		exec   = "arn:aws:states:us-east-1:123456789012:execution:sm:e"
	)
	failFast := func(o *retry.AdaptiveModeOptions) { o.FailOnNoAttemptTokens = true }
	tests := []struct {
		name    string
		retryer aws.Retryer
		// wantDescribed is whether DescribeMapRun goes through.
		wantDescribed bool
	}{
		{"one retryer per operation", newRetryer(0, failFast), true},
		{"one retryer per client", retry.NewAdaptiveMode(failFast), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu       sync.Mutex
				attempts = map[string]int{}
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
				mu.Lock()
				attempts[op]++
				mu.Unlock()
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				switch op {
				case "GetExecutionHistory":
					w.WriteHeader(http.StatusBadRequest)
					_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
				case "DescribeMapRun":
					_, _ = io.WriteString(w, `{"mapRunArn":"`+mapRun+`","executionArn":"`+exec+`",`+
						`"status":"RUNNING","startDate":1.7e9,"maxConcurrency":10,"toleratedFailurePercentage":0,"toleratedFailureCount":0}`)
				default:
					w.WriteHeader(http.StatusNotFound)
				}
			}))
			defer srv.Close()
			isolate(t, "us-east-1", srv.URL)
			c, err := Load(context.Background(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			withRetryer := func(o *sfn.Options) { o.Retryer = tt.retryer }

			// Throttle GetExecutionHistory until its rate limit refuses an attempt.
			engaged := false
			for range 50 {
				_, err := c.SFN.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(exec)}, withRetryer)
				if err == nil {
					t.Fatal("GetExecutionHistory against a throttling endpoint succeeded")
				}
				if engaged = strings.Contains(err.Error(), "attempt token"); engaged {
					break
				}
			}
			if !engaged {
				t.Fatal("50 throttled GetExecutionHistory calls never engaged its rate limit")
			}

			const describes = 20
			described := 0
			for range describes {
				if _, err := c.SFN.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(mapRun)}, withRetryer); err == nil {
					described++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			t.Logf("attempts reaching the endpoint %v; %d of %d DescribeMapRun went through", attempts, described, describes)
			if !tt.wantDescribed {
				if described == describes {
					t.Errorf("every DescribeMapRun went through the client-wide rate limit: the test cannot tell")
				}
				return
			}
			if described != describes || attempts["DescribeMapRun"] != describes {
				t.Errorf("%d of %d DescribeMapRun went through in %d attempts; want all, one attempt each",
					described, describes, attempts["DescribeMapRun"])
			}
		})
	}
}
