package registry

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// FuzzItemDecoding lists a table holding one item built from the fuzz
// input, as runs and as executions. Stored items may have been written by
// another version or by hand, so any item may come back: the listing must
// not panic, and must either fail with an error wrapping ErrCorrupt or
// return a value that the registry can store again and that reads back
// as the same item.
func FuzzItemDecoding(f *testing.F) {
	ctx := context.Background()
	sample := storedItem(f, func(d *DynamoDB) error { _, err := d.PutRun(ctx, sampleRun(runARN)); return err })
	leased := maps.Clone(sample)
	leased["version"] = &types.AttributeValueMemberN{Value: "7"}
	leased["leaseOwner"] = &types.AttributeValueMemberS{Value: "tuner-1"}
	leased["leaseUntil"] = &types.AttributeValueMemberS{Value: t0.Add(time.Minute).Format(timeLayout)}
	for _, item := range []map[string]types.AttributeValue{
		storedItem(f, func(d *DynamoDB) error { _, err := d.PutRun(ctx, Run{ARN: runARN, DiscoveredAt: t0}); return err }),
		sample,
		leased,
		storedItem(f, func(d *DynamoDB) error {
			_, err := d.PutExecution(ctx, execution(StatusRunning, time.Time{}))
			return err
		}),
		storedItem(f, func(d *DynamoDB) error {
			return d.PutControl(ctx, Control{Target: runARN, Source: SourceOperator, Paused: true, Pin: 40, By: "ops", At: t0})
		}),
		storedItem(f, func(d *DynamoDB) error {
			_, err := d.PutExecution(ctx, execution(StatusSucceeded, t0.Add(time.Hour)))
			return err
		}),
	} {
		data := encodeItem(item)
		if back := buildItem(data); !reflect.DeepEqual(back, item) {
			f.Fatalf("seed item %s encodes to an input that builds %s", showItem(item), showItem(back))
		}
		f.Add(data)
	}
	f.Add([]byte{})
	// kind S "run", version N "1e": not a number.
	f.Add([]byte{2, 0, 0, 3, 'r', 'u', 'n', 19, 1, 0, 2, '1', 'e'})

	f.Fuzz(func(t *testing.T, data []byte) {
		item := buildItem(data)
		checkDecoding(t, "run", item,
			func(ctx context.Context, d *DynamoDB) ([]Run, error) { return d.ActiveRuns(ctx) },
			func(ctx context.Context, d *DynamoDB, r Run) error { _, err := d.PutRun(ctx, r); return err })
		checkDecoding(t, "control", item,
			func(ctx context.Context, d *DynamoDB) ([]Control, error) { return d.Controls(ctx) },
			func(ctx context.Context, d *DynamoDB, c Control) error { return d.PutControl(ctx, c) })
		checkDecoding(t, "execution", item,
			func(ctx context.Context, d *DynamoDB) ([]Execution, error) { return d.ActiveExecutions(ctx) },
			func(ctx context.Context, d *DynamoDB, e Execution) error {
				_, err := d.PutExecution(ctx, e)
				return err
			})
	})
}

