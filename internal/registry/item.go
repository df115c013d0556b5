package registry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/maptuner/maptuner/internal/control"
)

// Item kinds, sort keys and key prefixes; see the package doc.
const (
	kindExecution    = "execution"
	kindRun          = "run"
	kindDecision     = "decision"
	kindStateMachine = "stateMachine"

	pkExecution    = "EXEC#"
	pkRun          = "RUN#"
	pkStateMachine = "SM#"

	skExecution    = "EXEC"
	skRun          = "RUN"
	skStateMachine = "SM"
	skDecision     = "DEC#"
)

// timeLayout formats instants in UTC with a fixed width, so that they sort
// and compare in time order as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// The range of instants that timeLayout keeps fixed-width and expiresAt
// keeps non-negative.
var (
	minInstant = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxInstant = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// checkInstant reports an error naming name unless t is non-zero and in
// the years 1970 to 9999.
func checkInstant(name string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("%w: %s is zero", ErrInvalid, name)
	}
	if t.Before(minInstant) || !t.Before(maxInstant) {
		return fmt.Errorf("%w: %s %s is outside the years 1970 to 9999", ErrInvalid, name, t)
	}
	return nil
}

// formatTime formats t for storage: "" for the zero time.
func formatTime(name string, t time.Time) (string, error) {
	if t.IsZero() {
		return "", nil
	}
	if err := checkInstant(name, t); err != nil {
		return "", err
	}
	return t.UTC().Format(timeLayout), nil
}

// parseTime parses a stored instant: the zero time for "".
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("attribute %s: %w", name, err)
	}
	if t.Format(timeLayout) != s {
		// time.Parse also takes a comma before the fraction.
		return time.Time{}, fmt.Errorf("attribute %s: %q is not in the form %s", name, s, timeLayout)
	}
	if t.Before(minInstant) {
		// Nothing stores one: it would not be stored again.
		return time.Time{}, fmt.Errorf("attribute %s: %q is before 1970", name, s)
	}
	return t, nil
}

// expiry is the expiresAt value, in epoch seconds, of an item that lives
// for ttl from t.
func expiry(t time.Time, ttl time.Duration) int64 { return t.Add(ttl).Unix() }

// validStatus reports whether s is an execution status of the API.
func validStatus(s string) bool {
	switch s {
	case StatusRunning, StatusSucceeded, StatusFailed, StatusTimedOut, StatusAborted, StatusPendingRedrive:
		return true
	}
	return false
}

// execItem is the stored form of an Execution.
type execItem struct {
	PK              string `dynamodbav:"pk"`
	SK              string `dynamodbav:"sk"`
	Kind            string `dynamodbav:"kind"`
	Active          string `dynamodbav:"active,omitempty"`
	ExpiresAt       int64  `dynamodbav:"expiresAt,omitempty"`
	ARN             string `dynamodbav:"arn"`
	StateMachineARN string `dynamodbav:"stateMachineArn,omitempty"`
	Status          string `dynamodbav:"status"`
	Ended           bool   `dynamodbav:"ended"`
	Policy          string `dynamodbav:"policy,omitempty"`
	StartedAt       string `dynamodbav:"startedAt,omitempty"`
	StoppedAt       string `dynamodbav:"stoppedAt,omitempty"`
	UpdatedAt       string `dynamodbav:"updatedAt,omitempty"`
	RedriveCount    int32  `dynamodbav:"redriveCount"`
	HistoryEventID  int64  `dynamodbav:"historyEventId,omitempty"`
	HistoryToken    string `dynamodbav:"historyToken,omitempty"`
	ScannedAt       string `dynamodbav:"scannedAt,omitempty"`
}

