package sim

import (
	"context"
	"testing"
	"time"
)

func TestSmoke2(t *testing.T) {
	for _, f := range []string{"congestion-collapse", "fixed-rate"} {
		sc, err := LoadScenario("../../scenarios/" + f + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		best, _ := OracleStatic(context.Background(), sc, 1, GeometricGrid(60, 300, 1.1), time.Minute)
		for _, g := range best.Grid {
			t.Logf("%s %+v", f, g)
		}
	}
}
