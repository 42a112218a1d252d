package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/shopspring/decimal"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tokenledger/tokenledger/internal/fixed"
	"github.com/tokenledger/tokenledger/internal/wire"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// The indexes make the reads that select by party, symbol or record date
// cost their answer instead of the journal or the history:
//
//   - journal_party and journal_symbol list, under each party and symbol, the
//     seqs of the entries that serve it (every party and symbol the entry's
//     parties and symbols list), so a filtered journal page seeks to
//     (party, after+1) and reads on;
//   - balances keeps each balance change under (symbol, party, seq), so a
//     party's balance at a record date is one seek, and the parties who
//     ever held a symbol are the keys' party parts, in party order;
//   - supplies keeps each supply change under (symbol, seq), in chunks of
//     supplyChunk changes under the seq of each chunk's first.
//
// Apply writes them beside the journal entry and the balance history, in the
// same transaction. A schema 3 file gets them on Open (buildIndexes), and
// Check verifies them against the journal and the history.

// touchedNames is what an accepted instruction's effect changed: the parties
// and symbols of every holding it wrote, sorted, once each.
type touchedNames struct {
	parties, symbols []string
}

func touchedBy(c transfer.Changes) touchedNames {
	if len(c.Holdings) == 0 {
		return touchedNames{}
	}
	return appendTouched(touchedNames{parties: make([]string, 0, len(c.Holdings)), symbols: make([]string, 0, 2)}, c)
}

// appendTouched is touchedBy appended to t's lists (Apply's reused
// buffers).
func appendTouched(t touchedNames, c transfer.Changes) touchedNames {
	for _, h := range c.Holdings {
		t.parties = append(t.parties, h.Party)
		t.symbols = append(t.symbols, h.Symbol)
	}
	t.parties, t.symbols = sortedSet(t.parties), sortedSet(t.symbols)
	return t
}

// indexWriter holds an Apply call's index buckets, the buffer the journal
// indexes are written behind (postings.go) and a scratch key.
type indexWriter struct {
	balances, supplies *kv.Bucket
	postings           *postingBuffer
	// lastSupply is each symbol's last supplies value as this writer has
	// read or written it (supplyChange).
	lastSupply   map[string]supplyTail
	supplyCursor *kv.Cursor
	// tails is each symbol's last supplies value as the calls of Apply
	// before this one left it (callState.supplies), nil outside Apply;
	// read only. A symbol's first supply change in a call found its last
	// value with a seek of the bucket through every layer, some 180 seeks
	// a batch of BenchmarkApply's mix.
	tails map[string]*supplyTail
	indexBuffers
}

// indexBuffers is an indexWriter's working memory, handed from call to
// call as applyBuffers is.
type indexBuffers struct {
	key    []byte
	deltas []symbolDelta // changes' scratch, kept between entries
}

func (b *indexBuffers) emptied(limit int) indexBuffers {
	return indexBuffers{key: reusedBytes(b.key), deltas: reusedList(b.deltas, limit)}
}

func (w *indexWriter) open(tx *kv.Tx) {
	if w.balances != nil {
		return
	}
	w.balances, w.supplies = tx.Bucket(bucketBalances), tx.Bucket(bucketSupplies)
	// Each symbol's supplies and each party's entries only grow at the end
	// of their key range; the ranges themselves interleave, so only the
	// supplies of the few symbols are worth packing.
	w.supplies.SetAppendOnly()
}

// index writes the index entries of the journal entry a.seq, whose record
// is rec and whose instruction names named and namedSymbols: the record's
// extra parties and symbols complete them. Its balance changes are the
// history's record for the seq, if commit wrote one.
func (a *applier) index(named, namedSymbols []string, rec *journalRecord) error {
	w := &a.idx
	w.open(a.tx)
	if err := w.entry(a.seq, named, rec.extra, namedSymbols, rec.extraSymbols); err != nil {
		return err
	}
	h := a.view.history
	if n := len(h); n == 0 || h[n-1].seq != a.seq {
		return nil
	}
	var err error
	a.arena, err = w.changes(a.arena, a.seq, &h[len(h)-1], &a.view.supplySought, a.view)
	return err
}

