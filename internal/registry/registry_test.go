package registry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/lab/testenv"
	"github.com/maptuner/maptuner/internal/maprun"
)

// store is the API both implementations offer; the suite runs against it.
type store interface {
	PutExecution(ctx context.Context, e Execution) (bool, error)
	ActiveExecutions(ctx context.Context) ([]Execution, error)
	PutRun(ctx context.Context, r Run) (bool, error)
	GetRun(ctx context.Context, arn string) (Run, error)
	ActiveRuns(ctx context.Context) ([]Run, error)
	Claim(ctx context.Context, arn, owner string, now time.Time, ttl time.Duration) (Run, error)
	Save(ctx context.Context, r Run, owner string, now time.Time) error
	Checkpoint(ctx context.Context, r Run, owner string, now time.Time) (Run, error)
	Hold(ctx context.Context, r Run, owner string, now time.Time, ttl time.Duration) (Run, error)
	Record(ctx context.Context, r Run, owner string, now time.Time) (Run, error)
	ActiveRunHeads(ctx context.Context) ([]Run, error)
	EndRun(ctx context.Context, arn, reason string, at time.Time) error
	AppendDecision(ctx context.Context, arn string, at time.Time, d control.Decision) error
	Decisions(ctx context.Context, arn string, limit int) ([]control.Decision, error)
	DecisionLog(ctx context.Context, arn string, limit int) ([]Logged, error)
	PutStateMachine(ctx context.Context, sm StateMachine) error
	GetStateMachine(ctx context.Context, arn string, now time.Time) (StateMachine, error)
	StateMachines(ctx context.Context) ([]StateMachine, error)
	RecordListing(ctx context.Context, arn string, at time.Time) error
	RecordScan(ctx context.Context, arn string, s Scan) error
	PutLearned(ctx context.Context, l Learned) (bool, error)
	GetLearned(ctx context.Context, sm, label, policy string) (Learned, error)
	Redrive(ctx context.Context, arn string, redrives int32, at time.Time) (bool, error)
	PutControl(ctx context.Context, c Control) error
	GetControl(ctx context.Context, target string, source Source) (Control, error)
	Controls(ctx context.Context) ([]Control, error)
	AllRuns(ctx context.Context) ([]Run, error)
}

var (
	_ store = (*Memory)(nil)
	_ store = (*DynamoDB)(nil)
)

// fixture is one fresh, empty registry under test, with a way to read its
// items raw, as attribute names to values (numbers as float64); raw
// returns nil for an item not stored.
type fixture struct {
	store
	raw func(t *testing.T, pk, sk string) map[string]any
}

// backend opens fresh fixtures of one implementation.
type backend struct {
	name string
	open func(t *testing.T, cfg Config) fixture
}

func memoryBackend() backend {
	return backend{name: "Memory", open: func(t *testing.T, cfg Config) fixture {
		m, err := NewMemory(cfg)
		if err != nil {
			t.Fatalf("NewMemory: %v", err)
		}
		return fixture{store: m, raw: func(t *testing.T, pk, sk string) map[string]any { return memoryRaw(t, m, pk, sk) }}
	}}
}

// memoryRaw encodes the stored item pk/sk of m exactly as DynamoDB would
// store it.
func memoryRaw(t *testing.T, m *Memory, pk, sk string) map[string]any {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var item any
	switch {
	case strings.HasPrefix(pk, pkExecution) && sk == skExecution:
		if it, ok := m.execs[strings.TrimPrefix(pk, pkExecution)]; ok {
			item = it
		}
	case strings.HasPrefix(pk, pkRun) && sk == skRun:
		if it, ok := m.runs[strings.TrimPrefix(pk, pkRun)]; ok {
			item = it
		}
	case strings.HasPrefix(pk, pkRun) && strings.HasPrefix(sk, skDecision):
		for _, it := range m.decisions[strings.TrimPrefix(pk, pkRun)] {
			if it.SK == sk {
				item = it
			}
		}
	case strings.HasPrefix(pk, pkStateMachine) && sk == skStateMachine:
		if it, ok := m.sms[strings.TrimPrefix(pk, pkStateMachine)]; ok {
			item = it
		}
	case strings.HasPrefix(pk, pkControl):
		if it, ok := m.controls[pk+"\x00"+sk]; ok {
			item = it
		}
	case strings.HasPrefix(pk, pkLearned):
		if it, ok := m.learned[pk+"\x00"+sk]; ok {
			item = it
		}
	}
	if item == nil {
		return nil
	}
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		t.Fatalf("encode %s/%s: %v", pk, sk, err)
	}
	var out map[string]any
	if err := attributevalue.UnmarshalMap(av, &out); err != nil {
		t.Fatalf("decode %s/%s: %v", pk, sk, err)
	}
	return out
}

func dynamoBackend(client *dynamodb.Client) backend {
	var tables atomic.Int64
	return backend{name: "DynamoDB", open: func(t *testing.T, cfg Config) fixture {
		ctx := context.Background()
		cfg.Table = fmt.Sprintf("registry-%d", tables.Add(1))
		if err := CreateTable(ctx, client, cfg.Table); err != nil {
			t.Fatalf("CreateTable: %v", err)
		}
		d, err := NewDynamoDB(client, cfg)
		if err != nil {
			t.Fatalf("NewDynamoDB: %v", err)
		}
		raw := func(t *testing.T, pk, sk string) map[string]any {
			t.Helper()
			out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(cfg.Table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatalf("GetItem %s/%s: %v", pk, sk, err)
			}
			if len(out.Item) == 0 {
				return nil
			}
			var m map[string]any
			if err := attributevalue.UnmarshalMap(out.Item, &m); err != nil {
				t.Fatalf("decode %s/%s: %v", pk, sk, err)
			}
			return m
		}
		return fixture{store: d, raw: raw}
	}}
}

// startDynamo starts moto_server for the test and returns a client of it.
func startDynamo(t *testing.T) *dynamodb.Client {
	t.Helper()
	moto := testenv.StartMoto(t)
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load aws config: %v", err)
	}
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(moto.URL) })
}

