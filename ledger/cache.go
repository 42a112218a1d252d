package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"

	"github.com/tokenledger/tokenledger/internal/hugemem"
	"github.com/tokenledger/tokenledger/internal/wire"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// DefaultCacheBytes is Config.CacheBytes when it is 0. A ledger's working set
// is about 60 bytes a party and 50 a holding (key, record and index entry),
// so 512 MiB keeps every party and three holdings each of some 1.5 million
// investors: the whole register of the sizes BenchmarkScale measures.
const DefaultCacheBytes = 512 << 20

// MinCacheBytes is the least Config.CacheBytes: two chunks for the smallest
// share (instruments), which compaction needs (see compact).
const MinCacheBytes = 32 * cacheChunkSize

// MaxCacheBytes is the most Config.CacheBytes: the largest multiple of the
// chunk size below 2 GiB, so that it fits an int on 32-bit platforms too. (A
// reference into a bucket's cache holds a chunk number in 12 bits: 4 GiB.)
const MaxCacheBytes = 2<<30 - cacheChunkSize

// The shares of the record cache, in sixteenths of Config.CacheBytes:
// holdings outnumber parties several times over, and instruments are few.
const (
	cachePartiesShare     = 4
	cacheInstrumentsShare = 1
	cacheHoldingsShare    = 16 - cachePartiesShare - cacheInstrumentsShare
)

// stateCache keeps the committed records of the buckets nearly every
// instruction reads (parties, instruments, holdings) across Apply calls, so a
// batch finds them without a bbolt search per object. Records stay encoded,
// in a pointer-free slab, so the garbage collector never scans them: decoded
// objects for 100,000 parties cost more in GC marking than they saved.
//
// Only Apply uses it (under Store.cacheMu); reads run in their own bbolt
// transactions, concurrently with Apply, and never see it. It only holds
// values as the last Apply that succeeded left them, whether or not their
// layer is in the file yet: a value read inside Apply before the batch wrote
// it is that one, and what a batch writes is added only once its Apply
// succeeded. Restore and Close drop it.
type stateCache struct {
	parties, instruments, holdings *recordCache
	// decoded holds instruments as decoded from their records, by symbol,
	// each with the record it was decoded from: an instrument's record is
	// read by nearly every instruction and decoding it (names, decimals,
	// times) cost more than the rest of reading it. A record that differs
	// from the one kept is decoded afresh. Decoded objects hold pointers,
	// so their number is bounded (maxDecodedInstruments).
	decoded map[string]decodedInstrument
	// noLoans is txView.noLoans as Apply's views last found it: whether the
	// loans bucket holds any (1) or none (2), 0 when not known. Most
	// registers lend nothing, and a look at the bucket was a merged cursor
	// over the layers and the file a call. A flush that writes loans
	// forgets it.
	noLoans uint8
	// names is the strings the views share (internTable).
	names internTable
	// memo is parties as last decoded (decodedMemo).
	memo decodedMemo
}

// decodedInstrument is an instrument and the record it was decoded from.
// Nothing changes the instrument: a view hands out copies, and an
// instruction's changes are new values.
type decodedInstrument struct {
	raw []byte
	in  *transfer.Instrument
	at  int // where raw's counters begin (decodeInstrumentAt)
}

// maxDecodedInstruments bounds stateCache.decoded: more symbols than this
// empty it, and it fills again with those in use.
const maxDecodedInstruments = 4096

// instrument decodes the record raw of the instrument key, or returns the
// instrument decoded from the same bytes before.
func (c *stateCache) instrument(key, raw []byte) *transfer.Instrument {
	d, ok := c.decoded[string(key)]
	if ok && bytes.Equal(d.raw, raw) {
		return d.in
	}
	if !ok {
		in, at := decodeInstrumentAt(string(key), raw)
		if c.decoded == nil || len(c.decoded) >= maxDecodedInstruments {
			c.decoded = make(map[string]decodedInstrument)
		}
		c.decoded[in.Symbol] = decodedInstrument{raw: bytes.Clone(raw), in: in, at: at}
		return in
	}
	// A new version of an instrument known (every mint and every new or
	// emptied holding changes its record): its symbol string serves as the
	// new one's and as the map's key, its fields before the counters are
	// the old one's when their bytes are, and its record's copy, which
	// nothing else holds, takes the new bytes.
	in, at := redecodeInstrument(d.in, d.raw, d.at, raw)
	c.decoded[in.Symbol] = decodedInstrument{raw: append(d.raw[:0], raw...), in: in, at: at}
	return in
}

