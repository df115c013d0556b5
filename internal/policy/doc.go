// Package policy reads the policies file: how maptuner tunes the Map Runs of
// each opted-in state machine. A state machine opts in with the tag
// maptuner:policy=NAME (TagKey); NAME picks a policy of the file.
//
// The file is YAML (JSON is accepted too) with a version and named policies:
//
//	version: 1
//	policies:
//	  default: {}              # every field at its built-in default
//	  etl:
//	    maxConcurrency: 2000
//	    tolerance:
//	      ceilingPercent: 10
//	    throttleSignals:
//	      - namespace: AWS/Lambda
//	        metric: Throttles
//	        dimensions: {FunctionName: etl-worker}
//	        stat: Sum
//	    labels:
//	      ProcessItems:        # Map Runs whose label is ProcessItems
//	        maxConcurrency: 200
//
// A field a policy leaves out takes its built-in default; a label override
// replaces only the fields it writes, down to single tolerance fields, and
// takes the rest from its policy. A list (throttleSignals) is replaced as a
// whole. YAML anchors, aliases and merge keys (<<) may share settings
// between policies; top-level keys starting with x- are ignored and may hold
// the shared anchors. A default never makes a policy invalid: an
// initialConcurrency left out is clamped into [minConcurrency,
// maxConcurrency], and ceilings left out are raised to the baselines.
//
// The fields, their units, defaults and rules:
//
//	minConcurrency      integer  1      1 <= min <= initial <= max <= 10000
//	maxConcurrency      integer  1000   highest limit ever set
//	initialConcurrency  integer  10     where a run with no usable limit starts
//	unlimited           bool     false  may send 0 (no limit) once at max, unthrottled
//	growthFactor        number   1.5    slow-start multiplier per step, in (1, 10], > 1 + band
//	backoff             number   0.7    multiplier on a throttled minute, in (0, 1)
//	maxStepUp           number   2      new <= old * maxStepUp, > 1 + band
//	maxStepDown         number   0.5    new >= old * maxStepDown, in (0, 1]
//	band                number   0.02   a raise by less than band x the limit is not sent (cuts are), in [0, 1)
//	recoveryTime        duration 10m    how long a throttled limit bounds growth, > 0
//	throttleThreshold   number   0      throttles per minute tolerated, >= 0;
//	                             2 when throttleSignals is not written
//	staleAfter          duration 5m     age of the newest datapoint before holding, >= 1m
//	dryRun              bool     false  decide and log, never call UpdateMapRun
//	failureSample       integer  10     failed children sampled per tick, in [0, 100]
//	throttleSignals     list     AWS/States ExecutionThrottled, Sum, of the labelled state machine
//	group               string   none   runs of policies of one group share one downstream
//	tolerance.baselinePercent  number  0     healthy tolerated failure %, in [0, 100]
//	tolerance.baselineCount    integer 0     healthy tolerated failure count, >= 0
//	tolerance.ceilingPercent   number  10    highest % while failures are throttling, >= baseline
//	tolerance.ceilingCount     integer 1000  highest count while failures are throttling, >= baseline
//	tolerance.raiseUnset       bool    false also change the tolerances of a run that sets none
//	tolerance.failFast         bool    false fail a broken run at once
//	tolerance.failFastRate     number  0.5   share of non-throttle failures that is broken, in (0, 1]
//	tolerance.failFastMinItems integer 100   finished items before fail-fast may act, >= 1
//
// Durations are Go durations with a unit: 90s, 5m, 1h30m. A throttle signal
// is a CloudWatch metric read at a one-minute period: namespace, metric and
// stat (Sum, Maximum, Minimum, Average, SampleCount or a percentile such as
// p99) are required, and at most 30 dimensions. Dimension values may hold
// the placeholders ${LabelledStateMachineArn}, ${StateMachineArn},
// ${StateMachineName} and ${Label}, filled per Map Run by Signal.Expand. A
// policy names at most 10 signals; their values are summed per minute.
//
// Parse checks everything and reports every problem at once, each naming
// file, line, policy, label and field:
//
//	policies.yaml:14: policy "etl": labels.ProcessItems.maxConcurrency: 20000 is above 10000
//
// Unknown fields, unknown placeholders, duplicate keys, a version other than
// 1 and a file without a policy named "default" are errors. The full
// reference, with examples, is docs/policies.md.
package policy
