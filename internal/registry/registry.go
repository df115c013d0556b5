// Package registry keeps the tuner's state: the parent executions it watches,
// the Map Runs it tunes with their controller state and a lease, a log of
// its decisions, a cache of the state machines' opt-in tags, what
// each job's runs learned for the next run of the same job, and the
// operators' controls (pause, pin) on runs and state machines.
//
// Two implementations share one behaviour: DynamoDB, which stores everything
// in one table, and Memory, which keeps it in process for the simulator and
// for tests. Both validate their input the same way and return the same
// errors.
//
// # Table
//
// The table has partition key pk (S), sort key sk (S), TTL attribute
// expiresAt (N, epoch seconds) and one global secondary index, ActiveIndex
// ("open"), with partition key active (S) and sort key pk (S), projecting
// the keys and IndexAttributes: not a run's state nor its last decision,
// so that writing them does not write the index (only a version, a lease
// or an end does, and then a small entry). The index is sparse: only
// executions and runs that have not ended, opted-in state machines and
// controls that hold something carry the active attribute, so listing
// what is active reads those items and nothing else. Runs are spread over
// RunShards partition keys (run#0 to run#3, by a hash of the ARN), which
// the listing queries in parallel, with "run", the key of runs stored
// before the sharding, which their next write moves. CreateTable creates
// exactly this table.
//
// # Items
//
//	item           pk            sk              attributes
//	execution      EXEC#<arn>    EXEC            kind=execution, arn, stateMachineArn, status, ended (BOOL), policy,
//	                                             startedAt, stoppedAt, updatedAt, redriveCount (N), historyEventId (N),
//	                                             historyToken, scannedAt; active=execution while not ended,
//	                                             expiresAt once ended
//	map run        RUN#<arn>     RUN             kind=run, arn, executionArn, policy, discoveredAt, ended (BOOL),
//	                                             endedAt, endReason, state (S, JSON of control.State),
//	                                             lastDecision (S, JSON of control.Decision), version (N),
//	                                             failures (N), leaseOwner, leaseUntil, redriveCount (N);
//	                                             active=run#<shard> while not ended; expiresAt, ActiveTTL after
//	                                             the last write while not ended, EndedTTL after the end
//	                                             once ended
//	decision       RUN#<arn>     DEC#<instant>   kind=decision, at, decision (S, JSON of control.Decision), expiresAt
//	state machine  SM#<arn>      SM              kind=stateMachine, arn, policy, optedIn (BOOL), checkedAt, seenAt,
//	                                             listedAt, expiresAt; active=stateMachine while opted in
//	learned        LEARN#<arn>/  LEARN#<policy>  kind=learned, stateMachineArn, label, policy, limit (N), itemTimeMs (N),
//	               <label>                       learnedAt, runArn; expiresAt, LearnedTTL after learnedAt. One per
//	                                             state machine, Map label and policy: what the last run learned
//	                                             (Learned), replaced only by a later learnedAt
//	control        CTRL#<arn>    CTRL#<source>   kind=control, target, source, paused (BOOL), pin (N), by, at;
//	                                             active=control while it pauses or pins; expiresAt,
//	                                             DecisionTTL after at, once it holds nothing. One per
//	                                             Map Run or state machine and source (Control)
//
// Executions, runs, decisions and learned items also carry writeId, the id
// of the conditional write that last wrote them: a write whose answer was
// lost and that the SDK sent again finds its own id and knows it applied
// (see writeID).
//
// Instants are strings in UTC with a fixed width and nanoseconds
// (2024-05-01T12:00:00.000000000Z), so that they compare in time order as
// strings: the lease condition compares leaseUntil with the caller's now, and
// a run's decisions sort by instant under its partition. A zero time.Time is
// stored as an absent attribute; a non-zero one must fall in the years 1970
// to 9999. Optional strings are absent when empty.
//
// The JSON of control.Decision leaves out Decision.State (its field is
// tagged "-"): a decision read back has a zero State. The run's controller
// state is Run.State.
//
// DynamoDB deletes expired items up to a few days late, and a read may
// still return them until then; nothing here relies on their being gone.
package registry

import (
	"errors"
	"fmt"
	"time"

	"github.com/maptuner/maptuner/internal/control"
)

