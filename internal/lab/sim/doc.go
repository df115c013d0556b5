// Package sim is a deterministic discrete-event simulator of Distributed Map
// Runs and the downstream services their children call: a fake AWS account
// that the real tuner runs against through the same Step Functions and
// CloudWatch methods the Lambdas call, with the AWS SDK's signatures, types
// and errors.
//
// A Scenario (LoadScenario; format in docs/scenarios.md) describes
// downstreams with their capacity (a concurrency limit, a token-bucket rate,
// a latency knee, changing over time), Map Runs with their items, Retry
// policy, tolerances and failures, how CloudWatch publishes, and the
// maptuner policy to use. New builds a World from it and a seed; its clock
// moves only in Advance, so hours of job take milliseconds and the same
// seed gives the same figures, byte for byte. A Standard child's history
// records each call of its Task state, throttled attempts included, as
// Step Functions does; Express children have none. World.SFN and
// World.CloudWatch are the account's APIs, each call spending the account's
// API quota; the scenario's fault knobs fail, throttle and slow calls and
// leave gaps in metrics. Run drives a World with a Strategy, one step per tick, and
// returns its Result; Static, Unlimited, AIMD, CUBIC, CapacityOracle and
// OracleStatic are the baselines the tuner is measured against.
package sim
