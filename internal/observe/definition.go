package observe

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// ErrNoHint is wrapped by the errors of a definition that gives no
// capacity hint: its item processor invokes no Lambda function, more than
// one, one named only at run time, or one that a child may invoke more
// than once at a time (in a Parallel or a Map state).
var ErrNoHint = errors.New("no capacity hint")

// aslMachine is the part of an Amazon States Language state machine, or
// of a Map state's item processor, that InvokedFunction reads.
type aslMachine struct {
	States          map[string]aslState `json:"States"`
	ProcessorConfig *aslProcessorConfig `json:"ProcessorConfig"`
}

type aslProcessorConfig struct {
	Mode string `json:"Mode"`
}

type aslState struct {
	Type       string          `json:"Type"`
	Resource   string          `json:"Resource"`
	Parameters json.RawMessage `json:"Parameters"`
	Arguments  json.RawMessage `json:"Arguments"`
	Label      string          `json:"Label"`
	// ItemProcessor is a Map state's; Iterator its older name (inline only).
	ItemProcessor *aslMachine  `json:"ItemProcessor"`
	Iterator      *aslMachine  `json:"Iterator"`
	Branches      []aslMachine `json:"Branches"`
}

// distributed reports whether s is a Map state in distributed mode.
func (s aslState) distributed() bool {
	return s.Type == "Map" && s.ItemProcessor != nil && s.ItemProcessor.ProcessorConfig != nil &&
		s.ItemProcessor.ProcessorConfig.Mode == "DISTRIBUTED"
}

// maxDepth bounds how deeply states nest in a definition InvokedFunction
// reads; deeper is refused, not walked.
const maxDepth = 64

// InvokedFunction returns the one Lambda function that the item processor
// of the Distributed Map state labelled label invokes, named as
// GetFunctionConcurrency takes it: a function name, a partial ARN
// (ACCOUNT:function:NAME) or a full ARN, without version or alias.
//
// definition is what DescribeStateMachine returns for the labelled state
// machine ARN (NAME/LABEL): the state machine holding that Map state,
// found by its Label (or, when the state machine has one Distributed Map
// state and it has no Label, that one, whose label Step Functions
// generated), or the item processor itself. A Task calls a function either
// through the service integration (Resource arn:PARTITION:states:::lambda:invoke,
// FunctionName in Parameters or Arguments) or by the function's ARN.
//
// The error wraps ErrNoHint, with the reason, when the definition names no
// single function a child invokes at most once at a time, and
// ErrInvalidInput when it is not an Amazon States Language document.
func InvokedFunction(definition, label string) (string, error) {
	var doc aslMachine
	if err := json.Unmarshal([]byte(definition), &doc); err != nil {
		return "", fmt.Errorf("%w: state machine definition: %v", ErrInvalidInput, err)
	}
	if depth(doc, 0) > maxDepth {
		return "", fmt.Errorf("%w: state machine definition nests states more than %d deep", ErrInvalidInput, maxDepth)
	}
	proc, err := itemProcessor(doc, label)
	if err != nil {
		return "", err
	}
	var refs []string
	for _, name := range slices.Sorted(maps.Keys(proc.States)) {
		if err := invocations(name, proc.States[name], false, &refs); err != nil {
			return "", err
		}
	}
	return single(refs)
}

// depth is how deeply m's states nest, d being m's own depth.
func depth(m aslMachine, d int) int {
	deepest := d
	for _, st := range m.States {
		for _, sub := range children(st) {
			deepest = max(deepest, depth(sub, d+1))
			if deepest > maxDepth {
				return deepest
			}
		}
	}
	return deepest
}

// children are the state machines nested in st: its branches and its item
// processor.
func children(st aslState) []aslMachine {
	subs := slices.Clone(st.Branches)
	for _, p := range []*aslMachine{st.ItemProcessor, st.Iterator} {
		if p != nil {
			subs = append(subs, *p)
		}
	}
	return subs
}

// itemProcessor finds the item processor of the Distributed Map state
// labelled label in doc, or takes doc as that item processor.
func itemProcessor(doc aslMachine, label string) (aslMachine, error) {
	var maps []aslState
	var walk func(m aslMachine)
	walk = func(m aslMachine) {
		for _, st := range m.States {
			if st.distributed() {
				maps = append(maps, st)
			}
			for _, sub := range children(st) {
				walk(sub)
			}
		}
	}
	walk(doc)
	for _, st := range maps {
		if st.Label == label {
			return *st.ItemProcessor, nil
		}
	}
	switch {
	case doc.ProcessorConfig != nil || len(maps) == 0:
		return doc, nil
	case len(maps) == 1 && maps[0].Label == "":
		return *maps[0].ItemProcessor, nil
	}
	return aslMachine{}, fmt.Errorf("%w: no Distributed Map state labelled %q", ErrNoHint, label)
}

