package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Strategy steers the Map Runs of one world. Run calls Step once per tick
// with the world's virtual time; a Step acts through the world's APIs (or,
// for an oracle, on the world directly) and must not advance the clock.
type Strategy interface {
	Step(ctx context.Context, now time.Time) error
}

// NewStrategy builds a Strategy bound to a world, before the world starts.
type NewStrategy func(w *World) Strategy

// Run drives a world with a strategy: it starts the parent executions, runs
// the events due at once, then alternates a strategy step and a clock
// advance of tick (<= 0 means one minute) until the world is done or ctx
// ends. Strategy errors are counted in the Result, not fatal. The strategy
// must be bound to w and built before w started.
func Run(ctx context.Context, w *World, s Strategy, tick time.Duration) Result {
	if tick <= 0 {
		tick = time.Minute
	}
	w.Start()
	w.Advance(0)
	var errs int
	var first string
	for !w.Done() && ctx.Err() == nil {
		if err := s.Step(ctx, w.Now()); err != nil {
			if errs == 0 {
				first = err.Error()
			}
			errs++
		}
		w.Advance(tick)
	}
	res := w.Result()
	res.StrategyErrors, res.StrategyError = errs, first
	return res
}

// Static sets every run's maxConcurrency to n in the definition, as a user
// writes it, and never changes it: no API call. Built after the world
// started, its first Step returns the error.
func Static(n int32) NewStrategy {
	return func(w *World) Strategy {
		return &static{err: w.SetDefinitionMaxConcurrency(n)}
	}
}

// Unlimited is Static(0): no limit, which means 10,000 children.
func Unlimited() NewStrategy { return Static(0) }

type static struct{ err error }

func (s *static) Step(context.Context, time.Time) error {
	err := s.err
	s.err = nil
	return err
}

// CapacityOracle sets each running Map Run's maxConcurrency, every step, to
// the true capacity it has (World.Capacity, rounded, at least 1), reading
// it from the world and acting through UpdateMapRun.
func CapacityOracle() NewStrategy {
	return func(w *World) Strategy { return &follower{w: w, api: w.SFN()} }
}

type follower struct {
	w   *World
	api StepFunctionsAPI
}

func (f *follower) Step(ctx context.Context, _ time.Time) error {
	var errs []error
	for _, arn := range f.w.MapRunARNs() {
		limit, running := f.w.setting(arn)
		if !running {
			continue
		}
		c, err := f.w.Capacity(arn)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		target := int32(max(1, math.Round(min(c, MaxConcurrencyLimit))))
		if target == limit {
			continue
		}
		if _, err := f.api.UpdateMapRun(ctx, &sfn.UpdateMapRunInput{MapRunArn: aws.String(arn), MaxConcurrency: aws.Int32(target)}); err != nil && !runEnded(err) {
			errs = append(errs, fmt.Errorf("capacity oracle: update %s: %w", arn, err))
		}
	}
	return errors.Join(errs...)
}

// setting is a Map Run's current maxConcurrency and whether it runs.
func (w *World) setting(arn string) (int32, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.byMapRun[arn]
	if r == nil {
		return 0, false
	}
	return r.maxConc, r.status == types.MapRunStatusRunning
}

// runEnded reports whether err is UpdateMapRun's answer for a run that has
// ended.
func runEnded(err error) bool {
	var ve *types.ValidationException
	return errors.As(err, &ve) && ve.Reason == types.ValidationExceptionReasonCannotUpdateCompletedMapRun
}

// observer finds Map Runs and watches them as a deployed tuner does: by
// ListMapRuns on the parents, DescribeMapRun, and GetMetricData on the
// throttle metric of the run's downstream.
type observer struct {
	w      *World
	sfn    StepFunctionsAPI
	cw     CloudWatchAPI
	window time.Duration
	found  map[string]bool
	runs   []*watched
}

// watched is one Map Run an observer found.
type watched struct {
	arn    string
	signal Metric
	ended  bool
	// seen is the newest datapoint minute already looked at.
	seen time.Time
	// setting is the last maxConcurrency the strategy set; 0 before any.
	setting int32
	// state of the strategies
	limit     float64
	enabled   bool
	measured  float64
	wMax      float64
	throttleT time.Time
}

// reading is what one tick showed of a run.
type reading struct {
	running   float64
	limit     int32
	throttled bool
}

