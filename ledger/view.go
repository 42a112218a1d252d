package ledger

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"slices"
	"sort"

	"github.com/shopspring/decimal"
	bolt "go.etcd.io/bbolt"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// txView is transfer.View over a bbolt transaction. In a write transaction it
// also caches what it decoded and what a batch changed, so a batch decodes
// each object once and writes it once, at flush, in key order.
type txView struct {
	tx       *bolt.Tx
	rulebook *eligibility.Rulebook
	writable bool
	// The record caches hold records as committed before this transaction;
	// Apply's view has them (useCache), read views do not (nil). published
	// lists what this transaction wrote, for the caches once it committed.
	cParties, cInstruments, cHoldings *recordCache
	published                         []cacheUpdate

	bParties, bInstruments, bHoldings, bHolders, bLoans, bPrices *bolt.Bucket

	parties     map[string]*transfer.Party // nil value: known absent
	instruments map[string]*transfer.Instrument
	holdings    map[holdingKey]*holdingSlot
	loans       map[string][]transfer.Loan // by party, complete list
	prices      map[string]*transfer.Price

	dirtyParties     map[string]bool
	dirtyInstruments map[string]bool
	dirtyHoldings    []holdingKey // in the order first changed; sorted at flush
	dirtyLoans       map[string]bool
	dirtyPrices      map[string]bool
	history          []historyRecord // by journal seq, ascending
	newRulebook      *eligibility.Rulebook

	key   []byte // scratch for bbolt keys, which Get and Put do not keep
	arena []byte // encoded values: bbolt keeps them until the commit
}

type holdingKey struct{ party, symbol string }

// cacheUpdate is a record a transaction wrote (val nil: deleted).
type cacheUpdate struct {
	cache    *recordCache
	key, val []byte
}

// holdingSlot is one holding as the batch sees it, with what the bucket and
// the holders index held when it was loaded, so flush writes only changes.
type holdingSlot struct {
	h      *transfer.Holding // nil: absent
	stored bool              // the holdings bucket has it
	holder bool              // the holders index lists it (a positive stored balance)
	dirty  bool
}

// balanceChange is one holding's balance before and after a journal entry.
type balanceChange struct {
	Symbol string
	Party  string
	Before decimal.Decimal
	After  decimal.Decimal
}

type historyRecord struct {
	seq     uint64
	changes []balanceChange
}

func newTxView(tx *bolt.Tx, rb *eligibility.Rulebook) *txView {
	v := &txView{
		tx: tx, rulebook: rb, writable: tx.Writable(),
		bParties: tx.Bucket(bucketParties), bInstruments: tx.Bucket(bucketInstruments),
		bHoldings: tx.Bucket(bucketHoldings), bHolders: tx.Bucket(bucketHolders),
		bLoans: tx.Bucket(bucketLoans), bPrices: tx.Bucket(bucketPrices),
	}
	// The memo maps are made on first use (memo): most read views serve one
	// or two lookups, three to a request, and need few of them.
	if v.writable {
		v.dirtyParties, v.dirtyInstruments = map[string]bool{}, map[string]bool{}
		v.dirtyLoans, v.dirtyPrices = map[string]bool{}, map[string]bool{}
	}
	return v
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
	if raw := v.record(v.bParties, v.cParties, v.keyOf(id)); raw != nil {
		p = decodeParty(v.key, raw)
	}
	memo(&v.parties, id, p)
	if p == nil {
		return transfer.Party{}, false
	}
	return *p, true
}

func (v *txView) Instrument(symbol string) (transfer.Instrument, bool) {
	if in, ok := v.instruments[symbol]; ok {
		if in == nil {
			return transfer.Instrument{}, false
		}
		return *in, true
	}
	var in *transfer.Instrument
	if raw := v.record(v.bInstruments, v.cInstruments, v.keyOf(symbol)); raw != nil {
		in = decodeInstrument(v.key, raw)
	}
	memo(&v.instruments, symbol, in)
	if in == nil {
		return transfer.Instrument{}, false
	}
	return *in, true
}

func (v *txView) holding(party, symbol string) *holdingSlot {
	k := holdingKey{party, symbol}
	if s, ok := v.holdings[k]; ok {
		return s
	}
	s := &holdingSlot{}
	if raw := v.record(v.bHoldings, v.cHoldings, v.keyOf(party, symbol)); raw != nil {
		s.h = decodeHolding(party, symbol, raw)
	}
	// The bucket stores exactly the holdings with a balance or a frozen
	// amount, and the holders index exactly those with a positive balance
	// (Check verifies both).
	s.stored = s.h != nil
	s.holder = s.stored && s.h.IsHolder()
	memo(&v.holdings, k, s)
	return s
}

