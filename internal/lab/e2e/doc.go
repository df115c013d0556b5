// Package e2e holds the end-to-end tests: the real watch and tune bootstraps
// under the AWS Lambda Runtime Interface Emulator, driven with the sample
// events of events/, against real local AWS endpoints: moto_server, which
// executes a real Distributed Map (moto_test.go), and the simulated account
// of internal/lab/simserver, which runs a job to its end against a downstream
// with a capacity (local_test.go).
package e2e
