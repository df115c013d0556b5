package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

// parse builds a scenario from YAML text or fails the test.
func parse(t testing.TB, text string) Scenario {
	t.Helper()
	sc, err := ParseScenario("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("parse scenario: %v", err)
	}
	return sc
}

// started builds a world, starts it and runs the events due at once.
func started(t testing.TB, text string, seed uint64) *World {
	t.Helper()
	w := New(parse(t, text), seed)
	w.Start()
	w.Advance(0)
	return w
}

// describe returns the DescribeMapRun of the world's first run.
func describe(t testing.TB, w *World) *sfn.DescribeMapRunOutput {
	t.Helper()
	arns := w.MapRunARNs()
	if len(arns) == 0 {
		t.Fatal("no map run started")
	}
	out, err := w.SFN().DescribeMapRun(context.Background(), &sfn.DescribeMapRunInput{MapRunArn: aws.String(arns[0])})
	if err != nil {
		t.Fatalf("describe map run: %v", err)
	}
	return out
}

// runToEnd advances the world a second at a time until it is done.
func runToEnd(t testing.TB, w *World) {
	t.Helper()
	for i := 0; !w.Done(); i++ {
		if i > 7*24*3600 {
			t.Fatal("world never done")
		}
		w.Advance(time.Second)
	}
}

func isThrottle(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ThrottlingException"
}

func validationReason(err error) (types.ValidationExceptionReason, bool) {
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		return "", false
	}
	return ve.Reason, true
}
