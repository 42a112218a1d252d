package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// refRoot is RFC 6962's Merkle tree hash (section 2.1) of leaves, each
// leaf's data being 32 bytes, computed by its recursive definition: the
// reference the stored tree is held to, independent of tlog's bookkeeping.
func refRoot(leaves [][journalHashSize]byte) tlog.Hash {
	switch n := len(leaves); n {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0x00}, leaves[0][:]...))
	default:
		k := 1
		for k*2 < n {
			k *= 2
		}
		l, r := refRoot(leaves[:k]), refRoot(leaves[k:])
		return sha256.Sum256(append(append([]byte{0x01}, l[:]...), r[:]...))
	}
}

// treeDB opens a bare bbolt file with an empty tree bucket and journal.
func treeDB(t testing.TB) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "tree.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = updateKV(db, func(tx *kv.Tx) error {
		if _, err := tx.Bolt().CreateBucket(bucketTree); err != nil {
			return err
		}
		_, err := tx.Bolt().CreateBucket(bucketJournal)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestTreeProofs is a property test of the stored tree against tlog's
// verification and the RFC's definition. Method: append 2,000 random leaves
// with appendLeaf (in transactions of random sizes, as batches commit), then
// for random sizes n ≤ 2,000: the root at n is RFC 6962's tree hash of the
// first n leaves; for a random i < n the inclusion proof passes
// tlog.CheckRecord, and fails for another leaf or at another index; for a
// random m ≤ n the consistency proof passes tlog.CheckTree, and fails for
// another old root.
func TestTreeProofs(t *testing.T) {
	seed := rand.Int63()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	const total = 2000
	leaves := make([][journalHashSize]byte, total)
	for i := range leaves {
		r.Read(leaves[i][:])
	}
	db := treeDB(t)
	for next := 0; next < total; {
		end := min(total, next+1+r.Intn(200))
		if err := updateKV(db, func(tx *kv.Tx) error {
			for ; next < end; next++ {
				if err := appendLeaf(tx, uint64(next+1), leaves[next]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatalf("seed %d: append: %v", seed, err)
		}
	}
	err := viewKV(db, func(tx *kv.Tx) error {
		tree := treeOf(tx)
		root := func(n uint64) tlog.Hash {
			h, err := tlog.TreeHash(int64(n), tree)
			if err != nil {
				t.Fatalf("seed %d: TreeHash(%d): %v", seed, n, err)
			}
			return h
		}
		if got, err := treeSize(tree.tree); err != nil || got != total {
			t.Fatalf("seed %d: treeSize = %d, %v, want %d", seed, got, err, total)
		}
		for round := 0; round < 40; round++ {
			n := uint64(1 + r.Intn(total))
			if round == 0 {
				n = total
			}
			rootN := root(n)
			if want := refRoot(leaves[:n]); rootN != want {
				t.Fatalf("seed %d: root at %d = %v, want %v", seed, n, rootN, want)
			}
			i := uint64(r.Intn(int(n)))
			proof, at, err := inclusionProof(tree, i+1, n)
			if err != nil || at != n {
				t.Fatalf("seed %d: inclusionProof(%d, %d) = size %d, %v", seed, i+1, n, at, err)
			}
			leaf := tlog.RecordHash(leaves[i][:])
			if err := tlog.CheckRecord(proof, int64(n), rootN, int64(i), leaf); err != nil {
				t.Errorf("seed %d: CheckRecord(entry %d in %d): %v", seed, i+1, n, err)
			}
			other := tlog.RecordHash(leaves[(i+1)%total][:])
			if err := tlog.CheckRecord(proof, int64(n), rootN, int64(i), other); err == nil && other != leaf {
				t.Errorf("seed %d: another leaf passes as entry %d in %d", seed, i+1, n)
			}
			if n > 1 {
				if err := tlog.CheckRecord(proof, int64(n), rootN, int64((i+1)%n), leaf); err == nil {
					t.Errorf("seed %d: entry %d's proof passes at index %d in %d", seed, i+1, (i+1)%n, n)
				}
			}
			m := uint64(1 + r.Intn(int(n)))
			cproof, to, err := consistencyProof(tree, m, n)
			if err != nil || to != n {
				t.Fatalf("seed %d: consistencyProof(%d, %d) = size %d, %v", seed, m, n, to, err)
			}
			rootM := root(m)
			if err := tlog.CheckTree(cproof, int64(n), rootN, int64(m), rootM); err != nil {
				t.Errorf("seed %d: CheckTree(%d -> %d): %v", seed, m, n, err)
			}
			if m < n {
				if err := tlog.CheckTree(cproof, int64(n), rootN, int64(m), root(m+1)); err == nil {
					t.Errorf("seed %d: the root at %d passes as the root at %d, consistent with %d", seed, m+1, m, n)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// journalLeaves is the hash of every served journal entry, in seq order.
func journalLeaves(t testing.TB, s *Store) [][journalHashSize]byte {
	t.Helper()
	var out [][journalHashSize]byte
	for after := uint64(0); ; {
		page, err := s.Journal(JournalQuery{After: after, Limit: MaxJournalPage})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			h, err := hex.DecodeString(e.Hash)
			if err != nil || len(h) != journalHashSize {
				t.Fatalf("entry %d hash %q", e.Seq, e.Hash)
			}
			out = append(out, [journalHashSize]byte(h))
			after = e.Seq
		}
		if page.Next == 0 {
			return out
		}
		after = page.Next
	}
}

// checkTreeFollowsJournal checks that s's tree head is the RFC 6962 tree
// hash of its served journal entries' hashes.
func checkTreeFollowsJournal(t testing.TB, s *Store) TreeHead {
	t.Helper()
	leaves := journalLeaves(t, s)
	head := mustAnswer(t, "TreeHead", s.TreeHead)
	if head.Size != uint64(len(leaves)) || head.Root != refRoot(leaves) {
		t.Fatalf("tree head %d %v, want %d %v", head.Size, head.Root, len(leaves), refRoot(leaves))
	}
	return head
}

// TestTreeFollowsJournal checks the tree Apply keeps: after each instruction
// the head is the tree of the served entries' hashes, and every entry's
// proof passes against it; proofs asked out of range fail with the errors
// the API maps.
func TestTreeFollowsJournal(t *testing.T) {
	h := newHarness(t)
	h.world()
	for i := 0; i < 5; i++ {
		h.mustAccept("iss-1", mintBody("REG", "acc-us", "10"))
		h.mustReject("cus-1", transferBody("REG", "acc-us", "inst-us", "1000"), "INSUFFICIENT_BALANCE")
		checkTreeFollowsJournal(t, h.s)
	}
	head := checkTreeFollowsJournal(t, h.s)
	leaves := journalLeaves(t, h.s)
	for seq := uint64(1); seq <= head.Size; seq++ {
		proof, at, err := h.s.InclusionProof(seq, 0)
		if err != nil || at != head.Size {
			t.Fatalf("InclusionProof(%d, 0) = size %d, %v", seq, at, err)
		}
		if err := tlog.CheckRecord(proof, int64(at), head.Root, int64(seq-1), tlog.RecordHash(leaves[seq-1][:])); err != nil {
			t.Errorf("entry %d: %v", seq, err)
		}
	}
	n := head.Size
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"entry 0", func() error { _, _, err := h.s.InclusionProof(0, 0); return err }, ErrNotFound},
		{"entry beyond the journal", func() error { _, _, err := h.s.InclusionProof(n+1, 0); return err }, ErrNotFound},
		{"size beyond the journal", func() error { _, _, err := h.s.InclusionProof(1, n+1); return err }, ErrTreeSize},
		{"entry beyond the size", func() error { _, _, err := h.s.InclusionProof(3, 2); return err }, ErrTreeSize},
		{"consistency from 0", func() error { _, _, err := h.s.ConsistencyProof(0, n); return err }, ErrTreeSize},
		{"consistency backwards", func() error { _, _, err := h.s.ConsistencyProof(3, 2); return err }, ErrTreeSize},
		{"consistency beyond the journal", func() error { _, _, err := h.s.ConsistencyProof(1, n+1); return err }, ErrTreeSize},
	}
	for _, tc := range tests {
		if err := tc.call(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if proof, at, err := h.s.ConsistencyProof(n, 0); err != nil || at != n || len(proof) != 0 {
		t.Errorf("ConsistencyProof(%d, 0) = %v size %d, %v; want an empty proof at %d", n, proof, at, err, n)
	}
}

// TestTreeBuiltOnOpen opens state files whose journal has no tree (the
// schema 2 release's golden file, and a file of this release's journal with
// its tree dropped, as the release before the tree wrote them) and checks
// that Open builds it, also when an earlier build was cut short, and that
// entries applied afterwards extend it.
func TestTreeBuiltOnOpen(t *testing.T) {
	t.Run("schema2", func(t *testing.T) {
		path, golden := loadSchema2(t)
		s := openStore(t, path, true)
		if head := checkTreeFollowsJournal(t, s); head.Size != uint64(len(golden.Entries)) {
			t.Fatalf("tree of %d entries, the golden journal has %d", head.Size, len(golden.Entries))
		}
		h := &harness{t: t, s: s, now: epoch.Add(1 << 40), index: s.AppliedIndex()}
		h.mustAccept(OperatorID, `{"id":"after-tree","type":"mint","symbol":"USD","to":"ret-us","amount":"3"}`)
		checkTreeFollowsJournal(t, s)
	})
	for _, cut := range []int{0, 1, 7} {
		t.Run(fmt.Sprintf("without a tree, %d entries built before a stop", cut), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s, h := openWorld(t, path)
			for i := 0; i < 20; i++ {
				h.mustAccept("iss-1", mintBody("REG", "acc-us", "1"))
			}
			want := checkTreeFollowsJournal(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			dropTree(t, path, cut)
			s = openStore(t, path, true)
			if got := checkTreeFollowsJournal(t, s); got != want {
				t.Fatalf("rebuilt tree %+v, want %+v", got, want)
			}
			h.s = s
			h.mustAccept("iss-1", mintBody("REG", "acc-us", "1"))
			checkTreeFollowsJournal(t, s)
		})
	}
}

// dropTree deletes the tree of the state file at path, then builds its
// first cut entries in transactions of 3, as a build stopped early leaves it.
func dropTree(t *testing.T, path string, cut int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := updateKV(db, func(tx *kv.Tx) error { return tx.Bolt().DeleteBucket(bucketTree) }); err != nil {
		t.Fatal(err)
	}
	if cut == 0 {
		return
	}
	if err := updateKV(db, func(tx *kv.Tx) error { _, err := tx.Bolt().CreateBucket(bucketTree); return err }); err != nil {
		t.Fatal(err)
	}
	for built := 0; built < cut; built += 3 {
		if err := updateKV(db, func(tx *kv.Tx) error { return buildTreeStep(tx, min(3, cut-built)) }); err != nil {
			t.Fatal(err)
		}
	}
	err = viewKV(db, func(tx *kv.Tx) error {
		n, err := treeSize(tx.Bucket(bucketTree))
		if err == nil && n != uint64(cut) {
			err = fmt.Errorf("tree of %d entries after the cut build, want %d", n, cut)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckFindsTreeFaults damages the tree one way at a time (a leaf or a
// root changed, missing, torn or one more; a chunk missing; a key the tree
// has no use for) and checks that Check reports it.
func TestCheckFindsTreeFaults(t *testing.T) {
	type damage struct {
		name   string
		damage func(tree *kv.Bucket) error
	}
	// hashDamages changes the first hash of key's value, drops its last
	// hash, and adds one: what may befall a leaf in the tail or a root.
	hashDamages := func(what string, key []byte, at int) []damage {
		return []damage{
			{"a changed " + what, func(tree *kv.Bucket) error {
				bad := bytes.Clone(tree.Get(key))
				bad[at] ^= 1
				return tree.Put(key, bad)
			}},
			{"a missing " + what, func(tree *kv.Bucket) error {
				v := tree.Get(key)
				return tree.Put(key, v[:len(v)-tlog.HashSize])
			}},
			{"a " + what + " more", func(tree *kv.Bucket) error {
				return tree.Put(key, append(bytes.Clone(tree.Get(key)), make([]byte, tlog.HashSize)...))
			}},
		}
	}
	tier1 := treeTierKey(1, 0)
	tests := append(hashDamages("leaf", treeTailKey, tlog.HashSize), hashDamages("root", tier1, 0)...)
	tests = append(tests,
		damage{"a torn leaf", func(tree *kv.Bucket) error {
			v := tree.Get(treeTailKey)
			return tree.Put(treeTailKey, v[:len(v)-1])
		}},
		damage{"a missing chunk", func(tree *kv.Bucket) error { return tree.Delete(tier1) }},
		damage{"a stray key", func(tree *kv.Bucket) error { return tree.Put(treeTierKey(3, 0), make([]byte, tlog.HashSize)) }},
	)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, h := openWorld(t, filepath.Join(t.TempDir(), "state.db"))
			defer s.Close()
			// Two whole blocks and part of a third: tier 1 holds roots, and
			// the last block leaves.
			for n := mustAnswer(t, "TreeHead", s.TreeHead).Size; n < 2*treeFan || n%treeFan < 3; n++ {
				h.mustAccept("iss-1", mintBody("REG", "acc-us", "1"))
			}
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			if errs := s.Check(); len(errs) > 0 {
				t.Fatalf("Check before the damage: %v", errs)
			}
			if err := updateKV(s.db, func(tx *kv.Tx) error { return tc.damage(tx.Bucket(bucketTree)) }); err != nil {
				t.Fatal(err)
			}
			if errs := s.Check(); len(errs) == 0 {
				t.Errorf("Check after %s found nothing", tc.name)
			}
		})
	}
}

// BenchmarkInclusionProof measures an inclusion proof of a random entry in
// a tree of 1,000,000 entries (target: at most 5 ms). The entries (just
// their hashes) and the tree's records are computed in memory and written
// straight into the buckets, as Apply would have left them, without
// applying a million instructions.
func BenchmarkInclusionProof(b *testing.B) {
	const size = 1_000_000
	db := treeDB(b)
	var recs treeRecords
	// The journal in chunks as Apply writes it, of records about the size
	// of a one-leg transfer's, each hash over the one before and the body
	// (the tree reads each record's last 32 bytes, which the journal's
	// cursor recomputes so).
	leaves := make([][journalHashSize]byte, size)
	rec := make([]byte, 1+80+journalHashSize)
	rec[0] = tagJournal
	var prev [journalHashSize]byte
	for i := range leaves {
		binary.BigEndian.PutUint64(rec[1:], uint64(i))
		leaves[i] = hashV2(nil, prev, uint64(i+1), rec[:1+80])
		prev = leaves[i]
		recs.add(tlog.RecordHash(leaves[i][:]))
	}
	const perTx = 200_000
	chunk := &journalChunk{next: 1}
	for start := 0; start < size; start += perTx {
		// Through a layer, as Apply writes: the layer copies each chunk
		// put, which the chunk then reuses (bbolt keeps the bytes handed
		// to Put until the commit).
		if err := db.Update(func(btx *bolt.Tx) error {
			layer := kv.NewLayer()
			tx := kv.Over(btx, nil, layer)
			journal := tx.Bucket(bucketJournal)
			journal.SetAppendOnly()
			for i := start; i < min(start+perTx, size); i++ {
				binary.BigEndian.PutUint64(rec[1:], uint64(i))
				copy(rec[1+80:], leaves[i][:])
				if err := chunk.add(journal, uint64(i+1), rec); err != nil {
					return err
				}
			}
			if err := chunk.flush(journal); err != nil {
				return err
			}
			return layer.WriteTo(btx)
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := updateKV(db, func(tx *kv.Tx) error {
		for _, r := range recs.keys() {
			if err := tx.Bucket(bucketTree).Put(r.key, r.val); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	// The proofs prove: the leaves the journal gives are the tree's.
	root := refRoot(leaves)
	if err := viewKV(db, func(tx *kv.Tx) error {
		for _, seq := range []uint64{1, 17, 4099, size / 2, size} {
			proof, _, err := inclusionProof(treeOf(tx), seq, 0)
			if err != nil {
				return err
			}
			if err := tlog.CheckRecord(proof, size, root, int64(seq-1), tlog.RecordHash(leaves[seq-1][:])); err != nil {
				return fmt.Errorf("entry %d: %w", seq, err)
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	b.ResetTimer()
	for b.Loop() {
		seq := uint64(1 + r.Intn(size))
		err := viewKV(db, func(tx *kv.Tx) error {
			_, _, err := inclusionProof(treeOf(tx), seq, 0)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendLeaf measures what the tree adds to each journal entry
// Apply writes: appendLeaf on a tree of 1,000,000 entries and up, in write
// transactions of 8,192 entries, as a node commits.
func BenchmarkAppendLeaf(b *testing.B) {
	db := treeDB(b)
	var leaf [journalHashSize]byte
	seq := uint64(0)
	grow := func(n int) {
		for done := 0; done < n; {
			if err := updateKV(db, func(tx *kv.Tx) error {
				for end := min(n, done+8192); done < end; done++ {
					seq++
					leaf = sha256.Sum256(leaf[:])
					if err := appendLeaf(tx, seq, leaf); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	grow(1_000_000)
	b.ResetTimer()
	grow(b.N)
}

// TestMigrateOldTrees writes a journal, rewrites its tree as a schema 5
// file kept it (a key per tlog stored hash) or a schema 6 file (every tlog
// stored hash, 16 to a key), and checks that Open rebuilds the tree to the
// same root and state, whole or after a rebuild cut short by a crash.
func TestMigrateOldTrees(t *testing.T) {
	for _, schema := range []string{schemaPackedPostings, schemaChunkedTree} {
		for _, cut := range []int{-1, 0, 13} { // -1: not migrated yet; else entries rebuilt before the crash
			t.Run(fmt.Sprintf("schema=%s/cut=%d", schema, cut), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "state.db")
				s, h := openWorld(t, path)
				for i := range 40 {
					h.mustAccept(OperatorID, mintBody("USD", "ret-us", fmt.Sprint(i+1)))
				}
				head := mustAnswer(t, "TreeHead", s.TreeHead)
				hashes := mustHashes(t, s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if head.Size < 3*treeFan {
					t.Fatalf("a journal of %d entries fills too few chunks", head.Size)
				}
				writeOldTree(t, path, schema)
				if cut >= 0 {
					db, err := bolt.Open(path, 0o600, nil)
					if err != nil {
						t.Fatal(err)
					}
					if err := migrateTree(db); err != nil {
						t.Fatal(err)
					}
					if cut > 0 {
						if err := updateKV(db, func(tx *kv.Tx) error { return buildTreeStep(tx, cut) }); err != nil {
							t.Fatal(err)
						}
					}
					if err := db.Close(); err != nil {
						t.Fatal(err)
					}
				}
				var logged bytes.Buffer
				s = openStoreWith(t, Config{Path: path, StrictChecks: true, NoSync: true, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
				if want := "from_schema=" + schema + " to_schema=" + schemaVersion; cut < 0 && (!strings.Contains(logged.String(), "migrated the state file") || !strings.Contains(logged.String(), want)) {
					t.Errorf("Open logged %q; want the migration, %s", logged.String(), want)
				}
				if want := fmt.Sprintf("entries=%d in_tree=%d", head.Size, max(cut, 0)); !strings.Contains(logged.String(), want) {
					t.Errorf("Open logged %q; want the tree's build, %s", logged.String(), want)
				}
				if got := mustAnswer(t, "TreeHead", s.TreeHead); got != head {
					t.Errorf("tree head %+v after the migration, %+v before", got, head)
				}
				if got := mustHashes(t, s); got.Full != hashes.Full || got.State != hashes.State {
					t.Errorf("hashes %+v after the migration, %+v before", got, hashes)
				}
				if errs := s.Check(); len(errs) > 0 {
					t.Errorf("Check: %v", errs)
				}
			})
		}
	}
}

// writeOldTree rewrites the tree of the state file at path as schema 5
// (a key per tlog stored hash) or schema 6 (16 stored hashes a key) kept
// it, computed from the journal, and marks the file with that schema.
func writeOldTree(t *testing.T, path, schema string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		var stored []tlog.Hash
		mem := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(indexes))
			for i, x := range indexes {
				out[i] = stored[x]
			}
			return out, nil
		})
		var n int64
		if err := tx.Bucket(bucketJournal).ForEach(func(_, v []byte) error {
			hs, err := tlog.StoredHashes(n, v[len(v)-journalHashSize:], mem)
			stored = append(stored, hs...)
			n++
			return err
		}); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketTree); err != nil {
			return err
		}
		tree, err := tx.CreateBucket(bucketTree)
		if err != nil {
			return err
		}
		per := 1
		if schema == schemaChunkedTree {
			per = 16
		}
		for i := 0; i < len(stored); i += per {
			var v []byte
			for _, h := range stored[i:min(i+per, len(stored))] {
				v = append(v, h[:]...)
			}
			if err := tree.Put(seqKey(uint64(i/per)), v); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, []byte(schema))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// appendLeaf adds a journal entry of seq, whose record is just its hash
// entryHash, and its leaf to the tree, which holds seq-1 entries: a
// treeWriter of one entry.
func appendLeaf(tx *kv.Tx, seq uint64, entryHash [journalHashSize]byte) error {
	// A record of its own, as schemas 3 to 8 kept an entry: the tree
	// reads its last 32 bytes.
	if err := tx.Bucket(bucketJournal).Put(seqKey(seq), append([]byte{tagJournal}, entryHash[:]...)); err != nil {
		return err
	}
	w := newTreeWriter(tx.Bucket(bucketTree))
	if err := w.append(seq, entryHash); err != nil {
		return err
	}
	return w.flush()
}

// TestEntryLeafIsRecordHash holds the tree's leaves to tlog's: the proofs
// an auditor checks with tlog hash the leaves with RecordHash.
func TestEntryLeafIsRecordHash(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for range 1000 {
		var h [journalHashSize]byte
		r.Read(h[:])
		if got, want := entryLeaf(&h), tlog.RecordHash(h[:]); got != want {
			t.Fatalf("leaf of %x = %x, tlog's %x", h, got, want)
		}
	}
}
