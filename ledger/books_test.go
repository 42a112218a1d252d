package ledger

import (
	"slices"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

func hasRule(rs []eligibility.Reason, code eligibility.Code, rule string) bool {
	return slices.ContainsFunc(rs, func(r eligibility.Reason) bool { return r.Code == code && r.Rule == rule })
}

// TestControlBook checks the control book of API.md: authorized, issued,
// treasury and outstanding on the instrument and at a seq, holder counts
// without the issuer, and update_instrument's floor at what is issued.
func TestControlBook(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("update_instrument", map[string]any{"symbol": "REG", "max_supply": "1000"}))
	h.mustAccept("iss-1", mintBody("REG", "iss-1", "600"))
	first := h.mustAccept("iss-1", mintBody("REG", "acc-us", "100"))
	h.mustAccept("iss-1", transferBody("REG", "iss-1", "qp-us", "50"))

	in, err := h.s.Instrument("REG")
	if err != nil {
		t.Fatal(err)
	}
	dec := decimal.RequireFromString
	if in.ControlBook == nil || !in.Authorized.Equal(dec("1000")) || !in.Issued.Equal(dec("700")) ||
		!in.Treasury.Equal(dec("550")) || !in.Outstanding.Equal(dec("150")) {
		t.Errorf("REG control book = %+v, want authorized 1000, issued 700, treasury 550, outstanding 150", in.ControlBook)
	}
	if in.HolderCount != 2 {
		t.Errorf("REG holder_count = %d, want 2 (the issuer is not a holder of record)", in.HolderCount)
	}

	now, err := h.s.ControlBook("REG", 0, true)
	if err != nil || !now.Reconciled || now.HoldersOfRecord != 2 || !now.Treasury.Equal(dec("550")) || !now.Outstanding.Equal(dec("150")) {
		t.Errorf("ControlBook(now) = %+v, %v", now, err)
	}
	then, err := h.s.ControlBook("REG", first.Seq, false)
	if err != nil || then.Seq != first.Seq || !then.Issued.Equal(dec("700")) || !then.Treasury.Equal(dec("600")) ||
		!then.Outstanding.Equal(dec("100")) || then.HoldersOfRecord != 1 || !then.Reconciled {
		t.Errorf("ControlBook(at %d) = %+v, %v; want issued 700, treasury 600, outstanding 100, 1 holder", first.Seq, then, err)
	}
	if _, err := h.s.ControlBook("REG", first.Seq+100, false); err == nil {
		t.Error("ControlBook beyond the journal: no error")
	}

	h.mustReject("iss-1", ins("update_instrument", map[string]any{"symbol": "REG", "max_supply": "699"}), "SUPPLY_CAP")
	h.mustAccept("iss-1", ins("update_instrument", map[string]any{"symbol": "REG", "max_supply": "700", "name": "Reg Co"}))
	h.mustReject("iss-1", mintBody("REG", "acc-us", "1"), "SUPPLY_CAP")
	if errs := h.s.Check(); len(errs) > 0 {
		t.Errorf("Check: %v", errs)
	}
}

// TestHolderLimitsLeaveOutTheIssuer checks that the 12(g) count of holders
// of record leaves the issuer's treasury out.
func TestHolderLimitsLeaveOutTheIssuer(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("CF", "reg_cf", "enterprise_equity", 0, nil)))
	h.mustAccept("iss-1", mintBody("CF", "iss-1", "10"))
	h.mustAccept("iss-1", mintBody("CF", "acc-us", "10"))
	in, _ := h.s.Instrument("CF")
	if in.HolderCount != 1 {
		t.Errorf("CF holder_count = %d, want 1", in.HolderCount)
	}
}

