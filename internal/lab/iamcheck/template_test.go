package iamcheck

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// An action is what one IAM action authorises: one operation of an AWS SDK
// for Go v2 service package, on resources of the listed types (the
// Service Authorization Reference's resource types; none means the action
// has no resource type and takes only "*").
type action struct {
	// Service is the SDK package name under github.com/aws/aws-sdk-go-v2/service.
	Service string
	// Operation is the SDK client method.
	Operation string
	// Resources are the Step Functions ARN resource types the action acts
	// on ("mapRun", "execution", ...), table for a DynamoDB table or
	// index of the template, or function for a Lambda function.
	Resources []string
}

// table is the resource type of DynamoDB actions: a table of the template
// (!GetAtt T.Arn) or one of its indexes (!Sub ${T.Arn}/index/NAME).
const table = "table"

// function is the resource type of Lambda actions: functions of the
// stack's account and Region.
const function = "function"

// lambdaFunctionARN matches the !Sub form of the ARN of Lambda functions
// in this account and Region: a name, possibly with wildcards, and no
// qualifier.
var lambdaFunctionARN = regexp.MustCompile(`^arn:\$\{AWS::Partition\}:lambda:\$\{AWS::Region\}:\$\{AWS::AccountId\}:function:[A-Za-z0-9_*?-]+$`)

// actions maps each IAM action the checker knows to the SDK operation it
// authorises. A granted action missing here, or an operation called by the
// code that no action maps, fails the check.
var actions = map[string]action{
	"states:DescribeMapRun":         {"sfn", "DescribeMapRun", []string{"mapRun"}},
	"states:UpdateMapRun":           {"sfn", "UpdateMapRun", []string{"mapRun"}},
	"states:ListMapRuns":            {"sfn", "ListMapRuns", []string{"execution"}},
	"states:ListExecutions":         {"sfn", "ListExecutions", []string{"mapRun", "stateMachine"}},
	"states:DescribeExecution":      {"sfn", "DescribeExecution", []string{"execution", "express"}},
	"states:GetExecutionHistory":    {"sfn", "GetExecutionHistory", []string{"execution"}},
	"states:ListTagsForResource":    {"sfn", "ListTagsForResource", []string{"stateMachine"}},
	"states:DescribeStateMachine":   {"sfn", "DescribeStateMachine", []string{"stateMachine"}},
	"states:StartExecution":         {"sfn", "StartExecution", []string{"stateMachine"}},
	"cloudwatch:GetMetricData":      {"cloudwatch", "GetMetricData", nil},
	"lambda:GetFunctionConcurrency": {"lambda", "GetFunctionConcurrency", []string{function}},
	"cloudwatch:PutMetricData":      {"cloudwatch", "PutMetricData", nil},
	"dynamodb:GetItem":              {"dynamodb", "GetItem", []string{table}},
	"dynamodb:PutItem":              {"dynamodb", "PutItem", []string{table}},
	"dynamodb:UpdateItem":           {"dynamodb", "UpdateItem", []string{table}},
	"dynamodb:DeleteItem":           {"dynamodb", "DeleteItem", []string{table}},
	"dynamodb:Query":                {"dynamodb", "Query", []string{table}},
	"dynamodb:Scan":                 {"dynamodb", "Scan", []string{table}},
	"dynamodb:CreateTable":          {"dynamodb", "CreateTable", []string{table}},
	"dynamodb:DescribeTable":        {"dynamodb", "DescribeTable", []string{table}},
	"dynamodb:UpdateTimeToLive":     {"dynamodb", "UpdateTimeToLive", []string{table}},
}

// actionFor returns the IAM action that authorises operation op of SDK
// service svc.
func actionFor(svc, op string) (string, bool) {
	for name, a := range actions {
		if a.Service == svc && a.Operation == op {
			return name, true
		}
	}
	return "", false
}

// namePattern is the template parameter that selects the state machines.
const namePattern = "StateMachineNamePattern"

