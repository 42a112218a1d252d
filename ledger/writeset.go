package ledger

import (
	"slices"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/internal/fixed"
	"github.com/tokenledger/tokenledger/transfer"
)

// The write set is the part of txView that only Apply's view uses: the
// changes of the batch of a log entry, merged instruction by instruction
// (commit) over what the read side decoded, and written once, at flush.
// Reads through the same view see them (view.go), so a later
// instruction of the batch decides against the earlier ones. What a flush
// wrote reaches the record caches only once its Apply succeeded (written,
// publish).

// cacheUpdate is a record a transaction wrote (val nil: deleted).
type cacheUpdate struct {
	cache    *recordCache
	key, val []byte
}

// balanceChange is one holding's balance before and after a journal entry.
type balanceChange struct {
	Symbol string
	Party  string
	Before fixed.Decimal
	After  fixed.Decimal
}

// historyRecord is the balance changes of one journal entry, which the
// balances and supplies indexes record under its seq (index.go). Schema 5
// also stored them in a history bucket, the same facts a second time.
type historyRecord struct {
	seq     uint64
	changes []balanceChange
	// supplies is, for each instrument the entry changed, its supply before
	// and after the entry: the supplies index takes it instead of seeking
	// the symbol's last supply where it is certainly the same
	// (indexWriter.changes).
	supplies []symbolSupply
}

// symbolSupply is an instrument's supply before and after a journal entry.
type symbolSupply struct {
	symbol        string
	before, after decimal.Decimal
}

// written notes a record this transaction wrote (val nil: deleted) for the
// cache c, which learns it only once the transaction has committed.
func (v *txView) written(c *recordCache, key, val []byte) {
	if c != nil {
		// The keys share one buffer: what a growth leaves behind stays
		// valid for the keys already taken from it.
		if cap(v.publishedKeys) == 0 {
			v.publishedKeys = make([]byte, 0, 512)
		}
		start := len(v.publishedKeys)
		v.publishedKeys = append(v.publishedKeys, key...)
		v.published = append(v.published, cacheUpdate{cache: c, key: v.publishedKeys[start:len(v.publishedKeys):len(v.publishedKeys)], val: val})
	}
}

// publish gives the cache what the committed transaction wrote.
func (v *txView) publish() {
	for _, u := range v.published {
		u.cache.put(u.key, u.val)
	}
	clear(v.published) // drop the caches' and values' pointers
	v.published, v.publishedKeys = v.published[:0], v.publishedKeys[:0]
}

// commit merges an accepted instruction's changes into the batch cache and
// records its balance changes under its journal seq, for the indexes.
func (v *txView) commit(c transfer.Changes, seq uint64) {
	v.commitTerms(c, seq) // before the view holds the new records: it compares with the old
	var supplies [4]decimal.Decimal
	oldSupplies := supplies[:0]
	for i := range c.Instruments {
		old, _ := v.Instrument(c.Instruments[i].Symbol) // zero if new
		oldSupplies = append(oldSupplies, old.Supply)
	}
	// c is the instruction's own (Delta.Changes makes it afresh), so the
	// memos may point into it rather than copy each record to the heap.
	for i := range c.Parties {
		p := &c.Parties[i]
		memo(&v.parties, p.ID, p)
		memo(&v.dirtyParties, p.ID, true)
	}
	for i := range c.Instruments {
		in := &c.Instruments[i]
		memo(&v.instruments, in.Symbol, in)
		memo(&v.dirtyInstruments, in.Symbol, true)
	}
	changes := v.changesScratch[:0]
	defer func() { v.changesScratch = changes[:0] }()
	for i := range c.Holdings {
		h := &c.Holdings[i]
		s := v.holding(h.Party, h.Symbol)
		if s.tail.indexed && !storedHolding(s.h) {
			// An earlier entry of the call left the holding empty: its
			// record is gone as of that entry, and so is its tail, as if
			// the call had ended there (balancetail.go). Calls group log
			// entries as the node found them; the state may not show how.
			// A put does no I/O (that is the commit's), so it fails only
			// on a broken invariant.
			if err := v.dropTail(s, h.Symbol, h.Party); err != nil {
				fail("write the balances of %s/%s: %v", h.Party, h.Symbol, err)
			}
		}
		before := fixed.Zero
		if s.h != nil {
			before = s.h.Balance
		}
		if !equalAmount(h.Balance, before) {
			changes = append(changes, balanceChange{Symbol: h.Symbol, Party: h.Party, Before: before, After: h.Balance})
		}
		s.h = h
		if !s.dirty {
			s.dirty = true
			v.dirtyHoldings = append(v.dirtyHoldings, keyedSlot{holdingKey{h.Party, h.Symbol}, s})
		}
	}
	if len(changes) > 0 {
		// Seqs only grow, so history stays in key order without sorting.
		n := len(v.history)
		if n == 0 || v.history[n-1].seq != seq {
			if n > 0 && v.history[n-1].seq >= seq {
				fail("history seq %d does not follow the last one", seq)
			}
			v.history = append(v.history, historyRecord{seq: seq})
			n++
		}
		r := &v.history[n-1]
		r.changes = appendPooled(&v.changePool, r.changes, changes...)
		v.noteSupplies(r, c.Instruments, oldSupplies)
	} else {
		v.noteSupplies(nil, c.Instruments, oldSupplies)
	}
	if len(c.Loans) > 0 {
		v.commitLoans(c.Loans)
	}
	if len(c.Investments) > 0 {
		v.commitInvestments(c.Investments)
	}
	for i := range c.Prices {
		p := &c.Prices[i]
		memo(&v.prices, p.Symbol, p)
		memo(&v.dirtyPrices, p.Symbol, true)
	}
	if c.Rulebook != nil {
		v.newRulebook = c.Rulebook
	}
}

