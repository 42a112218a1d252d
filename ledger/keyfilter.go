package ledger

import (
	"bytes"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

// keyFilter tells Apply which keys of a bucket the state file certainly
// does not hold, so that a key the file lacks costs no search of the
// bucket. Two buckets have one. Nearly every instruction id is new: on a
// node of the 3-node cluster the search of the ids bucket was about an
// eighth of Apply, a cursor's descent through pages the rest of the call
// does not touch. And a mint or a transfer to a party that did not hold
// the instrument looks up a holding the file does not hold: registering
// and minting 100,000 investors, that search was 5.7% of Apply. It is a
// Bloom filter, in memory only: every key the file holds is in it (no
// false negatives), and some it does not hold answer "maybe" too. The
// answer Apply acts on is always the file's or the layers', so the filter
// changes how long a call takes, never its result.
//
// It fills from two sides. A scan of the bucket (build), in read
// transactions of scanChunk keys each, beside Apply, adds the keys the file
// held when the store opened; Apply adds every key it writes (addStrings,
// addKey), before they reach the file: the bucket has no other writer once
// the store is open. Until the scan is done (ready), every key may be in
// the file.
type keyFilter struct {
	ready atomic.Bool
	stop  atomic.Bool
	done  chan struct{} // closed when build returns
	seed  maphash.Seed
	// bucket is the bucket filtered, and what names its keys in the log.
	bucket []byte
	what   string

	mu sync.Mutex
	// filters grow fourfold: keys are added to the last, which holds up to
	// its capacity; a lookup asks each, a cache miss each for a new key,
	// so there are few (a Bloom filter cannot be resized, and a rescan
	// of the file would miss the keys still in layers). From an empty
	// file, 1,000,000 keys take one filter and 5,000,000 two; a reopened
	// store starts with one sized for twice the keys its file holds, when
	// it knows how many (the ids).
	filters []kv.Filter
	room    int // how many more keys the last filter takes at 16 bits each
	cap     int // the last filter's capacity
}

// keyFilterFirst is the first filter's capacity, in keys, unless the file
// holds more (newKeyFilter): 2 MiB. A variable, so tests grow small ones.
var keyFilterFirst = 1 << 20

// scanChunk is how many keys one read transaction of the scan reads: a
// long read transaction would hold back a commit that grows the file.
var scanChunk = 1 << 16

// newKeyFilter returns the filter of bucket's keys (named what in the log),
// sized for held of them, its scan not started.
func newKeyFilter(bucket []byte, what string, held int) *keyFilter {
	f := &keyFilter{done: make(chan struct{}), seed: maphash.MakeSeed(), bucket: bucket, what: what}
	f.grow(max(keyFilterFirst, 2*held))
	return f
}

// grow adds a filter of capacity n. Callers hold mu, or own f.
func (f *keyFilter) grow(n int) {
	f.filters = append(f.filters, kv.NewFilter(n))
	f.room, f.cap = n, n
}

// addStrings adds keys; a nil filter takes none. It keeps their hashes, not
// the strings.
func (f *keyFilter) addStrings(keys []string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		f.addLocked(maphash.String(f.seed, k))
	}
}

// addKey adds key; a nil filter takes none.
func (f *keyFilter) addKey(key []byte) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addLocked(maphash.Bytes(f.seed, key))
}

// addLocked adds the hash h. Callers hold mu.
func (f *keyFilter) addLocked(h uint64) {
	if f.room == 0 {
		f.grow(4 * f.cap)
	}
	f.filters[len(f.filters)-1].Add(h)
	f.room--
}

// mayHold is false only when the file certainly does not hold key. A nil
// filter, or one whose scan has not finished, may hold every key.
func (f *keyFilter) mayHold(key string) bool {
	if f == nil || !f.ready.Load() {
		return true
	}
	return f.mayHoldHash(maphash.String(f.seed, key))
}

// mayHoldKey is mayHold of key's bytes (maphash hashes a string and its
// bytes alike).
func (f *keyFilter) mayHoldKey(key []byte) bool {
	if f == nil || !f.ready.Load() {
		return true
	}
	return f.mayHoldHash(maphash.Bytes(f.seed, key))
}

func (f *keyFilter) mayHoldHash(h uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fl := range f.filters {
		if fl.MayHold(h) {
			return true
		}
	}
	return false
}

// build adds the keys db's bucket holds, then marks f ready, unless stopped
// first. It reads them through kv, which unpacks a packed bucket.
func (f *keyFilter) build(db *bolt.DB, log *slog.Logger) {
	defer close(f.done)
	start := time.Now() // for the log line alone
	scanned := 0
	var after []byte // the last key added; nil before the first
	// The batch's strings are the transaction's keys, not copies: they are
	// hashed before it ends, and not kept.
	batch := make([]string, 0, 1024)
	for !f.stop.Load() {
		n := 0
		err := viewKV(db, func(tx *kv.Tx) error {
			b := tx.Bucket(f.bucket)
			if b == nil {
				return nil // no bucket: n stays 0, and the filter is ready
			}
			c := b.Cursor()
			var k []byte
			if after == nil {
				k, _ = c.First()
			} else if k, _ = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, _ = c.Next()
			}
			for ; k != nil && n < scanChunk; k, _ = c.Next() {
				batch = append(batch, unsafe.String(unsafe.SliceData(k), len(k)))
				n++
				if len(batch) == cap(batch) {
					f.addStrings(batch)
					batch = batch[:0]
				}
				after = k
			}
			f.addStrings(batch)
			clear(batch) // no string of the transaction outlives it
			batch = batch[:0]
			after = bytes.Clone(after) // k is the transaction's
			return nil
		})
		if err != nil {
			return // a closed file: the store is closing, and stop follows
		}
		scanned += n
		if n < scanChunk {
			f.ready.Store(true)
			log.Debug("key filter ready", "of", f.what, "keys", scanned, "filters", len(f.filters), "seconds", time.Since(start).Seconds())
			return
		}
	}
}

// close stops build and waits for it to return.
func (f *keyFilter) close() {
	f.stop.Store(true)
	<-f.done
}
