// Package actuate changes a running Map Run's settings with UpdateMapRun,
// guarded: it validates before calling, sends only what changed, never
// sends maxConcurrency 0 (unlimited) unless asked to, and spends its call
// from the tick's budget.
package actuate

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/maprun"
)

// ErrUnsafe is wrapped by the error of an update that would set
// maxConcurrency 0 (no limit) without Update.AllowUnlimited.
var ErrUnsafe = errors.New("unsafe map run update")

// ErrInvalid is wrapped by the error of an update with a malformed ARN or
// a setting out of range; no call is made.
var ErrInvalid = errors.New("invalid map run update")

// ErrRunEnded is wrapped by the error of an update of a Map Run that has
// ended or no longer exists: there is nothing left to tune.
var ErrRunEnded = errors.New("map run ended")

// MaxConcurrencyLimit is the largest maxConcurrency a Map Run accepts.
const MaxConcurrencyLimit = 10000

// UpdateAPI is the part of the Step Functions client the Applier writes
// with, with the SDK signature.
type UpdateAPI interface {
	UpdateMapRun(ctx context.Context, params *sfn.UpdateMapRunInput, optFns ...func(*sfn.Options)) (*sfn.UpdateMapRunOutput, error)
}

var _ UpdateAPI = (*sfn.Client)(nil)

// Applier applies settings to Map Runs.
type Applier struct {
	// SFN is the client UpdateMapRun goes to; required.
	SFN UpdateAPI
	// Budget is the tick's API budget; nil means unlimited.
	Budget *budget.Budget
}

// Update is one change of a Map Run's settings.
type Update struct {
	// MapRunARN names the Map Run.
	MapRunARN string
	// Old are the settings the run has; New the settings it should have.
	// Only the fields that differ are sent.
	Old, New maprun.Settings
	// AllowUnlimited permits sending New.MaxConcurrency 0, which lifts the
	// limit to 10,000 children. Without it such an update is refused.
	AllowUnlimited bool
}

// Apply sends the fields of u.New that differ from u.Old in one
// UpdateMapRun and reports whether it sent one: it makes no call, and
// returns false and nil, when nothing differs at the API's precision.
//
// Before any call it checks the ARN and the ranges of u.New
// (maxConcurrency in [0, 10000], percentage in [0, 100], count >= 0), with
// errors wrapping ErrInvalid, and refuses a maxConcurrency of 0 without
// u.AllowUnlimited, with an error wrapping ErrUnsafe. A Map Run that no
// longer exists or has completed gives an error wrapping ErrRunEnded; a
// spent budget one wrapping budget.ErrExhausted.
func (a *Applier) Apply(ctx context.Context, u Update) (bool, error) {
	in, err := input(u)
	if err != nil {
		return false, fmt.Errorf("actuate: update %s: %w", u.MapRunARN, err)
	}
	if in == nil {
		return false, nil
	}
	if !a.Budget.Take(budget.UpdateMapRun) {
		return false, fmt.Errorf("actuate: update %s: %s: %w", u.MapRunARN, budget.UpdateMapRun, budget.ErrExhausted)
	}
	if _, err := a.SFN.UpdateMapRun(ctx, in); err != nil {
		return false, fmt.Errorf("actuate: update %s: %w", u.MapRunARN, classify(err))
	}
	return true, nil
}

// input validates u and builds the request; nil when nothing changes.
func input(u Update) (*sfn.UpdateMapRunInput, error) {
	if _, err := maprun.ParseARN(u.MapRunARN); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	n := u.New
	switch {
	case n.MaxConcurrency < 0 || n.MaxConcurrency > MaxConcurrencyLimit:
		return nil, fmt.Errorf("%w: max concurrency %d not in [0, %d]", ErrInvalid, n.MaxConcurrency, MaxConcurrencyLimit)
	case math.IsNaN(n.ToleratedFailurePercentage) || n.ToleratedFailurePercentage < 0 || n.ToleratedFailurePercentage > 100:
		return nil, fmt.Errorf("%w: tolerated failure percentage %v not in [0, 100]", ErrInvalid, n.ToleratedFailurePercentage)
	case n.ToleratedFailureCount < 0:
		return nil, fmt.Errorf("%w: tolerated failure count %d is negative", ErrInvalid, n.ToleratedFailureCount)
	}
	in := &sfn.UpdateMapRunInput{MapRunArn: aws.String(u.MapRunARN)}
	changed := false
	if n.MaxConcurrency != u.Old.MaxConcurrency {
		if n.MaxConcurrency == 0 && !u.AllowUnlimited {
			return nil, fmt.Errorf("%w: max concurrency 0 (unlimited) from %d without AllowUnlimited", ErrUnsafe, u.Old.MaxConcurrency)
		}
		in.MaxConcurrency = aws.Int32(n.MaxConcurrency)
		changed = true
	}
	// The wire carries a float32: values equal at that precision are equal.
	if float32(n.ToleratedFailurePercentage) != float32(u.Old.ToleratedFailurePercentage) {
		in.ToleratedFailurePercentage = aws.Float32(float32(n.ToleratedFailurePercentage))
		changed = true
	}
	if n.ToleratedFailureCount != u.Old.ToleratedFailureCount {
		in.ToleratedFailureCount = aws.Int64(n.ToleratedFailureCount)
		changed = true
	}
	if !changed {
		return nil, nil
	}
	return in, nil
}

// classify wraps the errors that mean the run is over with ErrRunEnded and
// a rejected ARN with ErrInvalid.
func classify(err error) error {
	var (
		rnf *types.ResourceNotFound
		ve  *types.ValidationException
		ia  *types.InvalidArn
	)
	switch {
	case errors.As(err, &rnf):
		return fmt.Errorf("%w: %w", ErrRunEnded, err)
	case errors.As(err, &ve) && ve.Reason == types.ValidationExceptionReasonCannotUpdateCompletedMapRun:
		return fmt.Errorf("%w: %w", ErrRunEnded, err)
	case errors.As(err, &ia):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}
