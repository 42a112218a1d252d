//go:build linux

package ledger

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f's bytes in [off,
// off+n) to the disk, without waiting for it (sync_file_range with
// SYNC_FILE_RANGE_WRITE). It promises nothing about durability: the
// caller still syncs the file. A restore writes gigabytes of pages and
// then syncs them; started as it goes, the disk writes while the stream
// decompresses, and the final sync has little left to wait for. A kernel
// or file system that refuses it loses only that overlap.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
