// Package kv puts layers of writes held in memory in front of a bbolt
// transaction, so the ledger can apply instructions against the latest state
// while an earlier layer is still being committed to the file.
//
// A Tx reads through its top layer (the one it writes), then older layers,
// newest first, then the bbolt transaction beneath; a layer's deletion hides
// what lies below it. Layer.WriteTo later writes a layer into a bbolt write
// transaction, bucket by bucket in key order. Without layers (Wrap) a Tx is
// the bbolt transaction itself, reads and writes alike.
//
// The types follow bbolt's names and rules (Bucket, Cursor, Get, Put,
// Delete, Seek...) so code written against bbolt reads the same. A value
// returned by Get or a cursor is valid while the Tx is; callers must not
// change it. Put copies key and value, which bbolt does not promise.
package kv

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/tidwall/btree"
	"github.com/tokenledger/tokenledger/internal/hugemem"
	"github.com/tokenledger/tokenledger/internal/wire"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// entry is a layer's record of one key: a value, or its deletion.
type entry struct {
	key  string // in the layer's arena
	val  []byte
	hash uint64
	del  bool
}

// Layer holds writes in memory, by bucket. It is written by one Tx at a time
// and, once frozen (no Tx writes it any more), read by any number.
type Layer struct {
	buckets map[string]*layerBucket
	arena   []byte // keys and values are copied here; chunks are never reused
	n       int    // entries
	size    int    // bytes of keys and values
}

// layerBucket is one bucket's writes: its entries in the order their keys
// were first written, a hash index over them, and their key order, which is
// built only when a cursor or WriteTo asks for it. Apply gets and puts tens
// of thousands of keys between commits and almost never walks them, so
// ordering each put (a btree insert, string compares from the root) cost
// more than the put: a hash probe is one compare. The order is then made
// once, by a sort, on the goroutine that commits the layer.
type layerBucket struct {
	ents entries
	// index holds, per slot, the top 32 bits of a key's hash and 1 + its
	// entry's position (0: empty); linear probing, at most half full. No
	// pointers: the garbage collector does not scan it.
	index []uint64
	// mu guards tree and inTree: a frozen layer is read by Apply and the
	// API (one at a time, under the store's lock) while the goroutine that
	// commits it writes it out, and both may need its order.
	mu sync.Mutex
	// tree orders ents[:inTree] by key (the value is the position). It is
	// made by the first cursor and caught up by each later one.
	tree   btree.Map[string, int32]
	inTree int
	// appendOnly: keys only grow, so bbolt fills its pages whole
	// (FillPercent 1) when the layer is written.
	appendOnly bool
	// arena holds the values of an append-only bucket's keys put in order,
	// apart from the layer's other writes, so that the last one ends it
	// and may grow in place (Layer.extend).
	arena []byte
	// filter, made when the layer is sealed, answers most gets of a key
	// the bucket lacks without its index (Layer.Seal).
	filter Filter
}

var hashSeed = maphash.MakeSeed()

// entries is a list in blocks: growing it never copies the entries or
// leaves a list's worth of garbage behind, as one slice growing by doubling
// would, tens of thousands of entries in a layer's largest buckets.
type entries struct {
	blocks [][]entry
	n      int
}

const entryBlock = 512

func (es *entries) len() int        { return es.n }
func (es *entries) at(i int) *entry { return &es.blocks[i/entryBlock][i%entryBlock] }
func (es *entries) add(e entry) {
	if es.n%entryBlock == 0 {
		capacity := entryBlock
		if es.n == 0 {
			capacity = 8 // most buckets of a layer hold a few keys; the first block grows
		}
		es.blocks = append(es.blocks, make([]entry, 0, capacity))
	}
	last := &es.blocks[len(es.blocks)-1]
	*last = append(*last, e)
	es.n++
}

// find returns the position of key's entry, or -1.
func (lb *layerBucket) find(key string, h uint64) int {
	if len(lb.index) == 0 {
		if lb.ascending() {
			return lb.search(key)
		}
		return -1
	}
	mask := uint64(len(lb.index) - 1)
	tag := h >> 32
	for i := h & mask; ; i = (i + 1) & mask {
		s := lb.index[i]
		if s == 0 {
			return -1
		}
		if s>>32 == tag {
			if at := int(uint32(s)) - 1; lb.ents.at(at).key == key {
				return at
			}
		}
	}
}

// insert adds position at, whose key is new, to the index.
func (lb *layerBucket) insert(h uint64, at int) {
	if 2*(lb.ents.len()+1) > len(lb.index) {
		lb.grow()
	}
	mask := uint64(len(lb.index) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if lb.index[i] == 0 {
			lb.index[i] = h>>32<<32 | uint64(at+1)
			return
		}
	}
}

// ascending reports whether the bucket holds its entries in key order with
// no index: an append-only bucket whose every key came after the last
// (set). The journal's keys are its seqs, each past the last: its layer
// bucket takes them with no probe of a hash index, whose slots a journal
// of tens of thousands of entries spreads over megabytes, a cache miss a
// put. A key out of order makes the index (set), for good.
func (lb *layerBucket) ascending() bool {
	return lb.appendOnly && len(lb.index) == 0 && lb.ents.len() > 0
}

// search finds key among entries in key order by bisection, or -1.
func (lb *layerBucket) search(key string) int {
	lo, hi := 0, lb.ents.len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if lb.ents.at(mid).key < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < lb.ents.len() && lb.ents.at(lo).key == key {
		return lo
	}
	return -1
}

