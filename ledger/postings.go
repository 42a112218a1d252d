package ledger

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"

	"github.com/tokenledger/tokenledger/internal/wire"
	"github.com/tokenledger/tokenledger/ledger/kv"
)

// The journal indexes (journal_party, journal_symbol) are posting lists:
// under each name, the seqs of the entries that serve it. They are stored
// packed, a chunk of seqs per key, and written behind: Apply adds each
// entry's postings to a buffer in memory, and the commit writes the buffer
// sorted by name, each name's new seqs appended to its last chunk.
//
// A key per (name, seq), as schema 4 kept them, cost a random page write
// per party an entry names, and about 35 bytes a posting on disk. A chunk
// of up to postingChunkBytes holds a seq in one to three bytes, and a name
// touched by many entries of one commit costs one read and one write of its
// last chunk, not one insert per entry.
//
// The buffer travels with its layer (store.go), and the commit writes it
// after the layer. Readers of these buckets commit first (viewCommitted),
// so nothing reads the buffer; Check under StrictChecks flushes it into the
// live layer, once no commit is in flight, before it looks.

// postingChunkBytes bounds a chunk's value: a larger chunk holds more seqs
// per key but is rewritten whole when a seq is appended.
const postingChunkBytes = 256

// tagPostings opens a chunk's value.
const tagPostings byte = 'S'

// A chunk is stored under name 0 first(8) (big-endian), the first seq it
// holds; its value is tagPostings then, for each further seq, the uvarint
// difference from the seq before. Seqs increase within a chunk and across
// a name's chunks.

// chunkSeqs decodes the seqs of the chunk stored under key (whose last 8
// bytes are its first seq) into dst.
func chunkSeqs(dst []uint64, key, val []byte) []uint64 {
	if len(key) < 9 || len(val) == 0 || val[0] != tagPostings {
		fail("posting chunk %q: malformed", key)
	}
	seq := binary.BigEndian.Uint64(key[len(key)-8:])
	dst = append(dst, seq)
	for b := val[1:]; len(b) > 0; {
		d, n := binary.Uvarint(b)
		if n <= 0 || d == 0 || seq > math.MaxUint64-d {
			fail("posting chunk %q: malformed delta", key)
		}
		seq += d
		dst = append(dst, seq)
		b = b[n:]
	}
	return dst
}

// lastSeq is the last seq of the chunk stored under key.
func lastSeq(key, val []byte) uint64 {
	seq := binary.BigEndian.Uint64(key[len(key)-8:])
	for b := val[1:]; len(b) > 0; {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			fail("posting chunk %q: malformed delta", key)
		}
		seq += d
		b = b[n:]
	}
	return seq
}

const (
	postingParty uint8 = iota
	postingSymbol
)

var postingBuckets = [...][]byte{postingParty: bucketJournalParty, postingSymbol: bucketJournalSymbol}

// postingBuffer holds the postings applied since the last commit, by name:
// a name's seqs are a chain through seqs and next in the order they were
// added, so a flush sorts the names, not every posting (several an
// instruction, each a string compare at every step of the sort). Only the
// names hold pointers; the seqs and their chains do not.
type postingBuffer struct {
	// runOf finds a name's run: the hash of bucket and name in a flat
	// table (refIndex), the name compared in its run; a name whose hash
	// another name holds goes in the overflow map. A Go map of the tens of
	// thousands of names a commit's entries serve cost every posting
	// several cache misses (refIndex).
	index    refIndex
	overflow map[postingRun]uint32 // by bucket and name; first and last unset
	runs     []postingRun
	seqs     []uint64
	next     []int32 // the next posting of the same name, -1 at the last
	arena    []byte  // the values written by the last flush, until its commit
	key      []byte  // scratch
	chain    []uint64
	order    []int32
}

// postingRun is one name's postings: the first and last of its chain.
type postingRun struct {
	bucket      uint8
	name        string
	first, last int32
}

// postingSeed seeds the hashes of the buffers' names.
var postingSeed = maphash.MakeSeed()

