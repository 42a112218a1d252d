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
}

// Limits on what a call hands on, so one large batch does not keep its
// memory for good, nor make every later call clear a large map.
const (
	reuseMaxEntries = 256
	reuseMaxBytes   = 4 << 20
)

// reusedMap returns m emptied, or nil when it held more than
// reuseMaxEntries: clearing a map costs the size it grew to.
func reusedMap[K comparable, V any](m map[K]V) map[K]V {
	if len(m) > reuseMaxEntries {
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

// reusedList returns l emptied of its elements, or nil when long.
func reusedList[T any](l []T) []T {
	if cap(l) > reuseMaxEntries {
		return nil
	}
	clear(l[:cap(l)]) // drop what the elements point to
	return l[:0]
}

// takeApplier returns the applier's memory.
func (r *applyReuse) takeApplier() *applier { return &r.applier }

// takeView returns Apply's view for a call over tx, as newTxView makes one,
// keeping the memory of the last call's view.
func (r *applyReuse) takeView(tx *kv.Tx, rb *eligibility.Rulebook) *txView {
	v := r.view
	r.view = nil
	if v == nil {
		return newTxView(tx, rb)
	}
	v.reset(tx, rb)
	return v
}

// reset readies v, the view of an earlier call, for a call over tx: every
// field is what newTxView sets, but the memo and write-set maps, the blocks
// of slots, party records and lots, and the buffers keep their memory.
func (v *txView) reset(tx *kv.Tx, rb *eligibility.Rulebook) {
	old := *v
	v.init(tx, rb)
	v.parties = reusedMap(old.parties)
	v.instruments = reusedMap(old.instruments)
	v.holdings = reusedMap(old.holdings)
	v.loans = reusedMap(old.loans)
	v.prices = reusedMap(old.prices)
	v.investments = reusedMap(old.investments)
	v.dirtyParties = reusedMap(old.dirtyParties)
	v.dirtyInstruments = reusedMap(old.dirtyInstruments)
	v.dirtyLoans = reusedMap(old.dirtyLoans)
	v.dirtyPrices = reusedMap(old.dirtyPrices)
	v.dirtyInvestments = reusedMap(old.dirtyInvestments)
	v.supplySought = reusedMap(old.supplySought)
	v.dirtyHoldings = reusedList(old.dirtyHoldings)
	v.history = reusedList(old.history)
	v.changesScratch = reusedList(old.changesScratch)
	v.changePool = reusedList(old.changePool)
	v.supplyPool = reusedList(old.supplyPool)
	v.published = reusedList(old.published)
	v.publishedKeys = reusedBytes(old.publishedKeys)
	v.key = reusedBytes(old.key)
	v.arena = reusedBytes(old.arena)
	// The last block of each kind starts again at its beginning; the
	// earlier ones were smaller, and go.
	v.slots = old.slots[:0]
	v.partyRecords = old.partyRecords[:0]
	v.lots.block = old.lots.block[:0]
}

// take fills a's buffers from what the last call handed on.
func (r *applyReuse) take(a *applier, items, arenaBytes int) {
	r.effects.Reset()
	a.effects = &r.effects
	a.decoded, a.outcomes, a.keys = &r.decoded, &r.outcomes, &r.keys
	a.applyBuffers, r.bufs = r.bufs, applyBuffers{}
	if a.seenIDs == nil {
		a.seenIDs = make(map[string]idRecord, items)
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
	r.bufs = a.applyBuffers.emptied()
	r.idx = a.idx.indexBuffers.emptied()
	// Nor what the applier points to, the transaction first.
	*a = applier{}
}