// stepFunctionsARN matches the !Sub form of a Step Functions ARN in this
// account and Region whose state machine name is the namePattern
// parameter: the resource type, then what follows the name, which must
// start a new ARN part (":" or "/") so that it cannot widen the name.
var stepFunctionsARN = regexp.MustCompile(`^arn:\$\{AWS::Partition\}:states:\$\{AWS::Region\}:\$\{AWS::AccountId\}:([A-Za-z]+):\$\{` + namePattern + `\}([:/][^$]*)?$`)

// A grant is one action granted to a function on one resource.
type grant struct {
	Function  string // logical ID
	Statement string // Sid, or the statement's index
	Action    string
	Resource  resource
}

// A resource is a Resource entry: a literal string, or an intrinsic
// function (Fn::Sub, Fn::GetAtt, Ref, ...) with its argument as text.
type resource struct {
	Func string // "" for a literal, else "Fn::Sub", "Fn::GetAtt", "Ref", ...
	Text string
}

func (r resource) String() string {
	if r.Func == "" {
		return fmt.Sprintf("%q", r.Text)
	}
	return fmt.Sprintf("%s %q", r.Func, r.Text)
}

// stack is what the checker reads from a template: the grants of each
// function, and what it could not read as grants.
type stack struct {
	// Functions are the logical IDs of the AWS::Serverless::Function
	// resources, in template order.
	Functions []string
	Grants    []grant
	// Tables are the logical IDs of the AWS::DynamoDB::Table resources.
	Tables []string
	// HasPattern reports whether the namePattern parameter is declared.
	HasPattern bool
	// Problems are the permissions the checker cannot check; each fails it.
	Problems []string
}

// basicExecutionRole is the managed policy SAM gives every function for
// its logs; the Lambda runtime, not the code, uses it.
const basicExecutionRole = "AWSLambdaBasicExecutionRole"

// readTemplate parses the template at path.
func readTemplate(path string) (stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return stack{}, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return stack{}, fmt.Errorf("parse %s: %w", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return stack{}, fmt.Errorf("parse %s: not a mapping", path)
	}
	root := doc.Content[0]
	var s stack
	s.HasPattern = get(get(root, "Parameters"), namePattern) != nil
	if g := get(get(root, "Globals"), "Function"); get(g, "Policies") != nil || get(g, "Role") != nil {
		s.Problems = append(s.Problems, "Globals.Function sets Policies or Role: the checker reads them per function only")
	}
	resources := get(root, "Resources")
	if resources == nil || resources.Kind != yaml.MappingNode {
		return stack{}, fmt.Errorf("parse %s: no Resources mapping", path)
	}
	for i := 0; i+1 < len(resources.Content); i += 2 {
		id, res := resources.Content[i].Value, resources.Content[i+1]
		switch typ := scalar(get(res, "Type")); typ {
		case "AWS::Serverless::Function":
			s.Functions = append(s.Functions, id)
			s.readFunction(id, get(res, "Properties"))
		case "AWS::DynamoDB::Table":
			s.Tables = append(s.Tables, id)
		case "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::Lambda::Function":
			s.Problems = append(s.Problems, fmt.Sprintf("resource %s: type %s is not checked; declare functions as AWS::Serverless::Function with Policies", id, typ))
		}
	}
	return s, nil
}

// readFunction reads the Policies of function id.
func (s *stack) readFunction(id string, props *yaml.Node) {
	if get(props, "Role") != nil {
		s.Problems = append(s.Problems, fmt.Sprintf("function %s: Role is set, so its permissions cannot be checked", id))
	}
	policies := get(props, "Policies")
	if policies == nil {
		return
	}
	if policies.Kind != yaml.SequenceNode {
		policies = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{policies}}
	}
	for _, p := range policies.Content {
		switch {
		case p.Kind == yaml.ScalarNode && p.Value == basicExecutionRole:
		case p.Kind == yaml.MappingNode && get(p, "Statement") != nil:
			s.readStatements(id, get(p, "Statement"))
		default:
			s.Problems = append(s.Problems, fmt.Sprintf("function %s: policy %s is not a policy document: a managed policy or a policy template grants what the checker cannot see", id, describe(p)))
		}
	}
}

