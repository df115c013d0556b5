package control

import (
	"testing"
	"time"
)

func TestThinTicks(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) Tick { return Tick{At: t0.Add(d), Done: int64(d / time.Second)} }
	every := func(from, to, step time.Duration) []Tick {
		var out []Tick
		for d := from; d < to; d += step {
			out = append(out, at(d))
		}
		return out
	}
	now := t0.Add(time.Hour)
	tests := []struct {
		name  string
		ticks []Tick
		want  []time.Duration // the instants kept, after t0
	}{
		{"none", nil, nil},
		{"all recent", every(56*time.Minute, 60*time.Minute, 20*time.Second), nil},
		{"one a minute already", every(0, 60*time.Minute, time.Minute), nil},
		{"looks every 10 s", every(50*time.Minute, 60*time.Minute, 10*time.Second), []time.Duration{
			50 * time.Minute, 51 * time.Minute, 52 * time.Minute, 53 * time.Minute, 54 * time.Minute}},
		{"irregular", []Tick{at(0), at(50 * time.Second), at(70 * time.Second), at(90 * time.Second), at(150 * time.Second)},
			[]time.Duration{0, 70 * time.Second, 150 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := thinTicks(tt.ticks, now)
			var want []Tick
			if tt.want == nil {
				want = tt.ticks
			} else {
				for _, d := range tt.want {
					want = append(want, at(d))
				}
				// Every tick of the last five minutes is kept.
				for _, tk := range tt.ticks {
					if !tk.At.Before(now.Add(-fineTicks)) {
						want = append(want, tk)
					}
				}
			}
			if len(got) != len(want) {
				t.Fatalf("kept %d ticks %v, want %d %v", len(got), got, len(want), want)
			}
			for i := range got {
				if !got[i].At.Equal(want[i].At) || got[i].Done != want[i].Done {
					t.Fatalf("tick %d: %+v, want %+v", i, got[i], want[i])
				}
			}
			for i := 1; i < len(got); i++ {
				if got[i].At.Before(now.Add(-fineTicks)) && got[i].At.Sub(got[i-1].At) < time.Minute {
					t.Errorf("ticks %d and %d kept less than a minute apart before the last five minutes", i-1, i)
				}
			}
		})
	}
}