func newObserver(w *World, window time.Duration) *observer {
	return &observer{w: w, sfn: w.SFN(), cw: w.CloudWatch(), window: window, found: map[string]bool{}}
}

// discover lists the Map Runs of parents not yet found; new ones are returned.
func (o *observer) discover(ctx context.Context) ([]*watched, error) {
	var fresh []*watched
	var errs []error
	for _, p := range o.w.Parents() {
		if o.found[p.ExecutionARN] {
			continue
		}
		out, err := o.sfn.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(p.ExecutionARN)})
		if err != nil {
			errs = append(errs, fmt.Errorf("list map runs of %s: %w", p.ExecutionARN, err))
			continue
		}
		for _, m := range out.MapRuns {
			o.found[p.ExecutionARN] = true
			r := &watched{arn: aws.ToString(m.MapRunArn), signal: p.Signal}
			o.runs = append(o.runs, r)
			fresh = append(fresh, r)
		}
	}
	return fresh, errors.Join(errs...)
}

// read observes a run at now; ok is false when the run has ended.
func (o *observer) read(ctx context.Context, r *watched, now time.Time) (reading, bool, error) {
	d, err := o.sfn.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(r.arn)})
	if err != nil {
		return reading{}, true, fmt.Errorf("describe %s: %w", r.arn, err)
	}
	if d.Status != types.MapRunStatusRunning {
		r.ended = true
		return reading{}, false, nil
	}
	rd := reading{limit: d.MaxConcurrency}
	if d.ExecutionCounts != nil {
		rd.running = float64(d.ExecutionCounts.Running)
	}
	dims := make([]cwtypes.Dimension, 0, len(r.signal.Dimensions))
	for _, k := range sortedKeys(r.signal.Dimensions) {
		dims = append(dims, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(r.signal.Dimensions[k])})
	}
	out, err := o.cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-o.window)),
		EndTime:   aws.Time(now),
		MetricDataQueries: []cwtypes.MetricDataQuery{{
			Id: aws.String("throttles"),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String(r.signal.Namespace), MetricName: aws.String(r.signal.Name), Dimensions: dims},
				Period: aws.Int32(60),
				Stat:   aws.String("Sum"),
			},
		}},
	})
	if err != nil {
		return rd, true, fmt.Errorf("throttle metric of %s: %w", r.arn, err)
	}
	newest := r.seen
	for _, res := range out.MetricDataResults {
		for i, ts := range res.Timestamps {
			if !ts.After(r.seen) {
				continue
			}
			if res.Values[i] > 0 {
				rd.throttled = true
			}
			if ts.After(newest) {
				newest = ts
			}
		}
	}
	r.seen = newest
	return rd, true, nil
}

// set sends a new maxConcurrency when it differs from the run's.
func (o *observer) set(ctx context.Context, r *watched, current, limit int32) error {
	r.setting = limit
	if limit == current {
		return nil
	}
	_, err := o.sfn.UpdateMapRun(ctx, &sfn.UpdateMapRunInput{MapRunArn: aws.String(r.arn), MaxConcurrency: aws.Int32(limit)})
	if err != nil {
		if runEnded(err) {
			r.ended = true
			return nil
		}
		return fmt.Errorf("update %s to %d: %w", r.arn, limit, err)
	}
	return nil
}

// AIMDConfig configures AIMD; zero fields take the defaults shown.
type AIMDConfig struct {
	// Initial is the limit set on a run when it is found (10).
	Initial int32
	// Backoff multiplies the limit on a throttled tick (0.9).
	Backoff float64
	// Min and Max bound the limit (1 and 10,000).
	Min, Max int32
	// Window is how far back each tick reads the throttle metric (10m).
	Window time.Duration
}

// AIMD is additive increase, multiplicative decrease with the defaults of
// Netflix's concurrency-limits AIMDLimit: starting at 10, each tick whose
// new throttle datapoints show a throttle sets the limit to
// max(1, min(limit-1, floor(limit*0.9))); any other tick adds 1 while the
// running children are at least half the limit. Bounds are the Map's 1 to
// 10,000 rather than the library's 20 to 200.
func AIMD(cfg AIMDConfig) NewStrategy {
	if cfg.Initial <= 0 {
		cfg.Initial = 10
	}
	if cfg.Backoff <= 0 || cfg.Backoff >= 1 {
		cfg.Backoff = 0.9
	}
	defaultBounds(&cfg.Min, &cfg.Max, &cfg.Window)
	return func(w *World) Strategy { return &aimd{cfg: cfg, o: newObserver(w, cfg.Window)} }
}

