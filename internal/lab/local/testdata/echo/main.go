// Command echo is a tiny Lambda function for the emulator tests. What it does
// depends on the request: it echoes a value, reports environment variables,
// returns an error, panics, or hangs past the invocation deadline.
package main

import (
	"context"
	"encoding/json"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// request selects the behaviour; the first field set wins, in field order.
type request struct {
	// Fail makes the handler return a *rejectedError with this message.
	Fail string `json:"fail,omitempty"`
	// Panic makes the handler panic with this message.
	Panic string `json:"panic,omitempty"`
	// Wait makes the handler hang past the invocation deadline, as a stuck
	// function does, so that the emulator times it out. (Returning at the
	// deadline would race the emulator's own timer.)
	Wait bool `json:"wait,omitempty"`
	// Env lists environment variables to report.
	Env []string `json:"env,omitempty"`
	// Echo is returned as it came.
	Echo json.RawMessage `json:"echo,omitempty"`
}

// response is what the handler answers when it does not fail.
type response struct {
	Echo json.RawMessage   `json:"echo,omitempty"`
	Env  map[string]string `json:"env,omitempty"`
	Cwd  string            `json:"cwd,omitempty"`
}

// rejectedError is returned for a "fail" request; the runtime reports its
// type name, rejectedError, as the errorType.
type rejectedError struct{ msg string }

func (e *rejectedError) Error() string { return e.msg }

func handle(ctx context.Context, req request) (response, error) {
	switch {
	case req.Fail != "":
		return response{}, &rejectedError{msg: req.Fail}
	case req.Panic != "":
		panic(req.Panic)
	case req.Wait:
		time.Sleep(time.Hour) // the emulator stops the runtime long before
		return response{}, ctx.Err()
	case len(req.Env) > 0:
		env := make(map[string]string, len(req.Env))
		for _, k := range req.Env {
			env[k] = os.Getenv(k)
		}
		cwd, err := os.Getwd()
		if err != nil {
			return response{}, err
		}
		return response{Env: env, Cwd: cwd}, nil
	default:
		return response{Echo: req.Echo}, nil
	}
}

func main() {
	lambda.Start(handle)
}