// Errors callers branch on. Every error returned wraps one of these, a
// context error or the AWS SDK's error, except that of a stored item that
// does not decode, which names the item.
var (
	// ErrNotFound is returned for a run, or a fresh state machine entry,
	// that is not stored.
	ErrNotFound = errors.New("not found")
	// ErrLeased is returned by Claim when another owner holds an unexpired
	// lease on the run.
	ErrLeased = errors.New("run leased by another tuner")
	// ErrConflict is returned by Save when its conditional write lost: the
	// lease expired or passed to another owner, the version moved, or the
	// run ended meanwhile. Nothing was written. AppendDecision returns it
	// when it finds no free instant to log at.
	ErrConflict = errors.New("conditional write lost")
	// ErrEnded is returned by Claim for a run that has ended. The error also
	// matches ErrNotFound, since an ended run is not there to be tuned.
	ErrEnded = errors.New("run ended")
	// ErrInvalid is returned for an argument that cannot be stored: an
	// empty ARN or owner, an unknown status, a time out of range, a
	// non-positive lease duration. The message names what was wrong.
	ErrInvalid = errors.New("invalid argument")
	// ErrCorrupt is wrapped by errors about a stored item that cannot be
	// decoded. The listings return it with the items that could be read:
	// one bad item must not stop the tuning of every other run.
	ErrCorrupt = errors.New("undecodable item")
)

// The execution statuses of the Step Functions API.
const (
	StatusRunning        = "RUNNING"
	StatusSucceeded      = "SUCCEEDED"
	StatusFailed         = "FAILED"
	StatusTimedOut       = "TIMED_OUT"
	StatusAborted        = "ABORTED"
	StatusPendingRedrive = "PENDING_REDRIVE"
)

// Execution is a watched parent execution of an opted-in state machine.
type Execution struct {
	// ARN is the execution ARN; required.
	ARN string
	// StateMachineARN is the ARN of its state machine.
	StateMachineARN string
	// Status is one of the Status constants; required.
	Status string
	// Policy is the policy name from the state machine's tag.
	Policy string
	// StartedAt and StoppedAt are the execution's start and stop instants;
	// zero if unknown.
	StartedAt, StoppedAt time.Time
	// UpdatedAt is when this record was written; the expiry of an ended
	// execution counts from the later of StoppedAt and UpdatedAt.
	UpdatedAt time.Time
	// RedriveCount is how many times the execution was redriven, as
	// ListExecutions reports it; 0 when never or not known. A RUNNING
	// write with a higher count than the stored one replaces an ended
	// execution (it runs again), and an ended write with a lower count
	// never replaces anything.
	RedriveCount int32
	// Scan is how far the tuner has read the execution's history; zero
	// before the first read. PutExecution stores it as given; RecordScan
	// moves it on.
	Scan Scan
}

// Scan is a position in an execution's history, and when it was reached.
type Scan struct {
	// EventID is the id of the newest event read; 0 when none was.
	EventID int64
	// Token is the GetExecutionHistory nextToken to read on from, in
	// event order, when the last read stopped before the end of the
	// history; empty when it reached the end.
	Token string
	// At is when the history was last read; zero if never. The tuner
	// reads the least recently read histories first.
	At time.Time
}

// Ended reports whether the execution has a status other than RUNNING.
// PENDING_REDRIVE counts as ended: the execution is not running.
func (e Execution) Ended() bool { return e.Status != StatusRunning }

// Run is a Map Run the tuner tunes.
type Run struct {
	// ARN is the Map Run ARN; required.
	ARN string
	// ExecutionARN is the ARN of the parent execution.
	ExecutionARN string
	// Policy is the policy name.
	Policy string
	// DiscoveredAt is when the tuner found the run.
	DiscoveredAt time.Time
	// Ended is true once the run has ended; EndedAt is when, zero if not
	// ended, and EndReason says why in a word or a sentence.
	Ended     bool
	EndedAt   time.Time
	EndReason string
	// State is the controller state, stored as JSON.
	State control.State
	// LastDecision is the last decision made, stored as JSON; nil before any.
	LastDecision *control.Decision
	// Version starts at 0 and is incremented by every Save, Checkpoint and
	// EndRun.
	Version int64
	// Failures counts the ticks in a row that could not tune the run for a
	// reason that does not pass by itself (its policy is gone, access to
	// it is denied); 0 once a tick tunes it. Never negative.
	Failures int
	// LeaseOwner holds the lease until LeaseUntil; empty and zero when the
	// run is not leased.
	LeaseOwner string
	LeaseUntil time.Time
	// RedriveCount is the highest redrive count of the Map Run seen, as
	// Redrive stored it; 0 before any redrive. PutRun stores 0.
	RedriveCount int32
}

// StateMachine is a cached answer to whether a state machine opted in.
type StateMachine struct {
	// ARN is the state machine ARN; required.
	ARN string
	// Policy is the policy name from the tag; empty when not opted in.
	Policy string
	// OptedIn is true when the state machine carries the opt-in tag.
	OptedIn bool
	// CheckedAt is when the tags were read; required. The entry is stale
	// once Config.TagCacheTTL has passed since.
	CheckedAt time.Time
	// SeenAt is when an execution of the state machine was last seen
	// running; zero if never. An opted-in state machine is listed by
	// StateMachines, and kept, until Config.StateMachineTTL after SeenAt
	// (or Config.TagCacheTTL after CheckedAt, if later).
	SeenAt time.Time
	// ListedAt is when the tuner last listed its running executions; zero
	// if never.
	ListedAt time.Time
}