func (b *postingBuffer) add(bucket uint8, name string, seq uint64) {
	at := int32(len(b.seqs))
	b.seqs = append(b.seqs, seq)
	b.next = append(b.next, -1)
	h := maphash.String(postingSeed, name) ^ uint64(bucket)*0x9e3779b97f4a7c15
	r, ok := b.index.get(h)
	switch {
	case ok && b.runs[r].name == name && b.runs[r].bucket == bucket:
	case ok: // another name holds the hash
		key := postingRun{bucket: bucket, name: name}
		if r, ok = b.overflow[key]; !ok {
			if b.overflow == nil {
				b.overflow = map[postingRun]uint32{}
			}
			r = uint32(len(b.runs))
			b.overflow[key] = r
			b.runs = append(b.runs, postingRun{bucket: bucket, name: name, first: at, last: at})
			return
		}
	default:
		b.index.set(h, uint32(len(b.runs)))
		b.runs = append(b.runs, postingRun{bucket: bucket, name: name, first: at, last: at})
		return
	}
	b.next[b.runs[r].last] = at
	b.runs[r].last = at
}

// empty reports whether no posting was added since the last flush.
func (b *postingBuffer) empty() bool { return len(b.seqs) == 0 }

// drop forgets the postings added, keeping the arena.
func (b *postingBuffer) drop() {
	b.index.clear()
	clear(b.overflow)
	b.runs, b.seqs, b.next = b.runs[:0], b.seqs[:0], b.next[:0]
}

// reset drops the buffer: after a flush has been committed, or with the
// transaction it was for.
func (b *postingBuffer) reset() {
	b.drop()
	b.arena = b.arena[:0]
}

// appendTo appends the buffered postings to dst in the form readFrom adds
// back: uvarint runs, then each run's bucket byte, uvarint length and
// name, uvarint count and its seqs in the order added, each as the uvarint
// difference from the one before (the first from 0). A staged layer keeps
// them in the file with it (stage.go).
func (b *postingBuffer) appendTo(dst []byte) []byte {
	dst = slices.Grow(dst, b.appendSize())
	dst = binary.AppendUvarint(dst, uint64(len(b.runs)))
	for _, run := range b.runs {
		dst = append(dst, run.bucket)
		dst = binary.AppendUvarint(dst, uint64(len(run.name)))
		dst = append(dst, run.name...)
		n := 0
		for at := run.first; at >= 0; at = b.next[at] {
			n++
		}
		dst = binary.AppendUvarint(dst, uint64(n))
		last := uint64(0)
		for at := run.first; at >= 0; at = b.next[at] {
			dst = binary.AppendUvarint(dst, b.seqs[at]-last)
			last = b.seqs[at]
		}
	}
	return dst
}

// appendSize bounds the bytes appendTo appends.
func (b *postingBuffer) appendSize() int {
	n := binary.MaxVarintLen64 + len(b.seqs)*binary.MaxVarintLen64
	for _, run := range b.runs {
		n += 1 + 2*binary.MaxVarintLen64 + len(run.name)
	}
	return n
}

// readFrom adds the postings appendTo wrote, all of src, to b. It refuses
// anything else: an unknown bucket, a name twice, lengths past the end,
// seqs that overflow, bytes left over.
func (b *postingBuffer) readFrom(src []byte) error {
	r := wire.NewReader(src)
	seen := map[postingRun]bool{} // by bucket and name
	for range r.Uvarint() {
		bucket := r.Byte()
		name := string(r.StrBytes())
		count := r.Uvarint()
		key := postingRun{bucket: bucket, name: name}
		switch {
		case r.Err() != nil:
			return fmt.Errorf("staged postings: %w", r.Err())
		case int(bucket) >= len(postingBuckets) || name == "" || seen[key]:
			return fmt.Errorf("staged postings: index %d name %q: unknown, empty or twice", bucket, name)
		case count == 0 || count > uint64(r.Len()):
			return fmt.Errorf("staged postings: name %q: %d seqs", name, count)
		}
		seen[key] = true
		seq := uint64(0)
		for range count {
			d := r.Uvarint()
			if r.Err() != nil || seq > math.MaxUint64-d {
				return fmt.Errorf("staged postings: name %q: a seq past the end or overflowing", name)
			}
			seq += d
			b.add(bucket, name, seq)
		}
	}
	switch {
	case r.Err() != nil:
		return fmt.Errorf("staged postings: %w", r.Err())
	case r.Len() > 0:
		return fmt.Errorf("staged postings: %d bytes past the end", r.Len())
	}
	return nil
}