// lambdaInvoke matches the Resource of the Lambda service integration.
var lambdaInvoke = regexp.MustCompile(`^arn:[a-z-]+:states:::lambda:invoke(\.waitForTaskToken)?$`)

// invocations appends the functions state st (named name) and the states
// nested in it invoke; nested says st runs in a Parallel branch or a Map
// iteration, where a child may invoke a function more than once at a time.
func invocations(name string, st aslState, nested bool, refs *[]string) error {
	ref, err := taskFunction(name, st)
	if err != nil {
		return err
	}
	if ref != "" {
		if nested {
			return fmt.Errorf("%w: state %q invokes %s within a Parallel or Map state, maybe more than once at a time per child", ErrNoHint, name, ref)
		}
		*refs = append(*refs, ref)
	}
	for _, sub := range children(st) {
		for _, n := range slices.Sorted(maps.Keys(sub.States)) {
			if err := invocations(n, sub.States[n], true, refs); err != nil {
				return err
			}
		}
	}
	return nil
}

// taskFunction is the function a Task state invokes; empty when it is not
// a Task invoking a Lambda function.
func taskFunction(name string, st aslState) (string, error) {
	if st.Type != "Task" {
		return "", nil
	}
	if strings.HasPrefix(st.Resource, "arn:") && strings.Contains(st.Resource, ":lambda:") && strings.Contains(st.Resource, ":function:") {
		return st.Resource, nil
	}
	if !lambdaInvoke.MatchString(st.Resource) {
		return "", nil
	}
	for _, args := range []json.RawMessage{st.Parameters, st.Arguments} {
		if len(args) == 0 {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(args, &fields); err != nil {
			// A JSONata expression for all the arguments.
			return "", fmt.Errorf("%w: state %q computes the arguments of lambda:invoke at run time", ErrNoHint, name)
		}
		if _, ok := fields["FunctionName.$"]; ok {
			return "", fmt.Errorf("%w: state %q takes the function name from its input", ErrNoHint, name)
		}
		var fn string
		if err := json.Unmarshal(fields["FunctionName"], &fn); err != nil {
			return "", fmt.Errorf("%w: state %q has no FunctionName string", ErrNoHint, name)
		}
		if strings.HasPrefix(strings.TrimSpace(fn), "{%") {
			return "", fmt.Errorf("%w: state %q computes the function name at run time", ErrNoHint, name)
		}
		return fn, nil
	}
	return "", fmt.Errorf("%w: state %q calls lambda:invoke without arguments", ErrNoHint, name)
}

// functionName is the grammar of a function's name, as Lambda validates it.
var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// unqualified splits a function reference (name, partial or full ARN, each
// with an optional version or alias) into its unqualified form and the
// function's name.
func unqualified(ref string) (form, name string, err error) {
	parts := strings.Split(ref, ":")
	if len(parts) <= 2 {
		form, name = parts[0], parts[0]
	} else if i := slices.Index(parts, "function"); i >= 0 && i+1 < len(parts) && len(parts) <= i+3 {
		form, name = strings.Join(parts[:i+2], ":"), parts[i+1]
	}
	if !functionName.MatchString(name) {
		return "", "", fmt.Errorf("%w: %q is not a Lambda function name or ARN", ErrNoHint, ref)
	}
	return form, name, nil
}

// single reduces the function references of an item processor to the one
// function they name, in its most specific form.
func single(refs []string) (string, error) {
	if len(refs) == 0 {
		return "", fmt.Errorf("%w: the item processor invokes no Lambda function", ErrNoHint)
	}
	var best, bestName string
	for _, ref := range refs {
		form, name, err := unqualified(ref)
		if err != nil {
			return "", err
		}
		switch {
		case best == "":
			best, bestName = form, name
		case name != bestName, form != name && best != bestName && form != best:
			return "", fmt.Errorf("%w: the item processor invokes more than one Lambda function (%s, %s)", ErrNoHint, best, form)
		case form != name:
			best = form
		}
	}
	return best, nil
}