// newExecItem validates e and builds its item. An ended execution expires
// endedTTL after the later of its StoppedAt and UpdatedAt, one of which it
// must have.
func newExecItem(e Execution, activeTTL, endedTTL time.Duration) (execItem, error) {
	if e.ARN == "" {
		return execItem{}, fmt.Errorf("%w: empty execution arn", ErrInvalid)
	}
	if !validStatus(e.Status) {
		return execItem{}, fmt.Errorf("%w: unknown execution status %q", ErrInvalid, e.Status)
	}
	if err := checkScan(e.RedriveCount, e.Scan); err != nil {
		return execItem{}, err
	}
	it := execItem{
		PK: pkExecution + e.ARN, SK: skExecution, Kind: kindExecution,
		ARN: e.ARN, StateMachineARN: e.StateMachineARN, Status: e.Status, Ended: e.Ended(), Policy: e.Policy,
		RedriveCount: e.RedriveCount, HistoryEventID: e.Scan.EventID, HistoryToken: e.Scan.Token,
	}
	var err error
	if it.ScannedAt, err = formatTime("Scan.At", e.Scan.At); err != nil {
		return execItem{}, err
	}
	if it.StartedAt, err = formatTime("StartedAt", e.StartedAt); err != nil {
		return execItem{}, err
	}
	if it.StoppedAt, err = formatTime("StoppedAt", e.StoppedAt); err != nil {
		return execItem{}, err
	}
	if it.UpdatedAt, err = formatTime("UpdatedAt", e.UpdatedAt); err != nil {
		return execItem{}, err
	}
	if !it.Ended {
		it.Active = kindExecution
		// A backstop: a watched execution whose item is never written
		// again (its end never seen) expires ActiveTTL after the last write.
		base := e.UpdatedAt
		if e.StartedAt.After(base) {
			base = e.StartedAt
		}
		if !base.IsZero() {
			it.ExpiresAt = expiry(base, activeTTL)
		}
		return it, nil
	}
	base := e.StoppedAt
	if e.UpdatedAt.After(base) {
		base = e.UpdatedAt
	}
	if base.IsZero() {
		return execItem{}, fmt.Errorf("%w: ended execution with neither StoppedAt nor UpdatedAt: its expiry is unknown", ErrInvalid)
	}
	it.ExpiresAt = expiry(base, endedTTL)
	return it, nil
}

// replaces reports whether the write of it may replace old, the stored item
// (nil if none), under at-least-once, out-of-order events: a RUNNING write
// with a higher redrive count replaces anything (the execution was
// redriven), an ended write with a lower one nothing; otherwise writing the
// same status again changes nothing; a RUNNING write never replaces an ended
// execution; an ended status replaces RUNNING, and replaces another ended
// status only when it stopped later. DynamoDB.PutExecution states the same
// rule as a condition expression.
func (it execItem) replaces(old *execItem) bool {
	switch {
	case old == nil:
		return true
	case !it.Ended && it.RedriveCount > old.RedriveCount:
		return true
	case it.Ended && it.RedriveCount < old.RedriveCount:
		return false
	case old.Status == it.Status:
		return false
	case !old.Ended:
		return true
	case !it.Ended:
		return false
	default:
		return it.StoppedAt != "" && (old.StoppedAt == "" || old.StoppedAt < it.StoppedAt)
	}
}

// execution decodes the item.
func (it execItem) execution() (Execution, error) {
	if it.Kind != kindExecution {
		return Execution{}, fmt.Errorf("item %s/%s: kind %q, want %q", it.PK, it.SK, it.Kind, kindExecution)
	}
	switch {
	case it.ARN == "":
		return Execution{}, fmt.Errorf("item %s: attribute arn is empty", it.PK)
	case !validStatus(it.Status):
		return Execution{}, fmt.Errorf("item %s: attribute status %q is not an execution status", it.PK, it.Status)
	case it.Status != StatusRunning && it.StoppedAt == "" && it.UpdatedAt == "":
		// newExecItem never stores one: its expiry would be unknown.
		return Execution{}, fmt.Errorf("item %s: ended execution with neither stoppedAt nor updatedAt", it.PK)
	}
	e := Execution{ARN: it.ARN, StateMachineARN: it.StateMachineARN, Status: it.Status, Policy: it.Policy,
		RedriveCount: it.RedriveCount, Scan: Scan{EventID: it.HistoryEventID, Token: it.HistoryToken}}
	var err error
	if e.Scan.At, err = parseTime("scannedAt", it.ScannedAt); err != nil {
		return Execution{}, fmt.Errorf("item %s: %w", it.PK, err)
	}
	if e.StartedAt, err = parseTime("startedAt", it.StartedAt); err != nil {
		return Execution{}, fmt.Errorf("item %s: %w", it.PK, err)
	}
	if e.StoppedAt, err = parseTime("stoppedAt", it.StoppedAt); err != nil {
		return Execution{}, fmt.Errorf("item %s: %w", it.PK, err)
	}
	if e.UpdatedAt, err = parseTime("updatedAt", it.UpdatedAt); err != nil {
		return Execution{}, fmt.Errorf("item %s: %w", it.PK, err)
	}
	return e, nil
}

