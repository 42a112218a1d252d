package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// The journal's Merkle tree (RFC 6962, as golang.org/x/mod/sumdb/tlog builds
// it): leaf i, from 0, is the journal entry of seq i+1, and its data is that
// entry's 32-byte hash, so the leaf hash is SHA-256(0x00 ‖ entry hash).
//
// The tree bucket keeps only the roots of whole subtrees of 16, 256, 4,096…
// entries (the hashes at levels 4, 8, 12… of the tree, tier t holding level
// 4t), in chunks of 16 per key: under {t} ‖ chunk (8 bytes, big-endian),
// the roots chunk·16 to chunk·16+15 of tier t, every chunk but a tier's last
// full. Every other hash is computed when asked for: one at level 4t+r
// (r < 4) from the 2^r tier-t roots beneath it, or for t = 0 from the
// journal's entry hashes. So the tree costs about 2 bytes an entry; tlog's
// stored hashes (schema 6), two an entry, cost 74. A root, or a proof at any
// size, reads at most about 8·log₁₆ n roots and 15 entries.
//
// Apply appends each entry's leaf hash to the leaves of the last,
// incomplete block of 16 (key {0}: 0 to 15 hashes; absent when none); the
// 16th completes the block, whose root goes to tier 1 and empties the key,
// and a full chunk's root goes up a tier the same way. treeWriter holds
// what it appends to in memory and writes it once per Apply call.
//
// The tree is derived from the journal alone, so a state file written before
// it existed, or by a build that kept it otherwise, is brought up to date
// when it is opened (buildTree), in bounded transactions that resume where
// the last one ended.

// treeBuildBatch bounds the journal entries one transaction of buildTree adds.
const treeBuildBatch = 10_000

// treeFan is how many nodes of a tier one node of the next covers, and how
// many hashes one key of the tree bucket holds: 2^treeTierLevels.
const (
	treeTierLevels = 4
	treeFan        = 1 << treeTierLevels
	treeChunkBytes = treeFan * tlog.HashSize
)

// treeTailKey holds the leaf hashes of the last, incomplete block.
var treeTailKey = []byte{0}

// treeTierKey is the key of tier t's chunk.
func treeTierKey(t int, chunk int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{byte(t)}, uint64(chunk))
}

// blockRoot is the root of the whole subtree whose treeFan nodes at one
// level are hashes (treeChunkBytes bytes).
func blockRoot(hashes []byte) tlog.Hash {
	var h [treeFan]tlog.Hash
	for i := range h {
		h[i] = tlog.Hash(hashes[i*tlog.HashSize:])
	}
	return subtreeRoot(h[:])
}

// entryLeaf is the tree's leaf of a journal entry whose hash is h:
// tlog.RecordHash(h), SHA-256(0x00 || h) (RFC 6962), without the digest
// RecordHash allocates through sha256.New, once an entry Apply appends and
// once a leaf Check and the proofs read.
func entryLeaf(h *[journalHashSize]byte) tlog.Hash {
	var buf [1 + journalHashSize]byte // buf[0] is the leaf's prefix, 0
	copy(buf[1:], h[:])
	return sha256.Sum256(buf[:])
}

// subtreeRoot is the root of the whole subtree whose nodes at one level
// are h (a power of two of them); it overwrites h.
func subtreeRoot(h []tlog.Hash) tlog.Hash {
	for w := len(h); w > 1; w /= 2 {
		for j := 0; j < w/2; j++ {
			h[j] = tlog.NodeHash(h[2*j], h[2*j+1])
		}
	}
	return h[0]
}

// ErrTreeSize is returned by proofs asked of a tree larger than the journal,
// of an entry beyond the tree asked of, or of a consistency from a size of 0
// or above the later size.
var ErrTreeSize = errors.New("ledger: no such tree size")

// TreeHead is the journal's Merkle tree at one size: Root covers the entries
// of seq 1 to Size.
type TreeHead struct {
	Size uint64
	Root tlog.Hash
}

// TreeHead is the tree over the whole journal.
func (s *Store) TreeHead() (h TreeHead, err error) {
	err = s.view(func(tx *kv.Tx) error {
		h, err = treeHead(treeOf(tx))
		return err
	})
	return h, err
}

