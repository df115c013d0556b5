package iamcheck

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// moduleRoot is the directory of go.mod, two levels up from this package.
var moduleRoot = filepath.Join("..", "..", "..")

// codeOnce analyses the code once for all tests.
var codeOnce = sync.OnceValues(func() (calls, error) {
	root, err := filepath.Abs(moduleRoot)
	if err != nil {
		return calls{}, err
	}
	return codeCalls(root)
})

// checkTemplate returns what is wrong with the permissions of the template
// at path, given what the code calls.
func checkTemplate(t *testing.T, path string) []string {
	t.Helper()
	code, err := codeOnce()
	if err != nil {
		t.Fatalf("analyse the code: %v", err)
	}
	s, err := readTemplate(path)
	if err != nil {
		t.Fatal(err)
	}
	uses := map[string]map[string][]string{}
	problems := slices.Clone(code.Problems)
	for _, fn := range s.Functions {
		dir := functionDir(fn)
		u, ok := code.Uses[dir]
		if !ok {
			problems = append(problems, fmt.Sprintf("function %s: no main package functions/%s, so its code is unknown", fn, dir))
			continue
		}
		uses[fn] = u
	}
	return append(problems, s.check(uses)...)
}

// functionDir is the directory under functions/ of the main package of
// the function with logical ID id: WatchFunction is functions/watch.
func functionDir(id string) string {
	return strings.ToLower(strings.TrimSuffix(id, "Function"))
}

// TestTemplateLeastPrivilege checks the permissions of template.yaml.
func TestTemplateLeastPrivilege(t *testing.T) {
	problems := checkTemplate(t, filepath.Join(moduleRoot, "template.yaml"))
	for _, p := range problems {
		t.Error(p)
	}
}

// TestCheckerFails checks templates that grant too much or too little:
// the checker must name each fault, with the function and the action.
func TestCheckerFails(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"wildcards.yaml", []string{
			"function WatchFunction, statement Everything: action *: wildcard action",
			"function WatchFunction, statement AllStates: action states:*: wildcard action",
			`function TuneFunction, statement AnyMapRun: action states:DescribeMapRun on resource "*": the action has a resource type`,
			"function TuneFunction, statement OtherMachines: action states:UpdateMapRun on resource Fn::Sub \"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:mapRun:*\": outside the state machines of StateMachineNamePattern",
			"function TuneFunction, statement WidenedName: action states:GetExecutionHistory on resource Fn::Sub \"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${StateMachineNamePattern}*\": outside the state machines",
			"function TuneFunction, statement WrongType: action states:UpdateMapRun on resource Fn::Sub \"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${StateMachineNamePattern}\": resource type stateMachine, but the action acts on mapRun",
			"function TuneFunction, statement AnyTable: action dynamodb:Query on resource \"*\"",
			"function TuneFunction, statement AnyAccountFunctions: action lambda:GetFunctionConcurrency on resource Fn::Sub \"arn:${AWS::Partition}:lambda:*:*:function:*\": not Lambda functions of the stack's account and Region",
			`function TuneFunction, statement AnyFunction: action lambda:GetFunctionConcurrency on resource "*": the action has a resource type`,
		}},
		{"unused.yaml", []string{
			"function WatchFunction is granted states:StartExecution, but no code path of the function calls sfn.StartExecution",
			"function WatchFunction is granted dynamodb:Query, but no code path of the function calls dynamodb.Query",
			"function TuneFunction calls the operation of states:UpdateMapRun (internal/",
			"function TuneFunction, statement Unknown: action states:SendTaskSuccess: not in the action table",
			"function TuneFunction: policy !!str \"AmazonDynamoDBFullAccess\"",
			"resource ExtraRole: type AWS::IAM::Role is not checked",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			problems := checkTemplate(t, filepath.Join("testdata", tc.file))
			for _, w := range tc.want {
				if !containsPrefix(problems, w) {
					t.Errorf("no problem starting %q; got:\n%s", w, strings.Join(problems, "\n"))
				}
			}
		})
	}
}

// containsPrefix reports whether some s of list starts with prefix.
func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
