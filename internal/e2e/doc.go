// Package e2e holds the end-to-end tests: the real watch and tune bootstraps
// under the AWS Lambda Runtime Interface Emulator, against real local AWS
// endpoints (moto_server), driven with the sample events of events/.
package e2e
