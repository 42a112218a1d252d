package eligibility

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

const (
	// requirementPlaces is the precision of a margin requirement; each
	// position's share is rounded up to it, so a requirement is never
	// understated.
	requirementPlaces = 18
	// leveragePlaces is the precision of Measure.Leverage, rounded down.
	leveragePlaces = 4
)

// capFor is the effective cap for a cell and what decided it: the strictest
// of the matching rules, or the rulebook's default_max (nil) when no rule
// matches. An unknown status is treated as retail. capSource describes the
// decider; only a refusal needs it, so capFor builds no string.
func (rb *Rulebook) capFor(s Status, class, underlying string, fxMajor bool) (capValue, *leverageRule) {
	if !s.Valid() {
		s = StatusRetail
	}
	// Every leg asks for its receiver's cap: the answers are read from the
	// table built with the rulebook (Parse, the only maker of rulebooks),
	// where the walk of the rules compared each rule's lists of strings
	// each time.
	t, key := rb.caps, leverageKey(underlying, fxMajor)
	a := &t.answers[(s.Rank()*(len(t.classes)+1)+indexOr(t.classes, class))*(len(t.keys)+1)+indexOr(t.keys, key)]
	return a.cv, a.best
}

// capTable is every answer capFor can give, built once a rulebook (a
// rulebook never changes): by status, then by each class a leverage rule
// names and one for any other, then by each underlying a rule names and
// one for any other. A class no rule names matches no rule; an underlying
// no rule names matches only the rules that name none.
type capTable struct {
	classes, keys []string
	answers       []capAnswer
}

// capAnswer is one answer of capTable.
type capAnswer struct {
	cv   capValue
	best *leverageRule
}

// noKey stands for a class or underlying no rule names: a rulebook's
// names come from its vocabulary, which has no such byte.
const noKey = "\x00"

// buildCaps fills rb.caps from rb.leverage.
func (rb *Rulebook) buildCaps() {
	t := &capTable{}
	for _, lr := range rb.leverage {
		for _, c := range lr.classes {
			if !slices.Contains(t.classes, c) {
				t.classes = append(t.classes, c)
			}
		}
		for _, u := range lr.underlyings {
			if !slices.Contains(t.keys, u) {
				t.keys = append(t.keys, u)
			}
		}
	}
	for _, s := range []Status{StatusRetail, StatusAccredited, StatusQualifiedPurchaser, StatusInstitutional} {
		assert(s.Rank() == len(t.answers)/((len(t.classes)+1)*(len(t.keys)+1)), "cap table: status %s out of rank order", s)
		for _, c := range append(slices.Clone(t.classes), noKey) {
			for _, k := range append(slices.Clone(t.keys), noKey) {
				cv, best := rb.walkCaps(s, c, k)
				t.answers = append(t.answers, capAnswer{cv, best})
			}
		}
	}
	rb.caps = t
}

// indexOr is where s is in list, or len(list) when it is not there.
func indexOr(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return len(list)
}

// walkCaps is capFor's answer from the rules: the strictest cap of those
// that match, or the default.
func (rb *Rulebook) walkCaps(s Status, class, key string) (capValue, *leverageRule) {
	var best *leverageRule
	for i := range rb.leverage {
		lr := &rb.leverage[i]
		if !lr.matches(s, class, key) {
			continue
		}
		if best == nil || lr.max.stricter(best.max) {
			best = lr
		}
	}
	if best == nil {
		return rb.defaultCap, nil
	}
	return best.max, best
}

// capSource describes the decider capFor returned.
func (rb *Rulebook) capSource(best *leverageRule) string {
	if best == nil {
		return "no rule covers the case, so leverage.default_max applies: " + rb.defaultSource
	}
	return fmt.Sprintf("rule %s: %s", best.id, best.source)
}

// Position is one holding of an account, valued at its last price.
type Position struct {
	Symbol     string
	Class      string // a Classification.Class; "cash" for money
	Underlying string // an Attributes.Underlying, for the leverage cap
	FXMajor    bool
	Quantity   decimal.Decimal
	Price      decimal.Decimal // in the account's cash unit; cash is 1
	Priced     bool            // false when the oracle has not marked the symbol
	// EmbeddedLeverage is the product's; zero means 1.
	EmbeddedLeverage decimal.Decimal
}