// TestRegistry runs the behavioural suite against Memory and against
// DynamoDB on a real moto_server, one fresh table per case.
func TestRegistry(t *testing.T) {
	client := startDynamo(t)
	cases := []struct {
		name string
		run  func(t *testing.T, b backend)
	}{
		{"ExecutionEvents", testExecutionEvents},
		{"ExecutionInvalid", testExecutionInvalid},
		{"ActiveExecutions", testActiveExecutions},
		{"PutRun", testPutRun},
		{"ActiveRuns", testActiveRuns},
		{"Claim", testClaim},
		{"ClaimConcurrent", testClaimConcurrent},
		{"Save", testSave},
		{"SaveConflict", testSaveConflict},
		{"Checkpoint", testCheckpoint},
		{"HoldRecord", testHoldRecord},
		{"ActiveExpiry", testActiveExpiry},
		{"ExecutionExpiry", testExecutionExpiry},
		{"EndRun", testEndRun},
		{"Decisions", testDecisions},
		{"StateMachines", testStateMachines},
		{"StateMachineListing", testStateMachineListing},
		{"RecordScan", testRecordScan},
		{"Redrive", testRedrive},
		{"RedriveRun", testRedriveRun},
		{"Learned", testLearned},
		{"LearnedInvalid", testLearnedInvalid},
		{"LearnedRace", testLearnedRace},
		{"Controls", testControls},
		{"ControlInvalid", testControlInvalid},
		{"AllRuns", testAllRuns},
		{"ContextCanceled", testContextCanceled},
	}
	for _, b := range []backend{memoryBackend(), dynamoBackend(client)} {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, b) })
			}
		})
	}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	execARN = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"
	smARN   = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
	runARN  = "arn:aws:states:us-east-1:123456789012:mapRun:orders/Fanout:0b4f6c3e-9c1a-4d4e-8f43-6f1a2b3c4d5e"
)

func execution(status string, stopped time.Time) Execution {
	return Execution{
		ARN: execARN, StateMachineARN: smARN, Status: status, Policy: "lambda-100",
		StartedAt: t0, StoppedAt: stopped, UpdatedAt: t0.Add(time.Hour),
	}
}

// expiresAt returns the raw expiresAt of an item, failing if it is absent.
func expiresAt(t *testing.T, f fixture, pk, sk string) int64 {
	t.Helper()
	item := f.raw(t, pk, sk)
	if item == nil {
		t.Fatalf("item %s/%s not stored", pk, sk)
	}
	v, ok := item[TTLAttribute].(float64)
	if !ok {
		t.Fatalf("item %s/%s: %s = %v (%T), want a number", pk, sk, TTLAttribute, item[TTLAttribute], item[TTLAttribute])
	}
	return int64(v)
}

func testExecutionEvents(t *testing.T, b backend) {
	ctx := context.Background()
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	type put struct {
		e           Execution
		wantChanged bool
	}
	tests := []struct {
		name       string
		puts       []put
		wantStatus string
	}{
		{"running then succeeded", []put{
			{execution(StatusRunning, time.Time{}), true},
			{execution(StatusSucceeded, t1), true},
		}, StatusSucceeded},
		{"succeeded then late running stays succeeded", []put{
			{execution(StatusSucceeded, t1), true},
			{execution(StatusRunning, time.Time{}), false},
		}, StatusSucceeded},
		{"duplicate running", []put{
			{execution(StatusRunning, time.Time{}), true},
			{execution(StatusRunning, time.Time{}), false},
		}, StatusRunning},
		{"duplicate succeeded", []put{
			{execution(StatusRunning, time.Time{}), true},
			{execution(StatusSucceeded, t1), true},
			{execution(StatusSucceeded, t1), false},
			{execution(StatusRunning, time.Time{}), false},
		}, StatusSucceeded},
		{"pending redrive ends", []put{
			{execution(StatusRunning, time.Time{}), true},
			{execution(StatusPendingRedrive, time.Time{}), true},
		}, StatusPendingRedrive},
		{"redriven run that stopped later wins", []put{
			{execution(StatusFailed, t1), true},
			{execution(StatusSucceeded, t2), true},
		}, StatusSucceeded},
		{"stale end that stopped earlier loses", []put{
			{execution(StatusSucceeded, t2), true},
			{execution(StatusFailed, t1), false},
		}, StatusSucceeded},
		{"end without stop time does not replace an end", []put{
			{execution(StatusFailed, t1), true},
			{execution(StatusAborted, time.Time{}), false},
		}, StatusFailed},
		{"end with stop time replaces an end without", []put{
			{execution(StatusPendingRedrive, time.Time{}), true},
			{execution(StatusFailed, t1), true},
		}, StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := b.open(t, Config{})
			for i, p := range tt.puts {
				changed, err := f.PutExecution(ctx, p.e)
				if err != nil {
					t.Fatalf("put %d (%s): %v", i, p.e.Status, err)
				}
				if changed != p.wantChanged {
					t.Errorf("put %d (%s): changed = %v, want %v", i, p.e.Status, changed, p.wantChanged)
				}
			}
			item := f.raw(t, pkExecution+execARN, skExecution)
			if got := item["status"]; got != tt.wantStatus {
				t.Errorf("stored status = %v, want %s", got, tt.wantStatus)
			}
			active, err := f.ActiveExecutions(ctx)
			if err != nil {
				t.Fatalf("ActiveExecutions: %v", err)
			}
			wantActive := tt.wantStatus == StatusRunning
			if got := len(active) == 1; got != wantActive {
				t.Errorf("active executions = %v, want the execution listed: %v", active, wantActive)
			}
			// Watched or ended, every execution item expires: a watched one
			// ActiveTTL after its last write (testExecutionExpiry).
			if _, hasTTL := item[TTLAttribute]; !hasTTL {
				t.Errorf("%s absent for status %s", TTLAttribute, tt.wantStatus)
			}
		})
	}

	t.Run("ended execution expires after EndedTTL", func(t *testing.T) {
		f := b.open(t, Config{EndedTTL: time.Hour})
		e := execution(StatusFailed, t0.Add(3*time.Hour)) // later than UpdatedAt
		if _, err := f.PutExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got, want := expiresAt(t, f, pkExecution+execARN, skExecution), t0.Add(4*time.Hour).Unix(); got != want {
			t.Errorf("expiresAt = %d, want %d (StoppedAt + 1h)", got, want)
		}
	})
}

func testExecutionInvalid(t *testing.T, b backend) {
	ctx := context.Background()
	tests := []struct {
		name string
		e    Execution
		want string
	}{
		{"empty arn", Execution{Status: StatusRunning}, "empty execution arn"},
		{"unknown status", Execution{ARN: execARN, Status: "DONE"}, `unknown execution status "DONE"`},
		{"ended without times", Execution{ARN: execARN, Status: StatusFailed}, "expiry is unknown"},
		{"time out of range", Execution{ARN: execARN, Status: StatusRunning, StartedAt: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}, "StartedAt"},
	}
	f := b.open(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.PutExecution(ctx, tt.e)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("PutExecution = %v, want ErrInvalid naming %q", err, tt.want)
			}
			if item := f.raw(t, pkExecution+tt.e.ARN, skExecution); item != nil {
				t.Errorf("invalid execution stored: %v", item)
			}
		})
	}
}

