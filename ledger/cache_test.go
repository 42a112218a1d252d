package ledger

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/shopspring/decimal"
	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
	bolt "go.etcd.io/bbolt"
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
	aRef, _ := c.index.get(maphash.Bytes(c.seed, []byte("a")))
	c.index.set(maphash.Bytes(c.seed, []byte("b")), aRef)
	if _, _, known := c.get([]byte("b")); known {
		t.Error("get(b) returned a's record")
	}
	// Fill past the bound: the cache compacts and stays within it.
	big := bytes.Repeat([]byte{7}, 1000)
	for i := 0; i < 3*cacheChunkSize/len(big); i++ {
		c.put([]byte(fmt.Sprint(i)), big)
		if n := len(c.chunks) * cacheChunkSize; n > c.limit {
			t.Fatalf("after %d puts the cache holds %d bytes of chunks, limit %d", i+1, n, c.limit)
		}
	}
	c.put([]byte("huge"), make([]byte, cacheChunkSize))
	if _, _, known := c.get([]byte("huge")); known {
		t.Error("a record larger than a chunk was cached")
	}
}

// TestRecordCacheChunkGroups checks that chunks come in groups, twice the
// last up to a sixteenth of the bound, each chunk its own cacheChunkSize
// bytes (filling one leaves its neighbours as they were), and that
// compaction starts a fresh group rather than use a spare of the old one.
func TestRecordCacheChunkGroups(t *testing.T) {
	c := newRecordCache(64 * cacheChunkSize) // groups of 2, then 4
	var chunks [][]byte
	var groups []int
	for i := range 8 {
		ch := c.newChunk()
		if len(ch) != 0 || cap(ch) != cacheChunkSize {
			t.Fatalf("chunk %d: len %d cap %d", i, len(ch), cap(ch))
		}
		chunks = append(chunks, append(ch, bytes.Repeat([]byte{byte(i + 1)}, cacheChunkSize)...))
		groups = append(groups, c.group)
	}
	if want := []int{2, 2, 4, 4, 4, 4, 4, 4}; fmt.Sprint(groups) != fmt.Sprint(want) {
		t.Errorf("group sizes %v, want %v", groups, want)
	}
	for i, ch := range chunks {
		if cap(ch) != cacheChunkSize || bytes.Count(ch, []byte{byte(i + 1)}) != cacheChunkSize {
			t.Fatalf("chunk %d changed after its neighbours were filled", i)
		}
	}
	if len(c.spare) != 2 {
		t.Fatalf("%d spare chunks, want 2", len(c.spare))
	}
	c.put([]byte("k"), []byte("v")) // takes one spare
	if len(c.spare) != 1 {
		t.Fatalf("%d spare chunks after a put, want 1", len(c.spare))
	}
	spare := unsafe.SliceData(c.spare[0])
	c.compact()
	if len(c.chunks) != 1 || unsafe.SliceData(c.chunks[0]) == spare {
		t.Errorf("compaction used a spare chunk of the old group")
	}
	if v, present, known := c.get([]byte("k")); !known || !present || string(v) != "v" {
		t.Errorf("after compaction get(k) = %q %v %v", v, present, known)
	}
}

// TestRefIndex holds the record caches' index to a Go map under random
// sets, replacements and deletions, with hashes drawn so that many share
// their low bits: long runs of probing, and deletions inside them, which
// must move the entries after the hole back within reach.
func TestRefIndex(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 11))
		var x refIndex
		if seed%3 == 0 {
			x = newRefIndex(rng.IntN(200))
		}
		want := map[uint64]uint32{}
		hash := func() uint64 {
			if rng.IntN(2) == 0 && len(want) > 0 {
				for h := range want { // one already in: a replacement or deletion
					return h
				}
			}
			// A few low-bit patterns, so runs form whatever the size.
			return rng.Uint64()<<8 | uint64(rng.IntN(4))
		}
		for step := range 3000 {
			h := hash()
			switch op := rng.IntN(10); {
			case op < 6:
				ref := rng.Uint32N(1 << 31)
				x.set(h, ref)
				want[h] = ref
			case op < 9:
				x.delete(h)
				delete(want, h)
			default:
				x.delete(rng.Uint64()) // most likely absent
			}
			if x.len() != len(want) {
				t.Fatalf("seed %d step %d: len %d, want %d", seed, step, x.len(), len(want))
			}
			if step%100 == 0 || step == 2999 {
				for h, ref := range want {
					if got, ok := x.get(h); !ok || got != ref {
						t.Fatalf("seed %d step %d: get(%x) = %d %v, want %d", seed, step, h, got, ok, ref)
					}
				}
				seen := 0
				for h, ref := range x.all {
					if want[h] != ref {
						t.Fatalf("seed %d step %d: all yields %x=%d, want %d", seed, step, h, ref, want[h])
					}
					seen++
				}
				if seen != len(want) {
					t.Fatalf("seed %d step %d: all yields %d entries, want %d", seed, step, seen, len(want))
				}
			}
		}
	}
}

