package ledger

import (
	"testing"
)

// buyREG is the delivery-versus-payment of the worked examples: ret-us
// buys amount REG from iss-1 at 1 USD each.
func buyREG(amount string) string {
	return ins("transfer", map[string]any{"legs": []map[string]any{
		{"symbol": "REG", "from": "iss-1", "to": "ret-us", "amount": amount},
		{"symbol": "USD", "from": "ret-us", "to": "iss-1", "amount": amount},
	}})
}

func markREG(h *harness, price string) {
	h.t.Helper()
	h.mustAccept("oracle", ins("set_price", map[string]any{"symbol": "REG", "price": price}))
}

func closeOutBody(symbol, amount string) string {
	return ins("close_out", map[string]any{"party_id": "ret-us", "symbol": symbol, "amount": amount})
}

// wantMargin checks ret-us's holdings figures against RULES.md's.
func wantMargin(t *testing.T, h *harness, equity, requirement, maintenance, deficit string, call bool) Holdings {
	t.Helper()
	hs, err := h.s.PartyHoldings("ret-us", h.now)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{hs.Equity.String(), hs.Requirement.String(), hs.MaintenanceRequirement.String(), hs.Deficit.String()}
	want := []string{equity, requirement, maintenance, deficit}
	for i, name := range []string{"equity", "requirement", "maintenance_requirement", "deficit"} {
		if got[i] != want[i] {
			t.Errorf("%s = %s, want %s", name, got[i], want[i])
		}
	}
	if hs.MarginCall != call {
		t.Errorf("margin_call = %v, want %v", hs.MarginCall, call)
	}
	calls, err := h.s.MarginCalls()
	if err != nil {
		t.Fatal(err)
	}
	listed := len(calls) == 1 && calls[0].Party == "ret-us" && calls[0].Custodian == "cus-1"
	if listed != call || len(calls) > 1 {
		t.Errorf("margin calls = %+v, want ret-us listed: %v", calls, call)
	}
	return hs
}

// The worked example of RULES.md "Maintenance margin, margin calls,
// close-out": retail, 1,000 USD, borrows 1,500, buys 2,000 of a security at
// 1 (equity 1,000, requirement 1,000, maintenance 500).
func TestMaintenanceMargin_WorkedExample(t *testing.T) {
	h := newBorrowerHarness(t)
	h.mustAccept(OperatorID, buyREG("2000"))
	wantMargin(t, h, "1000", "1000", "500", "0", false)
	h.mustReject("cus-1", closeOutBody("REG", "100"), "NOT_IN_MARGIN_CALL")

	markREG(h, "0.70")
	wantMargin(t, h, "400", "700", "350", "0", false)

	markREG(h, "0.60")
	wantMargin(t, h, "200", "600", "300", "100", true)
	// While the call lasts, no further loan.
	o := h.mustReject("cus-1", ins("borrow", map[string]any{"party_id": "ret-us", "cash_symbol": "USD", "amount": "10"}), "LEVERAGE_EXCEEDED")
	if o.Reason.Rule != "maintenance_margin" {
		t.Errorf("rule = %q, want maintenance_margin", o.Reason.Rule)
	}
	h.mustReject("cus-1", closeOutBody("USD", "600"), "INSUFFICIENT_BALANCE")

	h.mustAccept("cus-1", closeOutBody("REG", "700"))
	hs := wantMargin(t, h, "200", "390", "195", "0", false)
	if hs.Loan.String() != "1080" {
		t.Errorf("loan = %s, want 1080", hs.Loan)
	}
}

// The write-off of the worked example: marked at 0.10 instead, equity is
// -800; closing out all 2,000 units (loan -200) and the 500 USD (loan -500)
// leaves a loan of 800 and nothing held: 800 is written off.
func TestMaintenanceMargin_WriteOff(t *testing.T) {
	h := newBorrowerHarness(t)
	h.mustAccept(OperatorID, buyREG("2000"))
	markREG(h, "0.10")
	hs := wantMargin(t, h, "-800", "100", "50", "850", true)
	if hs.Leverage != nil {
		t.Errorf("leverage = %s, want null for an account with no equity", hs.Leverage)
	}
	h.mustAccept("cus-1", closeOutBody("REG", "2000"))
	hs = wantMargin(t, h, "-800", "0", "0", "800", true)
	if hs.Loan.String() != "1300" {
		t.Errorf("loan = %s, want 1300", hs.Loan)
	}
	h.mustReject("cus-1", closeOutBody("USD", "500.01"), "INSUFFICIENT_BALANCE")
	h.mustAccept("cus-1", closeOutBody("USD", "500"))
	hs = wantMargin(t, h, "0", "0", "0", "0", false)
	if !hs.Loan.IsZero() || len(hs.Holdings) != 0 {
		t.Errorf("after the write-off: loan %s, holdings %+v; want 0 and none", hs.Loan, hs.Holdings)
	}
}

