package ledger

import (
	"bytes"
	"errors"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

// Limits of a cap table page.
const (
	DefaultHoldersPage = 1_000
	MaxHoldersPage     = 10_000
	// HoldersScanFactor bounds the parties a page at a past seq examines, as
	// a multiple of its limit: parties who held the symbol at some seq but
	// not at the page's (they had sold out, or had not bought yet) cost a
	// seek each and are skipped. A page that examines that many returns what
	// it found, perhaps fewer than limit or none, with next.
	HoldersScanFactor = 4
)

// ErrSeqAhead is returned by a read at a journal seq beyond the journal's
// last entry: that state does not exist yet.
var ErrSeqAhead = errors.New("ledger: seq is beyond the end of the journal")

// HoldersQuery selects a page of a cap table.
type HoldersQuery struct {
	Symbol string
	// Now reads the table as it stands; otherwise At is the journal seq the
	// table is read just after (0: before the first entry, an empty table).
	Now bool
	At  uint64
	// After is the last party of the previous page ("" for the first), Limit
	// the most holders to return (0: DefaultHoldersPage; at most
	// MaxHoldersPage).
	After string
	Limit int
}

// HoldersPage returns a page of symbol's cap table, in party order: the
// holders after q.After, with their balances, just after entry q.At (or
// now), and the supply then. Next is the After of the following page, empty
// on the last. Pages of one seq agree whatever was applied since, so a
// reader who pages a table "now" passes the first page's Seq as At.
//
// A page now reads the holders index: O(limit × log n). A page at a past seq
// walks the parties who ever held the symbol (the balances index) from
// After, seeking each one's balance at the seq: O(examined × log n), where
// examined is limit plus the parties skipped for a zero balance then, and
// at most HoldersScanFactor × limit; the skipped are those who held the
// symbol only before or only after the seq. A past table whose holders are
// a small part of everyone who ever held it (an early seq of a register
// that grew, heavy churn) takes more, shorter pages; each still costs at
// most that bound.
func (s *Store) HoldersPage(q HoldersQuery) (out CapTable, err error) {
	if q.Limit <= 0 {
		q.Limit = DefaultHoldersPage
	}
	q.Limit = min(q.Limit, MaxHoldersPage)
	err = s.viewCommitted(func(tx *kv.Tx) error {
		v := newTxView(tx, s.Rulebook())
		in, ok := v.Instrument(q.Symbol)
		if !ok {
			return ErrNotFound
		}
		head := getUint(tx.Bucket(bucketMeta), metaJournalSeq)
		switch {
		case q.Now || q.At == head:
			out = CapTable{Symbol: q.Symbol, Seq: head, Supply: in.Supply, Holders: []Holder{}}
			out.Next = holdersNow(tx, v, &out, q)
		case q.At > head:
			return ErrSeqAhead
		default:
			out = CapTable{Symbol: q.Symbol, Seq: q.At, Holders: []Holder{}}
			out.Supply = supplyAt(tx.Bucket(bucketSupplies).Cursor(), q.Symbol, q.At)
			out.Next = holdersAt(tx, &out, q)
		}
		return nil
	})
	return out, err
}

// firstAfter seeks c to the first key of the range prefix‖name‖0 that
// follows after's, or to the range's start without after. No id contains a
// 0 byte, so prefix‖after‖1 sorts after every key of after and before those
// of any later party.
func firstAfter(c *kv.Cursor, prefix []byte, after string) (k, v []byte) {
	if after == "" {
		return c.Seek(prefix)
	}
	return c.Seek(append(append(bytes.Clone(prefix), after...), 1))
}

// nameOf is the name part of a key prefix‖name‖0‖..., or false when the
// key is outside prefix's range.
func nameOf(k, prefix []byte) (string, bool) {
	if !bytes.HasPrefix(k, prefix) {
		return "", false
	}
	rest := k[len(prefix):]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		i = len(rest) // a holders key ends with the party
	}
	return string(rest[:i]), true
}

