package simserver

import (
	_ "embed"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// Builtin is the name that selects the built-in scenario in LoadScenario.
const Builtin = "builtin"

//go:embed builtin.yaml
var builtinYAML []byte

// BuiltinYAML returns the text of the built-in scenario, a starting point
// for one's own.
func BuiltinYAML() []byte { return append([]byte(nil), builtinYAML...) }

// LoadScenario loads the scenario file at path, or the built-in scenario
// for "" or Builtin: 20,000 items against a Lambda function that takes 150
// at once and drops to 60 at minute 10, with a policy watching its
// Throttles metric. Errors name the file and the field.
func LoadScenario(path string) (sim.Scenario, error) {
	if path == "" || path == Builtin {
		return sim.ParseScenario(Builtin+".yaml", builtinYAML)
	}
	return sim.LoadScenario(path)
}