// record reads a committed record, from the cache when it knows the key.
// Before this transaction writes a key, bbolt holds its committed value, so
// what it reads is fit for the cache at once.
func (v *txView) record(b *bolt.Bucket, c *recordCache, key []byte) []byte {
	if val, present, known := c.get(key); known {
		if !present {
			return nil
		}
		return val
	}
	val := b.Get(key)
	c.put(key, val)
	return val
}

// useCache makes the view read through c's record caches and report its
// writes to them (publish).
func (v *txView) useCache(c *stateCache) {
	v.cParties, v.cInstruments, v.cHoldings = c.parties, c.instruments, c.holdings
}

// written notes a record this transaction wrote (val nil: deleted) for the
// cache c, which learns it only once the transaction has committed.
func (v *txView) written(c *recordCache, key, val []byte) {
	if c != nil {
		v.published = append(v.published, cacheUpdate{cache: c, key: bytes.Clone(key), val: val})
	}
}

// publish gives the cache what the committed transaction wrote.
func (v *txView) publish() {
	for _, u := range v.published {
		u.cache.put(u.key, u.val)
	}
	v.published = nil
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
		if h := v.holdings[k].h; h != nil && (!h.Balance.IsZero() || !h.Frozen.IsZero()) {
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
	c := v.bHolders.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		base = append(base, string(k[len(prefix):]))
	}
	return transfer.MergeHolders(base, func(yield func(transfer.Holding) bool) {
		for _, k := range v.dirtyHoldings {
			if k.symbol == symbol && !yield(*v.holdings[k].h) {
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
	raw := v.bPrices.Get(v.keyOf(symbol))
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
	prefix := append([]byte(party), 0)
	var out []transfer.Loan
	c := v.bLoans.Cursor()
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

// commit merges an accepted instruction's changes into the batch cache and
// records balance history under its journal seq.
func (v *txView) commit(c transfer.Changes, seq uint64) {
	for i := range c.Parties {
		p := c.Parties[i]
		memo(&v.parties, p.ID, &p)
		v.dirtyParties[p.ID] = true
	}
	for i := range c.Instruments {
		in := c.Instruments[i]
		memo(&v.instruments, in.Symbol, &in)
		v.dirtyInstruments[in.Symbol] = true
	}
	var changes []balanceChange
	for i := range c.Holdings {
		h := c.Holdings[i]
		s := v.holding(h.Party, h.Symbol)
		before := decimal.Zero
		if s.h != nil {
			before = s.h.Balance
		}
		if !h.Balance.Equal(before) {
			changes = append(changes, balanceChange{Symbol: h.Symbol, Party: h.Party, Before: before, After: h.Balance})
		}
		s.h = &h
		if !s.dirty {
			s.dirty = true
			v.dirtyHoldings = append(v.dirtyHoldings, holdingKey{h.Party, h.Symbol})
		}
	}
	if len(changes) > 0 {
		// Seqs only grow, so history stays in key order without sorting.
		if n := len(v.history); n > 0 && v.history[n-1].seq == seq {
			v.history[n-1].changes = append(v.history[n-1].changes, changes...)
		} else {
			if n > 0 && v.history[n-1].seq >= seq {
				fail("history seq %d does not follow the last one", seq)
			}
			v.history = append(v.history, historyRecord{seq: seq, changes: changes})
		}
	}
	if len(c.Loans) > 0 {
		v.commitLoans(c.Loans)
	}
	for i := range c.Prices {
		p := c.Prices[i]
		memo(&v.prices, p.Symbol, &p)
		v.dirtyPrices[p.Symbol] = true
	}
	if c.Rulebook != nil {
		v.newRulebook = c.Rulebook
	}
}

func (v *txView) commitLoans(loans []transfer.Loan) {
	touchedLoans := map[string]bool{}
	for _, l := range loans {
		touchedLoans[l.Party] = true
	}
	for party := range touchedLoans {
		merged := map[string]transfer.Loan{}
		for _, l := range v.allLoans(party) {
			merged[l.Cash+"\x00"+l.Lender] = l
		}
		for _, l := range loans {
			if l.Party == party {
				merged[l.Cash+"\x00"+l.Lender] = l
			}
		}
		list := make([]transfer.Loan, 0, len(merged))
		for _, l := range merged {
			list = append(list, l)
		}
		sort.Slice(list, func(i, j int) bool {
			if list[i].Cash != list[j].Cash {
				return list[i].Cash < list[j].Cash
			}
			return list[i].Lender < list[j].Lender
		})
		memo(&v.loans, party, list)
		v.dirtyLoans[party] = true
	}
}

// sealed returns the value encoded into the arena since start. bbolt keeps
// values (not keys) until the commit; appending to the arena never rewrites
// bytes already handed out, so one arena serves the whole flush.
func (v *txView) sealed(start int) []byte {
	return v.arena[start:len(v.arena):len(v.arena)]
}

// flush writes every changed object, in key order.
func (v *txView) flush() error {
	if v.arena == nil {
		// Sized to the batch: a fixed large arena made a one-instruction
		// entry spend more on zeroing it than on the instruction. A short
		// guess only costs a regrowth; sealed values keep the old array.
		n := len(v.dirtyParties) + len(v.dirtyInstruments) + len(v.dirtyHoldings) + len(v.dirtyPrices)
		for _, r := range v.history {
			n += len(r.changes)
		}
		v.arena = make([]byte, 0, 160*n+len(v.dirtyLoans)*512)
	}
	for _, id := range sortedKeys(v.dirtyParties) {
		start := len(v.arena)
		v.arena = encodeParty(v.arena, v.parties[id])
		if err := v.bParties.Put(v.keyOf(id), v.sealed(start)); err != nil {
			return err
		}
		v.written(v.cParties, v.key, v.sealed(start))
	}
	for _, sym := range sortedKeys(v.dirtyInstruments) {
		start := len(v.arena)
		v.arena = encodeInstrument(v.arena, v.instruments[sym])
		if err := v.bInstruments.Put(v.keyOf(sym), v.sealed(start)); err != nil {
			return err
		}
		v.written(v.cInstruments, v.key, v.sealed(start))
	}
	if err := v.flushHoldings(); err != nil {
		return err
	}
	for _, party := range sortedKeys(v.dirtyLoans) {
		for _, l := range v.loans[party] {
			key := v.keyOf(l.Party, l.Cash, l.Lender)
			var err error
			if l.Amount.IsZero() {
				err = v.bLoans.Delete(key)
			} else {
				start := len(v.arena)
				v.arena = encodeLoan(v.arena, &l)
				err = v.bLoans.Put(key, v.sealed(start))
			}
			if err != nil {
				return err
			}
		}
	}
	for _, sym := range sortedKeys(v.dirtyPrices) {
		start := len(v.arena)
		v.arena = encodePrice(v.arena, v.prices[sym])
		if err := v.bPrices.Put(v.keyOf(sym), v.sealed(start)); err != nil {
			return err
		}
	}
	// Balance history is appended by seq, so it costs sequential pages, not
	// a random page per holding; full pages, since nothing is inserted before.
	hist := v.tx.Bucket(bucketHistory)
	hist.FillPercent = appendFillPercent
	for _, r := range v.history {
		start := len(v.arena)
		v.arena = encodeHistory(v.arena, r.changes)
		v.key = binary.BigEndian.AppendUint64(v.key[:0], r.seq)
		if err := hist.Put(v.key, v.sealed(start)); err != nil {
			return err
		}
	}
	if v.newRulebook != nil {
		if err := v.tx.Bucket(bucketMeta).Put(metaRulebook, v.newRulebook.YAML()); err != nil {
			return err
		}
	}
	return nil
}

// flushHoldings writes the changed holdings in key order (party 0 symbol
// sorts as the pair), and touches the holders index only where a holding
// starts or stops having a positive balance: rewriting an unchanged index
// entry would still dirty its page.
func (v *txView) flushHoldings() error {
	slices.SortFunc(v.dirtyHoldings, func(a, b holdingKey) int {
		if c := cmp.Compare(a.party, b.party); c != 0 {
			return c
		}
		return cmp.Compare(a.symbol, b.symbol)
	})
	for _, k := range v.dirtyHoldings {
		s := v.holdings[k]
		h := s.h
		var err error
		key := v.keyOf(k.party, k.symbol)
		switch {
		case !h.Balance.IsZero() || !h.Frozen.IsZero():
			start := len(v.arena)
			v.arena = encodeHolding(v.arena, h)
			err = v.bHoldings.Put(key, v.sealed(start))
			v.written(v.cHoldings, key, v.sealed(start))
			s.stored = true
		case s.stored:
			err = v.bHoldings.Delete(key)
			v.written(v.cHoldings, key, nil)
			s.stored = false
		}
		if err != nil {
			return err
		}
		if holder := h.IsHolder(); holder != s.holder {
			idx := v.keyOf(k.symbol, k.party)
			if holder {
				err = v.bHolders.Put(idx, present)
			} else {
				err = v.bHolders.Delete(idx)
			}
			if err != nil {
				return err
			}
			s.holder = holder
		}
		s.dirty = false
	}
	v.dirtyHoldings = v.dirtyHoldings[:0]
	return nil
}

// appendFillPercent is the bbolt fill percent of buckets whose keys only grow
// (journal, history): a split leaves the left page full, since no key will
// ever land in it again. bbolt reads it per transaction.
const appendFillPercent = 1.0

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
