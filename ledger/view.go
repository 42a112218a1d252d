package ledger

import (
	"bytes"
	"encoding/json"
	"sort"
	"unsafe"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// txView is transfer.View over a bbolt transaction. In a write transaction it
// also caches what it decoded and what a batch changed, so a batch decodes
// each object once and writes it once, at flush.
//
// This file holds its read side, which every view has: lookups through the
// memo maps, the record caches and the buckets. writeset.go holds the write
// set, which only Apply's view fills: commit, flush, and the hand-over of
// written records to the caches.
type txView struct {
	tx       *kv.Tx
	rulebook *eligibility.Rulebook
	writable bool
	// cache holds records as committed before this transaction, and
	// decoded instruments: Apply's view has it (useCache), read views do
	// not (nil). published lists what this transaction wrote, for the
	// caches once it committed.
	cache         *stateCache
	published     []cacheUpdate
	publishedKeys []byte // the keys of published

	bParties, bInstruments, bHoldings, bHolders, bLoans, bPrices, bBalances *kv.Bucket
	// holdingsInFile says which holdings the file may hold (keyfilter.go):
	// Apply's view has it, and adds every holding it writes; a view
	// without it asks the file for every holding no layer holds.
	holdingsInFile *keyFilter
	// slots are holdingSlots made a block at a time: a batch loads a few per
	// instruction, and one allocation each was a tenth of Apply's.
	slots blockList[holdingSlot]
	// partyRecords and lots are the same for decoded parties and lots.
	partyRecords blockList[partyRecord]
	lots         lotSlab

	// What the view read and, in Apply's view, what the batch changed: the
	// write set's objects live here, marked dirty below.
	parties     map[string]*transfer.Party // nil value: known absent
	instruments map[string]*transfer.Instrument
	holdings    map[holdingKey]*holdingSlot
	// recent are the last holdings looked up, in front of holdings: a leg
	// asks for its two holdings five times or more (checks, debit,
	// credit), and the map's hash of two strings a time was a thirtieth
	// of a transfer's apply.
	recent     [4]keyedSlot
	recentNext int
	loans      map[string][]transfer.Loan // by party, complete list
	noLoans    uint8                      // the loans bucket: 0 not looked at, 1 holds some, 2 empty
	prices     map[string]*transfer.Price
	// investments by party, complete lists (investment.go); a read view
	// does not keep them.
	investments map[string][]transfer.Investment

	// The write set: which objects the batch changed, the balance history it
	// appends, and a rulebook it set. Empty in every view but Apply's.
	dirtyParties     map[string]bool
	dirtyInstruments map[string]bool
	dirtyHoldings    []keyedSlot // in the order first changed
	dirtyLoans       map[string]bool
	dirtyPrices      map[string]bool
	dirtyInvestments map[string]bool // made on first use
	history          []historyRecord // by journal seq, ascending
	changesScratch   []balanceChange // commit's, reused: history keeps a copy
	changePool       []balanceChange // history's changes (appendPooled)
	supplyPool       []symbolSupply  // history's supplies (appendPooled)
	supplySought     map[string]bool // symbols whose supplies the index seeks (knownSupply)
	newRulebook      *eligibility.Rulebook

	key   []byte // scratch for bbolt keys, which Get and Put do not keep
	arena []byte // encoded values: bbolt keeps them until the commit
}

type holdingKey struct{ party, symbol string }

// keyedSlot is a holding's key and slot: the changed holdings keep theirs
// (dirtyHoldings), so the flush reads them without a search of the map,
// and so do the recent ones (recent).
type keyedSlot struct {
	holdingKey
	s *holdingSlot
}

// holdingSlot is one holding as the batch sees it, with what the bucket and
// the holders index held when it was loaded, so flush writes only changes.
type holdingSlot struct {
	h      *transfer.Holding // nil: absent
	loaded transfer.Holding  // the holding as read, which h points to until a commit changes it
	stored bool              // the holdings bucket has it
	holder bool              // the holders index lists it (a positive stored balance)
	dirty  bool
	tail   balanceTail // its recent balance points (balancetail.go)
}

func newTxView(tx *kv.Tx, rb *eligibility.Rulebook) *txView {
	v := &txView{}
	v.init(tx, rb)
	return v
}

func (v *txView) init(tx *kv.Tx, rb *eligibility.Rulebook) {
	*v = txView{
		tx: tx, rulebook: rb, writable: tx.Writable(),
		bParties: tx.Bucket(bucketParties), bInstruments: tx.Bucket(bucketInstruments),
		bHoldings: tx.Bucket(bucketHoldings),
	}
	// The memo maps, and the write set's, are made on first use (memo):
	// most read views serve one or two lookups, three to a request, and
	// most calls write few kinds of record. So are the buckets most calls
	// never read (lazyBucket).
}

// lazyBucket opens the bucket name into *b on first use. Apply opens its
// read transaction again for every call while a commit finishes, and
// bbolt seeks a read-only transaction's buckets from the root each time it
// is asked for one: the holders, loans and prices buckets, which most calls
// never read, cost every such call three seeks when the view opened them
// up front.
func (v *txView) lazyBucket(b **kv.Bucket, name []byte) *kv.Bucket {
	if *b == nil {
		*b = v.tx.Bucket(name)
	}
	return *b
}

func (v *txView) holdersBucket() *kv.Bucket { return v.lazyBucket(&v.bHolders, bucketHolders) }
func (v *txView) loansBucket() *kv.Bucket   { return v.lazyBucket(&v.bLoans, bucketLoans) }
func (v *txView) pricesBucket() *kv.Bucket  { return v.lazyBucket(&v.bPrices, bucketPrices) }
func (v *txView) balancesBucket() *kv.Bucket {
	return v.lazyBucket(&v.bBalances, bucketBalances)
}

// presize makes the memo and write-set maps a call of many instructions
// fills, sized for them, when the call did not inherit them: a map grown
// one rehash at a time was a twentieth of Apply's CPU on batches of 10,000
// registrations and mints. A call of few instructions makes them on first
// use (memo).
func (v *txView) presize(items int) {
	if items <= reuseMaxEntries {
		return
	}
	if v.parties == nil {
		v.parties = make(map[string]*transfer.Party, items)
	}
	if v.holdings == nil {
		v.holdings = make(map[holdingKey]*holdingSlot, 2*items)
	}
	if v.dirtyParties == nil {
		v.dirtyParties = make(map[string]bool, items)
	}
	// Two balance changes an instruction (a one-leg transfer's): grown
	// by doubling from a few, the pool of a call of 64,000 instructions
	// was copied over a dozen times.
	if cap(v.changePool) < 2*items {
		v.changePool = make([]balanceChange, 0, 2*items)
	}
}

// memo stores val under k in *m, making the map on first use.
func memo[K comparable, V any](m *map[K]V, k K, val V) {
	if *m == nil {
		*m = make(map[K]V)
	}
	(*m)[k] = val
}

var _ transfer.View = (*txView)(nil)

func decodeJSON(b []byte, v any) {
	err := json.Unmarshal(b, v)
	assert(err == nil, "decode stored %T: %v", v, err)
}

func encodeJSON(v any) []byte {
	b, err := json.Marshal(v)
	assert(err == nil, "encode %T: %v", v, err)
	return b
}

// keyOf builds a bbolt key in the scratch buffer; valid until the next call.
func (v *txView) keyOf(parts ...string) []byte {
	v.key = v.key[:0]
	for i, p := range parts {
		if i > 0 {
			v.key = append(v.key, 0)
		}
		v.key = append(v.key, p...)
	}
	return v.key
}

func (v *txView) Party(id string) (transfer.Party, bool) {
	if p, ok := v.parties[id]; ok {
		if p == nil {
			return transfer.Party{}, false
		}
		return *p, true
	}
	var p *transfer.Party
	if raw := v.record(v.bParties, v.partyCache(), nil, v.keyOf(id)); raw != nil {
		rec := v.newPartyRecord()
		if m := v.memo(); m == nil {
			decodePartyInto(rec, id, raw, v.names())
		} else if !m.party(raw, id, rec) {
			decodePartyInto(rec, id, raw, v.names())
			m.keepParty(raw, rec)
		}
		p = &rec.Party
	}
	memo(&v.parties, id, p)
	if p == nil {
		return transfer.Party{}, false
	}
	return *p, true
}

func (v *txView) Instrument(symbol string) (transfer.Instrument, bool) {
	in, ok := v.InstrumentRef(symbol)
	if !ok {
		return transfer.Instrument{}, false
	}
	return *in, true
}

var _ transfer.InstrumentRefView = (*txView)(nil)

// InstrumentRef is Instrument without the copy (transfer.InstrumentRefView):
// the view's decoded instrument, which nothing writes through (commit
// replaces it).
func (v *txView) InstrumentRef(symbol string) (*transfer.Instrument, bool) {
	if in, ok := v.instruments[symbol]; ok {
		return in, in != nil
	}
	var in *transfer.Instrument
	if raw := v.record(v.bInstruments, v.instrumentCache(), nil, v.keyOf(symbol)); raw != nil {
		if v.cache != nil {
			in = v.cache.instrument(v.key, raw)
		} else {
			in = decodeInstrument(v.key, raw)
		}
	}
	memo(&v.instruments, symbol, in)
	return in, in != nil
}

func (v *txView) holding(party, symbol string) *holdingSlot {
	if s := v.slotOf(party, symbol); s != nil {
		return s
	}
	k := holdingKey{party, symbol}
	s := v.load(k)
	v.remember(k, s)
	return s
}

// slotOf is the slot of a holding this view has loaded, or nil.
func (v *txView) slotOf(party, symbol string) *holdingSlot {
	for i := range v.recent {
		// An instruction's strings are slices of its body, so a holding
		// asked for again comes with the same bytes: compared by where
		// they are, which costs no comparison of their contents. Equal
		// strings elsewhere go on to the map.
		if r := &v.recent[i]; r.s != nil && sameBytes(r.party, party) && sameBytes(r.symbol, symbol) {
			return r.s
		}
	}
	k := holdingKey{party, symbol}
	s, ok := v.holdings[k]
	if ok {
		v.remember(k, s)
	}
	return s
}

// remember puts the slot s of k in the table of recent ones.
func (v *txView) remember(k holdingKey, s *holdingSlot) {
	v.recent[v.recentNext] = keyedSlot{k, s}
	v.recentNext = (v.recentNext + 1) % len(v.recent)
}

// sameBytes reports whether a and b are the same bytes in memory, which
// makes them equal (equal strings may still be apart).
func sameBytes(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// load reads the holding k from the layers or the file into a new slot.
func (v *txView) load(k holdingKey) *holdingSlot {
	party, symbol := k.party, k.symbol
	s := v.newSlot()
	if raw := v.holdingRecord(party, symbol); raw != nil {
		decodeHoldingInto(&s.loaded, party, symbol, raw, &v.lots, &s.tail)
		s.h = &s.loaded
	}
	// The bucket stores exactly the holdings with a balance or a frozen
	// amount, and the holders index exactly those with a positive balance
	// (Check verifies both).
	s.stored = s.h != nil
	s.holder = s.stored && s.h.IsHolder()
	memo(&v.holdings, k, s)
	return s
}

// tailOf reads the tail of party's holding of symbol as the call stands
// (balancetail.go): its slot's, or else its record's.
func (v *txView) tailOf(party, symbol string) func() balanceTail {
	return func() balanceTail {
		if s, ok := v.holdings[holdingKey{party, symbol}]; ok {
			return s.tail
		}
		return holdingTail(v.holdingRecord(party, symbol))
	}
}

// holdingRecord reads the committed record of party's holding of symbol.
func (v *txView) holdingRecord(party, symbol string) []byte {
	return v.record(v.bHoldings, v.holdingCache(), v.holdingsInFile, v.keyOf(party, symbol))
}

// record reads a committed record, from the cache when it knows the key.
// Before this transaction writes a key, bbolt holds its committed value, so
// what it reads is fit for the cache at once. inFile, when set, is the
// filter of the keys the file holds of b (keyfilter.go).
func (v *txView) record(b *kv.Bucket, c *recordCache, inFile *keyFilter, key []byte) []byte {
	if val, present, known := c.get(key); known {
		if !present {
			return nil
		}
		return val
	} else if c.isComplete() {
		return nil
	}
	// Get looks the key up in each layer's hash index, then seeks bbolt
	// with a cursor the bucket keeps: cheaper than a merged cursor's seek,
	// which positions every source. A key the filter says the file does
	// not hold is absent without the seek, and not put in the cache: the
	// filter answers again as fast.
	val, inLayer := b.GetLayered(key)
	if !inLayer {
		if !inFile.mayHoldKey(key) {
			return nil
		}
		val = b.GetFile(key)
	}
	c.put(key, val)
	return val
}

// newSlot returns a zero holdingSlot from the view's current block. Blocks
// double from a few slots: a call of one instruction, as one client at a
// time sends, reads about four holdings.
func (v *txView) newSlot() *holdingSlot { return v.slots.next(8, 256) }

// newPartyRecord returns a zero partyRecord from the view's current block.
func (v *txView) newPartyRecord() *partyRecord { return v.partyRecords.next(4, 128) }

// blockList hands out zero Ts from blocks that stay where they are: within
// a call what the view handed out does not move; the next call of Apply's
// view starts again at the first block (reset), so a T is zeroed as it is
// handed out. A call keeps the blocks the calls before it made, up to what
// reset allows: until then only the last block was kept, and a call that
// filled more than one made the others again, some 0.5 MB of holding
// slots a batch of 1,000.
type blockList[T any] struct {
	blocks [][]T // blocks[cur] is being filled; those before it are full
	cur    int
}

// next returns a zero T, making a new block when the last is full, each
// twice the last from first up to most.
func (l *blockList[T]) next(first, most int) *T {
	if l.cur == len(l.blocks) || len(l.blocks[l.cur]) == cap(l.blocks[l.cur]) {
		l.move(first, most)
	}
	b := &l.blocks[l.cur]
	*b = (*b)[:len(*b)+1]
	p := &(*b)[len(*b)-1]
	var zero T
	*p = zero
	return p
}

// move makes room for next: the first block, or the one after the full
// current one, made if need be.
func (l *blockList[T]) move(first, most int) {
	if len(l.blocks) == 0 {
		l.blocks = append(l.blocks, make([]T, 0, first))
		return
	}
	size := min(max(2*cap(l.blocks[l.cur]), first), most)
	l.cur++
	if l.cur == len(l.blocks) {
		l.blocks = append(l.blocks, make([]T, 0, size))
	}
}

// reset starts l again at its first block, keeping the blocks that hold
// limit Ts in all, or none when limit is 0.
func (l *blockList[T]) reset(limit int) {
	n, room := 0, 0
	for n < len(l.blocks) && room+cap(l.blocks[n]) <= limit {
		room += cap(l.blocks[n])
		l.blocks[n] = l.blocks[n][:0]
		n++
	}
	clear(l.blocks[n:]) // let the others go
	l.blocks, l.cur = l.blocks[:n], 0
}

// useCache makes the view read through c's record caches and report its
// writes to them (publish).
func (v *txView) useCache(c *stateCache) { v.cache = c }

// partyCache, instrumentCache and holdingCache are the view's record
// caches, nil in a read view.
func (v *txView) partyCache() *recordCache {
	if v.cache == nil {
		return nil
	}
	return v.cache.parties
}

// memo is the decoded parties Apply's views share, nil in a read view.
func (v *txView) memo() *decodedMemo {
	if v.cache == nil {
		return nil
	}
	return &v.cache.memo
}

// names is the table of strings Apply's views share, nil in a read view.
func (v *txView) names() *internTable {
	if v.cache == nil {
		return nil
	}
	return &v.cache.names
}

func (v *txView) instrumentCache() *recordCache {
	if v.cache == nil {
		return nil
	}
	return v.cache.instruments
}

func (v *txView) holdingCache() *recordCache {
	if v.cache == nil {
		return nil
	}
	return v.cache.holdings
}

func (v *txView) Holding(party, symbol string) (transfer.Holding, bool) {
	s := v.holding(party, symbol)
	if s.h == nil {
		return transfer.Holding{}, false
	}
	return *s.h, true
}

func (v *txView) PartyHoldings(party string) []transfer.Holding {
	prefix := append([]byte(party), 0)
	seen := map[string]bool{}
	var out []transfer.Holding
	c := v.bHoldings.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		sym := string(k[len(prefix):])
		seen[sym] = true
		if h, ok := v.Holding(party, sym); ok && (!h.Balance.IsZero() || !h.Frozen.IsZero()) {
			out = append(out, h)
		}
	}
	// Holdings created in this batch are not in the bucket yet.
	for _, k := range v.dirtyHoldings {
		if k.party != party || seen[k.symbol] {
			continue
		}
		if h := k.s.h; h != nil && (!h.Balance.IsZero() || !h.Frozen.IsZero()) {
			out = append(out, *h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out
}

// Holders reads the holders index and lays the batch's changed holdings over
// it (transfer.MergeHolders): holdings created or emptied in this batch are
// not in the index yet.
func (v *txView) Holders(symbol string) []string {
	prefix := append([]byte(symbol), 0)
	var base []string // in key order, which is party order
	c := v.holdersBucket().Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		base = append(base, string(k[len(prefix):]))
	}
	return transfer.MergeHolders(base, func(yield func(transfer.Holding) bool) {
		for _, k := range v.dirtyHoldings {
			if k.symbol == symbol && !yield(*k.s.h) {
				return
			}
		}
	})
}

func (v *txView) Price(symbol string) (transfer.Price, bool) {
	if p, ok := v.prices[symbol]; ok {
		if p == nil {
			return transfer.Price{}, false
		}
		return *p, true
	}
	raw := v.pricesBucket().Get(v.keyOf(symbol))
	if raw == nil {
		memo(&v.prices, symbol, nil)
		return transfer.Price{}, false
	}
	p := decodePrice(v.key, raw)
	memo(&v.prices, symbol, p)
	return *p, true
}

func (v *txView) Loans(party string) []transfer.Loan {
	all := v.allLoans(party)
	if len(all) == 0 {
		return nil
	}
	out := make([]transfer.Loan, 0, len(all))
	for _, l := range all {
		if !l.Amount.IsZero() {
			out = append(out, l)
		}
	}
	return out
}

// allLoans includes loans repaid in this batch (zero), which flush deletes.
func (v *txView) allLoans(party string) []transfer.Loan {
	if ls, ok := v.loans[party]; ok {
		return ls
	}
	// Most registers lend nothing: one look at the bucket per view spares
	// every party's seek (a merged cursor over the layers and bbolt).
	// Until flush, which forgets the answer, the view writes only memo.
	if v.noLoans == 0 && v.cache != nil {
		v.noLoans = v.cache.noLoans // what an earlier call of Apply found
	}
	if v.noLoans == 0 {
		v.noLoans = 1
		if k, _ := v.loansBucket().Cursor().First(); k == nil {
			v.noLoans = 2
		}
		if v.cache != nil {
			v.cache.noLoans = v.noLoans
		}
	}
	if v.noLoans == 2 {
		return nil
	}
	prefix := append([]byte(party), 0)
	var out []transfer.Loan
	c := v.loansBucket().Cursor()
	for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
		out = append(out, decodeLoan(k, raw))
	}
	if v.writable {
		memo(&v.loans, party, out)
	}
	return out
}

func (v *txView) Rulebook() *eligibility.Rulebook {
	if v.newRulebook != nil {
		return v.newRulebook
	}
	return v.rulebook
}
