package kv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/tokenledger/tokenledger/internal/wire"
	"slices"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// A packed bucket keeps its keys many to a bbolt value: a chunk holds a run
// of consecutive keys with their values, under a bbolt key (its fence) at
// or below the chunk's first key and above the previous chunk's last. A
// commit that changes keys of a large bucket at random rewrites a chunk for
// each run of them instead of a bbolt key each: bbolt searches from the
// root, copies the key and materializes the page's elements for every key
// it is given, and what a chunk's page holds is a few elements instead of
// dozens (ledger/kv's BenchmarkBoltFloor: 250,000 holdings, 5.3–6.3 µs and
// 23 allocations a transfer a key a holding, 1.25 µs and 2 packed 64 to a
// value).
//
// Everything in this package reads and writes a packed bucket by its keys,
// as it would a plain one: Get, cursors, ForEach, Put and Delete (straight
// or through layers), so callers do not see chunks. Code that reads the
// bbolt bucket itself sees chunks and must not be pointed at one.
//
// A bucket is packed when bbolt's sequence of it is packedMark (Pack sets
// it): the file says how to read it, so a bucket written before packing
// existed reads as it was until Pack rewrites it.
//
//	chunk  uvarint entries (at least one), then each in key order:
//	       uvarint key length, key, uvarint value length, value
const packedMark = 0x6b762d7061636b31 // "kv-pack1"

// Chunk sizes. A chunk that grows past packedMaxBytes is split into chunks
// of about packedSplitBytes: a page of 4 KiB holds two or three, and a
// rewrite copies a kilobyte or two.
const (
	packedMaxBytes   = 2048
	packedSplitBytes = 1024
)

// isPacked reports whether b's keys are packed into chunks.
func isPacked(b *bolt.Bucket) bool { return b != nil && b.Sequence() == packedMark }

// IsPacked reports whether the bbolt bucket b keeps its keys in chunks.
func IsPacked(b *bolt.Bucket) bool { return isPacked(b) }

// chunkEntry is one key of a chunk and its value.
type chunkEntry struct{ key, val []byte }

// decodeChunk appends the entries of chunk v to dst. The entries point
// into v. A chunk that does not decode is damage in the file beneath,
// which panics as the ledger's other damaged records do: a reader must
// not take a damaged chunk for fewer keys.
func decodeChunk(dst []chunkEntry, fence, v []byte) []chunkEntry {
	n, v := chunkEntries(fence, v)
	for i := uint64(0); i < n; i++ {
		var e chunkEntry
		e.key, e.val, v = nextEntry(fence, v, i)
		dst = append(dst, e)
	}
	if len(v) != 0 {
		panic(fmt.Sprintf("kv: packed chunk %x: %d bytes past its last entry", fence, len(v)))
	}
	return dst
}

// chunkEntries returns the count of chunk v's entries and the bytes that
// hold them, and panics on a chunk that does not start with a count.
func chunkEntries(fence, v []byte) (uint64, []byte) {
	n, w := binary.Uvarint(v)
	if w <= 0 || n == 0 || n > uint64(len(v)) {
		panic(fmt.Sprintf("kv: packed chunk %x: %d bytes do not start with a count of entries", fence, len(v)))
	}
	return n, v[w:]
}

// nextEntry reads entry i of a chunk, which v starts with, and returns
// the bytes past it; it panics on an entry that runs past the chunk.
func nextEntry(fence, v []byte, i uint64) (key, val, rest []byte) {
	key, rest, ok := chunkField(v)
	if ok {
		val, rest, ok = chunkField(rest)
	}
	if !ok {
		panic(fmt.Sprintf("kv: packed chunk %x: entry %d runs past the chunk", fence, i))
	}
	return key, val, rest
}

// chunkField reads a length-prefixed field of a chunk.
func chunkField(v []byte) (field, rest []byte, ok bool) {
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) {
		return nil, nil, false
	}
	return v[w : w+int(n) : w+int(n)], v[w+int(n):], true
}

// entrySize is the bytes an entry takes in a chunk.
func entrySize(e chunkEntry) int {
	return wire.UvarintLen(uint64(len(e.key))) + len(e.key) + wire.UvarintLen(uint64(len(e.val))) + len(e.val)
}

