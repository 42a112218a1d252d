package transfer_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/fixed"
	"github.com/tokenledger/tokenledger/transfer"
)

// mapView is transfer.View over maps, so Effect is tested without bbolt. It
// keeps what the ledger keeps: holdings with a balance or a frozen amount,
// loans with an amount. Like the ledger's view it hands out the stored lots
// slice itself, not a copy, so a test notices an Effect that writes through
// it (runEffect compares the view before and after).
type mapView struct {
	tb          testing.TB
	parties     map[string]transfer.Party
	instruments map[string]transfer.Instrument
	holdings    map[holdingKey]transfer.Holding
	loans       map[loanKey]transfer.Loan
	prices      map[string]transfer.Price
	investments []transfer.Investment // by party, symbol, time
	rulebook    *eligibility.Rulebook
}

type holdingKey struct{ party, symbol string }

type loanKey struct{ party, cash, lender string }

var _ transfer.View = (*mapView)(nil)

func newMapView(tb testing.TB, rb *eligibility.Rulebook) *mapView {
	return &mapView{
		tb:          tb,
		parties:     map[string]transfer.Party{},
		instruments: map[string]transfer.Instrument{},
		holdings:    map[holdingKey]transfer.Holding{},
		loans:       map[loanKey]transfer.Loan{},
		prices:      map[string]transfer.Price{},
		rulebook:    rb,
	}
}

func (v *mapView) Party(id string) (transfer.Party, bool) {
	p, ok := v.parties[id]
	return p, ok
}

func (v *mapView) Instrument(symbol string) (transfer.Instrument, bool) {
	in, ok := v.instruments[symbol]
	return in, ok
}

func (v *mapView) Holding(party, symbol string) (transfer.Holding, bool) {
	h, ok := v.holdings[holdingKey{party, symbol}]
	return h, ok
}

func (v *mapView) PartyHoldings(party string) []transfer.Holding {
	var out []transfer.Holding
	for k, h := range v.holdings {
		if k.party == party && (!h.Balance.IsZero() || !h.Frozen.IsZero()) {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b transfer.Holding) int { return cmp.Compare(a.Symbol, b.Symbol) })
	return out
}

func (v *mapView) Holders(symbol string) []string {
	var out []string
	for k, h := range v.holdings {
		if k.symbol == symbol && h.Balance.Sign() > 0 {
			out = append(out, k.party)
		}
	}
	slices.Sort(out)
	return out
}

func (v *mapView) Price(symbol string) (transfer.Price, bool) {
	p, ok := v.prices[symbol]
	return p, ok
}

func (v *mapView) Loans(party string) []transfer.Loan {
	var out []transfer.Loan
	for k, l := range v.loans {
		if k.party == party && !l.Amount.IsZero() {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b transfer.Loan) int {
		return cmp.Or(cmp.Compare(a.Cash, b.Cash), cmp.Compare(a.Lender, b.Lender))
	})
	return out
}

func (v *mapView) Investments(party string) []transfer.Investment {
	var out []transfer.Investment
	for _, inv := range v.investments {
		if inv.Party == party {
			out = append(out, inv)
		}
	}
	return out
}

func (v *mapView) Rulebook() *eligibility.Rulebook { return v.rulebook }

// commit writes an accepted delta's changes, as the ledger does: a holding
// with neither balance nor frozen amount, and a repaid loan, are deleted.
func (v *mapView) commit(c transfer.Changes) {
	for _, p := range c.Parties {
		v.parties[p.ID] = p
	}
	for _, in := range c.Instruments {
		v.instruments[in.Symbol] = in
	}
	for _, h := range c.Holdings {
		k := holdingKey{h.Party, h.Symbol}
		if h.Balance.IsZero() && h.Frozen.IsZero() {
			delete(v.holdings, k)
			continue
		}
		v.holdings[k] = h
	}
	for _, l := range c.Loans {
		k := loanKey{l.Party, l.Cash, l.Lender}
		if l.Amount.IsZero() {
			delete(v.loans, k)
			continue
		}
		v.loans[k] = l
	}
	for _, p := range c.Prices {
		v.prices[p.Symbol] = p
	}
	v.investments = append(v.investments, c.Investments...)
	slices.SortStableFunc(v.investments, func(a, b transfer.Investment) int {
		return cmp.Or(cmp.Compare(a.Party, b.Party), cmp.Compare(a.Symbol, b.Symbol), a.Time.Compare(b.Time))
	})
	if c.Rulebook != nil {
		v.rulebook = c.Rulebook
	}
}