func testActiveExecutions(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	var want []Execution
	for _, name := range []string{"c", "a", "d", "b"} {
		e := execution(StatusRunning, time.Time{})
		e.ARN = execARN + name
		if name == "d" {
			e.Status, e.StoppedAt = StatusAborted, t0.Add(time.Minute)
		} else {
			want = append(want, e)
		}
		if _, err := f.PutExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	want[0], want[1], want[2] = want[1], want[2], want[0] // a, b, c
	got, err := f.ActiveExecutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ActiveExecutions =\n%+v\nwant\n%+v", got, want)
	}
}

// sampleRun is a run with a non-trivial state and last decision.
func sampleRun(arn string) Run {
	d := sampleDecision("initial")
	return Run{
		ARN: arn, ExecutionARN: execARN, Policy: "lambda-100", DiscoveredAt: t0,
		State: control.State{
			Phase:   control.PhaseBracket,
			History: []control.Setting{{From: t0, MaxConcurrency: 40}, {From: t0.Add(time.Minute), MaxConcurrency: 28}},
			Hi:      40, CutAt: t0.Add(time.Minute), Lo: 20, Seen: []control.Datapoint{{Minute: t0}},
			Prev:   maprun.Counts{Pending: 900, Running: 28, Succeeded: 70, Failed: 2, Total: 1000},
			PrevAt: t0.Add(90 * time.Second), Raised: true,
		},
		LastDecision: &d,
	}
}

func sampleDecision(msg string) control.Decision {
	return control.Decision{
		Old:    maprun.Settings{MaxConcurrency: 40, ToleratedFailurePercentage: 5},
		New:    maprun.Settings{MaxConcurrency: 28, ToleratedFailurePercentage: 5},
		Update: true, Reason: control.ReasonThrottled, Message: msg,
		Signals: control.Signals{ThrottledMinute: t0, ThrottleValue: 12, LimitThen: 40, NewestMinute: t0, Throughput: 1.5, Running: 28},
	}
}

func testPutRun(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	r := sampleRun(runARN)
	r.Version, r.LeaseOwner, r.LeaseUntil = 7, "someone", t0.Add(time.Hour) // ignored on create
	created, err := f.PutRun(ctx, r)
	if err != nil || !created {
		t.Fatalf("PutRun = %v, %v; want created", created, err)
	}
	want := r
	want.Version, want.LeaseOwner, want.LeaseUntil = 0, "", time.Time{}
	got, err := f.GetRun(ctx, runARN)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetRun =\n%+v\nwant\n%+v", got, want)
	}

	other := sampleRun(runARN)
	other.Policy = "other"
	if created, err := f.PutRun(ctx, other); err != nil || created {
		t.Fatalf("second PutRun = %v, %v; want not created", created, err)
	}
	if got, _ := f.GetRun(ctx, runARN); got.Policy != r.Policy {
		t.Errorf("second PutRun overwrote policy: %q", got.Policy)
	}
	if got, want := expiresAt(t, f, pkRun+runARN, skRun), t0.Add(DefaultActiveTTL).Unix(); got != want {
		t.Errorf("active run expiresAt = %d, want %d (DiscoveredAt + ActiveTTL)", got, want)
	}

	if _, err := f.GetRun(ctx, runARN+"x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRun of a missing run = %v, want ErrNotFound", err)
	}

	t.Run("ended", func(t *testing.T) {
		f := b.open(t, Config{EndedTTL: time.Hour})
		r := sampleRun(runARN)
		r.Ended, r.EndReason, r.LastDecision = true, "SUCCEEDED", nil
		if created, err := f.PutRun(ctx, r); err != nil || !created {
			t.Fatalf("PutRun = %v, %v; want created", created, err)
		}
		got, err := f.GetRun(ctx, runARN)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Ended || !got.EndedAt.Equal(t0) || got.EndReason != "SUCCEEDED" || got.LastDecision != nil {
			t.Errorf("GetRun = %+v, want ended at DiscoveredAt with reason SUCCEEDED and no decision", got)
		}
		if got, want := expiresAt(t, f, pkRun+runARN, skRun), t0.Add(time.Hour).Unix(); got != want {
			t.Errorf("expiresAt = %d, want %d", got, want)
		}
		if active, _ := f.ActiveRuns(ctx); len(active) != 0 {
			t.Errorf("ended run listed active: %v", active)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		for _, r := range []Run{{}, {ARN: runARN, Ended: true}} {
			if _, err := f.PutRun(ctx, r); !errors.Is(err, ErrInvalid) {
				t.Errorf("PutRun(%+v) = %v, want ErrInvalid", r, err)
			}
		}
	})
}

