package registry

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ActiveIndex is the name of the table's sparse global secondary index of
// what is active (executions and runs that have not ended, opted-in state
// machines, controls that hold something): partition key active (S), sort
// key pk (S), projecting the keys and IndexAttributes only, so that a
// run's controller state and last decision are not written twice.
const ActiveIndex = "open"

// IndexAttributes are the attributes the active index projects besides
// the keys: what the listings read of executions, state machines,
// controls and runs. Not a run's state nor its last decision.
var IndexAttributes = []string{
	"kind", "arn", "policy", "status", "ended", "stateMachineArn", "executionArn",
	"startedAt", "stoppedAt", "updatedAt", "redriveCount", "historyEventId", "historyToken", "scannedAt",
	"optedIn", "checkedAt", "seenAt", "listedAt",
	"target", "source", "paused", "pin", "by", "at",
	"discoveredAt", "version", "failures", "leaseOwner", "leaseUntil",
}

// RunShards is the number of partition keys the active runs are spread
// over in the index (run#0 to run#3, by a hash of the run's ARN), so that
// no single key takes the writes of every open run; the listing queries
// them in parallel.
const RunShards = 4

// runShard is the active index partition key of run arn.
func runShard(arn string) string {
	h := fnv.New32a()
	h.Write([]byte(arn))
	return kindRun + "#" + strconv.Itoa(int(h.Sum32()%RunShards))
}

// activeKeys are the active index partition keys of the items of kind:
// for runs, every shard and "run", the key of runs written before the
// index was sharded.
func activeKeys(kind string) []string {
	if kind != kindRun {
		return []string{kind}
	}
	keys := []string{kindRun}
	for i := range RunShards {
		keys = append(keys, kindRun+"#"+strconv.Itoa(i))
	}
	return keys
}

// TTLAttribute is the table's time-to-live attribute, a number of epoch
// seconds.
const TTLAttribute = "expiresAt"

// TableAPI is the part of the DynamoDB client that CreateTable uses.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

var _ TableAPI = (*dynamodb.Client)(nil)

// tableActiveTimeout bounds how long CreateTable waits for the table to
// become active.
const tableActiveTimeout = 5 * time.Minute

// CreateTable creates the registry table name as the package doc lays it
// out, with on-demand billing, waits until it is active, and turns on
// time to live on TTLAttribute. A table of that name that exists already
// with the registry's keys and index is taken as created: the SDK retries
// a CreateTable whose answer was lost, and the retry finds the table the
// first attempt made. One with other keys or no such index is an error
// naming the table.
func CreateTable(ctx context.Context, api TableAPI, name string) error {
	if name == "" {
		return fmt.Errorf("registry: create table: %w: empty table name", ErrInvalid)
	}
	str := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	keyElem := func(n string, t types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(n), KeyType: t}
	}
	_, err := api.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str("pk"), str("sk"), str("active")},
		KeySchema:            []types.KeySchemaElement{keyElem("pk", types.KeyTypeHash), keyElem("sk", types.KeyTypeRange)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(ActiveIndex),
			KeySchema:  []types.KeySchemaElement{keyElem("active", types.KeyTypeHash), keyElem("pk", types.KeyTypeRange)},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: IndexAttributes},
		}},
	})
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		err = registryShaped(ctx, api, name)
	}
	if err != nil {
		return fmt.Errorf("registry: create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(api, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 5*time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableActiveTimeout); err != nil {
		return fmt.Errorf("registry: create table %s: wait until active: %w", name, err)
	}
	_, err = api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("registry: create table %s: enable time to live: %w", name, err)
	}
	return nil
}

// registryShaped checks that the existing table name has the registry's
// keys (pk, sk) and its ActiveIndex.
func registryShaped(ctx context.Context, api TableAPI, name string) error {
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("it exists, and describing it failed: %w", err)
	}
	keys := map[string]types.KeyType{}
	for _, k := range out.Table.KeySchema {
		keys[aws.ToString(k.AttributeName)] = k.KeyType
	}
	index := slices.ContainsFunc(out.Table.GlobalSecondaryIndexes, func(ix types.GlobalSecondaryIndexDescription) bool {
		return aws.ToString(ix.IndexName) == ActiveIndex
	})
	if len(keys) != 2 || keys["pk"] != types.KeyTypeHash || keys["sk"] != types.KeyTypeRange || !index {
		return fmt.Errorf("%w: it exists with other keys (%v) or without the index %s", ErrInvalid, keys, ActiveIndex)
	}
	return nil
}
