package simserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// controlPrefix is where the control endpoints live: a path no AWS API uses.
const controlPrefix = "/_maptuner/"

// ErrRunningClock is returned by Advance when the clock follows the wall
// clock (a rate above zero): only a manual clock can be moved.
var ErrRunningClock = errors.New("the clock runs with the wall clock; advance needs rate 0")

// ErrAdvance is wrapped by the errors about a duration Advance refuses.
var ErrAdvance = errors.New("invalid advance")

// Clock is the virtual clock of a Server.
type Clock struct {
	// Now is the world's virtual time.
	Now time.Time `json:"now"`
	// Elapsed is the virtual time since the scenario's start, in
	// nanoseconds in JSON.
	Elapsed time.Duration `json:"elapsed"`
	// Started reports whether the parent executions were started.
	Started bool `json:"started"`
	// Done reports whether every parent ended or the horizon passed.
	Done bool `json:"done"`
	// Rate is the virtual seconds per wall second; 0 is a manual clock.
	Rate float64 `json:"rate"`
}

// Started is what Start started.
type Started struct {
	// Clock is the clock after the start.
	Clock Clock `json:"clock"`
	// Parents are the parent executions, in scenario order.
	Parents []Parent `json:"parents"`
}

// Parent is a started parent execution, with what its Step Functions
// Execution Status Change event (status RUNNING) carries in its detail.
type Parent struct {
	// Run is the scenario run's name.
	Run string `json:"run"`
	// ExecutionARN, StateMachineARN and Name identify the execution.
	ExecutionARN    string `json:"executionArn"`
	StateMachineARN string `json:"stateMachineArn"`
	Name            string `json:"name"`
	// Status is RUNNING.
	Status string `json:"status"`
	// StartDate is the execution's start, in epoch milliseconds as the
	// event carries it.
	StartDate int64 `json:"startDate"`
	// Input is the execution's input, JSON text.
	Input string `json:"input"`
	// Signal is the throttle metric of the downstream the run calls.
	Signal sim.Metric `json:"signal"`
}

// Progress is a compact live view of the runs, for a progress line.
type Progress struct {
	// Clock is the clock at the time of the view.
	Clock Clock `json:"clock"`
	// Runs are the Map Runs, in scenario order.
	Runs []RunProgress `json:"runs"`
}

