package ledger

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

// callState is what every call of Apply reads first and writes last: the
// meta counters (the applied index and term, the last time, the journal's
// seq and head) and the writer of the journal's Merkle tree, with the last
// block's leaves and each tier's last chunk. Each call used to read the five
// meta keys, decode them, load the tree's last block, and at its end write
// them all back into the live layer: a tenth of a call of one instruction,
// as one client at a time sends. The store now keeps them in memory from
// call to call, and writes them into the live layer only when something is
// to read the layers (flushCallsLocked): a freeze, which hands the layer to
// the commit; a view; a strict check. So the file gets them in the same
// commit as the entries they count, as before, and every reader of the
// layers sees them current.
//
// Only Apply writes these keys while the store runs, so the state stays
// true until the state beneath it changes: Open and Restore (install) make
// it invalid, and the next call loads it from the layers and the file.
// (A Restore drops the live layer too, before it installs; a failed write
// breaks the store, which then applies nothing more.) Guarded by wmu.
type callState struct {
	valid bool
	// dirty: the live layer lacks what the state holds.
	dirty bool
	counters
	// tree is nil until a call appends an entry. Its bucket is the last
	// transaction's; each use binds the current one.
	tree *treeWriter
	// chunk is the journal's last chunk, nil until a call appends an entry.
	// Each call puts it into the live layer as it ends.
	chunk   *journalChunk
	scratch []byte
	// supplies is each symbol's last value in the supplies bucket as the
	// calls so far left it, copied out of their memory (keep), for the
	// next call's first change of the symbol (indexWriter.tails). Only
	// Apply writes that bucket, as it writes the meta keys.
	supplies map[string]*supplyTail
}

// maxSupplyTails bounds callState.supplies: more symbols than this empty it,
// and it fills again with those whose supply moves.
const maxSupplyTails = 1 << 16

// counters are the five meta keys a call reads first and writes last.
type counters struct {
	applied  uint64 // index of the last batch applied
	term     uint64 // its raft term
	lastTime time.Time
	seq      uint64                // of the last journal entry
	head     [journalHashSize]byte // hash of the last journal entry
}

// load reads the state from meta, the meta bucket of Apply's transaction.
func (c *callState) load(meta *kv.Bucket) {
	*c = callState{
		valid: true,
		counters: counters{
			applied:  getUint(meta, metaAppliedIndex),
			term:     getUint(meta, metaAppliedTerm),
			lastTime: getTime(meta),
			seq:      getUint(meta, metaJournalSeq),
			head:     getJournalHead(meta),
		},
		scratch: c.scratch,
	}
}

// take fills a call's applier from the state.
func (c *callState) take(a *applier) {
	a.counters = c.counters
	a.idx.tails = c.supplies
	a.tree, a.chunk = c.tree, c.chunk
	if a.tree != nil {
		a.tree.tree = a.tx.Bucket(bucketTree)
	}
}

// keep takes the state a call left in its applier, once the call is over.
func (c *callState) keep(a *applier) {
	c.counters = a.counters
	c.keepSupplies(a.idx.lastSupply)
	c.tree, c.chunk = a.tree, a.chunk
	if c.tree != nil {
		c.tree.tree = nil // the transaction's
	}
	c.dirty = true
}

// flushInto writes the state into tx, over the live layer, as the five
// meta keys and the tree's last block and chunks.
func (c *callState) flushInto(tx *kv.Tx) error {
	if !c.dirty {
		return nil
	}
	if c.tree != nil {
		c.tree.tree = tx.Bucket(bucketTree)
		err := c.tree.flush()
		c.tree.tree = nil
		if err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	// The layer copies what Put is given, so one scratch buffer serves all.
	c.scratch = binary.BigEndian.AppendUint64(c.scratch[:0], c.applied)
	if err := meta.Put(metaAppliedIndex, c.scratch); err != nil {
		return err
	}
	c.scratch = binary.BigEndian.AppendUint64(c.scratch[:0], c.term)
	if err := meta.Put(metaAppliedTerm, c.scratch); err != nil {
		return err
	}
	c.scratch = c.lastTime.AppendFormat(c.scratch[:0], time.RFC3339Nano)
	if err := meta.Put(metaLastTime, c.scratch); err != nil {
		return err
	}
	c.scratch = binary.BigEndian.AppendUint64(c.scratch[:0], c.seq)
	if err := meta.Put(metaJournalSeq, c.scratch); err != nil {
		return err
	}
	c.scratch = hex.AppendEncode(c.scratch[:0], c.head[:])
	if err := meta.Put(metaJournalHead, c.scratch); err != nil {
		return err
	}
	c.dirty = false
	return nil
}

// flushCallsLocked writes the state Apply's calls keep in memory into the
// live layer, for a reader of the layers or a freeze. A write that fails
// breaks the store, as a failed Apply does. Callers hold wmu.
func (s *Store) flushCallsLocked() error {
	if !s.calls.dirty {
		return nil
	}
	return s.inWriteTx(s.calls.flushInto)
}

// keepSupplies takes the supplies values a call wrote (last) into
// c.supplies. A call's values, and the symbols that name them, are in its
// arenas or the file's pages, which outlive it only until the next call,
// so each is copied: a symbol once, as the map's key (a value is updated
// through its pointer, since assigning to a map's string key stores the
// string given), a value into the memory of the symbol's last copy where it
// has room. The order of a map's range does not matter: each symbol's copy
// is its own.
func (c *callState) keepSupplies(last map[string]supplyTail) {
	if len(last) == 0 {
		return
	}
	if c.supplies == nil || len(c.supplies)+len(last) > maxSupplyTails {
		c.supplies = make(map[string]*supplyTail, len(last))
	}
	for symbol, t := range last {
		kept := c.supplies[symbol]
		if kept == nil {
			kept = new(supplyTail)
			c.supplies[strings.Clone(symbol)] = kept
		}
		kept.key = append(kept.key[:0], t.key...)
		switch {
		case t.points == nil:
			kept.points = nil // closed: the next change opens a chunk
		case cap(kept.points) < len(t.points):
			// Room for a chunk's points at once, so that the copy of a
			// symbol is made once, not each time its chunk outgrows it.
			kept.points = append(make([]byte, 0, max(2*len(t.points), supplyChunk*16)), t.points...)
		default:
			kept.points = append(kept.points[:0], t.points...)
		}
		kept.n = t.n
	}
}
