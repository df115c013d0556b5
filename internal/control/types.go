// Package control decides, for one Map Run at one instant, the maxConcurrency
// and failure tolerances it should run with. It is pure: it imports no AWS
// SDK and never reads the clock. Time, observations and state come in as
// arguments and a Decision, with a reason code and a sentence, comes out.
package control

import (
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

// Config is the resolved policy the controller works to. The zero value is
// not usable: build one with a policy and check it with Validate.
type Config struct {
	// MinConcurrency is the lowest maxConcurrency ever set; >= 1.
	MinConcurrency int32 `json:"minConcurrency"`
	// MaxConcurrency is the highest maxConcurrency ever set; <= 10,000.
	MaxConcurrency int32 `json:"maxConcurrency"`
	// Unlimited lets the controller send 0 (no limit) once it would reach
	// MaxConcurrency with no throttling seen. Off by default: 0 is never sent.
	Unlimited bool `json:"unlimited,omitempty"`
	// InitialConcurrency is where a run starts when its own setting is 0
	// (unlimited) or outside [MinConcurrency, MaxConcurrency].
	InitialConcurrency int32 `json:"initialConcurrency"`
	// GrowthFactor multiplies the limit per step while no capacity is known
	// (slow start); > 1, typically 1.5. Far below a known bound (a limit
	// once throttled, a capacity hint) steps double when it is lower.
	GrowthFactor float64 `json:"growthFactor"`
	// Backoff is the multiplicative decrease on a throttled minute, applied to
	// the limit in effect when that minute was measured; in (0, 1), typically 0.7.
	Backoff float64 `json:"backoff"`
	// MaxStepUp bounds one increase: new <= old * MaxStepUp; >= 1.
	MaxStepUp float64 `json:"maxStepUp"`
	// MaxStepDown bounds one decrease: new >= old * MaxStepDown; in (0, 1].
	MaxStepDown float64 `json:"maxStepDown"`
	// Band is the relative change below which no update is sent, in [0, 1):
	// 0.05 keeps 100 at 100 when the target is 103.
	Band float64 `json:"band"`
	// RecoveryTime is how long the lowest throttled limit stands as a bound:
	// once no throttling has been seen for that long, the controller probes
	// past it again, in small steps that double while they stay clean.
	RecoveryTime time.Duration `json:"recoveryTime"`
	// ThrottleThreshold is the throttle count in one minute (summed over the
	// policy's signals) above which that minute counts as throttled; >= 0.
	ThrottleThreshold float64 `json:"throttleThreshold"`
	// StaleAfter is how old the newest throttle datapoint may be before the
	// controller treats the metrics as missing and holds.
	StaleAfter time.Duration `json:"staleAfter"`
	// Tolerance is the failure-tolerance policy.
	Tolerance Tolerance `json:"tolerance"`
	// PriorMaxAge is how old an Observation.Prior may be for a run to
	// start from it; zero means DefaultPriorMaxAge (14 days).
	PriorMaxAge time.Duration `json:"priorMaxAge,omitempty"`
}

// Tolerance is the failure-tolerance part of Config.
type Tolerance struct {
	// BaselinePercent and BaselineCount are the tolerances of a healthy run.
	BaselinePercent float64 `json:"baselinePercent"`
	BaselineCount   int64   `json:"baselineCount"`
	// CeilingPercent and CeilingCount bound how far the tolerances are raised
	// while failures are classified as throttling.
	CeilingPercent float64 `json:"ceilingPercent"`
	CeilingCount   int64   `json:"ceilingCount"`
	// RaiseUnset lets the tolerances of a run whose definition sets none
	// (percentage and count 0: it fails on its first failed item) be
	// changed: set to the baseline and raised while throttling. Off by
	// default: such a run keeps failing on its first failed item.
	RaiseUnset bool `json:"raiseUnset,omitempty"`
	// FailFast lowers the tolerances to what the run has already failed, so
	// that it fails now, once non-throttle failures exceed FailFastRate of
	// finished items over at least FailFastMinItems finished items.
	FailFast         bool    `json:"failFast,omitempty"`
	FailFastRate     float64 `json:"failFastRate,omitempty"`
	FailFastMinItems int64   `json:"failFastMinItems,omitempty"`
}

// Datapoint is one one-minute aggregate of the throttle signals.
type Datapoint struct {
	// Minute is the start of the one-minute period it covers.
	Minute time.Time `json:"minute"`
	// Value is the throttle count in that minute, summed over the signals.
	Value float64 `json:"value"`
}

// FailureSample classifies the failed children of a run.
type FailureSample struct {
	// Sampled is the number of failed children looked at; zero when no sample was taken.
	Sampled int `json:"sampled"`
	// Throttle is how many of them failed with a throttling error.
	Throttle int `json:"throttle"`
}

// ThrottleShare is the fraction of sampled failures caused by throttling;
// zero with no sample.
func (f FailureSample) ThrottleShare() float64 {
	if f.Sampled == 0 {
		return 0
	}
	return float64(f.Throttle) / float64(f.Sampled)
}

// LiveSample is what the execution histories of a few running children of a
// run showed of the window from Since to the observation: the live throttle
// signal, seconds old where the metrics are minutes old. The zero value is
// no sample (Express children have no history).
type LiveSample struct {
	// Since is the start of the window: failed attempts at or after it count.
	Since time.Time `json:"since,omitzero"`
	// Sampled is the number of running children whose histories were read;
	// zero when no sample was taken.
	Sampled int `json:"sampled,omitempty"`
	// Throttled is how many of them had a failed attempt with a throttling
	// error in the window.
	Throttled int `json:"throttled,omitempty"`
	// NewestAt is the instant of the newest throttled attempt seen; zero if none.
	NewestAt time.Time `json:"newestAt,omitzero"`
	// StartedAt is when the most recently started of the throttled children
	// started: the limit in effect since then let it in. Zero if none.
	StartedAt time.Time `json:"startedAt,omitzero"`
	// OldestStart is when the oldest of the sampled children started: once
	// it is after a change of the limit, every child sampled runs under
	// the new one. Zero when none was sampled.
	OldestStart time.Time `json:"oldestStart,omitzero"`
	// Failing is how many of the others had a failed attempt in the window
	// whose error is not known as throttling: throttling that does not say
	// so (a bare States.TaskFailed), or items that fail.
	Failing int `json:"failing,omitempty"`
	// FailingStartedAt is when the most recently started of those started;
	// zero if none.
	FailingStartedAt time.Time `json:"failingStartedAt,omitzero"`
}

// Observation is what the tuner saw of a run at one instant.
type Observation struct {
	// At is the instant of the observation.
	At time.Time `json:"at"`
	// Run is the DescribeMapRun result, or, when Estimated, the run as
	// the AWS/States child counts tell it.
	Run maprun.Snapshot `json:"run"`
	// Estimated is true when Run was not read live but estimated from the
	// counts of children CloudWatch publishes in AWS/States, minutes late:
	// the settings as last decided, the item counts of the last live read
	// plus the children finished since in the minutes published. Such an
	// observation judges throttle datapoints as usual and may cut, but
	// records no counts for throughput, never raises the limit and leaves
	// the tolerances as they are (see ReasonLateCounts).
	Estimated bool `json:"estimated,omitempty"`
	// MetricsWatched is false when the policy names no throttle signal; then
	// only failures and counts drive the controller.
	MetricsWatched bool `json:"metricsWatched"`
	// Throttles are the throttle datapoints known so far, any order, any
	// age; nil when the metric query failed or returned nothing.
	Throttles []Datapoint `json:"throttles,omitempty"`
	// Failures is a classified sample of failed children, if one was taken.
	Failures FailureSample `json:"failures"`
	// Live is a sample of the running children's histories, if one was taken.
	Live LiveSample `json:"live,omitzero"`
	// Prior is what an earlier run of the same job learned; nil when
	// nothing was. Only the run's first decision reads it.
	Prior *Prior `json:"prior,omitempty"`
	// Bound is an upper bound on the run's capacity, in children, from the
	// downstream's configuration, as read now; 0 when none was read, which
	// keeps the bound known before (State.Bound); NoBound when the
	// configuration was read and bounds nothing now. A bound that changes
	// during the run, or is removed, moves the limit with it (see
	// ReasonBound).
	Bound int32 `json:"bound,omitempty"`
	// Shared tells of the other open runs that share this run's
	// downstream; nil when none does.
	Shared *Share `json:"shared,omitempty"`
	// Concurrent is the per-minute Maximum of the ConcurrentExecutions
	// metric of the Lambda function the run's children invoke, whose
	// reserved concurrency is State.Bound: every caller's executions,
	// this run's included, any order; nil when not read.
	Concurrent []Datapoint `json:"concurrent,omitempty"`
	// Usage is what the provisioned tables the run's children call say of
	// their capacity, one entry a table; nil when none was read.
	Usage []Usage `json:"usage,omitempty"`
}

// Usage is what a provisioned DynamoDB table (or global secondary index)
// publishes of its capacity: the units its callers consume each minute
// and the units a second provisioned.
type Usage struct {
	// Name names the table (and index), for messages.
	Name string `json:"name"`
	// Consumed are the units consumed in each minute by every caller
	// (ConsumedWriteCapacityUnits or ConsumedReadCapacityUnits, Sum), any
	// order; a minute with no request has no datapoint.
	Consumed []Datapoint `json:"consumed,omitempty"`
	// Provisioned are the units a second provisioned
	// (ProvisionedWriteCapacityUnits or ProvisionedReadCapacityUnits,
	// Minimum), published every five minutes, any order.
	Provisioned []Datapoint `json:"provisioned,omitempty"`
}

// Share is what the tuner knows of the other open runs whose policies name
// the same throttle signals: one downstream, whose capacity they share.
type Share struct {
	// Runs is the number of open runs sharing it, this one included; >= 2.
	Runs int `json:"runs"`
	// Others is the sum of the other runs' limits, as maptuner last set
	// them, in children.
	Others int32 `json:"others"`
	// Held is how many children the other runs may hold now, in
	// children: for each, the larger of its limit and the children it ran
	// when last observed (a lowered limit stops new children, it does not
	// end those running).
	Held int32 `json:"held,omitempty"`
	// ThrottledAt is when one of the other runs last saw throttling
	// (State.ThrottledAt); zero if none did.
	ThrottledAt time.Time `json:"throttledAt,omitzero"`
}

// runs is the number of runs sharing the downstream; 0 for a run alone.
func (s *Share) runs() int {
	if s == nil {
		return 0
	}
	return s.Runs
}

// fair is the share of the downstream a run throttled at limit then may
// keep: the limits of all the runs sharing it, which together met its
// capacity, less the band, divided evenly. Zero when the run shares
// nothing.
func (s *Share) fair(then int32, band float64) int32 {
	if s == nil || s.Runs < 2 {
		return 0
	}
	return int32(float64(then+s.Others) * (1 - band) / float64(s.Runs))
}

// Phase is where the controller is in its cycle.
type Phase string

// The controller phases.
const (
	// PhaseSlowStart grows the limit multiplicatively: no throttling seen yet.
	PhaseSlowStart Phase = "slow-start"
	// PhaseBracket knows a throttled limit above a clean one, and closes in
	// on the capacity between them by bisection, then holds.
	PhaseBracket Phase = "bracket"
	// PhaseProbe grows again past a throttled limit that has not been seen
	// for RecoveryTime: small steps first, doubling while they stay clean.
	PhaseProbe Phase = "probe"
)

// Setting is one entry of the history of limits set on a run.
type Setting struct {
	// From is when this limit took effect.
	From time.Time `json:"from"`
	// MaxConcurrency is the limit in effect from then on; 0 means unlimited.
	MaxConcurrency int32 `json:"maxConcurrency"`
}

// Tick is what one observation saw of a run's children.
type Tick struct {
	At time.Time `json:"at"`
	// Running is the number of children running (maprun.Snapshot.Children:
	// batches with an ItemBatcher, items without).
	Running int64 `json:"running"`
	// Done is the number of children finished, whatever their outcome.
	Done int64 `json:"done"`
	// Failed is the number of children failed or timed out.
	Failed int64 `json:"failed"`
}

// State is what the controller remembers of a run between decisions. The zero
// value is the state of a run never seen before.
type State struct {
	Phase Phase `json:"phase,omitempty"`
	// Start are the settings the run had when first seen; the tolerances
	// never go back below them.
	Start maprun.Settings `json:"start"`
	// History holds the limits set, oldest first, pruned to what delayed
	// datapoints can still refer to.
	History []Setting `json:"history,omitempty"`
	// Ticks are the recent observations, oldest first, pruned like History.
	Ticks []Tick `json:"ticks,omitempty"`
	// Seen are the datapoint minutes judged for good, oldest first, with the
	// value they were judged on: a throttled minute once charged to the
	// limit of its time, any other once settled (CloudWatch may add to a
	// minute for a while after it ends). A minute not in Seen is judged
	// each time it is read; one judged clean is judged again if it turns
	// out throttled.
	Seen []Datapoint `json:"seen,omitempty"`
	// Sample is the last classified sample of failed children, and SampleAt
	// when it was taken.
	Sample   FailureSample `json:"sample"`
	SampleAt time.Time     `json:"sampleAt,omitzero"`
	// ThrottledAt is when throttling was last seen, in the metrics or in the
	// failures; zero before any.
	ThrottledAt time.Time `json:"throttledAt,omitzero"`
	// OverrideAt is when maxConcurrency was last found changed by someone
	// else than maptuner; the controller leaves it alone for a while.
	OverrideAt time.Time `json:"overrideAt,omitzero"`
	// Lo is the highest limit a measured minute confirmed free of
	// throttling while the children used it, and LoAt that minute; zero
	// when none is known or throttling was seen at or below it since.
	Lo   int32     `json:"lo,omitempty"`
	LoAt time.Time `json:"loAt,omitzero"`
	// Hi is the lowest limit throttling was seen at, and HiAt when that was
	// learned; zero when none, or once RecoveryTime has passed without throttling.
	Hi   int32     `json:"hi,omitempty"`
	HiAt time.Time `json:"hiAt,omitzero"`
	// Expired is the bound that RecoveryTime retired: probes double their
	// step up to it, then start small again past it.
	Expired int32 `json:"expired,omitempty"`
	// Owed is the limit a cut bounded by MaxStepDown still has to reach; zero when none.
	Owed int32 `json:"owed,omitempty"`
	// CutAt is when the limit was last lowered for throttling.
	CutAt time.Time `json:"cutAt,omitzero"`
	// CollapseAt is when the limit was last lowered for congestion
	// collapse: throttling measured before it was answered by it, even
	// once the run has returned to its clean limit. Zero before any.
	CollapseAt time.Time `json:"collapseAt,omitzero"`
	// Probes counts the clean growth steps since the last throttling.
	Probes int `json:"probes,omitempty"`
	// Misses counts the probes in a row that ended throttled; each doubles
	// how long the bound stands, up to eight times RecoveryTime.
	Misses int `json:"misses,omitempty"`
	// ItemTime is the time, in seconds, a child holds its place when
	// nothing throttles (running over throughput in clean minutes, by
	// Little's law); zero until measured.
	ItemTime float64 `json:"itemTime,omitempty"`
	// Prev are the item counts at the previous observation, and PrevAt its instant.
	Prev   maprun.Counts `json:"prev"`
	PrevAt time.Time     `json:"prevAt,omitzero"`
	// Sent is the limit maptuner asked UpdateMapRun for, and when, written
	// before the call and kept while its outcome is unknown; nil when no
	// call is in doubt. The tuner takes a limit found equal to it for its
	// own change, not for someone else's.
	Sent *Setting `json:"sent,omitempty"`
	// Raised is true while the tolerances are raised above the baseline for throttling.
	Raised bool `json:"raised,omitempty"`
	// FailedFast is true once fail-fast has lowered the tolerances.
	FailedFast bool `json:"failedFast,omitempty"`
	// Recall is the limit an earlier run learned (Observation.Prior),
	// which the run returns to once its start below it is confirmed
	// clean; zero when it started from no Prior.
	Recall int32 `json:"recall,omitempty"`
	// RecallProbed is true once the run has probed one small step past
	// Recall.
	RecallProbed bool `json:"recallProbed,omitempty"`
	// SharedBy is the number of open runs that shared the downstream at
	// the last decision (Observation.Shared); zero when the run was alone.
	SharedBy int `json:"sharedBy,omitempty"`
	// Bound is the upper bound on the capacity the downstream's
	// configuration gave (Observation.Bound) when last read; zero when
	// none.
	Bound int32 `json:"bound,omitempty"`
	// Unbounded is true once the downstream's configuration was read to
	// bound nothing (Observation.Bound NoBound), until a bound is read: a
	// bound read then is a fall from no bound, not the first one known.
	Unbounded bool `json:"unbounded,omitempty"`
	// BoundAt is when Bound was last seen to change during the run: the
	// throttle datapoints of minutes begun before it tell of the old bound
	// and are answered by the change. Zero before any change.
	BoundAt time.Time `json:"boundAt,omitzero"`
	// Taught is the limit last handed on in Decision.Learn; zero before any.
	Taught int32 `json:"taught,omitempty"`
	// OthersAt is the newest minute the function's concurrency showed
	// other callers holding a share of it (Observation.Concurrent); zero
	// when never. While it is recent, the headroom keeps its margin free
	// for their return.
	OthersAt time.Time `json:"othersAt,omitzero"`
	// Usage is the newest estimate of the run's capacity its table's
	// usage gave (Observation.Usage); nil before any. It stands for
	// usageMemory.
	Usage *UsageEstimate `json:"usage,omitempty"`
	// AloneAt is when the other open runs that shared the downstream
	// were last found gone (SharedBy fell to 1 or 0): the function's
	// concurrency before then counts their executions. Zero when never.
	AloneAt time.Time `json:"aloneAt,omitzero"`
}

// Reason is the code of a decision.
type Reason string

// The decision reasons.
const (
	ReasonInitial       Reason = "Initial"
	ReasonLearned       Reason = "Learned"
	ReasonSlowStart     Reason = "SlowStart"
	ReasonBisect        Reason = "Bisect"
	ReasonProbe         Reason = "Probe"
	ReasonConverged     Reason = "Converged"
	ReasonReturn        Reason = "ReturnToClean"
	ReasonThrottled     Reason = "Throttled"
	ReasonThrottleFails Reason = "ThrottleFailures"
	ReasonLiveThrottled Reason = "LiveThrottled"
	ReasonAtCeiling     Reason = "AtCeiling"
	ReasonWithinBand    Reason = "WithinBand"
	ReasonAwaitSignal   Reason = "AwaitingSignal"
	ReasonMissingData   Reason = "MissingData"
	ReasonIdle          Reason = "Underused"
	ReasonFailing       Reason = "Failing"
	ReasonOverride      Reason = "Override"
	ReasonHint          Reason = "CapacityHint"
	// ReasonBound follows a change of the upper bound the downstream's
	// configuration gives (Observation.Bound) during the run: a cut to a
	// bound that fell, a raise toward one that rose, a slow-start step
	// when one that held the run was removed.
	ReasonBound    Reason = "BoundChanged"
	ReasonCollapse Reason = "Collapse"
	// ReasonShared is a cut to the run's share of a downstream that more
	// runs share than before.
	ReasonShared    Reason = "Shared"
	ReasonClamped   Reason = "Clamped"
	ReasonFailFast  Reason = "FailFast"
	ReasonBaseline  Reason = "Baseline"
	ReasonRecovered Reason = "Recovered"
	ReasonEnded     Reason = "Ended"
	// ReasonLateCounts holds a run observed from late counts
	// (Observation.Estimated) with nothing to cut.
	ReasonLateCounts Reason = "LateCounts"
	// ReasonPaused is an operator's pause: the run is observed, never updated.
	ReasonPaused Reason = "Paused"
	// ReasonPinned is an operator's pin: maxConcurrency is driven to the
	// pinned value and held there.
	ReasonPinned Reason = "Pinned"
	// ReasonRollback is an operator's rollback to the settings the run
	// started with.
	ReasonRollback Reason = "Rollback"
	// ReasonKnee is a raise the live counts show past the knee: children
	// hold their place longer and the throughput did not follow.
	ReasonKnee Reason = "Knee"
	// ReasonHeadroom is a cut, a hold or a raise to the room the
	// function's other callers leave the run (Observation.Concurrent).
	ReasonHeadroom Reason = "Headroom"
	// ReasonUsage is a slow-start raise toward, or a hold at, the
	// capacity a provisioned table's consumed and provisioned units tell
	// (Observation.Usage, State.Usage).
	ReasonUsage Reason = "ProvisionedUsage"
)

// Signals are the values a decision was based on, for the decision log.
type Signals struct {
	// Capacity is the estimate, in children, behind the last cut: the
	// throughput of the throttled minute times ItemTime; zero if none.
	Capacity float64 `json:"capacity,omitempty"`
	// ThrottledMinute is the start of the newest throttled minute acted on, if any.
	ThrottledMinute time.Time `json:"throttledMinute,omitzero"`
	// ThrottleValue is that minute's throttle count.
	ThrottleValue float64 `json:"throttleValue,omitempty"`
	// LimitThen is the limit in effect during that minute.
	LimitThen int32 `json:"limitThen,omitempty"`
	// NewestMinute is the newest datapoint minute known; zero if none.
	NewestMinute time.Time `json:"newestMinute,omitzero"`
	// NewestValue is the throttle count of that minute.
	NewestValue float64 `json:"newestValue"`
	// Throughput is items finished per second since the previous observation.
	Throughput float64 `json:"throughput"`
	// Running is the number of children running.
	Running int64 `json:"running"`
	// FailurePercent is the run's failed and timed-out items as % of total.
	FailurePercent float64 `json:"failurePercent"`
	// ThrottleShare is the share of sampled failures caused by throttling.
	ThrottleShare float64 `json:"throttleShare"`
	// LiveSampled and LiveThrottled are the running children whose
	// histories were sampled, and how many of them were throttled in the
	// sample's window; zero without a live sample.
	LiveSampled   int `json:"liveSampled,omitempty"`
	LiveThrottled int `json:"liveThrottled,omitempty"`
}

// Decision is the controller's answer for one run at one instant.
type Decision struct {
	// Old are the settings the run had; New the settings it should have.
	Old maprun.Settings `json:"old"`
	New maprun.Settings `json:"new"`
	// Update is true when New differs from Old enough to call UpdateMapRun.
	Update bool `json:"update"`
	// Reason is the code of the concurrency decision; ToleranceReason that
	// of the tolerance decision, empty when the tolerances were left as they are.
	Reason          Reason `json:"reason"`
	ToleranceReason Reason `json:"toleranceReason,omitempty"`
	// Message says in a sentence why.
	Message string  `json:"message"`
	Signals Signals `json:"signals"`
	// Learn is what the run has learned for the next run of its job, to
	// keep across runs; nil when nothing new. It is set once the run has
	// held its confirmed limit for five minutes with no throttling, and
	// when it has succeeded.
	Learn *Prior `json:"learn,omitempty"`
	// State is the controller state to keep for the next decision.
	State State `json:"-"`
}