// defaultBounds fills the bounds and the metric window a baseline left
// unset: 1 to 10,000 children, 10 minutes.
func defaultBounds(lo, hi *int32, window *time.Duration) {
	if *lo <= 0 {
		*lo = 1
	}
	if *hi <= 0 || *hi > MaxConcurrencyLimit {
		*hi = MaxConcurrencyLimit
	}
	if *window <= 0 {
		*window = 10 * time.Minute
	}
}

type aimd struct {
	cfg AIMDConfig
	o   *observer
}

func (a *aimd) Step(ctx context.Context, now time.Time) error {
	fresh, err := a.o.discover(ctx)
	errs := []error{err}
	for _, r := range fresh {
		r.limit = float64(a.cfg.Initial)
	}
	for _, r := range a.o.runs {
		if r.ended {
			continue
		}
		rd, open, err := a.o.read(ctx, r, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("aimd: %w", err))
			continue
		}
		if !open {
			continue
		}
		limit := int32(r.limit)
		if r.setting != 0 {
			switch {
			case rd.throttled:
				limit = max(1, min(limit-1, int32(float64(limit)*a.cfg.Backoff)))
			case rd.running*2 >= float64(limit):
				limit++
			}
		}
		limit = min(max(limit, a.cfg.Min), a.cfg.Max)
		r.limit = float64(limit)
		if err := a.o.set(ctx, r, rd.limit, limit); err != nil {
			errs = append(errs, fmt.Errorf("aimd: %w", err))
		}
	}
	return errors.Join(errs...)
}

// CUBICConfig configures CUBIC; zero fields take the defaults shown, those
// of the AWS SDKs' adaptive retry mode.
type CUBICConfig struct {
	// Beta is the multiplicative decrease (0.7).
	Beta float64
	// Scale is the cubic's scale constant C, per second cubed (0.4).
	Scale float64
	// Smooth weighs the newest running-children measurement (0.8).
	Smooth float64
	// Min and Max bound the limit (1 and 10,000).
	Min, Max int32
	// Window is how far back each tick reads the throttle metric (10m).
	Window time.Duration
}

// CUBIC steers the limit as the AWS SDKs' adaptive retry mode steers its
// request rate, with running children in place of the measured send rate
// (smoothed: 0.8 new, 0.2 old). On a throttled tick: wMax = the measured
// rate (or the limit, if lower), limit = wMax * beta, and the cubic restarts
// from there. On other ticks after a throttle: limit = min(C*(t-K)^3 + wMax,
// 2*measured), K = cbrt(wMax*(1-beta)/C), t in seconds since the throttle.
// Before the first throttle the SDK sets no limit at all; on a Map Run,
// which must have one, the limit starts at the definition's (10,000 for 0)
// and grows to 2*measured whenever that is higher: a slow start.
func CUBIC(cfg CUBICConfig) NewStrategy {
	if cfg.Beta <= 0 || cfg.Beta >= 1 {
		cfg.Beta = 0.7
	}
	if cfg.Scale <= 0 {
		cfg.Scale = 0.4
	}
	if cfg.Smooth <= 0 || cfg.Smooth > 1 {
		cfg.Smooth = 0.8
	}
	defaultBounds(&cfg.Min, &cfg.Max, &cfg.Window)
	return func(w *World) Strategy { return &cubic{cfg: cfg, o: newObserver(w, cfg.Window)} }
}

type cubic struct {
	cfg CUBICConfig
	o   *observer
}

func (c *cubic) Step(ctx context.Context, now time.Time) error {
	_, err := c.o.discover(ctx)
	errs := []error{err}
	for _, r := range c.o.runs {
		if r.ended {
			continue
		}
		rd, open, err := c.o.read(ctx, r, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("cubic: %w", err))
			continue
		}
		if !open {
			continue
		}
		if r.setting == 0 {
			r.limit = float64(rd.limit)
			if rd.limit == 0 {
				r.limit = float64(c.cfg.Max)
			}
		}
		r.measured = c.cfg.Smooth*rd.running + (1-c.cfg.Smooth)*r.measured
		calc := math.Max(r.limit, 2*r.measured)
		switch {
		case rd.throttled:
			use := r.measured
			if r.enabled {
				use = math.Min(use, r.limit)
			}
			r.wMax = use
			r.throttleT = now
			r.enabled = true
			calc = use * c.cfg.Beta
		case r.enabled:
			k := math.Cbrt(r.wMax * (1 - c.cfg.Beta) / c.cfg.Scale)
			calc = c.cfg.Scale*math.Pow(now.Sub(r.throttleT).Seconds()-k, 3) + r.wMax
		}
		if r.enabled {
			calc = math.Min(calc, 2*r.measured)
		}
		r.limit = math.Min(math.Max(calc, float64(c.cfg.Min)), float64(c.cfg.Max))
		limit := int32(r.limit)
		if err := c.o.set(ctx, r, rd.limit, limit); err != nil {
			errs = append(errs, fmt.Errorf("cubic: %w", err))
		}
	}
	return errors.Join(errs...)
}

