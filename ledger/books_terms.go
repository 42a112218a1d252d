package ledger

import (
	"bytes"
	"encoding/binary"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// The control book at a past seq needs two terms that the register keeps
// only as they stand today: an instrument's max_supply (its authorized
// units) and a party's status (whether a holder counts as non-accredited).
// Apply keeps their history, in the transaction of the journal entry that
// changed them, keyed name 0 seq(8), so a read at a seq is one seek:
//
//   - max_supply_history: symbol 0 seq -> authorized record, written when an
//     instrument is created and whenever an accepted instruction leaves it
//     with another max_supply (update_instrument, split);
//   - status_history: party 0 seq -> status record, written whenever a
//     party's status changes (update_party).
//
// The first change of a record that has no key yet also writes the value
// before it under seq 0, so every seq since then has its value. A name the
// history has no key for is a record unchanged since it was written: its
// value at any seq is today's. A party's registration writes no key (schema
// 10; before, it wrote one under its seq, 53 bytes an investor at
// 1,000,000): the status it registered with is the one it has had at every
// seq it held anything, which is what the control book asks (statusAt, of
// holders). An instrument's creation still writes its key, so a book at a
// seq before the instrument existed reports no cap, not today's.

// Tags of the history records (schema.go).
const (
	tagAuthorized byte = 'A'
	tagStatus     byte = 'S'
)

// termsBaseline is the seq of the value a record held when its history
// began in a store that had it already.
const termsBaseline = 0

// commitTerms records, under seq, the max_supply and status changes of an
// accepted instruction's changes, before commit merges them into the view.
// Only Apply's view commits, inside its write transaction.
func (v *txView) commitTerms(c transfer.Changes, seq uint64) {
	if len(c.Instruments) == 0 && len(c.Parties) == 0 {
		return
	}
	if !v.writable {
		fail("terms history: commit in a read-only view")
	}
	for i := range c.Instruments {
		in := &c.Instruments[i]
		old, existed := v.Instrument(in.Symbol)
		if existed && sameCap(old.MaxSupply, in.MaxSupply) {
			continue
		}
		b := v.tx.Bucket(bucketMaxSupplyHistory)
		if existed && !hasTermsHistory(b, in.Symbol) {
			putTerm(b, in.Symbol, termsBaseline, encodeAuthorized(nil, old.MaxSupply))
		}
		putTerm(b, in.Symbol, seq, encodeAuthorized(nil, in.MaxSupply))
	}
	for i := range c.Parties {
		p := &c.Parties[i]
		old, existed := v.Party(p.ID)
		if !existed || old.Status == p.Status {
			continue
		}
		b := v.tx.Bucket(bucketStatusHistory)
		if !hasTermsHistory(b, p.ID) {
			putTerm(b, p.ID, termsBaseline, encodeStatus(nil, old.Status))
		}
		putTerm(b, p.ID, seq, encodeStatus(nil, p.Status))
	}
}

func sameCap(a, b *decimal.Decimal) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func termKey(name string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(name), 0), seq)
}

func putTerm(b *kv.Bucket, name string, seq uint64, val []byte) {
	if err := b.Put(termKey(name, seq), val); err != nil {
		panic("ledger: write terms history of " + name + ": " + err.Error())
	}
}

// hasTermsHistory reports whether the bucket holds a key for name.
func hasTermsHistory(b *kv.Bucket, name string) bool {
	prefix := append([]byte(name), 0)
	k, _ := b.Cursor().Seek(prefix)
	return k != nil && len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix)
}

// termAt is the value of name's last key with a seq <= seq, and whether the
// history holds any key for name at all: one seek. found without ok is a
// seq before the record existed.
func termAt(c *kv.Cursor, name string, seq uint64) (val []byte, ok, found bool) {
	prefix := append([]byte(name), 0)
	past := termKey(name, seq+1)
	if seq == ^uint64(0) {
		past = append([]byte(name), 1) // past every key of name: no name holds a 0 or 1 byte
	}
	k, v := c.Seek(past)
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k != nil && len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix) {
		return v, true, true
	}
	// No key at or before seq: is there one after it?
	k, _ = c.Seek(prefix)
	return nil, false, k != nil && len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix)
}

