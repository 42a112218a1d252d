package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"github.com/tokenledger/tokenledger/internal/wire"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

// Journal chunks (schema 9). A key per journal entry cost each commit a
// bbolt Put per instruction: a search from the root, a copy of the key and
// value, four or five allocations, and 24 bytes of page element and key an
// entry. So the journal keeps its entries in chunks: a key, the seq of the
// chunk's first entry, holds that entry and the ones after it, as long as
// the chunk stays within journalChunkBytes. Four chunks of that size and
// their page elements fill a 4 KiB page; a larger chunk, which bbolt lays
// over pages of its own, would leave most of its last page empty, and
// bbolt puts at least two keys on a page.
//
// Where a chunk ends is a function of the entries alone: an entry joins the
// last chunk when the chunk with it stays within journalChunkBytes, and
// starts the next one otherwise. So every node lays out the same journal
// in the same bytes, however raft's log entries were grouped into calls of
// Apply, and whenever the node restarted: the last chunk in the file is
// taken up again where it ended (loadJournalChunk).
//
// A chunk does not store its entries' hashes (schema 10). An entry's hash
// is sha256(prev ‖ seq ‖ body) (hashV2), and its body is its record less
// the hash: so a chunk stores the hash of the entry before its first, and
// each entry's body, and a reader recomputes the hashes as it walks the
// chunk, each from the one before. Stored, the hash was 32 of a record's
// 114 bytes or so; the chunk's one costs 32 bytes for the ten or eleven
// entries it holds. What the cursor hands out is the record as the writer
// built it, body and hash (journalCursor), so everything that reads a
// record (rendering, the hash chain, Check) reads it as before. A body
// changed in the file changes every hash after it in its chunk, and the
// next chunk's stored hash (or, for the last chunk, the head the meta
// bucket records) no longer matches: verifyJournal finds it there.
//
// A value that opens with tagHashedChunk is a chunk of schema 9: the same
// but for the stored prev, each record with its hash. A value that opens
// with neither is one journal record, the entry of its key: what schemas 3
// to 8 wrote. A schema 9 or older file keeps them (the migration rewrites
// nothing), and the entries after them go into chunks of this form.
//
// An entry whose index and time are those of the entry before it in its
// chunk (the instructions of one raft entry share both) is stored short:
// tagShortEntry, its hash version, then its body after the time. The
// reader puts the index and time of the entry before back (ten bytes or
// so of the 80 a transfer's body takes). Every such entry is stored short,
// and a chunk's first entry never is, so the stored bytes are a function of
// the entries, as where chunks end is.
//
//	journal chunk  tagJournalChunk, the 32-byte hash of the entry before
//	               seq key (zeros for seq 1), then n >= 1 of (uvarint
//	               length, stored entry): the entries of seqs key, key+1,
//	               … key+n-1; a stored entry is the journal record less its
//	               hash, or its short form
//	hashed chunk   tagHashedChunk, then n >= 1 of (uvarint length, journal
//	               record) (schema 9)

const (
	tagJournalChunk byte = 'g'
	tagHashedChunk  byte = 'G'
	// tagShortEntry opens an entry stored without its index and time.
	tagShortEntry byte = 'j'
	// chunkHeader is a journal chunk's bytes before its first entry.
	chunkHeader = 1 + journalHashSize
	// journalChunkBytes bounds a chunk's value: 4 values of it, each with
	// bbolt's 16-byte element and an 8-byte key, and the 16-byte page
	// header fill a 4,096-byte page.
	journalChunkBytes = (4096-16)/4 - 16 - 8
)

// journalChunk is the journal's last chunk as Apply builds it, kept from
// call to call (callState). Each call puts it into the journal bucket as it
// ends (flush), so the layers always hold the journal whole.
type journalChunk struct {
	first uint64 // seq of its first entry; 0: no chunk open
	next  uint64 // seq the next entry must have
	buf   []byte // the chunk's value
	dirty bool   // buf holds entries the bucket does not
	// last is the hash of entry next-1: the prev of a chunk opened next.
	last [journalHashSize]byte
	// lastIT is the index and time of entry next-1, when it is in the
	// chunk: what the next entry's must be to be stored short.
	lastIT []byte
	key    [8]byte
}

// indexTimeEnd is where a journal body's time ends: after its tag, hash
// version, uvarint index, varint seconds and uvarint nanoseconds; 0 when
// the body does not hold them.
func indexTimeEnd(body []byte) int {
	at := 2
	if len(body) < at {
		return 0
	}
	for i := range 3 {
		var w int
		if i == 1 {
			_, w = binary.Varint(body[at:])
		} else {
			_, w = binary.Uvarint(body[at:])
		}
		if w <= 0 {
			return 0
		}
		at += w
	}
	return at
}

