package ledger

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"path/filepath"
	"testing"
	"time"
)

// TestRecordCache checks hits, absences, replacement, the bound and that a
// colliding hash never returns another key's value.
func TestRecordCache(t *testing.T) {
	c := newRecordCache(2 * cacheChunkSize)
	if _, _, known := c.get([]byte("a")); known {
		t.Fatal("empty cache knows a")
	}
	c.put([]byte("a"), []byte("1"))
	c.put([]byte("b"), nil)
	c.put([]byte("a"), []byte("22"))
	if v, present, known := c.get([]byte("a")); !known || !present || string(v) != "22" {
		t.Errorf("get(a) = %q %v %v, want 22 present known", v, present, known)
	}
	if v, present, known := c.get([]byte("b")); !known || present || v != nil {
		t.Errorf("get(b) = %q %v %v, want absent known", v, present, known)
	}
	// A colliding hash: b's index entry pointing at a's record.
	c.index[maphash.Bytes(c.seed, []byte("b"))] = c.index[maphash.Bytes(c.seed, []byte("a"))]
	if _, _, known := c.get([]byte("b")); known {
		t.Error("get(b) returned a's record")
	}
	// Fill past the bound: the cache starts over and stays within it.
	big := bytes.Repeat([]byte{7}, 1000)
	fresh := true
	for i := 0; i < 3*cacheChunkSize/len(big); i++ {
		fresh = c.put([]byte(fmt.Sprint(i)), big) && fresh
	}
	if fresh {
		t.Error("the cache never started over")
	}
	if n := len(c.chunks) * cacheChunkSize; n > c.limit {
		t.Errorf("cache holds %d bytes of chunks, limit %d", n, c.limit)
	}
	c.put([]byte("huge"), make([]byte, cacheChunkSize))
	if _, _, known := c.get([]byte("huge")); known {
		t.Error("a record larger than a chunk was cached")
	}
}

// TestCacheKeepsResults applies the same random batches to a store that keeps
// its cache and to one reopened before every batch (a cold cache each time),
// and checks they return the same bytes and reach the same state.
func TestCacheKeepsResults(t *testing.T) {
	seeds := int64(4)
	if testing.Short() || raceEnabled {
		seeds = 1
	}
	for seed := int64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			h := newHarness(t)
			h.propertyWorld()
			path := filepath.Join(t.TempDir(), "cold.db")
			cold := openStore(t, path, true)
			cold.Apply(replayPrefix(t, h))
			g := newGen(seed)
			for step := 0; step < 150; step++ {
				if g.r.Intn(8) == 0 {
					h.now = h.now.Add(time.Duration(g.r.Intn(200)) * day)
				}
				items := make([][]byte, 1+g.r.Intn(4))
				for i := range items {
					actor, body := g.next()
					items[i] = InstructionItem(actor, []byte(body))
				}
				h.index++
				b := Batch{Index: h.index, Term: 1, Time: h.now, Items: items}
				warm := h.s.Apply([]Batch{b})
				cold.Close()
				cold = openStore(t, path, true)
				got := cold.Apply([]Batch{b})
				for i := range items {
					if !bytes.Equal(warm[0][i], got[0][i]) {
						t.Fatalf("seed %d step %d item %d: warm cache %s, cold %s", seed, step, i, warm[0][i], got[0][i])
					}
				}
			}
			hw := mustHashes(t, h.s)
			hc := mustHashes(t, cold)
			if hw != hc {
				t.Fatalf("seed %d: warm cache hashes %+v, cold %+v", seed, hw, hc)
			}
		})
	}
}
