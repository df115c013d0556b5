package observe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
)

// MaxSample is the largest n SampleFailures accepts: one ListExecutions page.
const MaxSample = maxPage

// SampleFailures classifies up to n failed children of a Map Run: one
// ListExecutions (statusFilter FAILED, the newest first) and one
// DescribeExecution per child, each from the budget. n must be in
// [1, MaxSample].
//
// When the DescribeExecution budget runs out part way, it returns the
// children classified so far with an error wrapping budget.ErrExhausted;
// the sample is usable, only smaller. A child that no longer exists is
// skipped. Any other DescribeExecution error ends the sample the same way,
// with the error. A Map Run that does not exist gives an error wrapping
// ErrNotFound; one whose children cannot be listed (Express) one wrapping
// ErrUnsupported.
func (o *Observer) SampleFailures(ctx context.Context, mapRunARN string, n int) (control.FailureSample, error) {
	var s control.FailureSample
	if n < 1 || n > MaxSample {
		return s, fmt.Errorf("observe: sample failures of %s: %w: n %d not in [1, %d]", mapRunARN, ErrInvalidInput, n, MaxSample)
	}
	if _, err := maprun.ParseARN(mapRunARN); err != nil {
		return s, fmt.Errorf("observe: sample failures: %w: %w", ErrNotFound, err)
	}
	if err := o.take(budget.ListExecutions); err != nil {
		return s, fmt.Errorf("observe: sample failures of %s: %w", mapRunARN, err)
	}
	list, err := o.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{
		MapRunArn:    aws.String(mapRunARN),
		StatusFilter: types.ExecutionStatusFailed,
		MaxResults:   int32(n),
	})
	if err != nil {
		return s, fmt.Errorf("observe: sample failures of %s: list failed children: %w", mapRunARN, notFound(err))
	}
	children := list.Executions[:min(n, len(list.Executions))]
	for i, child := range children {
		arn := aws.ToString(child.ExecutionArn)
		if err := o.take(budget.DescribeExecution); err != nil {
			return s, fmt.Errorf("observe: sample failures of %s: %d of %d children described: %w", mapRunARN, i, len(children), err)
		}
		d, err := o.describeFailure(ctx, arn)
		var gone *types.ExecutionDoesNotExist
		switch {
		case errors.As(err, &gone):
			continue
		case err != nil:
			return s, fmt.Errorf("observe: sample failures of %s: describe child %s: %w", mapRunARN, arn, err)
		}
		s.Sampled++
		if IsThrottleError(aws.ToString(d.Error), aws.ToString(d.Cause)) {
			s.Throttle++
		}
	}
	return s, nil
}

// describeFailure describes a failed child for its error and cause: with
// includedData METADATA_ONLY first, which spares the decryption of the
// child's data when its state machine is encrypted with a customer managed
// key, then, if that answer carries neither error nor cause (the API does
// not document that METADATA_ONLY keeps them), once more with all data.
// Each call takes one DescribeExecution from the budget.
func (o *Observer) describeFailure(ctx context.Context, arn string) (*sfn.DescribeExecutionOutput, error) {
	d, err := o.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn), IncludedData: types.IncludedDataMetadataOnly})
	if err != nil || d.Error != nil || d.Cause != nil {
		return d, err
	}
	if err := o.take(budget.DescribeExecution); err != nil {
		return nil, err
	}
	return o.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn), IncludedData: types.IncludedDataAllData})
}

// throttleNames are the error codes of throttling across AWS services and
// the SDKs. An error name matches on its last dot-separated part, so that
// Lambda.TooManyRequestsException and DynamoDB.ThrottlingException match.
var throttleNames = map[string]bool{
	"TooManyRequestsException":               true,
	"TooManyRequests":                        true,
	"ThrottlingException":                    true,
	"Throttling":                             true,
	"ThrottledException":                     true,
	"RequestThrottled":                       true,
	"RequestThrottledException":              true,
	"ProvisionedThroughputExceededException": true,
	"RequestLimitExceeded":                   true,
	"SlowDown":                               true,
	"EC2ThrottledException":                  true,
}

// throttlePhrases are found in causes of throttling, matched in the cause
// lowercased with spaces, quotes and underscores removed, so that
// "status code: 429", "StatusCode: 429" and `"statusCode": 429` all match.
var throttlePhrases = []string{
	"rateexceeded",
	"toomanyrequests",
	"reduceyourrequestrate",
	"statuscode:429",
	"status:429",
	"statuscode429",
	"http429",
	"http/1.1429",
	"http/2429",
}

// notThrottle are error names that are never throttling, whatever their
// cause says: Step Functions' own errors for a failure of another kind.
var notThrottle = map[string]bool{
	"States.ExceedToleratedFailureThreshold": true,
	"States.Timeout":                         true,
	"States.HeartbeatTimeout":                true,
	"States.Permissions":                     true,
	"States.DataLimitExceeded":               true,
	"States.ResultPathMatchFailure":          true,
	"States.ParameterPathFailure":            true,
	"States.QueryEvaluationError":            true,
	"States.NoChoiceMatched":                 true,
	"States.IntrinsicFailure":                true,
}

// IsThrottleError reports whether a failed execution's error name and cause
// say it was throttled. The error code decides first: a throttling code
// (Lambda.TooManyRequestsException, ThrottlingException,
// ProvisionedThroughputExceededException, SlowDown..., matched on the part
// after the last dot, or States.Http.StatusCode.429) is throttling, and a
// Step Functions error of another kind (States.Timeout,
// States.ExceedToleratedFailureThreshold, States.Permissions...) is not,
// whatever the cause says. Only for any other code (a generic one such as
// States.TaskFailed, or the error type of the worker's own code) is the cause
// read, as a fallback: a throttling code named in it (as an unhandled SDK
// error reports it), or HTTP 429 / "Rate exceeded".
func IsThrottleError(errorName, cause string) bool {
	errorName = strings.TrimSpace(errorName)
	if notThrottle[errorName] {
		return false
	}
	if errorName == "States.Http.StatusCode.429" {
		return true
	}
	if i := strings.LastIndexByte(errorName, '.'); i >= 0 {
		errorName = errorName[i+1:]
	}
	if throttleNames[errorName] {
		return true
	}
	if cause == "" {
		return false
	}
	for _, tok := range strings.FieldsFunc(cause, notIdentRune) {
		if throttleNames[tok] {
			return true
		}
	}
	squashed := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '"' || r == '\'' || r == '_' {
			return -1
		}
		return unicode.ToLower(r)
	}, cause)
	for _, p := range throttlePhrases {
		if strings.Contains(squashed, p) {
			return true
		}
	}
	return false
}

// notIdentRune splits a cause into identifier tokens.
func notIdentRune(r rune) bool {
	return !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r))
}
