// Package iamcheck holds the least-privilege test of template.yaml. It
// fails when a function of the template is granted a wildcard action, a
// resource of "*" other than for an action that has no resource type, a
// Step Functions resource outside the state machines that the
// StateMachineNamePattern parameter selects, an action that no code path
// of the function calls, or when the code calls an operation whose action
// is not granted. The package has no code outside its tests.
package iamcheck
