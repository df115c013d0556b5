// Package config reads the functions' configuration from the environment,
// once, at cold start. Every error names the variable and the value.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/policy"
)

// ErrInvalid is wrapped by every error about a bad variable.
var ErrInvalid = errors.New("invalid configuration")

// Clock says where the tune function takes the time of a tick from.
type Clock string

// The clocks.
const (
	// ClockWall is the Lambda's own clock: the production setting.
	ClockWall Clock = "wall"
	// ClockEvent is the "time" field of the triggering event: for rehearsals
	// against a simulated account whose time runs faster than the wall's.
	ClockEvent Clock = "event"
)

// Config is the configuration of both functions.
type Config struct {
	// Table is the DynamoDB table (TABLE_NAME); required.
	Table string
	// PolicyFile is the policies file (POLICY_FILE); empty means the built-in default policies.
	PolicyFile string
	// DryRun (DRY_RUN=true) decides and logs but never calls UpdateMapRun.
	DryRun bool
	// ActuationOff (ACTUATION=off) is the global off switch.
	ActuationOff bool
	// CapacityHintsOff (CAPACITY_HINTS=off) stops reading the reserved
	// concurrency of the function a Map state's children invoke; default on.
	CapacityHintsOff bool
	// BudgetFraction (BUDGET_FRACTION) is the share of each API quota a tick
	// may spend, in (0, 1]; zero means the default, 0.5.
	BudgetFraction float64
	// TickPeriod (TICK_PERIOD, a Go duration) is the tune schedule's period; default 1m.
	TickPeriod time.Duration
	// LogLevel (LOG_LEVEL: debug, info, warn, error); default info.
	LogLevel slog.Level
	// DecisionTTL (DECISION_TTL, a Go duration) is how long decision-log
	// items live; zero means the registry default.
	DecisionTTL time.Duration
	// CloudWatchProtocol (MAPTUNER_CLOUDWATCH_PROTOCOL: cbor, json, query);
	// empty is the SDK default.
	CloudWatchProtocol string
	// Clock (MAPTUNER_CLOCK: wall, event); default wall.
	Clock Clock
	// Stack (STACK_NAME) is the CloudFormation stack the functions belong
	// to, the Stack dimension of their metrics; empty leaves the dimension
	// out (a local run).
	Stack string
}

// FromEnv reads the configuration through getenv (os.Getenv in production).
// All the errors are joined, each naming its variable.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Table:              getenv("TABLE_NAME"),
		PolicyFile:         getenv("POLICY_FILE"),
		TickPeriod:         time.Minute,
		CloudWatchProtocol: getenv("MAPTUNER_CLOUDWATCH_PROTOCOL"),
		Clock:              ClockWall,
		Stack:              getenv("STACK_NAME"),
	}
	var errs []error
	bad := func(name, value, want string) {
		errs = append(errs, fmt.Errorf("config: %w: %s=%q: %s", ErrInvalid, name, value, want))
	}
	if c.Table == "" {
		errs = append(errs, fmt.Errorf("config: %w: TABLE_NAME is required", ErrInvalid))
	}
	if v := getenv("DRY_RUN"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("DRY_RUN", v, "want true or false")
		}
		c.DryRun = b
	}
	switch v := strings.ToLower(getenv("ACTUATION")); v {
	case "", "on":
	case "off":
		c.ActuationOff = true
	default:
		bad("ACTUATION", v, "want on or off")
	}
	switch v := strings.ToLower(getenv("CAPACITY_HINTS")); v {
	case "", "on":
	case "off":
		c.CapacityHintsOff = true
	default:
		bad("CAPACITY_HINTS", v, "want on or off")
	}
	if v := getenv("BUDGET_FRACTION"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 1) {
			bad("BUDGET_FRACTION", v, "want a number in (0, 1]")
		}
		c.BudgetFraction = f
	}
	duration := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				bad(name, v, "want a positive Go duration such as 1m")
				return
			}
			*dst = d
		}
	}
	duration("TICK_PERIOD", &c.TickPeriod)
	duration("DECISION_TTL", &c.DecisionTTL)
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			bad("LOG_LEVEL", v, "want debug, info, warn or error")
		}
	}
	switch c.CloudWatchProtocol {
	case "", "cbor", "json", "query":
	default:
		bad("MAPTUNER_CLOUDWATCH_PROTOCOL", c.CloudWatchProtocol, "want cbor, json or query")
	}
	switch v := Clock(getenv("MAPTUNER_CLOCK")); v {
	case "":
	case ClockWall, ClockEvent:
		c.Clock = v
	default:
		bad("MAPTUNER_CLOCK", string(v), "want wall or event")
	}
	return c, errors.Join(errs...)
}

// Policies loads the policies file, or the built-in defaults when none is set.
func (c Config) Policies() (*policy.Set, error) {
	if c.PolicyFile == "" {
		return policy.Default(), nil
	}
	s, err := policy.Load(c.PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("config: POLICY_FILE: %w", err)
	}
	return s, nil
}