// GridPoint is one static setting tried by OracleStatic.
type GridPoint struct {
	// MaxConcurrency is the static setting.
	MaxConcurrency int32 `json:"maxConcurrency"`
	// Makespan is the Result's makespan; Succeeded whether every Map Run
	// succeeded; Items how many items succeeded.
	Makespan  time.Duration `json:"makespan"`
	Succeeded bool          `json:"succeeded"`
	Items     int64         `json:"items"`
}

// OracleResult is the outcome of a grid search.
type OracleResult struct {
	// Best is the best static maxConcurrency; Result its run's figures.
	Best   int32  `json:"best"`
	Result Result `json:"result"`
	// Grid has every setting tried, in grid order.
	Grid []GridPoint `json:"grid"`
}

// ErrEmptyGrid is returned by OracleStatic given no setting to try.
var ErrEmptyGrid = errors.New("empty grid")

// OracleStatic runs the scenario with seed once per static maxConcurrency
// of grid and returns the best: runs that all succeed beat any that fail,
// then more items succeeded, then the shorter makespan, then the smaller
// setting. Each run is a fresh world; tick is as for Run.
func OracleStatic(ctx context.Context, sc Scenario, seed uint64, grid []int32, tick time.Duration) (OracleResult, error) {
	if len(grid) == 0 {
		return OracleResult{}, fmt.Errorf("oracle static for %s: %w", sc.Name, ErrEmptyGrid)
	}
	var best OracleResult
	var bestPoint GridPoint
	for i, n := range grid {
		if n < 0 {
			return OracleResult{}, fmt.Errorf("oracle static for %s: grid value %d is negative", sc.Name, n)
		}
		w := New(sc, seed)
		res := Run(ctx, w, Static(n)(w), tick)
		if err := ctx.Err(); err != nil {
			return OracleResult{}, fmt.Errorf("oracle static for %s: %w", sc.Name, err)
		}
		p := GridPoint{MaxConcurrency: n, Makespan: res.Makespan, Succeeded: allSucceeded(res)}
		for _, r := range res.Runs {
			p.Items += r.Succeeded
		}
		best.Grid = append(best.Grid, p)
		if i == 0 || better(p, bestPoint) {
			bestPoint = p
			best.Best, best.Result = n, res
		}
	}
	return best, nil
}

func allSucceeded(res Result) bool {
	for _, r := range res.Runs {
		if r.Status != string(types.MapRunStatusSucceeded) {
			return false
		}
	}
	return len(res.Runs) > 0
}

func better(a, b GridPoint) bool {
	switch {
	case a.Succeeded != b.Succeeded:
		return a.Succeeded
	case a.Items != b.Items:
		return a.Items > b.Items
	case a.Makespan != b.Makespan:
		return a.Makespan < b.Makespan
	}
	return a.MaxConcurrency < b.MaxConcurrency
}

// GeometricGrid returns the settings from lo to hi (both included, clamped
// to [1, 10,000]) spaced by a factor of ratio (at least 1.01), rounded,
// without duplicates; nil when lo > hi or ratio < 1.01.
func GeometricGrid(lo, hi int32, ratio float64) []int32 {
	lo, hi = max(lo, 1), min(hi, MaxConcurrencyLimit)
	if lo > hi || !(ratio >= 1.01) {
		return nil
	}
	var out []int32
	for v := float64(lo); v < float64(hi); v *= ratio {
		n := int32(math.Round(v))
		if len(out) == 0 || n > out[len(out)-1] {
			out = append(out, n)
		}
	}
	if len(out) == 0 || out[len(out)-1] != hi {
		out = append(out, hi)
	}
	return out
}