func testActiveRuns(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	for _, s := range []string{"3", "1", "2"} {
		if _, err := f.PutRun(ctx, sampleRun(runARN+s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.EndRun(ctx, runARN+"2", "SUCCEEDED", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := f.ActiveRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, r := range got {
		arns = append(arns, r.ARN)
	}
	if want := []string{runARN + "1", runARN + "3"}; !reflect.DeepEqual(arns, want) {
		t.Errorf("ActiveRuns = %v, want %v", arns, want)
	}
	if len(got) > 0 && !reflect.DeepEqual(got[0].State, sampleRun("").State) {
		t.Errorf("ActiveRuns state = %+v, want the stored state", got[0].State)
	}
	heads, err := f.ActiveRunHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].State, got[i].LastDecision = control.State{}, nil
	}
	if !reflect.DeepEqual(heads, got) {
		t.Errorf("ActiveRunHeads = %+v, want the runs without state and last decision %+v", heads, got)
	}
}

// testHoldRecord: Hold and Record write a run decided on as read, without
// a lease taken first: they fail once anyone wrote since (the version
// moved) or while another owner holds the lease; Hold takes the lease,
// Record releases it.
func testHoldRecord(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	if _, err := f.PutRun(ctx, sampleRun(runARN)); err != nil {
		t.Fatal(err)
	}
	read, err := f.GetRun(ctx, runARN)
	if err != nil {
		t.Fatal(err)
	}
	r := read
	r.State.Hi = 77
	rec, err := f.Record(ctx, r, "a", t0)
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	if stored, _ := f.GetRun(ctx, runARN); stored.State.Hi != 77 || stored.Version != read.Version+1 || rec.Version != stored.Version || stored.LeaseOwner != "" {
		t.Errorf("stored after Record %+v (returned version %d), want Hi 77, version %d, no lease", stored, rec.Version, read.Version+1)
	}
	// b decided on the version a replaced: both writes lose.
	if _, err := f.Record(ctx, read, "b", t0.Add(time.Second)); !errors.Is(err, ErrConflict) {
		t.Errorf("Record of a version replaced = %v, want ErrConflict", err)
	}
	if _, err := f.Hold(ctx, read, "b", t0.Add(time.Second), time.Minute); !errors.Is(err, ErrConflict) {
		t.Errorf("Hold of a version replaced = %v, want ErrConflict", err)
	}
	rec.State.Sent = &control.Setting{From: t0, MaxConcurrency: 50}
	held, err := f.Hold(ctx, rec, "a", t0.Add(2*time.Second), time.Minute)
	if err != nil {
		t.Fatalf("Hold: %v", err)
	}
	if stored, _ := f.GetRun(ctx, runARN); stored.State.Sent == nil || stored.LeaseOwner != "a" || !stored.LeaseUntil.Equal(t0.Add(62*time.Second)) ||
		stored.Version != rec.Version+1 || held.Version != stored.Version || held.LeaseOwner != "a" {
		t.Errorf("stored after Hold %+v (returned %+v), want the update recorded, leased by a until +62s", stored, held)
	}
	// While a holds the run, b can neither hold nor record it, even at its version.
	if _, err := f.Hold(ctx, held, "b", t0.Add(3*time.Second), time.Minute); !errors.Is(err, ErrLeased) {
		t.Errorf("Hold by b during a's lease = %v, want ErrLeased", err)
	}
	if _, err := f.Record(ctx, held, "b", t0.Add(3*time.Second)); !errors.Is(err, ErrLeased) {
		t.Errorf("Record by b during a's lease = %v, want ErrLeased", err)
	}
	held.State.Sent = nil
	done, err := f.Record(ctx, held, "a", t0.Add(4*time.Second))
	if err != nil {
		t.Fatalf("Record by the holder: %v", err)
	}
	if stored, _ := f.GetRun(ctx, runARN); stored.LeaseOwner != "" || stored.State.Sent != nil || stored.Version != done.Version {
		t.Errorf("stored after the holder's Record %+v, want released, nothing in doubt", stored)
	}
	// A lease that lapsed does not keep anyone out; an ended run is not written.
	if _, err := f.Claim(ctx, runARN, "c", t0.Add(5*time.Second), time.Second); err != nil {
		t.Fatal(err)
	}
	if done, err = f.Record(ctx, done, "b", t0.Add(6*time.Second)); err != nil {
		t.Errorf("Record after c's lease lapsed: %v", err)
	}
	if err := f.EndRun(ctx, runARN, "SUCCEEDED", t0.Add(7*time.Second)); err != nil {
		t.Fatal(err)
	}
	ended, _ := f.GetRun(ctx, runARN)
	if _, err := f.Record(ctx, ended, "b", t0.Add(8*time.Second)); !errors.Is(err, ErrConflict) {
		t.Errorf("Record of an ended run = %v, want ErrConflict", err)
	}
	if _, err := f.Hold(ctx, ended, "b", t0.Add(8*time.Second), 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("Hold for no time = %v, want ErrInvalid", err)
	}
}

func testClaim(t *testing.T, b backend) {
	ctx := context.Background()
	const ttl = time.Minute
	tests := []struct {
		name    string
		setup   func(t *testing.T, f fixture) // after PutRun of runARN
		arn     string
		owner   string
		now     time.Time
		ttl     time.Duration
		wantErr []error
	}{
		{name: "free", arn: runARN, owner: "a", now: t0, ttl: ttl},
		{name: "held by another", setup: claimBy("b", t0), arn: runARN, owner: "a", now: t0.Add(59 * time.Second), ttl: ttl, wantErr: []error{ErrLeased}},
		{name: "expired at its end", setup: claimBy("b", t0), arn: runARN, owner: "a", now: t0.Add(ttl), ttl: ttl},
		{name: "expired long ago", setup: claimBy("b", t0), arn: runARN, owner: "a", now: t0.Add(time.Hour), ttl: ttl},
		{name: "held by the owner is extended", setup: claimBy("a", t0), arn: runARN, owner: "a", now: t0.Add(30 * time.Second), ttl: ttl},
		{name: "released by save", setup: func(t *testing.T, f fixture) {
			claimBy("b", t0)(t, f)
			r, _ := f.GetRun(ctx, runARN)
			if err := f.Save(ctx, r, "b", t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}, arn: runARN, owner: "a", now: t0.Add(2 * time.Second), ttl: ttl},
		{name: "missing", arn: runARN + "x", owner: "a", now: t0, ttl: ttl, wantErr: []error{ErrNotFound}},
		{name: "ended", setup: func(t *testing.T, f fixture) {
			if err := f.EndRun(ctx, runARN, "SUCCEEDED", t0); err != nil {
				t.Fatal(err)
			}
		}, arn: runARN, owner: "a", now: t0, ttl: ttl, wantErr: []error{ErrEnded, ErrNotFound}},
		{name: "empty owner", arn: runARN, now: t0, ttl: ttl, wantErr: []error{ErrInvalid}},
		{name: "zero ttl", arn: runARN, owner: "a", now: t0, wantErr: []error{ErrInvalid}},
		{name: "zero now", arn: runARN, owner: "a", ttl: ttl, wantErr: []error{ErrInvalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := b.open(t, Config{})
			if _, err := f.PutRun(ctx, sampleRun(runARN)); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, f)
			}
			before, _ := f.GetRun(ctx, runARN)
			got, err := f.Claim(ctx, tt.arn, tt.owner, tt.now, tt.ttl)
			if tt.wantErr != nil {
				for _, want := range tt.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("Claim = %v, want %v", err, want)
					}
				}
				if after, _ := f.GetRun(ctx, runARN); !reflect.DeepEqual(after, before) {
					t.Errorf("failed Claim wrote:\n%+v\nwas\n%+v", after, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("Claim: %v", err)
			}
			want := before
			want.LeaseOwner, want.LeaseUntil = tt.owner, tt.now.Add(tt.ttl)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Claim =\n%+v\nwant\n%+v", got, want)
			}
			if stored, _ := f.GetRun(ctx, runARN); !reflect.DeepEqual(stored, want) {
				t.Errorf("stored after Claim =\n%+v\nwant\n%+v", stored, want)
			}
		})
	}
}

