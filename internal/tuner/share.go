package tuner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/policy"
)

// shares groups the open runs that call one downstream and share its
// capacity: those whose policies have the same group, and those of
// policies with no group that name the same throttle signals, once
// expanded for each run. It returns, for each run in a group of two or
// more, what its decision needs to know of the others (control.Share);
// runs with neither group nor signal, or sharing with no other open run,
// are absent.
func shares(plans []plan) map[string]*control.Share {
	groups := map[string][]plan{}
	for _, p := range plans {
		k := downstreamKey(p)
		if k == "" || p.run.Ended {
			continue
		}
		groups[k] = append(groups[k], p)
	}
	out := map[string]*control.Share{}
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		var total int32
		for _, p := range g {
			total += lastLimit(p)
		}
		for _, p := range g {
			out[p.run.ARN] = &control.Share{Runs: len(g), Others: total - lastLimit(p)}
		}
	}
	return out
}

// downstreamKey names the downstream of plan p: its policy's group when it
// has one, whatever its signals; else its throttle signals, in an order
// that does not depend on how the policy lists them or their dimensions.
// It is "" for a run with neither, which shares nothing. A group and a set
// of signals never have the same key.
func downstreamKey(p plan) string {
	if g := p.policy.Group; g != "" {
		return "group\x00" + g
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

// lastLimit is the limit maptuner last knew plan p's run to have, in
// children (unlimited counts as the Step Functions ceiling); zero for a
// run not observed yet.
func lastLimit(p plan) int32 {
	h := p.run.State.History
	if len(h) == 0 {
		return 0
	}
	if l := h[len(h)-1].MaxConcurrency; l > 0 {
		return l
	}
	return policy.MaxConcurrencyLimit // what 0 allows: the ceiling of parallel children
}
