package bench

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseStrategy(t *testing.T) {
	tests := []struct {
		in      string
		want    Strategy
		wantErr string
	}{
		{in: "tuner", want: Strategy{Name: "tuner"}},
		{in: " aimd ", want: Strategy{Name: "aimd"}},
		{in: "cubic", want: Strategy{Name: "cubic"}},
		{in: "unlimited", want: Strategy{Name: "unlimited"}},
		{in: "follow", want: Strategy{Name: "follow"}},
		{in: "oracle", want: Strategy{Name: "oracle"}},
		{in: "static-1", want: Strategy{Name: "static-1", Static: 1}},
		{in: "static-200", want: Strategy{Name: "static-200", Static: 200}},
		{in: "static-10000", want: Strategy{Name: "static-10000", Static: 10000}},
		{in: "", wantErr: `unknown strategy "": want one of`},
		{in: "Tuner", wantErr: `unknown strategy "Tuner"`},
		{in: "static", wantErr: `unknown strategy "static"`},
		{in: "static-", wantErr: "N of static-N must be a whole number from 1 to 10000"},
		{in: "static-0", wantErr: "from 1 to 10000"},
		{in: "static-10001", wantErr: "from 1 to 10000"},
		{in: "static--5", wantErr: "from 1 to 10000"},
		{in: "static-+5", wantErr: "from 1 to 10000"},
		{in: "static-007", wantErr: "from 1 to 10000"},
		{in: "static-2.5", wantErr: "from 1 to 10000"},
		{in: "static-99999999999", wantErr: "from 1 to 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseStrategy(tt.in)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrUnknownStrategy) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseStrategy(%q) = %v, %v; want an ErrUnknownStrategy containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseStrategy(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseStrategies(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "", want: DefaultStrategies},
		{in: "  ", want: DefaultStrategies},
		{in: "tuner,static-50, oracle", want: []string{"tuner", "static-50", "oracle"}},
		{in: "tuner,aimd,tuner", wantErr: `strategy "tuner" named twice`},
		{in: "tuner,,aimd", wantErr: `unknown strategy ""`},
		{in: "tuner,magic", wantErr: `unknown strategy "magic"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseStrategies(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseStrategies(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("ParseStrategies(%q) = %v, want %v", tt.in, names, tt.want)
			}
		})
	}
}

func TestNewStrategy(t *testing.T) {
	for _, name := range []string{"tuner", "aimd", "cubic", "unlimited", "follow", "static-5"} {
		s, err := ParseStrategy(name)
		if err != nil {
			t.Fatal(err)
		}
		if s.newStrategy() == nil {
			t.Errorf("%s: no simulator strategy", name)
		}
	}
	if (Strategy{Name: StrategyOracle}).newStrategy() != nil {
		t.Error("oracle: want no simulator strategy: it is a grid search")
	}
}

// FuzzParseStrategy checks that any -strategy value gives a strategy or a
// clear error, never a panic, and that a strategy's name parses back to it.
func FuzzParseStrategy(f *testing.F) {
	for _, s := range []string{"tuner", "oracle", "static-200", "static-0", "static-", "aimd ", "static-1e3", "follow,cubic"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseStrategy(in)
		if err != nil {
			if !errors.Is(err, ErrUnknownStrategy) {
				t.Fatalf("ParseStrategy(%q): error %v is not ErrUnknownStrategy", in, err)
			}
			return
		}
		back, err := ParseStrategy(s.Name)
		if err != nil || back != s {
			t.Fatalf("ParseStrategy(%q) = %+v, but its name parses to %+v, %v", in, s, back, err)
		}
		if (s.Static > 0) != strings.HasPrefix(s.Name, StaticPrefix) {
			t.Fatalf("ParseStrategy(%q) = %+v: Static and name disagree", in, s)
		}
	})
}