// claimBy returns a setup that has owner claim runARN at now for a minute.
func claimBy(owner string, now time.Time) func(t *testing.T, f fixture) {
	return func(t *testing.T, f fixture) {
		t.Helper()
		if _, err := f.Claim(context.Background(), runARN, owner, now, time.Minute); err != nil {
			t.Fatalf("setup Claim by %s: %v", owner, err)
		}
	}
}

func testClaimConcurrent(t *testing.T, b backend) {
	ctx := context.Background()
	const owners, rounds = 8, 5
	f := b.open(t, Config{})
	if _, err := f.PutRun(ctx, sampleRun(runARN)); err != nil {
		t.Fatal(err)
	}
	for round := range rounds {
		// Each round starts after the previous round's lease expired, so
		// that every owner can win it.
		now := t0.Add(time.Duration(round) * time.Hour)
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			winners = make(chan string, owners)
			errs    = make(chan error, owners)
		)
		for i := range owners {
			owner := fmt.Sprintf("tuner-%d", i)
			wg.Go(func() {
				<-start
				r, err := f.Claim(ctx, runARN, owner, now, time.Minute)
				switch {
				case err == nil && r.LeaseOwner == owner:
					winners <- owner
				case errors.Is(err, ErrLeased):
				default:
					errs <- fmt.Errorf("%s: Claim = %+v, %v", owner, r, err)
				}
			})
		}
		close(start)
		wg.Wait()
		close(winners)
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
		var won []string
		for w := range winners {
			won = append(won, w)
		}
		if len(won) != 1 {
			t.Fatalf("round %d: winners %v, want exactly one", round, won)
		}
		if r, _ := f.GetRun(ctx, runARN); r.LeaseOwner != won[0] {
			t.Errorf("round %d: stored lease owner %q, winner %q", round, r.LeaseOwner, won[0])
		}
	}
}

