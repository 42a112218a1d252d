//go:build linux

package hugemem

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mode is the system's transparent huge page setting, "" if unknown.
var mode = thpMode()

// supported is false where transparent huge pages are off ("never") or
// absent, when advice would change nothing.
var supported = mode == "always" || mode == "madvise"

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
