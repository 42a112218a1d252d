package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// The journal's Merkle tree (RFC 6962, as golang.org/x/mod/sumdb/tlog builds
// it): leaf i, from 0, is the journal entry of seq i+1, and its data is that
// entry's 32-byte hash, so the leaf hash is SHA-256(0x00 ‖ entry hash). The
// tree bucket keeps tlog's stored hashes in chunks of treeChunkHashes:
// stored-hash index i is bytes 32·(i mod 16) of the value under key i/16
// (8 bytes, big-endian). Every chunk but the last is full. Appending an entry
// adds 1 + (trailing ones of i) hashes, two on average, to the last chunk in
// the journal's own transaction, and the root or a proof at any size reads
// at most about 2·log₂ n of them.
//
// A key per hash (schema 5) cost two keys an entry: two layer inserts, two
// bbolt puts at the commit and 16 bytes of page header each, for 32 bytes of
// hash. A chunk is rewritten as it fills, which in a layer replaces one
// entry, and reaches the file once per commit.
//
// The tree is derived from the journal alone, so a state file written before
// it existed (or by a build that did not keep it) is brought up to date when
// it is opened (buildTree), in bounded transactions that resume where the
// last one ended.

// treeBuildBatch bounds the journal entries one transaction of buildTree adds.
const treeBuildBatch = 10_000

// treeChunkHashes is how many stored hashes one key of the tree bucket holds.
const treeChunkHashes = 16

// storedHash returns stored hash index of the tree, or nil if the tree does
// not hold it.
func storedHash(tree *kv.Bucket, index int64) []byte {
	v := tree.Get(seqKey(uint64(index / treeChunkHashes)))
	off := int(index%treeChunkHashes) * tlog.HashSize
	if len(v) < off+tlog.HashSize {
		return nil
	}
	return v[off : off+tlog.HashSize]
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
		h, err = treeHead(tx.Bucket(bucketTree))
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
		proof, at, err = inclusionProof(tx.Bucket(bucketTree), seq, size)
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
		proof, at, err = consistencyProof(tx.Bucket(bucketTree), from, to)
		return err
	})
	return proof, at, err
}

// inclusionProof is InclusionProof over the tree bucket.
func inclusionProof(tree *kv.Bucket, seq, size uint64) (tlog.RecordProof, uint64, error) {
	n, err := treeSize(tree)
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
	proof, err := tlog.ProveRecord(int64(size), int64(seq-1), bucketHashes{tree})
	return proof, size, err
}

// consistencyProof is ConsistencyProof over the tree bucket.
func consistencyProof(tree *kv.Bucket, from, to uint64) (tlog.TreeProof, uint64, error) {
	n, err := treeSize(tree)
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
	proof, err := tlog.ProveTree(int64(to), int64(from), bucketHashes{tree})
	return proof, to, err
}

// treeHead reads the size and root of the tree in tree.
func treeHead(tree *kv.Bucket) (TreeHead, error) {
	n, err := treeSize(tree)
	if err != nil {
		return TreeHead{}, err
	}
	root, err := tlog.TreeHash(int64(n), bucketHashes{tree})
	if err != nil {
		return TreeHead{}, fmt.Errorf("tree root at %d: %w", n, err)
	}
	return TreeHead{Size: n, Root: root}, nil
}

// bucketHashes is tlog's HashReader over the tree bucket.
type bucketHashes struct{ tree *kv.Bucket }

func (r bucketHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return readHashes(indexes, func(x int64) []byte { return storedHash(r.tree, x) })
}

// readHashes reads each stored hash of indexes with hash (nil: missing).
func readHashes(indexes []int64, hash func(int64) []byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		v := hash(x)
		if v == nil {
			return nil, fmt.Errorf("tree: stored hash %d is missing", x)
		}
		out[i] = tlog.Hash(v)
	}
	return out, nil
}

// treeSize is the number of journal entries the tree holds, from its last
// chunk: the stored hashes of n entries are indexes 0 to
// tlog.StoredHashCount(n)-1.
func treeSize(tree *kv.Bucket) (uint64, error) {
	k, v := tree.Cursor().Last()
	if k == nil {
		return 0, nil
	}
	if len(k) != 8 {
		return 0, fmt.Errorf("tree: key %x is not a chunk number", k)
	}
	if len(v) == 0 || len(v)%tlog.HashSize != 0 || len(v) > treeChunkHashes*tlog.HashSize {
		return 0, fmt.Errorf("tree: last chunk holds %d bytes, not 1 to %d hashes", len(v), treeChunkHashes)
	}
	count := int64(binary.BigEndian.Uint64(k))*treeChunkHashes + int64(len(v)/tlog.HashSize)
	// StoredHashCount grows by at least one per entry, so n <= count.
	n := sort.Search(int(count)+1, func(n int) bool { return tlog.StoredHashCount(int64(n)) >= count })
	if tlog.StoredHashCount(int64(n)) != count {
		return 0, fmt.Errorf("tree: %d stored hashes are no whole number of entries", count)
	}
	return uint64(n), nil
}

// treeWriter appends entries to the tree, holding the chunk it appends to
// in memory until flush, which Apply calls once per call: rewriting the
// chunk on every entry cost an allocation and a copy of up to 512 bytes an
// entry. Reads through it (its ReadHashes) see what it holds.
type treeWriter struct {
	tree  *kv.Bucket
	chunk int64  // the chunk buf holds; -1: none
	buf   []byte // that chunk's hashes
	dirty bool   // buf holds hashes the bucket does not
}

