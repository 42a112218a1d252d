//go:build !linux

package ledger

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// releaseMappedPages does nothing here: see mapped_linux.go.
func releaseMappedPages(*bolt.DB, time.Duration, int64) (stop func()) { return func() {} }
