package tuner

// This file handles what goes wrong with a run or a call: a run that cannot
// be tuned is struck and retired, a denied call strikes it, an ended run is
// closed, and an error is logged as a warning when the next tick rides it
// out (transient) or as an error that someone must look at.

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
)

// untunable strikes run arn, which cannot be tuned for why.
func (t *Tuner) untunable(tc *tick, arn, why string) {
	if tc.work.Err() != nil {
		return
	}
	if run, ok := t.take(tc, arn); ok {
		t.strike(tc, run, why)
	}
}

// strike counts one more tick in a row that could not tune the
// run for why, a reason that does not pass by itself, and ends its
// tracking at Config.RetireAfter. Expected after a policy is removed or a
// name pattern narrowed: a warning, not an error.
func (t *Tuner) strike(tc *tick, run registry.Run, why string) {
	run.Failures++
	if run.Failures >= t.cfg.RetireAfter {
		run.Ended, run.EndedAt, run.EndReason = true, tc.now, "retired: "+why
	}
	if !t.keep(tc, run, false) {
		return
	}
	if run.Ended {
		tc.rep.Ended++
		t.deps.Log.Warn("run retired: tracking ended", "run", run.ARN, "reason", why, "ticks", run.Failures)
		return
	}
	t.deps.Log.Warn("run not tuned", "run", run.ARN, "reason", why, "ticks", run.Failures, "retireAfter", t.cfg.RetireAfter)
}

// denied reports whether err is an AWS refusal of access.
func denied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "AccessDeniedException" || ae.ErrorCode() == "AccessDenied")
}

func (t *Tuner) end(tc *tick, arn, reason string) {
	delete(tc.p.runs, arn)
	delete(t.known, arn)
	if err := t.deps.Store.EndRun(tc.finish, arn, reason, tc.now); err != nil {
		t.fail(tc.rep, "end "+arn, err)
		return
	}
	tc.rep.Ended++
	t.deps.Log.Info("tracking ended", "run", arn, "reason", reason)
}

// fail reports err: a transient one as a warning, any other as an error.
func (t *Tuner) fail(rep *Report, what string, err error) {
	msg := fmt.Sprintf("tuner: %s: %v", what, err)
	if transient(err) {
		rep.Warnings = append(rep.Warnings, msg)
		t.deps.Log.Warn("tuner: "+what, "error", err)
		return
	}
	rep.Errors = append(rep.Errors, msg)
	t.deps.Log.Error("tuner: "+what, "error", err)
}

// transient reports whether err is one that AWS answers in normal
// operation and the next tick rides out: time or budget spent, a throttle,
// a fault on the service's side, a conditional write lost to another tick,
// metric data CloudWatch could not complete. Those are logged as warnings;
// everything else (a missing resource or permission, a rejected request, a
// corrupt item) is an error that someone must look at.
func transient(err error) bool {
	for _, class := range []error{context.DeadlineExceeded, context.Canceled, budget.ErrExhausted, registry.ErrConflict, registry.ErrLeased, observe.ErrIncomplete} {
		if errors.Is(err, class) {
			return true
		}
	}
	var (
		ae smithy.APIError
		re *smithyhttp.ResponseError
	)
	switch {
	case errors.As(err, &ae) && (ae.ErrorFault() == smithy.FaultServer || retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary):
		return true
	case errors.As(err, &re) && re.HTTPStatusCode() >= 500:
		return true // a server error whose body did not even decode
	}
	return false
}
