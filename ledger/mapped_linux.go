//go:build linux

package ledger

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMappedPages watches, at once and then every interval until stop is
// called, the file pages resident in this process, and once they pass
// budget bytes drops those of the first size bytes of db's file that
// reading it through bbolt's memory map made resident. stop returns how
// many times it dropped them. A restore's check reads the whole file:
// gigabytes for a register of a million investors, which all stayed
// resident (counted in the process's RSS) although the kernel's page cache
// keeps them anyway. The map is read-only and shared, so a page dropped
// while a reader still uses it is read back from the page cache on its
// next access: nothing a reader holds changes. The caller keeps bbolt from
// remapping the file until stop returns, with a read transaction open (a
// remap waits for every one).
//
// The size is the caller's (a read transaction's Size): the file may have
// been renamed since it was opened, so its path may name another file or
// none.
//
// Dropping on a budget rather than on every tick matters: a drop costs a
// walk of the whole mapping and makes the readers fault their working set
// back in, and dropping every 100 ms made a 3 GB restore three times slower.
func releaseMappedPages(db *bolt.DB, size int64, interval time.Duration, budget int64) (stop func() (releases int)) {
	if size <= 0 {
		return func() int { return 0 }
	}
	// bbolt maps at least the file's size from Info().Data.
	start := db.Info().Data
	done := make(chan struct{})
	var released int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if residentShared() > budget {
				releaseMapped(start, uintptr(size))
				released++
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int {
		close(done)
		wg.Wait()
		return released
	}
}

// residentShared is the process's resident shared (file-backed) memory in
// bytes, from /proc/self/statm; 0 if it cannot tell.
func residentShared() int64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(raw))
	if len(fields) < 3 {
		return 0
	}
	pages, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// releaseMapped drops the resident pages of size bytes mapped from start.
// Advice only: an error changes nothing but the memory held.
func releaseMapped(start, size uintptr) {
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, size, unix.MADV_DONTNEED)
}
