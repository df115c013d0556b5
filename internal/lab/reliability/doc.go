// Package reliability proves that maptuner is safe under faults: the fault
// matrix runs the real tuner.Tick against the simulated account and the
// registry with every outside call failing in every way it can fail, and the
// soak runs a simulated day with faults on. It has tests only; the figures
// they write are in docs/RELIABILITY.md.
package reliability