// appendPooled appends xs to list. A list's first elements go to the end
// of *pool, which the call's history records share, so a record costs no
// allocation of its own; list's capacity ends there, so a later append to
// it copies rather than overwrite the next record's.
func appendPooled[T any](pool *[]T, list []T, xs ...T) []T {
	if len(list) > 0 {
		return append(list, xs...)
	}
	start := len(*pool)
	*pool = append(*pool, xs...)
	return (*pool)[start:len(*pool):len(*pool)]
}

// equalAmount is a.Equal(b), without the rescaling Equal allocates where
// the exponents differ, as a new holding's zero and its first balance do.
func equalAmount(a, b fixed.Decimal) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() && b.IsZero()
	}
	return a.Equal(b)
}

// noteSupplies records in r (nil: the commit changed no balance) the
// supplies before and after of the instruments this commit changed (their
// supplies were old before it), for the supplies index (indexWriter.changes).
func (v *txView) noteSupplies(r *historyRecord, instruments []transfer.Instrument, old []decimal.Decimal) {
	for i := range instruments {
		in := &instruments[i]
		if r == nil {
			if !old[i].Equal(in.Supply) {
				seekSupply(&v.supplySought, in.Symbol) // moved without its balances
			}
			continue
		}
		j := slices.IndexFunc(r.supplies, func(s symbolSupply) bool { return s.symbol == in.Symbol })
		if j < 0 {
			r.supplies = appendPooled(&v.supplyPool, r.supplies, symbolSupply{symbol: in.Symbol, before: old[i]})
			j = len(r.supplies) - 1
		}
		r.supplies[j].after = in.Supply // a later commit of the seq carries the later one
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
		memo(&v.dirtyLoans, party, true)
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
	// Sized to the batch: a fixed large arena made a one-instruction batch
	// spend more on zeroing it than on the instruction. A short guess only
	// costs a regrowth; sealed values keep the old array. Apply's view
	// keeps its arena from call to call (reset).
	n := len(v.dirtyParties) + len(v.dirtyInstruments) + len(v.dirtyHoldings) + len(v.dirtyPrices)
	for _, r := range v.history {
		n += len(r.changes)
	}
	if need := 160*n + len(v.dirtyLoans)*512; cap(v.arena)-len(v.arena) < need {
		v.arena = make([]byte, 0, need)
	}
	for _, id := range sortedKeys(v.dirtyParties) {
		start := len(v.arena)
		v.arena = encodeParty(v.arena, v.parties[id])
		if err := v.bParties.Put(v.keyOf(id), v.sealed(start)); err != nil {
			return err
		}
		v.written(v.partyCache(), v.key, v.sealed(start))
	}
	for _, sym := range sortedKeys(v.dirtyInstruments) {
		start := len(v.arena)
		v.arena = encodeInstrument(v.arena, v.instruments[sym])
		if err := v.bInstruments.Put(v.keyOf(sym), v.sealed(start)); err != nil {
			return err
		}
		v.written(v.instrumentCache(), v.key, v.sealed(start))
	}
	if err := v.flushHoldings(); err != nil {
		return err
	}
	if len(v.dirtyLoans) > 0 {
		v.noLoans = 0 // the bucket changes here
		if v.cache != nil {
			v.cache.noLoans = 0
		}
	}
	for _, party := range sortedKeys(v.dirtyLoans) {
		for _, l := range v.loans[party] {
			key := v.keyOf(l.Party, l.Cash, l.Lender)
			var err error
			if l.Amount.IsZero() {
				err = v.loansBucket().Delete(key)
			} else {
				start := len(v.arena)
				v.arena = encodeLoan(v.arena, &l)
				err = v.loansBucket().Put(key, v.sealed(start))
			}
			if err != nil {
				return err
			}
		}
	}
	for _, sym := range sortedKeys(v.dirtyPrices) {
		start := len(v.arena)
		v.arena = encodePrice(v.arena, v.prices[sym])
		if err := v.pricesBucket().Put(v.keyOf(sym), v.sealed(start)); err != nil {
			return err
		}
	}
	if err := v.flushInvestments(); err != nil {
		return err
	}
	if v.newRulebook != nil {
		if err := v.tx.Bucket(bucketMeta).Put(metaRulebook, v.newRulebook.YAML()); err != nil {
			return err
		}
	}
	return nil
}

// flushHoldings writes the changed holdings, and touches the holders index
// only where a holding starts or stops having a positive balance: rewriting
// an unchanged index entry would still dirty its page. They go in the order
// first changed: the layer puts its keys in order when it is written, so a
// sort here (a fortieth of a call of fifty transfers) bought nothing.
func (v *txView) flushHoldings() error {
	for _, k := range v.dirtyHoldings {
		s := k.s
		h := s.h
		var err error
		key := v.keyOf(k.party, k.symbol)
		switch {
		case storedHolding(h):
			start := len(v.arena)
			v.arena = encodeHoldingTail(v.arena, h, &s.tail)
			// A new holding goes in the filter before any layer has it,
			// so it is in the filter once the file has it. One stored
			// already is there (its first write added it, or the scan of
			// the file finds it): adding it again at every write spent
			// the filter's room on repeats, and a long-running node's
			// filters grew fourfold, again and again, with its writes
			// rather than its holdings.
			if !s.stored {
				v.holdingsInFile.addKey(key)
			}
			err = v.bHoldings.Put(key, v.sealed(start))
			v.written(v.holdingCache(), key, v.sealed(start))
			s.stored = true
		default:
			if s.stored {
				err = v.bHoldings.Delete(key)
				v.written(v.holdingCache(), key, nil)
				s.stored = false
			}
			// The record's tail goes to the index (key was the scratch's).
			if err == nil {
				err = v.dropTail(s, k.symbol, k.party)
			}
		}
		if err != nil {
			return err
		}
		if holder := h.IsHolder(); holder != s.holder {
			idx := v.keyOf(k.symbol, k.party)
			if holder {
				err = v.holdersBucket().Put(idx, present)
			} else {
				err = v.holdersBucket().Delete(idx)
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

// storedHolding reports whether the holdings bucket keeps h: a balance, a
// frozen amount or a book (sales, purchased) to remember.
func storedHolding(h *transfer.Holding) bool {
	return h != nil && (!h.Balance.IsZero() || !h.Frozen.IsZero() || len(h.Sales) > 0 || h.Purchased)
}

// dropTail writes the tail of s, a holding whose record goes, to the
// balances index, and forgets that the index holds the holding: the next
// change gets a key of its own, as one after the record's deletion does.
func (v *txView) dropTail(s *holdingSlot, symbol, party string) error {
	var err error
	v.key, v.arena, err = flushTail(v.balancesBucket(), &s.tail, symbol, party, v.key, v.arena)
	s.tail.indexed = false
	return err
}

// appendFillPercent is the bbolt fill percent of buckets whose keys only grow
// (journal, tree): a split leaves the left page full, since no key will
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
