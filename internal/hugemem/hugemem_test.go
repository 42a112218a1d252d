package hugemem

import (
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

type slot struct {
	hash uint64
	ref  uint32
}

func TestMakeIsZeroedAndKeptAlive(t *testing.T) {
	for _, n := range []int{0, 1, 1000, hugePage / 8, 3 * hugePage / 8, padBelow/8 + 12345} {
		s := Make[uint64](n)
		if len(s) != n || cap(s) < n {
			t.Fatalf("Make(%d): len %d cap %d", n, len(s), cap(s))
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("Make(%d)[%d] = %d, want 0", n, i, v)
			}
		}
		for i := range s {
			s[i] = uint64(i)*2654435761 + 1
		}
		// Only the slice points into the memory now: the collector must
		// keep it whole, and nothing else may be placed in it.
		for range 3 {
			runtime.GC()
			_ = make([]byte, 1<<20)
		}
		for i, v := range s {
			if v != uint64(i)*2654435761+1 {
				t.Fatalf("Make(%d)[%d] = %d after collections, want %d", n, i, v, uint64(i)*2654435761+1)
			}
		}
	}
	structs := Make[slot](hugePage/16 + 1)
	structs[len(structs)-1] = slot{hash: 7, ref: 9}
	runtime.GC()
	if got := structs[len(structs)-1]; got != (slot{hash: 7, ref: 9}) {
		t.Fatalf("last slot %+v", got)
	}
}

func TestMakeRefusesPointers(t *testing.T) {
	for name, make := range map[string]func(){
		"pointer":        func() { Make[*int](1) },
		"string":         func() { Make[string](1) },
		"struct w/slice": func() { Make[struct{ b []byte }](1) },
		"array of maps":  func() { Make[[2]map[int]int](1) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatalf("Make accepted a type with pointers")
				}
			}()
			make()
		})
	}
}

func TestMakeStartsPaddedTablesOnAHugePage(t *testing.T) {
	if !supported() {
		t.Skip("huge pages are not advised here")
	}
	s := Make[uint64](hugePage / 8)
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(s))); p%hugePage != 0 {
		t.Fatalf("a 2 MiB table starts at %#x, not on a huge page", p)
	}
}

func TestParseMode(t *testing.T) {
	for raw, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never\n": "always",
		"always madvise [never]\n": "never",
		"always madvise never\n":   "",
		"always [madvise never\n":  "",
		"[]":                       "",
		"[a [b] c]":                "",
		"":                         "",
	} {
		if got := parseMode(raw); got != want {
			t.Errorf("parseMode(%q) = %q, want %q", raw, got, want)
		}
	}
}

func FuzzParseMode(f *testing.F) {
	f.Add("always [madvise] never\n")
	f.Add("[always] madvise never")
	f.Add("[")
	f.Fuzz(func(t *testing.T, raw string) {
		got := parseMode(raw)
		if got != "" && (!strings.Contains(raw, "["+got+"]") || strings.ContainsAny(got, "[] \n")) {
			t.Fatalf("parseMode(%q) = %q: not a bracketed word of it", raw, got)
		}
	})
}