const treeChunkBytes = treeChunkHashes * tlog.HashSize

func newTreeWriter(tree *kv.Bucket) *treeWriter { return &treeWriter{tree: tree, chunk: -1} }

// hash is stored hash index, or nil if the tree does not hold it.
func (w *treeWriter) hash(index int64) []byte {
	if index/treeChunkHashes != w.chunk {
		return storedHash(w.tree, index)
	}
	if off := int(index%treeChunkHashes) * tlog.HashSize; len(w.buf) >= off+tlog.HashSize {
		return w.buf[off : off+tlog.HashSize]
	}
	return nil
}

// ReadHashes is tlog's HashReader over the tree and what w holds.
func (w *treeWriter) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return readHashes(indexes, w.hash)
}

// append adds journal entry seq, whose hash is entryHash, to a tree that
// holds seq-1 entries.
func (w *treeWriter) append(seq uint64, entryHash [journalHashSize]byte) error {
	assert(seq > 0, "tree leaf of journal seq 0")
	n := int64(seq - 1)
	first := tlog.StoredHashIndex(0, n)
	hashes, err := tlog.StoredHashesForRecordHash(n, tlog.RecordHash(entryHash[:]), w)
	if err != nil {
		return fmt.Errorf("tree: entry %d: %w", seq, err)
	}
	// The tree must hold the entries before seq, no more and no less: a gap
	// would make every later root wrong. tlog reads some hashes before
	// first, not always the one just before it, so the chunks say: the one
	// first falls in must end just before it (load), and a new chunk must
	// follow a full one. (Apply appends each seq once, and Check finds a
	// tree that holds more than the journal.)
	if first > 0 && first%treeChunkHashes == 0 && w.hash(first-1) == nil {
		return fmt.Errorf("tree: entries before %d are missing", seq)
	}
	for i, h := range hashes {
		if err := w.load(first + int64(i)); err != nil {
			return fmt.Errorf("tree: entry %d: %w", seq, err)
		}
		w.buf = append(w.buf, h[:]...)
		w.dirty = true
		if len(w.buf) == treeChunkBytes {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// load makes buf the chunk of stored hash index, which must come next in it.
func (w *treeWriter) load(index int64) error {
	if c := index / treeChunkHashes; c != w.chunk {
		if err := w.flush(); err != nil {
			return err
		}
		w.chunk, w.buf = c, append(make([]byte, 0, treeChunkBytes), w.tree.Get(seqKey(uint64(c)))...)
	}
	if off := int(index%treeChunkHashes) * tlog.HashSize; len(w.buf) != off {
		return fmt.Errorf("chunk %d holds %d bytes, not the %d before stored hash %d", w.chunk, len(w.buf), off, index)
	}
	return nil
}

// flush writes the chunk w holds, if the bucket lacks some of its hashes.
// bbolt keeps a value until the commit, and appends to buf only write past
// what it was given; a full chunk is let go, and the next begins afresh.
func (w *treeWriter) flush() error {
	if !w.dirty {
		return nil
	}
	// Stored-hash indexes only grow.
	w.tree.SetAppendOnly()
	if err := w.tree.Put(seqKey(uint64(w.chunk)), w.buf); err != nil {
		return err
	}
	w.dirty = false
	if len(w.buf) == treeChunkBytes {
		w.chunk, w.buf = -1, nil
	}
	return nil
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
			if k, _ := tx.Bucket(bucketJournal).Cursor().Last(); k != nil {
				last = binary.BigEndian.Uint64(k)
			}
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
	c := tx.Bucket(bucketJournal).Cursor()
	w := newTreeWriter(tree)
	added := 0
	for k, v := c.Seek(seqKey(n + 1)); k != nil && added < limit; k, v = c.Next() {
		seq := binary.BigEndian.Uint64(k)
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

// checkTree checks that the tree holds exactly the journal's entries:
// recomputing each entry's stored hashes from its hash and the stored
// hashes before them, which the entries before were checked to give, checks
// every stored hash in one pass, reading each about twice.
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
	// Chunks are numbered from 0 without a gap, and all but the last full
	// (treeSize checked the last).
	var chunks uint64
	full := treeChunkHashes * tlog.HashSize
	before := full // the length of the chunk before
	c := tree.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		switch {
		case len(k) != 8 || binary.BigEndian.Uint64(k) != chunks:
			bad("tree: chunk key %x, want chunk %d", k, chunks)
			return
		case before != full:
			bad("tree: chunk %d holds %d bytes, not the %d of a full chunk", chunks-1, before, full)
			return
		}
		before = len(v)
		chunks++
	}
	r := bucketHashes{tree}
	c = tx.Bucket(bucketJournal).Cursor()
	var i int64
	for k, v := c.First(); k != nil && i < int64(n); k, v = c.Next() {
		if len(v) < journalHashSize {
			return // verifyJournal reports it
		}
		want, err := tlog.StoredHashesForRecordHash(i, tlog.RecordHash(v[len(v)-journalHashSize:]), r)
		if err != nil {
			bad("tree at entry %d: %v", i+1, err)
			return
		}
		first := tlog.StoredHashIndex(0, i)
		for j := range want {
			if got := storedHash(tree, first+int64(j)); got == nil || tlog.Hash(got) != want[j] {
				bad("tree: stored hash %d does not match journal entry %d", first+int64(j), i+1)
				return
			}
		}
		i++
	}
}