// entry indexes journal entry seq under each of the lists' parties and
// symbols. The lists are each sorted and disjoint from the other of their
// kind (names, extraParties), so each name is posted once.
func (w *indexWriter) entry(seq uint64, named, extra, namedSymbols, extraSymbols []string) error {
	for _, list := range [][]string{named, extra} {
		for _, p := range list {
			w.postings.add(postingParty, p, seq)
		}
	}
	for _, list := range [][]string{namedSymbols, extraSymbols} {
		for _, s := range list {
			w.postings.add(postingSymbol, s, seq)
		}
	}
	return nil
}

// changes indexes the balance changes of entry seq (r) and the supplies
// they change, encoding the values into arena (bbolt keeps values until the
// commit), and returns the arena. sought is the symbols whose supplies it
// seeks for the rest of the view (knownSupply). A change of a holding the
// index knows goes to the holding's tail in v, whose flush writes it with
// the record (balancetail.go); without v (a migration), every change gets
// its key.
func (w *indexWriter) changes(arena []byte, seq uint64, r *historyRecord, sought *map[string]bool, v *txView) ([]byte, error) {
	deltas := w.deltas[:0] // per symbol: the sum of after - before
	defer func() { w.deltas = deltas[:0] }()
	for i := range r.changes {
		c := &r.changes[i]
		var err error
		if arena, err = w.balanceChange(arena, seq, c, v); err != nil {
			return arena, err
		}
		j := 0
		for j < len(deltas) && deltas[j].symbol != c.Symbol {
			j++
		}
		if j == len(deltas) {
			deltas = append(deltas, symbolDelta{symbol: c.Symbol})
		}
		deltas[j].sum.addFixed(c.After, false)
		deltas[j].sum.addFixed(c.Before, true)
	}
	for i := range deltas {
		d := &deltas[i]
		if d.sum.isZero() {
			continue // a transfer moves balances, not the supply
		}
		delta := d.sum.value()
		supply, ok := knownSupply(r, d.symbol, delta, *sought)
		if !ok {
			seekSupply(sought, d.symbol)
			supply = supplyAt(w.supplies.Cursor(), d.symbol, seq).Add(delta)
		}
		var err error
		if arena, err = w.supplyChange(arena, d.symbol, seq, supply); err != nil {
			return arena, err
		}
	}
	for _, sup := range r.supplies {
		if !sup.before.Equal(sup.after) && !slices.ContainsFunc(deltas, func(d symbolDelta) bool { return d.symbol == sup.symbol && !d.sum.isZero() }) {
			seekSupply(sought, sup.symbol) // moved without its balances
		}
	}
	return arena, nil
}

// balanceChange indexes change c of entry seq: in its holding's tail when
// the index knows the holding, else under a key of its own.
func (w *indexWriter) balanceChange(arena []byte, seq uint64, c *balanceChange, v *txView) ([]byte, error) {
	var s *holdingSlot
	if v != nil {
		s = v.slotOf(c.Party, c.Symbol) // commit loaded it
	}
	if s != nil && s.tail.indexed {
		t := &s.tail
		// The tail may be the stored record's bytes: it grows by a copy.
		start := len(arena)
		arena = appendBalancePoint(append(arena, t.raw...), seq, c.After)
		t.raw, t.n = arena[start:len(arena):len(arena)], t.n+1
		if t.n < balanceChunk {
			return arena, nil
		}
		var err error
		w.key, arena, err = flushTail(w.balances, t, c.Symbol, c.Party, w.key, arena)
		return arena, err
	}
	// The layer copies keys, so the scratch key serves every Put.
	w.key = append(append(append(append(w.key[:0], c.Symbol...), 0), c.Party...), 0)
	w.key = binary.BigEndian.AppendUint64(w.key, seq)
	start := len(arena)
	arena = encodeFixedBalance(arena, c.After)
	if s != nil {
		s.tail.indexed = true
	}
	return arena, w.balances.Put(w.key, arena[start:len(arena):len(arena)])
}