// TestRecordCacheCompacts rewrites a working set smaller than half the bound
// many times over the bound's worth of bytes: compaction must keep every key
// known with its latest value (a cache that started over would forget them),
// never change a value it handed out before, and keep live in step with the
// records the index points to.
func TestRecordCacheCompacts(t *testing.T) {
	c := newRecordCache(4 * cacheChunkSize)
	const keys = 1000
	// Sizes vary from round to round, so the bytes a replaced record
	// leaves as garbage are not the new one's.
	val := func(k, round int) []byte { return fmt.Appendf(nil, "%0*d", 200+(k+round)%7, k*1_000_000+round) }
	held, heldWant := []byte(nil), []byte(nil)
	for round := 0; round < 40; round++ { // 40 × 1000 × ~210 bytes: 2 bounds' worth
		for k := 0; k < keys; k++ {
			c.put(fmt.Appendf(nil, "k%d", k), val(k, round))
		}
		if round == 3 {
			held, _, _ = c.get([]byte("k7"))
			heldWant = bytes.Clone(held)
		}
		for k := 0; k < keys; k++ {
			got, present, known := c.get(fmt.Appendf(nil, "k%d", k))
			if !known || !present || !bytes.Equal(got, val(k, round)) {
				t.Fatalf("round %d: get(k%d) = %.20q… %v %v, want round %d's value", round, k, got, present, known, round)
			}
		}
	}
	if !bytes.Equal(held, heldWant) {
		t.Errorf("a value handed out before compaction changed: %.20q…, want %.20q…", held, heldWant)
	}
	live := 0
	for _, ref := range c.index.all {
		_, _, size := c.record(ref)
		live += size
	}
	if live != c.live {
		t.Errorf("live = %d, the index's records take %d", c.live, live)
	}
	for _, s := range c.index.slots {
		if s.ref == 0 {
			continue
		}
		if _, _, size := c.record(s.ref - 1); int(s.size) != size {
			t.Fatalf("slot of ref %d says %d bytes, its record takes %d", s.ref-1, s.size, size)
		}
	}
}

// TestRecordCacheBoundsWorkingSet gives a cache more distinct keys than it
// can hold: it stays within its bound and keeps answering what it holds.
func TestRecordCacheBoundsWorkingSet(t *testing.T) {
	c := newRecordCache(2 * cacheChunkSize)
	for k := 0; k < 30_000; k++ { // ~3 bounds' worth of distinct records
		key := fmt.Appendf(nil, "k%d", k)
		c.put(key, bytes.Repeat([]byte{byte(k)}, 200))
		if n := len(c.chunks) * cacheChunkSize; n > c.limit {
			t.Fatalf("after %d puts the cache holds %d bytes of chunks, limit %d", k+1, n, c.limit)
		}
		if got, present, known := c.get(key); !known || !present || len(got) != 200 || got[0] != byte(k) {
			t.Fatalf("get(%s) right after put = %v %v, want it", key, present, known)
		}
	}
}

