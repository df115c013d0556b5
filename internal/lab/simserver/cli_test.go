package simserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsCLI runs the aws command against endpoint with fake credentials and
// no shared configuration, and returns its standard output and error.
func awsCLI(t *testing.T, endpoint string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin, lookErr := exec.LookPath("aws")
	if lookErr != nil {
		t.Fatalf("the aws command is not on PATH (%v): this test runs the AWS CLI against the server; install the AWS CLI and run again", lookErr)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, append(args, "--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json")...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_PAGER=",
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// awsOutput runs the aws command and decodes its JSON output.
func awsOutput(t *testing.T, endpoint string, v any, args ...string) {
	t.Helper()
	stdout, stderr, err := awsCLI(t, endpoint, args...)
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), v); err != nil {
		t.Fatalf("aws %s: output %q: %v", strings.Join(args, " "), stdout, err)
	}
}

// TestAWSCLI runs the preinstalled aws command against the server: the
// Step Functions calls of an operator and CloudWatch get-metric-data, which
// the CLI sends in awsJson 1.0 (its botocore does not speak CBOR).
func TestAWSCLI(t *testing.T) {
	srv := startedServer(t)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	if _, err := srv.Advance(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	res := srv.Result()
	run, broken := res.Runs[0], res.Runs[1]

	var described struct {
		MapRunArn      string
		ExecutionArn   string
		Status         string
		MaxConcurrency int
		ItemCounts     struct{ Total, Succeeded, Pending int64 }
		StartDate      any
	}
	awsOutput(t, hs.URL, &described, "stepfunctions", "describe-map-run", "--map-run-arn", run.MapRunARN)
	if described.MapRunArn != run.MapRunARN || described.ExecutionArn != run.ExecutionARN || described.Status != "RUNNING" ||
		described.MaxConcurrency != 6 || described.ItemCounts.Total != 1000 || described.ItemCounts.Succeeded != run.Succeeded || described.StartDate == nil {
		t.Errorf("describe-map-run: %+v, want the run %+v", described, run)
	}

	var listed struct {
		MapRuns []struct{ MapRunArn, StateMachineArn string }
	}
	awsOutput(t, hs.URL, &listed, "stepfunctions", "list-map-runs", "--execution-arn", run.ExecutionARN)
	if len(listed.MapRuns) != 1 || listed.MapRuns[0].MapRunArn != run.MapRunARN || !strings.HasSuffix(listed.MapRuns[0].StateMachineArn, ":stateMachine:etl/Items") {
		t.Errorf("list-map-runs: %+v", listed)
	}

	if _, stderr, err := awsCLI(t, hs.URL, "stepfunctions", "update-map-run", "--map-run-arn", run.MapRunARN, "--max-concurrency", "4", "--tolerated-failure-percentage", "25"); err != nil {
		t.Fatalf("update-map-run: %v\n%s", err, stderr)
	}
	u := srv.Updates()
	if len(u) != 1 || *u[0].MaxConcurrency != 4 || *u[0].ToleratedFailurePercentage != 25 || u[0].ToleratedFailureCount != nil {
		t.Errorf("updates after update-map-run: %+v", u)
	}
	awsOutput(t, hs.URL, &described, "stepfunctions", "describe-map-run", "--map-run-arn", run.MapRunARN)
	if described.MaxConcurrency != 4 {
		t.Errorf("describe-map-run after the update: maxConcurrency %d, want 4", described.MaxConcurrency)
	}

	_, stderr, err := awsCLI(t, hs.URL, "stepfunctions", "update-map-run", "--map-run-arn", broken.MapRunARN, "--max-concurrency", "4")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(stderr, "(ValidationException) when calling the UpdateMapRun operation") || !strings.Contains(stderr, "can no longer be updated") {
		t.Errorf("update-map-run of a finished run: %v\n%s", err, stderr)
	}

	var metrics struct {
		MetricDataResults []struct {
			Id, StatusCode string
			Timestamps     []any
			Values         []float64
		}
	}
	awsOutput(t, hs.URL, &metrics, "cloudwatch", "get-metric-data",
		"--start-time", "2026-01-05T00:00:00Z", "--end-time", "2026-01-05T01:00:00Z", "--scan-by", "TimestampAscending",
		"--metric-data-queries", `[{"Id":"started","MetricStat":{"Metric":{"Namespace":"AWS/States","MetricName":"ExecutionsStarted","Dimensions":[{"Name":"StateMachineArn","Value":"arn:aws:states:us-east-1:123456789012:stateMachine:etl/Items"}]},"Period":60,"Stat":"Sum"}}]`)
	if len(metrics.MetricDataResults) != 1 {
		t.Fatalf("get-metric-data: %+v", metrics)
	}
	m := metrics.MetricDataResults[0]
	series := srv.Result().Runs[0].Series
	if m.Id != "started" || m.StatusCode != "Complete" || len(m.Values) != 2 || len(m.Timestamps) != 2 ||
		m.Values[0] != float64(series[0].Started) || m.Values[1] != float64(series[1].Started) {
		t.Errorf("get-metric-data: %+v, want the runs' starts of minutes 0 and 1 %+v", m, series[:2])
	}

	var machine struct{ Name, Definition, Type string }
	awsOutput(t, hs.URL, &machine, "stepfunctions", "describe-state-machine", "--state-machine-arn", run.StateMachineARN)
	if machine.Name != "etl" || machine.Type != "STANDARD" || !json.Valid([]byte(machine.Definition)) {
		t.Errorf("describe-state-machine: %+v", machine)
	}

	// The CLI sent CloudWatch in awsJson 1.0, with X-Amz-Target.
	req := srv.Stats().Requests
	if req[ProtocolAWSJSON]["CloudWatch.GetMetricData"] != 1 || len(req[ProtocolCBOR]) != 0 || req[ProtocolAWSJSON]["SFN.DescribeMapRun"] != 2 {
		t.Errorf("requests by protocol: %v", req)
	}
}