// Supplies in chunks (schema 10). A key a supply change cost the file some
// 40–75 bytes a change, for a point of about 8: a mint's new key amid its
// symbol's, on a page half filled. So a symbol's changes go supplyChunk at
// a time into one value, a balance chunk (tagBalanceChunk) under the seq
// of its first, which each change rewrites until it is full; the next
// change opens the next. Where a chunk ends is a function of the changes
// alone, every node laying them out in the same bytes. The supply at a seq
// is still one seek: the last key at or before it, then the last point at
// or before it in its value (balanceValueAt), as for the balances. A file
// of schema 9 or before keeps its values of one change each; a symbol's
// next change after them opens a chunk.
const supplyChunk = 16

// supplyTail is a symbol's last supplies value: its key and, when it is a
// chunk with room, its points.
type supplyTail struct {
	key    []byte
	points []byte // n points; nil: the next change opens a chunk
	n      int
}

// supplyChange indexes symbol's supply after entry seq.
func (w *indexWriter) supplyChange(arena []byte, symbol string, seq uint64, supply decimal.Decimal) ([]byte, error) {
	t, ok := w.lastSupply[symbol]
	if !ok {
		if w.lastSupply == nil {
			w.lastSupply = map[string]supplyTail{}
		}
		if kept := w.tails[symbol]; kept != nil {
			t = *kept // read only: the next keep copies what the call makes of it
		} else {
			if w.supplyCursor == nil {
				w.supplyCursor = w.supplies.Cursor()
			}
			w.key = binary.BigEndian.AppendUint64(append(append(w.key[:0], symbol...), 0), math.MaxUint64)
			t = lastSupplyValue(w.supplyCursor, w.key, len(symbol))
		}
	}
	if t.points == nil || t.n >= supplyChunk {
		t = supplyTail{key: binary.BigEndian.AppendUint64(append([]byte(symbol), 0), seq)}
	}
	// The points so far are in the arena (or the file): the value copies
	// them, then the new one.
	start := len(arena)
	arena = append(binary.AppendUvarint(append(arena, tagBalanceChunk), uint64(t.n+1)), t.points...)
	pointAt := len(arena)
	pw := wire.Writer{B: binary.AppendUvarint(arena, seq)}
	pw.Decimal(supply)
	arena = pw.B
	val := arena[start:len(arena):len(arena)]
	t.points, t.n = val[pointAt-start-len(t.points):], t.n+1
	w.lastSupply[symbol] = t
	return arena, w.supplies.Put(t.key, val)
}

// lastSupplyValue is the last supplies value of the symbol of probe
// (symbol 0 and the largest seq; the symbol is symLen bytes): one seek.
// Its key and points are the transaction's, valid while it is.
func lastSupplyValue(c *kv.Cursor, probe []byte, symLen int) supplyTail {
	k, v := c.Seek(probe)
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k == nil || len(k) != symLen+9 || !bytes.Equal(k[:symLen+1], probe[:symLen+1]) {
		return supplyTail{}
	}
	t := supplyTail{key: k}
	if len(v) == 0 || v[0] != tagBalanceChunk {
		return t // a value of one change (schema 9 or before): closed
	}
	r := newRecordReader(v, tagBalanceChunk, "supplies chunk")
	n := r.Uvarint()
	if n == 0 || n > uint64(r.Len()) {
		r.fail("points")
	}
	t.n, t.points = int(n), r.Rest()
	return t
}

// symbolDelta is the sum of an entry's balance changes of one symbol.
type symbolDelta struct {
	symbol string
	sum    decSum
}

// seekSupply adds symbol to sought (knownSupply).
func seekSupply(sought *map[string]bool, symbol string) {
	if *sought == nil {
		*sought = map[string]bool{}
	}
	(*sought)[symbol] = true
}

// knownSupply is symbol's supply after entry r, which changed its balances
// by delta, if r's instrument certainly gives the supplies index's: where
// the instrument's supply moved by exactly delta, and did so at every
// earlier entry of the view (sought). The view starts where instrument
// supplies, balances and the index agree (Check holds them to it); an entry
// that moves balances but not the instrument by as much (a corporate
// action's step journals the two apart) leaves them apart for a while, so
// the symbol is sought for the rest of the view.
func knownSupply(r *historyRecord, symbol string, delta decimal.Decimal, sought map[string]bool) (decimal.Decimal, bool) {
	if sought[symbol] {
		return decimal.Decimal{}, false
	}
	for _, s := range r.supplies {
		if s.symbol == symbol {
			return s.after, s.before.Add(delta).Equal(s.after)
		}
	}
	return decimal.Decimal{}, false
}