// runItem is the stored form of a Run.
type runItem struct {
	PK           string `dynamodbav:"pk"`
	SK           string `dynamodbav:"sk"`
	Kind         string `dynamodbav:"kind"`
	Active       string `dynamodbav:"active,omitempty"`
	ExpiresAt    int64  `dynamodbav:"expiresAt,omitempty"`
	ARN          string `dynamodbav:"arn"`
	ExecutionARN string `dynamodbav:"executionArn,omitempty"`
	Policy       string `dynamodbav:"policy,omitempty"`
	DiscoveredAt string `dynamodbav:"discoveredAt,omitempty"`
	Ended        bool   `dynamodbav:"ended"`
	EndedAt      string `dynamodbav:"endedAt,omitempty"`
	EndReason    string `dynamodbav:"endReason,omitempty"`
	State        string `dynamodbav:"state"`
	LastDecision string `dynamodbav:"lastDecision,omitempty"`
	Version      int64  `dynamodbav:"version"`
	Failures     int64  `dynamodbav:"failures,omitempty"`
	LeaseOwner   string `dynamodbav:"leaseOwner,omitempty"`
	LeaseUntil   string `dynamodbav:"leaseUntil,omitempty"`
	RedriveCount int32  `dynamodbav:"redriveCount,omitempty"`
}

// runUpdate is what Save writes: the controller state, the last decision
// ("" removes it), the failure count, the expiry and, when the run ended,
// the end fields.
type runUpdate struct {
	State        string
	LastDecision string
	Failures     int64
	Ended        bool
	EndedAt      string
	EndReason    string
	ExpiresAt    int64
}

// newRunUpdate validates r and encodes what Save writes of it at now. A
// run that goes on expires activeTTL after now; an ended run endedTTL
// after its end, and with a zero EndedAt it ends at now.
func newRunUpdate(r Run, now time.Time, activeTTL, endedTTL time.Duration) (runUpdate, error) {
	if r.Failures < 0 {
		return runUpdate{}, fmt.Errorf("%w: failure count %d is negative", ErrInvalid, r.Failures)
	}
	state, err := json.Marshal(r.State)
	if err != nil {
		return runUpdate{}, fmt.Errorf("%w: encode state: %w", ErrInvalid, err)
	}
	u := runUpdate{State: string(state), Failures: int64(r.Failures)}
	if r.LastDecision != nil {
		d, err := json.Marshal(r.LastDecision)
		if err != nil {
			return runUpdate{}, fmt.Errorf("%w: encode last decision: %w", ErrInvalid, err)
		}
		u.LastDecision = string(d)
	}
	if !r.Ended {
		if !now.IsZero() {
			u.ExpiresAt = expiry(now, activeTTL)
		}
		return u, nil
	}
	at := r.EndedAt
	if at.IsZero() {
		at = now
	}
	if u.EndedAt, err = formatTime("EndedAt", at); err != nil {
		return runUpdate{}, err
	}
	u.Ended, u.EndReason, u.ExpiresAt = true, r.EndReason, expiry(at, endedTTL)
	return u, nil
}

// apply writes u into it, as the write w does, and moves the version on:
// the lease is kept by a checkpoint, taken by owner until (formatted) by a
// hold, released by the others.
func (it *runItem) apply(u runUpdate, w write, owner, until string) {
	it.State, it.LastDecision, it.Failures, it.ExpiresAt = u.State, u.LastDecision, u.Failures, u.ExpiresAt
	if !u.Ended {
		it.Active = runShard(it.ARN)
	}
	it.setEnd(u)
	it.Version++
	switch w {
	case writeCheckpoint:
	case writeHold:
		it.LeaseOwner, it.LeaseUntil = owner, until
	default:
		it.LeaseOwner, it.LeaseUntil = "", ""
	}
}

// setEnd writes the end fields of u into it when u ends the run.
func (it *runItem) setEnd(u runUpdate) {
	if u.Ended {
		it.Ended, it.EndedAt, it.EndReason, it.ExpiresAt, it.Active = true, u.EndedAt, u.EndReason, u.ExpiresAt, ""
	}
}

// newRunItem validates r and builds the item PutRun creates: version 0, no
// lease, expiring activeTTL after DiscoveredAt (no expiry when that is
// zero: the first Save sets one). An ended run with a zero EndedAt ends at
// its DiscoveredAt; it must have one of them.
func newRunItem(r Run, activeTTL, endedTTL time.Duration) (runItem, error) {
	if r.ARN == "" {
		return runItem{}, fmt.Errorf("%w: empty run arn", ErrInvalid)
	}
	discovered, err := formatTime("DiscoveredAt", r.DiscoveredAt)
	if err != nil {
		return runItem{}, err
	}
	if r.Ended && r.EndedAt.IsZero() && r.DiscoveredAt.IsZero() {
		return runItem{}, fmt.Errorf("%w: ended run with neither EndedAt nor DiscoveredAt: its expiry is unknown", ErrInvalid)
	}
	u, err := newRunUpdate(r, r.DiscoveredAt, activeTTL, endedTTL)
	if err != nil {
		return runItem{}, err
	}
	it := runItem{
		PK: pkRun + r.ARN, SK: skRun, Kind: kindRun, Active: runShard(r.ARN),
		ARN: r.ARN, ExecutionARN: r.ExecutionARN, Policy: r.Policy, DiscoveredAt: discovered,
		State: u.State, LastDecision: u.LastDecision, Failures: u.Failures, ExpiresAt: u.ExpiresAt,
	}
	it.setEnd(u)
	return it, nil
}

