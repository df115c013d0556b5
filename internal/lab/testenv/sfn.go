package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/lab/local"
)

// TestRoleARN is the execution role the state machines of StartDistributedMap
// name; moto does not check it.
const TestRoleARN = local.RoleARN

// DistributedMap describes the state machine StartDistributedMap creates;
// see local.DistributedMap.
type DistributedMap = local.DistributedMap

// Started names what StartDistributedMap created.
type Started = local.Started

// startTimeout bounds StartDistributedMap's calls.
const startTimeout = 5 * time.Minute

// StartDistributedMap creates the state machine d describes, starts one
// named execution of it and waits until all its Map Runs are listed; see
// local.StartDistributedMap. It fails the test on any error.
func StartDistributedMap(t testing.TB, client local.SFNAPI, d DistributedMap) Started {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	st, err := local.StartDistributedMap(ctx, client, d)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return st
}

// WaitExecution polls DescribeExecution, for at most timeout, until the
// execution is no longer RUNNING, and returns its status. It fails the test
// on an error or on timeout.
func WaitExecution(t testing.TB, client local.SFNAPI, executionARN string, timeout time.Duration) types.ExecutionStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	status, err := local.WaitExecution(ctx, client, executionARN)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return status
}