// Account is a party's holdings and its loan (in the cash unit) at one point.
type Account struct {
	Party     Party
	Positions []Position
	Loan      decimal.Decimal
	// UnpricedLoans lists the cash symbols of loans in a foreign currency
	// with no exchange rate: Loan leaves them out, and Measure lists them
	// as unpriced.
	UnpricedLoans []string
}

// Measure is an account's leverage arithmetic (DESIGN.md, "Leverage of an
// account after the change"), over priced positions with a quantity:
//
//	Value       = Σ quantity × price                                 (every priced position, cash included)
//	Exposure    = Σ quantity × price × embedded_leverage             (cash excluded: money is not exposure)
//	Equity      = Value − Loan
//	Requirement = Σ quantity × price × embedded_leverage ÷ cap       (positions with a cap; cash has none)
//	Leverage    = Exposure ÷ Equity, rounded down to 4 places
//
// Each position's share of the requirement is rounded up to 18 places. A
// position whose cap is 0 (forbidden) counts at its full exposure; receiving it
// is refused by CheckReceive anyway. Leverage is 0 when Exposure is 0 (or
// less), and -1 when Equity ≤ 0 and Exposure > 0, meaning unbounded.
// Unpriced lists, sorted, the symbols held with no price; they add
// nothing to Value, Exposure or Requirement.
type Measure struct {
	Value       decimal.Decimal
	Exposure    decimal.Decimal
	Equity      decimal.Decimal
	Requirement decimal.Decimal
	Leverage    decimal.Decimal
	Unpriced    []string
	// Maintenance is the maintenance requirement: each position's share of
	// Requirement × the rulebook's maintenance fraction for its class
	// (margin.go).
	Maintenance decimal.Decimal
}

// embeddedLeverage reads a zero embedded leverage as 1.
func embeddedLeverage(d decimal.Decimal) decimal.Decimal {
	if d.IsZero() {
		return decimal.NewFromInt(1)
	}
	return d
}

// Measure computes the account's leverage arithmetic under this rulebook's
// caps for the party's effective status.
func (rb *Rulebook) Measure(a Account) Measure {
	status := a.Party.EffectiveStatus()
	m := Measure{Unpriced: []string{}}
	for _, pos := range a.Positions {
		if pos.Quantity.IsZero() {
			continue
		}
		if !pos.Priced {
			if !slices.Contains(m.Unpriced, pos.Symbol) {
				m.Unpriced = append(m.Unpriced, pos.Symbol)
			}
			continue
		}
		value := pos.Quantity.Mul(pos.Price)
		m.Value = m.Value.Add(value)
		if pos.Class == ClassCash {
			continue
		}
		exposure := value.Mul(embeddedLeverage(pos.EmbeddedLeverage))
		m.Exposure = m.Exposure.Add(exposure)
		cv, _ := rb.capFor(status, pos.Class, pos.Underlying, pos.FXMajor)
		share := decimal.Zero
		switch {
		case !cv.capped:
		case cv.max.IsZero():
			share = exposure
		default:
			share = divCeil(exposure, cv.max, requirementPlaces)
		}
		m.Requirement = m.Requirement.Add(share)
		fraction, _ := rb.MaintenanceFraction(pos.Class)
		m.Maintenance = m.Maintenance.Add(share.Mul(fraction))
	}
	for _, s := range a.UnpricedLoans {
		if !slices.Contains(m.Unpriced, s) {
			m.Unpriced = append(m.Unpriced, s)
		}
	}
	slices.Sort(m.Unpriced)
	m.Equity = m.Value.Sub(a.Loan)
	switch {
	case m.Exposure.Sign() <= 0:
		m.Leverage = decimal.Zero
	case m.Equity.Sign() <= 0:
		m.Leverage = decimal.NewFromInt(-1)
	default:
		q, _ := m.Exposure.QuoRem(m.Equity, leveragePlaces) // Both positive: truncation is rounding down.
		m.Leverage = q
	}
	return m
}

// divCeil is x ÷ y rounded up (toward +∞) to places; y must be positive.
func divCeil(x, y decimal.Decimal, places int32) decimal.Decimal {
	if y.Sign() <= 0 {
		fail("divCeil by %s", y)
	}
	q, r := x.QuoRem(y, places) // q is truncated toward zero; r has x's sign.
	if r.Sign() > 0 {
		q = q.Add(decimal.New(1, -places))
	}
	return q
}

