package observe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readDefinition(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "definitions", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInvokedFunction(t *testing.T) {
	tests := []struct {
		file, label string
		want        string
		// noHint is a part of the reason of an ErrNoHint error.
		noHint string
	}{
		{file: "invoke-parameters.json", label: "Items", want: "process-item"},
		{file: "invoke-arguments-jsonata.json", label: "FanOut", want: "arn:aws:lambda:eu-west-1:123456789012:function:enrich"},
		{file: "direct-arn.json", label: "Resize", want: "arn:aws:lambda:us-east-1:123456789012:function:resize"},
		{file: "processor-only.json", label: "Items", want: "123456789012:function:process-item"},
		{file: "two-maps.json", label: "First", want: "extract"},
		{file: "two-maps.json", label: "Second", want: "load"},
		{file: "two-maps.json", label: "Third", noHint: `no Distributed Map state labelled "Third"`},
		{file: "two-functions.json", label: "Items", noHint: "more than one Lambda function (fetch, store)"},
		{file: "same-function-twice.json", label: "Items", want: "123456789012:function:step"},
		{file: "dynamic-name.json", label: "Items", noHint: "takes the function name from its input"},
		{file: "jsonata-name.json", label: "Items", noHint: "computes the function name at run time"},
		{file: "parallel-in-child.json", label: "Items", noHint: "within a Parallel or Map state"},
		{file: "no-lambda.json", label: "Items", noHint: "invokes no Lambda function"},
		{file: "unlabelled.json", label: "8f2d3c1e", want: "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:process-item"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.label, func(t *testing.T) {
			got, err := InvokedFunction(readDefinition(t, tt.file), tt.label)
			if tt.noHint != "" {
				if !errors.Is(err, ErrNoHint) || !strings.Contains(err.Error(), tt.noHint) {
					t.Fatalf("InvokedFunction = %q, %v; want an ErrNoHint saying %q", got, err, tt.noHint)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("InvokedFunction = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestInvokedFunctionRefusesBadInput(t *testing.T) {
	deep := strings.Repeat(`{"States":{"P":{"Type":"Parallel","Branches":[`, maxDepth+2) + `{}` + strings.Repeat(`]}}}`, maxDepth+2)
	tests := []struct {
		name, definition string
		want             error
		says             string
	}{
		{"not JSON", `{"States":`, ErrInvalidInput, "state machine definition"},
		{"not an object", `[1, 2]`, ErrInvalidInput, "state machine definition"},
		{"too deep", deep, ErrInvalidInput, "more than 64 deep"},
		{"name too long", `{"States":{"C":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"` + strings.Repeat("f", 65) + `"}}}}`, ErrNoHint, "is not a Lambda function name or ARN"},
		{"bad characters", `{"States":{"C":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"a b"}}}}`, ErrNoHint, "is not a Lambda function name or ARN"},
		{"FunctionName not a string", `{"States":{"C":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":7}}}}`, ErrNoHint, "has no FunctionName string"},
		{"no arguments", `{"States":{"C":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke"}}}`, ErrNoHint, "without arguments"},
		{"arguments computed", `{"QueryLanguage":"JSONata","States":{"C":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Arguments":"{% $states.input %}"}}}`, ErrNoHint, "computes the arguments"},
		{"two accounts", `{"States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:111111111111:function:f"},"B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:222222222222:function:f"}}}`, ErrNoHint, "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := InvokedFunction(tt.definition, "L")
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("InvokedFunction = %q, %v; want %v saying %q", got, err, tt.want, tt.says)
			}
		})
	}
}

// FuzzInvokedFunction feeds definitions, as DescribeStateMachine returns
// them from outside, to the parser: it never panics, and what it returns
// is either a function GetFunctionConcurrency takes, or an error of one of
// its two classes.
func FuzzInvokedFunction(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "definitions"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		f.Add(readDefinition(f, e.Name()), "Items")
	}
	f.Add(`{"States":{"C":{"Type":"Task","Resource":"arn:aws:lambda:r:1:function:f:q:x"}}}`, "")
	f.Fuzz(func(t *testing.T, definition, label string) {
		fn, err := InvokedFunction(definition, label)
		if err != nil {
			if fn != "" || !errors.Is(err, ErrNoHint) && !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("InvokedFunction = %q, %v", fn, err)
			}
			return
		}
		form, name, err := unqualified(fn)
		if err != nil || form != fn || !functionName.MatchString(name) {
			t.Fatalf("InvokedFunction = %q, which is not an unqualified function (%q, %q, %v)", fn, form, name, err)
		}
	})
}
