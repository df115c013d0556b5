package reliability

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/maptuner/maptuner/internal/lab/sim"
	"github.com/maptuner/maptuner/internal/lab/testenv"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/tuner"
)

var update = flag.Bool("update", false, "rewrite the tables of docs/RELIABILITY.md from this run")

// The calls a tick makes, by service, in the order the table shows them.
var calls = []struct{ svc, op string }{
	{svcSFN, "DescribeMapRun"},
	{svcSFN, "UpdateMapRun"},
	{svcSFN, "GetExecutionHistory"},
	{svcSFN, "ListExecutions"},
	{svcSFN, "DescribeExecution"},
	{svcSFN, "ListTagsForResource"},
	{svcCloudWatch, "GetMetricData"},
	{svcDynamoDB, "Query"},
	{svcDynamoDB, "GetItem"},
	{svcDynamoDB, "PutItem"},
	{svcDynamoDB, "UpdateItem"},
}

// applies reports whether the service can answer a call of op with f.
func applies(svc, op string, f fault) bool {
	switch f {
	case partialData:
		return op == "GetMetricData"
	case conditionFailed:
		return svc == svcDynamoDB && (op == "PutItem" || op == "UpdateItem")
	case notFound:
		return svc != svcCloudWatch // GetMetricData answers no data, not an error
	}
	return true
}

// expected are the faults that AWS answers in normal operation: the tuner
// must ride them out without an error-level log line. The others (a
// missing resource or permission, a rejected request) are a deployment's
// mistakes, which an operator must see.
var expected = map[fault]bool{throttle: true, serverError: true, timeout: true, conditionFailed: true, partialData: true}

// warmTicks is how many clean ticks run before the fault: the run is
// found, started at its definition's limit and raised at least once.
const warmTicks = 4

// maxFaultTicks is how many ticks the fault stays armed, waiting for the
// tuner to make the call it fails; maxRecoveryTicks is how many clean
// ticks the run may take to be decided and saved again.
const (
	maxFaultTicks    = 12
	maxRecoveryTicks = 3
)

// cellResult is what one fault did.
type cellResult struct {
	injected  int
	outcome   string // what the fault tick did with the run
	recovered int    // clean ticks until the run was decided and saved again
}

func (c cellResult) String() string {
	if c.injected == 0 {
		return "not called"
	}
	return fmt.Sprintf("%s, %d", c.outcome, c.recovered)
}

// TestFaultMatrix fails every outside call of a tick in every way it can
// fail, one at a time, and checks that the limits sent stay inside the
// policy, that the run is neither lost nor its state rolled back, that the
// next clean ticks decide it again, and that an expected fault logs no
// error. The registry is DynamoDB on moto, served one request at a time.
func TestFaultMatrix(t *testing.T) {
	sc, err := sim.ParseScenario("fault-matrix", []byte(matrixScenario))
	if err != nil {
		t.Fatal(err)
	}
	client := dynamoClient(t)
	results := map[string]map[fault]cellResult{}
	n, ran := 0, 0
	for _, c := range calls {
		results[c.op] = map[fault]cellResult{}
		for _, f := range allFaults {
			if !applies(c.svc, c.op, f) {
				continue
			}
			n++
			table := fmt.Sprintf("fault-matrix-%d", n)
			t.Run(c.op+"/"+string(f), func(t *testing.T) {
				results[c.op][f] = runCell(t, sc, dynamoStore(t, client, table), c.op, f)
				ran++
			})
		}
	}
	if ran == n && !t.Failed() { // every cell, as with no -run filter
		writeOrCheck(t, "fault-matrix", matrixTable(results))
	}
}

