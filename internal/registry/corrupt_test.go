package registry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestCorruptItemsDoNotHideTheOthers stores a run whose state no longer
// decodes beside a good one: the listing returns the good one and an error
// naming the bad one.
func TestCorruptItemsDoNotHideTheOthers(t *testing.T) {
	client := startDynamo(t)
	ctx := context.Background()
	if err := CreateTable(ctx, client, "corrupt"); err != nil {
		t.Fatal(err)
	}
	d, err := NewDynamoDB(client, Config{Table: "corrupt"})
	if err != nil {
		t.Fatal(err)
	}
	good := sampleRun("arn:aws:states:us-east-1:123456789012:mapRun:etl/ProcessItems:good")
	if _, err := d.PutRun(ctx, good); err != nil {
		t.Fatal(err)
	}
	bad := "arn:aws:states:us-east-1:123456789012:mapRun:etl/ProcessItems:bad"
	if _, err := d.PutRun(ctx, sampleRun(bad)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String("corrupt"),
		Key:                       key(pkRun+bad, skRun),
		UpdateExpression:          aws.String("SET #s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "{not json"}},
	}); err != nil {
		t.Fatal(err)
	}
	runs, err := d.ActiveRuns(ctx)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error %v, want ErrCorrupt naming %s", err, bad)
	}
	if len(runs) != 1 || runs[0].ARN != good.ARN {
		t.Fatalf("runs %+v, want the good one", runs)
	}
}
