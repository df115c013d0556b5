package tickbench

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrReport is wrapped by the errors about an emulator REPORT line that
// cannot be read.
var ErrReport = errors.New("bad REPORT line")

// reportPrefix starts the line the emulator prints after each invocation.
const reportPrefix = "REPORT RequestId: "

// Report is what the emulator's REPORT line says of one invocation. The
// emulator prints "Max Memory Used" equal to "Memory Size", the configured
// size, not a measurement, so Report leaves both out.
type Report struct {
	// RequestID is the invocation's request id.
	RequestID string
	// Init is the runtime's start before its first invocation; zero when
	// the line has no Init Duration (a warm invocation).
	Init time.Duration
	// Duration is the invocation's wall time as the emulator timed it,
	// from the event handed to the runtime to its response.
	Duration time.Duration
}

// ParseReport reads one REPORT line of aws-lambda-rie:
//
//	REPORT RequestId: ID\t[Init Duration: F ms\t]Duration: F ms\tBilled Duration: N ms\tMemory Size: N MB\tMax Memory Used: N MB\t
//
// The request id and Duration are required; fields it does not use are
// skipped, and a trailing newline is allowed.
func ParseReport(line string) (Report, error) {
	rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), reportPrefix)
	if !ok {
		return Report{}, fmt.Errorf("%w: %.80q does not start with %q", ErrReport, line, reportPrefix)
	}
	var (
		r           Report
		hasDuration bool
	)
	for i, field := range strings.Split(rest, "\t") {
		if i == 0 {
			if r.RequestID = strings.TrimSpace(field); r.RequestID == "" {
				return Report{}, fmt.Errorf("%w: %.80q has no request id", ErrReport, line)
			}
			continue
		}
		key, value, ok := strings.Cut(field, ": ")
		if !ok {
			if strings.TrimSpace(field) == "" {
				continue
			}
			return Report{}, fmt.Errorf("%w: field %q is not KEY: VALUE", ErrReport, field)
		}
		var err error
		switch key {
		case "Init Duration":
			r.Init, err = milliseconds(value)
		case "Duration":
			r.Duration, err = milliseconds(value)
			hasDuration = true
		}
		if err != nil {
			return Report{}, fmt.Errorf("%w: %s: %w", ErrReport, key, err)
		}
	}
	if !hasDuration {
		return Report{}, fmt.Errorf("%w: %.80q has no Duration", ErrReport, line)
	}
	return r, nil
}

// milliseconds reads "F ms", F a non-negative decimal number.
func milliseconds(s string) (time.Duration, error) {
	num, ok := strings.CutSuffix(s, " ms")
	if !ok {
		return 0, fmt.Errorf("%q is not a number of ms", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || !(f >= 0 && f <= float64(24*time.Hour/time.Millisecond)) {
		return 0, fmt.Errorf("%q is not a duration in ms between 0 and a day", s)
	}
	return time.Duration(f * float64(time.Millisecond)).Round(10 * time.Microsecond), nil
}

// LastReport is the last REPORT line in logs, the emulator's and the
// function's output, parsed; ok is false when there is none.
func LastReport(logs string) (r Report, ok bool, err error) {
	i := strings.LastIndex(logs, reportPrefix)
	if i < 0 {
		return Report{}, false, nil
	}
	if i > 0 && logs[i-1] != '\n' {
		return Report{}, false, fmt.Errorf("%w: %q does not start a line", ErrReport, reportPrefix)
	}
	line, _, _ := strings.Cut(logs[i:], "\n")
	r, err = ParseReport(line)
	return r, err == nil, err
}
