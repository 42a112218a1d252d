package ledger

import (
	"slices"

	"github.com/shopspring/decimal"
	"github.com/tokenledger/tokenledger/ledger/kv"
)

// checkBooks verifies the transfer agent's books: each instrument's control
// book reconciles (treasury plus the units others hold is the issued
// supply, and none exceeds the authorized); a freeze has an owner only
// while something is frozen; a closed party holds nothing; affiliate_of
// names existing symbols, sorted, each once; a pending instruction is what
// its id answers; the max_supply and status histories end at today's
// values.
func checkBooks(tx *kv.Tx, escrow map[string]decimal.Decimal, bad func(format string, args ...any)) {
	checkTerms(tx, bad)
	instruments := tx.Bucket(bucketInstruments)
	parties := tx.Bucket(bucketParties)
	type book struct {
		treasury, others decimal.Decimal
		purchasers       int
	}
	books := map[string]*book{}
	// Holdings are keyed party first: the party's record is decoded once
	// for its run of holdings, and each issuer once per symbol.
	issuers := map[string]string{}
	var party string
	var closed bool
	_ = tx.Bucket(bucketHoldings).ForEach(func(k, v []byte) error {
		h := decodeHoldingKV(k, v)
		for _, s := range h.Sales {
			if s.Amount.Sign() <= 0 {
				bad("%s's %s records a sale of %s", h.Party, h.Symbol, s.Amount)
			}
		}
		if h.FrozenBy != "" && h.Frozen.Sign() == 0 {
			bad("%s's %s names %s as the owner of a freeze of nothing", h.Party, h.Symbol, h.FrozenBy)
		}
		issuer, ok := issuers[h.Symbol]
		if !ok {
			raw := instruments.Get([]byte(h.Symbol))
			if raw == nil {
				return nil // check reports it
			}
			issuer = decodeInstrument([]byte(h.Symbol), raw).Issuer
			issuers[h.Symbol] = issuer
		}
		b := books[h.Symbol]
		if b == nil {
			b = &book{treasury: decimal.Zero, others: decimal.Zero}
			books[h.Symbol] = b
		}
		if h.Purchased {
			b.purchasers++
		}
		if h.Party == issuer {
			b.treasury = b.treasury.Add(h.Balance)
		} else {
			b.others = b.others.Add(h.Balance)
		}
		if h.Party != party {
			party = h.Party
			p := parties.Get([]byte(party))
			closed = p != nil && decodeParty([]byte(party), p).Closed
		}
		if closed && h.Balance.Sign() != 0 {
			bad("closed party %s holds %s %s", h.Party, h.Balance, h.Symbol)
		}
		return nil
	})
	_ = instruments.ForEach(func(k, v []byte) error {
		in := decodeInstrument(k, v)
		b := books[in.Symbol]
		if b == nil {
			b = &book{treasury: decimal.Zero, others: decimal.Zero}
		}
		if b.purchasers != in.NonAccreditedPurchasers {
			bad("%s counts %d non-accredited purchasers, holdings mark %d", in.Symbol, in.NonAccreditedPurchasers, b.purchasers)
		}
		// Cash a running corporate action holds for its holders is issued
		// and in no holding yet.
		if issued := b.treasury.Add(b.others).Add(escrowOf(escrow, in.Symbol)); !issued.Equal(in.Supply) {
			bad("%s control book: treasury %s + outstanding %s is not issued %s", in.Symbol, b.treasury, b.others, in.Supply)
		}
		if in.MaxSupply != nil && in.Supply.GreaterThan(*in.MaxSupply) {
			bad("%s control book: issued %s above authorized %s", in.Symbol, in.Supply, *in.MaxSupply)
		}
		return nil
	})
	ids := tx.Bucket(bucketIDs)
	_ = tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
		var rec pendingRecord
		decodeJSON(v, &rec)
		if parties.Get([]byte(rec.Actor)) == nil {
			bad("pending %s was submitted by unknown party %s", k, rec.Actor)
		}
		raw := ids.Get(k)
		if raw == nil || decodeIDRecord(raw).Seq != rec.Seq {
			bad("pending %s is not what its id answers (journal entry %d)", k, rec.Seq)
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

// escrowOf is symbol's escrow in m, zero without one.
func escrowOf(m map[string]decimal.Decimal, symbol string) decimal.Decimal {
	if e, ok := m[symbol]; ok {
		return e
	}
	return decimal.Zero
}
