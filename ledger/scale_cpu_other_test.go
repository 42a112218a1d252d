//go:build !unix

package ledger

import "time"

// processCPU is not measured here.
func processCPU() (time.Duration, bool) { return 0, false }

// processFaults is not measured here.
func processFaults() (minor, major int64, ok bool) { return 0, 0, false }

// processSystemCPU is not measured here.
func processSystemCPU() (time.Duration, bool) { return 0, false }