// TestSeparationOfDuties drives RULES.md's separation of duties: a freeze
// is lifted by its placer or the operator only, and an issuer burns
// another's units only with a legal reference.
func TestSeparationOfDuties(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, mintBody("USD", "acc-us", "100"))
	h.mustAccept("cus-1", ins("freeze", map[string]any{"party_id": "acc-us", "symbol": "USD", "amount": "40"}))
	// iss-1 issues USD, yet may not lift the custodian's freeze.
	o := h.mustReject("iss-1", ins("unfreeze", map[string]any{"party_id": "acc-us", "symbol": "USD"}), "NOT_AUTHORIZED")
	if o.Reason.Rule != "freeze.owner" {
		t.Errorf("issuer lifting a custodian's freeze: rule %q, want freeze.owner", o.Reason.Rule)
	}
	h.mustAccept("cus-1", ins("unfreeze", map[string]any{"party_id": "acc-us", "symbol": "USD", "amount": "10"}))
	h.mustAccept(OperatorID, ins("unfreeze", map[string]any{"party_id": "acc-us", "symbol": "USD"}))
	// A freeze lifted in full forgets its owner: the issuer may now freeze and lift.
	h.mustAccept("iss-1", ins("freeze", map[string]any{"party_id": "acc-us", "symbol": "USD"}))
	h.mustAccept("iss-1", ins("unfreeze", map[string]any{"party_id": "acc-us", "symbol": "USD"}))

	h.mustAccept("iss-1", mintBody("REG", "acc-us", "10"))
	h.mustReject("iss-1", ins("burn", map[string]any{"symbol": "REG", "from": "acc-us", "amount": "5"}), "NOT_AUTHORIZED")
	h.mustAccept("iss-1", ins("burn", map[string]any{"symbol": "REG", "from": "acc-us", "amount": "5", "legal_reference": "court order 2026-17"}))
	h.mustAccept("iss-1", mintBody("REG", "iss-1", "5"))
	h.mustAccept("iss-1", ins("burn", map[string]any{"symbol": "REG", "from": "iss-1", "amount": "5"}))
}

// TestRecoverClosesTheLostAccount checks that a recovered account can
// neither send nor receive again, and that its entry is found by symbol.
func TestRecoverClosesTheLostAccount(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "10"))
	o := h.mustAccept(OperatorID, ins("recover", map[string]any{"from": "acc-us", "to": "qp-us"}))
	p, err := h.s.Party("acc-us")
	if err != nil || !p.Closed {
		t.Fatalf("acc-us after recover = %+v, %v; want closed", p, err)
	}
	h.mustReject("qp-us", transferBody("REG", "qp-us", "acc-us", "1"), "ACCOUNT_CLOSED")
	h.mustReject("iss-1", mintBody("REG", "acc-us", "1"), "ACCOUNT_CLOSED")
	h.mustReject(OperatorID, ins("recover", map[string]any{"from": "acc-us", "to": "inst-us"}), "ACCOUNT_CLOSED")
	page, err := h.s.Journal(JournalQuery{Symbol: "REG", After: o.Seq - 1, Limit: 1})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].Seq != o.Seq {
		t.Errorf("Journal(symbol REG) = %+v, %v; want the recover", page, err)
	}
}

// TestDryRunReportsEveryRule checks POST /v1/check's contract: a frozen
// sender who also lacks the balance is told both, and each rule once.
func TestDryRunReportsEveryRule(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, mintBody("USD", "acc-us", "10"))
	h.mustAccept("cus-1", ins("freeze", map[string]any{"party_id": "acc-us"}))
	two := ins("transfer", map[string]any{"legs": []map[string]any{
		{"symbol": "USD", "from": "acc-us", "to": "qp-us", "amount": "50"},
		{"symbol": "USD", "from": "acc-us", "to": "inst-us", "amount": "60"},
	}})
	instr, err := transfer.Decode([]byte(two))
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.s.DryRun("cus-1", instr, h.now)
	if err != nil {
		t.Fatal(err)
	}
	if !hasRule(out.Reasons, eligibility.CodeAccountFrozen, "account.frozen") || !hasRule(out.Reasons, eligibility.CodeInsufficientBalance, "account.balance") {
		t.Errorf("DryRun reasons = %+v, want ACCOUNT_FROZEN and INSUFFICIENT_BALANCE", out.Reasons)
	}
	if len(out.Reasons) != 2 {
		t.Errorf("DryRun reasons = %+v, want each rule once", out.Reasons)
	}
}

