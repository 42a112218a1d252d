package ledger

import (
	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// applyReuse is the memory one call of Apply hands to the next: its view,
// with the maps and blocks the view filled, and the applier's buffers. A
// call of one instruction, as one client at a time sends, made some thirty
// allocations only to set these up, and allocating was a quarter of its
// time; now a call allocates them only when it outgrows what the last one
// left. Only Apply uses it, under the store's wmu.
//
// Nothing a call returns or keeps may point into this memory, since the
// next call overwrites it: outcomes are made afresh (EncodeOutcome, and
// lookupID's clones), a layer copies what Put is given, and the record
// caches copy what publish gives them. A call that fails hands nothing on.
type applyReuse struct {
	view *txView
	bufs applyBuffers
	idx  indexBuffers
	// effects is the memory of the instructions' effects: each call starts
	// it over (take), and its Changes stay put until then.
	effects transfer.Scratch
	// decoded and outcomes are the applier's arenas, which never write
	// what they handed out, so they may be kept whole.
	decoded  transfer.DecodeArena
	outcomes outcomeArena
	keys     keyMemo
	// applier is the memory of the call's applier, which each call sets
	// whole: allocating its 500 bytes afresh was 5% of a call of one
	// instruction.
	applier applier
	// items is the instructions of the call under way (take), and limit
	// the entries a map or list the last call could hand on (reuseLimit of
	// its instructions).
	items, limit int
}

// Limits on what a call hands on, so one large batch does not keep its
// memory for good, nor make every later call clear a large map.
const (
	reuseMaxEntries = 256
	reuseMaxBytes   = 4 << 20
	// reuseMaxEntriesLarge bounds what calls of many instructions hand on:
	// a map of 32,768 entries is one to two megabytes.
	reuseMaxEntriesLarge = 1 << 15
)

// reuseLimit is the entries a map or list may hold and still be handed on
// after a call of items instructions: reuseMaxEntries, or four entries for
// each of the call's instructions (its ids, parties, holdings, changes) up
// to reuseMaxEntriesLarge. A limit of reuseMaxEntries alone made every call of
// a thousand instructions, as a batch or a dividend's lines send, grow its
// maps and lists anew from a few entries through each doubling: 22% of the
// bytes BenchmarkApply allocated. Clearing a map costs the size it grew to,
// so what a call hands on stays in proportion to the call.
func reuseLimit(items int) int {
	return min(max(reuseMaxEntries, 4*items), reuseMaxEntriesLarge)
}

// handOnLimit is what a call of items instructions may hand on, given what
// the call before it could: nothing, where that was more than four times
// this call's (its maps, grown for calls that large, would cost each call
// that follows clearing them), and reuseLimit(items) otherwise.
func handOnLimit(before, items int) (limit, handOn int) {
	limit = reuseLimit(items)
	if before > 4*limit {
		return limit, 0
	}
	return limit, limit
}

// viewLimit is what a call of items instructions keeps of the view the call
// before it filled, which could hold before entries a map: nothing where
// that is more than four times this call's reuseLimit, so that a call of
// one instruction after a batch does not clear the batch's maps; else maps
// and lists of up to the larger of the two.
func viewLimit(before, items int) int {
	limit, handOn := handOnLimit(before, items)
	if handOn == 0 {
		return 0
	}
	return max(before, limit)
}

// reusedMap returns m emptied, or nil when it held more than limit
// entries, or limit is 0: clearing a map costs the size it grew to, and an
// empty map may have grown in an earlier call.
func reusedMap[K comparable, V any](m map[K]V, limit int) map[K]V {
	if len(m) > limit || limit == 0 {
		return nil
	}
	clear(m)
	return m
}

// reusedBytes returns b emptied, or nil when it is larger than reuseMaxBytes.
func reusedBytes(b []byte) []byte {
	if cap(b) > reuseMaxBytes {
		return nil
	}
	return b[:0]
}

// reusedList returns l emptied of its elements, or nil when it has room
// for more than limit.
func reusedList[T any](l []T, limit int) []T {
	if cap(l) > limit {
		return nil
	}
	clear(l[:cap(l)]) // drop what the elements point to
	return l[:0]
}

// takeApplier returns the applier's memory.
func (r *applyReuse) takeApplier() *applier { return &r.applier }

// takeView returns Apply's view for a call of items instructions over tx,
// as newTxView makes one, keeping the memory of the last call's view.
func (r *applyReuse) takeView(tx *kv.Tx, rb *eligibility.Rulebook, items int) *txView {
	v := r.view
	r.view = nil
	if v == nil {
		return newTxView(tx, rb)
	}
	v.reset(tx, rb, viewLimit(r.limit, items))
	return v
}

// reset readies v, the view of an earlier call, for a call over tx: every
// field is what newTxView sets, but the memo and write-set maps, the blocks
// of slots, party records and lots, and the buffers keep their memory.
//
// limit bounds the entries of the maps and lists kept (reusedMap).
func (v *txView) reset(tx *kv.Tx, rb *eligibility.Rulebook, limit int) {
	old := *v
	v.init(tx, rb)
	v.parties = reusedMap(old.parties, limit)
	v.instruments = reusedMap(old.instruments, limit)
	v.holdings = reusedMap(old.holdings, limit)
	v.loans = reusedMap(old.loans, limit)
	v.prices = reusedMap(old.prices, limit)
	v.investments = reusedMap(old.investments, limit)
	v.dirtyParties = reusedMap(old.dirtyParties, limit)
	v.dirtyInstruments = reusedMap(old.dirtyInstruments, limit)
	v.dirtyLoans = reusedMap(old.dirtyLoans, limit)
	v.dirtyPrices = reusedMap(old.dirtyPrices, limit)
	v.dirtyInvestments = reusedMap(old.dirtyInvestments, limit)
	v.supplySought = reusedMap(old.supplySought, limit)
	v.dirtyHoldings = reusedList(old.dirtyHoldings, limit)
	v.history = reusedList(old.history, limit)
	v.changesScratch = reusedList(old.changesScratch, limit)
	v.changePool = reusedList(old.changePool, limit)
	v.supplyPool = reusedList(old.supplyPool, limit)
	v.published = reusedList(old.published, limit)
	v.publishedKeys = reusedBytes(old.publishedKeys)
	v.key = reusedBytes(old.key)
	v.arena = reusedBytes(old.arena)
	// The blocks start again at their beginning, as many kept as the maps'
	// entries (blockList); of lots, the last block, which is the largest.
	v.slots, v.partyRecords = old.slots, old.partyRecords
	v.slots.reset(limit)
	v.partyRecords.reset(limit)
	v.lots.block = old.lots.block[:0]
}

// take fills a's buffers from what the last call handed on.
func (r *applyReuse) take(a *applier, items, arenaBytes int) {
	r.items = items
	r.effects.Reset()
	a.effects = &r.effects
	a.decoded, a.outcomes, a.keys = &r.decoded, &r.outcomes, &r.keys
	a.applyBuffers, r.bufs = r.bufs, applyBuffers{}
	if a.seenIDs == nil {
		a.seenIDs = make(map[string]int32, items)
	}
	if cap(a.arena) < arenaBytes {
		a.arena = make([]byte, 0, arenaBytes)
	}
	a.idx.indexBuffers, r.idx = r.idx, indexBuffers{}
}

// keep takes a's view and buffers, once its call has succeeded and
// published what it wrote, for the next call.
func (r *applyReuse) keep(a *applier) {
	r.view = a.view
	// Not the transaction, which the next call may not share, nor the
	// caches, which a restore may replace before it: the view would keep
	// them in memory.
	r.view.tx, r.view.cache = nil, nil
	r.view.bParties, r.view.bInstruments, r.view.bHoldings = nil, nil, nil
	r.view.bHolders, r.view.bLoans, r.view.bPrices = nil, nil, nil
	r.view.holdingsInFile = nil // a restore replaces it
	// The view is emptied when the next call takes it (viewLimit), which
	// knows that call's size.
	var limit int
	r.limit, limit = handOnLimit(r.limit, r.items)
	r.bufs = a.applyBuffers.emptied(limit)
	r.idx = a.idx.indexBuffers.emptied(limit)
	// Nor what the applier points to, the transaction first.
	*a = applier{}
}
