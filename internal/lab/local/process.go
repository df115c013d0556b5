// Package local starts the real local parts that maptuner runs against
// without an AWS account: moto_server for the AWS APIs, the AWS Lambda
// Runtime Interface Emulator for the functions, a host build of a function's
// bootstrap, and a sample Distributed Map state machine. It is ordinary code
// that returns errors, for programs such as the demo; internal/lab/testenv wraps
// it for tests.
package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ModulePath is the Go module path of this repository; RepoRoot looks for
// the go.mod that declares it.
const ModulePath = "github.com/maptuner/maptuner"

// ErrNotInstalled is wrapped by the errors about an executable that is
// neither where it was looked for nor on PATH.
var ErrNotInstalled = errors.New("executable not installed")

// stopTimeout is how long a stop waits for a process to exit after SIGTERM
// before it kills it. The parts are throwaway local servers: killing one is
// a way to stop it, not a failure, however slow a loaded machine makes it.
const stopTimeout = 10 * time.Second

// pollInterval is how often a wait for a server to start polls it.
const pollInterval = 50 * time.Millisecond

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("local: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitHTTP polls url until it answers with any HTTP status, and fails once
// timeout has passed or ctx ends. It waits for a server to start; it
// measures nothing.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	return waitHTTP(ctx, url, nil, timeout)
}

// waitHTTP is WaitHTTP that also gives up when exited is closed: the process
// that should serve url has exited. A nil exited never closes.
func waitHTTP(ctx context.Context, url string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("local: wait for %s: %w", url, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("local: wait for %s: the process exited", url)
		case <-ctx.Done():
			return fmt.Errorf("local: wait for %s: %w", url, ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("local: %s not answering after %s: %w", url, timeout, err)
		case <-tick.C:
		}
	}
}

// RepoRoot returns the root of this repository: the nearest directory at or
// above the working directory whose go.mod declares ModulePath.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("local: find the repository root: %w", err)
	}
	return repoRootFrom(dir)
}

// repoRootFrom is RepoRoot starting at dir.
func repoRootFrom(dir string) (string, error) {
	for start := dir; ; {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			path := modulePath(f)
			f.Close()
			if path == ModulePath {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("local: find the repository root: no go.mod of module %s at or above %s", ModulePath, start)
		}
		dir = parent
	}
}

// modulePath returns the module path a go.mod declares, or "" if it declares none.
func modulePath(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
	}
	return ""
}

// findExecutable returns the first of candidates that is an executable
// file, else name on PATH. The error wraps ErrNotInstalled, names where it
// looked and says how to install it (install).
func findExecutable(name, install string, candidates ...string) (string, error) {
	for _, c := range candidates {
		if isExecutable(c) {
			return c, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	where := "not on PATH"
	if len(candidates) > 0 {
		where = fmt.Sprintf("neither at %s nor on PATH", strings.Join(candidates, ", "))
	}
	return "", fmt.Errorf("%w: %s is %s (%s)", ErrNotInstalled, name, where, install)
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0
}

// process is a started child process with its output captured.
type process struct {
	name   string
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}

	stopOnce sync.Once
	stopErr  error
}

// startProcess starts bin with args in dir (empty: the working directory)
// with environment env (nil: this process's), capturing its stdout and
// stderr. name names it in errors.
func startProcess(name, bin string, args []string, dir string, env []string) (*process, error) {
	p := &process{name: name, logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	// A group of its own, so that stop reaches the processes it starts
	// (the emulator's runtime) and a terminal's Ctrl-C reaches only the
	// caller, which stops it in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Stop reading its output once it has exited, even if a process it
	// started still holds the pipe.
	p.cmd.WaitDelay = time.Second
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("local: start %s: %w", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop asks the process group to stop with SIGTERM and kills it if the
// process has not exited within stopTimeout; it returns once the process has
// exited. It returns an error only when the group could not be signalled;
// later calls return the first call's result.
func (p *process) stop() error {
	p.stopOnce.Do(func() {
		pgid := -p.cmd.Process.Pid
		select {
		case <-p.exited:
			// What it started may outlive it.
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			return
		default:
		}
		// ESRCH: the group is gone already; its exit is on its way.
		if err := syscall.Kill(pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.stopErr = fmt.Errorf("local: stop %s: %w", p.name, err)
			return
		}
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-p.exited:
		case <-timer.C:
			fmt.Fprintf(p.logs, "\n[still running %s after SIGTERM: killed]\n", stopTimeout)
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-p.exited
		}
	})
	return p.stopErr
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

var _ io.Writer = (*syncBuffer)(nil)

// Write implements io.Writer.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
