//go:build unix

package ledger

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used, user and system, on
// all its threads. On a shared machine it varies less than the wall time.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
