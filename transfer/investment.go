package transfer

import (
	"cmp"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
)

// Investment is one investment a party made under an investment limit:
// units of Symbol received from its issuer at Time, worth Value in the base
// currency (the instruction's consideration, or units × price). The ledger
// keeps them so a limit over 12 months or per offering can sum them.
type Investment struct {
	Party  string          `json:"party"`
	Symbol string          `json:"symbol"`
	Time   time.Time       `json:"time"`
	Value  decimal.Decimal `json:"value"`
}

// pendingInvestment is an investment made by the instruction, checked once
// every leg has applied.
type pendingInvestment struct {
	party  Party
	in     Instrument
	value  decimal.Decimal
	priced bool
}

// baseFigure parses an income or net worth that Validate checked.
func baseFigure(a *Amount) *decimal.Decimal {
	if a == nil {
		return nil
	}
	d, err := ParseAmount(string(*a), MaxDecimals)
	assert(err == nil, "validated figure %q: %v", *a, err)
	return &d
}

// invest records units of in that party received from its issuer, when an
// investment limit of the rulebook covers them: their value is the
// consideration if the instruction names one, else units × price.
func (e *effect) invest(to *Party, in *Instrument, units decimal.Decimal, consideration *Amount) {
	if !e.rb.InvestmentLimited(to.Eligibility(), in.Product()) {
		return
	}
	inv := pendingInvestment{party: *to, in: *in, priced: true}
	if consideration != nil {
		inv.value = *baseFigure(consideration)
	} else if price, ok := priceOf(e.d, *in, e.rb.BaseCurrency()); ok {
		inv.value = units.Mul(price)
	} else {
		inv.priced = false
	}
	e.pending = append(e.pending, inv)
}

// checkInvestments checks each investment of the instruction against the
// investor's limit, counting its investments before and this instruction's
// earlier ones, and records those accepted for the ledger to keep.
func (e *effect) checkInvestments() {
	for _, p := range e.pending {
		past := e.pastInvestments(p.party.ID)
		rs := e.rb.CheckInvestment(eligibility.InvestmentChange{
			Now: e.now, Party: p.party.Eligibility(), Product: p.in.Product(),
			Value: p.value, Priced: p.priced, Past: past,
		})
		if e.refuseAll(rs) {
			continue
		}
		e.d.investments = append(e.d.investments, Investment{Party: p.party.ID, Symbol: p.in.Symbol, Time: e.now, Value: p.value})
	}
}

// pastInvestments is the party's investments before and in this
// instruction, with the regime of each.
func (e *effect) pastInvestments(party string) []eligibility.Investment {
	var out []eligibility.Investment
	for _, inv := range e.d.Investments(party) {
		in, ok := e.d.Instrument(inv.Symbol)
		assert(ok, "investment in unknown instrument %s", inv.Symbol)
		out = append(out, eligibility.Investment{Symbol: inv.Symbol, Regime: in.Regime, Time: inv.Time, Value: inv.Value})
	}
	return out
}

// Investments lists the party's investments, the delta's after the base's.
func (d *Delta) Investments(party string) []Investment {
	base := d.base.Investments(party)
	var mine []Investment
	for _, inv := range d.investments {
		if inv.Party == party {
			mine = append(mine, inv)
		}
	}
	if len(mine) == 0 {
		return base
	}
	return append(slices.Clone(base), mine...)
}

// sortedInvestments sorts a delta's investments by party, symbol and time,
// merging those of one party, symbol and time: the ledger keys them so.
func sortedInvestments(list []Investment) []Investment {
	if len(list) == 0 {
		return nil
	}
	out := slices.Clone(list)
	slices.SortStableFunc(out, compareInvestments)
	merged := out[:1]
	for _, inv := range out[1:] {
		last := &merged[len(merged)-1]
		if compareInvestments(*last, inv) == 0 {
			last.Value = last.Value.Add(inv.Value)
			continue
		}
		merged = append(merged, inv)
	}
	return merged
}

func compareInvestments(a, b Investment) int {
	if c := cmp.Compare(a.Party, b.Party); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Symbol, b.Symbol); c != 0 {
		return c
	}
	return a.Time.Compare(b.Time)
}
