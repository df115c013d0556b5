package registry

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/maptuner/maptuner/internal/lab/testenv"
)

// answerLoser is an HTTP transport that delivers every request and, while
// armed, loses the answer to the first request of one DynamoDB operation:
// DynamoDB applied it, but reading the response fails as when the
// connection closes under the client. The SDK then sends the request
// again, and that attempt meets the item the first one wrote.
type answerLoser struct {
	mu    sync.Mutex
	op    string // the operation whose answer to lose, e.g. "PutItem"; empty when disarmed
	sends int    // requests of op delivered since armed
}

// arm makes the loser lose the answer to the next request of op.
func (l *answerLoser) arm(op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.op, l.sends = op, 0
}

// sent returns how many requests of the armed operation were delivered.
func (l *answerLoser) sent() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sends
}

func (l *answerLoser) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.op == "" || !strings.HasSuffix(req.Header.Get("X-Amz-Target"), "."+l.op) {
		return resp, nil
	}
	l.sends++
	if l.sends == 1 {
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(closedConn{})
	}
	return resp, nil
}

// closedConn reads as a connection closed under the reader.
type closedConn struct{}

func (closedConn) Read([]byte) (int, error) {
	return 0, &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}
}

// TestLostAnswer checks every conditional write that cannot apply twice
// against a real moto_server through the SDK's own retries: the first
// answer is lost after the write applied, the SDK sends it again, and the
// write must still report what it did (not a conflict, not "unchanged"),
// and must not apply twice.
func TestLostAnswer(t *testing.T) {
	moto := testenv.StartMoto(t)
	loser := &answerLoser{}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load aws config: %v", err)
	}
	client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(moto.URL)
		o.HTTPClient = &http.Client{Transport: loser}
	})
	ctx := context.Background()
	claimed := func(t *testing.T, d *DynamoDB) Run {
		t.Helper()
		if _, err := d.PutRun(ctx, sampleRun(runARN)); err != nil {
			t.Fatal(err)
		}
		r, err := d.Claim(ctx, runARN, "tuner-1", t0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		name string
		op   string
		// write sets up what it needs, then, armed, makes the write; it
		// fails the test on a wrong answer.
		write func(t *testing.T, d *DynamoDB, arm func())
		// check reads what was stored after the write.
		check func(t *testing.T, d *DynamoDB)
	}{
		{"PutExecution", "PutItem", func(t *testing.T, d *DynamoDB, arm func()) {
			arm()
			if changed, err := d.PutExecution(ctx, execution(StatusRunning, time.Time{})); !changed || err != nil {
				t.Errorf("PutExecution = %v, %v; want true, nil", changed, err)
			}
		}, nil},
		{"PutRun", "PutItem", func(t *testing.T, d *DynamoDB, arm func()) {
			arm()
			if created, err := d.PutRun(ctx, sampleRun(runARN)); !created || err != nil {
				t.Errorf("PutRun = %v, %v; want true, nil", created, err)
			}
		}, nil},
		{"Save", "UpdateItem", func(t *testing.T, d *DynamoDB, arm func()) {
			r := claimed(t, d)
			arm()
			if err := d.Save(ctx, r, "tuner-1", t0.Add(time.Second)); err != nil {
				t.Errorf("Save: %v", err)
			}
		}, func(t *testing.T, d *DynamoDB) {
			if r, err := d.GetRun(ctx, runARN); err != nil || r.Version != 1 || r.LeaseOwner != "" {
				t.Errorf("after Save: version %d, lease %q, %v; want version 1 (applied once), no lease", r.Version, r.LeaseOwner, err)
			}
		}},
		{"Hold", "UpdateItem", func(t *testing.T, d *DynamoDB, arm func()) {
			r := claimed(t, d)
			arm()
			if held, err := d.Hold(ctx, r, "tuner-1", t0.Add(time.Second), time.Minute); err != nil || held.Version != 1 {
				t.Errorf("Hold = version %d, %v; want version 1, nil", held.Version, err)
			}
		}, func(t *testing.T, d *DynamoDB) {
			if r, err := d.GetRun(ctx, runARN); err != nil || r.Version != 1 || r.LeaseOwner != "tuner-1" {
				t.Errorf("after Hold: version %d, lease %q, %v; want version 1 (applied once), held by tuner-1", r.Version, r.LeaseOwner, err)
			}
		}},
		{"AppendDecision", "PutItem", func(t *testing.T, d *DynamoDB, arm func()) {
			arm()
			if err := d.AppendDecision(ctx, runARN, t0, sampleDecision("lost answer")); err != nil {
				t.Errorf("AppendDecision: %v", err)
			}
		}, func(t *testing.T, d *DynamoDB) {
			if got, err := d.Decisions(ctx, runARN, 0); err != nil || len(got) != 1 {
				t.Errorf("Decisions = %d, %v; want the one decision, logged once", len(got), err)
			}
		}},
		{"PutLearned", "PutItem", func(t *testing.T, d *DynamoDB, arm func()) {
			arm()
			if wrote, err := d.PutLearned(ctx, sampleLearned(120, t0)); !wrote || err != nil {
				t.Errorf("PutLearned = %v, %v; want true, nil", wrote, err)
			}
		}, nil},
		{"Redrive", "UpdateItem", func(t *testing.T, d *DynamoDB, arm func()) {
			claimed(t, d)
			if err := d.EndRun(ctx, runARN, "FAILED", t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			arm()
			if reopened, err := d.Redrive(ctx, runARN, 1, t0.Add(2*time.Minute)); !reopened || err != nil {
				t.Errorf("Redrive = %v, %v; want true, nil", reopened, err)
			}
		}, func(t *testing.T, d *DynamoDB) {
			if r, err := d.GetRun(ctx, runARN); err != nil || r.Ended {
				t.Errorf("after Redrive: ended %v, %v; want the run open", r.Ended, err)
			}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loser.arm("")
			table := fmt.Sprintf("lost-answer-%d", i)
			if err := CreateTable(ctx, client, table); err != nil {
				t.Fatalf("CreateTable: %v", err)
			}
			d, err := NewDynamoDB(client, Config{Table: table})
			if err != nil {
				t.Fatal(err)
			}
			c.write(t, d, func() { loser.arm(c.op) })
			// Without a second request the test proved nothing. More than
			// two is possible: a loaded machine may lose an answer too.
			if n := loser.sent(); n < 2 {
				t.Fatalf("%s was sent %d times; want 2 or more: the first answer lost, the SDK sending again", c.op, n)
			}
			loser.arm("")
			if c.check != nil {
				c.check(t, d)
			}
		})
	}
}
