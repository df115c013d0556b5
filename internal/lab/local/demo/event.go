package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maptuner/maptuner/internal/lab/local"
)

// ErrBadTemplate is wrapped by the errors about a sample event that cannot
// serve as a template.
var ErrBadTemplate = errors.New("bad sample event")

// statusEvent fills the sample RUNNING status-change event template with
// the real execution: its id, time, Region, account, resources and the
// detail's ARNs, name and startDate. Other fields are kept as they are.
func statusEvent(template []byte, st local.Started, id string) ([]byte, error) {
	ev, err := object(template)
	if err != nil {
		return nil, err
	}
	detail, ok := ev["detail"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: status event: detail is not an object", ErrBadTemplate)
	}
	p := strings.Split(st.ExecutionARN, ":")
	if len(p) != 8 || p[0] != "arn" || p[2] != "states" || p[5] != "execution" || p[3] == "" || p[4] == "" || p[7] == "" {
		return nil, fmt.Errorf("status event: execution ARN %q is not arn:PARTITION:states:REGION:ACCOUNT:execution:NAME:ID", st.ExecutionARN)
	}
	if st.StateMachineARN == "" {
		return nil, errors.New("status event: no state machine ARN")
	}
	start := st.StartDate
	if start.IsZero() {
		return nil, fmt.Errorf("status event: execution %s has no start date", st.ExecutionARN)
	}
	ev["id"] = id
	ev["time"] = start.UTC().Format(time.RFC3339)
	ev["region"] = p[3]
	ev["account"] = p[4]
	ev["resources"] = []string{st.ExecutionARN}
	detail["executionArn"] = st.ExecutionARN
	detail["stateMachineArn"] = st.StateMachineARN
	detail["name"] = p[7]
	detail["startDate"] = start.UnixMilli()
	return json.Marshal(ev)
}

// scheduleEvent sets the "time" of the sample schedule event template to at.
func scheduleEvent(template []byte, at time.Time) ([]byte, error) {
	ev, err := object(template)
	if err != nil {
		return nil, err
	}
	ev["time"] = at.UTC().Format(time.RFC3339)
	return json.Marshal(ev)
}

// object decodes a template that must be one JSON object.
func object(template []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(template))
	dec.UseNumber() // keep numbers as written
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTemplate, err)
	}
	if ev == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadTemplate)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrBadTemplate)
	}
	return ev, nil
}
