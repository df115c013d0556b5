package registry

import (
	"maps"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Usage is what the calls made to a Memory would have consumed of the
// DynamoDB table the package doc lays out, in the units DynamoDB bills on
// demand: a write costs one write request unit (WRU) per KB of the item,
// the larger of its sizes before and after, rounded up, plus as much
// again for the index entry it puts or deletes; a strongly consistent read
// one read request unit (RRU) per 4 KB; a query of the index half an RRU per
// 4 KB of the entries it returns. A write whose condition fails is billed
// as a write of the item as it is. The zero value is no use.
type Usage struct {
	// Writes counts the item writes, Conditional those with a condition,
	// Failed those whose condition failed (nothing written).
	Writes, Conditional, Failed int
	// WriteBytes is the sum of the item sizes billed for the writes, in
	// bytes, without the index.
	WriteBytes int64
	// WRU are the write request units of the table, IndexWRU those of the
	// index.
	WRU, IndexWRU int64
	// KindWRU are the write request units, table and index, by kind of
	// item written (run, decision, execution, ...).
	KindWRU map[string]int64
	// Reads counts the item reads (GetItem) and Queries the listings.
	Reads, Queries int
	// RRU are the read request units of the reads and queries.
	RRU float64
}

// Sub returns u less v: the usage between two readings.
func (u Usage) Sub(v Usage) Usage {
	d := Usage{
		Writes: u.Writes - v.Writes, Conditional: u.Conditional - v.Conditional, Failed: u.Failed - v.Failed,
		WriteBytes: u.WriteBytes - v.WriteBytes, WRU: u.WRU - v.WRU, IndexWRU: u.IndexWRU - v.IndexWRU,
		Reads: u.Reads - v.Reads, Queries: u.Queries - v.Queries, RRU: u.RRU - v.RRU,
		KindWRU: map[string]int64{},
	}
	for k, n := range u.KindWRU {
		if n -= v.KindWRU[k]; n != 0 {
			d.KindWRU[k] = n
		}
	}
	return d
}

// Usage returns what the calls so far would have consumed of the table.
func (m *Memory) Usage() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.use
	u.KindWRU = maps.Clone(u.KindWRU)
	return u
}

// stored is the attributes of an item as DynamoDB stores them; nil for no item.
func stored(it any) map[string]types.AttributeValue {
	if it == nil {
		return nil
	}
	// The item types hold strings, numbers and booleans: they marshal.
	av, _ := attributevalue.MarshalMap(it)
	return av
}

// itemSize is the size DynamoDB bills an item by: the lengths of its
// attribute names and values.
func itemSize(item map[string]types.AttributeValue) int64 {
	var n int64
	for name, v := range item {
		n += int64(len(name))
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += int64(len(v.Value))
		case *types.AttributeValueMemberN:
			n += int64(len(v.Value)+1)/2 + 1
		case *types.AttributeValueMemberB:
			n += int64(len(v.Value))
		default:
			n++
		}
	}
	return n
}

// units is size in units of unit bytes, rounded up, at least 1.
func units(size, unit int64) int64 { return max(1, (size+unit-1)/unit) }

// indexEntry is the entry of item in the active index: the attributes it
// projects; nil when the item is not in the index.
func indexEntry(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	if _, ok := item["active"]; !ok {
		return nil
	}
	out := map[string]types.AttributeValue{}
	for _, k := range append([]string{"pk", "sk", "active"}, IndexAttributes...) {
		if v, ok := item[k]; ok {
			out[k] = v
		}
	}
	return out
}

// sameEntry reports whether two index entries are equal: rewriting one
// costs nothing.
func sameEntry(a, b map[string]types.AttributeValue) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !equalValue(v, w) {
			return false
		}
	}
	return true
}

func equalValue(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberN:
		b, ok := b.(*types.AttributeValueMemberN)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberBOOL:
		b, ok := b.(*types.AttributeValueMemberBOOL)
		return ok && a.Value == b.Value
	}
	return false
}

// write counts a write that replaced the item old by new (nil when absent;
// new nil and conditional for a failed condition). Called with m.mu held.
func (m *Memory) write(old, new any, conditional bool) {
	o, n := stored(old), stored(new)
	u := &m.use
	wru, index := u.WRU, u.IndexWRU
	defer func() {
		if u.KindWRU == nil {
			u.KindWRU = map[string]int64{}
		}
		u.KindWRU[kindOf(o, n)] += u.WRU - wru + u.IndexWRU - index
	}()
	u.Writes++
	if conditional {
		u.Conditional++
	}
	if new == nil {
		u.Failed++
		size := itemSize(o)
		u.WriteBytes += size
		u.WRU += units(size, 1024)
		return
	}
	size := max(itemSize(o), itemSize(n))
	u.WriteBytes += size
	u.WRU += units(size, 1024)
	oe, ne := indexEntry(o), indexEntry(n)
	switch {
	case oe == nil && ne == nil, sameEntry(oe, ne):
	case oe == nil:
		u.IndexWRU += units(itemSize(ne), 1024)
	case ne == nil:
		u.IndexWRU += units(itemSize(oe), 1024)
	case !equalValue(oe["active"], ne["active"]):
		// The entry moves: one delete and one put.
		u.IndexWRU += units(itemSize(oe), 1024) + units(itemSize(ne), 1024)
	default:
		u.IndexWRU += units(max(itemSize(oe), itemSize(ne)), 1024)
	}
}

// kindOf is the kind of item o, or else n.
func kindOf(o, n map[string]types.AttributeValue) string {
	for _, it := range []map[string]types.AttributeValue{o, n} {
		if k, ok := it["kind"].(*types.AttributeValueMemberS); ok {
			return k.Value
		}
	}
	return "none"
}

// read counts a strongly consistent read of the item it (nil when absent).
// Called with m.mu held.
func (m *Memory) read(it any) {
	m.use.Reads++
	m.use.RRU += float64(units(itemSize(stored(it)), 4096))
}

// query counts the queries of the index that list the items of kind,
// one per partition key of the kind (activeKeys). Called with m.mu held.
func (m *Memory) query(kind string, items []any) {
	size := map[string]int64{}
	for _, it := range items {
		e := indexEntry(stored(it))
		if k, ok := e["active"].(*types.AttributeValueMemberS); ok {
			size[k.Value] += itemSize(e)
		}
	}
	for _, k := range activeKeys(kind) {
		m.use.Queries++
		m.use.RRU += float64(units(size[k], 4096)) / 2
	}
}

// opt is it when ok, else nil: an item found or not, for the meter.
func opt[T any](it T, ok bool) any {
	if !ok {
		return nil
	}
	return it
}