func appendChunk(dst []byte, ents []chunkEntry) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ents)))
	for _, e := range ents {
		dst = appendEntry(dst, e)
	}
	return dst
}

// findChunk places c at the chunk that holds key if any does: the last
// whose fence is at or below key. It returns that chunk's fence and value
// (nil when key lies before every chunk) and the next chunk's fence (nil:
// none follows).
func findChunk(c *bolt.Cursor, key []byte) (fence, val, next []byte) {
	k, v := c.Seek(key)
	if k != nil && bytes.Equal(k, key) {
		next, _ = c.Next()
		return k, v, next
	}
	next = k
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	return k, v, next
}

// getPacked returns the value of key in the packed bucket under c, or nil.
func getPacked(c *bolt.Cursor, key []byte) []byte {
	k, v := c.Seek(key)
	if k == nil || !bytes.Equal(k, key) {
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		if k == nil {
			return nil
		}
	}
	return chunkGet(k, v, key)
}

// chunkGet finds key among the entries of chunk v, without decoding the
// ones it passes into a list.
func chunkGet(fence, v, key []byte) []byte {
	n, v := chunkEntries(fence, v)
	for i := uint64(0); i < n; i++ {
		k, val, rest := nextEntry(fence, v, i)
		switch bytes.Compare(k, key) {
		case 0:
			if val == nil {
				return []byte{}
			}
			return val
		case 1:
			return nil
		}
		v = rest
	}
	return nil
}

// packedWriter rewrites the chunks of a packed bucket that a run of
// changes reaches: the changes come in key order, and each chunk is read,
// merged with those in its range, split when it grew too large, and
// written once. Values it puts live in its arena until the transaction
// commits (bbolt keeps the slices it is given until then), so a writer
// serves one transaction.
type packedWriter struct {
	b       *bolt.Bucket
	c       *bolt.Cursor // repositioned by every seek, so one serves every chunk
	arena   []byte
	raw     []byte // the current chunk's value as the file holds it; nil: a new one
	decoded bool   // old holds raw's entries
	old     []chunkEntry
	scratch []byte // mergeRaw's entries, before their count
	merged  []chunkEntry
	pending []chunkEntry // changes in the current chunk's range; val nil: delete
	dels    []bool
	fence   []byte // the current chunk's; nil: a new one
	next    []byte // the next chunk's fence; nil: none
	open    bool
}

func newPackedWriter(b *bolt.Bucket) *packedWriter { return &packedWriter{b: b} }

// inRange reports whether key belongs to the chunk being gathered: at or
// past its fence (a new chunk has none: no chunk is before it) and before
// the next chunk's.
func (w *packedWriter) inRange(key []byte) bool {
	return w.open && (w.fence == nil || bytes.Compare(key, w.fence) >= 0) && (w.next == nil || bytes.Compare(key, w.next) < 0)
}

// change records key's new value (del: its deletion). Keys must come in
// ascending order.
func (w *packedWriter) change(key, val []byte, del bool) error {
	if err := w.load(key); err != nil {
		return err
	}
	w.pending = append(w.pending, chunkEntry{key: key, val: val})
	w.dels = append(w.dels, del)
	return nil
}

// load makes the chunk that key belongs to the one being gathered,
// writing the one before, unless key is in its range already.
func (w *packedWriter) load(key []byte) error {
	if w.inRange(key) {
		return nil
	}
	if err := w.flush(); err != nil {
		return err
	}
	if w.c == nil {
		w.c = w.b.Cursor()
	}
	fence, v, next := findChunk(w.c, key)
	// The entries are decoded only when needed (decodeOld): most chunks
	// take a change or two, which mergeRaw splices into the bytes.
	w.old, w.raw, w.decoded = w.old[:0], nil, false
	if fence != nil {
		w.raw = v
		w.fence = w.keep(fence)
	} else {
		w.fence = nil
	}
	w.next = nil
	if next != nil {
		w.next = w.keep(next)
	}
	w.open = true
	return nil
}