// runCell runs one fault against a fresh account and registry.
func runCell(t *testing.T, sc sim.Scenario, newStore func(*injector) store, op string, f fault) cellResult {
	ctx := context.Background()
	e := newEnv(t, sc, newStore)
	for range warmTicks {
		if _, err := e.tick(ctx); err != nil {
			t.Fatalf("clean tick: %v", err)
		}
	}
	before, ok := e.tracked(t)
	if !ok || before.State.PrevAt.IsZero() {
		t.Fatalf("after %d clean ticks the run is not tracked and decided: %+v", warmTicks, before)
	}
	e.logs.take()

	var res cellResult
	e.in.arm(op, f, -1)
	var (
		rep     tuner.Report
		tickErr error
	)
	for range maxFaultTicks {
		rep, tickErr = e.tick(ctx)
		if res.injected = e.in.injected(); res.injected > 0 {
			break
		}
	}
	e.in.disarm()
	if res.injected == 0 {
		return res
	}
	faultAt := e.world.Now()
	logged := e.logs.take()
	if errs := errorLines(t, logged); expected[f] && len(errs) > 0 {
		t.Errorf("an expected fault logged at level ERROR:\n%s", strings.Join(errs, "\n"))
	}

	after, tracked := e.tracked(t)
	switch {
	case tickErr != nil:
		res.outcome = "tick failed"
	case !tracked:
		res.outcome = "ended"
	case after.State.PrevAt.Equal(faultAt):
		res.outcome = "decided"
	default:
		res.outcome = "skipped"
	}
	// AWS saying the run, or its state machine, does not exist ends
	// tracking: nothing is left to tune, or its opt-in cannot be read.
	if !tracked && !(f == notFound && (op == "DescribeMapRun" || op == "UpdateMapRun" || op == "ListTagsForResource")) {
		t.Fatalf("the run is no longer tracked after %s on %s (report %+v, error %v)", f, op, rep, tickErr)
	}
	if tracked && after.State.PrevAt.Before(before.State.PrevAt) {
		t.Errorf("state rolled back: last observed %s, before the fault %s", after.State.PrevAt, before.State.PrevAt)
	}

	if tracked {
		for res.recovered = 1; ; res.recovered++ {
			if _, err := e.tick(ctx); err != nil {
				t.Fatalf("clean tick %d after the fault: %v", res.recovered, err)
			}
			r, ok := e.tracked(t)
			if !ok {
				t.Fatalf("clean tick %d after the fault ended tracking", res.recovered)
			}
			if r.State.PrevAt.Equal(e.world.Now()) {
				break
			}
			if res.recovered == maxRecoveryTicks {
				t.Fatalf("the run was not decided and saved within %d clean ticks after the fault", maxRecoveryTicks)
			}
		}
	}
	checkSafe(t, e)
	return res
}

// dynamoClient starts moto for the test and returns a DynamoDB client of it.
func dynamoClient(t *testing.T) *dynamodb.Client {
	t.Helper()
	moto := testenv.StartMoto(t)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load aws config: %v", err)
	}
	// The SDK's own retries stay on, as in the functions: the faults are
	// injected above the client, so none is retried away, while a
	// connection the loopback server closes under load is retried.
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(moto.URL) })
}

// dynamoStore creates a fresh table and returns a registry on it whose
// calls go through the injector.
func dynamoStore(t *testing.T, client *dynamodb.Client, table string) func(*injector) store {
	t.Helper()
	if err := registry.CreateTable(context.Background(), client, table); err != nil {
		t.Fatalf("create table %s: %v", table, err)
	}
	return func(in *injector) store {
		d, err := registry.NewDynamoDB(&faultyDynamo{next: client, in: in}, registry.Config{Table: table})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
}

// matrixTable renders the results as a Markdown table.
func matrixTable(results map[string]map[fault]cellResult) string {
	var b strings.Builder
	b.WriteString("| call |")
	for _, f := range allFaults {
		fmt.Fprintf(&b, " %s |", f)
	}
	b.WriteString("\n| --- |" + strings.Repeat(" --- |", len(allFaults)) + "\n")
	for _, c := range calls {
		fmt.Fprintf(&b, "| %s %s |", c.svc, c.op)
		for _, f := range allFaults {
			if r, ok := results[c.op][f]; ok {
				fmt.Fprintf(&b, " %s |", r)
			} else {
				b.WriteString(" n/a |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// reliabilityDoc is the document the tables go into, from this package.
var reliabilityDoc = filepath.Join("..", "..", "..", "docs", "RELIABILITY.md")

// writeOrCheck replaces the text between the markers named name in
// docs/RELIABILITY.md with body under -update, and otherwise fails if the
// document does not hold body there: the figures in the doc are this
// test's.
func writeOrCheck(t *testing.T, name, body string) {
	t.Helper()
	doc, err := os.ReadFile(reliabilityDoc)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	i, j := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q markers", reliabilityDoc, begin, end)
	}
	got := string(doc[i+len(begin) : j])
	if got == body {
		return
	}
	if !*update {
		t.Fatalf("%s is stale: its %s table differs from this run's; run make reliability. This run:\n%s", reliabilityDoc, name, body)
	}
	out := slices.Concat(doc[:i+len(begin)], []byte(body), doc[j:])
	if err := os.WriteFile(reliabilityDoc, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
