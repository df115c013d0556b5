// Command maptuner inspects and steers a deployed maptuner: what it is
// doing to each Map Run, why, and an operator's pause, pin and rollback.
// It reads and writes the stack's registry table with the caller's AWS
// credentials, through the same registry code as the functions.
//
// Usage:
//
//	maptuner status [-o table|json] [--all]
//	maptuner explain [-o table|json] [--limit N] RUN
//	maptuner pause RUN|STATE_MACHINE
//	maptuner resume RUN|STATE_MACHINE
//	maptuner pin RUN|STATE_MACHINE N
//	maptuner unpin RUN|STATE_MACHINE
//	maptuner rollback RUN
//
// Every command takes --stack NAME (default maptuner) or --table NAME,
// --region and --endpoint-url. Run maptuner help for the details.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const usage = `maptuner inspects and steers the Map Runs a deployed maptuner tunes.

Usage:
  maptuner status   [-o table|json] [--all]     one line per tuned Map Run
  maptuner explain  [-o table|json] [--limit N] RUN
                                                 a run's decisions, newest first, and what it learned
  maptuner pause    RUN|STATE_MACHINE           observe, never update (all runs of a state machine)
  maptuner resume   RUN|STATE_MACHINE           tune again
  maptuner pin      RUN|STATE_MACHINE N         drive maxConcurrency to N (1 to 10000) and hold it,
                                                 whatever the policy's range
  maptuner unpin    RUN|STATE_MACHINE           tune again from the pinned limit
  maptuner rollback RUN                         set the run back to the settings it started with,
                                                 then pause it, so that the tuner does not undo it;
                                                 'maptuner resume RUN' tunes it again (the tuner then
                                                 leaves the limit alone for an hour, as for any
                                                 change made by hand)

RUN is a Map Run ARN, STATE_MACHINE a state machine ARN. The next tick (within
a minute) honours a pause or a pin; a pause wins over a pin, and a run's own
control over its state machine's. The state machine tags maptuner:pause=true
and maptuner:pin=N do the same for all its runs, read every 10 minutes.

Flags (every command; after the command name, before or after its arguments):
  --stack NAME         CloudFormation stack whose TableName output names the table (default maptuner)
  --table NAME         the registry table, instead of --stack
  --region REGION      AWS Region (default: the AWS configuration's)
  --endpoint-url URL   send every AWS call to URL (a local emulator)
  --profile NAME       AWS shared configuration profile

The AWS credentials are those of the default chain (environment, shared
configuration, SSO, instance role). Exit status: 0 done, 1 error, 2 bad usage.
`

// errUsage is wrapped by the errors of a command line that does not parse.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c := cli{stdout: os.Stdout, stderr: os.Stderr, now: time.Now}
	os.Exit(c.run(ctx, os.Args[1:]))
}

// cli runs one command line.
type cli struct {
	stdout, stderr io.Writer
	// now is the clock: it dates controls and decisions, and judges ages.
	now func() time.Time
}

// options are the flags every command takes.
type options struct {
	stack, table, region, endpoint, profile string
	output                                  string
	all                                     bool
	limit                                   int
}

// run runs the command line args and returns the exit code.
func (c cli) run(ctx context.Context, args []string) int {
	err := c.dispatch(ctx, args)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(c.stdout, usage)
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(c.stderr, "maptuner: %v\nRun 'maptuner help' for usage.\n", err)
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "maptuner: %v\n", err)
		return exitError
	}
}

// command is one subcommand: how many arguments it takes, and what it does.
type command struct {
	args []string // argument names, for errors
	run  func(ctx context.Context, c cli, e *env, o options, args []string) error
}

var commands = map[string]command{
	"status":   {nil, cmdStatus},
	"explain":  {[]string{"RUN"}, cmdExplain},
	"pause":    {[]string{"RUN|STATE_MACHINE"}, cmdPause},
	"resume":   {[]string{"RUN|STATE_MACHINE"}, cmdResume},
	"pin":      {[]string{"RUN|STATE_MACHINE", "N"}, cmdPin},
	"unpin":    {[]string{"RUN|STATE_MACHINE"}, cmdUnpin},
	"rollback": {[]string{"RUN"}, cmdRollback},
}

func (c cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command", errUsage)
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		return flag.ErrHelp
	}
	cmd, ok := commands[name]
	if !ok {
		return fmt.Errorf("%w: unknown command %q (want status, explain, pause, resume, pin, unpin or rollback)", errUsage, name)
	}
	o := options{output: "table"}
	fs := flag.NewFlagSet("maptuner "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.stack, "stack", "", "")
	fs.StringVar(&o.table, "table", "", "")
	fs.StringVar(&o.region, "region", "", "")
	fs.StringVar(&o.endpoint, "endpoint-url", "", "")
	fs.StringVar(&o.profile, "profile", "", "")
	if name == "status" || name == "explain" {
		fs.StringVar(&o.output, "o", "table", "")
		fs.StringVar(&o.output, "output", "table", "")
	}
	if name == "status" {
		fs.BoolVar(&o.all, "all", false, "")
	}
	if name == "explain" {
		fs.IntVar(&o.limit, "limit", 20, "")
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %s: %v", errUsage, name, err)
	}
	if len(pos) != len(cmd.args) {
		want := "no argument"
		if len(cmd.args) > 0 {
			want = strings.Join(cmd.args, " ")
		}
		return fmt.Errorf("%w: %s takes %s, got %d argument(s)", errUsage, name, want, len(pos))
	}
	switch {
	case o.output != "table" && o.output != "json":
		return fmt.Errorf("%w: -o %q: want table or json", errUsage, o.output)
	case o.stack != "" && o.table != "":
		return fmt.Errorf("%w: --stack and --table name the table both: give one", errUsage)
	case o.limit < 0:
		return fmt.Errorf("%w: --limit %d is negative", errUsage, o.limit)
	}
	e, err := connect(ctx, o)
	if err != nil {
		return err
	}
	return cmd.run(ctx, c, e, o, pos)
}

// parse parses flags anywhere in args, and returns the other arguments in
// order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}