// TestTackingAndAffiliates drives RULES.md's "Holding periods: tacking,
// affiliates": a buyer from a non-affiliate tacks the seller's period; a
// buyer from an affiliate starts anew; an affiliate sells at most 1% of
// the outstanding units in 90 days; holdings show when each lot unlocks.
func TestTackingAndAffiliates(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("ACME", "reg_d_506c", "enterprise_equity", 0, nil)))
	h.mustAccept("iss-1", mintBody("ACME", "acc-us", "1000"))
	h.mustAccept("iss-1", mintBody("ACME", "iss-1", "9000"))
	h.now = h.now.Add(370 * day)
	// Bought from a non-affiliate who held a year: free at once, not a year later.
	h.mustAccept("acc-us", transferBody("ACME", "acc-us", "qp-us", "100"))
	h.mustAccept("qp-us", transferBody("ACME", "qp-us", "inst-us", "10"))

	minted := h.now
	h.mustAccept("iss-1", mintBody("ACME", "qp-us", "50"))
	hs, err := h.s.PartyHoldings("qp-us", h.now)
	if err != nil || len(hs.Lots) != 1 {
		t.Fatalf("qp-us holdings = %+v, %v; want one locked lot", hs, err)
	}
	if l := hs.Lots[0]; l.Symbol != "ACME" || !l.Amount.Equal(decimal.NewFromInt(50)) || !l.UnlocksAt.Equal(minted.Add(365*day)) {
		t.Errorf("qp-us's locked lot = %+v, want 50 ACME unlocking %s", l, minted.Add(365*day))
	}
	// A force_transfer keeps the dates: the lot is still locked after it.
	h.mustAccept(OperatorID, ins("force_transfer", map[string]any{"legal_reference": "order 5",
		"legs": []map[string]any{{"symbol": "ACME", "from": "qp-us", "to": "inst-us", "amount": "140"}}}))
	if hs, _ := h.s.PartyHoldings("inst-us", h.now); len(hs.Lots) != 1 || !hs.Lots[0].UnlocksAt.Equal(minted.Add(365*day)) {
		t.Errorf("inst-us after a force_transfer: locked lots %+v, want the minted lot's", hs.Lots)
	}

	// acc-us becomes an affiliate: outstanding 1050, so 10.5 units in 90 days.
	h.mustAccept("iss-1", ins("update_party", map[string]any{"party_id": "acc-us", "affiliate_of": []string{"ACME"}}))
	h.mustAccept("acc-us", transferBody("ACME", "acc-us", "acc-de", "6"))
	if hs, _ := h.s.PartyHoldings("acc-de", h.now); len(hs.Lots) != 1 || !hs.Lots[0].UnlocksAt.Equal(h.now.Add(365*day)) {
		t.Errorf("acc-de bought from an affiliate: locked lots %+v, want a new period from now", hs.Lots)
	}
	h.mustReject("acc-us", transferBody("ACME", "acc-us", "acc-de", "5"), "VOLUME_LIMIT")
	h.mustAccept("acc-us", transferBody("ACME", "acc-us", "iss-1", "5")) // back to the issuer is no sale
	h.now = h.now.Add(91 * day)
	h.mustAccept("acc-us", transferBody("ACME", "acc-us", "acc-de", "5"))
	if errs := h.s.Check(); len(errs) > 0 {
		t.Errorf("Check: %v", errs)
	}
}

// TestReg506bCountsPurchasersForGood drives RULES.md's "Counting holders":
// a non-accredited purchaser from the issuer keeps its place in the 35
// after it sells.
func TestReg506bCountsPurchasersForGood(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("B", "reg_d_506b", "enterprise_equity", 0, nil)))
	buyers := make([]string, 36)
	for i := range buyers {
		buyers[i] = "ret-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		h.mustAccept("cus-1", ins("register_party", investor(buyers[i], "retail", "US")))
	}
	for _, b := range buyers[:35] {
		h.mustAccept("iss-1", mintBody("B", b, "1"))
	}
	// One sells back to the issuer: 34 hold, but 35 have bought.
	h.now = h.now.Add(366 * day)
	h.mustAccept(buyers[0], transferBody("B", buyers[0], "iss-1", "1"))
	in, _ := h.s.Instrument("B")
	if in.NonAccreditedHolders != 34 || in.NonAccreditedPurchasers != 35 {
		t.Errorf("B: %d non-accredited holders, %d purchasers; want 34, 35", in.NonAccreditedHolders, in.NonAccreditedPurchasers)
	}
	o := h.mustReject("iss-1", mintBody("B", buyers[35], "1"), "HOLDER_LIMIT")
	if o.Reason.Rule != "reg_d_506b.non_accredited_limit" {
		t.Errorf("36th purchaser: rule %q", o.Reason.Rule)
	}
	// A purchaser buying again takes no new place.
	h.mustAccept("iss-1", mintBody("B", buyers[0], "1"))
	h.mustAccept("iss-1", mintBody("B", "acc-us", "1"))
	if errs := h.s.Check(); len(errs) > 0 {
		t.Errorf("Check: %v", errs)
	}
}