// floor returns the greatest key at or below key, and its value, as the
// file holds them (nil: none). It loads key's chunk, so a put of key next
// finds it gathered.
func (w *packedWriter) floor(key []byte) (k, v []byte, err error) {
	if err := w.load(key); err != nil {
		return nil, nil, err
	}
	w.decodeOld()
	// The entries of the chunk past key start at i.
	i, _ := slices.BinarySearchFunc(w.old, key, func(e chunkEntry, k []byte) int { return bytes.Compare(e.key, k) })
	if i < len(w.old) && bytes.Equal(w.old[i].key, key) {
		return w.old[i].key, w.old[i].val, nil
	}
	if i > 0 {
		return w.old[i-1].key, w.old[i-1].val, nil
	}
	// Every key of the chunk is past key: the chunk before holds the
	// floor, if any chunk does. It was written before this one was
	// loaded, so the file has it as it now stands.
	if w.fence == nil {
		return nil, nil, nil // no chunk's fence is at or below key
	}
	w.c.Seek(w.fence)
	return lastOfChunk(w.c.Prev())
}

// lastOfChunk is the last entry of the chunk at fence (none for nil).
func lastOfChunk(fence, v []byte) (k, val []byte, err error) {
	if fence == nil {
		return nil, nil, nil
	}
	ents := decodeChunk(nil, fence, v)
	e := ents[len(ents)-1]
	return e.key, e.val, nil
}

// keep copies b into the arena: a cursor's bytes do not outlive the
// bucket's next change.
func (w *packedWriter) keep(b []byte) []byte { return copyInto(&w.arena, b, arenaChunk) }

// flush writes the chunk gathered so far, if any.
func (w *packedWriter) flush() error {
	if !w.open {
		return nil
	}
	w.open = false
	if done, err := w.mergeRaw(); done || err != nil {
		return err
	}
	w.decodeOld()
	merged := w.merged[:0]
	old := w.old
	for i, p := range w.pending {
		for len(old) > 0 && bytes.Compare(old[0].key, p.key) < 0 {
			merged = append(merged, old[0])
			old = old[1:]
		}
		if len(old) > 0 && bytes.Equal(old[0].key, p.key) {
			old = old[1:]
		}
		if !w.dels[i] {
			merged = append(merged, p)
		}
	}
	merged = append(merged, old...)
	w.merged, w.pending, w.dels = merged, w.pending[:0], w.dels[:0]
	if len(merged) == 0 {
		if w.fence == nil {
			return nil
		}
		return w.b.Delete(w.fence)
	}
	size := 0
	for _, e := range merged {
		size += entrySize(e)
	}
	pieces := 1
	if size > packedMaxBytes {
		pieces = (size + packedSplitBytes - 1) / packedSplitBytes
	}
	// Split into pieces of about equal bytes, each at least one entry. All
	// are encoded before the first is put: the old entries point into
	// pages a put may move.
	type piece struct{ fence, val []byte }
	var out [8]piece
	puts := out[:0]
	from, cum, acc := 0, 0, 0
	for i, e := range merged {
		n := entrySize(e)
		cum += n
		acc += n
		if i < len(merged)-1 && cum*pieces < size*(len(puts)+1) {
			continue
		}
		fence := merged[from].key
		if from == 0 && w.fence != nil {
			fence = w.fence
		}
		start := len(w.arena)
		need := wire.UvarintLen(uint64(i+1-from)) + acc
		if cap(w.arena)-start < need {
			w.arena = make([]byte, 0, max(arenaChunk, need))
			start = 0
		}
		w.arena = appendChunk(w.arena, merged[from:i+1])
		val := w.arena[start:len(w.arena):len(w.arena)]
		puts = append(puts, piece{fence: w.keep(fence), val: val})
		from, acc = i+1, 0
	}
	for _, p := range puts {
		if err := w.b.Put(p.fence, p.val); err != nil {
			return err
		}
	}
	return nil
}

// decodeOld decodes the current chunk's entries into old, once.
func (w *packedWriter) decodeOld() {
	if !w.decoded {
		w.decoded = true
		if w.raw != nil {
			w.old = decodeChunk(w.old[:0], w.fence, w.raw)
		}
	}
}