// invariants lists what is wrong with the state, by the rules ledger.Check
// enforces on the stored state: each supply is the sum of its balances, the
// holder counts match the holdings, lots sum to balances, nothing frozen
// exceeds its balance, and everything refers to what exists.
func (v *mapView) invariants() []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	type count struct {
		supply                        decimal.Decimal
		holders, nonAccreditedHolders int
	}
	counts := map[string]*count{}
	for _, k := range sortedKeys(v.holdings, compareHoldingKeys) {
		h := v.holdings[k]
		p, pok := v.parties[k.party]
		_, iok := v.instruments[k.symbol]
		if !pok || !iok || h.Party != k.party || h.Symbol != k.symbol {
			bad("holding %v names a missing party or instrument, or is stored under another key", k)
			continue
		}
		if h.Balance.IsNegative() || h.Frozen.IsNegative() || h.Frozen.GreaterThan(h.Balance) {
			bad("holding %v: balance %s, frozen %s", k, h.Balance, h.Frozen)
		}
		sum := fixed.Zero
		for i, l := range h.Lots {
			if l.Amount.Sign() <= 0 || (i > 0 && l.AcquiredAt.Before(h.Lots[i-1].AcquiredAt)) {
				bad("holding %v: lot %d is empty or out of date order: %v", k, i, h.Lots)
			}
			sum = sum.Add(l.Amount)
		}
		if !sum.Equal(h.Balance) {
			bad("holding %v: lots sum to %s, balance is %s", k, sum, h.Balance)
		}
		c := counts[k.symbol]
		if c == nil {
			c = &count{supply: decimal.Zero}
			counts[k.symbol] = c
		}
		c.supply = c.supply.Add(h.Balance.Decimal())
		if h.Balance.Sign() > 0 {
			c.holders++
			if p.Role == eligibility.RoleInvestor && p.Status == eligibility.StatusRetail {
				c.nonAccreditedHolders++
			}
		}
	}
	for _, symbol := range sortedKeys(v.instruments, cmp.Compare[string]) {
		in, c := v.instruments[symbol], counts[symbol]
		if c == nil {
			c = &count{supply: decimal.Zero}
		}
		if !in.Supply.Equal(c.supply) || in.HolderCount != c.holders || in.NonAccreditedHolders != c.nonAccreditedHolders {
			bad("instrument %s: supply %s, holders %d, non-accredited %d; the holdings give %s, %d, %d",
				symbol, in.Supply, in.HolderCount, in.NonAccreditedHolders, c.supply, c.holders, c.nonAccreditedHolders)
		}
		if in.MaxSupply != nil && in.Supply.GreaterThan(*in.MaxSupply) {
			bad("instrument %s: supply %s above max_supply %s", symbol, in.Supply, *in.MaxSupply)
		}
	}
	for _, k := range sortedKeys(v.loans, compareLoanKeys) {
		l := v.loans[k]
		_, pok := v.parties[k.party]
		_, lok := v.parties[k.lender]
		cash, cok := v.instruments[k.cash]
		if !pok || !lok || !cok || !cash.IsCash() || l.Amount.Sign() <= 0 {
			bad("loan %v: %s, to a missing party or lender, or in no cash instrument", k, l.Amount)
		}
	}
	return out
}

// dump renders the whole state, one object a line in key order, to see
// whether Effect wrote through its view.
func (v *mapView) dump() []string {
	var out []string
	add := func(kind string, x any) { out = append(out, kind+" "+mustJSON(v.tb, x)) }
	for _, id := range sortedKeys(v.parties, cmp.Compare[string]) {
		add("party", v.parties[id])
	}
	for _, s := range sortedKeys(v.instruments, cmp.Compare[string]) {
		add("instrument", v.instruments[s])
	}
	for _, k := range sortedKeys(v.holdings, compareHoldingKeys) {
		add("holding", v.holdings[k])
	}
	for _, k := range sortedKeys(v.loans, compareLoanKeys) {
		add("loan", v.loans[k])
	}
	for _, s := range sortedKeys(v.prices, cmp.Compare[string]) {
		add("price", v.prices[s])
	}
	return append(out, "rulebook "+v.rulebook.Version())
}

