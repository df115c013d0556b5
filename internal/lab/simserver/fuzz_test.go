package simserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The request kinds of FuzzServeAPI.
const (
	kindSFN uint8 = iota
	kindCloudWatchJSON
	kindCloudWatchCBOR
)

// captured is a real request: its kind, operation and body.
type captured struct {
	kind uint8
	op   string
	body []byte
}

// captureRequests runs the scripted session through the real SDK clients
// and returns every request they sent.
func captureRequests(t testing.TB) []captured {
	t.Helper()
	sc := parseScenario(t, testScenario)
	srv, err := New(Config{Scenario: sc, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out []captured
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		c := captured{body: body}
		prefix, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		switch {
		case strings.HasPrefix(r.URL.Path, "/service/"):
			c.kind, c.op = kindCloudWatchCBOR, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		case prefix == sfnTarget:
			c.kind, c.op = kindSFN, op
		default:
			c.kind, c.op = kindCloudWatchJSON, op
		}
		mu.Lock()
		out = append(out, c)
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		srv.ServeHTTP(w, r)
	})
	f := serveWith(t, srv, h)
	f.replay(t, sc)
	return out
}

// fuzzRequest builds the request of a kind for an operation.
func fuzzRequest(kind uint8, op string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	switch kind % 3 {
	case kindSFN:
		req.Header.Set("X-Amz-Target", sfnTarget+"."+op)
		req.Header.Set("Content-Type", jsonContentType)
	case kindCloudWatchJSON:
		req.Header.Set("X-Amz-Target", cloudWatchTarget+"."+op)
		req.Header.Set("Content-Type", jsonContentType)
		req.Header.Set("X-Amzn-Query-Mode", "true")
	default:
		req.URL.Path = "/service/" + cloudWatchTarget + "/operation/" + op
		req.Header.Set("Smithy-Protocol", smithyProtocol)
		req.Header.Set("Content-Type", cborContentType)
	}
	return req
}

// FuzzServeAPI sends arbitrary bodies to the operations, seeded with the
// requests the real SDK clients send in the scripted session and with
// what the aws CLI sends. The server must answer each in its protocol's
// format: 200 with a body that decodes, or a client error with __type and
// message; never a server error (no fault knob is set) nor a panic.
func FuzzServeAPI(f *testing.F) {
	for _, c := range captureRequests(f) {
		f.Add(c.kind, c.op, c.body)
	}
	// What aws-cli 1.x sends for get-metric-data and describe-map-run.
	f.Add(kindCloudWatchJSON, "GetMetricData", []byte(`{"MetricDataQueries": [{"Id": "m0", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Throttles", "Dimensions": [{"Name": "FunctionName", "Value": "fn"}]}, "Period": 60, "Stat": "Sum"}}], "StartTime": 1767571200, "EndTime": 1767574800}`))
	f.Add(kindSFN, "DescribeMapRun", []byte(`{"mapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:etl/Items:5ed55b98-d01f-2c98-ded0-7858b0bba208"}`))
	srv, err := New(Config{Scenario: parseScenario(f, testScenario), Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	srv.Start()
	f.Fuzz(func(t *testing.T, kind uint8, op string, body []byte) {
		req := fuzzRequest(kind, op, body)
		rw := httptest.NewRecorder()
		srv.ServeHTTP(rw, req)
		res := rw.Result()
		got, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s %q: HTTP %d %q", req.URL.Path, op, res.StatusCode, got)
		}
		var v any
		if kind%3 == kindCloudWatchCBOR {
			err = cborDecoder.Unmarshal(got, &v)
		} else {
			err = json.Unmarshal(got, &v)
		}
		if err != nil {
			t.Fatalf("%q: the answer %q does not decode: %v", op, got, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%q: the answer %v is not a structure", op, v)
		}
		if res.StatusCode != http.StatusOK {
			if code, _ := m["__type"].(string); code == "" {
				t.Fatalf("%q: error %v without __type", op, m)
			}
			if msg, _ := m["message"].(string); msg == "" {
				t.Fatalf("%q: error %v without message", op, m)
			}
		}
	})
}