// mergeRaw writes the current chunk with its pending changes by splicing
// them into its bytes: the entries between two changes are copied as they
// are, not decoded and encoded again, and past the last change the walk
// only checks the entries' lengths, as decodeChunk does, so a damaged chunk
// still stops the commit. The bytes are those flush's merge would encode.
// It does nothing (done false) for a new chunk, for one already decoded,
// for one with no change, and where the result would need splitting or
// deleting, which flush's merge does.
func (w *packedWriter) mergeRaw() (done bool, err error) {
	if !spliceChunks || w.raw == nil || w.decoded || len(w.pending) == 0 {
		return false, nil
	}
	// A chunk that may outgrow its bound goes to the merge at once, not
	// after a walk wasted: its size at most is the old bytes and every
	// change added.
	most := len(w.raw) + 1 // a count may take a byte more
	for i, e := range w.pending {
		if !w.dels[i] {
			most += entrySize(e)
		}
	}
	if most > packedMaxBytes {
		return false, nil
	}
	n, src := chunkEntries(w.fence, w.raw)
	out := w.scratch[:0]
	count := 0
	add := func(i int) {
		if !w.dels[i] {
			out = appendEntry(out, w.pending[i])
			count++
		}
	}
	// run is where the entries copied as they are start, at where the
	// next entry does; p is the next change.
	run, at, p := 0, 0, 0
	for i := uint64(0); i < n; i++ {
		key, _, rest := nextEntry(w.fence, src[at:], i)
		next := len(src) - len(rest)
		for p < len(w.pending) && bytes.Compare(w.pending[p].key, key) < 0 {
			out = append(out, src[run:at]...)
			run = at
			add(p)
			p++
		}
		if p < len(w.pending) && bytes.Equal(w.pending[p].key, key) {
			out = append(out, src[run:at]...)
			run = next // the entry is replaced or deleted
			add(p)
			p++
		} else {
			count++
		}
		at = next
	}
	if at != len(src) {
		panic(fmt.Sprintf("kv: packed chunk %x: %d bytes past its last entry", w.fence, len(src)-at))
	}
	out = append(out, src[run:]...)
	for ; p < len(w.pending); p++ {
		add(p)
	}
	w.scratch = out[:0]
	if count == 0 {
		return false, nil // the merge deletes the chunk
	}
	size := wire.UvarintLen(uint64(count)) + len(out) // at most most
	w.pending, w.dels = w.pending[:0], w.dels[:0]
	start := len(w.arena)
	if cap(w.arena)-start < size {
		w.arena = make([]byte, 0, max(arenaChunk, size))
		start = 0
	}
	w.arena = append(binary.AppendUvarint(w.arena, uint64(count)), out...)
	return true, w.b.Put(w.fence, w.arena[start:len(w.arena):len(w.arena)])
}

// spliceChunks turns mergeRaw on; tests turn it off to compare the bytes
// with flush's merge.
var spliceChunks = true

// appendEntry appends e as a chunk holds it.
func appendEntry(dst []byte, e chunkEntry) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(e.key)))
	dst = append(dst, e.key...)
	dst = binary.AppendUvarint(dst, uint64(len(e.val)))
	return append(dst, e.val...)
}

// putPacked sets key in the packed bucket b, straight into bbolt.
func putPacked(b *bolt.Bucket, key, val []byte, del bool) error {
	w := newPackedWriter(b)
	if err := w.change(bytes.Clone(key), bytes.Clone(val), del); err != nil {
		return err
	}
	return w.flush()
}

// packedSource walks a packed bucket's keys for a Cursor.
type packedSource struct {
	boltSource
	ents []chunkEntry
	i    int
}

func (s *packedSource) load(fromEnd bool) {
	s.ents = s.ents[:0]
	if s.k == nil {
		return
	}
	s.ents = decodeChunk(s.ents, s.k, s.v)
	s.i = 0
	if fromEnd {
		s.i = len(s.ents) - 1
	}
}

func (s *packedSource) first() { s.boltSource.first(); s.load(false) }
func (s *packedSource) last()  { s.boltSource.last(); s.load(true) }