// loadJournalChunk takes up the journal's last value, if it is a chunk of
// this form, for the entries after seq, the journal's last, whose hash is
// head. After a value of an older form, the next entry opens a chunk.
func loadJournalChunk(journal *kv.Bucket, seq uint64, head [journalHashSize]byte) *journalChunk {
	c := &journalChunk{next: seq + 1, last: head}
	k, v := journal.Cursor().Last()
	if k == nil || len(v) == 0 || v[0] != tagJournalChunk {
		return c
	}
	first := binary.BigEndian.Uint64(k)
	n, ok := chunkEntries(v)
	assert(ok && first+uint64(n) == seq+1, "journal chunk at %d holds %d entries, the journal ends at %d", first, n, seq)
	c.first, c.buf = first, append(c.buf[:0], v...)
	var jc journalCursor
	_, rec := jc.enter(k, v)
	for len(jc.rest) > 0 {
		_, rec = jc.next()
	}
	if end := indexTimeEnd(rec); end > 0 {
		c.lastIT = append(c.lastIT[:0], rec[2:end]...)
	}
	return c
}

// chunkJoins reports whether an entry whose stored form is recLen bytes
// joins a chunk of chunkLen bytes.
func chunkJoins(chunkLen, recLen int) bool {
	return chunkLen+wire.UvarintLen(uint64(recLen))+recLen <= journalChunkBytes
}

// add appends entry seq, whose record (body and hash) is rec, putting the
// chunk it closes.
func (c *journalChunk) add(journal *kv.Bucket, seq uint64, rec []byte) error {
	if seq != c.next {
		// Not assert: its arguments, boxed on every call, would cost the
		// append two allocations.
		fail("journal entry %d appended after %d", seq, c.next-1)
	}
	body := rec[:len(rec)-journalHashSize]
	end := indexTimeEnd(body)
	short := c.first != 0 && end > 0 && c.lastIT != nil && bytes.Equal(body[2:end], c.lastIT)
	stored := len(body)
	if short {
		stored = 2 + len(body) - end
	}
	if c.first != 0 && !chunkJoins(len(c.buf), stored) {
		if err := c.flush(journal); err != nil {
			return err
		}
		c.first, short, stored = 0, false, len(body)
	}
	if c.first == 0 {
		c.first = seq
		c.buf = append(append(c.buf[:0], tagJournalChunk), c.last[:]...)
	}
	c.buf = binary.AppendUvarint(c.buf, uint64(stored))
	if short {
		c.buf = append(append(c.buf, tagShortEntry, body[1]), body[end:]...)
	} else {
		c.buf = append(c.buf, body...)
	}
	if end > 0 {
		c.lastIT = append(c.lastIT[:0], body[2:end]...)
	} else {
		c.lastIT = c.lastIT[:0:0]
	}
	copy(c.last[:], rec[len(body):])
	c.next, c.dirty = seq+1, true
	return nil
}

// flush puts the chunk, if it holds entries the bucket does not. A layer
// copies it, so buf is the chunk's again; bbolt alone (a migration, a
// benchmark's bare transaction) reads it until the commit, so it gets a
// copy of its own.
func (c *journalChunk) flush(journal *kv.Bucket) error {
	if !c.dirty {
		return nil
	}
	// The chunk's own key array: one on the stack would escape to the
	// heap through Put, an allocation a chunk.
	binary.BigEndian.PutUint64(c.key[:], c.first)
	val := c.buf
	if !journal.CopiesValues() {
		val = bytes.Clone(val)
	}
	if err := journal.Put(c.key[:], val); err != nil {
		return fmt.Errorf("journal chunk at %d: %w", c.first, err)
	}
	c.dirty = false
	return nil
}

// chunkBody is a chunk's entries, past its tag (and prev): nil, false for
// a value that is no chunk or too short for its header.
func chunkBody(v []byte) ([]byte, bool) {
	switch {
	case len(v) > 0 && v[0] == tagHashedChunk:
		return v[1:], true
	case len(v) >= chunkHeader && v[0] == tagJournalChunk:
		return v[chunkHeader:], true
	}
	return nil, false
}

// chunkEntries counts a chunk's entries, and reports whether its lengths
// frame it exactly.
func chunkEntries(v []byte) (int, bool) {
	rest, ok := chunkBody(v)
	if !ok {
		return 0, false
	}
	n := 0
	for ; len(rest) > 0; n++ {
		l, w := binary.Uvarint(rest)
		if w <= 0 || l > uint64(len(rest)-w) {
			return n, false
		}
		rest = rest[w+int(l):]
	}
	return n, n > 0
}

