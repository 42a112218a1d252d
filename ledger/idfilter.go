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

// idFilter tells Apply which instruction ids the state file certainly does
// not hold, so that a new id, which is nearly every id, costs no search of
// the ids bucket: on a node of the 3-node cluster that search was about an
// eighth of Apply, a cursor's descent through pages the rest of the call
// does not touch. It is a Bloom filter, in memory only: every id the file
// holds is in it (no false negatives), and some it does not hold answer
// "maybe" too. The answer Apply acts on is always the file's or the
// layers', so the filter changes how long a call takes, never its result.
//
// It fills from two sides. A scan of the ids bucket (build), in read
// transactions of scanChunk keys each, beside Apply, adds the ids the file
// held when the store opened; Apply adds every id it decides (addStrings), before
// they reach the file. Until the scan is done (ready), every id may be in
// the file.
type idFilter struct {
	ready atomic.Bool
	stop  atomic.Bool
	done  chan struct{} // closed when build returns
	seed  maphash.Seed

	mu sync.Mutex
	// filters grow fourfold: ids are added to the last, which holds up to
	// its capacity; a lookup asks each, a cache miss each for a new id,
	// so there are few (a Bloom filter cannot be resized, and a rescan
	// of the file would miss the ids still in layers). From an empty
	// file, 1,000,000 ids take one filter and 5,000,000 two; a reopened
	// store starts with one sized for twice the ids its file holds.
	filters []kv.Filter
	room    int // how many more ids the last filter takes at 16 bits each
	cap     int // the last filter's capacity
}

// idFilterFirst is the first filter's capacity, in ids, unless the file
// holds more (newIDFilter): 2 MiB. A variable, so tests grow small ones.
var idFilterFirst = 1 << 20

// scanChunk is how many keys one read transaction of the scan reads: a
// long read transaction would hold back a commit that grows the file.
var scanChunk = 1 << 16

func newIDFilter(held int) *idFilter {
	f := &idFilter{done: make(chan struct{}), seed: maphash.MakeSeed()}
	f.grow(max(idFilterFirst, 2*held))
	return f
}

// grow adds a filter of capacity n. Callers hold mu, or own f.
func (f *idFilter) grow(n int) {
	f.filters = append(f.filters, kv.NewFilter(n))
	f.room, f.cap = n, n
}

// addStrings adds ids; a nil filter takes none. It keeps their hashes, not
// the strings.
func (f *idFilter) addStrings(ids []string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		if f.room == 0 {
			f.grow(4 * f.cap)
		}
		f.filters[len(f.filters)-1].Add(maphash.String(f.seed, id))
		f.room--
	}
}

// mayHold is false only when the file certainly does not hold id. A nil
// filter, or one whose scan has not finished, may hold every id.
func (f *idFilter) mayHold(id string) bool {
	if f == nil || !f.ready.Load() {
		return true
	}
	h := maphash.String(f.seed, id)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fl := range f.filters {
		if fl.MayHold(h) {
			return true
		}
	}
	return false
}

// build adds the ids db holds, then marks f ready, unless stopped first.
func (f *idFilter) build(db *bolt.DB, log *slog.Logger) {
	defer close(f.done)
	start := time.Now() // for the log line alone
	scanned := 0
	var after []byte // the last key added; nil before the first
	// The batch's strings are the transaction's keys, not copies: they are
	// hashed before it ends, and not kept.
	batch := make([]string, 0, 1024)
	for !f.stop.Load() {
		n := 0
		err := db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketIDs)
			if b == nil {
				return nil // no ids: n stays 0, and the filter is ready
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
			log.Debug("instruction id filter ready", "ids", scanned, "filters", len(f.filters), "seconds", time.Since(start).Seconds())
			return
		}
	}
}

// close stops build and waits for it to return.
func (f *idFilter) close() {
	f.stop.Store(true)
	<-f.done
}
