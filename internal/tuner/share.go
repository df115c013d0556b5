package tuner

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

// sharing is what a period knows of the open runs that call one downstream
// and share its capacity: those whose policies have the same group; those
// of policies with no group that name no signal of a downstream (the
// default policy's, which see it through their children only) and whose
// children invoke the same Lambda function, as their capacity hints name
// it; and the others that name the same throttle signals, once expanded
// for each run. Runs with none of these, or sharing with no other open
// run, are not in it. The limits follow the
// period's decisions, so that a look decides on the others' limits as
// they are, not as the period found them.
type sharing struct {
	// runs are the ARNs of the runs sharing each downstream, by key.
	runs map[string][]string
	// key is the downstream key of each run in runs.
	key map[string]string
	// limit is the limit maptuner last knew each run to have (lastLimit).
	limit map[string]int32
	// throttled is when each run last saw throttling (State.ThrottledAt).
	throttled map[string]time.Time
	// held is how many children each run may hold (control.Share.Held).
	held map[string]int32
}

// newSharing groups the open runs of plans by downstream.
func newSharing(plans []plan) *sharing {
	s := &sharing{runs: map[string][]string{}, key: map[string]string{}, limit: map[string]int32{}, throttled: map[string]time.Time{}, held: map[string]int32{}}
	for _, p := range plans {
		if k := downstreamKey(p); k != "" && !p.run.Ended {
			s.runs[k] = append(s.runs[k], p.run.ARN)
			s.key[p.run.ARN] = k
			s.decided(p.run)
		}
	}
	for k, arns := range s.runs {
		if len(arns) < 2 {
			delete(s.runs, k)
			s.leave(arns[0])
		}
	}
	return s
}

// of returns what the decision on run arn needs to know of the other runs
// sharing its downstream (control.Share); nil when it shares it with none.
func (s *sharing) of(arn string) *control.Share {
	arns := s.runs[s.key[arn]]
	if len(arns) < 2 {
		return nil
	}
	sh := &control.Share{Runs: len(arns)}
	for _, a := range arns {
		if a != arn {
			sh.Others += s.limit[a]
			sh.Held += s.held[a]
			if t := s.throttled[a]; t.After(sh.ThrottledAt) {
				sh.ThrottledAt = t
			}
		}
	}
	return sh
}

// decided takes in the decision the period made on run: its limit as it
// was left, or, once it ended, its leaving the downstream to the others.
func (s *sharing) decided(run registry.Run) {
	k, ok := s.key[run.ARN]
	switch {
	case !ok:
	case run.Ended:
		s.runs[k] = slices.DeleteFunc(s.runs[k], func(a string) bool { return a == run.ARN })
		s.leave(run.ARN)
	default:
		s.limit[run.ARN], s.throttled[run.ARN] = lastLimit(run), run.State.ThrottledAt
		s.held[run.ARN] = s.limit[run.ARN]
		if t := run.State.Ticks; len(t) > 0 {
			s.held[run.ARN] = max(s.held[run.ARN], int32(min(t[len(t)-1].Running, policy.MaxConcurrencyLimit)))
		}
	}
}

// leave forgets run arn, which shares no downstream any more.
func (s *sharing) leave(arn string) {
	delete(s.key, arn)
	delete(s.limit, arn)
	delete(s.throttled, arn)
	delete(s.held, arn)
}

// downstreamKey names the downstream of plan p: its policy's group when it
// has one, whatever its signals; else the function its children invoke,
// which the plan knows only when its policy names no signal of a
// downstream (none, or only Step Functions' own metrics, as the default
// policy's); else its throttle signals, in an order that does not depend
// on how the policy lists them or their dimensions. It is "" for a run
// with none of these, which shares nothing. A group, a function and a set
// of signals never have the same key.
func downstreamKey(p plan) string {
	if g := p.policy.Group; g != "" {
		return "group\x00" + g
	}
	if p.function != "" {
		return "function\x00" + p.function
	}
	keys := make([]string, 0, len(p.signals))
	for _, q := range p.signals {
		var b strings.Builder
		fmt.Fprintf(&b, "%s\x00%s\x00%s", q.Namespace, q.Metric, q.Stat)
		for _, d := range slices.Sorted(maps.Keys(q.Dimensions)) {
			fmt.Fprintf(&b, "\x00%s=%s", d, q.Dimensions[d])
		}
		keys = append(keys, "signal\x00"+b.String())
	}
	slices.Sort(keys)
	return strings.Join(keys, "\x01")
}

// functionName is the name of function ref, as InvokedFunction returns it:
// a name, a partial ARN (ACCOUNT:function:NAME) or a full ARN, all of one
// account and Region, the tuner's.
func functionName(ref string) string {
	if _, name, ok := strings.Cut(ref, ":function:"); ok {
		return name
	}
	return ref
}

// lastLimit is the limit maptuner last knew run to have, in children
// (unlimited counts as the Step Functions ceiling); zero for a run not
// observed yet.
func lastLimit(run registry.Run) int32 {
	h := run.State.History
	if len(h) == 0 {
		return 0
	}
	if l := h[len(h)-1].MaxConcurrency; l > 0 {
		return l
	}
	return policy.MaxConcurrencyLimit // what 0 allows: the ceiling of parallel children
}
