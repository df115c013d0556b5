package config

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		"TABLE_NAME": "t", "DRY_RUN": "true", "ACTUATION": "off", "BUDGET_FRACTION": "0.25",
		"TICK_PERIOD": "2m", "LOG_LEVEL": "debug", "MAPTUNER_CLOUDWATCH_PROTOCOL": "json", "MAPTUNER_CLOCK": "event",
		"STACK_NAME": "maptuner-prod", "CAPACITY_HINTS": "off",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Table: "t", DryRun: true, ActuationOff: true, BudgetFraction: 0.25, TickPeriod: 2 * time.Minute,
		LogLevel: slog.LevelDebug, CloudWatchProtocol: "json", Clock: ClockEvent, Stack: "maptuner-prod", CapacityHintsOff: true}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	c, err = FromEnv(env(map[string]string{"TABLE_NAME": "t"}))
	if err != nil || c.TickPeriod != time.Minute || c.Clock != ClockWall || c.ActuationOff || c.DryRun || c.CapacityHintsOff {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
}

func TestFromEnvErrors(t *testing.T) {
	tests := map[string]map[string]string{
		"TABLE_NAME":                   {},
		"DRY_RUN":                      {"TABLE_NAME": "t", "DRY_RUN": "maybe"},
		"ACTUATION":                    {"TABLE_NAME": "t", "ACTUATION": "sometimes"},
		"CAPACITY_HINTS":               {"TABLE_NAME": "t", "CAPACITY_HINTS": "maybe"},
		"BUDGET_FRACTION":              {"TABLE_NAME": "t", "BUDGET_FRACTION": "1.5"},
		"TICK_PERIOD":                  {"TABLE_NAME": "t", "TICK_PERIOD": "-1m"},
		"DECISION_TTL":                 {"TABLE_NAME": "t", "DECISION_TTL": "week"},
		"LOG_LEVEL":                    {"TABLE_NAME": "t", "LOG_LEVEL": "loud"},
		"MAPTUNER_CLOUDWATCH_PROTOCOL": {"TABLE_NAME": "t", "MAPTUNER_CLOUDWATCH_PROTOCOL": "xml"},
		"MAPTUNER_CLOCK":               {"TABLE_NAME": "t", "MAPTUNER_CLOCK": "sundial"},
	}
	for name, m := range tests {
		_, err := FromEnv(env(m))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v does not name it", name, err)
		}
	}
}