// journalCursor walks the journal entry by entry, across its values. It
// hands out each entry's record, body and hash, as the writer built it:
// from a chunk of this form (tagJournalChunk), a copy with the hash it
// recomputes, valid as long as the caller holds it.
type journalCursor struct {
	c    *kv.Cursor
	seq  uint64 // of the entry last returned
	cur  []byte // its record
	rest []byte // the entries of its chunk after it
	// stored is the length of the entry's stored form: its record, or in a
	// chunk of this form its body.
	stored int
	// opens: the entry last returned is the first of its value; valueLen
	// and kind are that value's length and its tag when it is a chunk (0
	// otherwise), and prevLen and prevKind the value's before it, when the
	// walk stepped from there (prevLen 0 otherwise): Check's test of where
	// chunks end.
	opens    bool
	kind     byte
	valueLen int
	prevKind byte
	prevLen  int
	// chunkPrev is the hash a chunk of this form stores of the entry before
	// it, and chain the hash of the entry last returned from it.
	chunkPrev, chain [journalHashSize]byte
	// slab holds the records recomputed from the current chunk; a chunk's
	// records never outgrow it, so those handed out stay as they were.
	slab    []byte
	scratch []byte // hashV2's
	// lastIT is the index and time of the entry last returned from a chunk
	// of this form (nil: none yet, or it had none); short says that entry
	// was stored short, and sameIT that its index and time were lastIT's
	// before it: Check's test that every entry that could be is.
	lastIT        []byte
	short, sameIT bool
	// prevLastIT is lastIT as the value before this one left it.
	prevLastIT []byte
	// noHash: records of a chunk of this form end in zeros, not their
	// hash, for a reader of their other fields (the id index's scan).
	noHash bool
}

func newJournalCursor(journal *kv.Bucket) *journalCursor {
	return &journalCursor{c: journal.Cursor()}
}

// enter makes the value v at key k the current one and returns its first
// entry: its seq and record, (0, nil) when k is nil. A chunk framed
// wrongly gives what is left of it as one record, which no record check
// passes.
func (jc *journalCursor) enter(k, v []byte) (uint64, []byte) {
	jc.prevKind, jc.prevLen, jc.prevLastIT = jc.kind, jc.valueLen, jc.lastIT
	if k == nil {
		jc.rest, jc.valueLen, jc.kind = nil, 0, 0
		return 0, nil
	}
	jc.seq, jc.opens = binary.BigEndian.Uint64(k), true
	jc.valueLen, jc.kind = len(v), 0
	rest, ok := chunkBody(v)
	if !ok {
		jc.rest, jc.cur, jc.stored = nil, v, len(v)
		return jc.seq, v
	}
	jc.kind, jc.rest = v[0], rest
	if jc.kind == tagJournalChunk {
		jc.chunkPrev = [journalHashSize]byte(v[1:chunkHeader])
		jc.chain = jc.chunkPrev
		// Each record is its stored length and a hash longer (n framed
		// entries give len(rest) + 32·n bytes at most, and one unframed
		// rest no more than that), and a short one its index and time
		// (three varints) longer still.
		n, _ := chunkEntries(v)
		jc.slab = make([]byte, 0, len(rest)+(journalHashSize+3*binary.MaxVarintLen64)*(n+1))
		jc.lastIT = nil
	}
	return jc.seq, jc.take()
}

// take cuts the next record from rest: in a chunk of this form, its body
// then the hash recomputed over it.
func (jc *journalCursor) take() []byte {
	l, w := binary.Uvarint(jc.rest)
	if w <= 0 || l > uint64(len(jc.rest)-w) {
		jc.cur, jc.rest = jc.rest, nil
		jc.stored = len(jc.cur)
		return jc.cur
	}
	body := jc.rest[w : w+int(l) : w+int(l)]
	jc.rest = jc.rest[w+int(l):]
	jc.stored = len(body)
	if jc.kind != tagJournalChunk {
		jc.cur = body
		return body
	}
	start := len(jc.slab)
	jc.short = len(body) >= 2 && body[0] == tagShortEntry
	if jc.short {
		if jc.lastIT == nil {
			// Nothing to take the index and time from: what is left of
			// the chunk as one record, which no record check passes.
			jc.cur, jc.rest = body, nil
			return body
		}
		jc.slab = append(append(append(jc.slab, tagJournal, body[1]), jc.lastIT...), body[2:]...)
		jc.sameIT = true
	} else {
		jc.slab = append(jc.slab, body...)
		end := indexTimeEnd(body)
		jc.sameIT = end > 0 && jc.lastIT != nil && bytes.Equal(body[2:end], jc.lastIT)
		if end > 0 {
			jc.lastIT = body[2:end:end]
		} else {
			jc.lastIT = nil
		}
	}
	if jc.noHash {
		jc.slab = append(jc.slab, make([]byte, journalHashSize)...)
	} else {
		full := jc.slab[start:]
		jc.scratch = binary.BigEndian.AppendUint64(append(jc.scratch[:0], jc.chain[:]...), jc.seq)
		jc.scratch = append(jc.scratch, full...)
		jc.chain = sha256.Sum256(jc.scratch) // hashV2
		jc.slab = append(jc.slab, jc.chain[:]...)
	}
	jc.cur = jc.slab[start:len(jc.slab):len(jc.slab)]
	return jc.cur
}