// InclusionProof proves journal entry seq in the tree of size entries (0:
// the whole journal), for tlog.CheckRecord with record index seq-1. It
// returns the size it proved against. An entry the journal does not hold is
// ErrNotFound; a size beyond the journal, or below seq, is ErrTreeSize.
func (s *Store) InclusionProof(seq, size uint64) (proof tlog.RecordProof, at uint64, err error) {
	err = s.view(func(tx *kv.Tx) error {
		proof, at, err = inclusionProof(treeOf(tx), seq, size)
		return err
	})
	return proof, at, err
}

// ConsistencyProof proves that the tree of size to (0: the whole journal)
// extends the tree of size from, for tlog.CheckTree. It returns the size it
// proved to. from must be at least 1 and at most to, and to at most the
// journal's length, else ErrTreeSize.
func (s *Store) ConsistencyProof(from, to uint64) (proof tlog.TreeProof, at uint64, err error) {
	err = s.view(func(tx *kv.Tx) error {
		proof, at, err = consistencyProof(treeOf(tx), from, to)
		return err
	})
	return proof, at, err
}

// journalTree is the tree bucket and the journal its leaves come from:
// tlog's HashReader over them.
type journalTree struct{ tree, journal *kv.Bucket }

func treeOf(tx *kv.Tx) journalTree {
	return journalTree{tx.Bucket(bucketTree), tx.Bucket(bucketJournal)}
}

// inclusionProof is InclusionProof over the tree.
func inclusionProof(tr journalTree, seq, size uint64) (tlog.RecordProof, uint64, error) {
	n, err := treeSize(tr.tree)
	if err != nil {
		return nil, 0, err
	}
	if size == 0 {
		size = n
	}
	switch {
	case seq == 0 || seq > n:
		return nil, 0, fmt.Errorf("journal entry %d: %w", seq, ErrNotFound)
	case size > n:
		return nil, 0, fmt.Errorf("tree size %d is beyond the journal's %d entries: %w", size, n, ErrTreeSize)
	case seq > size:
		return nil, 0, fmt.Errorf("entry %d is not in the tree of size %d: %w", seq, size, ErrTreeSize)
	}
	proof, err := tlog.ProveRecord(int64(size), int64(seq-1), tr)
	return proof, size, err
}

// consistencyProof is ConsistencyProof over the tree.
func consistencyProof(tr journalTree, from, to uint64) (tlog.TreeProof, uint64, error) {
	n, err := treeSize(tr.tree)
	if err != nil {
		return nil, 0, err
	}
	if to == 0 {
		to = n
	}
	switch {
	case to > n:
		return nil, 0, fmt.Errorf("tree size %d is beyond the journal's %d entries: %w", to, n, ErrTreeSize)
	case from == 0 || from > to:
		return nil, 0, fmt.Errorf("a consistency proof runs from a size of 1 to %d, not %d: %w", to, from, ErrTreeSize)
	}
	proof, err := tlog.ProveTree(int64(to), int64(from), tr)
	return proof, to, err
}

// treeHead reads the size and root of the tree.
func treeHead(tr journalTree) (TreeHead, error) {
	n, err := treeSize(tr.tree)
	if err != nil {
		return TreeHead{}, err
	}
	root, err := tlog.TreeHash(int64(n), tr)
	if err != nil {
		return TreeHead{}, fmt.Errorf("tree root at %d: %w", n, err)
	}
	return TreeHead{Size: n, Root: root}, nil
}

// ReadHashes returns tlog's stored hashes of indexes. tlog asks only for
// roots of whole subtrees of the tree it proves, so every one is a tier's
// root, or computed from the tier roots or the entries beneath it.
func (tr journalTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		level, n := tlog.SplitStoredHashIndex(x)
		h, err := tr.node(level, n)
		if err != nil {
			return nil, fmt.Errorf("tree: stored hash %d (level %d, node %d): %w", x, level, n, err)
		}
		out[i] = h
	}
	return out, nil
}

// node is the root of the whole subtree of leaves n·2^level to
// (n+1)·2^level-1.
func (tr journalTree) node(level int, n int64) (tlog.Hash, error) {
	t, r := level/treeTierLevels, level%treeTierLevels
	if t > 0 && r == 0 {
		return tr.root(t, n)
	}
	var h [treeFan / 2]tlog.Hash
	w := 1 << r
	if t == 0 {
		if err := tr.leaves(n<<r, h[:w]); err != nil {
			return tlog.Hash{}, err
		}
		return subtreeRoot(h[:w]), nil
	}
	for i := range w {
		j := n<<r + int64(i)
		var err error
		if h[i], err = tr.root(t, j); err != nil {
			return tlog.Hash{}, err
		}
	}
	return subtreeRoot(h[:w]), nil
}