// CheckAccount judges a change by the account before and after it:
//
//   - LEVERAGE_EXCEEDED (rule "account_leverage") when after.Equity <
//     after.Requirement and the change made either side worse (equity fell or
//     the requirement rose); moves that only reduce risk always pass;
//   - PRICE_UNAVAILABLE (rule "account_leverage") when a holding has no price
//     and the account has a loan or a leveraged product (embedded leverage above
//     1), so its leverage cannot be measured, unless the change only reduced
//     risk: the loan did not grow and no holding other than cash grew. Fully
//     paid, unleveraged holdings need no price.
//
// Both accounts must be the same party's; the caps are those of
// after.Party's effective status.
func (rb *Rulebook) CheckAccount(before, after Account) []Reason {
	mb, ma := rb.Measure(before), rb.Measure(after)
	var out []Reason
	id := after.Party.ID
	if len(ma.Unpriced) > 0 && riskAdded(before, after) {
		why := ""
		switch lev := leveragedSymbols(after); {
		case after.Loan.Sign() > 0:
			why = fmt.Sprintf("a loan of %s", after.Loan)
		case len(lev) > 0:
			why = "leveraged holdings (" + strings.Join(lev, ", ") + ")"
		}
		if why != "" {
			out = append(out, NewReason(CodePriceUnavailable, "account_leverage",
				fmt.Sprintf("%s holds %s with no price and has %s, so its leverage cannot be measured; the oracle must set a price for %s first",
					id, strings.Join(ma.Unpriced, ", "), why, strings.Join(ma.Unpriced, ", "))))
		}
	}
	worse := ma.Equity.LessThan(mb.Equity) || ma.Requirement.GreaterThan(mb.Requirement)
	if ma.Equity.LessThan(ma.Requirement) && worse {
		short := ma.Requirement.Sub(ma.Equity)
		out = append(out, NewReason(CodeLeverageExceeded, "account_leverage",
			fmt.Sprintf("%s (%s) would carry %s of exposure on %s of equity; its leverage caps require equity of at least %s, %s more than it would have (the requirement goes from %s to %s, equity from %s to %s); add cash, repay the loan or take a smaller position",
				id, after.Party.EffectiveStatus(), show(ma.Exposure), show(ma.Equity), show(ma.Requirement), show(short),
				show(mb.Requirement), show(ma.Requirement), show(mb.Equity), show(ma.Equity))))
	}
	if ma.InMarginCall() && after.Loan.GreaterThan(before.Loan) {
		out = append(out, NewReason(CodeLeverageExceeded, "maintenance_margin",
			fmt.Sprintf("%s is in a margin call (equity %s, maintenance requirement %s, deficit %s); no further loan is accepted until it is met",
				id, show(ma.Equity), show(ma.Maintenance), show(ma.Deficit()))))
	}
	SortReasons(out)
	return out
}

// show formats an amount for a message with at most 6 fraction digits, rounded
// up; the decision itself compares the exact values.
func show(d decimal.Decimal) string {
	return d.RoundCeil(6).String()
}

// riskAdded reports whether the change could have added risk: the loan grew,
// or some holding other than cash grew.
func riskAdded(before, after Account) bool {
	if after.Loan.GreaterThan(before.Loan) {
		return true
	}
	for _, pos := range after.Positions {
		if pos.Class == ClassCash {
			continue
		}
		if quantityOf(after, pos.Symbol).GreaterThan(quantityOf(before, pos.Symbol)) {
			return true
		}
	}
	return false
}

func quantityOf(a Account, symbol string) decimal.Decimal {
	q := decimal.Zero
	for _, pos := range a.Positions {
		if pos.Symbol == symbol {
			q = q.Add(pos.Quantity)
		}
	}
	return q
}

// leveragedSymbols lists, sorted, the symbols held with embedded leverage
// above 1.
func leveragedSymbols(a Account) []string {
	var out []string
	one := decimal.NewFromInt(1)
	for _, pos := range a.Positions {
		if !pos.Quantity.IsZero() && embeddedLeverage(pos.EmbeddedLeverage).GreaterThan(one) && !slices.Contains(out, pos.Symbol) {
			out = append(out, pos.Symbol)
		}
	}
	slices.Sort(out)
	return out
}
