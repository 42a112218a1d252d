package ledger

import (
	"bytes"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// checkBooks verifies the transfer agent's books: each instrument's control
// book reconciles (treasury plus the units others hold is the issued
// supply, and none exceeds the authorized); a freeze has an owner only
// while something is frozen; a closed party holds nothing; affiliate_of
// names existing symbols, sorted, each once; a pending instruction is what
// its id answers; the max_supply and status histories end at today's
// values. books holds what the walk of the holdings gathered.
func checkBooks(tx *kv.Tx, escrow map[string]decimal.Decimal, books *bookTally, bad func(format string, args ...any)) {
	checkTerms(tx, bad)
	instruments := tx.Bucket(bucketInstruments)
	parties := tx.Bucket(bucketParties)
	_ = instruments.ForEach(func(k, v []byte) error {
		in := decodeInstrument(k, v)
		b := books.bySymbol[in.Symbol]
		if b == nil {
			b = &book{}
		}
		if b.purchasers != in.NonAccreditedPurchasers {
			bad("%s counts %d non-accredited purchasers, holdings mark %d", in.Symbol, in.NonAccreditedPurchasers, b.purchasers)
		}
		// Cash a running corporate action holds for its holders is issued
		// and in no holding yet.
		treasury, others := b.treasury.value(), b.others.value()
		if issued := treasury.Add(others).Add(escrowOf(escrow, in.Symbol)); !issued.Equal(in.Supply) {
			bad("%s control book: treasury %s + outstanding %s is not issued %s", in.Symbol, treasury, others, in.Supply)
		}
		if in.MaxSupply != nil && in.Supply.GreaterThan(*in.MaxSupply) {
			bad("%s control book: issued %s above authorized %s", in.Symbol, in.Supply, *in.MaxSupply)
		}
		return nil
	})
	ids, journal := tx.Bucket(bucketIDs), tx.Bucket(bucketJournal)
	_ = tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
		var rec pendingRecord
		decodeJSON(v, &rec)
		if parties.Get([]byte(rec.Actor)) == nil {
			bad("pending %s was submitted by unknown party %s", k, rec.Actor)
		}
		// Its id answers with the entry that held it: a record of the
		// ids bucket, or (schema 11) the journal's entry of the id held.
		if raw := ids.Get(k); raw != nil {
			if decodeIDRecord(raw).Seq != rec.Seq {
				bad("pending %s is not what its id answers (journal entry %d)", k, rec.Seq)
			}
		} else if v := journalRecordAtWith(journal, rec.Seq, true); v == nil || !bytes.Equal(journalInstructionID(v), k) {
			bad("pending %s names journal entry %d, not an entry of its id", k, rec.Seq)
		} else if jr, _ := decodeJournalRecord(v); jr.status != StatusPending {
			bad("pending %s names journal entry %d, whose status is %s", k, rec.Seq, jr.status)
		}
		if !rec.CreatedAt.Before(rec.ExpiresAt) {
			bad("pending %s expires at %s, not after it was held at %s", k, rec.ExpiresAt, rec.CreatedAt)
		}
		return nil
	})
	_ = parties.ForEach(func(k, v []byte) error {
		p := decodeParty(k, v)
		if p.FrozenBy != "" && !p.Frozen {
			bad("party %s names %s as the owner of a freeze it does not have", p.ID, p.FrozenBy)
		}
		if !slices.IsSorted(p.AffiliateOf) || len(slices.Compact(slices.Clone(p.AffiliateOf))) != len(p.AffiliateOf) {
			bad("party %s: affiliate_of %v is not sorted and unique", p.ID, p.AffiliateOf)
		}
		for _, s := range p.AffiliateOf {
			if instruments.Get([]byte(s)) == nil {
				bad("party %s is an affiliate of unknown instrument %s", p.ID, s)
			}
		}
		return nil
	})
}

// bookTally is what checkBooks reads of the holdings, gathered by
// checkExceptIndexes' walk of them (holding), so that each holding and
// each party is decoded once for both checks.
type bookTally struct {
	bySymbol map[string]*book
	issuers  map[string]string // each symbol's issuer, decoded once
	bad      func(format string, args ...any)
}

type book struct {
	treasury, others decSum
	purchasers       int
}

func newBookTally(bad func(format string, args ...any)) *bookTally {
	return &bookTally{bySymbol: map[string]*book{}, issuers: map[string]string{}, bad: bad}
}

// holding tallies h, whose party's record is p (nil: no such party, which
// Check reports) and whose instrument's record is raw (nil: none, which
// Check reports too).
func (t *bookTally) holding(h *transfer.Holding, p *transfer.Party, raw []byte) {
	for _, s := range h.Sales {
		if s.Amount.Sign() <= 0 {
			t.bad("%s's %s records a sale of %s", h.Party, h.Symbol, s.Amount)
		}
	}
	if h.FrozenBy != "" && h.Frozen.Sign() == 0 {
		t.bad("%s's %s names %s as the owner of a freeze of nothing", h.Party, h.Symbol, h.FrozenBy)
	}
	if p != nil && p.Closed && h.Balance.Sign() != 0 {
		t.bad("closed party %s holds %s %s", h.Party, h.Balance, h.Symbol)
	}
	if raw == nil {
		return
	}
	issuer, ok := t.issuers[h.Symbol]
	if !ok {
		issuer = decodeInstrument([]byte(h.Symbol), raw).Issuer
		t.issuers[h.Symbol] = issuer
	}
	b := t.bySymbol[h.Symbol]
	if b == nil {
		b = &book{}
		t.bySymbol[h.Symbol] = b
	}
	if h.Purchased {
		b.purchasers++
	}
	if h.Party == issuer {
		b.treasury.addFixed(h.Balance, false)
	} else {
		b.others.addFixed(h.Balance, false)
	}
}

// escrowOf is symbol's escrow in m, zero without one.
func escrowOf(m map[string]decimal.Decimal, symbol string) decimal.Decimal {
	if e, ok := m[symbol]; ok {
		return e
	}
	return decimal.Zero
}