// An accredited account is not protected: a close-out that leaves it with
// nothing leaves the rest of the loan owed.
func TestMaintenanceMargin_NoWriteOffUnprotected(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, mintBody("USD", "cus-1", "100000"))
	h.mustAccept(OperatorID, mintBody("USD", "acc-us", "1000"))
	h.mustAccept("iss-1", mintBody("REG", "iss-1", "10000"))
	markREG(h, "1")
	h.mustAccept("cus-1", ins("borrow", map[string]any{"party_id": "acc-us", "cash_symbol": "USD", "amount": "1000"}))
	h.mustAccept(OperatorID, ins("transfer", map[string]any{"legs": []map[string]any{
		{"symbol": "REG", "from": "iss-1", "to": "acc-us", "amount": "2000"},
		{"symbol": "USD", "from": "acc-us", "to": "iss-1", "amount": "2000"},
	}}))
	markREG(h, "0.10")
	h.mustAccept("cus-1", ins("close_out", map[string]any{"party_id": "acc-us", "symbol": "REG", "amount": "2000"}))
	hs, _ := h.s.PartyHoldings("acc-us", h.now)
	if hs.Loan.String() != "800" || len(hs.Holdings) != 0 {
		t.Errorf("loan = %s, holdings %+v; want 800 and none (accredited: no negative-balance protection)", hs.Loan, hs.Holdings)
	}
}

// RULES.md "Money": a cash instrument in another currency is worth its
// balance × its exchange rate, and nothing unpriced.
func TestForeignCash(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, ins("create_instrument", instrument("JPY", "unrestricted", "cash", 0, map[string]any{"currency": "JPY"})))
	h.mustReject("oracle", ins("set_price", map[string]any{"symbol": "USD", "price": "2"}), "INVALID_INSTRUCTION")
	h.mustAccept(OperatorID, mintBody("JPY", "ret-us", "150000"))
	hs, _ := h.s.PartyHoldings("ret-us", h.now)
	if !hs.Equity.IsZero() || len(hs.Unpriced) != 1 || hs.Unpriced[0] != "JPY" {
		t.Errorf("unpriced JPY: equity %s unpriced %v, want 0 and [JPY]", hs.Equity, hs.Unpriced)
	}
	h.mustAccept("oracle", ins("set_price", map[string]any{"symbol": "JPY", "price": "0.0065"}))
	hs, _ = h.s.PartyHoldings("ret-us", h.now)
	if hs.Equity.String() != "975" {
		t.Errorf("equity = %s, want 975 (150,000 JPY at 0.0065)", hs.Equity)
	}
	in, _ := h.s.Instrument("JPY")
	if in.Currency != "JPY" {
		t.Errorf("currency = %q after a round trip through the store, want JPY", in.Currency)
	}
}

// RULES.md "Position limits": retail, accredited and qualified purchasers
// may hold at most 25% of the supply of a derivative or event contract; the
// issuer is exempt, and reducing a position passes.
func TestPositionLimit_ShareOfSupply(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("EVT", "cftc", "event", 0, map[string]any{
		"attributes": map[string]any{"payoff": "linear", "economic_purpose": "hedging", "expiry_days": 365}})))
	h.mustAccept("iss-1", mintBody("EVT", "iss-1", "750"))
	h.mustAccept("iss-1", mintBody("EVT", "acc-us", "250")) // 25% of 1,000: at the limit
	o := h.mustReject("iss-1", mintBody("EVT", "acc-us", "1"), "POSITION_LIMIT")
	if o.Reason.Rule != "spot_month_share" {
		t.Errorf("rule = %q, want spot_month_share", o.Reason.Rule)
	}
	h.mustAccept("iss-1", mintBody("EVT", "inst-us", "4000")) // institutional: no limit
	// Now 250 of 5,000 is 5%: the same position reduced in share; sending some passes.
	h.mustAccept("acc-us", transferBody("EVT", "acc-us", "iss-1", "10"))
	h.mustAccept("iss-1", mintBody("EVT", "iss-1", "1")) // the issuer is exempt
}
