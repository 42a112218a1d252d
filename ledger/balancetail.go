package ledger

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/internal/fixed"
	"github.com/tokenledger/tokenledger/internal/wire"
	"github.com/tokenledger/tokenledger/ledger/kv"
)

// A holding's recent balance history rides in its own record (schema 8).
//
// The balances index answers "what did party hold of symbol just after
// entry seq" (record dates, past cap tables, statements). Keyed by
// (symbol, party, seq), one key a change, it cost every commit a key at a
// random place in its tree for each balance a transfer moved: a third of
// the keys an instruction wrote, each a leaf page rewritten. But every
// such change also rewrites the holding's own record. So the record keeps
// the changes since the index last took them, its tail, and the index
// takes them balanceChunk at a time, under one key, when the tail fills
// or the record goes:
//
//   - the first change of a holding the index does not yet know gets a key
//     of its own, as before, so the parties who ever held a symbol are still
//     the index's keys (past cap tables and distributions walk them);
//   - the record then says so (optional field 13, present even with an
//     empty tail), and every later change goes to its tail;
//   - a full tail becomes one chunk key, (symbol, party, first seq);
//   - a record deleted with a tail (its holding emptied) writes the tail as
//     a chunk first.
//
// So a party's balance at seq is in its tail, when the tail starts at or
// before seq, and otherwise in the index's last key at or before seq; when
// the index has a key past seq, the tail (past every key) cannot hold it.

const (
	// optHoldingRecent is the holding record's optional field of its tail:
	// uvarint n+1, then n balance points (balancePoint). Present: the
	// balances index holds a key of the holding.
	optHoldingRecent uint64 = 13
	// tagBalanceChunk is a balances value of several points: uvarint n, then
	// n balance points, the first at the key's seq.
	tagBalanceChunk byte = 'C'
	// balanceChunk is the points a tail holds before the index takes them.
	// Eight keeps a record's tail to some 40–80 bytes and cuts the keys the
	// changes cost eightfold.
	balanceChunk = 8
)

// balanceTail is a holding's tail as a view holds it: raw is n balance
// points, each a uvarint seq and a decimal balance, seqs ascending and past
// every key the index holds for the holding.
type balanceTail struct {
	indexed bool // the balances index holds a key of the holding
	n       int
	raw     []byte
}

// appendBalancePoint appends the point (seq, balance) to dst.
func appendBalancePoint(dst []byte, seq uint64, balance fixed.Decimal) []byte {
	w := wire.Writer{B: binary.AppendUvarint(dst, seq)}
	w.Fixed(balance)
	return w.B
}

// read reads the field's value (after its number) from r.
func (t *balanceTail) read(r *recordReader) {
	m := r.Uvarint()
	if m == 0 || m-1 > uint64(r.Len()) {
		r.fail("recent balances")
	}
	t.indexed, t.n = true, int(m-1)
	t.raw = skipBalancePoints(&r.Reader, t.n)
	if r.Err() != nil {
		r.fail("recent balances")
	}
}

// write appends the field to w, if the holding has one.
func (t *balanceTail) write(w *recordWriter) {
	if !t.indexed {
		return
	}
	w.Opt(optHoldingRecent)
	w.Uvarint(uint64(t.n) + 1)
	w.B = append(w.B, t.raw...)
}

// skipBalancePoints reads n points from r and returns their bytes.
func skipBalancePoints(r *wire.Reader, n int) []byte {
	start := r.Rest()
	r.SkipUvarintDecimals(n)
	return start[:len(start)-r.Len()]
}

// firstPointSeq is the seq of the first of the points raw holds.
func firstPointSeq(raw []byte) uint64 {
	seq, _ := binary.Uvarint(raw)
	return seq
}

// pointAt is the balance of the last of raw's n points at or before seq,
// and false when the first is past it.
func pointAt(raw []byte, n int, seq uint64, what string) (decimal.Decimal, bool) {
	r := recordReader{Reader: wire.NewReader(raw), what: what}
	var last []byte
	for range n {
		if r.Uvarint() > seq {
			break
		}
		last = r.Rest()
		r.DecimalParts()
	}
	if r.Err() != nil {
		r.fail("balance points")
	}
	if last == nil {
		return decimal.Decimal{}, false
	}
	lr := wire.NewReader(last)
	return lr.Decimal(), true
}

// encodeBalanceChunk is the balances value of the tail's points.
func encodeBalanceChunk(dst []byte, t *balanceTail) []byte {
	w := newRecordWriter(dst, tagBalanceChunk)
	w.Uvarint(uint64(t.n))
	w.B = append(w.B, t.raw...)
	return w.B
}

// balanceValueAt is the balance a balances value records at seq, at or past
// its key's: a single balance, or a chunk's last point at or before seq.
func balanceValueAt(val []byte, seq uint64) decimal.Decimal {
	if len(val) > 0 && val[0] == tagBalanceChunk {
		r := newRecordReader(val, tagBalanceChunk, "balance chunk")
		n := r.Uvarint()
		if n == 0 || n > uint64(r.Len()) {
			r.fail("points")
		}
		if d, ok := pointAt(r.Rest(), int(n), seq, "balance chunk"); ok {
			return d
		}
		fail("stored balance chunk: starts past entry %d", seq)
	}
	return decodeBalance(val)
}

