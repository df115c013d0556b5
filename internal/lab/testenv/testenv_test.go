package testenv

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/lab/local"
)

// TestBuildBootstrapRunsAFunction builds the real watch function and runs it
// in the emulator. The malformed sample event is refused before any AWS call,
// so no endpoint is needed: the handler's error must come back as a
// *FunctionError with status 200, not as a crash.
func TestBuildBootstrapRunsAFunction(t *testing.T) {
	bootstrap := BuildBootstrap(t, "watch")
	if filepath.Base(filepath.Dir(bootstrap)) != "watch" || filepath.Base(bootstrap) != "bootstrap" {
		t.Fatalf("BuildBootstrap path = %s, want .../watch/bootstrap", bootstrap)
	}
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	event, err := os.ReadFile(filepath.Join(root, "events", "malformed.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := StartRIE(t, bootstrap, []string{
		"TABLE_NAME=maptuner-test", "POLICY_FILE=", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
	})
	_, err = r.Invoke(context.Background(), event)
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Status != http.StatusOK {
		t.Fatalf("Invoke of the malformed event: error = %v, want a *FunctionError with status 200", err)
	}
}

// TestStartMotoRunsADistributedMap starts moto through the wrappers, runs a
// short Distributed Map to its end, and checks the environment they set.
func TestStartMotoRunsADistributedMap(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	m := StartMoto(t)
	if got := os.Getenv("AWS_REGION"); got != local.DefaultRegion {
		t.Fatalf("AWS_REGION = %q, want %q", got, local.DefaultRegion)
	}
	if err := WaitHTTP(m.URL+"/moto-api/", time.Second); err != nil {
		t.Fatalf("WaitHTTP of the running server: %v", err)
	}
	client := m.SFN(local.DefaultRegion)
	st := StartDistributedMap(t, client, DistributedMap{Name: "wrappers", Items: 2, MaxConcurrency: 2})
	if len(st.MapRunARNs) != 1 || st.ExecutionARN == "" || st.StartDate.IsZero() {
		t.Fatalf("StartDistributedMap = %+v, want one map run and a started execution", st)
	}
	if s := WaitExecution(t, client, st.ExecutionARN, 20*time.Second); s != "SUCCEEDED" {
		t.Fatalf("execution ended %s, want SUCCEEDED", s)
	}
}
