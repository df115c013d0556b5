package simserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	smithytime "github.com/aws/smithy-go/time"
	"github.com/fxamacker/cbor/v2"
)

func TestNaming(t *testing.T) {
	tests := []struct {
		n        naming
		in, want string
	}{
		{camelCase, "MapRunArn", "mapRunArn"},
		{camelCase, "Id", "id"},
		{camelCase, "MapRunStartedEventDetails", "mapRunStartedEventDetails"},
		{pascalCase, "MetricDataQueries", "MetricDataQueries"},
	}
	for _, tt := range tests {
		if got := tt.n.wire(tt.in); got != tt.want {
			t.Errorf("wire(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTimestampEncoding(t *testing.T) {
	whole := time.Unix(1767571200, 0)
	frac := time.Unix(1767571200, 123_456_789)
	tests := []struct {
		name string
		t    time.Time
		json string
		cbor []byte
	}{
		// Tag 1 (0xc1) around a 32-bit unsigned integer (0x1a).
		{"whole seconds", whole, "1767571200", []byte{0xc1, 0x1a, 0x69, 0x5a, 0xff, 0x00}},
		// Tag 1 around a float64 (0xfb), to the millisecond: one step above
		// the float64 nearest 1767571200.123, which readers that truncate
		// would read as .122.
		{"milliseconds", frac, "1767571200.1230001", append([]byte{0xc1, 0xfb}, float64Bytes(math.Nextafter(1767571200.123, 2e9))...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := json.Marshal(timestamp(tt.t))
			if err != nil || string(j) != tt.json {
				t.Errorf("JSON %s, %v; want %s", j, err, tt.json)
			}
			c, err := cbor.Marshal(timestamp(tt.t))
			if err != nil || !bytes.Equal(c, tt.cbor) {
				t.Errorf("CBOR % x, %v; want % x", c, err, tt.cbor)
			}
			var back time.Time
			if err := cbor.Unmarshal(c, &back); err != nil || back.UnixMilli() != tt.t.UnixMilli() {
				t.Errorf("CBOR decodes to %s, %v; want %s", back, err, tt.t)
			}
			f, err := strconv.ParseFloat(string(j), 64)
			if err != nil {
				t.Fatal(err)
			}
			if got := smithytime.ParseEpochSeconds(f); got.UnixMilli() != tt.t.UnixMilli() {
				t.Errorf("the SDK reads the JSON as %s, want %s to the millisecond", got, tt.t)
			}
			if got := time.UnixMilli(int64(f * 1e3)); got.UnixMilli() != tt.t.UnixMilli() {
				t.Errorf("the SDK reads the CBOR float as %s, want %s to the millisecond", got, tt.t)
			}
		})
	}
}

func float64Bytes(f float64) []byte {
	b := math.Float64bits(f)
	out := make([]byte, 8)
	for i := range out {
		out[i] = byte(b >> (56 - 8*i))
	}
	return out
}

func TestEncode(t *testing.T) {
	out := &sfn.DescribeMapRunOutput{
		MapRunArn:      aws.String("arn"),
		Status:         types.MapRunStatusRunning,
		StartDate:      aws.Time(time.Unix(10, 0)),
		MaxConcurrency: 0,
		ItemCounts:     &types.MapRunItemCounts{Total: 3},
	}
	got, ok, err := encode(reflect.ValueOf(out), camelCase)
	if err != nil || !ok {
		t.Fatalf("encode: %v, %v", ok, err)
	}
	m := got.(map[string]any)
	for _, k := range []string{"mapRunArn", "status", "startDate", "maxConcurrency", "toleratedFailurePercentage", "toleratedFailureCount", "itemCounts"} {
		if _, ok := m[k]; !ok {
			t.Errorf("member %s missing from %v", k, m)
		}
	}
	for _, k := range []string{"stopDate", "executionArn", "executionCounts", "redriveCount", "redriveDate", "resultMetadata", "ResultMetadata"} {
		if _, ok := m[k]; ok {
			t.Errorf("member %s written, want it left out: %v", k, m)
		}
	}
	if m["maxConcurrency"] != int64(0) || m["itemCounts"].(map[string]any)["total"] != int64(3) {
		t.Errorf("numbers %v", m)
	}
	res := &cloudwatch.GetMetricDataOutput{MetricDataResults: []cwtypes.MetricDataResult{{Id: aws.String("m"), Values: []float64{math.NaN()}}}}
	if _, _, err := encode(reflect.ValueOf(res), pascalCase); err == nil || !strings.Contains(err.Error(), "not a finite number") {
		t.Errorf("encode NaN: %v, want an error", err)
	}
	if _, _, err := encode(reflect.ValueOf(struct{ C chan int }{make(chan int)}), pascalCase); err == nil {
		t.Error("encode of a channel: no error")
	}
	if _, _, err := encode(reflect.ValueOf(struct{ U any }{U: 1}), pascalCase); err == nil {
		t.Error("encode of a union: no error")
	}
}

func TestDecode(t *testing.T) {
	num := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name string
		wire map[string]any
		into any
		want any
		err  string
	}{
		{"update", map[string]any{"mapRunArn": "a", "maxConcurrency": num("5"), "toleratedFailurePercentage": num("2.5"), "toleratedFailureCount": num("7")},
			&sfn.UpdateMapRunInput{}, &sfn.UpdateMapRunInput{MapRunArn: aws.String("a"), MaxConcurrency: aws.Int32(5), ToleratedFailurePercentage: aws.Float32(2.5), ToleratedFailureCount: aws.Int64(7)}, ""},
		{"null is absent", map[string]any{"mapRunArn": "a", "maxConcurrency": nil},
			&sfn.UpdateMapRunInput{}, &sfn.UpdateMapRunInput{MapRunArn: aws.String("a")}, ""},
		{"enum and value members", map[string]any{"mapRunArn": "a", "statusFilter": "FAILED", "maxResults": num("2")},
			&sfn.ListExecutionsInput{}, &sfn.ListExecutionsInput{MapRunArn: aws.String("a"), StatusFilter: types.ExecutionStatusFailed, MaxResults: 2}, ""},
		{"CBOR numbers and times", map[string]any{"StartTime": time.Unix(60, 0), "EndTime": time.Unix(120, 0), "MaxDatapoints": uint64(10),
			"MetricDataQueries": []any{map[string]any{"Id": "m", "MetricStat": map[string]any{"Period": uint64(60), "Stat": "Sum",
				"Metric": map[string]any{"Namespace": "N", "MetricName": "M", "Dimensions": []any{map[string]any{"Name": "k", "Value": "v"}}}}}}},
			&cloudwatch.GetMetricDataInput{}, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(time.Unix(60, 0).UTC()), EndTime: aws.Time(time.Unix(120, 0).UTC()), MaxDatapoints: aws.Int32(10),
				MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("m"), MetricStat: &cwtypes.MetricStat{Period: aws.Int32(60), Stat: aws.String("Sum"),
					Metric: &cwtypes.Metric{Namespace: aws.String("N"), MetricName: aws.String("M"), Dimensions: []cwtypes.Dimension{{Name: aws.String("k"), Value: aws.String("v")}}}}}}}, ""},
		{"JSON epoch with milliseconds", map[string]any{"StartTime": num("1767571200.123")},
			&cloudwatch.GetMetricDataInput{}, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(time.UnixMilli(1767571200123).UTC())}, ""},
		{"unknown member", map[string]any{"mapRunArn": "a", "MapRunArn": "b"}, &sfn.DescribeMapRunInput{}, nil, `DescribeMapRunInput: unknown member "MapRunArn"`},
		{"string for a number", map[string]any{"maxConcurrency": "5"}, &sfn.UpdateMapRunInput{}, nil, "maxConcurrency: want an integer, got a string"},
		{"int32 overflow", map[string]any{"maxConcurrency": uint64(1 << 31)}, &sfn.UpdateMapRunInput{}, nil, "out of the range of a 32-bit integer"},
		{"uint64 overflow", map[string]any{"toleratedFailureCount": uint64(math.MaxUint64)}, &sfn.UpdateMapRunInput{}, nil, "out of the range of a 64-bit integer"},
		{"float32 overflow", map[string]any{"toleratedFailurePercentage": num("1e39")}, &sfn.UpdateMapRunInput{}, nil, "out of the range of a 32-bit float"},
		{"not finite", map[string]any{"toleratedFailurePercentage": math.Inf(1)}, &sfn.UpdateMapRunInput{}, nil, "want a finite number"},
		{"bool", map[string]any{"executionArn": "a", "reverseOrder": "yes"}, &sfn.GetExecutionHistoryInput{}, nil, "reverseOrder: want a boolean, got a string"},
		{"list", map[string]any{"MetricDataQueries": map[string]any{}}, &cloudwatch.GetMetricDataInput{}, nil, "MetricDataQueries: want a list, got a structure"},
		{"structure", map[string]any{"LabelOptions": "x"}, &cloudwatch.GetMetricDataInput{}, nil, "LabelOptions: want a structure, got a string"},
		{"nested", map[string]any{"MetricDataQueries": []any{map[string]any{"MetricStat": map[string]any{"Period": num("x")}}}},
			&cloudwatch.GetMetricDataInput{}, nil, "GetMetricDataInput.MetricDataQueries[0].MetricStat.Period: want an integer, got x"},
		{"timestamp out of range", map[string]any{"StartTime": num("1e300")}, &cloudwatch.GetMetricDataInput{}, nil, "timestamp 1e+300 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.TrimPrefix(reflect.TypeOf(tt.into).String(), "*sfn.")
			name = strings.TrimPrefix(name, "*cloudwatch.")
			err := decode(tt.wire, reflect.ValueOf(tt.into).Elem(), namingOf(tt.into), name)
			if tt.err != "" {
				if !errors.Is(err, ErrSerialization) || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want ErrSerialization containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameValue(reflect.ValueOf(tt.into), reflect.ValueOf(tt.want)) {
				t.Errorf("decoded %+v, want %+v", tt.into, tt.want)
			}
		})
	}
}

func namingOf(v any) naming {
	if strings.HasPrefix(reflect.TypeOf(v).String(), "*cloudwatch.") {
		return pascalCase
	}
	return camelCase
}
