package tuner

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/observe"
)

// Capacity hints: when the item processor of a run's Map state invokes one
// Lambda function, that function's reserved concurrency bounds the run's
// capacity, in children, and is a first guess for a run with no memory
// (control.Observation.Bound). Every decision gets it, and follows it when
// an operator changes it during the run (control.ReasonBound). It is read
// with one DescribeStateMachine of the labelled state machine and one
// GetFunctionConcurrency, kept per labelled state machine, so that the runs
// of one Map state, and a run retried at once, share them: for hintTTL, or
// boundEvery for a run whose limit sits at or near its share of the bound
// (control.NearBound), which a raised bound would let grow at once.
// GetFunctionConcurrency is one of the Lambda control plane APIs, whose
// quota is 15 requests per second for all of them together, per account
// and Region, and cannot be raised: the tick's budget (budget.Budget) takes
// its share of it, and a read it cannot pay for keeps the bound known.
// Hints are off when Deps.Lambda is nil, and while the role may not make
// the calls: the first refusal is a warning, later ones are silent.

// hintTTL is how long a hint read for a labelled state machine is reused:
// long enough to serve the runs a tick discovers together, short enough to
// see a reserved concurrency changed between runs or during one.
const hintTTL = 3 * time.Minute

// functionKeep is how long the function of a hint is kept after the hint
// was read, for the sharing of downstreams (Tuner.invoked): a definition
// does not change under a run, and the decisions on a run read its hint
// again every hintTTL.
const functionKeep = time.Hour

// boundEvery is how long a hint is reused for a run held at or near its
// bound: one read a period.
const boundEvery = time.Minute

// hintCache holds the hints read, by labelled state machine ARN. The zero
// value is empty and ready.
type hintCache struct {
	mu     sync.Mutex
	byARN  map[string]cachedHint
	warned bool
}

type cachedHint struct {
	at   time.Time
	hint observe.Hint
}

// get returns the hint of arn read less than maxAge (at most hintTTL)
// before now.
func (c *hintCache) get(arn string, now time.Time, maxAge time.Duration) (observe.Hint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.byARN[arn]
	if !ok || now.Sub(h.at) >= min(maxAge, hintTTL) || now.Before(h.at) {
		return observe.Hint{}, false
	}
	return h.hint, true
}

// put keeps the hint of arn read at now, and forgets the expired ones. It
// reports whether the hint is news: none was kept for arn, or another.
func (c *hintCache) put(arn string, now time.Time, h observe.Hint) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byARN == nil {
		c.byARN = map[string]cachedHint{}
	}
	was, ok := c.byARN[arn]
	for k, v := range c.byARN {
		if now.Sub(v.at) >= functionKeep {
			delete(c.byARN, k)
		}
	}
	c.byARN[arn] = cachedHint{at: now, hint: h}
	return !ok || was.hint != h
}

// function returns the function of the hint kept for arn, read less than
// functionKeep before now, and whether one is kept (a hint that names none
// is kept too).
func (c *hintCache) function(arn string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.byARN[arn]
	if !ok || now.Sub(h.at) >= functionKeep {
		return "", false
	}
	return h.hint.Function, true
}

// firstDenial reports whether this is the first refusal the cache sees.
func (c *hintCache) firstDenial() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := !c.warned
	c.warned = true
	return first
}

// hint is the capacity hint of plan p's run, whose state is st and limit
// cur, for its decision now (control.Observation.Bound): control.NoBound
// when the function reserves no concurrency; 0 when nothing is known,
// hints are off, or it cannot be read now.
func (t *Tuner) hint(tc *tick, p plan, st control.State, cur int32) int32 {
	maxAge := hintTTL
	if control.NearBound(st, cur) {
		maxAge = boundEvery
	}
	h := t.readHint(tc, p, maxAge)
	if h.Unreserved {
		return control.NoBound
	}
	return h.Bound
}

// invoked is the name of the one Lambda function plan p's children
// invoke, from its capacity hint, for the sharing of downstreams
// (share.go); empty when none is known, hints are off, or the hint
// cannot be read now. It reads the hint only for a Map state none is kept
// for (its first run, or a tuner started since) or whose hint is older
// than functionKeep: a kept one names the function, and a failed read
// keeps the function read before.
func (t *Tuner) invoked(tc *tick, p plan) string {
	if fn, ok := t.hints.function(p.arn.LabelledStateMachineARN(), tc.now); ok {
		return functionName(fn)
	}
	return functionName(t.readHint(tc, p, hintTTL).Function)
}

// readHint returns the capacity hint of plan p's Map state, as kept when
// read less than maxAge ago, else as read now; the zero Hint when hints
// are off or it cannot be read now.
func (t *Tuner) readHint(tc *tick, p plan, maxAge time.Duration) observe.Hint {
	if t.deps.Lambda == nil {
		return observe.Hint{}
	}
	key := p.arn.LabelledStateMachineARN()
	if h, ok := t.hints.get(key, tc.now, maxAge); ok {
		return h
	}
	r := observe.Hints{SFN: t.deps.SFN, Lambda: timedLambda{t.deps.Lambda, t.cfg.CallTimeout}, Budget: tc.obs.Budget}
	h, err := r.Read(tc.work, p.run.ARN)
	switch {
	case errors.Is(err, budget.ErrExhausted):
		// Read by a later decision; the bound known stands, and the
		// function, when the definition was read, names the downstream.
		return observe.Hint{Function: h.Function}
	case denied(err):
		t.hints.put(key, tc.now, observe.Hint{Why: "access denied"})
		if t.hints.firstDenial() {
			msg := "tuner: capacity hints off: " + err.Error()
			tc.rep.Warnings = append(tc.rep.Warnings, msg)
			t.deps.Log.Warn("tuner: capacity hints off: the role may not read the definition or the reserved concurrency", "run", p.run.ARN, "error", err)
		}
		return observe.Hint{}
	case errors.Is(err, observe.ErrNotFound):
		return observe.Hint{} // the run's describe ends its tracking
	case err != nil:
		// Kept as a read with no bound, so that the runs of the Map state
		// do not each call again while the API fails: the bound known
		// stands, and the read is tried again when it expires. The
		// function read before stays: a definition does not change under
		// a run.
		fn, _ := t.hints.function(key, tc.now)
		h := observe.Hint{Function: fn, Why: "read failed"}
		t.hints.put(key, tc.now, h)
		t.fail(tc.rep, "read the capacity hint of "+p.run.ARN, err)
		return h
	}
	if t.hints.put(key, tc.now, h) {
		t.deps.Log.Info("capacity hint", "run", p.run.ARN, "stateMachine", key, "function", h.Function, "bound", h.Bound, "why", h.Why)
	}
	return h
}

// timedLambda gives every Lambda call its own timeout.
type timedLambda struct {
	observe.FunctionAPI
	timeout time.Duration
}

func (c timedLambda) GetFunctionConcurrency(ctx context.Context, in *lambda.GetFunctionConcurrencyInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error) {
	return bounded(ctx, c.timeout, func(ctx context.Context) (*lambda.GetFunctionConcurrencyOutput, error) {
		return c.FunctionAPI.GetFunctionConcurrency(ctx, in, opts...)
	})
}
