package ledger

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// The investments bucket keeps each party's investments under investment
// limits (RULES.md: Reg CF over 12 months across offerings, Reg A Tier 2 per
// offering), keyed party 0 symbol 0 time, so one prefix scan reads a
// party's investments in symbol and time order. Only investments a limit
// covered are kept: everything else a limit would never read.

// addedLater reports whether a bucket came after stores whose hashes tests
// and operators keep (the investments bucket, the terms histories):
// hashBuckets leaves it out while it is empty.
func addedLater(name []byte) bool {
	return bytes.Equal(name, bucketInvestments) || bytes.Equal(name, bucketMaxSupplyHistory) || bytes.Equal(name, bucketStatusHistory)
}

// timeKeySize is the size of the time at the end of an investment key.
const timeKeySize = 8

// appendTimeKey appends t as 8 bytes that sort as the times do: Unix
// nanoseconds with the sign bit flipped, big-endian.
func appendTimeKey(dst []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(t.UnixNano())^(1<<63))
}

func investmentKey(dst []byte, inv *transfer.Investment) []byte {
	dst = append(dst, inv.Party...)
	dst = append(dst, 0)
	dst = append(dst, inv.Symbol...)
	dst = append(dst, 0)
	return appendTimeKey(dst, inv.Time)
}

// Investment: tag, value. The party, symbol and time are the key.
func encodeInvestment(dst []byte, inv *transfer.Investment) []byte {
	w := newRecordWriter(dst, tagInvestment)
	w.Decimal(inv.Value)
	return w.B
}

func decodeInvestment(key, val []byte) transfer.Investment {
	if len(key) < 2+timeKeySize || key[len(key)-timeKeySize-1] != 0 {
		fail("stored investment key %q is malformed", key)
	}
	parts := splitKey(key[:len(key)-timeKeySize-1], 2, "investment")
	nanos := int64(binary.BigEndian.Uint64(key[len(key)-timeKeySize:]) ^ (1 << 63))
	r := newRecordReader(val, tagInvestment, "investment")
	inv := transfer.Investment{Party: parts[0], Symbol: parts[1], Time: time.Unix(0, nanos).UTC(), Value: r.Decimal()}
	r.done()
	return inv
}

// Investments lists the party's investments by symbol and time, with this
// batch's.
func (v *txView) Investments(party string) []transfer.Investment {
	if list, ok := v.investments[party]; ok {
		return list
	}
	prefix := append([]byte(party), 0)
	var out []transfer.Investment
	c := v.tx.Bucket(bucketInvestments).Cursor()
	for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
		out = append(out, decodeInvestment(k, raw))
	}
	if v.writable {
		memo(&v.investments, party, out)
	}
	return out
}

// commitInvestments merges an instruction's investments (sorted by party,
// symbol and time) into the batch's lists: two at the same key, from two
// instructions of one batch, add up.
func (v *txView) commitInvestments(list []transfer.Investment) {
	for _, inv := range list {
		have := v.Investments(inv.Party)
		merged := make([]transfer.Investment, 0, len(have)+1)
		placed := false
		for _, h := range have {
			if !placed && h.Symbol == inv.Symbol && h.Time.Equal(inv.Time) {
				h.Value = h.Value.Add(inv.Value)
				placed = true
			} else if !placed && (inv.Symbol < h.Symbol || inv.Symbol == h.Symbol && inv.Time.Before(h.Time)) {
				merged = append(merged, inv)
				placed = true
			}
			merged = append(merged, h)
		}
		if !placed {
			merged = append(merged, inv)
		}
		memo(&v.investments, inv.Party, merged)
		memo(&v.dirtyInvestments, inv.Party, true)
	}
}

// flushInvestments writes the investments of every party the batch
// invested for, in key order.
func (v *txView) flushInvestments() error {
	if len(v.dirtyInvestments) == 0 {
		return nil
	}
	b := v.tx.Bucket(bucketInvestments)
	for _, party := range sortedKeys(v.dirtyInvestments) {
		for i := range v.investments[party] {
			inv := &v.investments[party][i]
			v.key = investmentKey(v.key[:0], inv)
			start := len(v.arena)
			v.arena = encodeInvestment(v.arena, inv)
			if err := b.Put(v.key, v.sealed(start)); err != nil {
				return err
			}
		}
	}
	clear(v.dirtyInvestments)
	return nil
}

// checkInvestments verifies that every investment names a party and an
// instrument that exist, has a value that is not negative, and has a key
// in the canonical form.
func checkInvestments(tx *kv.Tx, bad func(format string, args ...any)) {
	parties, instruments := tx.Bucket(bucketParties), tx.Bucket(bucketInstruments)
	_ = tx.Bucket(bucketInvestments).ForEach(func(k, v []byte) error {
		inv := decodeInvestment(k, v)
		if parties.Get([]byte(inv.Party)) == nil {
			bad("investment of unknown party %s", inv.Party)
		}
		if instruments.Get([]byte(inv.Symbol)) == nil {
			bad("investment in unknown instrument %s", inv.Symbol)
		}
		if inv.Value.IsNegative() {
			bad("investment %q has a negative value %s", k, inv.Value)
		}
		if !bytes.Equal(investmentKey(nil, &inv), k) {
			bad("investment key %q is not canonical", k)
		}
		return nil
	})
}
