package simserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/maptuner/maptuner/internal/awsapi"
)

// apiModel is the part of a botocore service model the validation reads.
type apiModel struct {
	Metadata struct {
		TargetPrefix string `json:"targetPrefix"`
		ServiceID    string `json:"serviceId"`
	} `json:"metadata"`
	Operations map[string]struct {
		Input  *shapeRef `json:"input"`
		Output *shapeRef `json:"output"`
	} `json:"operations"`
	Shapes map[string]modelShape `json:"shapes"`
}

type shapeRef struct {
	Shape string `json:"shape"`
}

type modelShape struct {
	Type      string              `json:"type"`
	Required  []string            `json:"required"`
	Members   map[string]shapeRef `json:"members"`
	Member    shapeRef            `json:"member"`
	Key       shapeRef            `json:"key"`
	Value     shapeRef            `json:"value"`
	Enum      []string            `json:"enum"`
	Min       *float64            `json:"min"`
	Max       *float64            `json:"max"`
	Exception bool                `json:"exception"`
}

func loadModel(t testing.TB, file string) *apiModel {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var m apiModel
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(m.Shapes) == 0 || m.Metadata.TargetPrefix == "" && m.Metadata.ServiceID == "" {
		t.Fatalf("%s: no shapes or no target prefix and service ID", file)
	}
	return &m
}

// prefix names the model's service as exchange.target does: its target
// prefix, or for a REST service its service ID.
func (m *apiModel) prefix() string {
	if m.Metadata.TargetPrefix != "" {
		return m.Metadata.TargetPrefix
	}
	return m.Metadata.ServiceID
}

// check validates a decoded wire value against a shape, recursively, and
// appends what is wrong, each naming its path.
func (m *apiModel) check(path, name string, v any, errs *[]string) {
	bad := func(format string, args ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, args...)) }
	s, ok := m.Shapes[name]
	if !ok {
		bad("shape %s is not in the model", name)
		return
	}
	inRange := func(what string, x float64) {
		if s.Min != nil && x < *s.Min {
			bad("%s %v is below the minimum %v of %s", what, x, *s.Min, name)
		}
		if s.Max != nil && x > *s.Max {
			bad("%s %v is above the maximum %v of %s", what, x, *s.Max, name)
		}
	}
	switch s.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			bad("want a structure %s, got %T", name, v)
			return
		}
		for _, r := range s.Required {
			if obj[r] == nil {
				bad("required member %s of %s is missing", r, name)
			}
		}
		for _, k := range sortedKeys(obj) {
			ref, ok := s.Members[k]
			if !ok {
				bad("%s has no member %q", name, k)
				continue
			}
			if obj[k] != nil {
				m.check(path+"."+k, ref.Shape, obj[k], errs)
			}
		}
	case "list":
		list, ok := v.([]any)
		if !ok {
			bad("want a list %s, got %T", name, v)
			return
		}
		inRange("length", float64(len(list)))
		for i, e := range list {
			m.check(fmt.Sprintf("%s[%d]", path, i), s.Member.Shape, e, errs)
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			bad("want a map %s, got %T", name, v)
			return
		}
		inRange("size", float64(len(obj)))
		for _, k := range sortedKeys(obj) {
			m.check(path+"{key}", s.Key.Shape, k, errs)
			m.check(path+"."+k, s.Value.Shape, obj[k], errs)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("want a string %s, got %T", name, v)
			return
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			bad("%q is not a value of the enum %s %v", str, name, s.Enum)
		}
		inRange("length", float64(utf8.RuneCountInString(str)))
	case "integer", "long":
		x, ok := wireNumber(v)
		if !ok || x != math.Trunc(x) {
			bad("want an integer %s, got %v (%T)", name, v, v)
			return
		}
		if s.Type == "integer" && (x < math.MinInt32 || x > math.MaxInt32) {
			bad("%v does not fit the 32-bit integer %s", x, name)
		}
		inRange("value", x)
	case "float", "double":
		x, ok := wireNumber(v)
		if !ok {
			bad("want a number %s, got %v (%T)", name, v, v)
			return
		}
		inRange("value", x)
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean %s, got %T", name, v)
		}
	case "timestamp":
		switch v.(type) {
		case time.Time, json.Number:
		default:
			bad("want a timestamp %s (epoch seconds or CBOR tag 1), got %T", name, v)
		}
	default:
		bad("shape %s of type %s is not expected in a response", name, s.Type)
	}
}

func wireNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case uint64:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	return 0, false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// exchange is one request and response the recorder saw.
type exchange struct {
	target   string // SERVICE.Operation as X-Amz-Target names it
	protocol protocol
	status   int
	body     []byte
	// errorType is the X-Amzn-ErrorType header, the error code of restJson1.
	errorType string
}

// recorder records every API exchange of the handler it wraps.
type recorder struct {
	h  http.Handler
	mu sync.Mutex
	ex []exchange
}

type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	tw := &teeWriter{ResponseWriter: w, status: http.StatusOK}
	r.h.ServeHTTP(tw, req)
	e := exchange{target: req.Header.Get("X-Amz-Target"), status: tw.status, body: tw.body.Bytes(), errorType: tw.Header().Get("X-Amzn-ErrorType")}
	if svc, op, ok := strings.Cut(strings.TrimPrefix(req.URL.Path, "/service/"), "/operation/"); ok {
		e.target, e.protocol = svc+"."+op, rpcCBOR
	}
	if strings.HasPrefix(req.URL.Path, lambdaFunctions) {
		e.target, e.protocol = "Lambda.GetFunctionConcurrency", restJSON
	}
	if e.target == "" {
		return
	}
	r.mu.Lock()
	r.ex = append(r.ex, e)
	r.mu.Unlock()
}