func (lb *layerBucket) grow() {
	size := max(64, 2*len(lb.index))
	for size < 2*(lb.ents.len()+1) {
		size *= 2 // an ascending bucket's first index holds all it has
	}
	lb.index = make([]uint64, size)
	mask := uint64(len(lb.index) - 1)
	for at := range lb.ents.len() {
		h := lb.ents.at(at).hash
		for i := h & mask; ; i = (i + 1) & mask {
			if lb.index[i] == 0 {
				lb.index[i] = h>>32<<32 | uint64(at+1)
				break
			}
		}
	}
}

// get returns key's entry.
func (lb *layerBucket) get(key []byte) (entry, bool) {
	k := unsafe.String(unsafe.SliceData(key), len(key))
	h := maphash.String(hashSeed, k)
	if lb.filter != nil && !lb.filter.MayHold(h) {
		return entry{}, false
	}
	if at := lb.find(k, h); at >= 0 {
		return *lb.ents.at(at), true
	}
	return entry{}, false
}

// Seal marks the layer read-only from now on, and makes each bucket's
// filter. A read through the layers beneath Apply's asks each of them for
// a key before the file: an instruction's new id and every record the
// record cache lacks are asked of all of them, and with three staged
// layers and the one being committed, those index probes, each a cache
// miss in an index of megabytes, were about half of what Apply spent more
// on a staged file than on one that is not. A filter is about a tenth of
// the index's size. Callers seal a layer before any reader sees it as
// frozen, and never write it again.
func (l *Layer) Seal() {
	for _, lb := range l.buckets {
		if lb.filter != nil || lb.ents.len() < sealFrom {
			continue
		}
		f := NewFilter(lb.ents.len())
		for at := range lb.ents.len() {
			f.Add(lb.ents.at(at).hash)
		}
		lb.filter = f
	}
}

// sealFrom is the fewest entries a bucket needs for a filter: a small
// index stays in the cache, and probing it is as cheap. A variable, so
// tests filter the small layers they make.
var sealFrom = 1024

// Filter is a blocked Bloom filter of 64-bit hashes: a block of 512 bits
// (one cache line) a key, chosen by the hash's top bits, in which three
// bits from its low bits are set. At 16 bits a key its false positives are
// about one in a hundred. Layers filter their sealed buckets with it; a
// store may filter what its file holds.
type Filter []uint64

const bloomBlockWords = 8

// NewFilter returns a filter sized for n keys.
func NewFilter(n int) Filter {
	blocks := 1
	for blocks*bloomBlockWords*64 < 16*n {
		blocks *= 2
	}
	return hugemem.Make[uint64](blocks * bloomBlockWords)
}

func (f Filter) block(h uint64) []uint64 {
	blocks := uint64(len(f) / bloomBlockWords)
	i := ((h >> 32) & (blocks - 1)) * bloomBlockWords
	return f[i : i+bloomBlockWords : i+bloomBlockWords]
}

// Add adds h.
func (f Filter) Add(h uint64) {
	b := f.block(h)
	for k := range 3 {
		bit := (h >> (9 * k)) & 511
		b[bit/64] |= 1 << (bit % 64)
	}
}