// balanceAt is the value of the last key prefix‖seq' with seq' <= seq in the
// cursor's bucket (balances or supplies), zero without one: one seek.
func balanceAt(c *kv.Cursor, prefix []byte, seq uint64) decimal.Decimal {
	d, _ := balanceBefore(c, prefix, seq)
	return d
}

// balanceBefore is balanceAt, and whether the range of prefix has a key
// past seq as well.
func balanceBefore(c *kv.Cursor, prefix []byte, seq uint64) (_ decimal.Decimal, later bool) {
	probe := binary.BigEndian.AppendUint64(bytes.Clone(prefix), seq+1)
	inRange := func(k []byte) bool { return len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix) }
	k, v := c.Seek(probe)
	if k == nil {
		k, v = c.Last()
	} else {
		later = inRange(k)
		k, v = c.Prev()
	}
	if k == nil || !inRange(k) {
		return decimal.Zero, later
	}
	return balanceValueAt(v, seq), later
}

// supplyAt is symbol's supply just after entry seq.
func supplyAt(c *kv.Cursor, symbol string, seq uint64) decimal.Decimal {
	return balanceAt(c, append([]byte(symbol), 0), seq)
}

// partyBalanceAt is party's balance of symbol just after entry seq, from
// the index (c) or else its holding's tail, which tail reads: only when the
// index has no key of the holding past seq, since a tail starts past every
// key.
func partyBalanceAt(c *kv.Cursor, tail func() balanceTail, symbol, party string, seq uint64) decimal.Decimal {
	d, later := balanceBefore(c, append(join(symbol, party), 0), seq)
	if later {
		return d
	}
	if t := tail(); t.n > 0 {
		if td, ok := pointAt(t.raw, t.n, seq, "holding"); ok {
			return td
		}
	}
	return d
}

// Balance record: tag, decimal.
func encodeBalance(dst []byte, d decimal.Decimal) []byte {
	w := newRecordWriter(dst, tagBalance)
	w.Decimal(d)
	return w.B
}

// encodeFixedBalance is encodeBalance of d.Decimal(), without building it.
func encodeFixedBalance(dst []byte, d fixed.Decimal) []byte {
	w := newRecordWriter(dst, tagBalance)
	w.Fixed(d)
	return w.B
}

func decodeBalance(val []byte) decimal.Decimal {
	r := newRecordReader(val, tagBalance, "balance")
	d := r.Decimal()
	r.done()
	return d
}

// indexBatch bounds the journal entries one index-building transaction reads.
const indexBatch = 10_000

// buildIndexes brings a schema 3 file to schema 5 (postingsOnly false), or
// a schema 4 file, whose journal indexes kept a key per posting, to schema 5
// (postingsOnly true: the balance and supply indexes stay); migrateTree then
// brings either to schema 6. It indexes the
// journal (and the balance history) in transactions of indexBatch entries
// each, the meta key index_seq recording the last seq done, so an Open cut
// short resumes there; the last transaction records the schema and drops
// the key. Until then the file keeps its old schema, which this build does
// not serve.
func buildIndexes(db *bolt.DB, postingsOnly bool) error {
	for done := false; !done; {
		if err := db.Update(func(tx *bolt.Tx) (err error) {
			done, err = buildIndexesStep(tx, indexBatch, postingsOnly)
			return err
		}); err != nil {
			return fmt.Errorf("index the journal for schema %s: %w", schemaPackedPostings, err)
		}
	}
	return updateKV(db, func(tx *kv.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := meta.Delete(metaIndexSeq); err != nil {
			return err
		}
		return meta.Put(metaSchema, []byte(schemaPackedPostings))
	})
}

