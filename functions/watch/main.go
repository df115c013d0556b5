// Command watch is the watch Lambda function: it registers the executions
// and Map Runs of opted-in state machines from EventBridge events. This file
// only composes: configuration, clients, lambda.Start.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/maptuner/maptuner/internal/app"
	"github.com/maptuner/maptuner/internal/watch"
)

func main() {
	a, err := app.Load(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "watch: start:", err)
		os.Exit(1)
	}
	h := &watch.Handler{
		Store:    a.Store,
		Tags:     &watch.APITags{SFN: a.Clients.SFN, Region: a.Clients.Region, Period: a.Config.TickPeriod, Fraction: a.Config.BudgetFraction},
		Policies: a.Policies,
		Log:      a.Log.Logger,
		Now:      time.Now,
	}
	lambda.Start(app.Handler(a.Log, h.Handle, nil))
}
