package transfer

import (
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/fixed"
)

// The transfer agent's books: the control book of each instrument
// (authorized, issued, treasury, outstanding), freezes that remember who
// placed them, affiliates of an issuer and closed accounts.

// ControlBook is an instrument's share count as a transfer agent keeps it.
type ControlBook struct {
	// Authorized is max_supply; nil when the instrument has none.
	Authorized *decimal.Decimal `json:"authorized"`
	// Issued is the supply: every unit in existence.
	Issued decimal.Decimal `json:"issued"`
	// Treasury is what the issuer itself holds.
	Treasury decimal.Decimal `json:"treasury"`
	// Outstanding is issued less treasury: the units in others' hands.
	Outstanding decimal.Decimal `json:"outstanding"`
}

// ControlBookOf reads in's control book from v.
func ControlBookOf(v View, in Instrument) ControlBook {
	treasury := decimal.Zero
	if h, ok := v.Holding(in.Issuer, in.Symbol); ok {
		treasury = h.Balance.Decimal()
	}
	return ControlBook{
		Authorized:  in.MaxSupply,
		Issued:      in.Supply,
		Treasury:    treasury,
		Outstanding: in.Supply.Sub(treasury),
	}
}

// HoldersOfRecord is the number of in's holders other than its issuer: the
// count holder limits and holder_count use (Exchange Act 12(g) counts
// holders of record, and treasury shares are not outstanding). The stored
// HolderCount counts every party with a balance, the issuer too, so the
// holders index and Check keep one definition of a holder.
func HoldersOfRecord(v View, in Instrument) int {
	if h, ok := v.Holding(in.Issuer, in.Symbol); ok && h.IsHolder() {
		return in.HolderCount - 1
	}
	return in.HolderCount
}

// updateInstrument renames an instrument or changes its authorized units;
// authorization below what is already issued is refused.
func (e *effect) updateInstrument() {
	in, ok := e.instrument(e.ins.Symbol)
	if !ok {
		return
	}
	if e.ins.Name != "" {
		in.Name = e.ins.Name
	}
	if e.ins.MaxSupply != nil {
		m, ok := e.amount("max_supply", e.ins.MaxSupply, in.Decimals)
		if !ok {
			return
		}
		if m.LessThan(in.Supply) {
			e.refuse(eligibility.CodeSupplyCap, "instrument.max_supply", "max_supply %s is below the %s of %s already issued", m, in.Supply, in.Symbol)
			return
		}
		in.MaxSupply = &m
	}
	e.d.putInstrument(in)
}

// validAffiliateOf checks an affiliate_of list's shape: symbols, each once.
func validAffiliateOf(list []string) error {
	if len(list) > MaxLegs*4 {
		return invalid("affiliate_of lists at most %d symbols", MaxLegs*4)
	}
	seen := make(map[string]bool, len(list))
	for _, s := range list {
		if !ValidSymbol(s) {
			return invalid("affiliate_of: %.40q is not a valid symbol", s)
		}
		if seen[s] {
			return invalid("affiliate_of lists %s twice", s)
		}
		seen[s] = true
	}
	return nil
}

// setAffiliateOf replaces p's affiliate_of list with the instruction's,
// sorted so the stored record is the same on every node. Every symbol must
// exist.
func (e *effect) setAffiliateOf(p *Party) bool {
	list := slices.Clone(*e.ins.AffiliateOf)
	slices.Sort(list)
	for _, s := range list {
		if _, ok := e.instrument(s); !ok {
			return false
		}
	}
	if len(list) == 0 {
		list = nil
	}
	p.AffiliateOf = list
	return true
}

// IsAffiliate reports whether p is an affiliate of symbol's issuer. The
// issuer itself counts as one: its units come from the issuer.
func (p *Party) IsAffiliate(in *Instrument) bool {
	return p.ID == in.Issuer || slices.Contains(p.AffiliateOf, in.Symbol)
}