func testSave(t *testing.T, b backend) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(r *Run)
		check  func(t *testing.T, f fixture, got Run)
	}{
		{"state and decision", func(r *Run) {
			r.State.Hi, r.State.Phase = 64, control.PhaseSlowStart
			d := sampleDecision("grown")
			r.LastDecision = &d
		}, func(t *testing.T, f fixture, got Run) {
			if got.State.Hi != 64 || got.State.Phase != control.PhaseSlowStart || got.LastDecision == nil || got.LastDecision.Message != "grown" {
				t.Errorf("saved state/decision not stored: %+v", got)
			}
			if got.Ended {
				t.Errorf("run ended by a Save that did not end it")
			}
		}},
		{"decision removed", func(r *Run) { r.LastDecision = nil }, func(t *testing.T, f fixture, got Run) {
			if got.LastDecision != nil {
				t.Errorf("LastDecision = %+v, want nil", got.LastDecision)
			}
		}},
		{"ended", func(r *Run) { r.Ended, r.EndReason = true, "FAILED" }, func(t *testing.T, f fixture, got Run) {
			if !got.Ended || got.EndReason != "FAILED" || !got.EndedAt.Equal(t0.Add(10*time.Second)) {
				t.Errorf("Save did not end the run at now: %+v", got)
			}
			if got, want := expiresAt(t, f, pkRun+runARN, skRun), t0.Add(10*time.Second+time.Hour).Unix(); got != want {
				t.Errorf("expiresAt = %d, want %d", got, want)
			}
			if active, _ := f.ActiveRuns(context.Background()); len(active) != 0 {
				t.Errorf("ended run listed active: %v", active)
			}
			if _, err := f.Claim(context.Background(), runARN, "a", t0.Add(time.Hour), time.Minute); !errors.Is(err, ErrEnded) {
				t.Errorf("Claim of the ended run = %v, want ErrEnded", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := b.open(t, Config{EndedTTL: time.Hour})
			if _, err := f.PutRun(ctx, sampleRun(runARN)); err != nil {
				t.Fatal(err)
			}
			r, err := f.Claim(ctx, runARN, "a", t0, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(&r)
			if err := f.Save(ctx, r, "a", t0.Add(10*time.Second)); err != nil {
				t.Fatalf("Save: %v", err)
			}
			got, err := f.GetRun(ctx, runARN)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != r.Version+1 || got.LeaseOwner != "" || !got.LeaseUntil.IsZero() {
				t.Errorf("after Save: version %d (want %d), lease %q until %v (want released)", got.Version, r.Version+1, got.LeaseOwner, got.LeaseUntil)
			}
			tt.check(t, f, got)
		})
	}
}

func testSaveConflict(t *testing.T, b backend) {
	ctx := context.Background()
	tests := []struct {
		name string
		// prepare claims and returns the run to save, the owner saving it and when.
		prepare func(t *testing.T, f fixture) (Run, string, time.Time)
		want    error
	}{
		{"stale version", func(t *testing.T, f fixture) (Run, string, time.Time) {
			r := mustClaim(t, f, "a", t0)
			if err := f.Save(ctx, r, "a", t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			mustClaim(t, f, "a", t0.Add(2*time.Second))
			return r, "a", t0.Add(3 * time.Second) // r.Version is one behind
		}, ErrConflict},
		{"lease taken over", func(t *testing.T, f fixture) (Run, string, time.Time) {
			r := mustClaim(t, f, "a", t0)
			mustClaim(t, f, "b", t0.Add(2*time.Minute))
			return r, "a", t0.Add(2 * time.Minute)
		}, ErrConflict},
		{"lease expired", func(t *testing.T, f fixture) (Run, string, time.Time) {
			return mustClaim(t, f, "a", t0), "a", t0.Add(time.Minute)
		}, ErrConflict},
		{"never leased", func(t *testing.T, f fixture) (Run, string, time.Time) {
			r, _ := f.GetRun(ctx, runARN)
			return r, "a", t0
		}, ErrConflict},
		{"ended meanwhile", func(t *testing.T, f fixture) (Run, string, time.Time) {
			r := mustClaim(t, f, "a", t0)
			if err := f.EndRun(ctx, runARN, "SUCCEEDED", t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			return r, "a", t0.Add(2 * time.Second)
		}, ErrConflict},
		{"missing", func(t *testing.T, f fixture) (Run, string, time.Time) {
			r := mustClaim(t, f, "a", t0)
			r.ARN += "x"
			return r, "a", t0.Add(time.Second)
		}, ErrNotFound},
		{"empty owner", func(t *testing.T, f fixture) (Run, string, time.Time) {
			return mustClaim(t, f, "a", t0), "", t0.Add(time.Second)
		}, ErrInvalid},
		{"unencodable decision", func(t *testing.T, f fixture) (Run, string, time.Time) {
			r := mustClaim(t, f, "a", t0)
			d := sampleDecision("nan")
			d.Signals.Throughput = math.NaN()
			r.LastDecision = &d
			return r, "a", t0.Add(time.Second)
		}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := b.open(t, Config{})
			if _, err := f.PutRun(ctx, sampleRun(runARN)); err != nil {
				t.Fatal(err)
			}
			r, owner, now := tt.prepare(t, f)
			before, err := f.GetRun(ctx, runARN)
			if err != nil {
				t.Fatal(err)
			}
			r.State.Hi = 999
			err = f.Save(ctx, r, owner, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Save = %v, want %v", err, tt.want)
			}
			after, err := f.GetRun(ctx, runARN)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("failed Save wrote:\n%+v\nwas\n%+v", after, before)
			}
		})
	}
}

// testCheckpoint writes under the lease and keeps it: the owner saves
// again without claiming, and nobody else can claim meanwhile.
func testCheckpoint(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	if _, err := f.PutRun(ctx, sampleRun(runARN)); err != nil {
		t.Fatal(err)
	}
	r := mustClaim(t, f, "a", t0)
	r.State.Hi, r.Failures = 77, 2
	got, err := f.Checkpoint(ctx, r, "a", t0.Add(time.Second))
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	if got.Version != r.Version+1 {
		t.Errorf("Checkpoint returned version %d, want %d", got.Version, r.Version+1)
	}
	stored, err := f.GetRun(ctx, runARN)
	if err != nil {
		t.Fatal(err)
	}
	if stored.State.Hi != 77 || stored.Failures != 2 || stored.Version != got.Version || stored.LeaseOwner != "a" {
		t.Errorf("stored after Checkpoint %+v, want Hi 77, Failures 2, version %d, lease kept by a", stored, got.Version)
	}
	if _, err := f.Claim(ctx, runARN, "b", t0.Add(2*time.Second), time.Minute); !errors.Is(err, ErrLeased) {
		t.Errorf("Claim by b during the checkpointed lease = %v, want ErrLeased", err)
	}
	if _, err := f.Checkpoint(ctx, r, "a", t0.Add(2*time.Second)); !errors.Is(err, ErrConflict) {
		t.Errorf("Checkpoint of the old version = %v, want ErrConflict", err)
	}
	got.Failures = 0
	if err := f.Save(ctx, got, "a", t0.Add(3*time.Second)); err != nil {
		t.Fatalf("Save after Checkpoint: %v", err)
	}
	if stored, _ := f.GetRun(ctx, runARN); stored.LeaseOwner != "" || stored.Failures != 0 || stored.Version != got.Version+1 {
		t.Errorf("stored after Save %+v, want released, Failures 0, version %d", stored, got.Version+1)
	}
	if item := f.raw(t, pkRun+runARN, skRun); item["failures"] != nil {
		t.Errorf("failures = %v stored for a count of 0, want absent", item["failures"])
	}
	bad := got
	bad.Version, bad.Failures = got.Version+1, -1
	mustClaim(t, f, "a", t0.Add(4*time.Second))
	if _, err := f.Checkpoint(ctx, bad, "a", t0.Add(5*time.Second)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "failure count -1") {
		t.Errorf("Checkpoint with failures -1 = %v, want ErrInvalid naming the count", err)
	}
}

// testActiveExpiry checks the backstop on runs no tick tunes any more:
// every write of a run that goes on moves its expiry ActiveTTL after the
// write; its end replaces it with EndedTTL after the end.
// testExecutionExpiry: a watched execution expires ActiveTTL after its
// last write (registered, or its history read), an ended one EndedTTL
// after its end.
func testExecutionExpiry(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{ActiveTTL: 48 * time.Hour, EndedTTL: time.Hour})
	running := execution(StatusRunning, time.Time{})
	if _, err := f.PutExecution(ctx, running); err != nil {
		t.Fatal(err)
	}
	if got, want := expiresAt(t, f, pkExecution+execARN, skExecution), running.UpdatedAt.Add(48*time.Hour).Unix(); got != want {
		t.Errorf("registered: expiresAt %d, want %d", got, want)
	}
	scanned := t0.Add(5 * 24 * time.Hour)
	if err := f.RecordScan(ctx, execARN, Scan{EventID: 7, At: scanned}); err != nil {
		t.Fatal(err)
	}
	if got, want := expiresAt(t, f, pkExecution+execARN, skExecution), scanned.Add(48*time.Hour).Unix(); got != want {
		t.Errorf("history read: expiresAt %d, want %d", got, want)
	}
	stopped := scanned.Add(time.Hour)
	ended := execution(StatusSucceeded, stopped)
	ended.UpdatedAt = stopped
	if _, err := f.PutExecution(ctx, ended); err != nil {
		t.Fatal(err)
	}
	if got, want := expiresAt(t, f, pkExecution+execARN, skExecution), stopped.Add(time.Hour).Unix(); got != want {
		t.Errorf("ended: expiresAt %d, want %d", got, want)
	}
}

func testActiveExpiry(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{ActiveTTL: 48 * time.Hour, EndedTTL: time.Hour})
	if _, err := f.PutRun(ctx, sampleRun(runARN)); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		write func(t *testing.T) time.Time // returns the instant of the write
		want  time.Duration                // after that instant
	}{
		{"put", func(*testing.T) time.Time { return t0 }, 48 * time.Hour},
		{"checkpoint", func(t *testing.T) time.Time {
			at := t0.Add(5 * 24 * time.Hour)
			if _, err := f.Checkpoint(ctx, mustClaim(t, f, "a", at), "a", at); err != nil {
				t.Fatal(err)
			}
			return at
		}, 48 * time.Hour},
		{"save", func(t *testing.T) time.Time {
			at := t0.Add(9 * 24 * time.Hour)
			if err := f.Save(ctx, mustClaim(t, f, "a", at), "a", at); err != nil {
				t.Fatal(err)
			}
			return at
		}, 48 * time.Hour},
		{"claim leaves it", func(t *testing.T) time.Time {
			mustClaim(t, f, "a", t0.Add(10*24*time.Hour))
			return t0.Add(9 * 24 * time.Hour)
		}, 48 * time.Hour},
		{"end", func(t *testing.T) time.Time {
			at := t0.Add(10*24*time.Hour + time.Second)
			if err := f.EndRun(ctx, runARN, "retired", at); err != nil {
				t.Fatal(err)
			}
			return at
		}, time.Hour},
	}
	for _, s := range steps {
		at := s.write(t)
		if got, want := expiresAt(t, f, pkRun+runARN, skRun), at.Add(s.want).Unix(); got != want {
			t.Errorf("after %s: expiresAt = %d, want %d (%s after %s)", s.name, got, want, s.want, at)
		}
	}
}