// flush writes the buffered postings into tx, name by name in key order,
// and empties the buffer. The values stay in the arena, which bbolt reads
// until the commit: appends never write over a value handed out, and a
// grown arena leaves the old array to bbolt; reset it only after the commit.
func (b *postingBuffer) flush(tx *kv.Tx) error {
	if b.empty() {
		return nil
	}
	_, err := newPostingsWriter([]*postingBuffer{b}, false).write(tx, math.MaxInt)
	return err
}

// postingsWriter writes the postings of several buffers, a layer's each,
// oldest first, name by name in key order, each name's seqs of every
// buffer in one append to its chunks: in one transaction or over several
// (mergeInSlices), each name whole in one of them. The last buffer's
// arena holds the values written until the last commit.
type postingsWriter struct {
	bufs  []*postingBuffer
	heads []int // each buffer's next run, an index into its order
	// posted: a name's seqs its chunks hold already are skipped, not
	// refused. A crash between two slices of a merge leaves the names
	// written so far in the file, and Open writes the merge again.
	posted bool
}

func newPostingsWriter(bufs []*postingBuffer, posted bool) *postingsWriter {
	for _, b := range bufs {
		b.sortRuns()
	}
	return &postingsWriter{bufs: bufs, heads: make([]int, len(bufs)), posted: posted}
}

// sortRuns orders the runs by bucket and name.
func (b *postingBuffer) sortRuns() {
	b.order = b.order[:0]
	for r := range b.runs {
		b.order = append(b.order, int32(r))
	}
	slices.SortFunc(b.order, func(x, y int32) int { return compareRuns(&b.runs[x], &b.runs[y]) })
}

func compareRuns(x, y *postingRun) int {
	if c := cmp.Compare(x.bucket, y.bucket); c != 0 {
		return c
	}
	return strings.Compare(x.name, y.name)
}

// write appends up to maxNames names' postings to their chunks in tx and
// reports whether names remain. Once none do, the buffers are emptied.
func (w *postingsWriter) write(tx *kv.Tx, maxNames int) (more bool, err error) {
	scratch := w.bufs[len(w.bufs)-1]
	// Names come in key order, so their chunks are put in it: a packed
	// bucket's writer rewrites each of its chunks once (a name reads
	// only its own keys, which no put before it changed).
	var sw *kv.SortedWriter
	open := -1 // the bucket sw writes
	flush := func() error {
		if sw == nil {
			return nil
		}
		return sw.Flush()
	}
	for written := 0; ; written++ {
		var least *postingRun
		for i, b := range w.bufs {
			if w.heads[i] < len(b.order) {
				if r := &b.runs[b.order[w.heads[i]]]; least == nil || compareRuns(r, least) < 0 {
					least = r
				}
			}
		}
		if least == nil {
			break
		}
		if written == maxNames {
			return true, flush()
		}
		bucket, name := least.bucket, least.name
		scratch.chain = scratch.chain[:0]
		for i, b := range w.bufs {
			if w.heads[i] == len(b.order) {
				continue
			}
			if r := &b.runs[b.order[w.heads[i]]]; r.bucket == bucket && r.name == name {
				for at := r.first; at >= 0; at = b.next[at] {
					scratch.chain = append(scratch.chain, b.seqs[at])
				}
				w.heads[i]++
			}
		}
		if int(bucket) != open {
			if err := flush(); err != nil {
				return false, fmt.Errorf("index %s: %w", postingBuckets[open], err)
			}
			sw = tx.Bucket(postingBuckets[bucket]).SortedWriter()
			open = int(bucket)
		}
		if err := scratch.appendName(sw, name, scratch.chain, w.posted); err != nil {
			return false, fmt.Errorf("index %s: %w", name, err)
		}
	}
	if err := flush(); err != nil {
		return false, fmt.Errorf("index %s: %w", postingBuckets[open], err)
	}
	for _, b := range w.bufs {
		b.drop()
	}
	return false, nil
}

