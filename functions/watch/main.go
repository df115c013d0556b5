// Command watch is the watch Lambda function: it registers the executions
// and Map Runs of opted-in state machines from EventBridge events. This file
// only composes: configuration, clients, lambda.Start.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/maptuner/maptuner/internal/awsapi"
	"github.com/maptuner/maptuner/internal/config"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/watch"
)

func main() {
	h, err := build(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "watch: start:", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func build(ctx context.Context) (*watch.Handler, error) {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
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
	return &watch.Handler{
		Store:    store,
		Tags:     &watch.APITags{SFN: clients.SFN, Region: clients.Region, Period: cfg.TickPeriod, Fraction: cfg.BudgetFraction},
		Policies: policies,
		Log:      log,
		Now:      time.Now,
	}, nil
}