// authorizedAt is symbol's max_supply just after entry seq; today is its
// max_supply now, the answer for an instrument without history (written
// before the history was kept and unchanged since). Before the instrument
// was created there is no cap to report: nil.
func authorizedAt(c *kv.Cursor, symbol string, seq uint64, today *decimal.Decimal) *decimal.Decimal {
	val, ok, found := termAt(c, symbol, seq)
	switch {
	case ok:
		return decodeAuthorized(val)
	case found:
		return nil
	default:
		return today
	}
}

// statusAt is party's status just after entry seq; today is its status now,
// the answer for a party without history (registered and unchanged since).
// Before a party with a key for its registration (schema 9 and before)
// was registered it had no status: the zero value.
func statusAt(c *kv.Cursor, party string, seq uint64, today eligibility.Status) eligibility.Status {
	val, ok, found := termAt(c, party, seq)
	switch {
	case ok:
		return decodeStatus(val)
	case found:
		return ""
	default:
		return today
	}
}

// Authorized record: tag, max_supply decimal? (absent: no cap).
func encodeAuthorized(dst []byte, m *decimal.Decimal) []byte {
	w := newRecordWriter(dst, tagAuthorized)
	w.OptDecimal(m)
	return w.B
}

func decodeAuthorized(val []byte) *decimal.Decimal {
	r := newRecordReader(val, tagAuthorized, "authorized")
	m := r.OptDecimal()
	r.done()
	return m
}

// Status record: tag, status string.
func encodeStatus(dst []byte, s eligibility.Status) []byte {
	w := newRecordWriter(dst, tagStatus)
	w.Str(string(s))
	return w.B
}

func decodeStatus(val []byte) eligibility.Status {
	r := newRecordReader(val, tagStatus, "status")
	s := r.word()
	r.done()
	return eligibility.Status(s)
}

// checkTerms checks that each history ends at today's value: the max_supply
// of its instrument, the status of its party, which must exist; and that
// every key has the shape name 0 seq(8).
func checkTerms(tx *kv.Tx, bad func(string, ...any)) {
	parties, instruments := tx.Bucket(bucketParties), tx.Bucket(bucketInstruments)
	lastOf := func(bucket []byte, check func(name string, last []byte)) {
		var group string
		var last []byte
		have := false
		_ = tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			if len(k) < 10 || k[len(k)-9] != 0 {
				bad("%s key %q is malformed", bucket, k)
				return nil
			}
			name := string(k[:len(k)-9])
			if have && name != group {
				check(group, last)
			}
			group, last, have = name, bytes.Clone(v), true
			return nil
		})
		if have {
			check(group, last)
		}
	}
	lastOf(bucketMaxSupplyHistory, func(symbol string, last []byte) {
		raw := instruments.Get([]byte(symbol))
		if raw == nil {
			bad("max_supply history of unknown instrument %s", symbol)
			return
		}
		in := decodeInstrument([]byte(symbol), raw)
		if got := decodeAuthorized(last); !sameCap(got, in.MaxSupply) {
			bad("max_supply history of %s ends at %s, its max_supply is %s", symbol, capString(got), capString(in.MaxSupply))
		}
	})
	lastOf(bucketStatusHistory, func(id string, last []byte) {
		raw := parties.Get([]byte(id))
		if raw == nil {
			bad("status history of unknown party %s", id)
			return
		}
		p := decodeParty([]byte(id), raw)
		if got := decodeStatus(last); got != p.Status {
			bad("status history of %s ends at %q, its status is %q", id, got, p.Status)
		}
	})
}

func capString(m *decimal.Decimal) string {
	if m == nil {
		return "none"
	}
	return m.String()
}
