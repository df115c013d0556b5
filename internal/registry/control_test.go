package registry

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testControls sets, reads, lists and clears controls: a control that
// holds nothing leaves the listing and expires, the others stay.
func testControls(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	if _, err := f.GetControl(ctx, runARN, SourceOperator); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetControl before any put = %v, want ErrNotFound", err)
	}
	pause := Control{Target: runARN, Source: SourceOperator, Paused: true, By: "arn:aws:iam::123456789012:user/ops", At: t0}
	pinSM := Control{Target: smARN, Source: SourceOperator, Pin: 40, At: t0.Add(time.Minute)}
	tag := Control{Target: smARN, Source: SourceTag, Paused: true, By: "tag maptuner:pause=true", At: t0}
	for _, c := range []Control{pause, pinSM, tag} {
		if err := f.PutControl(ctx, c); err != nil {
			t.Fatalf("PutControl(%+v): %v", c, err)
		}
		got, err := f.GetControl(ctx, c.Target, c.Source)
		if err != nil || got != c {
			t.Fatalf("GetControl = %+v, %v; want %+v", got, err, c)
		}
	}
	pk, sk := controlKey(runARN, SourceOperator)
	if raw := f.raw(t, pk, sk); raw["active"] != kindControl || raw["expiresAt"] != nil {
		t.Errorf("held control stored as %v: want active=%s and no expiry", raw, kindControl)
	}
	got, err := f.Controls(ctx)
	if want := []Control{pause, pinSM, tag}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Controls = %+v, %v; want %+v (by target, then source)", got, err, want)
	}

	// Resume: the control holds nothing, is kept a while, and is not listed.
	resumed := Control{Target: runARN, Source: SourceOperator, By: "ops", At: t0.Add(time.Hour)}
	if err := f.PutControl(ctx, resumed); err != nil {
		t.Fatal(err)
	}
	if got, err := f.GetControl(ctx, runARN, SourceOperator); err != nil || got != resumed || got.Holds() {
		t.Errorf("GetControl after resume = %+v, %v; want %+v", got, err, resumed)
	}
	raw := f.raw(t, pk, sk)
	if raw["active"] != nil {
		t.Errorf("cleared control still in the active index: %v", raw)
	}
	if got, want := expiresAt(t, f, pk, sk), t0.Add(time.Hour+DefaultDecisionTTL).Unix(); got != want {
		t.Errorf("cleared control expiresAt = %d, want %d", got, want)
	}
	got, err = f.Controls(ctx)
	if want := []Control{pinSM, tag}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Controls after resume = %+v, %v; want %+v", got, err, want)
	}
}

