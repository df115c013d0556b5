// Command maptuner-local serves a simulated AWS account on loopback, as
// real AWS endpoints: Step Functions (awsJson 1.0), CloudWatch
// GetMetricData (Smithy RPCv2 CBOR and awsJson 1.0) and Lambda
// GetFunctionConcurrency (restJson1), on a virtual clock that runs faster
// than the wall clock.
//
//	maptuner-local [-scenario FILE|builtin] [-seed N] [-rate R] [-addr HOST:PORT]
//
// The first line it prints is "listening on http://HOST:PORT": point
// AWS_ENDPOINT_URL_SFN, AWS_ENDPOINT_URL_CLOUDWATCH and
// AWS_ENDPOINT_URL_LAMBDA (or the aws CLI's
// --endpoint-url) there. The parent executions start with
// POST /_maptuner/start; package internal/lab/simserver documents the other
// control endpoints. It stops on SIGINT or SIGTERM, and exits 2 on a usage
// error and 1 when it cannot serve.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/maptuner/maptuner/internal/lab/simserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx ends and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("maptuner-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", simserver.Builtin, "scenario file (docs/scenarios.md), or builtin for the built-in one")
	seed := fs.Uint64("seed", 1, "seed of the simulation's random draws")
	rate := fs.Float64("rate", 60, "virtual seconds per wall second once started; 0 moves the clock only on POST /_maptuner/advance")
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on; port 0 picks a free one")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "maptuner-local: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := loopback(*addr); err != nil {
		fmt.Fprintf(stderr, "maptuner-local: -addr: %v\n", err)
		return 2
	}
	sc, err := simserver.LoadScenario(*scenario)
	if err != nil {
		fmt.Fprintf(stderr, "maptuner-local: -scenario: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := simserver.New(simserver.Config{Scenario: sc, Seed: *seed, Rate: *rate, Log: log})
	if err != nil {
		fmt.Fprintf(stderr, "maptuner-local: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "maptuner-local: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	clock := fmt.Sprintf("%gx the wall clock", *rate)
	if *rate == 0 {
		clock = "manual (POST /_maptuner/advance?d=1m)"
	}
	fmt.Fprintf(stdout, "scenario %s, seed %d, clock %s; start the parents with POST /_maptuner/start\n", sc.Name, *seed, clock)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintf(stderr, "maptuner-local: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shut); err != nil {
		fmt.Fprintf(stderr, "maptuner-local: shutdown: %v\n", err)
		return 1
	}
	return 0
}

// loopback checks that addr is a loopback host and a port.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address such as 127.0.0.1: the simulated account is served on this machine only", host)
	}
	return nil
}
