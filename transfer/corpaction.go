package transfer

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/fixed"
)

// CorporateAction is a distribute or split checked against the state it was
// accepted in, with its amounts parsed: what the ledger needs to run it over
// the holders at its record point, a slice of holders at a time. Every
// holder's part is a function of its units at the record point alone (Line),
// so paying the holders in one step or in many gives the same result.
type CorporateAction struct {
	Type     Type
	Symbol   string
	Issuer   string
	Decimals int32 // the instrument's
	// Cash is what a distribution pays, or a split's cash in lieu ("" for a
	// split that cancels fractions); CashDecimals its scale.
	Cash         string
	CashDecimals int32
	PerUnit      decimal.Decimal // distribute
	Ratio        decimal.Decimal // split
	Price        decimal.Decimal // split with cash in lieu: cash per unit of the instrument
	// Ratio's effect on max_supply, applied by the ledger when the split
	// completes (or at acceptance, when it raises the cap).
	MaxSupply *decimal.Decimal
}

// PlanCorporateAction checks a distribute or split by actor against v
// without reading its holders: who may submit it, that the instrument and
// the cash exist and may move, and the amounts' grammar and scale. The
// holders' parts are the ledger's to compute (Line), at the record point.
func PlanCorporateAction(v View, actor string, ins Instruction) (CorporateAction, []eligibility.Reason) {
	if r := Authorize(v, actor, ins); r != nil {
		return CorporateAction{}, []eligibility.Reason{*r}
	}
	e := &effect{d: NewDelta(v), actor: actor, ins: ins, rb: v.Rulebook()}
	ca := CorporateAction{Type: ins.Type, Symbol: ins.Symbol}
	in, ok := e.instrument(ins.Symbol)
	if ok {
		ca.Issuer, ca.Decimals = in.Issuer, in.Decimals
		e.party(in.Issuer)
	}
	switch ins.Type {
	case TypeDistribute:
		if cash, ok := e.cashInstrument(ins.CashSymbol, "distribute.cash"); ok {
			ca.Cash, ca.CashDecimals = cash.Symbol, cash.Decimals
		}
		ca.PerUnit, _ = e.amount("amount_per_unit", ins.AmountPerUnit, MaxDecimals)
	case TypeSplit:
		if ok && in.IsCash() {
			e.refuse(eligibility.CodeInvalidInstruction, "split.cash", "%s is cash and cannot split", in.Symbol)
		}
		ca.Ratio, _ = e.amount("ratio", ins.Ratio, MaxDecimals)
		if l := ins.CashInLieu; l != nil {
			if cash, ok := e.cashInstrument(l.CashSymbol, "split.cash_in_lieu"); ok {
				ca.Cash, ca.CashDecimals = cash.Symbol, cash.Decimals
			}
			ca.Price, _ = e.amount("cash_in_lieu.price", &l.Price, MaxDecimals)
		}
		if ok && in.MaxSupply != nil && len(e.reasons) == 0 {
			m := in.MaxSupply.Mul(ca.Ratio).RoundDown(in.Decimals)
			ca.MaxSupply = &m
		}
	default:
		e.refuse(eligibility.CodeInvalidInstruction, "corporate_action.type", "%s is not a corporate action", ins.Type)
	}
	if len(e.reasons) > 0 {
		eligibility.SortReasons(e.reasons)
		return CorporateAction{}, e.reasons
	}
	return ca, nil
}

// cashInstrument resolves a cash instrument that may move now.
func (e *effect) cashInstrument(symbol, rule string) (Instrument, bool) {
	cash, ok := e.instrument(symbol)
	if !ok {
		return cash, false
	}
	if !cash.IsCash() {
		e.refuse(eligibility.CodeInvalidInstruction, rule, "%s is not a cash instrument", cash.Symbol)
		return cash, false
	}
	if cash.Paused {
		e.refuse(eligibility.CodeInstrumentPaused, "instrument.paused", "%s is paused", cash.Symbol)
		return cash, false
	}
	return cash, true
}

// Line is one holder's part, from the units it held at the record point:
// a distribution pays units × per unit rounded down to the cash scale (the
// rest, fraction, stays with the issuer); a split leaves units × ratio
// rounded down to the instrument's scale and cancels the rest (fraction), or
// pays it at the cash-in-lieu price rounded down to the cash scale. The
// issuer earns nothing on its own units, and is paid no cash for its own
// fractions.
func (ca CorporateAction) Line(party string, units decimal.Decimal) (newUnits, amount, fraction decimal.Decimal) {
	switch ca.Type {
	case TypeDistribute:
		if party == ca.Issuer {
			return units, decimal.Zero, decimal.Zero
		}
		exact := units.Mul(ca.PerUnit)
		amount = exact.RoundDown(ca.CashDecimals)
		return units, amount, exact.Sub(amount)
	default:
		exact := units.Mul(ca.Ratio)
		newUnits = exact.RoundDown(ca.Decimals)
		fraction = exact.Sub(newUnits)
		amount = decimal.Zero
		if ca.Cash != "" && party != ca.Issuer {
			amount = fraction.Mul(ca.Price).RoundDown(ca.CashDecimals)
		}
		return newUnits, amount, fraction
	}
}

