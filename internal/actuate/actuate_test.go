package actuate

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/maprun"
)

const runARN = "arn:aws:states:us-east-1:123456789012:mapRun:orders/Fan:5b1f"

// fakeUpdate records UpdateMapRun requests and answers with err.
type fakeUpdate struct {
	err  error
	reqs []*sfn.UpdateMapRunInput
}

var _ UpdateAPI = (*fakeUpdate)(nil)

func (f *fakeUpdate) UpdateMapRun(_ context.Context, in *sfn.UpdateMapRunInput, _ ...func(*sfn.Options)) (*sfn.UpdateMapRunOutput, error) {
	f.reqs = append(f.reqs, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sfn.UpdateMapRunOutput{}, nil
}

func newBudget(t *testing.T) *budget.Budget {
	t.Helper()
	b, err := budget.New(budget.Config{Region: "us-east-1", Period: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sent is the fields of one request, nil for fields not sent.
type sent struct {
	concurrency *int32
	percent     *float32
	count       *int64
}

func (s sent) equal(in *sfn.UpdateMapRunInput) bool {
	eq := func(a, b any) bool {
		switch a := a.(type) {
		case *int32:
			b := b.(*int32)
			return (a == nil) == (b == nil) && (a == nil || *a == *b)
		case *float32:
			b := b.(*float32)
			return (a == nil) == (b == nil) && (a == nil || *a == *b)
		case *int64:
			b := b.(*int64)
			return (a == nil) == (b == nil) && (a == nil || *a == *b)
		}
		return false
	}
	return aws.ToString(in.MapRunArn) == runARN && eq(s.concurrency, in.MaxConcurrency) &&
		eq(s.percent, in.ToleratedFailurePercentage) && eq(s.count, in.ToleratedFailureCount)
}

func TestApply(t *testing.T) {
	base := maprun.Settings{MaxConcurrency: 100, ToleratedFailurePercentage: 5, ToleratedFailureCount: 10}
	with := func(f func(*maprun.Settings)) maprun.Settings {
		s := base
		f(&s)
		return s
	}
	tests := []struct {
		name    string
		u       Update
		want    *sent // nil: no call
		wantErr error
		errText string
	}{
		{name: "nothing changed", u: Update{MapRunARN: runARN, Old: base, New: base}},
		{
			name: "only concurrency", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.MaxConcurrency = 70 })},
			want: &sent{concurrency: aws.Int32(70)},
		},
		{
			name: "only percentage", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.ToleratedFailurePercentage = 33.3 })},
			want: &sent{percent: aws.Float32(33.3)},
		},
		{
			name: "only count, to zero", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.ToleratedFailureCount = 0 })},
			want: &sent{count: aws.Int64(0)},
		},
		{
			name: "all three", u: Update{MapRunARN: runARN, Old: base, New: maprun.Settings{MaxConcurrency: 10000, ToleratedFailurePercentage: 0, ToleratedFailureCount: 1}},
			want: &sent{concurrency: aws.Int32(10000), percent: aws.Float32(0), count: aws.Int64(1)},
		},
		{
			name: "percentage equal at wire precision", u: Update{MapRunARN: runARN,
				Old: with(func(s *maprun.Settings) { s.ToleratedFailurePercentage = float64(float32(33.3)) }),
				New: with(func(s *maprun.Settings) { s.ToleratedFailurePercentage = 33.3 })},
		},
		{
			name: "unlimited allowed", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.MaxConcurrency = 0 }), AllowUnlimited: true},
			want: &sent{concurrency: aws.Int32(0)},
		},
		{
			name: "unlimited refused", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.MaxConcurrency = 0 })},
			wantErr: ErrUnsafe, errText: "max concurrency 0",
		},
		{
			name: "already unlimited, tolerance change is fine",
			u: Update{MapRunARN: runARN, Old: with(func(s *maprun.Settings) { s.MaxConcurrency = 0 }),
				New: maprun.Settings{MaxConcurrency: 0, ToleratedFailurePercentage: 5, ToleratedFailureCount: 20}},
			want: &sent{count: aws.Int64(20)},
		},
		{name: "concurrency too high", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.MaxConcurrency = 10001 })}, wantErr: ErrInvalid, errText: "10001"},
		{name: "concurrency negative", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.MaxConcurrency = -1 })}, wantErr: ErrInvalid, errText: "-1"},
		{name: "percentage above 100", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.ToleratedFailurePercentage = 100.5 })}, wantErr: ErrInvalid, errText: "100.5"},
		{name: "percentage negative", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.ToleratedFailurePercentage = -1 })}, wantErr: ErrInvalid, errText: "percentage"},
		{name: "percentage NaN", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.ToleratedFailurePercentage = math.NaN() })}, wantErr: ErrInvalid, errText: "NaN"},
		{name: "count negative", u: Update{MapRunARN: runARN, Old: base, New: with(func(s *maprun.Settings) { s.ToleratedFailureCount = -3 })}, wantErr: ErrInvalid, errText: "-3"},
		{name: "malformed arn", u: Update{MapRunARN: "arn:aws:states:us-east-1:1:execution:a:b", Old: base, New: with(func(s *maprun.Settings) { s.MaxConcurrency = 5 })}, wantErr: maprun.ErrInvalidARN, errText: "execution:a:b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeUpdate{}
			sent, err := (&Applier{SFN: f, Budget: newBudget(t)}).Apply(context.Background(), tt.u)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("Apply error = %v, want %v naming %q", err, tt.wantErr, tt.errText)
				}
				if len(f.reqs) != 0 {
					t.Fatalf("Apply made %d calls for a refused update", len(f.reqs))
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if sent != (tt.want != nil) {
				t.Fatalf("Apply reported sent=%v with %d calls", sent, len(f.reqs))
			}
			if tt.want == nil {
				if len(f.reqs) != 0 {
					t.Fatalf("Apply made %d calls, want none", len(f.reqs))
				}
				return
			}
			if len(f.reqs) != 1 || !tt.want.equal(f.reqs[0]) {
				t.Fatalf("Apply sent %+v, want %+v", f.reqs, *tt.want)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr error
		notErr  error
	}{
		{"run gone", &types.ResourceNotFound{Message: aws.String("Resource not found")}, ErrRunEnded, nil},
		{"run completed", &types.ValidationException{Message: aws.String("Map Run is completed"), Reason: types.ValidationExceptionReasonCannotUpdateCompletedMapRun}, ErrRunEnded, nil},
		{"other validation", &types.ValidationException{Message: aws.String("missing"), Reason: types.ValidationExceptionReasonMissingRequiredParameter}, nil, ErrRunEnded},
		{"invalid arn", &types.InvalidArn{Message: aws.String("Invalid Arn")}, ErrInvalid, ErrRunEnded},
		{"transport error", errors.New("connection reset"), nil, ErrRunEnded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeUpdate{err: tt.err}
			_, err := (&Applier{SFN: f, Budget: newBudget(t)}).Apply(context.Background(), Update{
				MapRunARN: runARN, Old: maprun.Settings{MaxConcurrency: 10}, New: maprun.Settings{MaxConcurrency: 20},
			})
			if err == nil || !errors.Is(err, tt.err) || !strings.Contains(err.Error(), runARN) {
				t.Fatalf("Apply error = %v, want one wrapping %v and naming the run", err, tt.err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Apply error = %v, want it to wrap %v", err, tt.wantErr)
			}
			if tt.notErr != nil && errors.Is(err, tt.notErr) {
				t.Errorf("Apply error = %v wraps %v", err, tt.notErr)
			}
		})
	}
}

func TestApplyBudget(t *testing.T) {
	b, err := budget.New(budget.Config{Fraction: 1, Period: time.Second, Overrides: map[budget.API]float64{budget.UpdateMapRun: 2}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUpdate{}
	a := &Applier{SFN: f, Budget: b}
	u := Update{MapRunARN: runARN, Old: maprun.Settings{MaxConcurrency: 10}, New: maprun.Settings{MaxConcurrency: 20}}
	for i := range 2 {
		if _, err := a.Apply(context.Background(), u); err != nil {
			t.Fatalf("Apply #%d: %v", i+1, err)
		}
	}
	if _, err := a.Apply(context.Background(), u); !errors.Is(err, budget.ErrExhausted) {
		t.Fatalf("third Apply error = %v, want budget.ErrExhausted", err)
	}
	if sent, err := a.Apply(context.Background(), Update{MapRunARN: runARN, Old: u.Old, New: u.Old}); err != nil || sent {
		t.Errorf("no-op Apply with a spent budget = %v, want nil", err)
	}
	if len(f.reqs) != 2 {
		t.Errorf("UpdateMapRun calls = %d, want 2", len(f.reqs))
	}
}
