// Package app wires what both Lambda functions need from their environment:
// the configuration, the JSON logger, the policies, the AWS clients and the
// registry. Each function's main builds its handler on top of it.
package app

import (
	"context"
	"os"

	"github.com/maptuner/maptuner/internal/awsapi"
	"github.com/maptuner/maptuner/internal/config"
	"github.com/maptuner/maptuner/internal/policy"
	"github.com/maptuner/maptuner/internal/registry"
)

// App is a function's environment, read and built once at cold start.
type App struct {
	Config   config.Config
	Log      *Logs
	Policies *policy.Set
	Clients  awsapi.Clients
	Store    *registry.DynamoDB
}

// Load reads the configuration through getenv and builds the clients. Any
// error names what was wrong; the function cannot start without it.
func Load(ctx context.Context, getenv func(string) string) (*App, error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	policies, err := cfg.Policies()
	if err != nil {
		return nil, err
	}
	clients, err := awsapi.Load(ctx, awsapi.Options{CloudWatchProtocol: cfg.CloudWatchProtocol})
	if err != nil {
		return nil, err
	}
	store, err := registry.NewDynamoDB(clients.DynamoDB, registry.Config{Table: cfg.Table, DecisionTTL: cfg.DecisionTTL})
	if err != nil {
		return nil, err
	}
	return &App{
		Config:   cfg,
		Log:      NewLogs(os.Stdout, cfg.LogLevel),
		Policies: policies,
		Clients:  clients,
		Store:    store,
	}, nil
}
