package ledger

import (
	"encoding/binary"
	"errors"
	"hash/maphash"

	bolt "go.etcd.io/bbolt"
)

// MaxCachedRecordBytes bounds each bucket's record cache (keys and values).
// A full cache starts over empty and refills from bbolt: the cache changes
// the cost of Apply, never its result.
const MaxCachedRecordBytes = 64 << 20

// stateCache keeps the committed records of the buckets nearly every
// instruction reads (parties, instruments, holdings) across Apply calls, so a
// batch finds them without a bbolt search per object. Records stay encoded,
// in a pointer-free slab, so the garbage collector never scans them: decoded
// objects for 100,000 parties cost more in GC marking than they saved.
//
// Only Apply uses it (under Store.cacheMu); reads run in their own bbolt
// transactions, concurrently with Apply, and never see it. It only ever
// holds committed values: a value read from bbolt inside Apply's transaction
// before the batch wrote it is the committed one, and what a batch writes is
// added only after its transaction commits. Restore and Close drop it.
type stateCache struct {
	parties, instruments, holdings *recordCache
}

func newStateCache() *stateCache {
	return &stateCache{
		parties:     newRecordCache(MaxCachedRecordBytes),
		instruments: newRecordCache(MaxCachedRecordBytes),
		holdings:    newRecordCache(MaxCachedRecordBytes),
	}
}

// warm loads the parties and instruments, up to the bound: nearly every
// instruction reads some, and they are few next to holdings.
func (c *stateCache) warm(tx *bolt.Tx) {
	fill := func(bucket []byte, rc *recordCache) {
		_ = tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			if !rc.put(k, v) {
				return errCacheFull
			}
			return nil
		})
	}
	fill(bucketInstruments, c.instruments)
	fill(bucketParties, c.parties)
}

// errCacheFull stops warm's scans at the bound.
var errCacheFull = errors.New("ledger: cache full")

// recordCache maps the keys of one bucket to their committed values, or to
// their absence. Records are appended to 1 MiB chunks (never moved, so
// growing costs no copying) as uvarint key length, key, uvarint value length
// + 1 (0: absent), value; index maps a hash of the key to its record's chunk
// and offset. Nothing in it holds a pointer. A hash collision only costs a
// bbolt read: get compares the stored key, and put replaces the index entry.
type recordCache struct {
	seed   maphash.Seed
	index  map[uint64]uint32 // chunk<<cacheChunkBits | offset
	chunks [][]byte
	limit  int // bytes, a multiple of the chunk size
}

const (
	cacheChunkBits = 20
	cacheChunkSize = 1 << cacheChunkBits
)

func newRecordCache(limit int) *recordCache {
	assert(limit >= cacheChunkSize && limit>>cacheChunkBits < 1<<(32-cacheChunkBits), "record cache limit %d", limit)
	return &recordCache{seed: maphash.MakeSeed(), index: map[uint64]uint32{}, limit: limit}
}

// get returns the cached value of key (nil when absent) and whether the
// cache knows it. The value is the cache's, never to be modified; put never
// rewrites bytes it handed out.
func (c *recordCache) get(key []byte) (val []byte, present, known bool) {
	if c == nil {
		return nil, false, false
	}
	ref, ok := c.index[maphash.Bytes(c.seed, key)]
	if !ok {
		return nil, false, false
	}
	e := c.chunks[ref>>cacheChunkBits][ref&(cacheChunkSize-1):]
	n, w := binary.Uvarint(e)
	if string(e[w:w+int(n)]) != string(key) {
		return nil, false, false
	}
	e = e[w+int(n):]
	n, w = binary.Uvarint(e)
	if n == 0 {
		return nil, false, true
	}
	return e[w : w+int(n-1)], true, true
}

// put records val (nil: absent) as key's committed value. It reports false
// when the cache was full and started over.
func (c *recordCache) put(key, val []byte) bool {
	if c == nil {
		return true
	}
	need := 2*binary.MaxVarintLen32 + len(key) + len(val)
	if need > cacheChunkSize {
		delete(c.index, maphash.Bytes(c.seed, key)) // too large to keep; no stale entry either
		return true
	}
	fresh := true
	n := len(c.chunks)
	if n == 0 || len(c.chunks[n-1])+need > cacheChunkSize {
		if (n+1)*cacheChunkSize > c.limit {
			// Start over rather than compact: chunks a caller may still be
			// decoding from are left to the garbage collector, never reused.
			c.chunks, c.index, fresh = nil, map[uint64]uint32{}, false
		}
		c.chunks = append(c.chunks, make([]byte, 0, cacheChunkSize))
		n = len(c.chunks)
	}
	chunk := c.chunks[n-1]
	ref := uint32(n-1)<<cacheChunkBits | uint32(len(chunk))
	chunk = binary.AppendUvarint(chunk, uint64(len(key)))
	chunk = append(chunk, key...)
	if val == nil {
		chunk = binary.AppendUvarint(chunk, 0)
	} else {
		chunk = binary.AppendUvarint(chunk, uint64(len(val))+1)
		chunk = append(chunk, val...)
	}
	c.chunks[n-1] = chunk
	c.index[maphash.Bytes(c.seed, key)] = ref
	return fresh
}
