package policy

import (
	"reflect"
	"testing"

	"github.com/maptuner/maptuner/internal/maprun"
)

func TestSignalExpand(t *testing.T) {
	arn, err := maprun.ParseARN("arn:aws:states:eu-west-1:123456789012:mapRun:orders/ProcessItems:7f2a")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dims map[string]string
		want map[string]string
	}{
		{"labelled arn", map[string]string{"StateMachineArn": "${LabelledStateMachineArn}"},
			map[string]string{"StateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:orders/ProcessItems"}},
		{"parent arn", map[string]string{"Parent": "${StateMachineArn}"},
			map[string]string{"Parent": "arn:aws:states:eu-west-1:123456789012:stateMachine:orders"}},
		{"several in one value", map[string]string{"Job": "${StateMachineName}/${Label}-${Label}"},
			map[string]string{"Job": "orders/ProcessItems-ProcessItems"}},
		{"literal text kept", map[string]string{"FunctionName": "worker", "Cost": "$5 {x}"},
			map[string]string{"FunctionName": "worker", "Cost": "$5 {x}"}},
		{"no dimensions", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Signal{Namespace: "N", Metric: "M", Stat: "Sum", Dimensions: tt.dims}
			before := s.Key()
			got := s.Expand(arn)
			want := Signal{Namespace: "N", Metric: "M", Stat: "Sum", Dimensions: tt.want}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Expand = %+v, want %+v", got, want)
			}
			if s.Key() != before {
				t.Errorf("Expand changed its receiver to %+v", s)
			}
		})
	}
}

// TestSignalExpandOnce checks that a value filled in is not expanded again.
func TestSignalExpandOnce(t *testing.T) {
	arn := maprun.ARN{Partition: "aws", Region: "us-east-1", Account: "1", StateMachine: "${Label}", Label: "L", ID: "x"}
	got := Signal{Dimensions: map[string]string{"D": "${StateMachineName}"}}.Expand(arn)
	if got.Dimensions["D"] != "${Label}" {
		t.Errorf("Expand = %q, want the name as it is", got.Dimensions["D"])
	}
}

func TestSignalKey(t *testing.T) {
	base := Signal{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"A": "1", "B": "2"}}
	same := Signal{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"B": "2", "A": "1"}}
	if base.Key() != same.Key() {
		t.Errorf("keys differ for equal signals: %s, %s", base.Key(), same.Key())
	}
	if want := `"AWS/Lambda" "Throttles" "Sum" "A"="1" "B"="2"`; base.Key() != want {
		t.Errorf("Key() = %s, want %s", base.Key(), want)
	}
	different := []Signal{
		{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Maximum", Dimensions: base.Dimensions},
		{Namespace: "AWS/Lambda", Metric: "Errors", Stat: "Sum", Dimensions: base.Dimensions},
		{Namespace: "AWS/States", Metric: "Throttles", Stat: "Sum", Dimensions: base.Dimensions},
		{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"A": "1"}},
		{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"A": "1", "B": "3"}},
		{Namespace: "AWS/Lambda", Metric: "Throttles", Stat: "Sum", Dimensions: map[string]string{"A": `1" "B"="2`}},
		{Namespace: "AWS/Lambda Throttles", Metric: "Sum", Stat: "", Dimensions: base.Dimensions},
	}
	for _, d := range different {
		if d.Key() == base.Key() {
			t.Errorf("%+v has the key of %+v", d, base)
		}
	}
}

func TestCheckStat(t *testing.T) {
	tests := []struct {
		stat string
		ok   bool
	}{
		{"Sum", true}, {"Maximum", true}, {"Minimum", true}, {"Average", true}, {"SampleCount", true},
		{"p0", true}, {"p50", true}, {"p99", true}, {"p99.9", true}, {"p100", true}, {"p100.0", true},
		{"sum", false}, {"", false}, {"p", false}, {"p100.1", false}, {"p101", false}, {"p-1", false},
		{"p1e2", false}, {"p99.", false}, {"pinf", false}, {"tm99", false}, {"Total", false},
	}
	for _, tt := range tests {
		if got := checkStat(tt.stat) == ""; got != tt.ok {
			t.Errorf("checkStat(%q) ok = %v, want %v (%s)", tt.stat, got, tt.ok, checkStat(tt.stat))
		}
	}
}

func TestCheckPlaceholders(t *testing.T) {
	tests := []struct {
		value string
		ok    bool
	}{
		{"plain", true}, {"$", true}, {"{x}", true}, {"$5", true},
		{"${Label}", true}, {"a${Label}b${StateMachineName}c", true},
		{"${LabelledStateMachineArn}", true}, {"${StateMachineArn}", true},
		{"${label}", false}, {"${}", false}, {"${Label", false}, {"${Label}${", false}, {"${Region}", false},
	}
	for _, tt := range tests {
		if got := checkPlaceholders(tt.value) == ""; got != tt.ok {
			t.Errorf("checkPlaceholders(%q) ok = %v, want %v (%s)", tt.value, got, tt.ok, checkPlaceholders(tt.value))
		}
	}
}

func TestSignalNamesDownstream(t *testing.T) {
	for _, tt := range []struct {
		s    Signal
		want bool
	}{
		{Signal{Namespace: "AWS/States", Metric: "ExecutionThrottled", Dimensions: map[string]string{"StateMachineArn": PlaceholderLabelledStateMachineARN}}, false},
		{Signal{Namespace: "AWS/Lambda", Metric: "Throttles", Dimensions: map[string]string{"FunctionName": PlaceholderStateMachineName}}, true},
		{Signal{Namespace: "AWS/DynamoDB", Metric: "WriteThrottleEvents", Dimensions: map[string]string{"TableName": "orders"}}, true},
	} {
		if got := tt.s.NamesDownstream(); got != tt.want {
			t.Errorf("%s %s: NamesDownstream = %v, want %v", tt.s.Namespace, tt.s.Metric, got, tt.want)
		}
	}
	if Default().policies[DefaultPolicy].base.Signals[0].NamesDownstream() {
		t.Error("the default policy's signal names a downstream; want Step Functions' own")
	}
}
