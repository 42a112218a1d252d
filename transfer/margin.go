package transfer

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/fixed"
)

// WriteOff is what is left of a loan that a close_out wrote off under the
// rulebook's negative-balance protection: the lender's loss, in the loan's
// cash.
type WriteOff struct {
	Party  string          `json:"party"`
	Lender string          `json:"lender"`
	Cash   string          `json:"cash_symbol"`
	Amount decimal.Decimal `json:"amount"`
}

// WrittenOff lists the loans the instruction wrote off, in the order written.
func (d *Delta) WrittenOff() []WriteOff { return d.writtenOff }

// priceOf is in's worth per unit in the base currency: 1 for cash in the
// base currency, else its last mark (for foreign cash, its exchange rate).
// ok is false when it has no mark.
func priceOf(v View, in Instrument, base string) (decimal.Decimal, bool) {
	if in.IsBaseCash(base) {
		return decimal.NewFromInt(1), true
	}
	if pr, ok := v.Price(in.Symbol); ok {
		return pr.Price, true
	}
	return decimal.Decimal{}, false
}

// MarginOf measures a party's account under the rulebook of v: the figures
// of holdings and of GET /v1/margin-calls.
func MarginOf(v View, p Party) eligibility.Measure {
	return v.Rulebook().Measure(AccountOf(v, p))
}

// closeOut is a lender's remedy while the party is in a margin call: it
// takes amount of symbol from the party and reduces the party's loan from
// the lender by its value. It is a secured creditor's remedy, so lockups,
// freezes and the lender's eligibility as a receiver do not apply; pauses
// do. Under negative-balance protection, a close-out that leaves the party
// no priced holding writes off the rest of that loan.
func (e *effect) closeOut() {
	lenderID := e.ins.Lender
	if lenderID == "" {
		lenderID = e.actor
	}
	party, ok1 := e.party(e.ins.PartyID)
	lender, ok2 := e.party(lenderID)
	in, ok3 := e.instrument(e.ins.Symbol)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	amt, ok := e.amount("amount", e.ins.Amount, in.Decimals)
	if !ok {
		return
	}
	if in.Paused {
		e.refuse(eligibility.CodeInstrumentPaused, "instrument.paused", "%s is paused; no holding of it moves until the issuer unpauses it", in.Symbol)
		return
	}
	loan, cash, found := e.lenderLoan(party.ID, lender.ID)
	if !found {
		e.refuse(eligibility.CodeNoLoan, "close_out.loan", "%s owes nothing to %s", party.ID, lender.ID)
		return
	}
	if m := MarginOf(e.d, party); !m.InMarginCall() {
		e.refuse(eligibility.CodeNotInMarginCall, "close_out.margin_call",
			"%s is not in a margin call: equity %s is at or above its maintenance requirement %s", party.ID, m.Equity, m.Maintenance)
		return
	}
	base := e.rb.BaseCurrency()
	price, okPrice := priceOf(e.d, in, base)
	rate, okRate := priceOf(e.d, cash, base)
	if !okPrice || !okRate || rate.Sign() <= 0 {
		e.refuse(eligibility.CodePriceUnavailable, "close_out.price", "%s or %s has no price; the oracle must set one before a close-out", in.Symbol, cash.Symbol)
		return
	}
	h, _ := e.d.Holding(party.ID, in.Symbol)
	if h.Balance.LessThan(fixed.From(amt)) {
		e.refuse(eligibility.CodeInsufficientBalance, "account.balance", "%s holds %s %s, less than %s", party.ID, h.Balance, in.Symbol, amt)
		return
	}
	// The loan falls by the value in its own cash, rounded down to the cash's
	// scale: the borrower is never credited with more than the units fetched.
	repaid := amt.Mul(price).DivRound(rate, MaxDecimals+2).RoundDown(cash.Decimals)
	if repaid.GreaterThan(loan.Amount) {
		e.refuse(eligibility.CodeCloseOutExceedsLoan, "close_out.loan",
			"%s %s is worth %s %s, more than the %s %s %s owes %s; close out fewer units", amt, in.Symbol, repaid, cash.Symbol, loan.Amount, cash.Symbol, party.ID, lender.ID)
		return
	}
	e.seize(&party, &lender, &in, amt)
	loan.Amount = loan.Amount.Sub(repaid)
	if e.rb.ProtectsFromNegative(party.Eligibility().EffectiveStatus()) && loan.Amount.Sign() > 0 && !e.holdsPriced(party.ID) {
		e.d.writtenOff = append(e.d.writtenOff, WriteOff{Party: party.ID, Lender: lender.ID, Cash: cash.Symbol, Amount: loan.Amount})
		loan.Amount = decimal.Zero
	}
	e.d.putLoan(loan)
	e.markTouched(party.ID)
}

// lenderLoan is the party's open loan from lender, the first by cash symbol,
// and its cash instrument.
func (e *effect) lenderLoan(party, lender string) (Loan, Instrument, bool) {
	for _, l := range e.d.Loans(party) {
		if l.Lender == lender && l.Amount.Sign() > 0 {
			cash, ok := e.d.Instrument(l.Cash)
			assert(ok, "loan in unknown cash %s", l.Cash)
			return l, cash, true
		}
	}
	return Loan{}, Instrument{}, false
}

// seize moves amt of in from party to lender whatever is frozen or locked:
// a frozen amount the balance no longer covers is released with it.
func (e *effect) seize(party, lender *Party, in *Instrument, amt decimal.Decimal) {
	e.debit(party, in, fixed.From(amt))
	h, _ := e.d.Holding(party.ID, in.Symbol)
	if h.Frozen.GreaterThan(h.Balance) {
		h.Frozen = h.Balance
		e.d.putHolding(h)
	}
	e.credit(lender, in, []Lot{{Amount: fixed.From(amt), AcquiredAt: e.now}})
}

// holdsPriced reports whether the party still holds anything with a value.
func (e *effect) holdsPriced(party string) bool {
	base := e.rb.BaseCurrency()
	for _, h := range e.d.PartyHoldings(party) {
		if h.Balance.Sign() <= 0 {
			continue
		}
		in, _ := e.d.Instrument(h.Symbol)
		if p, ok := priceOf(e.d, in, base); ok && p.Sign() > 0 {
			return true
		}
	}
	return false
}

// checkPositions refuses a change that leaves a party's position above a
// position limit of the rulebook; a position that did not grow passes.
func (e *effect) checkPositions() {
	base := e.rb.BaseCurrency()
	for _, h := range e.d.holdings.list {
		if in, ok := e.d.instrumentRef(h.Symbol); ok && in.IsCash() {
			continue
		}
		before, _ := e.d.base.Holding(h.Party, h.Symbol)
		if !h.Balance.GreaterThan(before.Balance) {
			continue
		}
		in, _ := e.d.Instrument(h.Symbol)
		p, ok := e.d.Party(h.Party)
		if !ok {
			continue
		}
		party, product := p.Eligibility(), in.Product()
		if !e.rb.PositionLimited(party, product) {
			// Nothing to check: no decimals made (two allocations a
			// position), no price read.
			continue
		}
		price, priced := priceOf(e.d, in, base)
		e.refuseAll(e.rb.CheckPosition(eligibility.PositionChange{
			Party: party, Product: product, Before: before.Balance.Decimal(), After: h.Balance.Decimal(),
			SupplyAfter: in.Supply, Price: price, Priced: priced,
		}))
	}
}

// String names a write-off for a message.
func (w WriteOff) String() string {
	return fmt.Sprintf("%s %s owed by %s to %s", w.Amount, w.Cash, w.Party, w.Lender)
}