// root is tier t's root i.
func (tr journalTree) root(t int, i int64) (tlog.Hash, error) {
	v := tr.tree.Get(treeTierKey(t, i/treeFan))
	off := int(i%treeFan) * tlog.HashSize
	if len(v) < off+tlog.HashSize {
		return tlog.Hash{}, fmt.Errorf("tier %d root %d is missing", t, i)
	}
	return tlog.Hash(v[off:]), nil
}

// leaf is leaf i's hash, from journal entry i+1.
func (tr journalTree) leaf(i int64) (tlog.Hash, error) {
	v := journalRecordAt(tr.journal, uint64(i+1))
	if len(v) < journalHashSize {
		return tlog.Hash{}, fmt.Errorf("journal entry %d is missing or malformed", i+1)
	}
	return entryLeaf((*[journalHashSize]byte)(v[len(v)-journalHashSize:])), nil
}

// leaves fills h with the hashes of leaves first, first+1, …: one cursor
// walks the journal's chunks that hold them, where a look-up a leaf would
// seek the chunk again for each.
func (tr journalTree) leaves(first int64, h []tlog.Hash) error {
	if len(h) == 1 {
		var err error
		h[0], err = tr.leaf(first)
		return err
	}
	jc := newJournalCursor(tr.journal)
	for i := range h {
		seq := uint64(first+int64(i)) + 1
		s, v := jc.advance(seq)
		if s != seq || len(v) < journalHashSize {
			return fmt.Errorf("journal entry %d is missing or malformed", seq)
		}
		h[i] = entryLeaf((*[journalHashSize]byte)(v[len(v)-journalHashSize:]))
	}
	return nil
}

// treeSize is the number of journal entries the tree holds: 16 a tier-1
// root, and the leaves of the last block.
func treeSize(tree *kv.Bucket) (uint64, error) {
	tail := tree.Get(treeTailKey)
	if len(tail)%tlog.HashSize != 0 || len(tail) >= treeChunkBytes {
		return 0, fmt.Errorf("tree: the last block holds %d bytes, not 0 to %d hashes", len(tail), treeFan-1)
	}
	var roots uint64
	c := tree.Cursor()
	if k, v := c.Seek([]byte{2}); k != nil {
		k, v = c.Prev()
		roots = tierCount(k, v)
	} else if k, v := c.Last(); k != nil {
		roots = tierCount(k, v)
	}
	return roots*treeFan + uint64(len(tail)/tlog.HashSize), nil
}

// tierCount is the number of tier-1 roots up to and with chunk k (value v),
// or 0 if k is not a tier-1 chunk.
func tierCount(k, v []byte) uint64 {
	if len(k) != 9 || k[0] != 1 {
		return 0
	}
	return binary.BigEndian.Uint64(k[1:])*treeFan + uint64(len(v)/tlog.HashSize)
}

// treeWriter appends entries to the tree, holding the last block's leaves
// and the chunk of each tier it appends to in memory until flush, which
// Apply calls once per call: writing them on every entry cost an allocation
// and a copy of up to 512 bytes an entry.
type treeWriter struct {
	tree      *kv.Bucket
	loaded    bool
	tail      []byte // the last block's leaf hashes
	tailDirty bool
	tiers     []tierChunk // tier t at t-1
}

// tierChunk is the chunk of a tier a treeWriter appends to.
type tierChunk struct {
	chunk int64  // -1: none
	buf   []byte // that chunk's roots
	dirty bool   // buf holds roots the bucket does not
}

func newTreeWriter(tree *kv.Bucket) *treeWriter { return &treeWriter{tree: tree} }