// checkDecoding lists a table holding item alone. When the listing decodes
// it, put stores the value, and the stored item must list and store again
// unchanged.
func checkDecoding[T any](t *testing.T, what string, item map[string]types.AttributeValue,
	list func(context.Context, *DynamoDB) ([]T, error), put func(context.Context, *DynamoDB, T) error) {
	t.Helper()
	ctx := context.Background()
	table := &oneItemTable{item: item}
	d, err := NewDynamoDB(table, Config{Table: "fuzz"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := list(ctx, d)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("list %s item %s: error %v does not wrap ErrCorrupt", what, showItem(item), err)
		}
		if len(got) != 0 {
			t.Fatalf("list %s item %s: error %v and values %+v", what, showItem(item), err, got)
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("list %s item %s: %d values, want 1", what, showItem(item), len(got))
	}
	var stored []map[string]types.AttributeValue
	v := got[0]
	for range 2 {
		if err := put(ctx, d, v); err != nil {
			t.Fatalf("%s decoded from item %s cannot be stored again: %v", what, showItem(item), err)
		}
		// The id of the write that stored it differs from write to write.
		stored = append(stored, withoutWriteID(table.item))
		again, err := list(ctx, d)
		if err != nil || len(again) != 1 {
			t.Fatalf("%s %+v stored as %s lists as %+v, %v", what, v, showItem(table.item), again, err)
		}
		v = again[0]
	}
	if !reflect.DeepEqual(stored[0], stored[1]) {
		t.Fatalf("%s decoded from item %s is stored as\n%s\nthen, read back, as\n%s", what, showItem(item), showItem(stored[0]), showItem(stored[1]))
	}
}

// withoutWriteID returns a copy of item without the id of the write that
// stored it.
func withoutWriteID(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	item = maps.Clone(item)
	delete(item, writeAttribute)
	return item
}

// showItem formats an item for failure messages: name=TYPE:value in
// name order.
func showItem(item map[string]types.AttributeValue) string {
	parts := make([]string, 0, len(item))
	for _, name := range slices.Sorted(maps.Keys(item)) {
		parts = append(parts, fmt.Sprintf("%q=%s", name, showValue(item[name])))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func showValue(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return fmt.Sprintf("S:%q", v.Value)
	case *types.AttributeValueMemberN:
		return fmt.Sprintf("N:%q", v.Value)
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprintf("BOOL:%t", v.Value)
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("B:%q", v.Value)
	case *types.AttributeValueMemberSS:
		return fmt.Sprintf("SS:%q", v.Value)
	case *types.AttributeValueMemberNS:
		return fmt.Sprintf("NS:%q", v.Value)
	case *types.AttributeValueMemberL:
		parts := make([]string, len(v.Value))
		for i, e := range v.Value {
			parts[i] = showValue(e)
		}
		return "L:[" + strings.Join(parts, " ") + "]"
	case *types.AttributeValueMemberM:
		return "M:" + showItem(v.Value)
	default:
		return fmt.Sprintf("%T", v)
	}
}

// storedItem returns the item that put stores.
func storedItem(f *testing.F, put func(*DynamoDB) error) map[string]types.AttributeValue {
	table := &oneItemTable{}
	d, err := NewDynamoDB(table, Config{Table: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	if err := put(d); err != nil {
		f.Fatal(err)
	}
	return table.item
}

// oneItemTable is a table of at most one item, whatever its key: PutItem
// replaces it, GetItem and Query return it (Query under each kind's
// first index key only). Conditions are not checked.
type oneItemTable struct {
	item map[string]types.AttributeValue
}

var _ DynamoAPI = (*oneItemTable)(nil)

func (o *oneItemTable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: o.item}, nil
}

func (o *oneItemTable) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	o.item = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (o *oneItemTable) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errors.New("one item table: UpdateItem is not supported")
}

func (o *oneItemTable) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	// The item is under each kind's first index key, so that a listing
	// of several keys (the run shards) returns it once.
	var k string
	for _, v := range in.ExpressionAttributeValues {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			k = s.Value
		}
	}
	if o.item == nil || strings.Contains(k, "#") {
		return &dynamodb.QueryOutput{}, nil
	}
	return &dynamodb.QueryOutput{Items: []map[string]types.AttributeValue{o.item}}, nil
}

// itemNames are the attribute names of stored items. buildItem picks from
// them, so that most items it builds are close to real ones.
var itemNames = []string{
	"pk", "sk", "kind", "active", "expiresAt", "arn", "executionArn", "stateMachineArn", "status", "ended",
	"policy", "startedAt", "stoppedAt", "updatedAt", "discoveredAt", "endedAt", "endReason", "state",
	"lastDecision", "version", "leaseOwner", "leaseUntil", "failures", "redriveCount", "historyEventId",
	"historyToken", "scannedAt", "target", "source", "paused", "pin", "by", "at", "writeId",
}