// buildIndexesStep indexes the next limit journal entries (and, unless
// postingsOnly, their balance changes), and reports whether the journal is
// done. The first step of a postings rebuild drops the old journal indexes.
func buildIndexesStep(btx *bolt.Tx, limit uint64, postingsOnly bool) (bool, error) {
	if postingsOnly && btx.Bucket(bucketMeta).Get(metaIndexSeq) == nil {
		for _, name := range [][]byte{bucketJournalParty, bucketJournalSymbol} {
			if err := btx.DeleteBucket(name); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return false, err
			}
		}
	}
	for _, name := range [][]byte{bucketJournalParty, bucketJournalSymbol, bucketBalances, bucketSupplies} {
		if _, err := btx.CreateBucketIfNotExists(name); err != nil {
			return false, err
		}
	}
	tx := kv.Wrap(btx)
	meta := tx.Bucket(bucketMeta)
	from, last := getUint(meta, metaIndexSeq), getUint(meta, metaJournalSeq)
	to := min(from+limit, last)
	var w indexWriter
	w.open(tx)
	w.postings = &postingBuffer{}
	jc := newJournalCursor(tx.Bucket(bucketJournal))
	for seq, v := jc.seek(from + 1); v != nil && seq <= to; seq, v = jc.next() {
		rec, _ := decodeJournalRecord(v)
		parties, symbols := rec.names()
		if err := w.entry(seq, parties, nil, symbols, nil); err != nil {
			return false, err
		}
	}
	if !postingsOnly {
		h := tx.Bucket(bucketHistory).Cursor()
		for k, v := h.Seek(seqKey(from + 1)); k != nil && binary.BigEndian.Uint64(k) <= to; k, v = h.Next() {
			// No supplies: the migration seeks each symbol's last one.
			r := historyRecord{seq: binary.BigEndian.Uint64(k), changes: decodeHistory(v)}
			var sought map[string]bool
			if _, err := w.changes(nil, r.seq, &r, &sought, nil); err != nil {
				return false, err
			}
		}
	}
	if err := w.postings.flush(tx); err != nil {
		return false, err
	}
	if err := putUint(meta, metaIndexSeq, to); err != nil {
		return false, err
	}
	return to == last, nil
}

// checkIndexes checks the indexes against what they derive from: each
// journal entry is listed under exactly the parties and symbols it serves;
// each balance change is a change, at an entry that serves the party; the
// supplies change at exactly the entries where the balances of their symbol
// sum to a change, by that sum (checkSupplyDeltas); and the last balance of
// each holding and the last supply of each instrument are those of today.
func checkIndexes(tx *kv.Tx, bad func(string, ...any)) {
	party, symbol := tx.Bucket(bucketJournalParty), tx.Bucket(bucketJournalSymbol)
	var wantParty, wantSymbol int
	var partyPostings, symbolPostings postingSet
	// The pairs are sized once rather than grown by copies, each a fresh
	// stretch of memory to fault in: for 2.25 parties and a symbol an
	// entry, where BenchmarkStateAtScale's journal names 2.06 and 0.83. A
	// journal that names more grows them as before.
	entries := getUint(tx.Bucket(bucketMeta), metaJournalSeq)
	partyPostings.pairs = make([]uint64, 0, entries*9/4)
	symbolPostings.pairs = make([]uint64, 0, entries)
	jc := newJournalCursor(tx.Bucket(bucketJournal))
	for seq, v := jc.first(); v != nil; seq, v = jc.next() {
		rec, _ := decodeJournalRecord(v)
		parties, symbols := rec.names()
		for _, p := range parties {
			partyPostings.add(p, seq)
		}
		for _, s := range symbols {
			symbolPostings.add(s, seq)
		}
		wantParty, wantSymbol = wantParty+len(parties), wantSymbol+len(symbols)
	}
	if n := checkPostings(party, "journal_party", bad, &partyPostings); n != wantParty {
		bad("index journal_party holds %d entries, the journal gives %d", n, wantParty)
	}
	if n := checkPostings(symbol, "journal_symbol", bad, &symbolPostings); n != wantSymbol {
		bad("index journal_symbol holds %d entries, the journal gives %d", n, wantSymbol)
	}
	// Two walks of the balances, as the postings (which the first needs)
	// and today's balances (the second) are each a large set: not both in
	// memory at once. The first takes the tails' points from a set of
	// their own; the second needs only where they end, today's balance.
	checkSupplyDeltas(tx, &partyPostings, scanTails(tx).of, bad)
	last := newLastBalances(tx, bad)
	quiet := func(string, ...any) {} // the first walk reported the layout
	tailed := walkBalancePoints(tx, quiet, last.tailOf, func(_ []byte, _ uint64, r *wire.Reader) { r.DecimalParts() }, last.end)
	checkIndexedHoldings(last.indexed, tailed, bad)
	last.finish(tx)
}