// TestRecordCacheCompleteness checks what ends a cache's claim to hold
// every key of its bucket: a record too large to keep, two keys of one
// hash, a compaction. Anything else keeps it.
func TestRecordCacheCompleteness(t *testing.T) {
	tests := []struct {
		name     string
		change   func(c *recordCache)
		complete bool
	}{
		{"puts and deletions", func(c *recordCache) {
			c.put([]byte("a"), []byte("2"))
			c.put([]byte("c"), nil)
		}, true},
		{"a record larger than a chunk", func(c *recordCache) {
			c.put([]byte("huge"), make([]byte, cacheChunkSize))
		}, false},
		{"two keys of one hash", func(c *recordCache) {
			// z takes a's hash: a's record would be dropped by z's put.
			h := maphash.Bytes(c.seed, []byte("z"))
			aRef, _ := c.index.get(maphash.Bytes(c.seed, []byte("a")))
			c.index.set(h, aRef)
			c.put([]byte("z"), []byte("9"))
		}, false},
		{"a compaction", func(c *recordCache) {
			c.compact()
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newRecordCache(2 * cacheChunkSize)
			c.put([]byte("a"), []byte("1"))
			c.put([]byte("b"), nil)
			c.complete = true
			tc.change(c)
			if c.isComplete() != tc.complete {
				t.Errorf("complete = %v, want %v", c.isComplete(), tc.complete)
			}
		})
	}
}

// TestCacheWarmIsCompleteUpToItsBound checks that warm claims a complete
// cache of parties and of instruments when every record fit (a store
// opened on a small register), never of holdings (which it does not load),
// and not when it stopped at the bound (a parties cache already past half
// its bound). TestCacheKeepsResults holds the answers of complete and
// partial caches to each other.
func TestCacheWarmIsCompleteUpToItsBound(t *testing.T) {
	h := newHarness(t)
	h.propertyWorld()
	path := h.s.cfg.Path
	h.s.Close()
	s := openStore(t, path, true)
	c := s.cache
	if !c.parties.isComplete() || !c.instruments.isComplete() || c.holdings.isComplete() {
		t.Fatalf("complete after warm: parties %v instruments %v holdings %v, want true true false", c.parties.isComplete(), c.instruments.isComplete(), c.holdings.isComplete())
	}
	s.cache = newStateCache(MinCacheBytes)
	s.cache.parties.limit = 2 * cacheChunkSize
	if err := s.view(func(tx *kv.Tx) error {
		for k := 0; k < 3000; k++ {
			// Fill the parties cache past half its bound first.
			s.cache.parties.put(fmt.Appendf(nil, "filler-%d", k), bytes.Repeat([]byte{1}, 400))
		}
		s.cache.warm(tx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s.cache.parties.isComplete() || !s.cache.instruments.isComplete() {
		t.Errorf("complete: parties %v, instruments %v; want false (warm stopped at the bound), true", s.cache.parties.isComplete(), s.cache.instruments.isComplete())
	}
}

// TestCacheKeepsResults applies the same random batches to a store that keeps
// its cache, to one reopened before every batch (its cache warmed afresh
// each time) and to one whose caches never claim to hold every key (each
// key they do not know is read from the file), and checks they return the
// same bytes and reach the same state.
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
			partial := openStore(t, filepath.Join(t.TempDir(), "partial.db"), true)
			for _, rc := range []*recordCache{partial.cache.parties, partial.cache.instruments, partial.cache.holdings} {
				rc.complete = false
			}
			partial.Apply(replayPrefix(t, h))
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
				part := partial.Apply([]Batch{b})
				for i := range items {
					if !bytes.Equal(warm[0][i], got[0][i]) || !bytes.Equal(warm[0][i], part[0][i]) {
						t.Fatalf("seed %d step %d item %d: warm cache %s, cold %s, partial %s", seed, step, i, warm[0][i], got[0][i], part[0][i])
					}
				}
			}
			hw := mustHashes(t, h.s)
			hc := mustHashes(t, cold)
			hp := mustHashes(t, partial)
			if hw != hc || hw != hp {
				t.Fatalf("seed %d: warm cache hashes %+v, cold %+v, partial %+v", seed, hw, hc, hp)
			}
		})
	}
}

// TestConfigCacheBytes checks the bounds Validate puts on CacheBytes.
func TestConfigCacheBytes(t *testing.T) {
	for _, tc := range []struct {
		bytes int
		ok    bool
	}{
		{0, true},
		{MinCacheBytes, true},
		{MinCacheBytes - 1, false},
		{MaxCacheBytes, true},
		{MaxCacheBytes + 1, false},
		{-1, false},
	} {
		err := Config{Path: "x", CacheBytes: tc.bytes}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("Validate with CacheBytes %d = %v, want ok %v", tc.bytes, err, tc.ok)
		}
	}
	// Every share of the largest cache stays addressable.
	c := newStateCache(MaxCacheBytes)
	for _, rc := range []*recordCache{c.parties, c.instruments, c.holdings} {
		if rc.limit < 2*cacheChunkSize || rc.limit%cacheChunkSize != 0 {
			t.Errorf("share %d of %d bytes", rc.limit, MaxCacheBytes)
		}
	}
}