// joinLen is how long the current entry, the first of its chunk, would be
// stored at the end of the chunk before: short if its index and time are
// that chunk's last entry's.
func (jc *journalCursor) joinLen() int {
	body := jc.cur[:max(len(jc.cur)-journalHashSize, 0)]
	if end := indexTimeEnd(body); end > 0 && jc.prevLastIT != nil && bytes.Equal(body[2:end], jc.prevLastIT) {
		return 2 + len(body) - end
	}
	return jc.stored
}

// first moves to the journal's first entry.
func (jc *journalCursor) first() (uint64, []byte) {
	jc.valueLen, jc.kind = 0, 0
	return jc.enter(jc.c.First())
}

// next moves to the entry after the current one; (0, nil) past the last.
func (jc *journalCursor) next() (uint64, []byte) {
	if len(jc.rest) > 0 {
		jc.seq++
		jc.opens = false
		return jc.seq, jc.take()
	}
	return jc.enter(jc.c.Next())
}

// seek moves to entry seq, or the first after it the journal holds.
func (jc *journalCursor) seek(seq uint64) (uint64, []byte) {
	jc.valueLen, jc.kind = 0, 0
	k, v := jc.c.Seek(seqKey(seq))
	if k == nil || binary.BigEndian.Uint64(k) > seq {
		// The value before may hold seq.
		var pk, pv []byte
		if k == nil {
			pk, pv = jc.c.Last()
		} else {
			pk, pv = jc.c.Prev()
		}
		if pk != nil {
			k, v = pk, pv
		} else {
			k, v = jc.c.Seek(seqKey(seq))
		}
	}
	s, rec := jc.enter(k, v)
	for rec != nil && s < seq {
		s, rec = jc.next()
	}
	return s, rec
}

// advance moves on to entry seq, or the first after it the journal holds:
// through the current chunk when seq is in it, with a seek otherwise. A
// reader of entries in rising seqs (a filtered page) so reads each chunk
// once, not once an entry.
func (jc *journalCursor) advance(seq uint64) (uint64, []byte) {
	if jc.valueLen > 0 && jc.cur != nil && jc.seq <= seq {
		for jc.seq < seq && len(jc.rest) > 0 {
			jc.next()
		}
		switch {
		case jc.seq == seq:
			return seq, jc.cur
		case jc.seq+1 == seq:
			return jc.next() // the next value's first entry, or past the end
		}
	}
	return jc.seek(seq)
}

// withPrev is entry seq's record and the hash of the entry before it
// (zeros before the first), advancing the cursor to seq; a nil record
// when the journal does not hold seq.
func (jc *journalCursor) withPrev(seq uint64) (prev [journalHashSize]byte, rec []byte) {
	if seq > 1 {
		if s, v := jc.advance(seq - 1); s == seq-1 && len(v) >= journalHashSize {
			copy(prev[:], v[len(v)-journalHashSize:])
		}
	}
	if s, v := jc.advance(seq); s == seq {
		rec = v
	}
	return prev, rec
}

// last moves to the journal's last entry.
func (jc *journalCursor) last() (uint64, []byte) {
	jc.valueLen, jc.kind = 0, 0
	s, rec := jc.enter(jc.c.Last())
	for len(jc.rest) > 0 {
		s, rec = jc.next()
	}
	return s, rec
}

// journalRecordAt is the record of journal entry seq, nil if the journal
// does not hold it.
func journalRecordAt(journal *kv.Bucket, seq uint64) []byte {
	return journalRecordAtWith(journal, seq, false)
}

// journalRecordAtWith is journalRecordAt, the record's hash left zero when
// noHash is set (a reader of its other fields: the id index's).
func journalRecordAtWith(journal *kv.Bucket, seq uint64, noHash bool) []byte {
	key := seqKey(seq)
	if v := journal.Get(key); v != nil {
		// The first entry of its value: a key's own.
		jc := journalCursor{noHash: noHash}
		_, rec := jc.enter(key, v)
		return rec
	}
	jc := newJournalCursor(journal)
	jc.noHash = noHash
	s, rec := jc.seek(seq)
	if s != seq {
		return nil
	}
	return rec
}
