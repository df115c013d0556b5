package testenv

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDistributedMapDefinition(t *testing.T) {
	tests := []struct {
		name    string
		d       DistributedMap
		want    []string
		wantErr string
	}{
		{
			name: "percentage as a float literal",
			d:    DistributedMap{Name: "a", Items: 3, WaitSeconds: 2, MaxConcurrency: 4, ToleratedFailurePercentage: 5},
			want: []string{`"ToleratedFailurePercentage":5.0`, `"MaxConcurrency":4`, `"Seconds":2`, `"Mode":"DISTRIBUTED"`, `"ItemsPath":"$.items"`, `"Map1"`},
		},
		{
			name: "fractional percentage and count",
			d:    DistributedMap{Name: "a", Items: 1, Maps: 3, ToleratedFailurePercentage: 12.5, ToleratedFailureCount: 9},
			want: []string{`"ToleratedFailurePercentage":12.5`, `"ToleratedFailureCount":9`, `"Map3"`},
		},
		{name: "negative maps", d: DistributedMap{Maps: -1}, wantErr: "maps -1"},
		{name: "negative wait", d: DistributedMap{WaitSeconds: -1}, wantErr: "wait seconds -1"},
		{name: "percentage above 100", d: DistributedMap{ToleratedFailurePercentage: 101}, wantErr: "percentage 101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, err := tt.d.Definition()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Definition error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid([]byte(def)) {
				t.Fatalf("definition is not JSON: %s", def)
			}
			for _, w := range tt.want {
				if !strings.Contains(def, w) {
					t.Errorf("definition %s lacks %s", def, w)
				}
			}
		})
	}
}