// newStateCache splits total bytes (Config.CacheBytes) among the buckets.
func newStateCache(total int) *stateCache {
	share := func(sixteenths int) int {
		return max(total/16*sixteenths, 2*cacheChunkSize) &^ (cacheChunkSize - 1)
	}
	return &stateCache{
		parties:     newRecordCache(share(cachePartiesShare)),
		instruments: newRecordCache(share(cacheInstrumentsShare)),
		holdings:    newRecordCache(share(cacheHoldingsShare)),
	}
}

// warm loads the parties and instruments, up to half of each cache's bound
// (the rest is for what batches read and write): nearly every instruction
// reads some, and they are few next to holdings. Holdings are left to the
// batches that read them: loading them too took reopening 1,000,000
// investors from 0.6 to 2.5 s and a restore's peak from 1.82 to 1.95 GB
// (one run each), for 2.7% fewer machine instructions an instruction on
// 10,000 investors just reopened.
func (c *stateCache) warm(tx *kv.Tx) {
	fill := func(bucket []byte, rc *recordCache) {
		err := tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			if rc.used()+recordSize(k, v) > rc.limit/2 {
				return errCacheFull
			}
			rc.put(k, v)
			return nil
		})
		// Every record is in: a key the cache does not know is absent.
		rc.complete = err == nil
	}
	fill(bucketInstruments, c.instruments)
	fill(bucketParties, c.parties)
}

// errCacheFull stops warm's scans at the bound.
var errCacheFull = errors.New("ledger: cache full")

// recordCache maps the keys of one bucket to their committed values, or to
// their absence. Records are appended to 1 MiB chunks as uvarint key length,
// key, uvarint value length + 1 (0: absent), value; index maps a hash of the
// key to its record's chunk and offset. Nothing in it holds a pointer. A
// hash collision only costs a bbolt read: get compares the stored key, and
// put replaces the index entry.
//
// A record replaced or dropped is garbage left in its chunk. When the chunks
// reach the bound, compact copies the live records into fresh chunks and
// lets the old ones go: a cache that started over empty instead would be
// cold nearly always once the register outgrows it. Chunks are never
// written again once compaction leaves them, so a value get handed out stays
// valid: its old chunk lives on until the caller drops it.
type recordCache struct {
	seed  maphash.Seed
	index refIndex // a key's hash -> chunk<<cacheChunkBits | offset
	// spare is the chunks of the last group made and not yet used, group
	// that group's size (newChunk).
	spare  [][]byte
	group  int
	chunks [][]byte
	limit  int // bytes, a multiple of the chunk size
	live   int // bytes of the records index points to
	// complete says the cache holds every record of its bucket, as the
	// last Apply that succeeded left it: warm read the whole bucket, and
	// since then every write reached put and nothing was dropped. A key it
	// does not know is then absent, with no bbolt search to learn it (a
	// party registered, say). Apply's view is the only
	// writer of the cached buckets (Check verifies nothing else, so a new
	// writer must publish what it writes too); a dropped record ends it.
	complete bool
}

const (
	cacheChunkBits = 20
	cacheChunkSize = 1 << cacheChunkBits
)

func newRecordCache(limit int) *recordCache {
	// Two chunks at least: compaction leaves at most half the bound in use,
	// so a fresh chunk always fits after it.
	assert(limit >= 2*cacheChunkSize && limit>>cacheChunkBits < 1<<(32-cacheChunkBits), "record cache limit %d", limit)
	assert(limit%cacheChunkSize == 0, "record cache limit %d is not a multiple of the chunk size", limit)
	return &recordCache{seed: maphash.MakeSeed(), limit: limit}
}

// recordSize is the bytes a record of key and val takes in a chunk.
func recordSize(key, val []byte) int {
	n := wire.UvarintLen(uint64(len(key))) + len(key) + wire.UvarintLen(0)
	if val != nil {
		n += wire.UvarintLen(uint64(len(val))+1) - wire.UvarintLen(0) + len(val)
	}
	return n
}

// used is the bytes the chunks hold, garbage included.
func (c *recordCache) used() int {
	if n := len(c.chunks); n > 0 {
		return (n-1)*cacheChunkSize + len(c.chunks[n-1])
	}
	return 0
}

// record returns the record at ref: its key, its value (nil: absent) and the
// bytes it takes.
func (c *recordCache) record(ref uint32) (key, val []byte, size int) {
	return recordAt(c.chunks, ref)
}

