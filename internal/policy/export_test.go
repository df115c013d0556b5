package policy

import (
	"maps"
	"slices"
)

// rootPolicies is the policies file deployed with the application.
const rootPolicies = "../../policies.yaml"

// labels returns the labels policy name has overrides for, sorted.
func (s *Set) labels(name string) []string {
	return slices.Sorted(maps.Keys(s.policies[name].labels))
}