// checkSupplyDeltas checks the balances and supplies indexes against each
// other. Each balance key must record a change from the one before it (zero
// before the first), at an entry that serves the party (partyPostings,
// which checkPostings sorted). For every symbol and entry, the changes of
// all its parties' balances at that entry must sum to the change of its
// supply there, and a supply key must record a change.
//
// The balances are in party order within a symbol and the supplies in seq
// order, so rather than hold every symbol's changes by seq, each side is
// folded into one fingerprint per symbol, Σ change × w(seq) modulo the
// prime p of modp.go, with w a pseudo-random weight seeded by the
// journal's head hash: if some entry's sums differ, the fingerprints are
// equal only if the difference vanishes modulo p or the weights happen to
// solve a linear equation modulo p, each a chance of about 2^-61
// (Schwartz–Zippel). The
// seed comes from the state, not from a random source, so Check (which
// Apply runs under StrictChecks) answers the same on every node and every
// run; the head is a hash over every entry, which no damage to the indexes
// can choose. The walk is sequential, in constant memory per symbol.
func checkSupplyDeltas(tx *kv.Tx, partyPostings *postingSet, tailOf func(group []byte) balanceTail, bad func(string, ...any)) {
	journalHead := getJournalHead(tx.Bucket(bucketMeta))
	seed := binary.BigEndian.Uint64(journalHead[:8])
	// The fingerprints are taken modulo p (modp.go): amounts are read from
	// their bytes, and a symbol's running sum is kept beside the walk.
	fromBalances, fromSupplies := map[string]uint64{}, map[string]uint64{}
	head := getUint(tx.Bucket(bucketMeta), metaJournalSeq)
	var group []byte  // symbol 0 party 0 of the points seen
	var symbol []byte // the symbol of the keys seen (when inSymbol), and their sum below
	var inSymbol bool
	var sum uint64
	var parts []string
	var prev uint64
	var posted []uint64 // the party's sorted postings not yet passed, packed with its id
	endSymbol := func(into map[string]uint64) {
		if inSymbol {
			into[string(symbol)] = addModP(into[string(symbol)], sum)
		}
	}
	walkBalancePoints(tx, bad, tailOf, func(g []byte, seq uint64, r *wire.Reader) {
		if !bytes.Equal(g, group) {
			group = append(group[:0], g...)
			parts = splitKey(g[:len(g)-1], 2, "balances")
			prev = 0
			posted = partyPostings.of(parts[1])
			if !inSymbol || string(symbol) != parts[0] {
				endSymbol(fromBalances)
				symbol, sum, inSymbol = append(symbol[:0], parts[0]...), 0, true
			}
		}
		after, _ := readDecimalModP(r)
		change := subModP(after, prev)
		prev = after
		switch {
		case seq == 0 || seq > head:
			bad("balances of %s for %s at entry %d, beyond the journal's %d", parts[0], parts[1], seq, head)
		case change == 0:
			bad("balances of %s for %s at entry %d records no change", parts[0], parts[1], seq)
		}
		for len(posted) > 0 && posted[0]&postingSeqMask < seq {
			posted = posted[1:]
		}
		if len(posted) == 0 || posted[0]&postingSeqMask != seq {
			bad("balances of %s for %s changes at entry %d, which does not serve the party", parts[0], parts[1], seq)
		}
		sum = addModP(sum, mulModP(change, checkWeightModP(seed, seq)))
	}, func(_, _ []byte) {})
	endSymbol(fromBalances)
	inSymbol = false
	var lastSeq uint64   // the symbol's last point's
	var openChunk []byte // the key of the symbol's chunk before, if it had room
	point := func(seq uint64, after uint64) {
		change := subModP(after, prev)
		prev = after
		if change == 0 || seq <= lastSeq || seq > head {
			bad("supplies of %s at entry %d records no change, follows entry %d or is beyond the journal's %d", symbol, seq, lastSeq, head)
		}
		lastSeq = seq
		sum = addModP(sum, mulModP(change, checkWeightModP(seed, seq)))
	}
	_ = tx.Bucket(bucketSupplies).ForEach(func(k, v []byte) error {
		if len(k) < 10 || k[len(k)-9] != 0 {
			bad("supplies key %q is not symbol, seq", k)
			return nil
		}
		seq := binary.BigEndian.Uint64(k[len(k)-8:])
		if sym := k[:len(k)-9]; !inSymbol || !bytes.Equal(sym, symbol) {
			endSymbol(fromSupplies)
			symbol, sum, inSymbol = append(symbol[:0], sym...), 0, true
			prev, lastSeq, openChunk = 0, 0, nil
		}
		// Where a chunk ends is its points' alone (supplyChunk): only a
		// symbol's last chunk has room.
		if openChunk != nil {
			bad("supplies chunk %q ends before it is full", openChunk)
			openChunk = nil
		}
		if len(v) == 0 || v[0] != tagBalanceChunk {
			after, _ := balanceModP(v)
			point(seq, after)
			return nil
		}
		r := wire.NewReader(v[1:])
		n := chunkPoints(&r, "supplies", k, seq, supplyChunk, bad, func(s uint64, r *wire.Reader) {
			after, _ := readDecimalModP(r)
			point(s, after)
		})
		if n == 0 {
			return nil
		}
		if r.Err() != nil || r.Len() != 0 {
			bad("supplies value of %q does not decode", k)
		}
		if n < supplyChunk {
			openChunk = bytes.Clone(k)
		}
		return nil
	})
	endSymbol(fromSupplies)
	for _, sym := range sortedKeys(mapKeys(fromBalances, fromSupplies)) {
		if fromBalances[sym] != fromSupplies[sym] {
			bad("supplies of %s do not change where and by what its balances sum to", sym)
		}
	}
}

