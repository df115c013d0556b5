package maprun

import (
	"errors"
	"testing"
)

func TestParseARN(t *testing.T) {
	a, err := ParseARN("arn:aws:states:eu-west-1:123456789012:mapRun:etl-nightly/ProcessItems:0b5e-11")
	if err != nil {
		t.Fatal(err)
	}
	want := ARN{Partition: "aws", Region: "eu-west-1", Account: "123456789012", StateMachine: "etl-nightly", Label: "ProcessItems", ID: "0b5e-11"}
	if a != want {
		t.Fatalf("got %+v, want %+v", a, want)
	}
	if s := a.String(); s != "arn:aws:states:eu-west-1:123456789012:mapRun:etl-nightly/ProcessItems:0b5e-11" {
		t.Fatalf("String() = %s", s)
	}
	if s := a.LabelledStateMachineARN(); s != "arn:aws:states:eu-west-1:123456789012:stateMachine:etl-nightly/ProcessItems" {
		t.Fatalf("LabelledStateMachineARN() = %s", s)
	}
	for _, bad := range []string{
		"",
		"arn:aws:states:eu-west-1:123456789012:execution:etl:run-1",
		"arn:aws:states:eu-west-1:123456789012:mapRun:etl:0b5e",
		"arn:aws:states:eu-west-1:123456789012:mapRun:/ProcessItems:0b5e",
		"arn:aws:states:eu-west-1:123456789012:mapRun:etl/:0b5e",
		"arn:aws:states:eu-west-1:123456789012:mapRun:etl/L:",
		"arn:aws:lambda:eu-west-1:123456789012:mapRun:etl/L:1",
		"arn::states:eu-west-1:123456789012:mapRun:etl/L:1",
	} {
		if _, err := ParseARN(bad); !errors.Is(err, ErrInvalidARN) {
			t.Errorf("ParseARN(%q) = %v, want ErrInvalidARN", bad, err)
		}
	}
}

func TestCounts(t *testing.T) {
	c := Counts{Succeeded: 90, Failed: 6, TimedOut: 2, Aborted: 1, Running: 1, Total: 200}
	if c.Failures() != 8 || c.Done() != 99 || c.FailurePercent() != 4 {
		t.Fatalf("failures %d done %d percent %g", c.Failures(), c.Done(), c.FailurePercent())
	}
	if (Counts{}).FailurePercent() != 0 {
		t.Fatal("zero total must give 0 %")
	}
	if !StatusSucceeded.Ended() || StatusRunning.Ended() {
		t.Fatal("Ended")
	}
}

func FuzzParseARN(f *testing.F) {
	f.Add("arn:aws:states:us-east-1:123456789012:mapRun:etl-nightly/ProcessItems:8e2d4c6a-1b3f-4d5e-9a7c-0f1e2d3c4b5a")
	f.Add("arn:aws-cn:states:cn-north-1:1:mapRun:a/b:c")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseARN(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidARN) {
				t.Fatalf("error does not wrap ErrInvalidARN: %v", err)
			}
			return
		}
		if a.String() != s {
			t.Fatalf("%q parsed to %+v, which formats as %q", s, a, a.String())
		}
	})
}

func TestChildren(t *testing.T) {
	items := Counts{Running: 400, Pending: 600, Total: 1000}
	batches := Counts{Running: 40, Pending: 60, Total: 100}
	if got := (Snapshot{Items: items, Executions: batches}).Children(); got != batches {
		t.Errorf("with execution counts: %+v, want them: an ItemBatcher runs %d items in each child", got, items.Total/batches.Total)
	}
	if got := (Snapshot{Items: items}).Children(); got != items {
		t.Errorf("without execution counts: %+v, want the item counts", got)
	}
}
