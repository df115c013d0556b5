// Package budget shares the account's AWS API quotas out to one tuner tick.
//
// Step Functions, CloudWatch and Lambda throttle each API with a token
// bucket per account and Region, shared with every other caller in the account. The
// tuner runs once per tick, so it takes a Budget per tick: for each API a
// number of calls equal to a fraction of what the bucket refills during the
// tick, and never more. The burst capacity of the buckets is left to the
// account's other callers.
//
// The package is pure: it reads no clock and makes no calls.
package budget

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// ErrExhausted is wrapped by the errors of callers that found an API's
// budget spent.
var ErrExhausted = errors.New("api budget exhausted")

// ErrInvalidConfig is wrapped by the errors New returns for a bad Config.
var ErrInvalidConfig = errors.New("invalid budget config")

// API names one budgeted AWS API operation.
type API string

// The budgeted APIs: Step Functions operations, CloudWatch GetMetricData
// and Lambda GetFunctionConcurrency.
const (
	DescribeMapRun       API = "DescribeMapRun"
	UpdateMapRun         API = "UpdateMapRun"
	ListMapRuns          API = "ListMapRuns"
	ListExecutions       API = "ListExecutions"
	DescribeExecution    API = "DescribeExecution"
	GetExecutionHistory  API = "GetExecutionHistory"
	ListTagsForResource  API = "ListTagsForResource"
	DescribeStateMachine API = "DescribeStateMachine"
	GetMetricData        API = "GetMetricData"
	// GetFunctionConcurrency is a Lambda control plane API: 15 requests
	// per second, and no burst documented.
	GetFunctionConcurrency API = "GetFunctionConcurrency"
)

// refill is the documented token refill rate, calls per second, of each API.
var refill = map[API]float64{
	DescribeMapRun:         1,
	UpdateMapRun:           1,
	ListMapRuns:            1,
	ListTagsForResource:    1,
	ListExecutions:         5,
	DescribeExecution:      15,
	DescribeStateMachine:   20,
	GetExecutionHistory:    20,
	GetMetricData:          50,
	GetFunctionConcurrency: 15,
}

// bucket is the documented token bucket size of each API: the most calls it
// takes at once. GetMetricData and GetFunctionConcurrency have a rate only,
// so their bucket is one second of it.
var bucket = map[API]float64{
	DescribeMapRun:         200,
	UpdateMapRun:           100,
	ListMapRuns:            100,
	ListTagsForResource:    100,
	ListExecutions:         200,
	DescribeExecution:      300,
	DescribeStateMachine:   200,
	GetExecutionHistory:    400,
	GetMetricData:          50,
	GetFunctionConcurrency: 15,
}

// smallRegionBucket overrides bucket outside largeQuotaRegions.
var smallRegionBucket = map[API]float64{
	ListExecutions:    100,
	DescribeExecution: 250,
}

// smallRegionRefill overrides refill outside the Regions with the larger
// ListExecutions and DescribeExecution quotas.
var smallRegionRefill = map[API]float64{
	ListExecutions:    2,
	DescribeExecution: 10,
}

// largeQuotaRegions have the larger ListExecutions and DescribeExecution quotas.
var largeQuotaRegions = []string{"us-east-1", "us-west-2", "eu-west-1"}

// DefaultFraction is the share of each API's refill a tick takes when
// Config.Fraction is zero.
const DefaultFraction = 0.5

// DefaultPeriod is the tick length assumed when Config.Period is zero.
const DefaultPeriod = time.Minute

// Config sets how large a Budget is.
type Config struct {
	// Region is the AWS Region the calls go to, for example "eu-central-1".
	// It selects the ListExecutions and DescribeExecution quotas; an empty
	// Region gets the smaller ones.
	Region string
	// Fraction is the share of each API's refill this tick may use, in
	// (0, 1]. Zero means DefaultFraction.
	Fraction float64
	// Period is the length of one tick. Zero means DefaultPeriod.
	Period time.Duration
	// Overrides replaces the refill rate, in calls per second, of the APIs it
	// names, for accounts with raised quotas; their bucket is taken as raised
	// alike, so it does not cap them. Each rate must be > 0. Nil keeps the
	// documented defaults.
	Overrides map[API]float64
}

// Budget counts the calls one tick may still make to each API. It is safe
// for concurrent use. A nil *Budget is unlimited: Take always succeeds and
// nothing is counted.
type Budget struct {
	mu    sync.Mutex
	limit map[API]int
	spent map[API]int
	// parent, when set, is the Budget this share spends from; limit then
	// caps only the APIs it names.
	parent *Budget
}