// holdingTail is the tail of a stored holding record (nil: none). It skips
// the rest of the record as decodeHoldingInto reads it, making nothing:
// Check and a restore's check read the tail of every holding, and
// decoding each whole was a third of their walk of the balances at
// 1,000,000 investors.
func holdingTail(val []byte) balanceTail {
	var t balanceTail
	if val == nil {
		return t
	}
	r := newRecordReader(val, tagHolding, "holding")
	r.DecimalParts() // balance
	r.DecimalParts() // frozen
	skipLots := func(what string) {
		n := r.Uvarint()
		if n > uint64(r.Len()) {
			r.fail(what)
		}
		for range n {
			r.DecimalParts()
			r.Time()
		}
	}
	skipLots("lots")
	for n := r.Opt(0); n != 0; n = r.Opt(n) {
		switch n {
		case optHoldingFrozenBy:
			r.StrBytes()
		case optHoldingSales:
			skipLots("sales")
		case optHoldingPurchased:
			r.Bool()
		case optHoldingRecent:
			t.read(&r)
		default:
			r.unknownOpt(n)
		}
	}
	r.done()
	return t
}

// flushTail writes t's points to the balances index as one chunk under
// (symbol, party, first seq), using key and arena as scratch, and empties
// t. It returns the grown scratch.
func flushTail(b *kv.Bucket, t *balanceTail, symbol, party string, key, arena []byte) ([]byte, []byte, error) {
	if t.n == 0 {
		return key, arena, nil
	}
	key = append(append(append(append(key[:0], symbol...), 0), party...), 0)
	key = binary.BigEndian.AppendUint64(key, firstPointSeq(t.raw))
	start := len(arena)
	arena = encodeBalanceChunk(arena, t)
	err := b.Put(key, arena[start:len(arena):len(arena)])
	t.n, t.raw = 0, nil
	return key, arena, err
}

// walkBalancePoints visits every point of the balances index and the
// holdings' tails: by (symbol, party), as the index is keyed, and within
// each by seq. group is symbol 0 party 0; r stands at the point's balance,
// which visit reads. end is called after each group's last point, with
// that point's balance bytes. The walk reports to bad what breaks the
// layout the two keep between them: a key or chunk out of form, seqs that
// do not rise through a holding's keys and on through its tail. It returns
// the holdings found in the index whose record says the index holds them
// (checkIndexedHoldings compares them with all that say so).
//
// tailOf gives the tail of a group's holding (Check's from its scans of
// the holdings: heldTails.of, lastBalances.tailOf).
func walkBalancePoints(tx *kv.Tx, bad func(string, ...any), tailOf func(group []byte) balanceTail, visit func(group []byte, seq uint64, r *wire.Reader), end func(group, last []byte)) (tailed int) {
	var group, last []byte
	var prev uint64
	point := func(seq uint64, r *wire.Reader) {
		if seq <= prev {
			bad("balances of %q: entry %d follows entry %d", group, seq, prev)
		}
		prev = seq
		from := r.Rest()
		visit(group, seq, r)
		last = from[:len(from)-r.Len()]
	}
	endGroup := func() {
		if group == nil {
			return
		}
		if t := tailOf(group); t.indexed {
			tailed++
			r := wire.NewReader(t.raw)
			for range t.n {
				point(r.Uvarint(), &r)
			}
		}
		end(group, last)
	}
	_ = tx.Bucket(bucketBalances).ForEach(func(k, v []byte) error {
		if len(k) < 12 || k[len(k)-9] != 0 || bytes.IndexByte(k[:len(k)-9], 0) < 0 {
			bad("balances key %q is not symbol, party, seq", k)
			return nil
		}
		seq := binary.BigEndian.Uint64(k[len(k)-8:])
		if prefix := k[:len(k)-8]; !bytes.Equal(prefix, group) {
			endGroup()
			group, prev = append(group[:0], prefix...), 0
		}
		r := wire.NewReader(v)
		switch tag := r.Byte(); tag {
		case tagBalance:
			point(seq, &r)
		case tagBalanceChunk:
			if chunkPoints(&r, "balances", k, seq, math.MaxUint64, bad, point) == 0 {
				return nil
			}
		default:
			bad("balances value of %q has tag %q", k, tag)
			return nil
		}
		if r.Err() != nil || r.Len() != 0 {
			bad("balances value of %q does not decode", k)
		}
		return nil
	})
	endGroup()
	return tailed
}

// checkIndexedHoldings reports to bad unless indexed, the holdings whose
// record says the balances index holds them, is tailed, those of them
// walkBalancePoints found in the index.
func checkIndexedHoldings(indexed, tailed int, bad func(string, ...any)) {
	if indexed != tailed {
		bad("%d holdings say the balances index holds them, the index holds %d of them", indexed, tailed)
	}
}

// chunkPoints reads a balance chunk's points from r, past its tag: their
// count, then each point's seq, the first the key's seq, handing each to
// point, which reads its balance. It returns the count, 0 when it is out
// of range (1 to limit, within the value) and nothing was read.
func chunkPoints(r *wire.Reader, what string, k []byte, seq, limit uint64, bad func(string, ...any), point func(seq uint64, r *wire.Reader)) uint64 {
	n := r.Uvarint()
	if n == 0 || n > limit || n > uint64(r.Len()) {
		bad("%s chunk %q holds %d points", what, k, n)
		return 0
	}
	for i := range n {
		s := r.Uvarint()
		if i == 0 && s != seq {
			bad("%s chunk %q starts at entry %d", what, k, s)
		}
		point(s, r)
	}
	return n
}
