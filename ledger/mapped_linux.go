//go:build linux

package ledger

import (
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMappedPages drops, every interval until stop is called, the pages
// of db's file that reading it through bbolt's memory map made resident in
// this process. A restore's check reads the whole file once: gigabytes for a
// register of a million investors, which all stayed resident (counted in
// the process's RSS) although each is read once and the kernel's page cache
// keeps them anyway. The map is read-only and shared, so a page dropped
// while a reader still uses it is read back from the page cache on its next
// access: nothing a reader holds changes. Only for a file no one writes.
func releaseMappedPages(db *bolt.DB, interval time.Duration) (stop func()) {
	info, err := os.Stat(db.Path())
	if err != nil || info.Size() == 0 {
		return func() {}
	}
	// bbolt maps at least the file's size from Info().Data.
	start, size := db.Info().Data, uintptr(info.Size())
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				releaseMapped(start, size)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// releaseMapped drops the resident pages of size bytes mapped from start.
// Advice only: an error changes nothing but the memory held.
func releaseMapped(start, size uintptr) {
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, size, unix.MADV_DONTNEED)
}