// BenchmarkCacheWarm warms a record cache from a file of 100,000 and
// 1,000,000 parties, as Open and a restore do (the parties are most of
// the warm; one record each of the shape BenchmarkRegisterMint registers).
//
//	go test ./ledger -run '^$' -bench BenchmarkCacheWarm -benchtime 10x
func BenchmarkCacheWarm(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("parties=%d", n), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "parties.db"), 0o600, &bolt.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			kyc := created.AddDate(1, 0, 0)
			if err := db.Update(func(tx *bolt.Tx) error {
				for _, name := range [][]byte{bucketParties, bucketInstruments} {
					if _, err := tx.CreateBucket(name); err != nil {
						return err
					}
				}
				parties := tx.Bucket(bucketParties)
				parties.FillPercent = 1
				var val []byte
				for i := range n {
					p := transfer.Party{Role: eligibility.RoleInvestor, Status: eligibility.StatusAccredited, Jurisdiction: "US",
						KYCExpiresAt: &kyc, Custodian: "cus-1", CreatedAt: created}
					val = encodeParty(val[:0], &p)
					if err := parties.Put([]byte(investorID(i)), val); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				c := newStateCache(DefaultCacheBytes)
				if err := viewKV(db, func(tx *kv.Tx) error { c.warm(tx); return nil }); err != nil {
					b.Fatal(err)
				}
				if !c.parties.isComplete() {
					b.Fatal("the warm did not read every party")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/party")
		})
	}
}

// TestDecodedInstruments checks the cache of decoded instruments: the same
// record gives the instrument decoded before, a changed record (a new
// supply) a fresh decode of it, and more symbols than its bound empty it
// rather than grow it.
func TestDecodedInstruments(t *testing.T) {
	c := newStateCache(MinCacheBytes)
	in := &transfer.Instrument{Symbol: "ACME", Name: "Acme", Issuer: "iss-1", Decimals: 2, Supply: decimal.RequireFromString("10")}
	raw := encodeInstrument(nil, in)
	first := c.instrument([]byte("ACME"), raw)
	if first.Name != "Acme" || !first.Supply.Equal(in.Supply) {
		t.Fatalf("decoded %+v, want %+v", first, in)
	}
	if again := c.instrument([]byte("ACME"), bytes.Clone(raw)); again != first {
		t.Fatal("the same record decoded again")
	}
	in.Supply = decimal.RequireFromString("12.5")
	changed := c.instrument([]byte("ACME"), encodeInstrument(nil, in))
	if changed == first || !changed.Supply.Equal(in.Supply) || !first.Supply.Equal(decimal.RequireFromString("10")) {
		t.Fatalf("after a change: %v (first now %v), want a new decode with supply %v", changed.Supply, first.Supply, in.Supply)
	}
	// The new version took the old one's place: its symbol, and the
	// cache's copy of the record, which the next lookups compare with.
	if changed.Symbol != "ACME" || changed.Name != "Acme" {
		t.Fatalf("new version decoded as %q %q", changed.Symbol, changed.Name)
	}
	if again := c.instrument([]byte("ACME"), encodeInstrument(nil, in)); again != changed {
		t.Fatal("the new version decoded again")
	}
	if back := c.instrument([]byte("ACME"), raw); back == changed || !back.Supply.Equal(decimal.RequireFromString("10")) {
		t.Fatalf("the first version again: supply %v, want a new decode with 10", back.Supply)
	}
	for i := range maxDecodedInstruments + 10 {
		sym := fmt.Sprintf("S%d", i)
		c.instrument([]byte(sym), encodeInstrument(nil, &transfer.Instrument{Symbol: sym}))
		if len(c.decoded) > maxDecodedInstruments {
			t.Fatalf("%d decoded instruments, bound %d", len(c.decoded), maxDecodedInstruments)
		}
	}
}
