package tickbench

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The lines aws-lambda-rie prints after a cold and a warm invocation, as
// its printEndReports formats them.
const (
	coldLine = "REPORT RequestId: 8d7e1c2a-4f6b-4d3a-9c1e-0a2b3c4d5e6f\tInit Duration: 12.34 ms\tDuration: 1503.27 ms\tBilled Duration: 1504 ms\tMemory Size: 512 MB\tMax Memory Used: 512 MB\t"
	warmLine = "REPORT RequestId: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\tDuration: 842.50 ms\tBilled Duration: 843 ms\tMemory Size: 512 MB\tMax Memory Used: 512 MB\t"
)

func TestParseReport(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Report
	}{
		{"cold", coldLine, Report{RequestID: "8d7e1c2a-4f6b-4d3a-9c1e-0a2b3c4d5e6f", Init: 12340 * time.Microsecond, Duration: 1503270 * time.Microsecond}},
		{"warm", warmLine + "\n", Report{RequestID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", Duration: 842500 * time.Microsecond}},
		{"managed instances emulator", "REPORT RequestId: abc\tDuration: 0.01 ms\n", Report{RequestID: "abc", Duration: 10 * time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReport(tt.line)
			if err != nil {
				t.Fatalf("ParseReport: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseReport = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseReportRejects(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"not a report", "END RequestId: abc", "does not start with"},
		{"no request id", "REPORT RequestId: \tDuration: 1.00 ms\t", "no request id"},
		{"no duration", "REPORT RequestId: abc\tBilled Duration: 1 ms\t", "no Duration"},
		{"duration without unit", "REPORT RequestId: abc\tDuration: 12.5\t", "Duration"},
		{"negative duration", "REPORT RequestId: abc\tDuration: -1.00 ms\t", "between 0 and a day"},
		{"duration not a number", "REPORT RequestId: abc\tDuration: NaN ms\t", "between 0 and a day"},
		{"bad init", "REPORT RequestId: abc\tInit Duration: x ms\tDuration: 1.00 ms\t", "Init Duration"},
		{"field without colon", "REPORT RequestId: abc\tDuration 1.00 ms\t", "not KEY: VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseReport(tt.line)
			if !errors.Is(err, ErrReport) {
				t.Fatalf("ParseReport(%q) = %v, want an error wrapping ErrReport", tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseReport(%q) error %q does not say %q", tt.line, err, tt.want)
			}
		})
	}
}

func TestLastReport(t *testing.T) {
	logs := "START RequestId: a Version: $LATEST\n" + coldLine + "\nEND RequestId: b\n{\"level\":\"INFO\"}\n" + warmLine + "\n"
	got, ok, err := LastReport(logs)
	if err != nil || !ok {
		t.Fatalf("LastReport = %v, %v", ok, err)
	}
	if got.RequestID != "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" || got.Duration != 842500*time.Microsecond {
		t.Errorf("LastReport = %+v, want the warm line's", got)
	}

	if _, ok, err := LastReport("START RequestId: a\nEND RequestId: a\n"); ok || err != nil {
		t.Errorf("LastReport without a REPORT line = %v, %v; want not ok, no error", ok, err)
	}
	// A function that logs the prefix inside a line is not the emulator.
	if _, ok, err := LastReport(`{"msg":"REPORT RequestId: x"}` + "\n"); ok || !errors.Is(err, ErrReport) {
		t.Errorf("LastReport of a prefix inside a line = %v, %v; want ErrReport", ok, err)
	}
}

func FuzzParseReport(f *testing.F) {
	for _, s := range []string{coldLine, warmLine, "REPORT RequestId: a\tDuration: 1 ms", "REPORT RequestId: \t\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseReport(line)
		if err != nil {
			if !errors.Is(err, ErrReport) {
				t.Fatalf("ParseReport(%q) error %v does not wrap ErrReport", line, err)
			}
			return
		}
		if r.RequestID == "" || r.Duration < 0 || r.Init < 0 {
			t.Fatalf("ParseReport(%q) = %+v: empty id or negative duration", line, r)
		}
	})
}