// render gives the changes of a delta one object a line, in the order
// Changes lists them; JSON shows every field, and equal decimals alike.
func render(tb testing.TB, c transfer.Changes) []string {
	var out []string
	add := func(kind string, x any) { out = append(out, kind+" "+mustJSON(tb, x)) }
	for _, p := range c.Parties {
		add("party", p)
	}
	for _, in := range c.Instruments {
		add("instrument", in)
	}
	for _, h := range c.Holdings {
		add("holding", h)
	}
	for _, l := range c.Loans {
		add("loan", l)
	}
	for _, p := range c.Prices {
		add("price", p)
	}
	if c.Rulebook != nil {
		out = append(out, "rulebook "+c.Rulebook.Version())
	}
	if c.Scheduled != nil {
		out = append(out, "scheduled rulebook "+c.Scheduled.Rulebook.Version()+" at "+c.Scheduled.EffectiveAt.Format(time.RFC3339Nano))
	}
	for _, w := range c.WrittenOff {
		add("written_off", w)
	}
	for _, inv := range c.Investments {
		add("investment", inv)
	}
	return out
}

func mustJSON(tb testing.TB, x any) string {
	tb.Helper()
	b, err := json.Marshal(x)
	if err != nil {
		tb.Fatalf("encode %T: %v", x, err)
	}
	return string(b)
}

func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}

func compareHoldingKeys(a, b holdingKey) int {
	return cmp.Or(cmp.Compare(a.party, b.party), cmp.Compare(a.symbol, b.symbol))
}

func compareLoanKeys(a, b loanKey) int {
	return cmp.Or(cmp.Compare(a.party, b.party), cmp.Compare(a.cash, b.cash), cmp.Compare(a.lender, b.lender))
}