// append adds journal entry seq, whose hash is entryHash, to a tree that
// holds seq-1 entries.
func (w *treeWriter) append(seq uint64, entryHash [journalHashSize]byte) error {
	assert(seq > 0, "tree leaf of journal seq 0")
	if !w.loaded {
		w.tail = append(make([]byte, 0, treeChunkBytes), w.tree.Get(treeTailKey)...)
		w.loaded = true
	}
	// The tree must hold the entries before seq, no more and no less: a gap
	// would make every later root wrong. The last block's leaves say where
	// in a block seq falls, and each tier's chunk where its next root
	// falls (push). (Apply appends each seq once, and Check finds a tree
	// that holds more or less than the journal.)
	n := int64(seq - 1)
	if have := len(w.tail) / tlog.HashSize; int64(have) != n%treeFan {
		return fmt.Errorf("tree: entry %d: the last block holds %d leaves, not %d", seq, have, n%treeFan)
	}
	leaf := entryLeaf(&entryHash)
	w.tail = append(w.tail, leaf[:]...)
	w.tailDirty = true
	if len(w.tail) == treeChunkBytes {
		root := blockRoot(w.tail)
		// bbolt may hold the bytes handed to it until the commit: a new
		// block starts in a new buffer.
		w.tail = make([]byte, 0, treeChunkBytes)
		if err := w.push(1, n/treeFan, root); err != nil {
			return fmt.Errorf("tree: entry %d: %w", seq, err)
		}
	}
	return nil
}

// push appends root i of tier t, and the root its chunk completes to the
// next tier.
func (w *treeWriter) push(t int, i int64, root tlog.Hash) error {
	for len(w.tiers) < t {
		w.tiers = append(w.tiers, tierChunk{chunk: -1})
	}
	tc := &w.tiers[t-1]
	if c := i / treeFan; c != tc.chunk {
		if err := w.flushTier(t); err != nil {
			return err
		}
		tc.chunk, tc.buf = c, append(make([]byte, 0, treeChunkBytes), w.tree.Get(treeTierKey(t, c))...)
	}
	if off := int(i%treeFan) * tlog.HashSize; len(tc.buf) != off {
		return fmt.Errorf("tier %d chunk %d holds %d bytes, not the %d before root %d", t, tc.chunk, len(tc.buf), off, i)
	}
	tc.buf = append(tc.buf, root[:]...)
	tc.dirty = true
	if len(tc.buf) < treeChunkBytes {
		return nil
	}
	up := blockRoot(tc.buf)
	if err := w.flushTier(t); err != nil {
		return err
	}
	// A full chunk is let go, and the next begins afresh.
	tc.chunk, tc.buf = -1, nil
	return w.push(t+1, i/treeFan, up)
}

// flushTier writes tier t's chunk, if the bucket lacks some of its roots.
// bbolt keeps a value until the commit, and appends to buf only write past
// what it was given.
func (w *treeWriter) flushTier(t int) error {
	tc := &w.tiers[t-1]
	if !tc.dirty {
		return nil
	}
	// Within a tier, chunk numbers only grow.
	w.tree.SetAppendOnly()
	if err := w.tree.Put(treeTierKey(t, tc.chunk), tc.buf); err != nil {
		return err
	}
	tc.dirty = false
	return nil
}

// flush writes what w holds that the bucket lacks.
func (w *treeWriter) flush() error {
	for t := 1; t <= len(w.tiers); t++ {
		if err := w.flushTier(t); err != nil {
			return err
		}
	}
	if !w.tailDirty {
		return nil
	}
	w.tailDirty = false
	if len(w.tail) == 0 {
		return w.tree.Delete(treeTailKey)
	}
	return w.tree.Put(treeTailKey, w.tail)
}

// buildTree adds to the tree every journal entry it lacks, treeBuildBatch
// entries per transaction: the tree's own size is the progress, so a build
// cut short resumes where its last transaction ended.
func buildTree(db *bolt.DB, log *slog.Logger) error {
	for logged := false; ; logged = true {
		var n, last uint64
		if err := viewKV(db, func(tx *kv.Tx) error {
			var err error
			if n, err = treeSize(tx.Bucket(bucketTree)); err != nil {
				return err
			}
			last, _ = newJournalCursor(tx.Bucket(bucketJournal)).last()
			return nil
		}); err != nil {
			return fmt.Errorf("build journal tree: %w", err)
		}
		if last <= n {
			return nil
		}
		if !logged {
			log.Info("building the journal's Merkle tree", "entries", last, "in_tree", n)
		}
		if err := updateKV(db, func(tx *kv.Tx) error { return buildTreeStep(tx, treeBuildBatch) }); err != nil {
			return fmt.Errorf("build journal tree: %w", err)
		}
	}
}