// appendName appends one name's new postings (seqs increasing) to its
// chunks in bk: to its last chunk while that has room, then in new chunks.
// Puts copy keys, so one scratch key serves every Put. With posted, seqs up
// to the last its chunks hold are skipped.
func (b *postingBuffer) appendName(bk *kv.SortedWriter, name string, seqs []uint64, posted bool) error {
	b.key = append(append(b.key[:0], name...), 0)
	n := len(b.key)
	b.key = binary.BigEndian.AppendUint64(b.key, math.MaxUint64)
	prefix := b.key[:n]
	k, v, err := bk.Floor(b.key) // the name's last chunk, if it has any
	if err != nil {
		return err
	}
	open := false // b.key is the key of the chunk being written
	var last uint64
	start := len(b.arena)
	if k != nil && len(k) == n+8 && bytes.HasPrefix(k, prefix) && len(v) < postingChunkBytes {
		b.key = append(b.key[:n], k[n:]...)
		open, last = true, lastSeq(k, v)
		b.arena = append(b.arena, v...)
	}
	if posted && open {
		for len(seqs) > 0 && seqs[0] <= last {
			seqs = seqs[1:]
		}
		if len(seqs) == 0 {
			b.arena = b.arena[:start]
			return nil
		}
	}
	for _, seq := range seqs {
		switch {
		case open && seq == last:
			continue // posted twice for one entry
		case open && seq < last:
			fail("index %s: seq %d does not follow %d", name, seq, last)
		case open && len(b.arena)-start+binary.MaxVarintLen64 <= postingChunkBytes:
			b.arena = binary.AppendUvarint(b.arena, seq-last)
		default:
			if open {
				if err := bk.Put(b.key, b.arena[start:len(b.arena):len(b.arena)]); err != nil {
					return err
				}
			}
			b.key = binary.BigEndian.AppendUint64(b.key[:n], seq)
			open, start = true, len(b.arena)
			b.arena = append(b.arena, tagPostings)
		}
		last = seq
	}
	return bk.Put(b.key, b.arena[start:len(b.arena):len(b.arena)])
}

// seqList is one name's seqs in a journal index, read a chunk at a time.
type seqList struct {
	c      *kv.Cursor
	prefix []byte
	key    []byte
	chunk  []uint64 // the seqs of the chunk the cursor is on
}

func newSeqList(b *kv.Bucket, name string) *seqList {
	return &seqList{c: b.Cursor(), prefix: append([]byte(name), 0)}
}

// owns reports whether k is a chunk key of the list's name.
func (l *seqList) owns(k []byte) bool {
	return k != nil && len(k) == len(l.prefix)+8 && bytes.HasPrefix(k, l.prefix)
}