// TestResponsesMatchTheModels runs the scripted session, DescribeStateMachine,
// GetFunctionConcurrency and injected faults through the real SDK clients, records every response
// body the server wrote, and validates each against the botocore models:
// outputs against the operation's output shape, errors against their error
// shape (or, for the protocol's own errors such as ThrottlingException, the
// __type and message they are made of).
func TestResponsesMatchTheModels(t *testing.T) {
	models := map[string]*apiModel{}
	for _, f := range []string{"stepfunctions-2016-11-23.service-2.json", "cloudwatch-2010-08-01.service-2.json", "lambda-2015-03-31.service-2.json"} {
		m := loadModel(t, f)
		models[m.prefix()] = m
	}
	ctx := context.Background()
	rec := &recorder{}

	// The scripted session, then the state machines.
	sc := parseScenario(t, testScenario)
	srv, err := New(Config{Scenario: sc, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec.h = srv
	f := serveWith(t, srv, rec)
	f.replay(t, sc)
	for _, arn := range []string{"arn:aws:states:us-east-1:123456789012:stateMachine:etl", "arn:aws:states:us-east-1:123456789012:stateMachine:etl/Items",
		"arn:aws:states:us-east-1:123456789012:stateMachine:absent", "arn:aws:states:us-east-1:123456789012:mapRun:etl"} {
		_, _ = f.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	}
	for _, fn := range []string{"fn", "absent", "not a name"} {
		_, _ = f.lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(fn)})
	}
	for i := 0; i < 20; i++ {
		if _, err := f.lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("fn")}); err != nil {
			break
		}
	}
	// Empty a quota, up to the first throttle: the SDK's adaptive retry
	// mode would slow the calls after it.
	for i := 0; i < 200; i++ {
		if _, err := f.sfn.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(srv.Result().Runs[0].ExecutionARN)}); err != nil {
			break
		}
	}

	// Injected server faults, in both CloudWatch protocols.
	faulty, err := New(Config{Scenario: parseScenario(t, testScenario+"faults: {api: [{errorRate: 1}]}\n"), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec.h = faulty
	faulty.Start()
	_, _ = f.sfn.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(faulty.Result().Runs[0].MapRunARN)})
	for _, p := range []string{"", awsapi.CloudWatchJSON} {
		_, _ = f.cw[p].GetMetricData(ctx, metricsInput())
	}
	_, _ = f.lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("fn")})

	seen := map[string]bool{}
	for _, e := range rec.ex {
		prefix, op, _ := strings.Cut(e.target, ".")
		m := models[prefix]
		if m == nil {
			t.Errorf("%s: no model for the service", e.target)
			continue
		}
		var v any
		var err error
		if e.protocol == rpcCBOR {
			err = cborDecoder.Unmarshal(e.body, &v)
		} else {
			dec := json.NewDecoder(bytes.NewReader(e.body))
			dec.UseNumber()
			err = dec.Decode(&v)
		}
		if err != nil {
			t.Errorf("%s (%s): body %q does not decode: %v", e.target, e.protocol, e.body, err)
			continue
		}
		var errs []string
		if e.status == http.StatusOK {
			o, ok := m.Operations[op]
			if !ok || o.Output == nil {
				t.Errorf("%s: not an operation with output in the model", e.target)
				continue
			}
			m.check(op+"Output", o.Output.Shape, v, &errs)
			seen[e.target+" "+e.protocol.String()] = true
		} else if e.protocol == restJSON {
			// restJson1: the code in X-Amzn-ErrorType, the body the
			// error shape's members.
			obj, ok := v.(map[string]any)
			if s, known := m.Shapes[e.errorType]; !ok || !known || !s.Exception {
				t.Errorf("%s: error %q with body %s is not an error shape of the model", e.target, e.errorType, e.body)
				continue
			}
			seen[e.errorType+" "+e.protocol.String()] = true
			m.check(e.errorType, e.errorType, obj, &errs)
		} else {
			obj, ok := v.(map[string]any)
			code, _ := obj["__type"].(string)
			if _, isString := obj["message"].(string); !ok || code == "" || !isString {
				t.Errorf("%s: error body %s lacks __type or message", e.target, e.body)
				continue
			}
			seen[code+" "+e.protocol.String()] = true
			members := map[string]any{}
			for k, val := range obj {
				if k != "__type" && k != "message" {
					members[k] = val
				}
			}
			if s, ok := m.Shapes[code]; ok && s.Exception {
				m.check(code, code, members, &errs)
			} else if len(members) > 0 {
				errs = append(errs, fmt.Sprintf("%s: the protocol error %s has members %v", e.target, code, sortedKeys(members)))
			}
		}
		for _, msg := range errs {
			t.Errorf("%s (%s, HTTP %d): %s", e.target, e.protocol, e.status, msg)
		}
	}
	want := []string{
		"AWSStepFunctions.DescribeMapRun awsJson1_0", "AWSStepFunctions.UpdateMapRun awsJson1_0", "AWSStepFunctions.ListMapRuns awsJson1_0",
		"AWSStepFunctions.GetExecutionHistory awsJson1_0", "AWSStepFunctions.ListExecutions awsJson1_0", "AWSStepFunctions.DescribeExecution awsJson1_0",
		"AWSStepFunctions.ListTagsForResource awsJson1_0", "AWSStepFunctions.DescribeStateMachine awsJson1_0",
		"GraniteServiceVersion20100801.GetMetricData awsJson1_0", "GraniteServiceVersion20100801.GetMetricData rpcv2Cbor",
		"ValidationException awsJson1_0", "ResourceNotFound awsJson1_0", "InvalidArn awsJson1_0", "ExecutionDoesNotExist awsJson1_0",
		"StateMachineDoesNotExist awsJson1_0", "InvalidToken awsJson1_0", "ThrottlingException awsJson1_0", "InternalFailure awsJson1_0",
		"InvalidParameterValueException rpcv2Cbor", "InvalidNextToken awsJson1_0", "InternalServiceFault rpcv2Cbor", "InternalServiceFault awsJson1_0",
		"Lambda.GetFunctionConcurrency restJson1", "ResourceNotFoundException restJson1", "InvalidParameterValueException restJson1",
		"TooManyRequestsException restJson1", "ServiceException restJson1",
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("the session produced no %s response to validate; it saw %v", w, sortedKeys(seen))
		}
	}
}
