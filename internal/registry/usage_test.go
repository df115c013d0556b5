package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/maptuner/maptuner/internal/control"
)

// TestUsage: the meter bills a run's writes by the item's size, and its
// index entry only when the entry changes.
func TestUsage(t *testing.T) {
	ctx := context.Background()
	m, err := NewMemory(Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := sampleRun(runARN)
	for i := range 60 {
		r.State.Ticks = append(r.State.Ticks, control.Tick{At: t0.Add(time.Duration(i) * time.Minute), Running: 40, Done: int64(i) * 40})
	}
	if _, err := m.PutRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	put := m.Usage()
	// The state is over 4 KB: 5 WRU or more, and a new index entry of 1.
	if put.Writes != 1 || put.Conditional != 1 || put.WRU < 5 || put.IndexWRU != 1 || put.KindWRU[kindRun] != put.WRU+1 {
		t.Fatalf("PutRun billed %+v, want one conditional write of 5 WRU or more and 1 for the index", put)
	}
	stored, err := m.GetRun(ctx, runARN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Record(ctx, stored, "a", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rec := m.Usage().Sub(put)
	// The version moved: the index entry is written again, at 1 WRU.
	if rec.Writes != 1 || rec.WRU != put.WRU || rec.IndexWRU != 1 || rec.Reads != 1 || rec.RRU != 2 {
		t.Errorf("GetRun and Record billed %+v, want a read of 2 RRU, then %d WRU and 1 for the index", rec, put.WRU)
	}
	before := m.Usage()
	if _, err := m.Record(ctx, stored, "a", t0.Add(time.Hour)); !errors.Is(err, ErrConflict) {
		t.Fatalf("Record of an old version: %v, want ErrConflict", err)
	}
	if failed := m.Usage().Sub(before); failed.Failed != 1 || failed.WRU != put.WRU || failed.IndexWRU != 0 {
		t.Errorf("a failed Record billed %+v, want the item's %d WRU and no index", failed, put.WRU)
	}
	before = m.Usage()
	if _, err := m.ActiveRunHeads(ctx); err != nil {
		t.Fatal(err)
	}
	// One query a key: the shards and the key of unsharded runs.
	if q := m.Usage().Sub(before); q.Queries != RunShards+1 || q.RRU != 0.5*(RunShards+1) {
		t.Errorf("listing one run billed %+v, want %d queries of 0.5 RRU (the index entry is small)", q, RunShards+1)
	}
}