// mustClaim has owner claim runARN at now for a minute.
func mustClaim(t *testing.T, f fixture, owner string, now time.Time) Run {
	t.Helper()
	r, err := f.Claim(context.Background(), runARN, owner, now, time.Minute)
	if err != nil {
		t.Fatalf("Claim by %s: %v", owner, err)
	}
	return r
}

func testEndRun(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{EndedTTL: 2 * time.Hour})
	if _, err := f.PutRun(ctx, sampleRun(runARN)); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	for i := range 2 { // the second call must change nothing
		if err := f.EndRun(ctx, runARN, "SUCCEEDED", at.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatalf("EndRun %d: %v", i, err)
		}
		got, err := f.GetRun(ctx, runARN)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Ended || !got.EndedAt.Equal(at) || got.EndReason != "SUCCEEDED" || got.Version != 1 {
			t.Errorf("after EndRun %d: %+v, want ended at %v, version 1", i, got, at)
		}
		if got, want := expiresAt(t, f, pkRun+runARN, skRun), at.Add(2*time.Hour).Unix(); got != want {
			t.Errorf("after EndRun %d: expiresAt = %d, want %d", i, got, want)
		}
		if item := f.raw(t, pkRun+runARN, skRun); item["active"] != nil {
			t.Errorf("ended run keeps index attribute active = %v", item["active"])
		}
	}
	if err := f.EndRun(ctx, runARN+"x", "SUCCEEDED", at); !errors.Is(err, ErrNotFound) {
		t.Errorf("EndRun of a missing run = %v, want ErrNotFound", err)
	}
	if err := f.EndRun(ctx, runARN, "SUCCEEDED", time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("EndRun at zero time = %v, want ErrInvalid", err)
	}
}

func testDecisions(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{DecisionTTL: 24 * time.Hour})
	appends := []struct {
		arn string
		at  time.Time
		msg string
	}{
		{runARN, t0.Add(2 * time.Minute), "second"},
		{runARN, t0.Add(3 * time.Minute), "third"},
		{runARN, t0.Add(time.Minute), "first"},
		{runARN, t0.Add(3 * time.Minute), "third, same instant"},
		{runARN + "0", t0.Add(time.Hour), "other run"},
	}
	for _, a := range appends {
		if err := f.AppendDecision(ctx, a.arn, a.at, sampleDecision(a.msg)); err != nil {
			t.Fatalf("AppendDecision %q: %v", a.msg, err)
		}
	}
	tests := []struct {
		arn   string
		limit int
		want  []string
	}{
		{runARN, 0, []string{"third, same instant", "third", "second", "first"}},
		{runARN, 2, []string{"third, same instant", "third"}},
		{runARN, 10, []string{"third, same instant", "third", "second", "first"}},
		{runARN + "0", 0, []string{"other run"}},
		{runARN + "1", 0, []string{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s limit %d", tt.arn[len(tt.arn)-1:], tt.limit), func(t *testing.T) {
			got, err := f.Decisions(ctx, tt.arn, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			msgs := []string{}
			for _, d := range got {
				msgs = append(msgs, d.Message)
			}
			if !reflect.DeepEqual(msgs, tt.want) {
				t.Errorf("Decisions = %q, want %q", msgs, tt.want)
			}
		})
	}
	got, _ := f.Decisions(ctx, runARN, 1)
	if want := sampleDecision("third, same instant"); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("decision read back =\n%+v\nwant\n%+v", got, want)
	}
	// The log has the instants: the same instant taken moves a nanosecond on.
	log, err := f.DecisionLog(ctx, runARN, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantAt := []time.Time{t0.Add(3*time.Minute + 1), t0.Add(3 * time.Minute), t0.Add(2 * time.Minute), t0.Add(time.Minute)}
	for i, l := range log {
		if i >= len(wantAt) || !l.At.Equal(wantAt[i]) {
			t.Errorf("DecisionLog[%d] at %v, want %v", i, l.At, wantAt[min(i, len(wantAt)-1)])
		}
	}
	sk := skDecision + t0.Add(time.Minute).Format(timeLayout)
	if got, want := expiresAt(t, f, pkRun+runARN, sk), t0.Add(time.Minute+24*time.Hour).Unix(); got != want {
		t.Errorf("decision expiresAt = %d, want %d", got, want)
	}
	if err := f.AppendDecision(ctx, runARN, time.Time{}, sampleDecision("zero")); !errors.Is(err, ErrInvalid) {
		t.Errorf("AppendDecision at zero time = %v, want ErrInvalid", err)
	}
	if err := f.AppendDecision(ctx, "", t0, sampleDecision("no arn")); !errors.Is(err, ErrInvalid) {
		t.Errorf("AppendDecision without arn = %v, want ErrInvalid", err)
	}
}

func testStateMachines(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{TagCacheTTL: 5 * time.Minute})
	sm := StateMachine{ARN: smARN, Policy: "lambda-100", OptedIn: true, CheckedAt: t0}
	if err := f.PutStateMachine(ctx, sm); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		arn     string
		now     time.Time
		wantErr error
	}{
		{"fresh", smARN, t0.Add(4 * time.Minute), nil},
		{"just before expiry", smARN, t0.Add(5*time.Minute - time.Nanosecond), nil},
		{"at expiry", smARN, t0.Add(5 * time.Minute), ErrNotFound},
		{"stale", smARN, t0.Add(time.Hour), ErrNotFound},
		{"missing", smARN + "x", t0, ErrNotFound},
		{"zero now", smARN, time.Time{}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.GetStateMachine(ctx, tt.arn, tt.now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("GetStateMachine = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && got != sm {
				t.Errorf("GetStateMachine = %+v, want %+v", got, sm)
			}
		})
	}
	if got, want := expiresAt(t, f, pkStateMachine+smARN, skStateMachine), t0.Add(5*time.Minute).Unix(); got != want {
		t.Errorf("expiresAt = %d, want %d", got, want)
	}
	rechecked := StateMachine{ARN: smARN, CheckedAt: t0.Add(time.Hour)}
	if err := f.PutStateMachine(ctx, rechecked); err != nil {
		t.Fatal(err)
	}
	if got, err := f.GetStateMachine(ctx, smARN, t0.Add(time.Hour+time.Minute)); err != nil || got != rechecked {
		t.Errorf("GetStateMachine after recheck = %+v, %v; want %+v", got, err, rechecked)
	}
	if err := f.PutStateMachine(ctx, StateMachine{ARN: smARN}); !errors.Is(err, ErrInvalid) {
		t.Errorf("PutStateMachine without CheckedAt = %v, want ErrInvalid", err)
	}
}