// buildTreeStep adds the next limit journal entries the tree lacks.
func buildTreeStep(tx *kv.Tx, limit int) error {
	tree := tx.Bucket(bucketTree)
	n, err := treeSize(tree)
	if err != nil {
		return err
	}
	jc := newJournalCursor(tx.Bucket(bucketJournal))
	w := newTreeWriter(tree)
	added := 0
	for seq, v := jc.seek(n + 1); v != nil && added < limit; seq, v = jc.next() {
		if seq != n+1+uint64(added) || len(v) < journalHashSize {
			return fmt.Errorf("journal entry %d is missing or malformed", n+1+uint64(added))
		}
		if err := w.append(seq, [journalHashSize]byte(v[len(v)-journalHashSize:])); err != nil {
			return err
		}
		added++
	}
	return w.flush()
}

// checkTree checks that the tree holds exactly the journal's entries: it
// builds the tree's records afresh from the journal's entry hashes, in
// memory (about 2 bytes an entry), and compares them with the bucket, key
// by key.
func checkTree(tx *kv.Tx, bad func(format string, args ...any)) {
	tree := tx.Bucket(bucketTree)
	n, err := treeSize(tree)
	if err != nil {
		bad("%v", err)
		return
	}
	if seq := getUint(tx.Bucket(bucketMeta), metaJournalSeq); n != seq {
		bad("tree holds %d journal entries, the journal %d", n, seq)
		return
	}
	var want treeRecords
	jc := newJournalCursor(tx.Bucket(bucketJournal))
	for _, v := jc.first(); v != nil && want.size() < n; _, v = jc.next() {
		if len(v) < journalHashSize {
			return // verifyJournal reports it
		}
		want.add(entryLeaf((*[journalHashSize]byte)(v[len(v)-journalHashSize:])))
	}
	keys := want.keys()
	i := 0
	tc := tree.Cursor()
	for k, v := tc.First(); k != nil; k, v = tc.Next() {
		if i == len(keys) || !bytes.Equal(k, keys[i].key) {
			bad("tree: key %x is not one the journal's tree has", k)
			return
		}
		if !bytes.Equal(v, keys[i].val) {
			bad("tree: %s does not match the journal", keys[i].name)
			return
		}
		i++
	}
	if i < len(keys) {
		bad("tree: %s is missing", keys[i].name)
	}
}

// treeRecords builds a tree's records in memory: the last block's leaves
// and every tier's roots.
type treeRecords struct {
	tail  []byte
	tiers [][]byte // tier t's roots at t-1
	full  uint64   // leaves in whole blocks
}

// size is the number of leaves added.
func (r *treeRecords) size() uint64 { return r.full + uint64(len(r.tail)/tlog.HashSize) }

func (r *treeRecords) add(leaf tlog.Hash) {
	r.tail = append(r.tail, leaf[:]...)
	if len(r.tail) < treeChunkBytes {
		return
	}
	r.full += treeFan
	root := blockRoot(r.tail)
	r.tail = r.tail[:0]
	for t := 1; ; t++ {
		if len(r.tiers) < t {
			r.tiers = append(r.tiers, nil)
		}
		r.tiers[t-1] = append(r.tiers[t-1], root[:]...)
		roots := r.tiers[t-1]
		if len(roots)%treeChunkBytes != 0 {
			return
		}
		root = blockRoot(roots[len(roots)-treeChunkBytes:])
	}
}

// treeRecord is a key of the tree bucket and its value.
type treeRecord struct {
	key, val []byte
	name     string
}

// keys is the tree bucket's records, in key order.
func (r *treeRecords) keys() []treeRecord {
	var out []treeRecord
	if len(r.tail) > 0 {
		out = append(out, treeRecord{treeTailKey, r.tail, "the last block's leaves"})
	}
	for t, roots := range r.tiers {
		for c := 0; c*treeChunkBytes < len(roots); c++ {
			out = append(out, treeRecord{
				key:  treeTierKey(t+1, int64(c)),
				val:  roots[c*treeChunkBytes : min((c+1)*treeChunkBytes, len(roots))],
				name: fmt.Sprintf("tier %d chunk %d", t+1, c),
			})
		}
	}
	return out
}
