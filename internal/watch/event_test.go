package watch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	smARN   = "arn:aws:states:us-east-1:123456789012:stateMachine:etl-nightly"
	execARN = "arn:aws:states:us-east-1:123456789012:execution:etl-nightly:run-1"
)

func statusEvent(detail string) string {
	return `{"version":"0","id":"e1","detail-type":"Step Functions Execution Status Change","source":"aws.states",
	"account":"123456789012","time":"2026-11-25T12:00:00Z","region":"us-east-1","resources":[],"detail":` + detail + `}`
}

func TestParse(t *testing.T) {
	ev, err := Parse([]byte(statusEvent(`{"executionArn":"` + execARN + `","stateMachineArn":"` + smARN + `","name":"run-1","status":"RUNNING","startDate":1764072000000,"stopDate":null,"input":"{}"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != KindStatusChange || ev.ExecutionARN != execARN || ev.StateMachineARN != smARN || ev.Status != "RUNNING" ||
		ev.StartDate.UnixMilli() != 1764072000000 || !ev.StopDate.IsZero() {
		t.Fatalf("parsed %+v", ev)
	}
	ev, err = Parse([]byte(`{"id":"e2","detail-type":"MapRunStarted","source":"maptuner","detail":{"mapRunArn":"arn:aws:states:us-east-1:123456789012:mapRun:etl-nightly/ProcessItems:0b5e"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != KindMapRunStarted || ev.MapRun.Label != "ProcessItems" || ev.MapRun.StateMachineARN() != smARN {
		t.Fatalf("parsed %+v", ev)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, event, want string }{
		{"not json", `{"id":`, "not an EventBridge event"},
		{"array", `[1,2]`, "not an EventBridge event"},
		{"trailing", `{"detail-type":"MapRunStarted","detail":{"mapRunArn":"x"}} {}`, "trailing"},
		{"no detail-type", `{"id":"x","detail":{}}`, "detail-type is missing"},
		{"no detail", `{"id":"x","detail-type":"MapRunStarted"}`, "has no detail"},
		{"null detail", `{"id":"x","detail-type":"MapRunStarted","detail":null}`, "has no detail"},
		{"other type", `{"id":"x","detail-type":"EC2 Instance State-change Notification","detail":{}}`, "is not one the watch function handles"},
		{"map run arn missing", `{"id":"x","detail-type":"MapRunStarted","detail":{}}`, "detail.mapRunArn is missing"},
		{"map run arn bad", `{"id":"x","detail-type":"MapRunStarted","detail":{"mapRunArn":"arn:aws:states:us-east-1:1:execution:a:b"}}`, "detail.mapRunArn"},
		{"wrong source", strings.Replace(statusEvent(`{}`), "aws.states", "custom", 1), `source "custom"`},
		{"bad execution arn", statusEvent(`{"executionArn":"nope","stateMachineArn":"` + smARN + `","status":"RUNNING"}`), "detail.executionArn"},
		{"missing state machine", statusEvent(`{"executionArn":"` + execARN + `","status":"RUNNING"}`), "detail.stateMachineArn: missing"},
		{"mismatched", statusEvent(`{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:other:run-1","stateMachineArn":"` + smARN + `","status":"RUNNING"}`), "is not an execution of"},
		{"map run child", statusEvent(`{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:etl-nightly/ProcessItems:1","stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:etl-nightly/ProcessItems","status":"RUNNING"}`), "Map Run's children"},
		{"bad status", statusEvent(`{"executionArn":"` + execARN + `","stateMachineArn":"` + smARN + `","status":"DANCING"}`), `detail.status "DANCING"`},
		{"bad date", statusEvent(`{"executionArn":"` + execARN + `","stateMachineArn":"` + smARN + `","status":"RUNNING","startDate":"yesterday"}`), "detail:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.event))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrMalformed containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../events/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(statusEvent(`{"executionArn":"` + execARN + `","stateMachineArn":"` + smARN + `","status":"SUCCEEDED"}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		switch ev.Kind {
		case KindStatusChange:
			if ev.ExecutionARN == "" || ev.StateMachineARN == "" || !statuses[ev.Status] {
				t.Fatalf("accepted an incomplete status change: %+v", ev)
			}
		case KindMapRunStarted:
			if ev.MapRun.Label == "" || ev.MapRun.StateMachine == "" {
				t.Fatalf("accepted an incomplete map run: %+v", ev)
			}
		default:
			t.Fatalf("accepted an event of no kind: %+v", ev)
		}
	})
}