// readStatements reads the Allow statements of a policy document of
// function id.
func (s *stack) readStatements(id string, statements *yaml.Node) {
	if statements.Kind != yaml.SequenceNode {
		statements = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{statements}}
	}
	for i, st := range conditional(statements.Content) {
		sid := scalar(get(st, "Sid"))
		if sid == "" {
			sid = fmt.Sprintf("#%d", i)
		}
		where := fmt.Sprintf("function %s, statement %s", id, sid)
		switch effect := scalar(get(st, "Effect")); effect {
		case "Allow":
		case "Deny":
			continue // it only takes away
		default:
			s.Problems = append(s.Problems, fmt.Sprintf("%s: Effect %q is neither Allow nor Deny", where, effect))
			continue
		}
		for _, key := range []string{"NotAction", "NotResource", "Principal"} {
			if get(st, key) != nil {
				s.Problems = append(s.Problems, fmt.Sprintf("%s: %s is not allowed in a function's policy", where, key))
			}
		}
		var acts []string
		for _, a := range list(get(st, "Action")) {
			if a.Kind != yaml.ScalarNode || a.Tag != "!!str" {
				s.Problems = append(s.Problems, fmt.Sprintf("%s: action %s is not a plain string", where, describe(a)))
				continue
			}
			acts = append(acts, a.Value)
		}
		var res []resource
		for _, r := range list(get(st, "Resource")) {
			rr, ok := readResource(r)
			if !ok {
				s.Problems = append(s.Problems, fmt.Sprintf("%s: resource %s is neither a string nor an intrinsic function of one argument", where, describe(r)))
				continue
			}
			res = append(res, rr)
		}
		if len(acts) == 0 || len(res) == 0 {
			s.Problems = append(s.Problems, fmt.Sprintf("%s: no Action or no Resource", where))
		}
		for _, a := range acts {
			for _, r := range res {
				s.Grants = append(s.Grants, grant{Function: id, Statement: sid, Action: a, Resource: r})
			}
		}
	}
}

// conditional replaces each statement !If [CONDITION, A, B] of statements
// by A and B, leaving out !Ref AWS::NoValue: what a condition grants, it
// may grant.
func conditional(statements []*yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, st := range statements {
		if st.Tag != "!If" || st.Kind != yaml.SequenceNode || len(st.Content) != 3 {
			out = append(out, st)
			continue
		}
		for _, branch := range st.Content[1:] {
			if branch.Tag != "!Ref" || branch.Value != "AWS::NoValue" {
				out = append(out, conditional([]*yaml.Node{branch})...)
			}
		}
	}
	return out
}

// readResource reads a Resource entry: a plain string, a short-tag
// intrinsic (!Sub, !GetAtt, !Ref, ...) of a scalar, or its long form
// ({"Fn::Sub": "..."}; Fn::GetAtt may be a two-element list).
func readResource(n *yaml.Node) (resource, bool) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		return resource{Text: n.Value}, true
	case n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!"):
		return resource{Func: longForm(n.Tag[1:]), Text: n.Value}, true
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		fn, arg := n.Content[0].Value, n.Content[1]
		if fn != "Ref" && !strings.HasPrefix(fn, "Fn::") {
			return resource{}, false
		}
		if arg.Kind == yaml.ScalarNode {
			return resource{Func: fn, Text: arg.Value}, true
		}
		if fn == "Fn::GetAtt" && arg.Kind == yaml.SequenceNode && len(arg.Content) == 2 {
			return resource{Func: fn, Text: arg.Content[0].Value + "." + arg.Content[1].Value}, true
		}
	}
	return resource{}, false
}

// longForm names the intrinsic function of short tag "!"+tag.
func longForm(tag string) string {
	if tag == "Ref" || tag == "Condition" {
		return tag
	}
	return "Fn::" + tag
}