// mapKeys is the set of the keys of a and b.
func mapKeys[V any](a, b map[string]V) map[string]bool {
	keys := make(map[string]bool, len(a)+len(b))
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// checkWeightModP is entry seq's weight in checkSupplyDeltas' fingerprints:
// splitmix64 of the seed and seq, taken modulo p and never 0, so that no
// entry drops out of the sums.
func checkWeightModP(seed, seq uint64) uint64 {
	z := seed + seq*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	if w := reduceModP(z >> 3); w != 0 {
		return w
	}
	return 1
}

// lastBalances checks that the balance index ends, for each holding and
// instrument, at today's balance and supply: end takes each holding's last
// point from the walk, finish the rest.
type lastBalances struct {
	// today is the balance of each holding, by (symbol, party) as the
	// balances are keyed, so the walk need not look each up at random. Each
	// is held as its image modulo p (modp.go), read from the record's bytes.
	// Images modulo p take 61 bits; the top three of a value say what
	// else the walk needs of the holding (the bits below).
	today    *hashedKeys
	positive int // holdings whose points end above zero
	indexed  int // holdings whose record says the balances index holds them
	bad      func(string, ...any)
}

const (
	indexedBit  = 1 << 63 // the record says the balances index holds the holding
	tailBit     = 1 << 62 // the record has a tail, which ends at its balance (checked)
	positiveBit = 1 << 61 // the balance is above zero
	imageBits   = positiveBit - 1
)

func newLastBalances(tx *kv.Tx, bad func(string, ...any)) *lastBalances {
	l := &lastBalances{today: newHashedKeys(), bad: bad}
	var key []byte
	_ = tx.Bucket(bucketHoldings).ForEach(func(k, v []byte) error {
		party, symbol := holdingKeyParts(k)
		key = append(append(append(key[:0], symbol...), 0), party...)
		balance, sign := holdingBalanceModP(v)
		val := balance
		if sign > 0 {
			val |= positiveBit
		}
		t := holdingTail(v)
		if t.indexed {
			val |= indexedBit
			l.indexed++
		}
		if t.n > 0 {
			// The tail's last point is the balance; the first walk
			// checked the points before it.
			val |= tailBit
			r := wire.NewReader(t.raw)
			var last uint64
			var at []byte
			for range t.n {
				r.Uvarint()
				at = r.Rest()
				last, _ = readDecimalModP(&r)
			}
			if last != balance {
				d := wire.NewReader(at)
				bad("balances ends at %s %s for %s, not at the holding's balance", d.Decimal(), symbol, party)
			}
		}
		l.today.add(key, val)
		return nil
	})
	l.today.seal()
	return l
}

// tailOf is, for the second walk, whether the record of the holding of
// group (symbol 0 party 0) says the index holds it: its points the first
// walk took, and where they end, today's balance, the scan.
func (l *lastBalances) tailOf(group []byte) balanceTail {
	v, _ := l.today.find(group[:len(group)-1])
	return balanceTail{indexed: v&indexedBit != 0}
}

// heldTails is the tails of the holdings that have one, from one scan of
// the holdings, copied into bytes: set's value is the copy's offset << 8 |
// its points. Most holdings have none or a short one (10 bytes an
// investor of BenchmarkStateAtScale's register). A look-up of each holding
// as its group of the walk ends, at random, took a restore's check at
// 1,000,000 investors from 18.7 to 26.4 s.
type heldTails struct {
	set   *hashedKeys
	bytes []byte
}

func scanTails(tx *kv.Tx) *heldTails {
	t := &heldTails{set: newHashedKeys()}
	var key []byte
	_ = tx.Bucket(bucketHoldings).ForEach(func(k, v []byte) error {
		tail := holdingTail(v)
		if tail.n == 0 {
			return nil
		}
		party, symbol := holdingKeyParts(k)
		key = append(append(append(key[:0], symbol...), 0), party...)
		t.set.add(key, uint64(len(t.bytes))<<8|uint64(tail.n))
		t.bytes = binary.AppendUvarint(t.bytes, uint64(len(tail.raw)))
		t.bytes = append(t.bytes, tail.raw...)
		return nil
	})
	t.set.seal()
	return t
}

// of is the tail of the holding of group (symbol 0 party 0), with its
// points; indexed when it has some.
func (t *heldTails) of(group []byte) balanceTail {
	v, ok := t.set.find(group[:len(group)-1])
	if !ok {
		return balanceTail{}
	}
	size, w := binary.Uvarint(t.bytes[v>>8:])
	from := int(v>>8) + w
	return balanceTail{indexed: true, n: int(v & 0xff), raw: t.bytes[from : from+int(size)]}
}

// end checks the holding group (symbol 0 party 0) whose last point's
// balance is last.
func (l *lastBalances) end(group, last []byte) {
	want, _ := l.today.find(group[:len(group)-1]) // no holding: zero, whose image is 0
	if want&tailBit != 0 {
		// The holding's points end in its tail, at its balance.
		if want&positiveBit != 0 {
			l.positive++
		}
		return
	}
	r := wire.NewReader(last)
	got, sign := readDecimalModP(&r)
	if got != want&imageBits {
		parts := splitKey(group[:len(group)-1], 2, "balances")
		r = wire.NewReader(last)
		l.bad("balances ends at %s %s for %s, not at the holding's balance", r.Decimal(), parts[0], parts[1])
	}
	if sign > 0 {
		l.positive++
	}
}

func (l *lastBalances) finish(tx *kv.Tx) {
	bad := l.bad
	// Every group that ends above zero ends at its holding's balance, and
	// the holders index is exactly the holdings above zero (check.go): as
	// many of each means no positive holding lacks its balances.
	holders := 0
	_ = tx.Bucket(bucketHolders).ForEach(func(_, _ []byte) error { holders++; return nil })
	if l.positive != holders {
		bad("balances ends above zero for %d holdings, %d have a positive balance", l.positive, holders)
	}
	head := getUint(tx.Bucket(bucketMeta), metaJournalSeq)
	supplies := tx.Bucket(bucketSupplies).Cursor()
	escrow := corpEscrow(tx)
	_ = tx.Bucket(bucketInstruments).ForEach(func(k, v []byte) error {
		in := decodeInstrument(k, v)
		// The index sums balances; cash a corporate action holds in escrow
		// is in the supply and in no balance.
		want := in.Supply
		if e, ok := escrow[in.Symbol]; ok {
			want = want.Sub(e)
		}
		if got := supplyAt(supplies, in.Symbol, head); !got.Equal(want) {
			bad("supplies ends at %s for %s, its supply is %s", got, in.Symbol, in.Supply)
		}
		return nil
	})
}
