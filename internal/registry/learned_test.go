package registry

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func sampleLearned(limit int32, at time.Time) Learned {
	return Learned{
		StateMachineARN: smARN, Label: "Fanout", Policy: "lambda-100",
		Limit: limit, ItemTime: 31500 * time.Millisecond, At: at, RunARN: runARN,
	}
}

func mustGetLearned(t *testing.T, f fixture, sm, label, policy string) Learned {
	t.Helper()
	l, err := f.GetLearned(context.Background(), sm, label, policy)
	if err != nil {
		t.Fatalf("GetLearned(%s, %s, %s): %v", sm, label, policy, err)
	}
	return l
}

// testLearned stores, reads, replaces and refuses learned items: only a
// later instant replaces, whatever the limit.
func testLearned(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	if _, err := f.GetLearned(ctx, smARN, "Fanout", "lambda-100"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetLearned before any put = %v, want ErrNotFound", err)
	}
	first := sampleLearned(300, t0)
	steps := []struct {
		name  string
		put   Learned
		wrote bool
		want  Learned
	}{
		{"first", first, true, first},
		{"same instant", sampleLearned(250, t0), false, first},
		{"older", sampleLearned(100, t0.Add(-time.Hour)), false, first},
		{"later and lower", sampleLearned(180, t0.Add(24*time.Hour)), true, sampleLearned(180, t0.Add(24*time.Hour))},
		{"later and higher", sampleLearned(190, t0.Add(48*time.Hour)), true, sampleLearned(190, t0.Add(48*time.Hour))},
	}
	for _, s := range steps {
		wrote, err := f.PutLearned(ctx, s.put)
		if err != nil || wrote != s.wrote {
			t.Fatalf("%s: PutLearned = %v, %v; want %v, nil", s.name, wrote, err, s.wrote)
		}
		if got := mustGetLearned(t, f, smARN, "Fanout", "lambda-100"); got != s.want {
			t.Fatalf("%s: GetLearned = %+v, want %+v", s.name, got, s.want)
		}
	}
	pk, sk := learnedKey(smARN, "Fanout", "lambda-100")
	if got, want := expiresAt(t, f, pk, sk), t0.Add(48*time.Hour+DefaultLearnedTTL).Unix(); got != want {
		t.Errorf("expiresAt = %d, want %d (LearnedTTL after the instant learned)", got, want)
	}
	// Another label, policy or state machine is another job.
	for _, other := range []Learned{
		{StateMachineARN: smARN, Label: "Other", Policy: "lambda-100", Limit: 7, At: t0},
		{StateMachineARN: smARN, Label: "Fanout", Policy: "other", Limit: 8, At: t0},
		{StateMachineARN: smARN + "2", Label: "Fanout", Policy: "lambda-100", Limit: 9, At: t0},
	} {
		if wrote, err := f.PutLearned(ctx, other); err != nil || !wrote {
			t.Fatalf("PutLearned(%+v) = %v, %v; want true, nil", other, wrote, err)
		}
		if got := mustGetLearned(t, f, other.StateMachineARN, other.Label, other.Policy); got != other {
			t.Errorf("GetLearned = %+v, want %+v", got, other)
		}
	}
	if got := mustGetLearned(t, f, smARN, "Fanout", "lambda-100"); got.Limit != 190 {
		t.Errorf("the other jobs changed this one: limit %d, want 190", got.Limit)
	}
}

func testLearnedInvalid(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	long := strings.Repeat("x", maxLearnedString+1)
	for name, mod := range map[string]func(*Learned){
		"state machine": func(l *Learned) { l.StateMachineARN = "" },
		"label":         func(l *Learned) { l.Label = "" },
		"policy":        func(l *Learned) { l.Policy = "" },
		"long label":    func(l *Learned) { l.Label = long },
		"long run arn":  func(l *Learned) { l.RunARN = long },
		"limit 0":       func(l *Learned) { l.Limit = 0 },
		"limit 10001":   func(l *Learned) { l.Limit = 10001 },
		"item time":     func(l *Learned) { l.ItemTime = -time.Second },
		"zero instant":  func(l *Learned) { l.At = time.Time{} },
		"before 1970":   func(l *Learned) { l.At = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		l := sampleLearned(100, t0)
		mod(&l)
		if wrote, err := f.PutLearned(ctx, l); !errors.Is(err, ErrInvalid) || wrote {
			t.Errorf("%s: PutLearned = %v, %v; want ErrInvalid", name, wrote, err)
		}
	}
	if _, err := f.GetLearned(ctx, smARN, "", "p"); !errors.Is(err, ErrInvalid) {
		t.Errorf("GetLearned without a label = %v, want ErrInvalid", err)
	}
}

// testLearnedRace has runs that learned at different instants write at
// once: the latest instant is what stays, whatever the order of the writes.
func testLearnedRace(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.PutLearned(ctx, sampleLearned(int32(100+i), t0.Add(time.Duration(i)*time.Minute))); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("PutLearned: %v", err)
	}
	if got := mustGetLearned(t, f, smARN, "Fanout", "lambda-100"); got.Limit != 100+writers-1 || !got.At.Equal(t0.Add((writers-1)*time.Minute)) {
		t.Errorf("after the race: %+v, want the latest, limit %d", got, 100+writers-1)
	}
}

// TestLearnedCorrupt reads a learned item whose limit is out of range.
func TestLearnedCorrupt(t *testing.T) {
	client := startDynamo(t)
	ctx := context.Background()
	if err := CreateTable(ctx, client, "learned"); err != nil {
		t.Fatal(err)
	}
	d, err := NewDynamoDB(client, Config{Table: "learned"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutLearned(ctx, sampleLearned(100, t0)); err != nil {
		t.Fatal(err)
	}
	pk, sk := learnedKey(smARN, "Fanout", "lambda-100")
	if _, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String("learned"),
		Key:                       key(pk, sk),
		UpdateExpression:          aws.String("SET #l = :l"),
		ExpressionAttributeNames:  map[string]string{"#l": "limit"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": &types.AttributeValueMemberN{Value: "0"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetLearned(ctx, smARN, "Fanout", "lambda-100"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), pk) {
		t.Errorf("GetLearned of a corrupt item = %v, want ErrCorrupt naming %s", err, pk)
	}
}