// The fixture. Every test starts from the same state (newWorld) at the same
// instant (now), then a row's setup changes what it needs.
var (
	now     = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	genesis = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ago is days before now.
func ago(days int) time.Time { return now.Add(-time.Duration(days) * 24 * time.Hour) }

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func amt(s string) *transfer.Amount { a := transfer.Amount(s); return &a }

func lot(amount string, at time.Time) transfer.Lot {
	return transfer.Lot{Amount: fixed.From(dec(amount)), AcquiredAt: at}
}

func holding(party, symbol, balance, frozen string, lots ...transfer.Lot) transfer.Holding {
	return transfer.Holding{Party: party, Symbol: symbol, Balance: fixed.From(dec(balance)), Frozen: fixed.From(dec(frozen)), Lots: lots}
}

// oneLot is a holding of a single lot acquired at, none of it frozen: what
// most writes leave.
func oneLot(party, symbol, amount string, at time.Time) transfer.Holding {
	return holding(party, symbol, amount, "0", lot(amount, at))
}

var equity = eligibility.Attributes{Underlying: eligibility.UnderlyingEnterpriseEquity, Payoff: eligibility.PayoffLinear,
	EmbeddedLeverage: decimal.NewFromInt(1), EconomicPurpose: eligibility.PurposeCapitalFormation}

// newWorld builds the fixture under the embedded default rulebook:
//
//   - parties: the operator op, issuers iss and iss-2, custodians cus and
//     cus-2, the oracle orc, and investors in cus's custody: ret-us (retail),
//     acc-us, acc-de, bor, new (accredited), lapsed (accredited, KYC expired
//     yesterday) and frz (accredited, frozen);
//   - USD, cash (unrestricted, 2 decimals): iss 1000, cus 500, ret-us 100,
//     acc-de 200, bor 300, frz 5; bor owes cus 100 USD;
//   - REG, registered equity (2 decimals, max_supply 1000, price 10): iss 40,
//     ret-us 50, acc-us 10 of which 4 frozen, lapsed 5;
//   - LOCK, Reg D 506(c) equity (0 decimals, a 365-day lock-up, no price):
//     acc-us 30, in a lot of 15 past its lock-up and one of 15 inside it;
//   - PAUSED, registered equity, paused: iss 5.
//
// Every lot not named was acquired 100 days ago.
func newWorld(tb testing.TB) *mapView {
	tb.Helper()
	w := newMapView(tb, eligibility.Default())
	for _, p := range []struct {
		id   string
		role eligibility.Role
	}{
		{"op", eligibility.RoleOperator}, {"iss", eligibility.RoleIssuer}, {"iss-2", eligibility.RoleIssuer},
		{"cus", eligibility.RoleCustodian}, {"cus-2", eligibility.RoleCustodian}, {"orc", eligibility.RoleOracle},
	} {
		w.parties[p.id] = transfer.Party{ID: p.id, Role: p.role, CreatedAt: genesis}
	}
	for _, p := range []struct {
		id, jurisdiction string
		status           eligibility.Status
		kyc              time.Time
	}{
		{"ret-us", "US", eligibility.StatusRetail, ago(-365)},
		{"acc-us", "US", eligibility.StatusAccredited, ago(-365)},
		{"acc-de", "DE", eligibility.StatusAccredited, ago(-365)},
		{"bor", "US", eligibility.StatusAccredited, ago(-365)},
		{"new", "US", eligibility.StatusAccredited, ago(-365)},
		{"lapsed", "US", eligibility.StatusAccredited, ago(1)},
		{"frz", "US", eligibility.StatusAccredited, ago(-365)},
	} {
		kyc := p.kyc
		w.parties[p.id] = transfer.Party{ID: p.id, Role: eligibility.RoleInvestor, Status: p.status,
			Jurisdiction: p.jurisdiction, KYCExpiresAt: &kyc, Custodian: "cus", Frozen: p.id == "frz", CreatedAt: genesis}
	}
	w.addInstrument("USD", "unrestricted", 2, nil, eligibility.Attributes{Underlying: eligibility.UnderlyingCash,
		Payoff: eligibility.PayoffLinear, EmbeddedLeverage: decimal.NewFromInt(1), EconomicPurpose: eligibility.PurposePayment})
	maxREG := dec("1000")
	w.addInstrument("REG", "registered", 2, &maxREG, equity)
	w.addInstrument("LOCK", "reg_d_506c", 0, nil, equity)
	w.addInstrument("PAUSED", "registered", 0, nil, equity)
	w.pause("PAUSED")

	for _, h := range []struct{ party, symbol, amount string }{
		{"iss", "USD", "1000"}, {"cus", "USD", "500"}, {"ret-us", "USD", "100"}, {"acc-de", "USD", "200"},
		{"bor", "USD", "300"}, {"frz", "USD", "5"},
		{"iss", "REG", "40"}, {"ret-us", "REG", "50"}, {"acc-us", "REG", "10"}, {"lapsed", "REG", "5"},
		{"iss", "PAUSED", "5"},
	} {
		w.hold(h.party, h.symbol, h.amount)
	}
	w.hold("acc-us", "LOCK", "30", lot("15", ago(400)), lot("15", ago(10)))
	w.freezeAmount("acc-us", "REG", "4")
	w.loans[loanKey{"bor", "USD", "cus"}] = transfer.Loan{Party: "bor", Cash: "USD", Lender: "cus", Amount: dec("100")}
	w.prices["REG"] = transfer.Price{Symbol: "REG", Price: dec("10"), Time: ago(1)}
	if errs := w.invariants(); len(errs) > 0 {
		tb.Fatalf("the fixture is inconsistent: %v", errs)
	}
	return w
}

// addInstrument adds an instrument issued by iss and offered at genesis,
// classified by the rulebook as create_instrument would.
func (v *mapView) addInstrument(symbol, regime string, decimals int32, maxSupply *decimal.Decimal, attrs eligibility.Attributes) {
	c := v.rulebook.Classify(attrs)
	v.instruments[symbol] = transfer.Instrument{
		Symbol: symbol, Name: symbol + " test instrument", Issuer: "iss", Decimals: decimals, MaxSupply: maxSupply,
		Regime: regime, OfferingDate: genesis, Attributes: attrs,
		Class: c.Class, Regulator: c.Regulator, Category: c.Category, ClassificationReasons: c.Reasons,
		Supply: decimal.Zero, CreatedAt: genesis,
	}
}

// hold sets a party's balance of symbol (its lots: the given ones, or one
// lot acquired 100 days ago), keeping the instrument's supply and holder
// counts in step.
func (v *mapView) hold(party, symbol, amount string, lots ...transfer.Lot) {
	v.tb.Helper()
	p, in := v.party(party), v.instrument(symbol)
	old := v.holdings[holdingKey{party, symbol}]
	h := transfer.Holding{Party: party, Symbol: symbol, Balance: fixed.From(dec(amount)), Frozen: fixed.Zero, Lots: lots}
	if len(lots) == 0 && h.Balance.Sign() > 0 {
		h.Lots = []transfer.Lot{lot(amount, ago(100))}
	}
	if !old.Frozen.IsZero() {
		h.Frozen = old.Frozen
	}
	in.Supply = in.Supply.Sub(old.Balance.Decimal()).Add(h.Balance.Decimal())
	step := 0
	switch {
	case old.Balance.Sign() <= 0 && h.Balance.Sign() > 0:
		step = 1
	case old.Balance.Sign() > 0 && h.Balance.Sign() <= 0:
		step = -1
	}
	in.HolderCount += step
	if p.Role == eligibility.RoleInvestor && p.Status == eligibility.StatusRetail {
		in.NonAccreditedHolders += step
	}
	v.instruments[symbol] = in
	if h.Balance.IsZero() && h.Frozen.IsZero() {
		delete(v.holdings, holdingKey{party, symbol})
		return
	}
	v.holdings[holdingKey{party, symbol}] = h
}

// freezeAmount sets the frozen part of an existing holding.
func (v *mapView) freezeAmount(party, symbol, amount string) {
	v.tb.Helper()
	h, ok := v.holdings[holdingKey{party, symbol}]
	if !ok {
		v.tb.Fatalf("fixture: %s holds no %s to freeze", party, symbol)
	}
	h.Frozen = fixed.From(dec(amount))
	v.holdings[holdingKey{party, symbol}] = h
}

// freezeParty freezes a whole party.
func (v *mapView) freezeParty(id string) {
	p := v.party(id)
	p.Frozen = true
	v.parties[id] = p
}

func (v *mapView) pause(symbol string) {
	in := v.instrument(symbol)
	in.Paused = true
	v.instruments[symbol] = in
}

// party and instrument return a fixture object to build an expected value
// from; a name the fixture lacks is a mistake in the test.
func (v *mapView) party(id string) transfer.Party {
	v.tb.Helper()
	return stored(v.tb, v.parties, "party", id)
}

func (v *mapView) instrument(symbol string) transfer.Instrument {
	v.tb.Helper()
	return stored(v.tb, v.instruments, "instrument", symbol)
}

func stored[V any](tb testing.TB, m map[string]V, kind, key string) V {
	tb.Helper()
	x, ok := m[key]
	if !ok {
		tb.Fatalf("fixture has no %s %s", kind, key)
	}
	return x
}

// addHolders makes n more accredited investors hold one unit of symbol each,
// to bring an instrument to a holder limit honestly.
func (v *mapView) addHolders(symbol string, n int) {
	v.tb.Helper()
	kyc := ago(-365)
	for i := range n {
		id := fmt.Sprintf("h-%04d", i)
		v.parties[id] = transfer.Party{ID: id, Role: eligibility.RoleInvestor, Status: eligibility.StatusAccredited,
			Jurisdiction: "US", KYCExpiresAt: &kyc, Custodian: "cus", CreatedAt: genesis}
		v.hold(id, symbol, "1")
	}
}

// TestMapViewHonoursTheViewContract checks the fake against what View
// documents, so the Effect tests decide against a faithful state: lists
// sorted by key, zero holdings and repaid loans left out.
func TestMapViewHonoursTheViewContract(t *testing.T) {
	w := newWorld(t)
	w.holdings[holdingKey{"new", "REG"}] = holding("new", "REG", "0", "0")
	w.loans[loanKey{"bor", "USD", "cus-2"}] = transfer.Loan{Party: "bor", Cash: "USD", Lender: "cus-2", Amount: decimal.Zero}
	w.loans[loanKey{"bor", "USD", "cus-0"}] = transfer.Loan{Party: "bor", Cash: "USD", Lender: "cus-0", Amount: dec("1")}

	if got, want := w.Holders("REG"), []string{"acc-us", "iss", "lapsed", "ret-us"}; !slices.Equal(got, want) {
		t.Errorf("Holders(REG) = %v, want %v", got, want)
	}
	var symbols []string
	for _, h := range w.PartyHoldings("acc-us") {
		symbols = append(symbols, h.Symbol)
	}
	if want := []string{"LOCK", "REG"}; !slices.Equal(symbols, want) {
		t.Errorf("PartyHoldings(acc-us) symbols = %v, want %v", symbols, want)
	}
	if got := w.PartyHoldings("new"); len(got) != 0 {
		t.Errorf("PartyHoldings(new) = %v, want none: a zero holding is not listed", got)
	}
	var lenders []string
	for _, l := range w.Loans("bor") {
		lenders = append(lenders, l.Lender)
	}
	if want := []string{"cus", "cus-0"}; !slices.Equal(lenders, want) {
		t.Errorf("Loans(bor) lenders = %v, want %v", lenders, want)
	}
	if _, ok := w.Holding("acc-de", "REG"); ok {
		t.Errorf("Holding(acc-de, REG) found, want absent")
	}
	if p, ok := w.Price("REG"); !ok || !p.Price.Equal(dec("10")) {
		t.Errorf("Price(REG) = %v, %v; want 10", p, ok)
	}
	if rb := w.Rulebook(); rb != eligibility.Default() {
		t.Errorf("Rulebook() = %s, want the embedded default", rb.Version())
	}
}
