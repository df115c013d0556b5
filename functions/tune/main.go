// Command tune is the tune Lambda function: on every schedule tick it
// discovers, observes, decides and updates the Map Runs of opted-in state
// machines. This file only composes: configuration, clients, lambda.Start.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/maptuner/maptuner/internal/awsapi"
	"github.com/maptuner/maptuner/internal/config"
	"github.com/maptuner/maptuner/internal/registry"
	"github.com/maptuner/maptuner/internal/tuner"
)

func main() {
	h, err := build(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "tune: start:", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func build(ctx context.Context) (*tuner.Handler, error) {
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
	t, err := tuner.New(tuner.Config{
		Owner:          owner(),
		Region:         clients.Region,
		Period:         cfg.TickPeriod,
		BudgetFraction: cfg.BudgetFraction,
		DryRun:         cfg.DryRun,
		ActuationOff:   cfg.ActuationOff,
	}, tuner.Deps{
		SFN: clients.SFN, CloudWatch: clients.CloudWatch, Store: store, Policies: policies,
		Log: log, Metrics: os.Stdout,
	})
	if err != nil {
		return nil, err
	}
	return &tuner.Handler{Tuner: t, Now: time.Now, EventTime: cfg.Clock == config.ClockEvent}, nil
}

// owner names this execution environment in run leases: the log stream is
// unique per environment, and a random suffix keeps local runs apart too.
func owner() string {
	return os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME") + "/" + rand.Text()[:10]
}