// affiliateChanges lists the symbols whose membership update_party's
// affiliate_of would change for p: the symbols an issuer must own to submit
// it.
func affiliateChanges(p Party, list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(p.AffiliateOf, s) {
			out = append(out, s)
		}
	}
	for _, s := range p.AffiliateOf {
		if !slices.Contains(list, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// freezeOwner is who owns a freeze after a freeze or unfreeze by actor: no
// one when nothing stays frozen; the first placer while it lasts; else the
// actor. A freeze placed before owners were recorded has none, and stays
// liftable by whoever may freeze.
func freezeOwner(frozenAfter, wasFrozen bool, owner, actor string) string {
	switch {
	case !frozenAfter:
		return ""
	case wasFrozen:
		return owner
	}
	return actor
}

// mayChangeFreeze refuses to change a freeze another party placed: only
// its owner or the operator lifts or adds to it (separation of duties: the
// issuer of a cash instrument may not lift a custodian's freeze).
func (e *effect) mayChangeFreeze(party, symbol string, frozen bool, owner string) bool {
	if r := freezeOwnerReason(e.d, e.actor, party, symbol, frozen, owner, e.ins.Type); r != nil {
		e.refuseAll([]eligibility.Reason{*r})
		return false
	}
	return true
}

func freezeOwnerReason(v View, actor, party, symbol string, frozen bool, owner string, t Type) *eligibility.Reason {
	if !frozen || owner == "" || owner == actor {
		return nil
	}
	if a, ok := v.Party(actor); ok && a.Role == eligibility.RoleOperator {
		return nil
	}
	what := party
	if symbol != "" {
		what = party + "'s " + symbol
	}
	r := eligibility.NewReason(eligibility.CodeNotAuthorized, "freeze.owner",
		"the freeze of "+what+" was placed by "+owner+"; only "+owner+" or the operator may "+string(t)+" it")
	return &r
}

// freezeOwnerOf is the owner and state of the freeze ins names.
func freezeOwnerOf(v View, ins Instruction) (frozen bool, owner string) {
	if ins.Symbol == "" {
		p, _ := v.Party(ins.PartyID)
		return p.Frozen, p.FrozenBy
	}
	h, _ := v.Holding(ins.PartyID, ins.Symbol)
	return h.Frozen.Sign() > 0, h.FrozenBy
}

// uniqueReasons gives each rule and code one reason, the first, its
// message joined with the distinct messages of the others: two legs from
// the same lapsed sender are one thing to fix, and two unknown parties
// are still both named.
func uniqueReasons(rs []eligibility.Reason) []eligibility.Reason {
	type key struct {
		code eligibility.Code
		rule string
	}
	at := make(map[key]int, len(rs))
	var out []eligibility.Reason
	for _, r := range rs {
		k := key{r.Code, r.Rule}
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, r)
			continue
		}
		if !slices.Contains(strings.Split(out[i].Message, "; "), r.Message) {
			out[i].Message += "; " + r.Message
		}
	}
	return out
}

// receivedLots are the lots a leg's receiver gets for the lots taken from
// the sender. Between two non-affiliates of the issuer the buyer tacks the
// seller's holding period (Rule 144(d)(1), Rel. 33-8869), and a
// force_transfer changes no one's period; units from the issuer or an
// affiliate (or to one) start a new period at now.
func receivedLots(from, to *Party, in *Instrument, taken []Lot, forced bool, now time.Time) []Lot {
	if forced || (!from.IsAffiliate(in) && !to.IsAffiliate(in)) {
		return taken
	}
	total := fixed.Zero
	for _, l := range taken {
		total = total.Add(l.Amount)
	}
	return []Lot{{Amount: total, AcquiredAt: now}}
}

// checkAffiliateSale holds an affiliate's sales (other than to the issuer)
// to Rule 144(e)'s volume and records this one on its holding. The debit
// that follows keeps the record (it rewrites balance and lots only).
func (e *effect) checkAffiliateSale(from, to *Party, in *Instrument, amt fixed.Decimal) {
	if in.IsCash() || from.ID == in.Issuer || to.ID == in.Issuer || !slices.Contains(from.AffiliateOf, in.Symbol) {
		return
	}
	h, _ := e.d.Holding(from.ID, in.Symbol)
	since := e.now.Add(-eligibility.AffiliateVolumeWindow)
	sales := make([]Lot, 0, len(h.Sales)+1)
	sold := fixed.Zero
	for _, s := range h.Sales {
		if s.AcquiredAt.After(since) {
			sales = append(sales, s)
			sold = sold.Add(s.Amount)
		}
	}
	// Outstanding before this instruction, so every leg of it is measured
	// against the same figure.
	base, _ := e.d.base.Instrument(in.Symbol)
	e.refuseAll(e.rb.CheckAffiliateSale(eligibility.AffiliateSale{
		Seller: from.Eligibility(), Product: in.Product(), SoldInWindow: sold.Decimal(), Amount: amt.Decimal(),
		Outstanding: ControlBookOf(e.d.base, base).Outstanding,
	}))
	h.Party, h.Symbol = from.ID, in.Symbol
	if h.Frozen.IsZero() {
		h.Frozen = fixed.Zero
	}
	h.Sales = append(sales, Lot{Amount: amt, AcquiredAt: e.now})
	e.d.putHolding(h)
}

// notePurchase marks a non-accredited party's purchase from the issuer on
// its holding, once, and counts it on the instrument.
func (e *effect) notePurchase(to *Party, in *Instrument) {
	if !to.NonAccredited() || to.ID == in.Issuer || !e.rb.CountsPurchasers(in.Product()) {
		return
	}
	h, _ := e.d.Holding(to.ID, in.Symbol)
	if h.Purchased {
		return
	}
	h.Purchased = true
	e.d.putHolding(h)
	cur, _ := e.d.Instrument(in.Symbol) // in is as the leg read it, before the credit
	cur.NonAccreditedPurchasers++
	e.d.putInstrument(cur)
}