// Config configures a registry. The zero value of each duration selects its
// default; negative durations are invalid.
type Config struct {
	// Table is the DynamoDB table name; required by NewDynamoDB, unused by
	// Memory.
	Table string
	// DecisionTTL is how long decision-log items live; default 7 days.
	DecisionTTL time.Duration
	// EndedTTL is how long ended runs and executions live after they end;
	// default 3 days.
	EndedTTL time.Duration
	// ActiveTTL is how long a run that has not ended lives after it was
	// last written (PutRun, Save, Checkpoint, Hold, Record): a backstop for
	// runs no tick tunes any more. The tuner writes a run it tunes at least
	// every few minutes, so the default, 7 days, only removes runs left
	// untouched for a week.
	ActiveTTL time.Duration
	// TagCacheTTL is how long a state machine entry stays fresh after
	// CheckedAt; default 10 minutes.
	TagCacheTTL time.Duration
	// StateMachineTTL is how long an opted-in state machine is remembered
	// after an execution of it was last seen (StateMachine.SeenAt);
	// default 7 days.
	StateMachineTTL time.Duration
	// LearnedTTL is how long what a run learned (Learned) is kept after it
	// was learned; default 30 days. Every run that learns again renews it.
	LearnedTTL time.Duration
}

// The Config defaults.
const (
	DefaultDecisionTTL     = 7 * 24 * time.Hour
	DefaultEndedTTL        = 3 * 24 * time.Hour
	DefaultActiveTTL       = 7 * 24 * time.Hour
	DefaultTagCacheTTL     = 10 * time.Minute
	DefaultStateMachineTTL = 7 * 24 * time.Hour
)

// resolve checks c and fills in the defaults.
func (c Config) resolve() (Config, error) {
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"DecisionTTL", &c.DecisionTTL, DefaultDecisionTTL},
		{"EndedTTL", &c.EndedTTL, DefaultEndedTTL},
		{"ActiveTTL", &c.ActiveTTL, DefaultActiveTTL},
		{"TagCacheTTL", &c.TagCacheTTL, DefaultTagCacheTTL},
		{"StateMachineTTL", &c.StateMachineTTL, DefaultStateMachineTTL},
		{"LearnedTTL", &c.LearnedTTL, DefaultLearnedTTL},
	} {
		switch {
		case *d.v < 0:
			return Config{}, fmt.Errorf("registry: config: %w: %s %s is negative", ErrInvalid, d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	return c, nil
}

// maxDecisionAttempts bounds how many successive nanoseconds AppendDecision
// tries when the instant it was given is already taken in the log.
const maxDecisionAttempts = 16

// checkClaim validates the arguments of Claim.
func checkClaim(arn, owner string, now time.Time, ttl time.Duration) error {
	switch {
	case arn == "":
		return fmt.Errorf("%w: empty run arn", ErrInvalid)
	case owner == "":
		return fmt.Errorf("%w: empty lease owner", ErrInvalid)
	case ttl <= 0:
		return fmt.Errorf("%w: lease duration %s is not positive", ErrInvalid, ttl)
	}
	if err := checkInstant("now", now); err != nil {
		return err
	}
	return checkInstant("lease end", now.Add(ttl))
}

// write is one of the writes of a run's state, by what it asks of the
// lease and does with it.
type write int

const (
	// writeSave (Save): owner holds an unexpired lease; it is released.
	writeSave write = iota
	// writeCheckpoint (Checkpoint): owner holds an unexpired lease; it is kept.
	writeCheckpoint
	// writeHold (Hold): no one else holds an unexpired lease; owner takes it.
	writeHold
	// writeRecord (Record): no one else holds an unexpired lease; any is released.
	writeRecord
)

// String names the write in errors.
func (w write) String() string {
	return [...]string{"save", "checkpoint", "hold", "record"}[w]
}

// leased reports whether the write needs the owner's lease, rather than
// no one else's.
func (w write) leased() bool { return w == writeSave || w == writeCheckpoint }

// checkSave validates the arguments of Save, Checkpoint, Hold and Record;
// ttl is the lease length of Hold, unused by the others.
func checkSave(r Run, owner string, now time.Time, w write, ttl time.Duration) error {
	switch {
	case r.ARN == "":
		return fmt.Errorf("%w: empty run arn", ErrInvalid)
	case owner == "":
		return fmt.Errorf("%w: empty lease owner", ErrInvalid)
	case w == writeHold && ttl <= 0:
		return fmt.Errorf("%w: lease duration %s is not positive", ErrInvalid, ttl)
	}
	if err := checkInstant("now", now); err != nil {
		return err
	}
	if w == writeHold {
		return checkInstant("lease end", now.Add(ttl))
	}
	return nil
}