func recordAt(chunks [][]byte, ref uint32) (key, val []byte, size int) {
	e := chunks[ref>>cacheChunkBits][ref&(cacheChunkSize-1):]
	n, w := binary.Uvarint(e)
	key = e[w : w+int(n)]
	size = w + int(n)
	e = e[size:]
	n, w = binary.Uvarint(e)
	size += w
	if n == 0 {
		return key, nil, size
	}
	return key, e[w : w+int(n-1)], size + int(n-1)
}

// get returns the cached value of key (nil when absent) and whether the
// cache knows it. The value is the cache's, never to be modified; put never
// rewrites bytes it handed out.
func (c *recordCache) get(key []byte) (val []byte, present, known bool) {
	if c == nil {
		return nil, false, false
	}
	ref, ok := c.index.get(maphash.Bytes(c.seed, key))
	if !ok {
		return nil, false, false
	}
	k, v, _ := c.record(ref)
	if string(k) != string(key) {
		return nil, false, false
	}
	return v, v != nil, true
}

// isComplete reports whether a key c does not know is absent (complete).
func (c *recordCache) isComplete() bool { return c != nil && c.complete }

// put records val (nil: absent) as key's committed value, compacting the
// cache first when it is full.
func (c *recordCache) put(key, val []byte) {
	if c == nil {
		return
	}
	h := maphash.Bytes(c.seed, key)
	need := recordSize(key, val)
	// One lookup, then one store that replaces the entry: a stale entry
	// must not survive, whatever follows. (Three map operations a put, as
	// before, were a third of warming a million parties.)
	ref, size, had := c.index.getSized(h)
	if had {
		if c.complete {
			if k, _, _ := c.record(ref); string(k) != string(key) {
				// Two keys of one hash: the other one's record goes,
				// and the cache no longer knows every key.
				c.complete = false
			}
		}
		c.live -= int(size) // its record becomes garbage
	}
	if need > cacheChunkSize {
		if had {
			c.index.delete(h)
		}
		c.complete = false
		return // too large to keep
	}
	n := len(c.chunks)
	if n == 0 || len(c.chunks[n-1])+need > cacheChunkSize {
		if (n+1)*cacheChunkSize > c.limit {
			if had {
				c.index.delete(h) // compaction keeps what the index names
			}
			c.compact()
		}
		c.chunks = append(c.chunks, c.newChunk())
	}
	c.index.setSized(h, c.appendRecord(key, val), uint32(need))
}

// newChunk returns an empty chunk of cacheChunkSize bytes. A lookup reads a
// record at random among the chunks, so they are made in groups from memory
// advised for huge pages (hugemem): each group twice the last, from two
// chunks up to a sixteenth of the bound (at most 32), so that the chunks
// made and not yet used add little to it.
func (c *recordCache) newChunk() []byte {
	if len(c.spare) == 0 {
		n := min(max(2, 2*c.group), 32, max(2, c.limit/cacheChunkSize/16))
		c.group = n
		mem := hugemem.Make[byte](n * cacheChunkSize)
		for i := range n {
			c.spare = append(c.spare, mem[i*cacheChunkSize:i*cacheChunkSize:(i+1)*cacheChunkSize])
		}
	}
	chunk := c.spare[0]
	c.spare = c.spare[1:]
	return chunk
}

// appendRecord writes a record into the last chunk, which has room for it,
// and returns its reference.
func (c *recordCache) appendRecord(key, val []byte) uint32 {
	n := len(c.chunks)
	chunk := c.chunks[n-1]
	ref := uint32(n-1)<<cacheChunkBits | uint32(len(chunk))
	start := len(chunk)
	chunk = binary.AppendUvarint(chunk, uint64(len(key)))
	chunk = append(chunk, key...)
	if val == nil {
		chunk = binary.AppendUvarint(chunk, 0)
	} else {
		chunk = binary.AppendUvarint(chunk, uint64(len(val))+1)
		chunk = append(chunk, val...)
	}
	if cap(chunk) != cacheChunkSize {
		fail("record cache chunk grew past %d bytes", cacheChunkSize)
	}
	c.chunks[n-1] = chunk
	c.live += len(chunk) - start
	return ref
}

