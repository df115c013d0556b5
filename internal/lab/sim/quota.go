package sim

import "time"

// api is an AWS API operation the world serves.
type api int

const (
	apiDescribeMapRun api = iota
	apiUpdateMapRun
	apiListMapRuns
	apiListTagsForResource
	apiListExecutions
	apiDescribeExecution
	apiGetExecutionHistory
	apiGetMetricData
	apiDescribeStateMachine
	apiGetFunctionConcurrency
	numAPIs
)

var apiNames = [numAPIs]string{
	"DescribeMapRun", "UpdateMapRun", "ListMapRuns", "ListTagsForResource",
	"ListExecutions", "DescribeExecution", "GetExecutionHistory", "GetMetricData",
	"DescribeStateMachine", "GetFunctionConcurrency",
}

// quotaTable holds the API quotas of the simulated account (Region
// us-east-1), in apiNames order, as DESIGN.md lists them: the Step Functions
// token buckets per account and Region, CloudWatch GetMetricData's 50
// calls per second, and the 15 calls per second of a Lambda control plane
// API such as GetFunctionConcurrency.
var quotaTable = [numAPIs]quota{
	{bucket: 200, refill: 1},  // DescribeMapRun
	{bucket: 100, refill: 1},  // UpdateMapRun
	{bucket: 100, refill: 1},  // ListMapRuns
	{bucket: 100, refill: 1},  // ListTagsForResource
	{bucket: 200, refill: 5},  // ListExecutions
	{bucket: 300, refill: 15}, // DescribeExecution
	{bucket: 400, refill: 20}, // GetExecutionHistory
	{bucket: 50, refill: 50},  // GetMetricData
	{bucket: 200, refill: 20}, // DescribeStateMachine
	{bucket: 15, refill: 15},  // GetFunctionConcurrency
}

// quota is an API's token bucket: bucket calls at most, refilled at refill
// calls per second.
type quota struct {
	bucket, refill float64
}

// quotas are the account's token buckets and call counters, all APIs:
// calls made, calls throttled, and calls failed by a fault knob.
type quotas struct {
	tokens    [numAPIs]float64
	last      [numAPIs]time.Duration
	calls     [numAPIs]int64
	throttled [numAPIs]int64
	errors    [numAPIs]int64
}

func (q *quotas) init() {
	for i, s := range quotaTable {
		q.tokens[i] = s.bucket
	}
}

// take counts a call of a at now and spends a token; false when the
// bucket is empty and the call is throttled.
func (q *quotas) take(a api, now time.Duration) bool {
	q.calls[a]++
	s := quotaTable[a]
	q.tokens[a] = min(s.bucket, q.tokens[a]+s.refill*(now-q.last[a]).Seconds())
	q.last[a] = now
	if q.tokens[a] < 1 {
		q.throttled[a]++
		return false
	}
	q.tokens[a]--
	return true
}