func testControlInvalid(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	for name, mod := range map[string]func(*Control){
		"empty target":    func(c *Control) { c.Target = "" },
		"execution arn":   func(c *Control) { c.Target = execARN },
		"bad source":      func(c *Control) { c.Source = "console" },
		"negative pin":    func(c *Control) { c.Pin = -1 },
		"pin above max":   func(c *Control) { c.Pin = MaxPin + 1 },
		"zero instant":    func(c *Control) { c.At = time.Time{} },
		"long author":     func(c *Control) { c.By = strings.Repeat("x", maxControlBy+1) },
		"state machine :": func(c *Control) { c.Target = smARN + ":v1" },
	} {
		c := Control{Target: runARN, Source: SourceOperator, Pin: 5, At: t0}
		mod(&c)
		if err := f.PutControl(ctx, c); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: PutControl = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := f.GetControl(ctx, "orders", SourceOperator); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"orders"`) {
		t.Errorf("GetControl of a name = %v, want ErrInvalid naming it", err)
	}
	if got, err := f.Controls(ctx); err != nil || len(got) != 0 {
		t.Errorf("Controls after refused puts = %+v, %v; want none", got, err)
	}
}

// testAllRuns lists ended runs with the others.
func testAllRuns(t *testing.T, b backend) {
	ctx := context.Background()
	f := b.open(t, Config{})
	arns := []string{runARN + "1", runARN + "2"}
	for _, arn := range arns {
		if _, err := f.PutRun(ctx, Run{ARN: arn, DiscoveredAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.EndRun(ctx, arns[0], "SUCCEEDED", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Other kinds of item are not runs.
	if err := f.AppendDecision(ctx, arns[1], t0, sampleDecision("x")); err != nil {
		t.Fatal(err)
	}
	if err := f.PutControl(ctx, Control{Target: arns[1], Source: SourceOperator, Paused: true, At: t0}); err != nil {
		t.Fatal(err)
	}
	got, err := f.AllRuns(ctx)
	if err != nil || len(got) != 2 || got[0].ARN != arns[0] || !got[0].Ended || got[1].ARN != arns[1] || got[1].Ended {
		t.Fatalf("AllRuns = %+v, %v; want %s ended and %s not", got, err, arns[0], arns[1])
	}
	active, err := f.ActiveRuns(ctx)
	if err != nil || len(active) != 1 || active[0].ARN != arns[1] {
		t.Errorf("ActiveRuns = %+v, %v; want only %s", active, err, arns[1])
	}
}

// FuzzControlItem decodes stored control items, which may have been
// written by hand: decoding fails with an error naming the item, or gives
// a control that stores back as the same item.
func FuzzControlItem(f *testing.F) {
	for _, c := range []Control{
		{Target: runARN, Source: SourceOperator, Paused: true, By: "ops", At: t0},
		{Target: smARN, Source: SourceTag, Pin: 10000, At: t0},
	} {
		it, err := newControlItem(c, DefaultDecisionTTL)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(it.PK, it.SK, it.Kind, it.Target, it.Source, it.Paused, it.Pin, it.At)
	}
	f.Add(pkControl+"x", skControl+"tag", kindControl, "x", "tag", false, int32(-3), "2025-13-01T00:00:00.000000000Z")
	f.Fuzz(func(t *testing.T, pk, sk, kind, target, source string, paused bool, pin int32, at string) {
		it := controlItem{PK: pk, SK: sk, Kind: kind, Target: target, Source: source, Paused: paused, Pin: pin, At: at}
		c, err := it.control()
		if err != nil {
			if !strings.Contains(err.Error(), pk) {
				t.Errorf("error %q does not name the item", err)
			}
			return
		}
		back, err := newControlItem(c, DefaultDecisionTTL)
		if err != nil {
			t.Fatalf("control %+v decoded from %+v does not store again: %v", c, it, err)
		}
		back.Active, back.ExpiresAt = "", 0
		if back != it {
			t.Errorf("item %+v decodes to %+v, which stores as %+v", it, c, back)
		}
	})
}

func TestGoverning(t *testing.T) {
	runPause := Control{Target: runARN, Source: SourceOperator, Paused: true, At: t0}
	runPin := Control{Target: runARN, Source: SourceOperator, Pin: 5, At: t0}
	smPin := Control{Target: smARN, Source: SourceOperator, Pin: 7, At: t0}
	tagPause := Control{Target: smARN, Source: SourceTag, Paused: true, At: t0}
	tagPin := Control{Target: smARN, Source: SourceTag, Pin: 9, At: t0}
	other := Control{Target: smARN + "2", Source: SourceOperator, Paused: true, At: t0}
	cleared := Control{Target: runARN, Source: SourceOperator, At: t0}
	tests := []struct {
		name string
		cs   []Control
		want Control
		ok   bool
	}{
		{"none", nil, Control{}, false},
		{"another state machine", []Control{other, cleared}, Control{}, false},
		{"pause beats pin", []Control{runPin, tagPause}, tagPause, true},
		{"run before state machine", []Control{smPin, runPin}, runPin, true},
		{"operator before tag", []Control{tagPin, smPin}, smPin, true},
		{"run pause first", []Control{tagPause, runPause, smPin}, runPause, true},
	}
	for _, tt := range tests {
		got, ok := Governing(runARN, tt.cs)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: Governing = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
