package tuner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/maprun"
	"github.com/maptuner/maptuner/internal/registry"
)

// What a run costs of the store, per decision: the tuner decides on the
// run as it last read or wrote it, and writes only when the decision
// must be kept.
//
//   - A decision that updates the run holds it first (registry Hold: one
//     conditional write that checks nobody wrote since, takes the lease
//     and records the limit about to be sent), then records the outcome
//     (Record). Two tuners never both update a run: the second one's Hold
//     finds the version moved, or the lease taken.
//   - A decision that does not update is recorded (one conditional write,
//     checking the version) when it changed what the controller decides
//     on (phase, bounds, cut, history, tolerances: everything but the
//     observations, see decisive), when the run ended or its failure
//     count changes, when the decision is logged, and otherwise at most
//     every saveEvery, for the observations it accumulates.
//   - Between writes, the state decided is kept in the process (Tuner.known),
//     under the version it was decided on. The listing of the active runs
//     gives each run's version: a run that someone else wrote since is read
//     again (GetRun), the others are not read at all.
//
// A crash, or the next invocation in another process, loses what was not
// written: at most saveEvery of observations (item counts at each look,
// settled minutes, the item time and the instant the bound was last
// confirmed), never a decision's limit, bound or cut, nor the record of
// an update sent.
const saveEvery = 5 * time.Minute

// known is what this process knows of a run: the run as stored at
// run.Version, with the state and last decision decided since; stored is
// the state as stored.
type known struct {
	run    registry.Run
	stored control.State
}

// activeRuns lists the tracked runs, as this process knows them or, for
// those it does not know or that someone else wrote since, as read now. An
// undecodable run is reported and the others are tuned; a run that cannot
// be read now is left for the next tick.
func (t *Tuner) activeRuns(ctx context.Context, rep *Report) ([]registry.Run, error) {
	heads, err := t.deps.Store.ActiveRunHeads(ctx)
	switch {
	case errors.Is(err, registry.ErrCorrupt):
		t.fail(rep, "list tracked runs", err)
	case err != nil:
		return nil, fmt.Errorf("tuner: list tracked runs: %w", err)
	}
	if t.known == nil {
		t.known = map[string]*known{}
	}
	listed := make(map[string]bool, len(heads))
	runs := make([]registry.Run, 0, len(heads))
	for _, h := range heads {
		listed[h.ARN] = true
		k := t.known[h.ARN]
		if k == nil || h.Version > k.run.Version {
			r, err := t.deps.Store.GetRun(ctx, h.ARN)
			switch {
			case errors.Is(err, registry.ErrNotFound):
				continue
			case err != nil:
				t.fail(rep, "read run "+h.ARN, err)
				continue
			case r.Ended:
				continue
			}
			k = &known{run: r, stored: r.State}
			t.known[h.ARN] = k
		} else if h.Version == k.run.Version {
			// A claim (an older tuner's lease) does not move the version.
			k.run.LeaseOwner, k.run.LeaseUntil = h.LeaseOwner, h.LeaseUntil
		}
		runs = append(runs, k.run)
	}
	for arn := range t.known {
		if !listed[arn] {
			delete(t.known, arn)
		}
	}
	for arn := range t.lateAt {
		if !listed[arn] {
			delete(t.lateAt, arn)
		}
	}
	return runs, nil
}

// take returns the run arn to decide on, unless another tuner holds its
// lease, decided on it moments ago (see fresh), or, in a look, wrote it
// since this period decided on it.
func (t *Tuner) take(tc *tick, arn string) (registry.Run, bool) {
	k := t.known[arn]
	if k == nil {
		return registry.Run{}, false // it could not be read this tick
	}
	if tc.look {
		// A look reads the run again: another invocation may have
		// decided on it since this one did.
		stored, err := t.deps.Store.GetRun(tc.work, arn)
		if err != nil {
			t.fail(tc.rep, "read run "+arn, err)
			return registry.Run{}, false
		}
		if stored.Version != k.run.Version {
			// The looks are the other invocation's.
			tc.rep.skip("taken")
			tc.p.runs[arn].look = false
			t.known[arn] = &known{run: stored, stored: stored.State}
			return registry.Run{}, false
		}
		k.run.LeaseOwner, k.run.LeaseUntil = stored.LeaseOwner, stored.LeaseUntil
	}
	run := k.run
	if run.LeaseOwner != "" && run.LeaseOwner != t.cfg.Owner && run.LeaseUntil.After(tc.now) {
		tc.rep.skip("leased")
		return registry.Run{}, false
	}
	if t.fresh(tc, run) {
		// An overlapping invocation decided on this run moments ago.
		tc.rep.skip("fresh")
		return registry.Run{}, false
	}
	return run, true
}

// keep records run, decided on as read (or held, when its version is past
// the one read), when it must be written (mustSave), or else keeps it in
// the process only; logIt says that its decision is logged. It reports
// whether the run is as this process knows it; a run someone else wrote
// since is read again at the next tick.
func (t *Tuner) keep(tc *tick, run registry.Run, logIt bool) bool {
	k := t.known[run.ARN]
	if k == nil {
		k = &known{run: run}
		t.known[run.ARN] = k
	}
	if !logIt && !mustSave(*k, run) {
		k.run = run
		return true
	}
	stored, err := t.deps.Store.Record(tc.finish, run, t.cfg.Owner, tc.now)
	if err != nil {
		delete(t.known, run.ARN)
		t.fail(tc.rep, "save "+run.ARN, err)
		return false
	}
	if stored.Ended {
		delete(t.known, run.ARN)
		return true
	}
	*k = known{run: stored, stored: stored.State}
	return true
}

// mustSave reports whether run, decided on from k, must be written now:
// it was held (its version moved on), it ended, its failure count
// changed, its state changed in more than the observations, or its
// observations were last written saveEvery ago or more.
func mustSave(k known, run registry.Run) bool {
	switch {
	case run.Version != k.run.Version, run.Ended, run.Failures != k.run.Failures:
		return true
	case k.stored.PrevAt.IsZero() || run.State.PrevAt.Sub(k.stored.PrevAt) >= saveEvery:
		return true
	}
	a, errA := json.Marshal(decisive(k.stored))
	b, errB := json.Marshal(decisive(run.State))
	return errA != nil || errB != nil || string(a) != string(b)
}

// decisive returns what the controller decides on in st: st without what
// each observation adds to it (the item counts at each look: Ticks, Prev,
// PrevAt; the minutes settled: Seen; the item time measured; the instant
// the bound Lo was last confirmed).
func decisive(st control.State) control.State {
	st.Ticks, st.Seen, st.Prev, st.PrevAt = nil, nil, maprun.Counts{}, time.Time{}
	st.ItemTime, st.LoAt = 0, time.Time{}
	return st
}
