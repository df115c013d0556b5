package tuner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/maptuner/maptuner/internal/control"
	"github.com/maptuner/maptuner/internal/policy"
)

// shares groups the open runs whose policies name the same throttle
// signals, once expanded for each run: they call one downstream and share
// its capacity. It returns, for each run in a group of two or more, what
// its decision needs to know of the others (control.Share); runs that
// name no signal, or share it with no other open run, are absent.
func shares(plans []plan) map[string]*control.Share {
	groups := map[string][]plan{}
	for _, p := range plans {
		if len(p.signals) == 0 || p.run.Ended {
			continue
		}
		k := downstreamKey(p)
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

// downstreamKey names the throttle signals of plan p, in an order that
// does not depend on how the policy lists them or their dimensions.
func downstreamKey(p plan) string {
	keys := make([]string, 0, len(p.signals))
	for _, q := range p.signals {
		var b strings.Builder
		fmt.Fprintf(&b, "%s\x00%s\x00%s", q.Namespace, q.Metric, q.Stat)
		for _, d := range slices.Sorted(maps.Keys(q.Dimensions)) {
			fmt.Fprintf(&b, "\x00%s=%s", d, q.Dimensions[d])
		}
		keys = append(keys, b.String())
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
