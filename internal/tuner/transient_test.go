package tuner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	stypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/observe"
	"github.com/maptuner/maptuner/internal/registry"
)

func TestTransient(t *testing.T) {
	op := func(err error) error {
		return fmt.Errorf("observe: describe: %w", &smithy.OperationError{ServiceID: "SFN", OperationName: "DescribeMapRun", Err: err})
	}
	tests := []struct {
		err  error
		want bool
	}{
		{op(&smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}), true},
		{op(&dtypes.ProvisionedThroughputExceededException{Message: aws.String("slow down")}), true},
		{op(&smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}), true},
		{op(&dtypes.InternalServerError{}), true},
		{op(&smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 500}}, Err: errors.New("deserialization failed")}), true},
		{op(&smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}}, Err: errors.New("deserialization failed")}), false},
		{op(context.DeadlineExceeded), true},
		{fmt.Errorf("describe: %w", budget.ErrExhausted), true},
		{fmt.Errorf("save: %w", registry.ErrConflict), true},
		{fmt.Errorf("metrics: %w", observe.ErrIncomplete), true},
		{op(&smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient}), false},
		{op(&stypes.ValidationException{Message: aws.String("bad")}), false},
		{op(&stypes.ResourceNotFound{}), false},
		{fmt.Errorf("list: %w", registry.ErrCorrupt), false},
		{errors.New("anything else"), false},
	}
	for _, tc := range tests {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