// claimable reports whether owner may take the lease at now (formatted):
// the run has not ended and is not leased, its lease expired, or owner
// holds it. DynamoDB.Claim states the same rule as a condition expression.
func (it runItem) claimable(owner, now string) bool {
	return !it.Ended && (it.LeaseOwner == "" || it.LeaseUntil <= now || it.LeaseOwner == owner)
}

// saveable reports whether owner may save version at now (formatted): the
// run has not ended, owner holds an unexpired lease and the version has
// not moved. DynamoDB.Save states the same rule as a condition expression.
func (it runItem) saveable(owner, now string, version int64) bool {
	return !it.Ended && it.LeaseOwner == owner && it.LeaseUntil > now && it.Version == version
}

// writable reports whether owner may write version at now (formatted) by
// w: Save and Checkpoint as saveable says, Hold and Record when the run
// has not ended, no one else holds an unexpired lease and the version has
// not moved. DynamoDB states the same rules as condition expressions.
func (it runItem) writable(w write, owner, now string, version int64) bool {
	if w.leased() {
		return it.saveable(owner, now, version)
	}
	return it.claimable(owner, now) && it.Version == version
}

// run decodes the item.
func (it runItem) run() (Run, error) {
	r, err := it.head()
	if err != nil {
		return Run{}, err
	}
	if err := json.Unmarshal([]byte(it.State), &r.State); err != nil {
		return Run{}, fmt.Errorf("item %s: attribute state: %w", it.PK, err)
	}
	if it.LastDecision != "" {
		r.LastDecision = new(control.Decision)
		if err := json.Unmarshal([]byte(it.LastDecision), r.LastDecision); err != nil {
			return Run{}, fmt.Errorf("item %s: attribute lastDecision: %w", it.PK, err)
		}
	}
	return r, nil
}

// head decodes the item but its state and last decision: what the active
// index projects of it.
func (it runItem) head() (Run, error) {
	if it.Kind != kindRun {
		return Run{}, fmt.Errorf("item %s/%s: kind %q, want %q", it.PK, it.SK, it.Kind, kindRun)
	}
	if it.ARN == "" {
		return Run{}, fmt.Errorf("item %s: attribute arn is empty", it.PK)
	}
	r := Run{
		ARN: it.ARN, ExecutionARN: it.ExecutionARN, Policy: it.Policy,
		Ended: it.Ended, EndReason: it.EndReason, Version: it.Version, Failures: int(it.Failures), LeaseOwner: it.LeaseOwner,
		RedriveCount: it.RedriveCount,
	}
	var err error
	for _, f := range []struct {
		name string
		s    string
		t    *time.Time
	}{
		{"discoveredAt", it.DiscoveredAt, &r.DiscoveredAt},
		{"endedAt", it.EndedAt, &r.EndedAt},
		{"leaseUntil", it.LeaseUntil, &r.LeaseUntil},
	} {
		if *f.t, err = parseTime(f.name, f.s); err != nil {
			return Run{}, fmt.Errorf("item %s: %w", it.PK, err)
		}
	}
	return r, nil
}

