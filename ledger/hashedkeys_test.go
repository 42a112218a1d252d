package ledger

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestHashedKeys holds the set to a map: every key added is found with its
// value, no other key is, and len counts the keys once each, a key added
// twice (with the same value) too.
func TestHashedKeys(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		r := rand.New(rand.NewSource(seed))
		set, want := newHashedKeys(), map[string]uint64{}
		n := r.Intn(5000)
		for i := 0; i < n; i++ {
			key := fmt.Appendf(nil, "k%d", r.Intn(n+1))
			v := uint64(len(key)) * 7919 // a key's value is always the same
			set.add(key, v)
			want[string(key)] = v
		}
		set.seal()
		if set.len() != len(want) {
			t.Fatalf("seed %d: len %d, want %d", seed, set.len(), len(want))
		}
		for i := 0; i <= n+10; i++ {
			key := fmt.Appendf(nil, "k%d", i)
			got, ok := set.find(key)
			if v, in := want[string(key)]; ok != in || got != v {
				t.Fatalf("seed %d: find(%s) = %d, %v; want %d, %v", seed, key, got, ok, v, in)
			}
		}
	}
}