func (s *packedSource) seek(k []byte) {
	s.boltSource.seek(k)
	if s.k == nil || !bytes.Equal(s.k, k) {
		// The chunk before may hold k or keys past it.
		if s.k == nil {
			s.boltSource.last()
		} else {
			s.boltSource.prev()
		}
		if s.k == nil {
			s.first()
			return
		}
	}
	s.load(false)
	for s.i < len(s.ents) && bytes.Compare(s.ents[s.i].key, k) < 0 {
		s.i++
	}
	if s.i == len(s.ents) {
		s.boltSource.next()
		s.load(false)
	}
}

func (s *packedSource) next() {
	if s.k == nil {
		return
	}
	if s.i++; s.i < len(s.ents) {
		return
	}
	s.boltSource.next()
	s.load(false)
}

func (s *packedSource) prev() {
	if s.k == nil {
		return
	}
	if s.i--; s.i >= 0 {
		return
	}
	s.boltSource.prev()
	s.load(true)
}

func (s *packedSource) at() ([]byte, []byte, bool) {
	if s.k == nil || len(s.ents) == 0 {
		return nil, nil, false
	}
	e := s.ents[s.i]
	val := e.val
	if val == nil {
		val = []byte{}
	}
	return e.key, val, false
}

// Pack rewrites the bbolt bucket name of tx, a plain one, as a packed one:
// its keys in chunks of about packedSplitBytes, in order. A packed bucket
// is left as it is. It holds the bucket's keys and values in memory while
// it rewrites them, and runs in tx, so a crash leaves the bucket as it was.
func Pack(tx *bolt.Tx, name []byte) error {
	b := tx.Bucket(name)
	if b == nil {
		return fmt.Errorf("kv: pack %q: no such bucket", name)
	}
	if isPacked(b) {
		return nil
	}
	type piece struct{ fence, val []byte }
	var pieces []piece
	var arena []byte
	var ents []chunkEntry
	size := 0
	emit := func() {
		if len(ents) == 0 {
			return
		}
		start := len(arena)
		need := wire.UvarintLen(uint64(len(ents))) + size
		if cap(arena)-start < need {
			arena = make([]byte, 0, max(arenaChunk, need))
			start = 0
		}
		arena = appendChunk(arena, ents)
		pieces = append(pieces, piece{fence: bytes.Clone(ents[0].key), val: arena[start:len(arena):len(arena)]})
		ents, size = ents[:0], 0
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil && b.Bucket(k) != nil {
			return fmt.Errorf("kv: pack %q: it holds a bucket, %q", name, k)
		}
		e := chunkEntry{key: k, val: v}
		if len(ents) > 0 && size+entrySize(e) > packedSplitBytes {
			emit()
		}
		ents = append(ents, e)
		size += entrySize(e)
	}
	emit()
	if err := tx.DeleteBucket(name); err != nil {
		return fmt.Errorf("kv: pack %q: %w", name, err)
	}
	nb, err := tx.CreateBucket(name)
	if err != nil {
		return fmt.Errorf("kv: pack %q: %w", name, err)
	}
	nb.FillPercent = 0.9 // written in order, once
	for _, p := range pieces {
		if err := nb.Put(p.fence, p.val); err != nil {
			return fmt.Errorf("kv: pack %q: %w", name, err)
		}
	}
	return nb.SetSequence(packedMark)
}