func testContextCanceled(t *testing.T, b backend) {
	f := b.open(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func() error{
		"PutExecution": func() error { _, err := f.PutExecution(ctx, execution(StatusRunning, time.Time{})); return err },
		"ActiveRuns":   func() error { _, err := f.ActiveRuns(ctx); return err },
		"GetRun":       func() error { _, err := f.GetRun(ctx, runARN); return err },
		"Claim":        func() error { _, err := f.Claim(ctx, runARN, "a", t0, time.Minute); return err },
		"Decisions":    func() error { _, err := f.Decisions(ctx, runARN, 0); return err },
		"GetLearned":   func() error { _, err := f.GetLearned(ctx, smARN, "Fanout", "p"); return err },
		"PutLearned":   func() error { _, err := f.PutLearned(ctx, sampleLearned(1, t0)); return err },
		"PutControl": func() error {
			return f.PutControl(ctx, Control{Target: runARN, Source: SourceOperator, Paused: true, At: t0})
		},
		"GetControl": func() error { _, err := f.GetControl(ctx, runARN, SourceOperator); return err },
		"Controls":   func() error { _, err := f.Controls(ctx); return err },
		"AllRuns":    func() error { _, err := f.AllRuns(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled", name, err)
		}
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative decision ttl", Config{Table: "t", DecisionTTL: -time.Second}, "DecisionTTL"},
		{"negative ended ttl", Config{Table: "t", EndedTTL: -time.Second}, "EndedTTL"},
		{"negative tag cache ttl", Config{Table: "t", TagCacheTTL: -time.Second}, "TagCacheTTL"},
		{"negative active ttl", Config{Table: "t", ActiveTTL: -time.Second}, "ActiveTTL"},
		{"negative state machine ttl", Config{Table: "t", StateMachineTTL: -time.Second}, "StateMachineTTL"},
		{"negative learned ttl", Config{Table: "t", LearnedTTL: -time.Second}, "LearnedTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewMemory(tt.cfg); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewMemory = %v, want ErrInvalid naming %s", err, tt.want)
			}
			if _, err := NewDynamoDB(&dynamodb.Client{}, tt.cfg); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewDynamoDB = %v, want ErrInvalid naming %s", err, tt.want)
			}
		})
	}
	if _, err := NewDynamoDB(&dynamodb.Client{}, Config{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewDynamoDB without table = %v, want ErrInvalid", err)
	}
	if _, err := NewDynamoDB(nil, Config{Table: "t"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewDynamoDB without client = %v, want ErrInvalid", err)
	}
	m, err := NewMemory(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Config{DecisionTTL: DefaultDecisionTTL, EndedTTL: DefaultEndedTTL, TagCacheTTL: DefaultTagCacheTTL, ActiveTTL: DefaultActiveTTL, StateMachineTTL: DefaultStateMachineTTL, LearnedTTL: DefaultLearnedTTL}); m.cfg != want {
		t.Errorf("defaults = %+v, want %+v", m.cfg, want)
	}
}

func TestCreateTable(t *testing.T) {
	ctx := context.Background()
	client := startDynamo(t)
	if err := CreateTable(ctx, client, "registry"); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("registry")})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Table.GlobalSecondaryIndexes); n != 1 || aws.ToString(out.Table.GlobalSecondaryIndexes[0].IndexName) != ActiveIndex {
		t.Errorf("indexes = %+v, want one named %s", out.Table.GlobalSecondaryIndexes, ActiveIndex)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("registry")})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != TTLAttribute {
		t.Errorf("time to live = %+v, want on %s", d, TTLAttribute)
	}
	// A second create (a retry whose first answer was lost) finds the
	// table it made: taken as created.
	if err := CreateTable(ctx, client, "registry"); err != nil {
		t.Errorf("second CreateTable = %v, want the table taken as created", err)
	}
	// A table of that name with other keys is not the registry's.
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("other"),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := CreateTable(ctx, client, "other"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "create table other") {
		t.Errorf("CreateTable over a table with other keys = %v, want ErrInvalid naming the table", err)
	}
	if err := CreateTable(ctx, client, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("CreateTable without a name = %v, want ErrInvalid", err)
	}
}

// TestUnshardedRun: a run stored before the index was sharded, under the
// key "run", is listed with the others, and its next write moves it to
// its shard.
func TestUnshardedRun(t *testing.T) {
	ctx := context.Background()
	client := startDynamo(t)
	if err := CreateTable(ctx, client, "unsharded"); err != nil {
		t.Fatal(err)
	}
	d, err := NewDynamoDB(client, Config{Table: "unsharded"})
	if err != nil {
		t.Fatal(err)
	}
	it, err := newRunItem(sampleRun(runARN+"1"), DefaultActiveTTL, DefaultEndedTTL)
	if err != nil {
		t.Fatal(err)
	}
	it.Active = kindRun
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("unsharded"), Item: item}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutRun(ctx, sampleRun(runARN+"2")); err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		heads, err := d.ActiveRunHeads(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var arns []string
		for _, h := range heads {
			arns = append(arns, h.ARN)
		}
		return arns
	}
	want := []string{runARN + "1", runARN + "2"}
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	r, err := d.GetRun(ctx, runARN+"1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Record(ctx, r, "a", t0); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("unsharded"), Key: key(pkRun+runARN+"1", skRun), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := out.Item["active"].(*types.AttributeValueMemberS); s == nil || s.Value != runShard(runARN+"1") {
		t.Errorf("active %v after a write, want %s", out.Item["active"], runShard(runARN+"1"))
	}
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Errorf("listed %v after the move, want %v", got, want)
	}
}