// compact copies the live records into fresh chunks filling at most half the
// bound, so that the next compaction is at least half the bound of appends
// away, whatever the working set: records past that half are dropped (which
// ones follows the index's order, so it differs between nodes; the cache
// changes the cost of Apply, never its result). The old chunks are left to
// the garbage collector, never reused: a caller may still be decoding a
// value in one.
func (c *recordCache) compact() {
	old := c.chunks
	refs := c.index
	c.chunks, c.index, c.live = nil, newRefIndex(refs.len()), 0
	// Fresh groups: a spare would keep its whole group, old chunks and
	// all, from the collector.
	c.spare = nil
	c.complete = false // records past the room are dropped
	room := c.limit / 2
	assert(room >= cacheChunkSize, "record cache limit %d below two chunks", c.limit)
	for h, ref := range refs.all {
		key, val, size := recordAt(old, ref)
		if c.used()+size > room {
			break
		}
		n := len(c.chunks)
		if n == 0 || len(c.chunks[n-1])+size > cacheChunkSize {
			c.chunks = append(c.chunks, c.newChunk())
		}
		c.index.setSized(h, c.appendRecord(key, val), uint32(size))
	}
}

// refIndex maps the 64-bit hash of a record's key to the record's
// reference: open addressing with linear probing over one flat slice of
// slots, which hold no pointer. A Go map of millions of entries, as the
// caches of a million investors' parties and holdings are, costs a lookup
// several dependent cache misses (its directory, then the table, then the
// group's control word and its slot): a fifth of Apply's CPU went to map
// lookups registering and minting 1,000,000 investors, about half of it to
// these caches. A probe here is usually one miss.
type refIndex struct {
	slots []refSlot
	n     int
}

type refSlot struct {
	hash uint64
	ref  uint32 // the reference + 1; 0: an empty slot
	// size is the bytes of the record at ref, for recordCache.put, which
	// otherwise read the old record (a cache miss a holding written) only
	// to learn the bytes it leaves as garbage. It fills what was padding.
	size uint32
}

// newRefIndex returns an index with room for n entries before it grows.
func newRefIndex(n int) refIndex {
	size := 64
	for 3*size < 4*n {
		size *= 2
	}
	return refIndex{slots: hugemem.Make[refSlot](size)}
}

func (x *refIndex) len() int { return x.n }

// clear drops every entry, keeping the slots.
func (x *refIndex) clear() {
	if x.n > 0 {
		clear(x.slots)
		x.n = 0
	}
}

func (x *refIndex) get(h uint64) (uint32, bool) {
	ref, _, ok := x.getSized(h)
	return ref, ok
}

// getSized is get, with the size set gave the entry.
func (x *refIndex) getSized(h uint64) (ref, size uint32, ok bool) {
	if x.n == 0 {
		return 0, 0, false
	}
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.ref == 0 {
			return 0, 0, false
		}
		if s.hash == h {
			return s.ref - 1, s.size, true
		}
	}
}

// set makes h's entry ref, replacing any it had.
func (x *refIndex) set(h uint64, ref uint32) { x.setSized(h, ref, 0) }

// setSized makes h's entry ref, of size bytes, replacing any it had.
func (x *refIndex) setSized(h uint64, ref, size uint32) {
	if 4*(x.n+1) > 3*len(x.slots) {
		x.grow()
	}
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.ref == 0 {
			*s = refSlot{hash: h, ref: ref + 1, size: size}
			x.n++
			return
		}
		if s.hash == h {
			s.ref, s.size = ref+1, size
			return
		}
	}
}

// delete drops h's entry, if any, moving back the entries after it that
// probing would no longer reach past the hole.
func (x *refIndex) delete(h uint64) {
	if x.n == 0 {
		return
	}
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for ; x.slots[i].hash != h || x.slots[i].ref == 0; i = (i + 1) & mask {
		if x.slots[i].ref == 0 {
			return
		}
	}
	for j := (i + 1) & mask; x.slots[j].ref != 0; j = (j + 1) & mask {
		// The entry at j stays unless the hole at i lies between its home
		// slot and j, cyclically.
		home := x.slots[j].hash & mask
		if (j-home)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = refSlot{}
	x.n--
}

// grow doubles the slots, at most three quarters full after it, and
// places every entry again: the slots keep each whole hash, so no record
// is read.
func (x *refIndex) grow() {
	old := x.slots
	x.slots, x.n = hugemem.Make[refSlot](max(64, 2*len(old))), 0
	for _, s := range old {
		if s.ref != 0 {
			x.set(s.hash, s.ref-1)
		}
	}
}

// all yields every entry, in slot order.
func (x *refIndex) all(yield func(h uint64, ref uint32) bool) {
	for _, s := range x.slots {
		if s.ref != 0 && !yield(s.hash, s.ref-1) {
			return
		}
	}
}
