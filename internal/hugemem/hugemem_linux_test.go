//go:build linux

package hugemem

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// vmFlags returns the VmFlags of the mapping of /proc/self/smaps that holds
// address p.
func vmFlags(t *testing.T, p uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := strings.Cut(strings.Fields(line)[0], "-"); ok && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = uintptr(a) <= p && p < uintptr(b)
				continue
			}
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.Fields(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	t.Fatalf("no mapping holds %#x", p)
	return nil
}

func advised(flags []string) bool {
	for _, f := range flags {
		if f == "hg" {
			return true
		}
	}
	return false
}

// The kernel must have taken the advice: VmFlags "hg" (MADV_HUGEPAGE) on
// the table's huge pages.
func TestMakeAdvisesHugePages(t *testing.T) {
	if !supported() {
		t.Skip("transparent huge pages are off")
	}
	padded := Make[uint64](hugePage / 8)
	if f := vmFlags(t, uintptr(unsafe.Pointer(&padded[0]))); !advised(f) {
		t.Errorf("a 2 MiB table's mapping has flags %v, want hg", f)
	}
	large := Make[uint64](padBelow/8 + 1)
	mid := uintptr(unsafe.Pointer(&large[len(large)/2]))
	if f := vmFlags(t, mid&^(hugePage-1)); !advised(f) {
		t.Errorf("a large table's mapping has flags %v, want hg", f)
	}
}
