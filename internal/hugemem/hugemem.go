// Package hugemem allocates large pointer-free tables where the kernel may
// back them with huge pages.
//
// The ledger's hash tables, filters and record slabs are read at random, a
// few times an instruction. On 4 KiB pages nearly every such read misses the
// TLB, and where several processes share a core, as a node's raft, API and
// state machine do with their peers, the page walks miss the caches too: on
// the 3-node cluster a follower spent 3 µs an instruction on the single load
// of a Bloom filter's block. Linux's default (transparent_hugepage=madvise)
// backs memory with 2 MiB pages only where a process advises it, and the Go
// runtime advises none of its heap, so the tables ask for it themselves.
package hugemem

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"
)

// hugePage is the size of a huge page on the platforms that advise.
const hugePage = 2 << 20

// padBelow is the size under which Make pads a table to start it on a huge
// page boundary: a table this small would otherwise have too little of
// itself on whole huge pages. From it on, only the whole huge pages inside
// the table are advised, and padding would waste memory for little.
const padBelow = 32 << 20

// Mode is the system's transparent huge page setting ("always", "madvise"
// or "never"), "" where there is none to read: a node logs it at start, since
// "always" also gives the rest of the heap huge pages and "never" none.
func Mode() string { return mode() }

// Make returns a zeroed slice of n T, which must hold no pointers (it
// panics otherwise): the slice may live inside a byte slice, which the
// garbage collector does not scan. From 2 MiB on, the huge pages it spans
// are advised where the platform allows; smaller tables are plain slices.
func Make[T any](n int) []T {
	t := reflect.TypeFor[T]()
	if !pointerFree(t) {
		panic(fmt.Sprintf("hugemem: %v holds pointers", t))
	}
	size := uintptr(n) * t.Size()
	if size < hugePage || !supported() {
		return make([]T, n)
	}
	if size >= padBelow {
		s := make([]T, n)
		p := unsafe.Pointer(unsafe.SliceData(s))
		skip := (hugePage - uintptr(p)%hugePage) % hugePage
		advise(unsafe.Add(p, skip), (size-skip)&^(hugePage-1))
		return s
	}
	// The slack before the boundary is never written by the table: where
	// the heap grows for it, it costs address space, not memory.
	buf := make([]byte, size+hugePage)
	p := unsafe.Pointer(unsafe.SliceData(buf))
	start := unsafe.Add(p, (hugePage-uintptr(p)%hugePage)%hugePage)
	advise(start, size&^(hugePage-1))
	return unsafe.Slice((*T)(start), n)
}

// pointerFree reports whether values of t hold no pointers.
func pointerFree(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return pointerFree(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !pointerFree(t.Field(i).Type) {
				return false
			}
		}
		return true
	default:
		return false
	}
}

// parseMode returns the bracketed word of the kernel's
// transparent_hugepage/enabled ("always [madvise] never"), "" if there is
// none.
func parseMode(raw string) string {
	_, rest, ok := strings.Cut(raw, "[")
	if !ok {
		return ""
	}
	word, _, ok := strings.Cut(rest, "]")
	if !ok || strings.ContainsAny(word, "[ \n") {
		return ""
	}
	return word
}
