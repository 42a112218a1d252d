//go:build !linux

package ledger

import "time"

// threadCPU falls back to the whole process's CPU time where a thread's is
// not measured.
func threadCPU() (time.Duration, bool) { return processCPU() }