// RunProgress is one Map Run's progress.
type RunProgress struct {
	// Name is the scenario run's name; MapRunARN is empty before the Map
	// Run started.
	Name      string `json:"name"`
	MapRunARN string `json:"mapRunArn,omitempty"`
	// Status is RUNNING, SUCCEEDED or FAILED; empty before the start.
	Status string `json:"status"`
	// Items is the run's total; Done the items finished (Succeeded +
	// Failed).
	Items     int64 `json:"items"`
	Done      int64 `json:"done"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	// Limit is the maxConcurrency in effect; 0 means unlimited.
	Limit int32 `json:"limit"`
	// Running is the mean number of running children over the latest
	// minute, whole or partial.
	Running float64 `json:"running"`
	// Throughput is the items finished per virtual second over the last
	// whole minute.
	Throughput float64 `json:"throughput"`
	// Throttles is the throttled downstream calls of the last whole minute.
	Throttles int64 `json:"throttles"`
	// Capacity is the run's share of the downstream's true capacity at the
	// end of the latest minute, in children.
	Capacity float64 `json:"capacity"`
	// ETA is the virtual time left at the current throughput, in
	// nanoseconds in JSON; zero when unknown or the run ended.
	ETA time.Duration `json:"eta"`
}

// Update is an UpdateMapRun the world accepted.
type Update struct {
	// At is the virtual time of the call.
	At time.Time `json:"at"`
	// MapRunARN is the run updated.
	MapRunARN string `json:"mapRunArn"`
	// MaxConcurrency and the tolerances are what the call set; nil when it
	// left them alone.
	MaxConcurrency             *int32   `json:"maxConcurrency,omitempty"`
	ToleratedFailurePercentage *float32 `json:"toleratedFailurePercentage,omitempty"`
	ToleratedFailureCount      *int64   `json:"toleratedFailureCount,omitempty"`
}

// Stats counts the AWS API requests served.
type Stats struct {
	// Requests counts requests by protocol (ProtocolAWSJSON,
	// ProtocolCBOR), then by SERVICE.Operation (SFN.DescribeMapRun,
	// CloudWatch.GetMetricData); only requests that reached their
	// operation count.
	Requests map[string]map[string]int64 `json:"requests"`
}

// clockLocked is the clock; called with s.mu held.
func (s *Server) clockLocked() Clock {
	now := s.world.Now()
	return Clock{Now: now, Elapsed: now.Sub(s.world.Scenario().Start), Started: s.started, Done: s.world.Done(), Rate: s.cfg.Rate}
}

// Clock returns the virtual clock, moved to the wall clock first when it
// runs.
func (s *Server) Clock() Clock {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncLocked()
	return s.clockLocked()
}

// Start starts the scenario's parent executions at the virtual now and, with
// a rate, sets the virtual clock running. A second call starts nothing and
// returns the same parents.
func (s *Server) Start() Started {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncLocked()
	parents := s.world.Start()
	if !s.started {
		s.started = true
		s.wallStart, s.virtStart = s.now(), s.world.Now()
		s.world.Advance(0)
	}
	out := Started{Clock: s.clockLocked(), Parents: make([]Parent, 0, len(parents))}
	for _, p := range parents {
		out.Parents = append(out.Parents, Parent{
			Run:             p.Run,
			ExecutionARN:    p.ExecutionARN,
			StateMachineARN: p.StateMachineARN,
			Name:            p.ExecutionARN[strings.LastIndex(p.ExecutionARN, ":")+1:],
			Status:          "RUNNING",
			StartDate:       s.virtStart.UnixMilli(),
			Input:           "{}",
			Signal:          p.Signal,
		})
	}
	return out
}

// Advance moves a manual clock forward by d, at most to the scenario's
// horizon, running every event due by then, and returns the clock. It
// returns ErrRunningClock with a rate, and an error wrapping ErrAdvance for
// a negative d.
func (s *Server) Advance(d time.Duration) (Clock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Rate != 0 {
		return s.clockLocked(), ErrRunningClock
	}
	if d < 0 {
		return s.clockLocked(), fmt.Errorf("%w: %s is negative", ErrAdvance, d)
	}
	s.world.Advance(min(d, max(0, s.horizon.Sub(s.world.Now()))))
	return s.clockLocked(), nil
}

// Result returns the world's figures so far.
func (s *Server) Result() sim.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncLocked()
	return s.world.Result()
}

// Progress returns a compact live view of the runs. It reads the world
// directly and spends no API quota.
func (s *Server) Progress() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncLocked()
	res := s.world.Result()
	out := Progress{Clock: s.clockLocked(), Runs: make([]RunProgress, 0, len(res.Runs))}
	current := int(res.Elapsed / time.Minute)
	for _, r := range res.Runs {
		p := RunProgress{
			Name: r.Name, MapRunARN: r.MapRunARN, Status: r.Status,
			Items: r.Items, Done: r.Succeeded + r.Failed, Succeeded: r.Succeeded, Failed: r.Failed,
			Limit: r.MaxConcurrency,
		}
		if r.Status == "" {
			p.MapRunARN = ""
		}
		if n := len(r.Series); n > 0 {
			latest := r.Series[n-1]
			p.Running, p.Capacity = latest.Running, latest.Capacity
			for i := n - 1; i >= 0; i-- {
				if pt := r.Series[i]; pt.Minute < current || r.Status != "RUNNING" {
					p.Throughput = float64(pt.Succeeded+pt.Failed) / time.Minute.Seconds()
					p.Throttles = pt.Throttles
					break
				}
			}
		}
		if left := r.Items - p.Done; r.Status == "RUNNING" && p.Throughput > 0 && left > 0 {
			p.ETA = time.Duration(float64(left) / p.Throughput * float64(time.Second))
		}
		out.Runs = append(out.Runs, p)
	}
	return out
}

// Updates returns every UpdateMapRun the world accepted, in order.
func (s *Server) Updates() []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Update{}, s.updates...)
}

// Stats returns the requests served so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Requests: map[string]map[string]int64{}}
	for p, m := range s.requests {
		out.Requests[p] = maps.Clone(m)
	}
	return out
}

// control serves the control endpoints.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, controlPrefix)
	method := http.MethodGet
	if name == "start" || name == "advance" {
		method = http.MethodPost
	}
	var out any
	switch name {
	case "clock", "start", "advance", "progress", "result", "updates", "stats":
	default:
		writeControlError(w, http.StatusNotFound, fmt.Sprintf("no control endpoint %s: want %sclock, start, advance, progress, result, updates or stats", r.URL.Path, controlPrefix))
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		writeControlError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s%s takes %s, not %s", controlPrefix, name, method, r.Method))
		return
	}
	switch name {
	case "clock":
		out = s.Clock()
	case "start":
		out = s.Start()
	case "advance":
		q := r.URL.Query().Get("d")
		d, err := time.ParseDuration(q)
		if err != nil {
			writeControlError(w, http.StatusBadRequest, fmt.Sprintf("advance: d=%q is not a Go duration such as 1m", q))
			return
		}
		c, err := s.Advance(d)
		switch {
		case errors.Is(err, ErrRunningClock):
			writeControlError(w, http.StatusConflict, fmt.Sprintf("advance: %v (this server runs at rate %v)", err, s.cfg.Rate))
			return
		case err != nil:
			writeControlError(w, http.StatusBadRequest, "advance: "+err.Error())
			return
		}
		out = c
	case "progress":
		out = s.Progress()
	case "result":
		out = s.Result()
	case "updates":
		out = s.Updates()
	case "stats":
		out = s.Stats()
	}
	writeControl(w, http.StatusOK, out)
}

func writeControl(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeControlError(w http.ResponseWriter, status int, message string) {
	writeControl(w, status, map[string]string{"message": message})
}
