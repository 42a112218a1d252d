package strtab

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestTableAsMap holds Get to a map's lookup, for random sets (some whose
// keys share their length and sampled bytes, which the fallback serves)
// and for keys of them, near them and far from them.
func TestTableAsMap(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	alphabet := "abc_-0123456789"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.Intn(len(alphabet))]
		}
		return string(b)
	}
	fellBack := 0
	for round := range 2000 {
		m := map[string]int{}
		n := r.Intn(40)
		for len(m) < n {
			m[word(r.Intn(16))] = r.Int()
		}
		if round%10 == 0 && n > 2 {
			// Keys alike but for a byte no sample reads.
			base := []byte(word(9))
			for i := range 3 {
				base[3] = alphabet[i]
				m[string(base)] = i
			}
		}
		tab := New(m)
		if tab.Len() != len(m) {
			t.Fatalf("round %d: Len %d, want %d", round, tab.Len(), len(m))
		}
		if !tab.Separated() && len(m) > 0 {
			fellBack++
		}
		probes := []string{"", "x", word(3), word(12)}
		for k := range m {
			probes = append(probes, k, k+"a", k[:len(k)/2])
			if len(k) > 0 {
				b := []byte(k)
				b[len(b)/2] ^= 1
				probes = append(probes, string(b))
			}
		}
		for _, p := range probes {
			want, wantOK := m[p]
			got, ok := tab.Get(p)
			if ok != wantOK || got != want {
				t.Fatalf("round %d: Get(%q) = %d, %v; the map gives %d, %v", round, p, got, ok, want, wantOK)
			}
			if got, ok := tab.GetBytes([]byte(p)); ok != wantOK || got != want {
				t.Fatalf("round %d: GetBytes(%q) = %d, %v; the map gives %d, %v", round, p, got, ok, want, wantOK)
			}
		}
	}
	if fellBack == 0 {
		t.Error("no set fell back to the map: the test does not reach the fallback")
	}
}

// TestTableLayoutIsStable checks that a set gets the same layout each time.
func TestTableLayoutIsStable(t *testing.T) {
	m := map[string]int{}
	for i := range 30 {
		m[fmt.Sprintf("key-%d", i)] = i
	}
	a, b := New(m), New(m)
	if a.mult != b.mult || a.shift != b.shift || fmt.Sprint(a.slots) != fmt.Sprint(b.slots) {
		t.Fatalf("two tables of one set differ: %d/%d and %d/%d", a.mult, a.shift, b.mult, b.shift)
	}
}

func BenchmarkGet(b *testing.B) {
	m := map[string]int{}
	for i, k := range []string{"transfer", "mint", "burn", "register_party", "create_instrument", "force_transfer", "freeze", "thaw", "distribute", "split"} {
		m[k] = i
	}
	tab := New(m)
	keys := []string{"transfer", "mint", "split", "unknown"}
	b.Run("table", func(b *testing.B) {
		for i := range b.N {
			tab.Get(keys[i&3])
		}
	})
	b.Run("map", func(b *testing.B) {
		for i := range b.N {
			_ = m[keys[i&3]]
		}
	})
}