// seek returns the first seq of the list at or after from.
func (l *seqList) seek(from uint64) (uint64, bool) {
	if n := len(l.chunk); n > 0 && l.chunk[0] <= from && from <= l.chunk[n-1] {
		i, _ := slices.BinarySearch(l.chunk, from)
		return l.chunk[i], true
	}
	// The chunk holding from is the last one starting at or before it, else
	// the first one after.
	l.key = binary.BigEndian.AppendUint64(append(l.key[:0], l.prefix...), from)
	k, v := l.c.Seek(l.key)
	if !l.owns(k) || binary.BigEndian.Uint64(k[len(l.prefix):]) != from {
		var pk, pv []byte
		if k == nil {
			pk, pv = l.c.Last()
		} else {
			pk, pv = l.c.Prev()
		}
		if l.owns(pk) {
			k, v = pk, pv
		} else {
			k, v = l.c.Seek(l.key)
		}
	}
	for ; l.owns(k); k, v = l.c.Next() {
		l.chunk = chunkSeqs(l.chunk[:0], k, v)
		if l.chunk[len(l.chunk)-1] >= from {
			i, _ := slices.BinarySearch(l.chunk, from)
			return l.chunk[i], true
		}
	}
	l.chunk = l.chunk[:0]
	return 0, false
}

// checkPostings checks bucket's chunks: well formed, seqs increasing within
// and across a name's chunks, no chunk over the bound, and returns how many
// seqs they hold. With want, it also checks that they hold exactly want's
// pairs: every journal entry under every name it gives, and nothing else.
func checkPostings(b *kv.Bucket, what string, bad func(string, ...any), want *postingSet) int {
	total := 0
	var name []byte
	var last uint64
	var seqs []uint64
	var cmp postingCompare
	if want != nil {
		cmp.start(want, what, bad)
	}
	_ = b.ForEach(func(k, v []byte) error {
		if len(k) < 9 || k[len(k)-9] != 0 || len(v) == 0 || v[0] != tagPostings || len(v) > postingChunkBytes {
			bad("%s key %q: not a posting chunk", what, k)
			return nil
		}
		seqs = chunkSeqs(seqs[:0], k, v)
		if n := k[:len(k)-9]; bytes.Equal(n, name) && seqs[0] <= last {
			bad("%s %s: chunk at %d does not follow %d", what, n, seqs[0], last)
		} else if !bytes.Equal(n, name) {
			name = append(name[:0], n...)
			if want != nil {
				cmp.name(name)
			}
		}
		last = seqs[len(seqs)-1]
		total += len(seqs)
		if want != nil {
			cmp.seqs(seqs)
		}
		return nil
	})
	if want != nil {
		cmp.end()
	}
	return total
}

// postingSet is the (name, seq) pairs the journal gives one index, for
// Check: names numbered, each pair packed as id<<postingSeqBits | seq, then
// sorted, so the index is compared in one walk in key order instead of a
// seek per pair (most of a restore's check, which a snapshot gets).
type postingSet struct {
	// ids numbers the names by 128 bits of hash (two keys share one with a
	// chance of about n²/2^129): a lookup compares the hash in the map's
	// slot instead of following the slot's string to its bytes, a cache
	// miss more on a million names.
	ids   map[nameHash]uint32
	seeds [2]maphash.Seed
	names []string
	pairs []uint64
	// starts[id] is where id's pairs begin once sorted, starts[id+1] where
	// they end: two binary searches over a million investors' pairs cost a
	// restore's check 3 s of the 52 s of CPU it took (one profile).
	starts []uint32
}

// postingSeqBits bounds the seqs a postingSet packs: 2^40, a trillion
// journal entries.
const postingSeqBits = 40

// postingSeqMask takes the seq out of a packed pair.
const postingSeqMask = 1<<postingSeqBits - 1

type nameHash [2]uint64

// init makes the map and its seeds, on the set's first use.
func (p *postingSet) init() {
	if p.ids == nil {
		p.ids = map[nameHash]uint32{}
		p.seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	}
}

func (p *postingSet) hash(name string) nameHash {
	p.init()
	return nameHash{maphash.String(p.seeds[0], name), maphash.String(p.seeds[1], name)}
}

func (p *postingSet) add(name string, seq uint64) {
	if seq >= 1<<postingSeqBits {
		// Not assert: its argument, boxed on every call, would cost each
		// posting an allocation.
		fail("journal seq %d beyond the check's bound", seq)
	}
	h := p.hash(name)
	id, ok := p.ids[h]
	if !ok {
		id = uint32(len(p.names))
		p.ids[h] = id
		p.names = append(p.names, name)
	}
	p.pairs = append(p.pairs, uint64(id)<<postingSeqBits|seq)
}