// holdersNow fills out from the holders index and returns next.
func holdersNow(tx *kv.Tx, v *txView, out *CapTable, q HoldersQuery) string {
	prefix := append([]byte(q.Symbol), 0)
	c := tx.Bucket(bucketHolders).Cursor()
	for k, _ := firstAfter(c, prefix, q.After); k != nil; k, _ = c.Next() {
		p, ok := nameOf(k, prefix)
		if !ok {
			break
		}
		if len(out.Holders) == q.Limit {
			return out.Holders[len(out.Holders)-1].Party
		}
		h, _ := v.Holding(p, q.Symbol)
		out.Holders = append(out.Holders, Holder{Party: p, Balance: h.Balance.Decimal()})
	}
	return ""
}

// holdersAt fills out with the holders at out.Seq from the balances index
// and returns next.
func holdersAt(tx *kv.Tx, out *CapTable, q HoldersQuery) string {
	prefix := append([]byte(q.Symbol), 0)
	b := tx.Bucket(bucketBalances)
	parties, balances := b.Cursor(), b.Cursor()
	holdings := tx.Bucket(bucketHoldings)
	var key []byte
	last := ""
	examined := 0
	for k, _ := firstAfter(parties, prefix, q.After); k != nil; {
		p, ok := nameOf(k, prefix)
		if !ok {
			break
		}
		if len(out.Holders) == q.Limit || examined == HoldersScanFactor*q.Limit {
			return last
		}
		examined++
		tail := func() balanceTail {
			key = append(append(append(key[:0], p...), 0), q.Symbol...)
			return holdingTail(holdings.Get(key))
		}
		if bal := partyBalanceAt(balances, tail, q.Symbol, p, out.Seq); bal.Sign() > 0 {
			out.Holders = append(out.Holders, Holder{Party: p, Balance: bal})
		}
		last = p
		// The next party's keys start past p‖0‖every seq.
		k, _ = parties.Seek(append(append(bytes.Clone(prefix), p...), 1))
	}
	return ""
}

// journalByIndex fills out with the page of q (which names a party, a
// symbol or both) from the journal indexes: a seek to (name, After+1) and
// the entries from there, so a page costs its entries, not the journal.
// Both names: the two lists are intersected by leapfrogging, each cursor
// seeking to the other's seq, at most MaxJournalScan seeks a page; a page
// that runs out of them returns what it found. Next follows Journal's rule:
// a page cut short, by its limit or its seeks, has one when the journal goes
// on past what it decided.
func journalByIndex(tx *kv.Tx, q JournalQuery, out *JournalPage) {
	// The entries come in rising seqs: one cursor reads each chunk once.
	jc := newJournalCursor(tx.Bucket(bucketJournal))
	head := getUint(tx.Bucket(bucketMeta), metaJournalSeq)
	var lists []*seqList
	if q.Party != "" {
		lists = append(lists, newSeqList(tx.Bucket(bucketJournalParty), q.Party))
	}
	if q.Symbol != "" {
		lists = append(lists, newSeqList(tx.Bucket(bucketJournalSymbol), q.Symbol))
	}
	seeks := MaxJournalScan
	from := q.After + 1 // every seq before from is decided
	for {
		if len(out.Entries) == q.Limit || seeks <= 0 {
			if from-1 < head {
				out.Next = from - 1
			}
			return
		}
		seq, found := intersect(lists, &from, &seeks)
		if !found {
			if seeks > 0 {
				return // no entry left
			}
			continue
		}
		prev, rec := jc.withPrev(seq)
		out.Entries = append(out.Entries, renderJournalEntry(seq, prev, rec))
		from = seq + 1
	}
}

// intersect finds the first seq at or after *from in every list, moving
// *from up to each candidate it rules out and spending *seeks: false when a
// list has no seq left, or the seeks ran out first.
func intersect(lists []*seqList, from *uint64, seeks *int) (uint64, bool) {
	for *seeks > 0 {
		agreed := true
		for _, l := range lists {
			*seeks--
			seq, ok := l.seek(*from)
			if !ok {
				*seeks = max(*seeks, 1) // nothing left anywhere: not a cut
				return 0, false
			}
			if seq != *from {
				*from, agreed = seq, false
			}
		}
		if agreed {
			return *from, true
		}
	}
	return 0, false
}
