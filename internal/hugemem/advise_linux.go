//go:build linux

package hugemem

import (
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mode is the system's transparent huge page setting, "" if unknown, read
// once when first asked: a process that makes no table (the command-line
// tools) never reads it.
var mode = sync.OnceValue(thpMode)

// supported is false where transparent huge pages are off ("never") or
// absent, when advice would change nothing.
func supported() bool {
	m := mode()
	return m == "always" || m == "madvise"
}

// thpMode reads the setting.
func thpMode() string {
	raw, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	return parseMode(string(raw))
}

// advise asks for huge pages over the n bytes at p, n a multiple of
// hugePage. MADV_HUGEPAGE covers what is not yet touched; MADV_COLLAPSE
// (Linux 6.1) also gathers pages the heap had touched before, when the
// memory was reused. Advice only: where either is refused, the table works
// on small pages as before.
func advise(p unsafe.Pointer, n uintptr) {
	if n == 0 {
		return
	}
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(p), n, unix.MADV_HUGEPAGE)
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(p), n, unix.MADV_COLLAPSE)
}
