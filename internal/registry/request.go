package registry

// This file holds the pieces of a DynamoDB request and its answer: keys,
// the expression builder (every name a placeholder), the failed-condition
// check, the decoding of the items read.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// key is the primary key of the item pk/sk.
func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

// conditionFailed reports whether err is a failed condition check, and
// returns the item as it was when ReturnValuesOnConditionCheckFailure
// asked for it (empty when there was none).
func conditionFailed(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}

// writeAttribute names the attribute that holds the writeID of the
// conditional write that last wrote an item.
const writeAttribute = "writeId"

// A writeID marks one conditional write, so that the write can tell its
// own earlier attempt from another writer's. The SDK sends a request again
// when its answer is lost (the connection closed after DynamoDB applied
// it); that attempt then fails its condition on the item the first one
// wrote: a version already moved on, an item already there. A write whose
// condition would not let it apply twice stores its id in the item and
// asks for the item on a failed condition: a failure on an item that
// carries its own id is its own success. Writes that may apply twice
// (a claim by the owner that holds the lease, an end, a scan recorded)
// need none.
type writeID string

// newWriteID returns an id no other write has: 26 random base32 characters.
func newWriteID() writeID { return writeID(rand.Text()) }

// put stores id in the item of a PutItem.
func (id writeID) put(item map[string]types.AttributeValue) {
	item[writeAttribute] = &types.AttributeValueMemberS{Value: string(id)}
}

// set returns the SET clause of an UpdateItem that stores id.
func (id writeID) set(x *expr) string { return x.name(writeAttribute) + " = " + x.str(string(id)) }

// outcome sorts the error of a write that stored id and asked for the
// item on a failed condition: the condition failed (failed, with the item
// as stored, empty when there was none), the write applied (both zero,
// also when an earlier attempt of it did and the answer was lost), or the
// call failed (err).
func (id writeID) outcome(err error) (old map[string]types.AttributeValue, failed bool, _ error) {
	old, failed = conditionFailed(err)
	if !failed {
		return nil, false, err
	}
	if s, ok := old[writeAttribute].(*types.AttributeValueMemberS); ok && s.Value == string(id) {
		return old, false, nil
	}
	return old, true, nil
}

// putIf stores item if the condition cond (whose names and values x
// holds) is met, and reports whether it stored it. The write carries a
// writeID: an attempt the SDK sent again after the answer to the first
// was lost reports the first one's write.
func (d *DynamoDB) putIf(ctx context.Context, item map[string]types.AttributeValue, cond string, x *expr) (bool, error) {
	id := newWriteID()
	id.put(item)
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(d.cfg.Table),
		Item:                                item,
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            x.names,
		ExpressionAttributeValues:           x.values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	_, failed, err := id.outcome(err)
	return !failed && err == nil, err
}

// expr collects the attribute names and values of one request's
// expressions; every name is a placeholder, since several of ours
// (state, status) are reserved words.
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{names: make(map[string]string)}
}

// name returns the placeholder of attribute n.
func (x *expr) name(n string) string {
	x.names["#"+n] = n
	return "#" + n
}

// add returns a new placeholder for v.
func (x *expr) add(v types.AttributeValue) string {
	if x.values == nil {
		x.values = make(map[string]types.AttributeValue)
	}
	p := ":v" + strconv.Itoa(len(x.values))
	x.values[p] = v
	return p
}

// str returns a new placeholder for the string v.
func (x *expr) str(v string) string { return x.add(&types.AttributeValueMemberS{Value: v}) }

// boolean returns a new placeholder for the boolean v.
func (x *expr) boolean(v bool) string { return x.add(&types.AttributeValueMemberBOOL{Value: v}) }

// num returns a new placeholder for the number v.
func (x *expr) num(v int64) string {
	return x.add(&types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)})
}

// end returns the SET and REMOVE clauses that write the end u.
func (x *expr) end(u runUpdate) (set, remove []string) {
	set = []string{
		x.name("ended") + " = " + x.boolean(true),
		x.name("endedAt") + " = " + x.str(u.EndedAt),
		x.name("expiresAt") + " = " + x.num(u.ExpiresAt),
	}
	remove = []string{x.name("active")}
	if u.EndReason != "" {
		set = append(set, x.name("endReason")+" = "+x.str(u.EndReason))
	} else {
		remove = append(remove, x.name("endReason"))
	}
	return set, remove
}

// update joins SET and REMOVE clauses into an update expression.
func update(set, remove []string) string {
	s := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		s += " REMOVE " + strings.Join(remove, ", ")
	}
	return s
}

// describeKey names a stored item by its keys, for error messages.
func describeKey(item map[string]types.AttributeValue) string {
	pk, _ := item["pk"].(*types.AttributeValueMemberS)
	sk, _ := item["sk"].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return "without keys"
	}
	return pk.Value + "/" + sk.Value
}

func decodeExecution(item map[string]types.AttributeValue) (Execution, error) {
	var it execItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Execution{}, fmt.Errorf("decode: %w", err)
	}
	return it.execution()
}

func decodeHead(item map[string]types.AttributeValue) (Run, error) {
	var it runItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Run{}, fmt.Errorf("decode: %w", err)
	}
	return it.head()
}

func decodeRun(item map[string]types.AttributeValue) (Run, error) {
	var it runItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Run{}, fmt.Errorf("decode: %w", err)
	}
	return it.run()
}