// The attribute value types of the fuzz input encoding.
const (
	tagS byte = iota
	tagN
	tagBOOL
	tagNULL
	tagB
	tagSS
	tagNS
	tagL
	tagM
	tagCount
)

// buildItem decodes an item from fuzz input: a sequence of attributes,
// each a name then a value. A name is a byte indexing itemNames, or, past
// them, a string. A value is a type byte (modulo tagCount) then its
// content: a string is a 2-byte big-endian length and bytes, BOOL one
// byte, NULL nothing, a set or a list a count byte (modulo 4) and that
// many elements, a map likewise with names. Input ends where it runs out.
func buildItem(data []byte) map[string]types.AttributeValue {
	r := &fuzzReader{data: data}
	item := map[string]types.AttributeValue{}
	for len(r.data) > 0 {
		name := r.name()
		item[name] = r.value(0)
	}
	return item
}

// fuzzReader reads the buildItem encoding; past the end it reads zeros.
type fuzzReader struct {
	data []byte
}

func (r *fuzzReader) byte() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

func (r *fuzzReader) string() string {
	n := int(r.byte())<<8 | int(r.byte())
	n = min(n, len(r.data))
	s := string(r.data[:n])
	r.data = r.data[n:]
	return s
}

func (r *fuzzReader) name() string {
	if i := int(r.byte()); i < len(itemNames) {
		return itemNames[i]
	}
	return r.string()
}

// maxDepth bounds the nesting of lists and maps.
const maxDepth = 3

func (r *fuzzReader) value(depth int) types.AttributeValue {
	tag := r.byte() % tagCount
	if depth >= maxDepth && tag >= tagSS {
		tag = tagS
	}
	switch tag {
	case tagN:
		return &types.AttributeValueMemberN{Value: r.string()}
	case tagBOOL:
		return &types.AttributeValueMemberBOOL{Value: r.byte()&1 == 1}
	case tagNULL:
		return &types.AttributeValueMemberNULL{Value: true}
	case tagB:
		return &types.AttributeValueMemberB{Value: []byte(r.string())}
	case tagSS, tagNS:
		n := int(r.byte() % 4)
		vs := make([]string, n)
		for i := range vs {
			vs[i] = r.string()
		}
		if tag == tagSS {
			return &types.AttributeValueMemberSS{Value: vs}
		}
		return &types.AttributeValueMemberNS{Value: vs}
	case tagL:
		l := make([]types.AttributeValue, r.byte()%4)
		for i := range l {
			l[i] = r.value(depth + 1)
		}
		return &types.AttributeValueMemberL{Value: l}
	case tagM:
		m := map[string]types.AttributeValue{}
		for range r.byte() % 4 {
			m[r.name()] = r.value(depth + 1)
		}
		return &types.AttributeValueMemberM{Value: m}
	default:
		return &types.AttributeValueMemberS{Value: r.string()}
	}
}

// encodeItem is the inverse of buildItem for the attributes stored items
// have (S, N and BOOL under the names of itemNames), for seed inputs.
func encodeItem(item map[string]types.AttributeValue) []byte {
	var out []byte
	str := func(s string) {
		out = binary.BigEndian.AppendUint16(out, uint16(len(s)))
		out = append(out, s...)
	}
	names := make([]string, 0, len(item))
	for name := range item {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		i := slices.Index(itemNames, name)
		if i < 0 {
			panic("encodeItem: attribute " + name + " is not in itemNames")
		}
		out = append(out, byte(i))
		switch v := item[name].(type) {
		case *types.AttributeValueMemberS:
			out = append(out, tagS)
			str(v.Value)
		case *types.AttributeValueMemberN:
			out = append(out, tagN)
			str(v.Value)
		case *types.AttributeValueMemberBOOL:
			b := byte(0)
			if v.Value {
				b = 1
			}
			out = append(out, tagBOOL, b)
		default:
			panic("encodeItem: attribute " + name + " has an unsupported type")
		}
	}
	return out
}
