package eligibility

import "fmt"

// assert panics when a condition the package relies on does not hold: a bug,
// never a rejection. Inputs from callers are judged with Reasons, not asserts.
//
// Its arguments are evaluated, and boxed, even when cond holds: on hot paths
// test the condition first and call fail.
func assert(cond bool, format string, args ...any) {
	if !cond {
		fail(format, args...)
	}
}

// fail panics as a failed assertion.
func fail(format string, args ...any) {
	panic(fmt.Sprintf("eligibility: assertion failed: "+format, args...))
}