// check returns what is wrong with the grants of s, given the operations
// each function's code calls: uses[function logical ID][action] lists
// where the code calls the action's operation (empty when none).
func (s stack) check(uses map[string]map[string][]string) []string {
	problems := slices.Clone(s.Problems)
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	granted := map[string]map[string]bool{}
	for _, g := range s.Grants {
		where := fmt.Sprintf("function %s, statement %s: action %s", g.Function, g.Statement, g.Action)
		if strings.ContainsAny(g.Action, "*?") {
			add("%s: wildcard action", where)
			continue
		}
		a, ok := actions[g.Action]
		if !ok {
			add("%s: not in the action table, so no code is known to use it", where)
			continue
		}
		if granted[g.Function] == nil {
			granted[g.Function] = map[string]bool{}
		}
		granted[g.Function][g.Action] = true
		if msg := s.checkResource(a, g.Resource); msg != "" {
			add("%s on resource %s: %s", where, g.Resource, msg)
		}
	}
	for _, fn := range s.Functions {
		for _, act := range slices.Sorted(maps.Keys(granted[fn])) {
			if len(uses[fn][act]) == 0 {
				a := actions[act]
				add("function %s is granted %s, but no code path of the function calls %s.%s", fn, act, a.Service, a.Operation)
			}
		}
		for _, act := range slices.Sorted(maps.Keys(uses[fn])) {
			if calls := uses[fn][act]; len(calls) > 0 && !granted[fn][act] {
				add("function %s calls the operation of %s (%s), but is not granted %s", fn, act, strings.Join(calls, ", "), act)
			}
		}
	}
	return problems
}

// checkResource says what is wrong with granting a on r ("" if nothing).
func (s stack) checkResource(a action, r resource) string {
	switch {
	case r == (resource{Text: "*"}):
		if len(a.Resources) > 0 {
			return "the action has a resource type, so * grants it on every resource"
		}
		return ""
	case len(a.Resources) == 0:
		return `the action has no resource type: its resource is "*"`
	case slices.Equal(a.Resources, []string{table}):
		return s.checkTable(r)
	case slices.Equal(a.Resources, []string{function}):
		if r.Func != "Fn::Sub" || !lambdaFunctionARN.MatchString(r.Text) {
			return "not Lambda functions of the stack's account and Region: want !Sub arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:NAME"
		}
		return ""
	}
	if r.Func != "Fn::Sub" {
		return "a Step Functions resource must be a !Sub ARN of the " + namePattern + " parameter"
	}
	if !s.HasPattern {
		return "the template has no " + namePattern + " parameter"
	}
	m := stepFunctionsARN.FindStringSubmatch(r.Text)
	if m == nil {
		return "outside the state machines of " + namePattern + ": want arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:TYPE:${" + namePattern + "} then nothing or a part starting with : or /"
	}
	if !slices.Contains(a.Resources, m[1]) {
		return fmt.Sprintf("resource type %s, but the action acts on %s", m[1], strings.Join(a.Resources, ", "))
	}
	return ""
}

// checkTable says what is wrong with r as the resource of a DynamoDB
// action ("" if nothing): it must be a table of the template or an index
// of one.
func (s stack) checkTable(r resource) string {
	for _, t := range s.Tables {
		if r == (resource{Func: "Fn::GetAtt", Text: t + ".Arn"}) {
			return ""
		}
		if rest, ok := strings.CutPrefix(r.Text, "${"+t+".Arn}/index/"); r.Func == "Fn::Sub" && ok && rest != "" && !strings.ContainsAny(rest, "*?$") {
			return ""
		}
	}
	return "not a table of the template (!GetAtt T.Arn) nor one of its indexes (!Sub ${T.Arn}/index/NAME)"
}

// get returns the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// scalar returns the value of scalar n, or "".
func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// list returns the elements of sequence n, or n alone.
func list(n *yaml.Node) []*yaml.Node {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode:
		return n.Content
	default:
		return []*yaml.Node{n}
	}
}

// describe shows node n in messages: its tag and line.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%s %q (line %d)", n.Tag, n.Value, n.Line)
	}
	return fmt.Sprintf("%s (line %d)", n.Tag, n.Line)
}