// MayHold is false only when h was never added.
func (f Filter) MayHold(h uint64) bool {
	b := f.block(h)
	for k := range 3 {
		bit := (h >> (9 * k)) & 511
		if b[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// ordered returns the tree, holding every entry. Callers hold mu.
func (lb *layerBucket) ordered() *btree.Map[string, int32] {
	set := lb.tree.Set
	if lb.appendOnly {
		// A key past the last goes straight onto the last leaf, without a
		// search from the root; any other key is set as usual.
		set = lb.tree.Load
	}
	for ; lb.inTree < lb.ents.len(); lb.inTree++ {
		set(lb.ents.at(lb.inTree).key, int32(lb.inTree))
	}
	return &lb.tree
}

// sorted returns the positions of every entry in key order.
func (lb *layerBucket) sorted() []int32 {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	out := make([]int32, 0, lb.ents.len())
	if lb.inTree > 0 {
		lb.ordered().Scan(func(_ string, at int32) bool {
			out = append(out, at)
			return true
		})
		return out
	}
	for at := range lb.ents.len() {
		out = append(out, int32(at))
	}
	if lb.ascending() {
		return out // in key order as written
	}
	if lb.appendOnly && slices.IsSortedFunc(out, lb.compare) {
		return out
	}
	return lb.sortByPrefix(out)
}

// sortByPrefix sorts the positions at by their keys. The keys of a bucket
// share long prefixes (a symbol, "inv-"), which every string comparison
// would read again, through the entries, for each of the n log n
// comparisons: it was a quarter of writing a layer. So each key's first
// eight bytes past the prefix all share are taken once, as a big-endian
// number, and only keys whose numbers tie are compared whole.
func (lb *layerBucket) sortByPrefix(at []int32) []int32 {
	if len(at) < 2 {
		return at
	}
	first := lb.ents.at(int(at[0])).key
	common := len(first)
	for _, a := range at[1:] {
		k := lb.ents.at(int(a)).key
		n := min(common, len(k))
		i := 0
		for i < n && k[i] == first[i] {
			i++
		}
		common = i
	}
	keys := make([]sortKey, len(at))
	for i, a := range at {
		k := lb.ents.at(int(a)).key[common:]
		var b [8]byte
		copy(b[:], k) // zeros past a short key's end: the tie is compared whole
		keys[i] = sortKey{binary.BigEndian.Uint64(b[:]), a}
	}
	whole := func(x, y sortKey) int {
		return strings.Compare(lb.ents.at(int(x.at)).key[common:], lb.ents.at(int(y.at)).key[common:])
	}
	if len(keys) < radixMin {
		slices.SortFunc(keys, func(x, y sortKey) int {
			if x.prefix != y.prefix {
				return cmp.Compare(x.prefix, y.prefix)
			}
			return whole(x, y)
		})
	} else {
		keys = radixSort(keys, make([]sortKey, len(keys)))
		for i := 0; i < len(keys); {
			j := i + 1
			for j < len(keys) && keys[j].prefix == keys[i].prefix {
				j++
			}
			if j-i > 1 {
				slices.SortFunc(keys[i:j], whole)
			}
			i = j
		}
	}
	for i := range keys {
		at[i] = keys[i].at
	}
	return at
}

// sortKey is a position in a layer bucket's entries and the eight bytes of
// its key past the bucket's common prefix, as a number.
type sortKey struct {
	prefix uint64
	at     int32
}

// radixMin is the fewest keys sortByPrefix orders by radix: a commit's
// large buckets hold tens of thousands, which a comparison sort took a
// sixth of the commit's CPU to order (fifty instructions an entry); below
// a few hundred it is as fast.
const radixMin = 256

// radixSort orders keys by prefix, a byte at a time from the lowest, each
// pass stable; a byte every key shares costs one counting pass. It returns
// keys or tmp (as long as keys), whichever holds the result.
func radixSort(keys, tmp []sortKey) []sortKey {
	src, dst := keys, tmp
	for shift := 0; shift < 64; shift += 8 {
		var count [256]int
		for _, k := range src {
			count[byte(k.prefix>>shift)]++
		}
		if count[byte(src[0].prefix>>shift)] == len(src) {
			continue
		}
		sum := 0
		for b, c := range count {
			count[b] = sum
			sum += c
		}
		for _, k := range src {
			b := byte(k.prefix >> shift)
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	return src
}

func (lb *layerBucket) compare(a, b int32) int {
	return strings.Compare(lb.ents.at(int(a)).key, lb.ents.at(int(b)).key)
}

// NewLayer returns an empty layer.
func NewLayer() *Layer { return &Layer{buckets: map[string]*layerBucket{}} }

// Len is the number of keys the layer writes or deletes.
func (l *Layer) Len() int { return l.n }

// Size is the bytes of the keys and values written into the layer, a key
// written twice counted twice: what its arena holds, roughly.
func (l *Layer) Size() int { return l.size }

const arenaChunk = 1 << 20

// bucketArenaFirst is the first chunk of an append-only bucket's arena,
// which doubles from there up to arenaChunk: a store that commits every
// call makes a layer a call, which should not cost a chunk a bucket.
const bucketArenaFirst = 4 << 10

// copy returns b copied into the layer's arena.
func (l *Layer) copy(b []byte) []byte { return copyInto(&l.arena, b, arenaChunk) }

// copyInto returns b copied into *arena, which it replaces with a fresh
// chunk of size bytes, or twice b's, when b does not fit: chunks are never
// written again.
func copyInto(arena *[]byte, b []byte, size int) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	if len(b) > arenaChunk/4 {
		return bytes.Clone(b)
	}
	if cap(*arena)-len(*arena) < len(b) {
		*arena = make([]byte, 0, max(size, 2*len(b)))
	}
	off := len(*arena)
	*arena = append(*arena, b...)
	return (*arena)[off:len(*arena):len(*arena)]
}

// extend returns val in lb's arena, where old is the value of the last key
// of lb, an append-only bucket, and val its new one. When val starts with
// old and old ends the arena, only val's further bytes are appended, after
// old's: a value put again a little longer each time (a journal's open
// chunk, once a call) costs its new bytes and not a copy of the whole. The
// bytes old handed out stay as they were.
func (l *Layer) extend(lb *layerBucket, old, val []byte) []byte {
	add := len(val) - len(old)
	if n := len(lb.arena); len(old) > 0 && add >= 0 && n >= len(old) && cap(lb.arena)-n >= add &&
		unsafe.SliceData(old) == unsafe.SliceData(lb.arena[n-len(old):]) && bytes.Equal(val[:len(old)], old) {
		lb.arena = append(lb.arena, val[len(old):]...)
		l.size += add
		return lb.arena[n-len(old) : len(lb.arena) : len(lb.arena)]
	}
	l.size += len(val)
	return copyInto(&lb.arena, val, min(arenaChunk, max(bucketArenaFirst, 2*cap(lb.arena))))
}

func (l *Layer) bucket(name []byte, create bool) *layerBucket {
	lb := l.buckets[string(name)]
	if lb == nil && create {
		lb = &layerBucket{}
		l.buckets[string(name)] = lb
	}
	return lb
}

func (l *Layer) set(lb *layerBucket, key, val []byte, del bool) {
	if lb.filter != nil {
		panic("kv: write to a sealed layer") // its filter would deny the key
	}
	k := unsafe.String(unsafe.SliceData(key), len(key))
	h := maphash.String(hashSeed, k)
	e := entry{del: del, hash: h}
	if lb.appendOnly && len(lb.index) == 0 {
		n := lb.ents.len()
		if n == 0 || k > lb.ents.at(n-1).key {
			c := l.copy(key)
			e.key = unsafe.String(unsafe.SliceData(c), len(c))
			if !del {
				e.val = l.extend(lb, nil, val)
			}
			lb.ents.add(e)
			l.n++
			l.size += len(key)
			return
		}
		if last := lb.ents.at(n - 1); k == last.key {
			// The last key again (a journal's open chunk): in place, so
			// the bucket stays in order without an index. A tree built
			// for a cursor holds positions, which do not move.
			if !del {
				e.val = l.extend(lb, last.val, val)
			}
			e.key = last.key
			*last = e
			return
		}
		lb.grow() // out of order: index what the bucket holds, then as below
	}
	if !del {
		e.val = l.copy(val)
	}
	if at := lb.find(k, h); at >= 0 {
		e.key = lb.ents.at(at).key
		*lb.ents.at(at) = e
	} else {
		c := l.copy(key)
		e.key = unsafe.String(unsafe.SliceData(c), len(c))
		lb.insert(h, lb.ents.len())
		lb.ents.add(e)
		l.n++
	}
	l.size += len(key) + len(val)
}

// WriteTo writes the layer into tx, a bbolt write transaction, bucket by
// bucket in name order and each in key order, as bbolt writes fastest.
// Every bucket must exist in tx.
func (l *Layer) WriteTo(tx *bolt.Tx) error { return WriteLayersTo(tx, []*Layer{l}) }

// WriteLayersTo writes layers, oldest first, into tx as writing each in
// turn would, in one pass: each bucket's keys in key order, a key several
// layers hold once, with its newest value. bbolt searches from the root
// for every key it is given, so a key written once instead of once a
// layer, and keys in one order instead of one order a layer, cost it
// less. Every bucket must exist in tx.
func WriteLayersTo(tx *bolt.Tx, layers []*Layer) error {
	return NewLayersWriter(layers).Finish(tx)
}

// LayersWriter writes layers into their buckets as WriteLayersTo does,
// over one transaction or several: Write writes the next keys in bucket
// name and key order, up to a number of them, into one transaction, and
// Finish writes what is left, the held-back buckets last. A key is
// written once, with its newest value, whichever transaction writes it.
// The layers must not change until the last write is committed.
type LayersWriter struct {
	layers   []*Layer
	names    []string // buckets in the order written: name order, held-back ones last
	held     int      // names[held:] are written by Finish only
	at       int      // names[at] is the bucket being written
	runs     []layerRun
	started  bool // runs are names[at]'s
	finished bool
	// last is names[at]'s last key before the writer wrote into it (empty:
	// the bucket was, or it fills no tail); inTail is set once the keys
	// written go past it.
	last   []byte
	inTail bool
	// fillTails names the buckets whose keys past their last are written
	// in transactions of their own, their pages filled (FillTails).
	fillTails []string
	fillRuns  []string // buckets whose runs are filled too (FillRuns)
	// peek is inRuns's copy of the runs, whose heads it moves.
	peek []layerRun
}

// FillTails has the writer write the keys past each named bucket's last
// key in transactions of their own, which fill their pages to
// tailFillPercent instead of bbolt's half: Write ends its transaction
// where they start; Finish, which cannot, fills them when they are all it
// writes of the bucket. For buckets whose values are written once: a page
// filled that far splits again at the first value that grows.
func (w *LayersWriter) FillTails(names ...string) { w.fillTails = append(w.fillTails, names...) }

// FillRuns is FillTails, and more: a transaction whose keys of a named
// bucket are all new and lie in runs, at least minGapRun of them between
// two keys the bucket holds (or past its last), fills their pages too,
// wherever the runs are. A register's parties, numbered in order, sort
// before the operator's id, so their keys in a party-keyed history are
// never past the bucket's last. For buckets whose keys come in runs and
// seldom one at a time: a filled page splits at the first key inserted
// into it.
func (w *LayersWriter) FillRuns(names ...string) {
	w.fillTails = append(w.fillTails, names...)
	w.fillRuns = append(w.fillRuns, names...)
}

// minGapRun is how many new keys a gap between two keys of a bucket must
// receive in a transaction for inRuns: about a third of a page of small
// keys. A run that long makes pages of its own, which a fill of
// tailFillPercent packs; fewer keys land on pages that later ones split.
const minGapRun = 32

// tailFillPercent is how full bbolt fills the pages of keys written past a
// bucket's last key, in a transaction of their own (FillTails): as etcd's
// backend fills pages of keys it appends. bbolt splits a page at half its
// size by default, and pages that only ever receive keys at their end, as
// a register whose parties are numbered in order gives some buckets, stay
// half empty.
const tailFillPercent = 0.9

// layerRun is one layer's keys of a bucket, in key order, and the next
// of them to write.
type layerRun struct {
	lb    *layerBucket
	order []int32
	next  int
}

// NewLayersWriter returns a writer of layers, oldest first, whose buckets
// named in holdBack are written by Finish alone, after every other one.
func NewLayersWriter(layers []*Layer, holdBack ...string) *LayersWriter {
	var names, held []string
	for _, l := range layers {
		for name := range l.buckets {
			switch {
			case slices.Contains(names, name), slices.Contains(held, name):
			case slices.Contains(holdBack, name):
				held = append(held, name)
			default:
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	slices.Sort(held)
	return &LayersWriter{layers: layers, names: append(names, held...), held: len(names)}
}

// Write writes up to maxKeys keys of the buckets not held back into tx,
// and reports whether any of theirs remain.
func (w *LayersWriter) Write(tx *bolt.Tx, maxKeys int) (more bool, err error) {
	if w.finished {
		return false, errors.New("kv: write layers: written already")
	}
	return w.write(tx, w.held, maxKeys)
}

// Finish writes every key not yet written into tx, the held-back buckets
// last. The writer is done.
func (w *LayersWriter) Finish(tx *bolt.Tx) error {
	if w.finished {
		return errors.New("kv: write layers: written already")
	}
	w.finished = true
	_, err := w.write(tx, len(w.names), math.MaxInt)
	return err
}

// headOf returns the least key at the heads of runs: of equal keys, the
// newest layer's (the last run). Nil when every run is written.
func headOf(runs []layerRun) *entry {
	var e *entry
	for i := range runs {
		r := &runs[i]
		if r.next == len(r.order) {
			continue
		}
		if c := r.lb.ents.at(int(r.order[r.next])); e == nil || c.key <= e.key {
			e = c
		}
	}
	return e
}

// skipHead moves every run whose head holds key past it.
func skipHead(runs []layerRun, key string) {
	for i := range runs {
		r := &runs[i]
		if r.next < len(r.order) && r.lb.ents.at(int(r.order[r.next])).key == key {
			r.next++
		}
	}
}

// inRuns reports whether the next n keys of the bucket's runs (those a
// transaction is about to write into b) are all new, each gap between
// two keys b holds that receives any receiving at least minGapRun, or
// lying past b's last key. It stops at the first key that settles it no.
func (w *LayersWriter) inRuns(b *bolt.Bucket, n int) bool {
	runs := append(w.peek[:0], w.runs...) // heads of its own to move
	w.peek = runs
	c := b.Cursor()
	var gapEnd []byte // the bucket's first key past the gap; nil: past its last
	inGap, seen := 0, false
	for range n {
		e := headOf(runs)
		if e == nil {
			break
		}
		skipHead(runs, e.key)
		if e.del {
			return false
		}
		if !seen || (gapEnd != nil && e.key >= string(gapEnd)) {
			if seen && inGap < minGapRun {
				return false
			}
			k, _ := c.Seek(unsafe.Slice(unsafe.StringData(e.key), len(e.key)))
			if k != nil && string(k) == e.key {
				return false // a key b holds: rewritten, not new
			}
			gapEnd, inGap, seen = k, 0, true
		}
		inGap++
	}
	return seen && (gapEnd == nil || inGap >= minGapRun)
}

// write writes up to maxKeys keys of names[:end] into tx, and reports
// whether keys of them remain.
func (w *LayersWriter) write(tx *bolt.Tx, end, maxKeys int) (bool, error) {
	written := 0
	for ; w.at < end; w.at, w.started = w.at+1, false {
		name := w.names[w.at]
		b := tx.Bucket([]byte(name))
		if b == nil {
			return false, fmt.Errorf("kv: write layer: no bucket %q", name)
		}
		appendOnly := true
		if !w.started {
			w.runs = w.runs[:0]
			for _, l := range w.layers {
				if lb := l.buckets[name]; lb != nil {
					w.runs = append(w.runs, layerRun{lb: lb, order: lb.sorted()})
				}
			}
			w.started = true
			w.last, w.inTail = w.last[:0], false
			if slices.Contains(w.fillTails, name) {
				k, _ := b.Cursor().Last()
				w.last = append(w.last, k...)
			}
		}
		if isPacked(b) {
			more, err := w.writePacked(b, name, &written, maxKeys)
			if more || err != nil {
				return more, err
			}
			continue
		}
		for i := range w.runs {
			appendOnly = appendOnly && w.runs[i].lb.appendOnly
		}
		switch {
		case appendOnly:
			b.FillPercent = 1
		case w.inTail:
			b.FillPercent = tailFillPercent
		}
		fillTail := !appendOnly && slices.Contains(w.fillTails, name)
		if fillTail && slices.Contains(w.fillRuns, name) && w.inRuns(b, maxKeys-written) {
			// Every key this transaction writes of the bucket makes pages
			// of its own: filled, with no transaction ended for a tail.
			b.FillPercent = tailFillPercent
			fillTail = false
		}
		here := 0 // keys of this bucket written in tx
		for {
			e := headOf(w.runs)
			if e == nil {
				break
			}
			if written == maxKeys {
				return true, nil
			}
			if fillTail && !w.inTail && e.key > string(w.last) {
				// The keys past the bucket's last go in a transaction of
				// their own, which fills their pages: bbolt takes one fill
				// for every page of a bucket a commit splits. Finish, which
				// cannot end its transaction, fills them only when they
				// are all the bucket's keys it writes.
				if here > 0 && maxKeys != math.MaxInt {
					return true, nil
				}
				if here == 0 {
					w.inTail = true
					b.FillPercent = tailFillPercent
				}
			}
			key := e.key
			skipHead(w.runs, key)
			k := unsafe.Slice(unsafe.StringData(key), len(key))
			var err error
			if e.del {
				err = b.Delete(k)
			} else {
				err = b.Put(k, e.val)
			}
			if err != nil {
				return false, fmt.Errorf("kv: write layer: bucket %q key %x: %w", name, k, err)
			}
			written++
			here++
		}
	}
	return false, nil
}

// writePacked writes the runs of the packed bucket b, up to maxKeys keys
// counted in *written, a chunk at a time, and reports whether keys remain.
func (w *LayersWriter) writePacked(b *bolt.Bucket, name string, written *int, maxKeys int) (bool, error) {
	pw := newPackedWriter(b)
	for {
		e := headOf(w.runs)
		if e == nil {
			break
		}
		if *written == maxKeys {
			if err := pw.flush(); err != nil {
				return false, fmt.Errorf("kv: write layer: bucket %q: %w", name, err)
			}
			return true, nil
		}
		key := e.key
		skipHead(w.runs, key)
		if err := pw.change(keyBytes(key), e.val, e.del); err != nil {
			return false, fmt.Errorf("kv: write layer: bucket %q key %x: %w", name, key, err)
		}
		*written++
	}
	if err := pw.flush(); err != nil {
		return false, fmt.Errorf("kv: write layer: bucket %q: %w", name, err)
	}
	return false, nil
}

// AppendTo appends the layer's writes to dst in the form ReadLayer reads
// back, for a layer kept in the file before its writes go to their buckets:
//
//	layer   uvarint buckets, then each bucket in name order
//	bucket  uvarint length, name, append-only byte (0 or 1),
//	        uvarint entries, then each entry in the order first written
//	entry   0 (put), uvarint length, key, uvarint length, value; or
//	        1 (delete), uvarint length, key
//
// A frozen layer may be read (not written) while it is appended.
func (l *Layer) AppendTo(dst []byte) []byte {
	// Grown by doubling, dst was copied over and over: most of the time
	// the append took, for layers of megabytes.
	dst = slices.Grow(dst, l.AppendSize())
	names := make([]string, 0, len(l.buckets))
	for name := range l.buckets {
		names = append(names, name)
	}
	slices.Sort(names)
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, name := range names {
		lb := l.buckets[name]
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
		dst = append(dst, boolByte(lb.appendOnly))
		dst = binary.AppendUvarint(dst, uint64(lb.ents.len()))
		for at := range lb.ents.len() {
			e := lb.ents.at(at)
			dst = append(dst, boolByte(e.del))
			dst = binary.AppendUvarint(dst, uint64(len(e.key)))
			dst = append(dst, e.key...)
			if !e.del {
				dst = binary.AppendUvarint(dst, uint64(len(e.val)))
				dst = append(dst, e.val...)
			}
		}
	}
	return dst
}

// AppendSize bounds the bytes AppendTo appends.
func (l *Layer) AppendSize() int {
	n := binary.MaxVarintLen64
	for name := range l.buckets {
		n += 2*binary.MaxVarintLen64 + len(name) + 1
	}
	// Each entry: a byte and two lengths, then its key and value, which
	// Size counts (a key written twice counted twice: an upper bound).
	return n + l.n*(1+2*binary.MaxVarintLen64) + l.size
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// ReadLayer reads a layer AppendTo wrote, all of b, refusing anything
// else: a bucket or key twice, a key bbolt would refuse, lengths past the
// end, bytes left over.
func ReadLayer(b []byte) (*Layer, error) {
	r := wire.NewReader(b)
	l := NewLayer()
	buckets := r.Uvarint()
	for range buckets {
		name := r.StrBytes()
		flag := r.Byte()
		n := r.Uvarint()
		if r.Err() != nil {
			break
		}
		if len(name) == 0 || l.buckets[string(name)] != nil || flag > 1 {
			return nil, fmt.Errorf("kv: read layer: bucket %q: malformed", name)
		}
		lb := l.bucket(name, true)
		lb.appendOnly = flag == 1
		for range n {
			del := r.Byte()
			key := r.StrBytes()
			var val []byte
			if del == 0 {
				val = r.StrBytes()
			}
			if r.Err() != nil {
				break
			}
			k := unsafe.String(unsafe.SliceData(key), len(key))
			if del > 1 || len(key) == 0 || len(key) > bolt.MaxKeySize || lb.find(k, maphash.String(hashSeed, k)) >= 0 {
				return nil, fmt.Errorf("kv: read layer: bucket %q key %x: malformed", name, key)
			}
			l.set(lb, key, val, del == 1)
		}
	}
	switch {
	case r.Err() != nil:
		return nil, fmt.Errorf("kv: read layer: %w", r.Err())
	case r.Len() > 0:
		return nil, fmt.Errorf("kv: read layer: %d bytes past its end", r.Len())
	}
	return l, nil
}

// Tx is a bbolt transaction with layers of writes in front of it.
type Tx struct {
	base    *bolt.Tx
	layers  []*Layer // read-only, oldest first
	top     *Layer   // written by Put and Delete
	layered bool     // false: reads and writes go straight to base
	// buckets are those asked for so far. A store names its buckets with
	// package-level slices, so a lookup compares their addresses first: a
	// call of Apply asks for some twenty, and a map's hashing of the names
	// cost more than the scan.
	buckets []*Bucket
	// stop, once set, ends every walk of the file beneath: its cursors
	// find no more keys (StopWith).
	stop *atomic.Bool
}

// Wrap returns base itself as a Tx: reads and writes go to it.
func Wrap(base *bolt.Tx) *Tx { return &Tx{base: base} }

// Over returns a Tx that reads top, then layers from the last to the first,
// then base, and writes top. A nil top makes it read-only.
func Over(base *bolt.Tx, layers []*Layer, top *Layer) *Tx {
	return &Tx{base: base, layers: layers, top: top, layered: true}
}

// StopWith makes every cursor over the file beneath find no more keys once
// stop is set, so a long read of the whole file (a restore's check) can be
// called off from another goroutine: it then ends soon, with what it read
// so far, which the caller must discard. Call it before the first Bucket.
func (t *Tx) StopWith(stop *atomic.Bool) { t.stop = stop }

// Bolt is the bbolt transaction beneath, for what layers do not hold:
// making and dropping buckets.
func (t *Tx) Bolt() *bolt.Tx { return t.base }

// Writable reports whether Put and Delete may be called.
func (t *Tx) Writable() bool {
	if t.layered {
		return t.top != nil
	}
	return t.base.Writable()
}

// Bucket returns the bucket named name, or nil if the transaction beneath
// has none: layers hold writes to existing buckets only.
func (t *Tx) Bucket(name []byte) *Bucket {
	for _, b := range t.buckets {
		if unsafe.SliceData(b.name) == unsafe.SliceData(name) && len(b.name) == len(name) {
			return b.found()
		}
	}
	for _, b := range t.buckets {
		if bytes.Equal(b.name, name) {
			return b.found()
		}
	}
	b := &Bucket{tx: t, name: name}
	if base := t.base.Bucket(name); base != nil {
		b.base, b.packed = base, isPacked(base)
		if t.layered {
			for _, l := range t.layers {
				if lb := l.bucket(name, false); lb != nil {
					b.layers = append(b.layers, lb)
				}
			}
		}
	}
	t.buckets = append(t.buckets, b)
	return b.found()
}

// found is b, or nil for a bucket the transaction beneath does not have.
func (b *Bucket) found() *Bucket {
	if b.base == nil {
		return nil
	}
	return b
}

// WrapBucket returns base itself as a Bucket, for a bucket nested in
// another, which a layer cannot hold.
func WrapBucket(base *bolt.Bucket) *Bucket {
	return &Bucket{tx: Wrap(base.Tx()), base: base, packed: isPacked(base)}
}

// Bucket is a bucket of a Tx.
type Bucket struct {
	tx     *Tx
	name   []byte
	base   *bolt.Bucket
	layers []*layerBucket // the read-only layers that have this bucket, oldest first
	top    *layerBucket   // made on the first write
	// cur serves Get from base: bolt.Bucket.Get makes a cursor on every call.
	cur *bolt.Cursor
	// packed says base keeps its keys in chunks (packed.go).
	packed bool
}

// Tx is the transaction of the bucket.
func (b *Bucket) Tx() *Tx { return b.tx }

// CopiesValues reports whether Put copies the value it is handed, as a
// layer does; bbolt itself (Wrap) keeps reading it until the commit.
func (b *Bucket) CopiesValues() bool { return b.tx.layered }

// SetAppendOnly says the bucket's keys only grow, so bbolt may fill its
// pages whole (FillPercent 1) instead of leaving room for inserts.
func (b *Bucket) SetAppendOnly() {
	if !b.tx.layered {
		b.base.FillPercent = 1
		return
	}
	if b.tx.top != nil {
		b.topBucket().appendOnly = true
	}
}

// readTop is the top layer's part of the bucket, nil while nothing wrote it.
func (b *Bucket) readTop() *layerBucket {
	if b.top == nil && b.tx.top != nil {
		b.top = b.tx.top.bucket(b.name, false)
	}
	return b.top
}

func (b *Bucket) topBucket() *layerBucket {
	if b.top == nil {
		b.top = b.tx.top.bucket(b.name, true)
	}
	return b.top
}

// Get returns the value of key, or nil.
func (b *Bucket) Get(key []byte) []byte {
	if v, ok := b.GetLayered(key); ok {
		return v
	}
	return b.GetFile(key)
}

// GetLayered is Get from the layers alone: ok says a layer holds the
// key's last write (val nil: a delete), and then the file is not asked.
func (b *Bucket) GetLayered(key []byte) (val []byte, ok bool) {
	if !b.tx.layered {
		return nil, false
	}
	if top := b.readTop(); top != nil {
		if e, ok := top.get(key); ok {
			return e.value(), true
		}
	}
	for i := len(b.layers) - 1; i >= 0; i-- {
		if e, ok := b.layers[i].get(key); ok {
			return e.value(), true
		}
	}
	return nil, false
}

// GetFile is Get from the file beneath the layers alone; Get asks it when
// no layer holds the key.
func (b *Bucket) GetFile(key []byte) []byte {
	if b.cur == nil {
		b.cur = b.base.Cursor()
	}
	if b.packed {
		return getPacked(b.cur, key)
	}
	k, v := b.cur.Seek(key)
	if v == nil || !bytes.Equal(k, key) {
		return nil
	}
	return v
}

// Empty reports whether the bucket holds no key. While no layer holds a
// write to it, that is one look at bbolt through the cursor Get keeps,
// with no merged cursor made.
func (b *Bucket) Empty() bool {
	if b.tx.layered {
		written := b.readTop() != nil && b.readTop().ents.len() > 0
		for _, lb := range b.layers {
			written = written || lb.ents.len() > 0
		}
		if written {
			k, _ := b.Cursor().First()
			return k == nil
		}
	}
	if b.cur == nil {
		b.cur = b.base.Cursor()
	}
	k, _ := b.cur.First()
	return k == nil
}

func (e entry) value() []byte {
	if e.del {
		return nil
	}
	return e.val
}

// ErrReadOnly is returned by a write to a read-only Tx.
var ErrReadOnly = errors.New("kv: transaction is read-only")

// Put sets key to val.
func (b *Bucket) Put(key, val []byte) error {
	if !b.tx.layered {
		if b.packed {
			return putPacked(b.base, key, val, false)
		}
		return b.base.Put(key, val)
	}
	if b.tx.top == nil {
		return ErrReadOnly
	}
	// bbolt's own limits, checked now so a layer never fails to write.
	switch {
	case len(key) == 0:
		return berrors.ErrKeyRequired
	case len(key) > bolt.MaxKeySize:
		return berrors.ErrKeyTooLarge
	case int64(len(val)) > bolt.MaxValueSize:
		return berrors.ErrValueTooLarge
	}
	b.tx.top.set(b.topBucket(), key, val, false)
	return nil
}

// Delete removes key; removing an absent key is not an error.
func (b *Bucket) Delete(key []byte) error {
	if !b.tx.layered {
		if b.packed {
			return putPacked(b.base, key, nil, true)
		}
		return b.base.Delete(key)
	}
	if b.tx.top == nil {
		return ErrReadOnly
	}
	b.tx.top.set(b.topBucket(), key, nil, true)
	return nil
}

// ForEach calls fn for every key in order, stopping at its first error.
func (b *Bucket) ForEach(fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Cursor walks a bucket in key order, merging its layers and the bucket
// beneath: a key takes its value from the newest source that has it, and a
// deletion hides it.
type Cursor struct {
	srcs []source // newest first; base is last
	// fwd says how the sources are placed: each at its first key >= the
	// current key (true) or at its last key <= it (false).
	fwd bool
	key []byte // current key; nil: off either end
}

// source is one layer's, or the base bucket's, position.
type source interface {
	first()
	last()
	seek(k []byte) // to the first key >= k
	next()
	prev()
	// at returns the key at the position, nil off either end.
	at() (key, val []byte, del bool)
}

// Cursor returns a cursor over the bucket.
func (b *Bucket) Cursor() *Cursor {
	c := &Cursor{}
	if b.tx.layered {
		if top := b.readTop(); top != nil && top.ents.len() > 0 {
			c.srcs = append(c.srcs, newLayerSource(top))
		}
		for i := len(b.layers) - 1; i >= 0; i-- {
			if b.layers[i].ents.len() > 0 {
				c.srcs = append(c.srcs, newLayerSource(b.layers[i]))
			}
		}
	}
	if b.packed {
		c.srcs = append(c.srcs, &packedSource{boltSource: boltSource{c: b.base.Cursor(), stop: b.tx.stop}})
	} else {
		c.srcs = append(c.srcs, &boltSource{c: b.base.Cursor(), stop: b.tx.stop})
	}
	return c
}

// First moves to the first key.
func (c *Cursor) First() ([]byte, []byte) {
	for _, s := range c.srcs {
		s.first()
	}
	c.fwd = true
	return c.settle()
}

// Last moves to the last key.
func (c *Cursor) Last() ([]byte, []byte) {
	for _, s := range c.srcs {
		s.last()
	}
	c.fwd = false
	return c.settle()
}

// Seek moves to the first key >= k.
func (c *Cursor) Seek(k []byte) ([]byte, []byte) {
	for _, s := range c.srcs {
		s.seek(k)
	}
	c.fwd = true
	return c.settle()
}

// Next moves to the next key; nil after the last.
func (c *Cursor) Next() ([]byte, []byte) {
	if c.key == nil {
		return nil, nil
	}
	cur := c.key
	if !c.fwd {
		// Each source to its first key > cur.
		for _, s := range c.srcs {
			s.seek(cur)
			if k, _, _ := s.at(); k != nil && bytes.Equal(k, cur) {
				s.next()
			}
		}
		c.fwd = true
	} else {
		c.step(cur)
	}
	return c.settle()
}

// Prev moves to the previous key; nil before the first.
func (c *Cursor) Prev() ([]byte, []byte) {
	if c.key == nil {
		return nil, nil
	}
	cur := c.key
	if c.fwd {
		// Each source to its last key < cur.
		for _, s := range c.srcs {
			s.seek(cur)
			if k, _, _ := s.at(); k != nil {
				s.prev()
			} else {
				s.last()
			}
		}
		c.fwd = false
	} else {
		c.step(cur)
	}
	return c.settle()
}

// step moves every source at key k one place on, in the cursor's direction.
func (c *Cursor) step(k []byte) {
	for _, s := range c.srcs {
		if sk, _, _ := s.at(); sk != nil && bytes.Equal(sk, k) {
			if c.fwd {
				s.next()
			} else {
				s.prev()
			}
		}
	}
}

// settle makes the current key the nearest one in the cursor's direction
// that a deletion does not hide, and returns it.
func (c *Cursor) settle() ([]byte, []byte) {
	for {
		var best []byte
		var val []byte
		var del bool
		for _, s := range c.srcs { // newest first: the first at a key wins it
			k, v, d := s.at()
			if k == nil {
				continue
			}
			if best == nil || (c.fwd && bytes.Compare(k, best) < 0) || (!c.fwd && bytes.Compare(k, best) > 0) {
				best, val, del = k, v, d
			}
		}
		if best == nil {
			c.key = nil
			return nil, nil
		}
		if !del {
			c.key = best
			return best, val
		}
		c.step(best)
	}
}

// layerSource walks one layer's bucket, in the order its tree had when the
// cursor was made.
type layerSource struct {
	lb    *layerBucket
	it    btree.MapIter[string, int32]
	valid bool
}

func newLayerSource(lb *layerBucket) *layerSource {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return &layerSource{lb: lb, it: lb.ordered().Iter()}
}

func (s *layerSource) first()        { s.valid = s.it.First() }
func (s *layerSource) last()         { s.valid = s.it.Last() }
func (s *layerSource) seek(k []byte) { s.valid = s.it.Seek(unsafe.String(unsafe.SliceData(k), len(k))) }
func (s *layerSource) next()         { s.valid = s.valid && s.it.Next() }
func (s *layerSource) prev()         { s.valid = s.valid && s.it.Prev() }
func (s *layerSource) at() ([]byte, []byte, bool) {
	if !s.valid {
		return nil, nil, false
	}
	k := s.it.Key()
	e := s.lb.ents.at(int(s.it.Value()))
	return unsafe.Slice(unsafe.StringData(k), len(k)), e.val, e.del
}

// boltSource walks the bucket beneath.
type boltSource struct {
	c    *bolt.Cursor
	k, v []byte
	stop *atomic.Bool // Tx.StopWith; nil: never
}

func (s *boltSource) first()        { s.k, s.v = s.c.First(); s.stopped() }
func (s *boltSource) last()         { s.k, s.v = s.c.Last(); s.stopped() }
func (s *boltSource) seek(k []byte) { s.k, s.v = s.c.Seek(k); s.stopped() }
func (s *boltSource) next() {
	if s.k != nil {
		s.k, s.v = s.c.Next()
		s.stopped()
	}
}
func (s *boltSource) prev() {
	if s.k != nil {
		s.k, s.v = s.c.Prev()
		s.stopped()
	}
}

// stopped puts the source off the end once its transaction is stopped.
func (s *boltSource) stopped() {
	if s.stop != nil && s.stop.Load() {
		s.k, s.v = nil, nil
	}
}
func (s *boltSource) at() ([]byte, []byte, bool) { return s.k, s.v, false }