// New returns the Budget for one tick: each API gets
// floor(Fraction * min(refill * Period in seconds, bucket)) calls, and at
// least one. The
// error wraps ErrInvalidConfig and names the bad field.
func New(cfg Config) (*Budget, error) {
	frac := cfg.Fraction
	if frac == 0 {
		frac = DefaultFraction
	}
	if math.IsNaN(frac) || frac <= 0 || frac > 1 {
		return nil, fmt.Errorf("%w: fraction %v not in (0, 1]", ErrInvalidConfig, cfg.Fraction)
	}
	period := cfg.Period
	if period == 0 {
		period = DefaultPeriod
	}
	if period < 0 {
		return nil, fmt.Errorf("%w: period %s is negative", ErrInvalidConfig, cfg.Period)
	}
	rates, sizes := maps.Clone(refill), maps.Clone(bucket)
	if !slices.Contains(largeQuotaRegions, cfg.Region) {
		maps.Copy(rates, smallRegionRefill)
		maps.Copy(sizes, smallRegionBucket)
	}
	for api, r := range cfg.Overrides {
		if _, ok := refill[api]; !ok {
			return nil, fmt.Errorf("%w: override for unknown api %q", ErrInvalidConfig, api)
		}
		if math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
			return nil, fmt.Errorf("%w: override for %s is %v calls per second, want > 0", ErrInvalidConfig, api, r)
		}
		rates[api] = r
		sizes[api] = math.Inf(1)
	}
	b := &Budget{limit: make(map[API]int, len(rates)), spent: make(map[API]int, len(rates))}
	for api, r := range rates {
		// A tick's calls go out in a burst: never more than the fraction
		// of the bucket, whatever the period, so that the account's other
		// callers still find tokens.
		n := math.Floor(frac * min(r*period.Seconds(), sizes[api]))
		switch {
		case n < 1:
			n = 1
		case n > math.MaxInt32:
			n = math.MaxInt32
		}
		b.limit[api] = int(n)
	}
	return b, nil
}

// Take spends one call of api and reports whether there was one to spend.
// It never blocks. It returns false for an API the package does not know.
func (b *Budget) Take(api API) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if limit, capped := b.limit[api]; (capped || b.parent == nil) && b.spent[api] >= limit {
		return false
	}
	if b.parent != nil && !b.parent.Take(api) {
		return false
	}
	b.spent[api]++
	return true
}

// Share returns a Budget for one part of the tick's work, such as
// discovery, that spends from b and may spend at most the given fraction
// (in (0, 1]) of b's limit of each API in fractions, and at least one call:
// the rest stays for b's other spenders. Other APIs it spends from b as b
// does. Calls through the share count in b's Spent too. A nil b gives a nil
// (unlimited) share; a fraction out of range is taken as 1.
func (b *Budget) Share(fractions map[API]float64) *Budget {
	if b == nil {
		return nil
	}
	s := &Budget{limit: make(map[API]int, len(fractions)), spent: make(map[API]int), parent: b}
	for api, f := range fractions {
		if math.IsNaN(f) || f <= 0 || f > 1 {
			f = 1
		}
		s.limit[api] = max(1, int(math.Floor(f*float64(b.limitOf(api)))))
	}
	return s
}

// limitOf is the most calls of api b allows in all.
func (b *Budget) limitOf(api API) int {
	b.mu.Lock()
	limit, capped := b.limit[api]
	b.mu.Unlock()
	if capped || b.parent == nil {
		return limit
	}
	return b.parent.limitOf(api)
}

// Remaining is the number of calls of api still allowed this tick; zero for
// an API the package does not know, and math.MaxInt for a nil Budget.
func (b *Budget) Remaining(api API) int {
	if b == nil {
		return math.MaxInt
	}
	left := math.MaxInt
	if b.parent != nil {
		left = b.parent.Remaining(api)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if limit, capped := b.limit[api]; capped || b.parent == nil {
		left = min(left, limit-b.spent[api])
	}
	return left
}

// Spent returns a copy of the calls made so far, per API, holding only the
// APIs called at least once: for a share, its own calls. It is empty for a
// nil Budget.
func (b *Budget) Spent() map[API]int {
	out := make(map[API]int)
	if b == nil {
		return out
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for api, n := range b.spent {
		if n > 0 {
			out[api] = n
		}
	}
	return out
}