// smItem is the stored form of a StateMachine.
type smItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Kind      string `dynamodbav:"kind"`
	Active    string `dynamodbav:"active,omitempty"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
	ARN       string `dynamodbav:"arn"`
	Policy    string `dynamodbav:"policy,omitempty"`
	OptedIn   bool   `dynamodbav:"optedIn"`
	CheckedAt string `dynamodbav:"checkedAt"`
	SeenAt    string `dynamodbav:"seenAt,omitempty"`
	ListedAt  string `dynamodbav:"listedAt,omitempty"`
}

// newSMItem validates sm and builds its item, which expires ttl after
// CheckedAt or, if later, known after SeenAt. An opted-in state machine is
// in the active index.
func newSMItem(sm StateMachine, ttl, known time.Duration) (smItem, error) {
	if sm.ARN == "" {
		return smItem{}, fmt.Errorf("%w: empty state machine arn", ErrInvalid)
	}
	if err := checkInstant("CheckedAt", sm.CheckedAt); err != nil {
		return smItem{}, err
	}
	it := smItem{
		PK: pkStateMachine + sm.ARN, SK: skStateMachine, Kind: kindStateMachine,
		ExpiresAt: expiry(sm.CheckedAt, ttl),
		ARN:       sm.ARN, Policy: sm.Policy, OptedIn: sm.OptedIn,
		CheckedAt: sm.CheckedAt.UTC().Format(timeLayout),
	}
	if sm.OptedIn {
		it.Active = kindStateMachine
	}
	var err error
	if it.SeenAt, err = formatTime("SeenAt", sm.SeenAt); err != nil {
		return smItem{}, err
	}
	if it.ListedAt, err = formatTime("ListedAt", sm.ListedAt); err != nil {
		return smItem{}, err
	}
	if !sm.SeenAt.IsZero() {
		it.ExpiresAt = max(it.ExpiresAt, expiry(sm.SeenAt, known))
	}
	return it, nil
}

// stateMachine decodes the item and reports whether it is still fresh at
// now: less than ttl has passed since CheckedAt.
func (it smItem) stateMachine(now time.Time, ttl time.Duration) (StateMachine, bool, error) {
	if it.Kind != kindStateMachine {
		return StateMachine{}, false, fmt.Errorf("item %s/%s: kind %q, want %q", it.PK, it.SK, it.Kind, kindStateMachine)
	}
	sm := StateMachine{ARN: it.ARN, Policy: it.Policy, OptedIn: it.OptedIn}
	for _, f := range []struct {
		name string
		s    string
		t    *time.Time
	}{
		{"checkedAt", it.CheckedAt, &sm.CheckedAt},
		{"seenAt", it.SeenAt, &sm.SeenAt},
		{"listedAt", it.ListedAt, &sm.ListedAt},
	} {
		var err error
		if *f.t, err = parseTime(f.name, f.s); err != nil {
			return StateMachine{}, false, fmt.Errorf("item %s: %w", it.PK, err)
		}
	}
	return sm, now.Sub(sm.CheckedAt) < ttl, nil
}

// newEndUpdate validates the arguments of EndRun and encodes the end it
// writes.
func newEndUpdate(arn, reason string, at time.Time, endedTTL time.Duration) (runUpdate, error) {
	if arn == "" {
		return runUpdate{}, fmt.Errorf("%w: empty run arn", ErrInvalid)
	}
	endedAt, err := formatTime("end time", at)
	if err != nil {
		return runUpdate{}, err
	}
	if endedAt == "" {
		return runUpdate{}, fmt.Errorf("%w: end time is zero", ErrInvalid)
	}
	return runUpdate{Ended: true, EndedAt: endedAt, EndReason: reason, ExpiresAt: expiry(at, endedTTL)}, nil
}

// claimError says why the stored run it cannot be claimed.
func claimError(it runItem) error {
	if it.Ended {
		return fmt.Errorf("%w (%w)", ErrEnded, ErrNotFound)
	}
	return fmt.Errorf("%w: held by %q until %s", ErrLeased, it.LeaseOwner, it.LeaseUntil)
}

// saveConflict says why owner could not save version at now (formatted)
// over the stored run it.
func saveConflict(it runItem, owner, now string, version int64) error {
	switch {
	case it.Ended:
		return fmt.Errorf("%w: the run ended", ErrConflict)
	case it.LeaseOwner == "":
		return fmt.Errorf("%w: %q holds no lease", ErrConflict, owner)
	case it.LeaseOwner != owner:
		return fmt.Errorf("%w: lease held by %q", ErrConflict, it.LeaseOwner)
	case it.LeaseUntil <= now:
		return fmt.Errorf("%w: lease expired at %s", ErrConflict, it.LeaseUntil)
	default:
		return fmt.Errorf("%w: saving version %d, stored version is %d", ErrConflict, version, it.Version)
	}
}

// writeConflict says why owner could not write version at now
// (formatted) by w over the stored run it.
func writeConflict(it runItem, w write, owner, now string, version int64) error {
	if w.leased() || it.Ended || it.claimable(owner, now) {
		return saveConflict(it, owner, now, version)
	}
	return claimError(it)
}

// staleEntry is the error of GetStateMachine for an entry older than ttl.
func staleEntry(sm StateMachine, ttl time.Duration) error {
	return fmt.Errorf("%w: entry checked at %s is older than %s", ErrNotFound, sm.CheckedAt.Format(timeLayout), ttl)
}
