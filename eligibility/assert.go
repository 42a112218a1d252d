package eligibility

import "fmt"

// assert panics when a condition the package relies on does not hold: a bug,
// never a rejection. Inputs from callers are judged with Reasons, not asserts.
func assert(cond bool, format string, args ...any) {
	if !cond {
		panic(fmt.Sprintf("eligibility: assertion failed: "+format, args...))
	}
}
