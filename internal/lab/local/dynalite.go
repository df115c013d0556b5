package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// defaultDynaliteStartTimeout is DynaliteOptions.StartTimeout's zero value.
const defaultDynaliteStartTimeout = time.Minute

// DynaliteOptions say how StartDynalite starts dynalite, a DynamoDB server
// for Node.js kept in memory.
type DynaliteOptions struct {
	// Script is dynalite's cli.js (make bench-tick installs it under
	// bin/tools/dynalite); required.
	Script string
	// Node is the Node.js executable; empty means node on PATH.
	Node string
	// StartTimeout bounds how long StartDynalite waits for the server to
	// answer; zero means a minute.
	StartTimeout time.Duration
}

// Dynalite is a running dynalite on loopback. It serves DynamoDB much
// faster than moto_server with many items, but has no UpdateTimeToLive.
type Dynalite struct {
	// URL is its endpoint, for example http://127.0.0.1:45123.
	URL string

	proc *process
}

// StartDynalite starts dynalite on a free port of 127.0.0.1 and waits until
// it answers. ctx bounds the start only; the server runs until Close.
func StartDynalite(ctx context.Context, opt DynaliteOptions) (*Dynalite, error) {
	if opt.Script == "" {
		return nil, errors.New("local: start dynalite: no script")
	}
	if _, err := os.Stat(opt.Script); err != nil {
		return nil, fmt.Errorf("local: start dynalite: %w (make bench-tick DYNAMODB=dynalite installs it)", err)
	}
	if opt.StartTimeout < 0 {
		return nil, fmt.Errorf("local: start dynalite: start timeout %s is negative", opt.StartTimeout)
	}
	node := opt.Node
	if node == "" {
		var err error
		if node, err = findExecutable("node", "install Node.js"); err != nil {
			return nil, fmt.Errorf("local: start dynalite: %w", err)
		}
	}
	timeout := opt.StartTimeout
	if timeout == 0 {
		timeout = defaultDynaliteStartTimeout
	}
	// dynalite takes port 0 for its default port: choose a free one.
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	proc, err := startProcess("dynalite", node, []string{opt.Script, "--host", "127.0.0.1", "--port", strconv.Itoa(port)}, "", nil)
	if err != nil {
		return nil, err
	}
	d := &Dynalite{URL: fmt.Sprintf("http://127.0.0.1:%d", port), proc: proc}
	if err := waitHTTP(ctx, d.URL+"/", proc.exited, timeout); err != nil {
		_ = proc.stop()
		return nil, fmt.Errorf("local: dynalite did not come up: %w\ndynalite output:\n%s", err, proc.logs.String())
	}
	return d, nil
}

// Logs returns everything the server has written so far.
func (d *Dynalite) Logs() string { return d.proc.logs.String() }

// Close stops the server. It is safe to call more than once.
func (d *Dynalite) Close() error { return d.proc.stop() }
