package simserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/fxamacker/cbor/v2"

	"github.com/maptuner/maptuner/internal/awsapi"
)

// rawCall sends one request to a server of the test scenario, started, and
// returns the response with its body.
func rawCall(t *testing.T, srv http.Handler, method, path string, header map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rw := httptest.NewRecorder()
	srv.ServeHTTP(rw, req)
	res := rw.Result()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func startedServer(t *testing.T) *Server {
	t.Helper()
	srv, err := New(Config{Scenario: parseScenario(t, testScenario), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	return srv
}

func jsonHeader(target string) map[string]string {
	return map[string]string{"X-Amz-Target": target, "Content-Type": jsonContentType}
}

var cborHeader = map[string]string{"Smithy-Protocol": smithyProtocol, "Content-Type": cborContentType}

const gmdPath = "/service/GraniteServiceVersion20100801/operation/GetMetricData"

// TestProtocolErrors sends malformed and unknown requests: each must get
// its protocol's error format with a code and a message naming the fault.
func TestProtocolErrors(t *testing.T) {
	srv := startedServer(t)
	run := srv.Result().Runs[0].MapRunARN
	cborBody := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name       string
		method     string
		path       string
		header     map[string]string
		body       []byte
		status     int
		code       string
		message    string
		queryError string
	}{
		{"unknown service", "POST", "/", jsonHeader("AmazonSQS.SendMessage"), []byte(`{}`),
			400, codeUnknownOperation, `X-Amz-Target "AmazonSQS.SendMessage" names no service`, ""},
		{"unknown operation", "POST", "/", jsonHeader("AWSStepFunctions.StartExecution"), []byte(`{}`),
			400, codeUnknownOperation, `operation SFN."StartExecution" is not served`, ""},
		{"not JSON", "POST", "/", jsonHeader("AWSStepFunctions.DescribeMapRun"), []byte(`{"mapRunArn":`),
			400, codeSerialization, "body is not JSON", ""},
		{"two JSON values", "POST", "/", jsonHeader("AWSStepFunctions.DescribeMapRun"), []byte(`{} {}`),
			400, codeSerialization, "data after its JSON value", ""},
		{"not a structure", "POST", "/", jsonHeader("AWSStepFunctions.DescribeMapRun"), []byte(`[1]`),
			400, codeSerialization, "body is a list, want a structure", ""},
		{"unknown member", "POST", "/", jsonHeader("AWSStepFunctions.DescribeMapRun"), []byte(`{"mapRunArn":"` + run + `","colour":"red"}`),
			400, codeSerialization, `DescribeMapRunInput: unknown member "colour"`, ""},
		{"member of the wrong type", "POST", "/", jsonHeader("AWSStepFunctions.UpdateMapRun"), []byte(`{"mapRunArn":"` + run + `","maxConcurrency":"ten"}`),
			400, codeSerialization, "UpdateMapRunInput.maxConcurrency: want an integer, got a string", ""},
		{"integer out of range", "POST", "/", jsonHeader("AWSStepFunctions.UpdateMapRun"), []byte(`{"mapRunArn":"` + run + `","maxConcurrency":4294967296}`),
			400, codeSerialization, "4294967296 is out of the range of a 32-bit integer", ""},
		{"fraction for an integer", "POST", "/", jsonHeader("AWSStepFunctions.UpdateMapRun"), []byte(`{"mapRunArn":"` + run + `","maxConcurrency":1.5}`),
			400, codeSerialization, "want an integer, got 1.5", ""},
		{"timestamp of the wrong type", "POST", "/", jsonHeader("GraniteServiceVersion20100801.GetMetricData"), []byte(`{"StartTime":"yesterday","EndTime":1,"MetricDataQueries":[]}`),
			400, codeSerialization, "GetMetricDataInput.StartTime: want a timestamp (epoch seconds), got a string", ""},
		{"null in a list", "POST", "/", jsonHeader("GraniteServiceVersion20100801.GetMetricData"), []byte(`{"StartTime":0,"EndTime":1,"MetricDataQueries":[null]}`),
			400, codeSerialization, "GetMetricDataInput.MetricDataQueries: element 0 is null", ""},
		{"wrong content type", "POST", "/", map[string]string{"X-Amz-Target": "AWSStepFunctions.DescribeMapRun", "Content-Type": "text/plain"}, []byte(`{}`),
			400, codeSerialization, `Content-Type "text/plain": want application/x-amz-json-1.0`, ""},
		{"missing required member", "POST", "/", jsonHeader("AWSStepFunctions.DescribeMapRun"), []byte(`{}`),
			400, codeValidation, "Value null at 'mapRunArn' failed to satisfy constraint: Member must not be null", ""},
		{"missing required members, query mode", "POST", "/",
			map[string]string{"X-Amz-Target": "GraniteServiceVersion20100801.GetMetricData", "Content-Type": jsonContentType, "X-Amzn-Query-Mode": "true"}, []byte(`{"MetricDataQueries":[]}`),
			400, codeMissingParameter, "The parameters StartTime, EndTime are required.", "MissingParameter;Sender"},
		{"GET of an operation", "GET", "/", jsonHeader("AWSStepFunctions.DescribeMapRun"), nil,
			405, codeUnknownOperation, `method "GET"`, ""},
		{"no such path", "POST", "/v1/things", nil, nil,
			400, codeUnknownOperation, `POST "/v1/things" is not an AWS API this server serves`, ""},
		{"CBOR without Smithy-Protocol", "POST", gmdPath, map[string]string{"Content-Type": cborContentType}, cborBody(map[string]any{}),
			400, codeSerialization, `Smithy-Protocol header "": want rpc-v2-cbor`, ""},
		{"CBOR of another service", "POST", "/service/AWSStepFunctions/operation/DescribeMapRun", cborHeader, cborBody(map[string]any{}),
			400, codeUnknownOperation, "is not an RPCv2 CBOR operation of this server", ""},
		{"CBOR unknown operation", "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", cborHeader, cborBody(map[string]any{}),
			400, codeUnknownOperation, `operation CloudWatch."PutMetricData" is not served`, ""},
		{"not CBOR", "POST", gmdPath, cborHeader, []byte{0xff, 0x00},
			400, codeSerialization, "body is not CBOR", ""},
		{"CBOR wrong type", "POST", gmdPath, map[string]string{"Smithy-Protocol": smithyProtocol, "Content-Type": cborContentType, "X-Amzn-Query-Mode": "true"},
			cborBody(map[string]any{"StartTime": "now"}),
			400, codeSerialization, "GetMetricDataInput.StartTime: want a timestamp (epoch seconds), got a string", "SerializationException;Sender"},
		{"CBOR wrong content type", "POST", gmdPath, map[string]string{"Smithy-Protocol": smithyProtocol, "Content-Type": "application/json"}, []byte(`{}`),
			400, codeSerialization, `Content-Type "application/json": want application/cbor`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := rawCall(t, srv, tt.method, tt.path, tt.header, tt.body)
			if res.StatusCode != tt.status {
				t.Errorf("status %d, want %d; body %q", res.StatusCode, tt.status, body)
			}
			var v map[string]any
			var err error
			if strings.HasPrefix(tt.path, "/service/") {
				err = cborDecoder.Unmarshal(body, &v)
				if res.Header.Get("Smithy-Protocol") != smithyProtocol || res.Header.Get("Content-Type") != cborContentType {
					t.Errorf("headers %v, want the RPCv2 CBOR ones", res.Header)
				}
			} else {
				err = json.Unmarshal(body, &v)
				if res.Header.Get("X-Amzn-ErrorType") != tt.code || res.Header.Get("Content-Type") != jsonContentType {
					t.Errorf("headers %v, want X-Amzn-ErrorType %s and the awsJson content type", res.Header, tt.code)
				}
			}
			if err != nil {
				t.Fatalf("error body %q does not decode: %v", body, err)
			}
			if v["__type"] != tt.code || !strings.Contains(v["message"].(string), tt.message) {
				t.Errorf("error %v, want __type %s and a message containing %q", v, tt.code, tt.message)
			}
			if got := res.Header.Get("X-Amzn-Query-Error"); got != tt.queryError {
				t.Errorf("X-Amzn-Query-Error %q, want %q", got, tt.queryError)
			}
			if res.Header.Get("X-Amzn-RequestId") == "" {
				t.Error("no X-Amzn-RequestId")
			}
		})
	}
}

// TestQueryProtocolRefused checks that an awsQuery request gets an awsQuery
// error saying which protocols to use, which the SDK reads as such.
func TestQueryProtocolRefused(t *testing.T) {
	srv := startedServer(t)
	res, body := rawCall(t, srv, "POST", "/", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, []byte("Action=GetMetricData&Version=2010-08-01"))
	if res.StatusCode != 400 || !bytes.Contains(body, []byte("<Code>UnsupportedProtocol</Code>")) || !bytes.Contains(body, []byte("awsJson")) {
		t.Errorf("awsQuery request: HTTP %d %s", res.StatusCode, body)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	isolate(t, hs.URL)
	c, err := awsapi.Load(context.Background(), awsapi.Options{CloudWatchProtocol: awsapi.CloudWatchQuery, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CloudWatch.GetMetricData(context.Background(), metricsInput())
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnsupportedProtocol" || !strings.Contains(ae.ErrorMessage(), "MAPTUNER_CLOUDWATCH_PROTOCOL") {
		t.Errorf("GetMetricData in awsQuery: %v, want the error UnsupportedProtocol", err)
	}
}

// TestWireTimestamps checks the timestamps of awsJson: numbers of epoch
// seconds, with their milliseconds.
func TestWireTimestamps(t *testing.T) {
	srv := startedServer(t)
	if _, err := srv.Advance(150_500_000); err != nil { // 150.5 ms
		t.Fatal(err)
	}
	run := srv.Result().Runs[0].MapRunARN
	_, body := rawCall(t, srv, "POST", "/", jsonHeader("AWSStepFunctions.DescribeMapRun"), []byte(`{"mapRunArn":"`+run+`"}`))
	if !bytes.Contains(body, []byte(`"startDate":1767571200,`)) {
		t.Errorf("DescribeMapRun %s: want startDate as epoch seconds", body)
	}
	_, body = rawCall(t, srv, "POST", "/", jsonHeader("AWSStepFunctions.ListExecutions"), []byte(`{"mapRunArn":"`+run+`","maxResults":1}`))
	if !bytes.Contains(body, []byte(`"startDate":1767571200.0500002,`)) {
		t.Errorf("ListExecutions %s: want the newest child's startDate with its milliseconds", body)
	}
}
