package simserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// ErrControl is wrapped by the errors a control endpoint answered with.
var ErrControl = errors.New("control endpoint refused the request")

// Client calls the control endpoints of a Server over HTTP, for a driver
// that runs the server as its own process (maptuner-local).
type Client struct {
	// BaseURL is the server's URL, as it prints it: http://127.0.0.1:PORT.
	BaseURL string
	// HTTP is the client to call with; nil means http.DefaultClient.
	HTTP *http.Client
}

// Clock reads the virtual clock.
func (c *Client) Clock(ctx context.Context) (Clock, error) {
	var out Clock
	return out, c.call(ctx, http.MethodGet, "clock", nil, &out)
}

// Start starts the parent executions; see Server.Start.
func (c *Client) Start(ctx context.Context) (Started, error) {
	var out Started
	return out, c.call(ctx, http.MethodPost, "start", nil, &out)
}

// Advance moves a manual clock by d; see Server.Advance.
func (c *Client) Advance(ctx context.Context, d time.Duration) (Clock, error) {
	var out Clock
	return out, c.call(ctx, http.MethodPost, "advance", url.Values{"d": {d.String()}}, &out)
}

// Progress reads the compact live view of the runs.
func (c *Client) Progress(ctx context.Context) (Progress, error) {
	var out Progress
	return out, c.call(ctx, http.MethodGet, "progress", nil, &out)
}

// Result reads the world's figures.
func (c *Client) Result(ctx context.Context) (sim.Result, error) {
	var out sim.Result
	return out, c.call(ctx, http.MethodGet, "result", nil, &out)
}

// Updates reads every UpdateMapRun the world accepted.
func (c *Client) Updates(ctx context.Context) ([]Update, error) {
	var out []Update
	return out, c.call(ctx, http.MethodGet, "updates", nil, &out)
}

// Stats reads the requests served.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var out Stats
	return out, c.call(ctx, http.MethodGet, "stats", nil, &out)
}

func (c *Client) call(ctx context.Context, method, name string, query url.Values, out any) error {
	u := strings.TrimSuffix(c.BaseURL, "/") + controlPrefix + name
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("simserver: %s %s: %w", method, name, err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("simserver: %s %s: %w", method, name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("simserver: %s %s: read the answer: %w", method, name, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(body))
		}
		return fmt.Errorf("simserver: %s %s: %w: HTTP %d: %s", method, name, ErrControl, resp.StatusCode, e.Message)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("simserver: %s %s: decode the answer: %w", method, name, err)
	}
	return nil
}
