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

// processFaults is the page faults this process has taken: minor (the page
// was in memory, only mapped) and major (it was read from the disk).
func processFaults() (minor, major int64, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	return int64(ru.Minflt), int64(ru.Majflt), true
}

// processSystemCPU is the CPU time the kernel has spent for this process.
func processSystemCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Stime.Nano()), true
}
