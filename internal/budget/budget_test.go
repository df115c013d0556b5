package budget

import (
	"errors"
	"maps"
	"math"
	"sync"
	"testing"
	"time"
)

func TestNewLimits(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want map[API]int
	}{
		{
			name: "defaults in a large region",
			cfg:  Config{Region: "us-east-1"},
			want: map[API]int{
				DescribeMapRun: 30, UpdateMapRun: 30, ListMapRuns: 30, ListTagsForResource: 30,
				// Half a minute of refill, but never more than half the bucket.
				ListExecutions: 100, DescribeExecution: 150, DescribeStateMachine: 100,
				GetExecutionHistory: 200, GetMetricData: 25, GetFunctionConcurrency: 7,
			},
		},
		{
			name: "small region lowers list and describe execution",
			cfg:  Config{Region: "eu-central-1", Fraction: 1, Period: time.Minute},
			want: map[API]int{ListExecutions: 100, DescribeExecution: 250, DescribeMapRun: 60},
		},
		{
			name: "empty region gets the small quotas",
			cfg:  Config{Period: 10 * time.Second, Fraction: 1},
			want: map[API]int{ListExecutions: 20, DescribeExecution: 100},
		},
		{
			name: "floor and at least one",
			cfg:  Config{Region: "us-west-2", Fraction: 0.1, Period: 5 * time.Second},
			want: map[API]int{DescribeMapRun: 1, ListExecutions: 2, GetExecutionHistory: 10},
		},
		{
			name: "a long tick still takes no more than the bucket",
			cfg:  Config{Region: "us-east-1", Period: 15 * time.Minute},
			want: map[API]int{DescribeMapRun: 100, UpdateMapRun: 50, ListExecutions: 100},
		},
		{
			name: "overrides replace the refill",
			cfg:  Config{Region: "eu-west-1", Period: time.Minute, Overrides: map[API]float64{DescribeMapRun: 10, ListExecutions: 0.01}},
			want: map[API]int{DescribeMapRun: 300, ListExecutions: 1, UpdateMapRun: 30},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			for api, want := range tt.want {
				if got := b.Remaining(api); got != want {
					t.Errorf("Remaining(%s) = %d, want %d", api, got, want)
				}
			}
		})
	}
}

func TestNewInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"fraction above one", Config{Fraction: 1.5}},
		{"negative fraction", Config{Fraction: -0.1}},
		{"nan fraction", Config{Fraction: math.NaN()}},
		{"negative period", Config{Period: -time.Second}},
		{"unknown api", Config{Overrides: map[API]float64{"StartExecution": 5}}},
		{"zero override", Config{Overrides: map[API]float64{DescribeMapRun: 0}}},
		{"infinite override", Config{Overrides: map[API]float64{DescribeMapRun: math.Inf(1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New(%+v) = %v, %v; want error wrapping ErrInvalidConfig", tt.cfg, b, err)
			}
		})
	}
}

func TestTakeUntilSpent(t *testing.T) {
	b, err := New(Config{Region: "us-east-1", Fraction: 0.05, Period: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// DescribeMapRun: floor(0.05 * 1 * 60) = 3.
	for i := range 3 {
		if !b.Take(DescribeMapRun) {
			t.Fatalf("Take #%d = false, want true", i+1)
		}
	}
	if b.Take(DescribeMapRun) {
		t.Fatal("Take after the budget is spent = true, want false")
	}
	if got := b.Remaining(DescribeMapRun); got != 0 {
		t.Errorf("Remaining = %d, want 0", got)
	}
	if !b.Take(UpdateMapRun) {
		t.Error("Take(UpdateMapRun) = false: APIs must not share a budget")
	}
	if b.Take("StartExecution") {
		t.Error("Take of an unknown api = true, want false")
	}
	got := b.Spent()
	want := map[API]int{DescribeMapRun: 3, UpdateMapRun: 1}
	if len(got) != len(want) {
		t.Fatalf("Spent = %v, want %v", got, want)
	}
	for api, n := range want {
		if got[api] != n {
			t.Errorf("Spent[%s] = %d, want %d", api, got[api], n)
		}
	}
	got[DescribeMapRun] = 0
	if b.Spent()[DescribeMapRun] != 3 {
		t.Error("Spent returned the internal map, not a copy")
	}
}

func TestNilBudgetIsUnlimited(t *testing.T) {
	var b *Budget
	for range 1000 {
		if !b.Take(UpdateMapRun) {
			t.Fatal("nil Budget Take = false, want true")
		}
	}
	if b.Remaining(UpdateMapRun) != math.MaxInt {
		t.Error("nil Budget Remaining is not unlimited")
	}
	if len(b.Spent()) != 0 {
		t.Error("nil Budget Spent is not empty")
	}
}

func TestTakeConcurrent(t *testing.T) {
	b, err := New(Config{Region: "us-east-1", Period: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	limit := b.Remaining(GetMetricData)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		taken int
	)
	for range 8 {
		wg.Go(func() {
			n := 0
			for b.Take(GetMetricData) {
				n++
			}
			mu.Lock()
			taken += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if taken != limit {
		t.Errorf("goroutines took %d calls, want exactly %d", taken, limit)
	}
}

func TestShare(t *testing.T) {
	b, err := New(Config{Region: "us-east-1"}) // ListExecutions 100, GetExecutionHistory 200
	if err != nil {
		t.Fatal(err)
	}
	s := b.Share(map[API]float64{ListExecutions: 0.5})
	if got := s.Remaining(ListExecutions); got != 50 {
		t.Fatalf("share of ListExecutions = %d, want 50", got)
	}
	if got := s.Remaining(GetExecutionHistory); got != 200 {
		t.Fatalf("share of an API it does not cap = %d, want all 200", got)
	}
	n := 0
	for s.Take(ListExecutions) {
		n++
	}
	if n != 50 {
		t.Fatalf("share took %d ListExecutions, want 50", n)
	}
	if got := b.Remaining(ListExecutions); got != 50 {
		t.Fatalf("parent left with %d ListExecutions, want the other 50", got)
	}
	for range 190 {
		if !s.Take(GetExecutionHistory) {
			t.Fatal("share could not spend an uncapped API its parent has")
		}
	}
	for range 10 {
		b.Take(GetExecutionHistory)
	}
	if s.Take(GetExecutionHistory) || s.Remaining(GetExecutionHistory) != 0 {
		t.Fatal("share spent beyond its parent")
	}
	if got, want := b.Spent(), (map[API]int{ListExecutions: 50, GetExecutionHistory: 200}); !maps.Equal(got, want) {
		t.Errorf("parent spent %v, want %v (the share's calls included)", got, want)
	}
	if got, want := s.Spent(), (map[API]int{ListExecutions: 50, GetExecutionHistory: 190}); !maps.Equal(got, want) {
		t.Errorf("share spent %v, want %v", got, want)
	}
	small, _ := New(Config{Period: time.Second, Fraction: 0.1}) // one call of each
	if got := small.Share(map[API]float64{ListTagsForResource: 0.5}).Remaining(ListTagsForResource); got != 1 {
		t.Errorf("share of a single call = %d, want 1", got)
	}
	nested := b.Share(map[API]float64{DescribeMapRun: 0.5}).Share(map[API]float64{DescribeExecution: 0.5})
	if got := nested.Remaining(DescribeExecution); got != 75 {
		t.Errorf("share of a share = %d DescribeExecution, want half of the 150", got)
	}
	var unlimited *Budget
	if unlimited.Share(map[API]float64{ListExecutions: 0.5}) != nil {
		t.Error("share of a nil budget is not nil (unlimited)")
	}
}
