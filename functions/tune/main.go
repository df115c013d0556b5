// Command tune is the tune Lambda function: on every schedule tick it
// discovers, observes, decides and updates the Map Runs of opted-in state
// machines, then looks again every 10 s, until the period ends, at the runs
// that need it (tuner.Handler). This file only composes: configuration,
// clients, lambda.Start.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/maptuner/maptuner/internal/app"
	"github.com/maptuner/maptuner/internal/config"
	"github.com/maptuner/maptuner/internal/tuner"
)

func main() {
	a, err := app.Load(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tune: start:", err)
		os.Exit(1)
	}
	deps := tuner.Deps{
		SFN: a.Clients.SFN, CloudWatch: a.Clients.CloudWatch, Store: a.Store, Policies: a.Policies,
		Log: a.Log.Logger, Metrics: os.Stdout,
	}
	if !a.Config.CapacityHintsOff {
		deps.Lambda = a.Clients.Lambda
	}
	t, err := tuner.New(tuner.Config{
		Owner:          owner(),
		Region:         a.Clients.Region,
		Period:         a.Config.TickPeriod,
		BudgetFraction: a.Config.BudgetFraction,
		DryRun:         a.Config.DryRun,
		ActuationOff:   a.Config.ActuationOff,
		Stack:          a.Config.Stack,
	}, deps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tune: start:", err)
		os.Exit(1)
	}
	h := &tuner.Handler{Tuner: t, Now: time.Now, EventTime: a.Config.Clock == config.ClockEvent}
	lambda.Start(app.Handler(a.Log, h.Handle, app.TickAttrs))
}

// owner names this execution environment in run leases: the log stream is
// unique per environment, and a random suffix keeps local runs apart too.
func owner() string {
	return os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME") + "/" + rand.Text()[:10]
}
