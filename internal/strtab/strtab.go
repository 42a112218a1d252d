// Package strtab finds a string among a small fixed set (instruction types,
// field names, a rulebook's regimes) without hashing all of it: a few of
// its bytes and its length pick a slot, and one comparison settles it.
//
// A Go map hashes every byte of the key and then probes; for the short
// keys the state machine looks up several times an instruction that was
// about 150 machine instructions a lookup, a few per cent of a transfer.
// New searches for a multiplier that sends the set's keys to distinct
// slots; for a set where none does (keys that share their length and
// sampled bytes), the Table falls back to a map, so it is never wrong,
// only slower.
package strtab

import (
	"maps"
	"math/bits"
	"slices"
	"unsafe"
)

// Table maps each key of a fixed set to its value. The zero Table holds
// nothing. A Table is read-only once made, so safe for concurrent use.
type Table[V any] struct {
	mult  uint32
	shift uint8
	slots []int32 // 1 + the index of the key in the slot; 0: none
	keys  []string
	vals  []V
	// fallback holds the set when no multiplier separates it.
	fallback map[string]V
}

// maxTries bounds the search for a multiplier per table size.
const maxTries = 2048

// New returns a Table of m.
func New[V any](m map[string]V) *Table[V] {
	t := &Table[V]{}
	if len(m) == 0 {
		return t
	}
	// In key order, so the same set gets the same layout every time.
	t.keys = slices.Sorted(maps.Keys(m))
	for _, k := range t.keys {
		t.vals = append(t.vals, m[k])
	}
	// Two to sixteen times as many slots as keys.
	minBits := bits.Len(uint(len(m))) + 1
	for b := minBits; b <= minBits+3; b++ {
		slots := make([]int32, 1<<b)
		mult := uint32(0x9e3779b1)
		for range maxTries {
			if t.place(slots, mult, uint8(32-b)) {
				t.mult, t.shift, t.slots = mult, uint8(32-b), slots
				return t
			}
			clear(slots)
			mult = mult*0x2545f491 + 0x3c6ef372 | 1
		}
	}
	t.fallback = m
	return t
}

// place puts every key in slots by mult and shift, and reports whether no
// two share one.
func (t *Table[V]) place(slots []int32, mult uint32, shift uint8) bool {
	for i, k := range t.keys {
		s := sample(k) * mult >> shift
		if slots[s] != 0 {
			return false
		}
		slots[s] = int32(i + 1)
	}
	return true
}

// sample mixes s's length with its first, second, middle and last bytes.
func sample(s string) uint32 {
	n := len(s)
	h := uint32(n) * 0x01000193
	if n > 0 {
		h ^= uint32(s[0]) | uint32(s[n-1])<<8 | uint32(s[n/2])<<16
		if n > 1 {
			h ^= uint32(s[1]) << 24
		}
	}
	return h
}

// Get returns the value of s and whether s is a key.
func (t *Table[V]) Get(s string) (V, bool) {
	if t.slots == nil {
		v, ok := t.fallback[s]
		return v, ok
	}
	i := t.slots[sample(s)*t.mult>>t.shift]
	if i == 0 || t.keys[i-1] != s {
		var zero V
		return zero, false
	}
	return t.vals[i-1], true
}

// GetBytes is Get of b's bytes; it keeps nothing of b.
func (t *Table[V]) GetBytes(b []byte) (V, bool) {
	return t.Get(unsafe.String(unsafe.SliceData(b), len(b)))
}

// Separated reports whether the Table found its keys distinct slots, so a
// lookup costs no hash of the whole key (false: it falls back to a map).
func (t *Table[V]) Separated() bool { return t.slots != nil }

// Len returns the number of keys.
func (t *Table[V]) Len() int {
	if t.slots == nil {
		return len(t.fallback)
	}
	return len(t.keys)
}
