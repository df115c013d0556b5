package sim

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/maptuner/maptuner/internal/testenv"
)

func TestProbe(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil { t.Fatal(err) }
	c := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = aws.String(m.URL) })
	mr := "arn:aws:states:us-east-1:123456789012:mapRun:etl/Label:00000000-0000-0000-0000-000000000000"
	ex := "arn:aws:states:us-east-1:123456789012:execution:etl:abc"
	sm := "arn:aws:states:us-east-1:123456789012:stateMachine:etl"
	show := func(name string, err error) { t.Logf("%s: %T %v", name, unwrap(err), err) }
	_, err = c.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(mr)}); show("describe unknown", err)
	_, err = c.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String("not-an-arn")}); show("describe malformed", err)
	_, err = c.UpdateMapRun(ctx, &sfn.UpdateMapRunInput{MapRunArn: aws.String(mr), MaxConcurrency: aws.Int32(5)}); show("update unknown", err)
	_, err = c.UpdateMapRun(ctx, &sfn.UpdateMapRunInput{MapRunArn: aws.String("x"), MaxConcurrency: aws.Int32(5)}); show("update malformed", err)
	_, err = c.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(ex)}); show("listmapruns unknown", err)
	_, err = c.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String("x")}); show("listmapruns malformed", err)
	_, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(ex)}); show("describeexec unknown", err)
	_, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("x")}); show("describeexec malformed", err)
	_, err = c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(ex)}); show("history unknown", err)
	_, err = c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String("x")}); show("history malformed", err)
	_, err = c.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String(sm)}); show("tags unknown", err)
	_, err = c.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String("x")}); show("tags malformed", err)
	_, err = c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm)}); show("listexec unknown sm", err)
	_, err = c.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(mr)}); show("listexec unknown maprun", err)
	_, err = c.ListExecutions(ctx, &sfn.ListExecutionsInput{}); show("listexec none", err)
}

func unwrap(err error) any {
	for err != nil {
		u, ok := err.(interface{ Unwrap() error })
		if !ok { return err }
		n := u.Unwrap()
		if n == nil { return err }
		err = n
	}
	return fmt.Sprint(nil)
}