// CheckPacked verifies the chunks of the packed bucket b: each decodes and
// holds keys in order, at or above its fence and above the chunk before.
func CheckPacked(b *bolt.Bucket) (err error) {
	if !isPacked(b) {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var prev []byte
	var ents []chunkEntry
	return b.ForEach(func(fence, v []byte) error {
		if v == nil {
			return fmt.Errorf("kv: packed bucket holds a bucket, %x", fence)
		}
		ents = decodeChunk(ents[:0], fence, v)
		if prev != nil && bytes.Compare(fence, prev) <= 0 {
			return fmt.Errorf("kv: packed chunk %x: its fence is not past the key before, %x", fence, prev)
		}
		if bytes.Compare(ents[0].key, fence) < 0 {
			return fmt.Errorf("kv: packed chunk %x: its first key %x is below its fence", fence, ents[0].key)
		}
		for i := 1; i < len(ents); i++ {
			if bytes.Compare(ents[i].key, ents[i-1].key) <= 0 {
				return fmt.Errorf("kv: packed chunk %x: key %x does not follow %x", fence, ents[i].key, ents[i-1].key)
			}
		}
		prev = append(prev[:0], ents[len(ents)-1].key...)
		return nil
	})
}

// keyBytes is a layer entry's key as bytes, without a copy.
func keyBytes(k string) []byte { return unsafe.Slice(unsafe.StringData(k), len(k)) }

// SortedWriter puts keys into a bucket in ascending order. Into a packed
// bucket straight beneath (Wrap) it gathers the keys of a chunk and
// rewrites the chunk once, at the first key past it or at Flush, instead
// of once a key; into any other bucket each Put is the bucket's. Reads of
// the bucket before Flush may not see the puts: a caller that reads only
// keys past those it has put (as a writer of one name's keys at a time,
// names in order) reads what it would have. Values must stay unchanged
// until the transaction commits, as bbolt's own Put asks; keys are copied.
type SortedWriter struct {
	b    *Bucket
	pw   *packedWriter
	last []byte  // the last key put, in pw's arena
	c    *Cursor // Floor's, without pw: repositioned by every seek
}

// SortedWriter returns a writer of b's keys in ascending order.
func (b *Bucket) SortedWriter() *SortedWriter {
	w := &SortedWriter{b: b}
	if !b.tx.layered && b.packed {
		w.pw = newPackedWriter(b.base)
	}
	return w
}

// Put sets key to val. key must follow every key put before it.
func (w *SortedWriter) Put(key, val []byte) error {
	if w.pw == nil {
		return w.b.Put(key, val)
	}
	if w.last != nil && bytes.Compare(key, w.last) <= 0 {
		return fmt.Errorf("kv: sorted put of %x after %x", key, w.last)
	}
	w.last = w.pw.keep(key)
	return w.pw.change(w.last, val, false)
}

// Floor returns the greatest key at or below key and its value, or nil,
// as the bucket stood before this writer's puts: key must follow every
// key put, and a key Floor returns may be one of theirs as it was. The
// key and value are valid until the next Put. In a packed bucket it reads
// the chunk the next Put of key gathers into, so a writer that reads a
// name's last key, then puts the name's keys, reads each chunk once.
func (w *SortedWriter) Floor(key []byte) (k, v []byte, err error) {
	if w.last != nil && bytes.Compare(key, w.last) <= 0 {
		return nil, nil, fmt.Errorf("kv: sorted floor of %x after a put of %x", key, w.last)
	}
	if w.pw != nil {
		return w.pw.floor(key)
	}
	if w.c == nil {
		w.c = w.b.Cursor()
	}
	k, v = w.c.Seek(key)
	switch {
	case k != nil && bytes.Equal(k, key):
		return k, v, nil
	case k == nil:
		k, v = w.c.Last()
	default:
		k, v = w.c.Prev()
	}
	return k, v, nil
}

// Flush writes what Put gathered.
func (w *SortedWriter) Flush() error {
	if w.pw == nil {
		return nil
	}
	return w.pw.flush()
}

// Unpack rewrites the packed bucket name of tx as a plain one, a bbolt key
// a key: what Pack undoes, for a file a release before packing is to read
// and for tests of the upgrade. A plain bucket is left as it is.
func Unpack(tx *bolt.Tx, name []byte) error {
	b := tx.Bucket(name)
	if b == nil {
		return fmt.Errorf("kv: unpack %q: no such bucket", name)
	}
	if !isPacked(b) {
		return nil
	}
	var ents []chunkEntry
	var arena []byte
	c := b.Cursor()
	for fence, v := c.First(); fence != nil; fence, v = c.Next() {
		for _, e := range decodeChunk(nil, fence, v) {
			ents = append(ents, chunkEntry{key: copyInto(&arena, e.key, arenaChunk), val: copyInto(&arena, e.val, arenaChunk)})
		}
	}
	if err := tx.DeleteBucket(name); err != nil {
		return fmt.Errorf("kv: unpack %q: %w", name, err)
	}
	nb, err := tx.CreateBucket(name)
	if err != nil {
		return fmt.Errorf("kv: unpack %q: %w", name, err)
	}
	for _, e := range ents {
		if err := nb.Put(e.key, e.val); err != nil {
			return fmt.Errorf("kv: unpack %q: %w", name, err)
		}
	}
	return nil
}
