//go:build linux

package ledger

import (
	"syscall"
	"time"
)

// rusageThread is Linux's RUSAGE_THREAD, which the syscall package does not
// name.
const rusageThread = 1

// threadCPU is the CPU time the calling thread has used, user and system.
// Under runtime.LockOSThread that is its goroutine's alone (with the GC work
// it was made to assist), not the commits running beside it.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