// Escrow bounds what an action over holders of outstanding units (all
// units at the record point less the issuer's, or, for a split, the number
// of holders) can pay: the sum of the rounded-down lines is at most the
// rounded-down sum. The ledger takes it from the issuer at acceptance and
// returns what the lines did not use when the action completes.
func (ca CorporateAction) Escrow(outstanding decimal.Decimal, holders int64) decimal.Decimal {
	switch {
	case ca.Type == TypeDistribute:
		return outstanding.Mul(ca.PerUnit).RoundDown(ca.CashDecimals)
	case ca.Cash == "":
		return decimal.Zero
	default:
		// Each fraction is below one unit of the instrument's scale.
		unit := decimal.New(1, -ca.Decimals)
		return decimal.NewFromInt(holders).Mul(unit).Mul(ca.Price).RoundDown(ca.CashDecimals)
	}
}

// Credit adds amt of symbol to party's holding, acquired at now: a payment
// the ledger makes out of a corporate action's escrow.
func (d *Delta) Credit(party, symbol string, amt decimal.Decimal, now time.Time) {
	p, _ := d.Party(party)
	in, ok := d.Instrument(symbol)
	assert(ok, "credit of unknown instrument %s", symbol)
	e := &effect{d: d, now: now, rb: d.Rulebook()}
	e.credit(&p, &in, []Lot{{Amount: fixed.From(amt), AcquiredAt: now}})
}

// CanDebit says why amt of symbol may not leave party's account (nil: it
// may): frozen, or less available.
func (d *Delta) CanDebit(party, symbol string, amt decimal.Decimal) []eligibility.Reason {
	p, _ := d.Party(party)
	in, _ := d.Instrument(symbol)
	e := &effect{d: d, rb: d.Rulebook()}
	e.canSend(&p, &in, fixed.From(amt))
	return e.reasons
}

// Debit takes amt of symbol from party's holding (CanDebit must allow it):
// a corporate action's escrow.
func (d *Delta) Debit(party, symbol string, amt decimal.Decimal, now time.Time) {
	p, _ := d.Party(party)
	in, ok := d.Instrument(symbol)
	assert(ok, "debit of unknown instrument %s", symbol)
	e := &effect{d: d, now: now, rb: d.Rulebook()}
	e.debit(&p, &in, fixed.From(amt))
}

// SplitHolding multiplies party's holding of symbol by ratio, rounded down
// to the instrument's scale, as Line gives; frozen units and lots scale
// too, the newest lot absorbing the rounding so lots still sum to the
// balance, and acquisition dates stay. The supply follows the change.
func (d *Delta) SplitHolding(party, symbol string, ratio decimal.Decimal) {
	in, ok := d.Instrument(symbol)
	assert(ok, "split of unknown instrument %s", symbol)
	h, _ := d.Holding(party, symbol)
	old := h.Balance
	h.Party, h.Symbol = party, symbol
	h.Balance = fixed.From(h.Balance.Mul(ratio).RoundDown(in.Decimals))
	h.Frozen = fixed.From(h.Frozen.Mul(ratio).RoundDown(in.Decimals))
	if h.Frozen.GreaterThan(h.Balance) {
		h.Frozen = h.Balance
	}
	lots := make([]Lot, 0, len(h.Lots))
	sum := fixed.Zero
	for _, l := range h.Lots {
		l.Amount = fixed.From(l.Amount.Mul(ratio).RoundDown(in.Decimals))
		sum = sum.Add(l.Amount)
		lots = append(lots, l)
	}
	if n := len(lots); n > 0 {
		lots[n-1].Amount = lots[n-1].Amount.Add(h.Balance.Sub(sum))
	}
	h.Lots = dropEmptyLots(lots)
	d.putHolding(h)
	in, _ = d.Instrument(symbol) // putHolding may have counted a holder less
	in.Supply = in.Supply.Add(h.Balance.Sub(old).Decimal())
	d.putInstrument(in)
}

// SetMaxSupply sets symbol's max_supply (a split's scaled cap).
func (d *Delta) SetMaxSupply(symbol string, m *decimal.Decimal) {
	in, ok := d.Instrument(symbol)
	assert(ok, "max_supply of unknown instrument %s", symbol)
	in.MaxSupply = m
	d.putInstrument(in)
}