// id is name's number, and whether the set has it.
func (p *postingSet) id(name string) (uint32, bool) {
	id, ok := p.ids[p.hash(name)]
	return id, ok
}

// idOf is id of a name given as bytes.
func (p *postingSet) idOf(name []byte) (uint32, bool) {
	p.init()
	id, ok := p.ids[nameHash{maphash.Bytes(p.seeds[0], name), maphash.Bytes(p.seeds[1], name)}]
	return id, ok
}

// of is name's seqs, in order, once the set is sorted (postingCompare.start
// sorts it); packed with name's id, which they all share, so comparing them
// compares the seqs.
func (p *postingSet) of(name string) []uint64 {
	id, ok := p.id(name)
	if !ok {
		return nil
	}
	return p.pairs[p.starts[id]:p.starts[id+1]]
}

// sort sorts the pairs, drops repeats and finds where each name's begin.
func (p *postingSet) sort() {
	slices.Sort(p.pairs)
	p.pairs = slices.Compact(p.pairs)
	assert(uint64(len(p.pairs)) < math.MaxUint32, "%d journal postings, beyond the check's bound", len(p.pairs))
	p.starts = make([]uint32, len(p.names)+1)
	i := 0
	for id := range p.names {
		p.starts[id] = uint32(i)
		for i < len(p.pairs) && p.pairs[i]>>postingSeqBits == uint64(id) {
			i++
		}
	}
	p.starts[len(p.names)] = uint32(i)
}

// postingCompare walks a postingSet beside an index's chunks in key order.
type postingCompare struct {
	want      *postingSet
	what      string
	bad       func(string, ...any)
	seen      []bool
	id        uint32
	known     bool
	pos, stop int // the current name's pairs still unmatched
}

func (c *postingCompare) start(want *postingSet, what string, bad func(string, ...any)) {
	want.sort()
	*c = postingCompare{want: want, what: what, bad: bad, seen: make([]bool, len(want.names))}
}

// name moves to the next name of the index.
func (c *postingCompare) name(n []byte) {
	c.finish()
	c.id, c.known = c.want.idOf(n)
	if !c.known {
		c.bad("%s %s: indexed, but no journal entry names it", c.what, n)
		return
	}
	c.seen[c.id] = true
	c.pos, c.stop = c.span(c.id)
}

// span is where id's pairs are in the sorted pairs.
func (c *postingCompare) span(id uint32) (int, int) {
	return int(c.want.starts[id]), int(c.want.starts[id+1])
}

// seqs matches the next seqs of the current name.
func (c *postingCompare) seqs(seqs []uint64) {
	if !c.known {
		return
	}
	base := uint64(c.id) << postingSeqBits
	for _, seq := range seqs {
		for c.pos < c.stop && c.want.pairs[c.pos] < base|seq {
			c.missing(c.want.pairs[c.pos])
			c.pos++
		}
		if c.pos < c.stop && c.want.pairs[c.pos] == base|seq {
			c.pos++
			continue
		}
		c.bad("%s %s: entry %d is indexed, but does not name it", c.what, c.want.names[c.id], seq)
	}
}

func (c *postingCompare) missing(pair uint64) {
	c.bad("journal entry %d is not indexed in %s under %s", pair&(1<<postingSeqBits-1), c.what, c.want.names[pair>>postingSeqBits])
}

// finish reports the current name's pairs left unmatched.
func (c *postingCompare) finish() {
	if c.known {
		for ; c.pos < c.stop; c.pos++ {
			c.missing(c.want.pairs[c.pos])
		}
	}
	c.known = false
}

// end reports the names the journal gives and the index lacks.
func (c *postingCompare) end() {
	c.finish()
	for id, seen := range c.seen {
		if !seen {
			lo, _ := c.span(uint32(id))
			c.missing(c.want.pairs[lo])
		}
	}
}
