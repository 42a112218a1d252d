package ledger

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

const day = 24 * time.Hour

// Each test below is a row or worked example of RULES.md, driven through the
// full apply path (decode, authorization, effect, eligibility, journal).

func TestRegD506c_AccreditedOnly(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("ACME", "reg_d_506c", "enterprise_equity", 0, nil)))
	h.mustAccept("iss-1", mintBody("ACME", "acc-us", "100"))
	h.mustAccept("iss-1", mintBody("ACME", "qp-us", "100"))
	h.mustAccept("iss-1", mintBody("ACME", "inst-us", "100"))
	o := h.mustReject("iss-1", mintBody("ACME", "ret-us", "100"), "INVESTOR_NOT_ELIGIBLE")
	if o.Reason.Message == "" || o.Reason.Rule == "" || o.Reason.ERC1066 == "" {
		t.Errorf("reason lacks rule, message or erc1066: %+v", o.Reason)
	}
}

func TestRegD506b_RetailUpTo35(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("PRIV", "reg_d_506b", "enterprise_equity", 0, nil)))
	h.mustAccept("iss-1", mintBody("PRIV", "acc-us", "10"))
	var regs, mints [][]byte
	for i := 1; i <= 36; i++ {
		regs = append(regs, InstructionItem("cus-1", []byte(ins("register_party", investor(fmt.Sprintf("r%02d", i), "retail", "US")))))
		mints = append(mints, InstructionItem("iss-1", []byte(mintBody("PRIV", fmt.Sprintf("r%02d", i), "1"))))
	}
	h.apply(regs...)
	out := h.apply(mints[:35]...)
	for i, o := range out {
		if o.Status != StatusAccepted {
			t.Fatalf("mint to retail holder %d: %+v", i+1, o.Reason)
		}
	}
	h.mustReject("iss-1", mintBody("PRIV", "r36", "1"), "HOLDER_LIMIT")
	// An existing retail holder may still receive more: the count does not grow.
	h.mustAccept("iss-1", mintBody("PRIV", "r01", "1"))
}

func TestRule144_HoldingPeriod(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("PRIV", "reg_d_506b", "enterprise_equity", 0, nil)))
	h.mustAccept("iss-1", mintBody("PRIV", "acc-us", "100"))
	o := h.mustReject("acc-us", transferBody("PRIV", "acc-us", "qp-us", "10"), "LOCKUP_ACTIVE")
	if o.Reason.Rule == "" {
		t.Errorf("lockup reason has no rule: %+v", o.Reason)
	}
	// Back to the issuer and by force_transfer, the lot may move in its holding period.
	h.mustAccept("acc-us", transferBody("PRIV", "acc-us", "iss-1", "10"))
	h.mustAccept(OperatorID, ins("force_transfer", map[string]any{"legal_reference": "court order 1",
		"legs": []map[string]any{{"symbol": "PRIV", "from": "acc-us", "to": "qp-us", "amount": "10"}}}))
	h.now = h.now.Add(365*day + time.Second)
	h.mustAccept("acc-us", transferBody("PRIV", "acc-us", "inst-us", "10"))
}

func TestLotsOldestFirst(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("PRIV", "reg_d_506c", "enterprise_equity", 0, nil)))
	h.mustAccept("iss-1", mintBody("PRIV", "acc-us", "10"))
	h.now = h.now.Add(200 * day)
	h.mustAccept("iss-1", mintBody("PRIV", "acc-us", "10"))
	h.now = h.now.Add(170 * day) // first lot free, second still locked
	hs, _ := h.s.PartyHoldings("acc-us", h.now)
	if got := hs.Holdings[0].Locked.String(); got != "10" {
		t.Errorf("locked = %s, want 10", got)
	}
	h.mustAccept("acc-us", transferBody("PRIV", "acc-us", "qp-us", "10"))
	h.mustReject("acc-us", transferBody("PRIV", "acc-us", "qp-us", "1"), "LOCKUP_ACTIVE")
}

// TestLotsSeasoned: receipts past their holding period merge into one lot, so
// a holding paid many times stays small, while receipts still in their
// period keep their own dates and stay locked.
func TestLotsSeasoned(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("PRIV", "reg_d_506c", "enterprise_equity", 0, nil)))
	h.mustAccept(OperatorID, mintBody("USD", "cus-1", "100000"))
	for range 40 {
		h.now = h.now.Add(30 * day)
		h.mustAccept("cus-1", transferBody("USD", "cus-1", "acc-us", "10"))
		h.mustAccept("iss-1", mintBody("PRIV", "acc-us", "1"))
	}
	lots := func(symbol string) []transfer.Lot {
		var out []transfer.Lot
		if err := h.s.View(func(v transfer.View) error {
			hd, _ := v.Holding("acc-us", symbol)
			out = hd.Lots
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Cash has no holding period: one lot. PRIV locks for a year: the 13
	// receipts of the last 365 days (days 840 to 1,200) keep their lots, the
	// 27 older ones share one.
	if got := lots("USD"); len(got) != 1 || got[0].Amount.String() != "400" {
		t.Errorf("USD lots = %v, want one lot of 400", got)
	}
	if got := lots("PRIV"); len(got) != 14 || got[0].Amount.String() != "27" {
		t.Errorf("PRIV has lots %v, want one merged lot of 27 and the 13 unseasoned ones", got)
	}
	hs, err := h.s.PartyHoldings("acc-us", h.now)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range hs.Holdings {
		if line.Symbol == "PRIV" && line.Locked.String() != "13" {
			t.Errorf("PRIV locked = %s, want 13 (the receipts of the last year)", line.Locked)
		}
	}
	h.mustAccept("acc-us", transferBody("PRIV", "acc-us", "qp-us", "27"))
	h.mustReject("acc-us", transferBody("PRIV", "acc-us", "qp-us", "1"), "LOCKUP_ACTIVE")
}

func TestRule144A_InstitutionalOnly_NoHoldingPeriod(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, ins("register_party", investor("inst-2", "institutional", "US")))
	h.mustAccept("iss-1", ins("create_instrument", instrument("NOTE", "rule_144a", "enterprise_debt", 0, nil)))
	h.mustReject("iss-1", mintBody("NOTE", "acc-us", "10"), "INVESTOR_NOT_ELIGIBLE")
	h.mustReject("iss-1", mintBody("NOTE", "qp-us", "10"), "INVESTOR_NOT_ELIGIBLE")
	h.mustAccept("iss-1", mintBody("NOTE", "inst-us", "10"))
	h.mustAccept("inst-us", transferBody("NOTE", "inst-us", "inst-2", "5"))
}

func TestRegS_DistributionCompliancePeriod(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("EURO", "reg_s", "enterprise_equity", 0, nil)))
	h.mustAccept("iss-1", mintBody("EURO", "ret-de", "10"))
	h.mustReject("iss-1", mintBody("EURO", "acc-us", "10"), "JURISDICTION_BLOCKED")
	h.mustReject("ret-de", transferBody("EURO", "ret-de", "ret-us", "1"), "JURISDICTION_BLOCKED")
	h.now = h.now.Add(366 * day)
	h.mustAccept("ret-de", transferBody("EURO", "ret-de", "ret-us", "1"))
}

func TestRegATier2_Anyone(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("MINI", "reg_a_tier2", "real_estate", 0, nil)))
	h.mustAccept("cus-1", ins("update_party", map[string]any{"party_id": "ret-us", "net_worth": "100000"}))
	h.mustAccept("iss-1", mintFor("MINI", "ret-us", "10", "1000"))        // within 10% of net worth
	h.mustAccept("ret-us", transferBody("MINI", "ret-us", "ret-de", "4")) // no holding period
}

func TestRegCF_ResaleRestrictions(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("CROWD", "reg_cf", "enterprise_equity", 0, nil)))
	h.mustAccept("iss-1", mintFor("CROWD", "ret-us", "10", "1000")) // within the investment limit
	h.mustReject("ret-us", transferBody("CROWD", "ret-us", "ret-de", "1"), "LOCKUP_ACTIVE")
	h.mustAccept("ret-us", transferBody("CROWD", "ret-us", "acc-us", "1")) // to an accredited investor
	h.mustAccept("ret-us", transferBody("CROWD", "ret-us", "iss-1", "1"))  // to the issuer
	h.now = h.now.Add(366 * day)
	h.mustAccept("ret-us", transferBody("CROWD", "ret-us", "ret-de", "1"))
}

func TestHolderLimit_499NonAccredited(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("MINI", "reg_a_tier2", "real_estate", 0, nil)))
	var regs, mints [][]byte
	for i := 0; i < 499; i++ {
		id := fmt.Sprintf("retail-%03d", i)
		p := investor(id, "retail", "US")
		p["party"].(map[string]any)["net_worth"] = "10000"
		regs = append(regs, InstructionItem("cus-1", []byte(ins("register_party", p))))
		mints = append(mints, InstructionItem("iss-1", []byte(mintFor("MINI", id, "1", "100"))))
	}
	h.apply(regs...)
	for i, o := range h.apply(mints...) {
		if o.Status != StatusAccepted {
			t.Fatalf("mint %d: %+v", i, o.Reason)
		}
	}
	in, _ := h.s.Instrument("MINI")
	if in.HolderCount != 499 || in.NonAccreditedHolders != 499 {
		t.Fatalf("counts = %d/%d, want 499/499", in.HolderCount, in.NonAccreditedHolders)
	}
	h.mustReject("iss-1", mintBody("MINI", "ret-us", "1"), "HOLDER_LIMIT")
	h.mustAccept("iss-1", mintBody("MINI", "acc-us", "1")) // accredited holders still fit
}

func TestHolderLimit_1999(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("BIG", "reg_d_506c", "enterprise_equity", 0, nil)))
	var regs, mints [][]byte
	for i := 0; i < 1999; i++ {
		id := fmt.Sprintf("acc-%04d", i)
		regs = append(regs, InstructionItem("cus-1", []byte(ins("register_party", investor(id, "accredited", "US")))))
		mints = append(mints, InstructionItem("iss-1", []byte(mintBody("BIG", id, "1"))))
	}
	h.apply(regs...)
	h.apply(mints...)
	h.mustReject("iss-1", mintBody("BIG", "acc-us", "1"), "HOLDER_LIMIT")
	// Registered offerings have no holder limit.
	h.mustAccept("iss-1", ins("create_instrument", instrument("PUB", "registered", "enterprise_equity", 0, nil)))
	mints = mints[:0]
	for i := 0; i < 1999; i++ {
		mints = append(mints, InstructionItem("iss-1", []byte(mintBody("PUB", fmt.Sprintf("acc-%04d", i), "1"))))
	}
	h.apply(mints...)
	h.mustAccept("iss-1", mintBody("PUB", "acc-us", "1"))
}

func TestGamingProductRefused(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustReject("iss-1", ins("create_instrument", instrument("WAR", "cftc", "event", 0, map[string]any{
		"attributes": map[string]any{"payoff": "binary", "event_topic": "war", "economic_purpose": "none"}})), "GAMING_PRODUCT")
}

func TestGamblingScreen(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("GAME", "cftc", "event", 0, map[string]any{
		"attributes": map[string]any{"payoff": "binary", "expiry_days": 7, "economic_purpose": "none", "event_topic": "football final"}})))
	in, _ := h.s.Instrument("GAME")
	if in.Category != "gambling_like" || in.Class != "event_contract" || in.Regulator != "CFTC" {
		t.Fatalf("GAME classified %s/%s/%s, want event_contract/CFTC/gambling_like", in.Class, in.Regulator, in.Category)
	}
	for _, p := range []string{"ret-us", "acc-us", "qp-us"} {
		o := h.mustReject("iss-1", mintBody("GAME", p, "1"), "INVESTOR_NOT_ELIGIBLE")
		if o.Reason.Rule != "gambling_screen" {
			t.Errorf("mint to %s: rule %q, want gambling_screen", p, o.Reason.Rule)
		}
	}
	h.mustAccept("iss-1", mintBody("GAME", "inst-us", "1"))
}

func TestProductLeverage(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("BTC3X", "cftc", "digital_commodity", 0, map[string]any{
		"attributes": map[string]any{"embedded_leverage": "3", "economic_purpose": "none"}})))
	// Every rule is reported: the product's leverage, and that the account
	// (with a leveraged product and no mark) cannot be measured.
	o := h.mustReject("iss-1", mintBody("BTC3X", "ret-us", "1"), "LEVERAGE_EXCEEDED")
	if !slices.ContainsFunc(o.Reasons, func(r eligibility.Reason) bool { return r.Rule == "product_leverage" }) {
		t.Errorf("reasons = %+v, want one of rule product_leverage", o.Reasons)
	}
	// A leveraged product needs a mark before anyone can hold it.
	h.mustReject("iss-1", mintBody("BTC3X", "inst-us", "1"), "PRICE_UNAVAILABLE")
	h.mustAccept("oracle", ins("set_price", map[string]any{"symbol": "BTC3X", "price": "1"}))
	h.mustAccept("iss-1", mintBody("BTC3X", "inst-us", "1"))
	// security_future: 5 for retail, 6.67 for institutional.
	h.mustAccept("iss-1", ins("create_instrument", instrument("SF5", "registered", "enterprise_equity", 0, map[string]any{"attributes": map[string]any{"embedded_leverage": "5"}})))
	h.mustAccept("iss-1", ins("create_instrument", instrument("SF6", "registered", "enterprise_equity", 0, map[string]any{"attributes": map[string]any{"embedded_leverage": "6"}})))
	h.mustAccept(OperatorID, ins("set_price", map[string]any{"symbol": "SF5", "price": "1"}))
	h.mustAccept(OperatorID, ins("set_price", map[string]any{"symbol": "SF6", "price": "1"}))
	h.mustAccept("iss-1", mintBody("SF5", "ret-us", "1"))
	h.mustReject("iss-1", mintBody("SF6", "ret-us", "1"), "LEVERAGE_EXCEEDED")
	h.mustAccept("iss-1", mintBody("SF6", "inst-us", "1"))
}

// newBorrowerHarness gives the world of RULES.md's worked example: ret-us,
// a retail investor, holds 1,000 USD and has borrowed 1,500 more from
// cus-1; REG, held by its issuer, is priced 1 USD.
func newBorrowerHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, mintBody("USD", "ret-us", "1000"))
	h.mustAccept(OperatorID, mintBody("USD", "cus-1", "100000"))
	h.mustAccept("iss-1", mintBody("REG", "iss-1", "10000"))
	h.mustAccept("oracle", ins("set_price", map[string]any{"symbol": "REG", "price": "1"}))
	h.mustAccept("cus-1", ins("borrow", map[string]any{"party_id": "ret-us", "cash_symbol": "USD", "amount": "1500"}))
	return h
}

// The worked example of RULES.md: a retail investor with 1,000 USD borrows
// 1,500, then buys a security priced 1 USD for 2,500 (refused: requirement
// 1,250 > equity 1,000) or for 2,000 (accepted: 1,000 = 1,000).
func TestAccountLeverage_WorkedExample(t *testing.T) {
	h := newBorrowerHarness(t)
	hs, _ := h.s.PartyHoldings("ret-us", h.now)
	if hs.Equity.String() != "1000" || hs.Loan.String() != "1500" {
		t.Fatalf("after borrowing: equity %s loan %s, want 1000 and 1500", hs.Equity, hs.Loan)
	}
	dvp := func(amount string) string {
		return ins("transfer", map[string]any{"legs": []map[string]any{
			{"symbol": "REG", "from": "iss-1", "to": "ret-us", "amount": amount},
			{"symbol": "USD", "from": "ret-us", "to": "iss-1", "amount": amount},
		}})
	}
	o := h.mustReject(OperatorID, dvp("2500"), "LEVERAGE_EXCEEDED")
	if o.Reason.Rule != "account_leverage" {
		t.Errorf("rule = %q, want account_leverage", o.Reason.Rule)
	}
	h.mustAccept(OperatorID, dvp("2000"))
	hs, _ = h.s.PartyHoldings("ret-us", h.now)
	if hs.Equity.String() != "1000" || hs.Requirement.String() != "1000" {
		t.Errorf("after buying: equity %s requirement %s, want 1000 and 1000", hs.Equity, hs.Requirement)
	}
	// Reducing risk always passes: repaying part of the loan.
	h.mustAccept("cus-1", ins("repay", map[string]any{"party_id": "ret-us", "cash_symbol": "USD", "amount": "500"}))
}

func TestPriceUnavailable_OnlyWithLoan(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, mintBody("USD", "cus-1", "100000"))
	h.mustAccept("iss-1", mintBody("REG", "ret-de", "10")) // unpriced, fully paid: fine
	h.mustReject("cus-1", ins("borrow", map[string]any{"party_id": "ret-de", "cash_symbol": "USD", "amount": "100"}), "PRICE_UNAVAILABLE")
	h.mustAccept("cus-1", ins("borrow", map[string]any{"party_id": "ret-us", "cash_symbol": "USD", "amount": "100"}))
	h.mustReject("iss-1", mintBody("REG", "ret-us", "10"), "PRICE_UNAVAILABLE")
	h.mustAccept("oracle", ins("set_price", map[string]any{"symbol": "REG", "price": "2"}))
	h.mustAccept("iss-1", mintBody("REG", "ret-us", "10"))
}

func TestAccountRules(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("CAP", "registered", "enterprise_equity", 0, map[string]any{"max_supply": "100"})))
	h.mustAccept("iss-1", mintBody("CAP", "ret-us", "100"))
	h.mustReject("iss-1", mintBody("CAP", "ret-us", "1"), "SUPPLY_CAP")
	h.mustReject("ret-us", transferBody("CAP", "ret-us", "ret-de", "101"), "INSUFFICIENT_BALANCE")

	h.mustAccept("iss-1", ins("pause", map[string]any{"symbol": "CAP"}))
	h.mustReject("ret-us", transferBody("CAP", "ret-us", "ret-de", "1"), "INSTRUMENT_PAUSED")
	h.mustAccept("iss-1", ins("unpause", map[string]any{"symbol": "CAP"}))

	h.mustAccept("cus-1", ins("freeze", map[string]any{"party_id": "ret-us", "symbol": "CAP", "amount": "60"}))
	h.mustReject("ret-us", transferBody("CAP", "ret-us", "ret-de", "41"), "ACCOUNT_FROZEN")
	h.mustAccept("ret-us", transferBody("CAP", "ret-us", "ret-de", "40"))
	h.mustAccept("cus-1", ins("unfreeze", map[string]any{"party_id": "ret-us", "symbol": "CAP"}))

	h.mustAccept(OperatorID, ins("freeze", map[string]any{"party_id": "ret-us"}))
	h.mustReject("ret-us", transferBody("CAP", "ret-us", "ret-de", "1"), "ACCOUNT_FROZEN")
	h.mustReject(OperatorID, ins("force_transfer", map[string]any{"legal_reference": "order 7",
		"legs": []map[string]any{{"symbol": "CAP", "from": "ret-us", "to": "ret-de", "amount": "1"}}}), "ACCOUNT_FROZEN")
	h.mustReject("ret-de", transferBody("CAP", "ret-de", "ret-us", "1"), "ACCOUNT_FROZEN")
	h.mustAccept(OperatorID, ins("unfreeze", map[string]any{"party_id": "ret-us"}))
	h.mustAccept("ret-us", transferBody("CAP", "ret-us", "ret-de", "1"))
}

func TestKYC(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", mintBody("REG", "ret-us", "10"))
	h.mustAccept("cus-1", ins("update_party", map[string]any{"party_id": "ret-us", "kyc_expires_at": "2026-01-01T00:00:00Z"}))
	h.mustReject("ret-us", transferBody("REG", "ret-us", "ret-de", "1"), "KYC_EXPIRED")
	h.mustReject("iss-1", mintBody("REG", "ret-us", "1"), "KYC_EXPIRED")
	// A lapse never traps assets: back to the issuer, and recovery, still work.
	h.mustAccept("ret-us", transferBody("REG", "ret-us", "iss-1", "1"))
	h.mustAccept(OperatorID, ins("recover", map[string]any{"from": "ret-us", "to": "ret-de"}))
	if got := h.balance("ret-de", "REG"); got != "9" {
		t.Errorf("after recover ret-de holds %s REG, want 9", got)
	}
}

func TestNotAuthorizedAtApply(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", mintBody("REG", "ret-us", "10"))
	h.mustAccept(OperatorID, ins("register_party", party("iss-2", "issuer")))
	h.mustReject("iss-2", mintBody("REG", "iss-2", "1"), "NOT_AUTHORIZED")
	h.mustReject("ret-de", transferBody("REG", "ret-us", "ret-de", "1"), "NOT_AUTHORIZED")
	h.mustReject("aud", transferBody("REG", "ret-us", "ret-de", "1"), "NOT_AUTHORIZED")
	h.mustReject("nobody", transferBody("REG", "ret-us", "ret-de", "1"), "NOT_AUTHORIZED")
	h.mustReject("oracle", mintBody("REG", "ret-us", "1"), "NOT_AUTHORIZED")
	h.mustAccept("cus-1", transferBody("REG", "ret-us", "ret-de", "1")) // the custodian for its investor
}

func TestEveryReasonReported(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("ACME", "reg_d_506c", "enterprise_equity", 0, nil)))
	h.mustAccept("iss-1", mintBody("ACME", "acc-us", "5"))
	o := h.mustReject("acc-us", ins("transfer", map[string]any{"legs": []map[string]any{
		{"symbol": "ACME", "from": "acc-us", "to": "ret-us", "amount": "10"},
	}}), "INSUFFICIENT_BALANCE")
	codes := map[string]bool{}
	for _, r := range o.Reasons {
		codes[string(r.Code)] = true
	}
	if !codes["INVESTOR_NOT_ELIGIBLE"] || len(o.Reasons) < 2 {
		t.Errorf("reasons = %+v, want INSUFFICIENT_BALANCE and INVESTOR_NOT_ELIGIBLE", o.Reasons)
	}
}

func TestCorporateActions(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", mintBody("REG", "ret-us", "10"))
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "30"))
	h.mustAccept(OperatorID, mintBody("USD", "iss-1", "100"))
	h.mustAccept("iss-1", ins("distribute", map[string]any{"symbol": "REG", "cash_symbol": "USD", "amount_per_unit": "0.333"}))
	if a, b, c := h.balance("ret-us", "USD"), h.balance("acc-us", "USD"), h.balance("iss-1", "USD"); a != "3.33" || b != "9.99" || c != "86.68" {
		t.Errorf("after distribution: %s, %s, issuer %s; want 3.33, 9.99, 86.68", a, b, c)
	}
	h.mustAccept("iss-1", ins("split", map[string]any{"symbol": "REG", "ratio": "2.5"}))
	in, _ := h.s.Instrument("REG")
	if h.balance("ret-us", "REG") != "25" || h.balance("acc-us", "REG") != "75" || in.Supply.String() != "100" {
		t.Errorf("after split: %s, %s, supply %s; want 25, 75, 100", h.balance("ret-us", "REG"), h.balance("acc-us", "REG"), in.Supply)
	}
	h.mustAccept("iss-1", ins("burn", map[string]any{"symbol": "REG", "from": "acc-us", "amount": "75", "legal_reference": "court order 17"}))
	in, _ = h.s.Instrument("REG")
	if in.Supply.String() != "25" || in.HolderCount != 1 {
		t.Errorf("after burn: supply %s holders %d, want 25 and 1", in.Supply, in.HolderCount)
	}
}

func TestIdempotency(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", mintBody("REG", "ret-us", "10"))
	body := `{"id":"t-once","type":"transfer","legs":[{"symbol":"REG","from":"ret-us","to":"ret-de","amount":"4"}]}`
	first := h.mustAccept("ret-us", body)
	before := mustHashes(t, h.s)
	again := h.do("ret-us", body)
	after := mustHashes(t, h.s)
	if again.Seq != first.Seq || again.Index != first.Index || again.Status != first.Status {
		t.Errorf("repeat outcome %+v, want the first %+v", again, first)
	}
	if before.State != after.State || h.balance("ret-de", "REG") != "4" {
		t.Errorf("repeat changed state: balance %s", h.balance("ret-de", "REG"))
	}
	other := h.do("ret-us", `{"id":"t-once","type":"transfer","legs":[{"symbol":"REG","from":"ret-us","to":"ret-de","amount":"5"}]}`)
	if other.Error == nil || other.Error.Code != ErrCodeIDReused {
		t.Errorf("other body with same id: %+v, want ID_REUSED", other)
	}
	// Duplicates inside one batch are caught too.
	dup := InstructionItem("ret-us", []byte(`{"id":"t-twice","type":"transfer","legs":[{"symbol":"REG","from":"ret-us","to":"ret-de","amount":"1"}]}`))
	out := h.apply(dup, dup)
	if out[0].Seq != out[1].Seq || h.balance("ret-de", "REG") != "5" {
		t.Errorf("in-batch duplicate applied twice: %+v, balance %s", out, h.balance("ret-de", "REG"))
	}
}

func TestReplayedBatchChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.world()
	item := InstructionItem("iss-1", []byte(mintBody("REG", "ret-us", "10")))
	h.index++
	b := []Batch{{Index: h.index, Term: 1, Time: h.now, Items: [][]byte{item}}}
	h.s.Apply(b)
	before := mustHashes(t, h.s)
	res := h.s.Apply(b)
	after := mustHashes(t, h.s)
	if before != after || res[0] != nil {
		t.Errorf("replayed batch changed state or answered: %v", res)
	}
}

func TestHoldersAtRecordDate(t *testing.T) {
	h := newHarness(t)
	h.world()
	o := h.mustAccept("iss-1", mintBody("REG", "ret-us", "10"))
	h.mustAccept("ret-us", transferBody("REG", "ret-us", "ret-de", "10"))
	ct, err := h.s.Holders("REG", o.Seq)
	if err != nil || len(ct.Holders) != 1 || ct.Holders[0].Party != "ret-us" || ct.Supply.String() != "10" {
		t.Fatalf("holders at %d = %+v, %v; want ret-us 10", o.Seq, ct, err)
	}
	now, _ := h.s.Holders("REG", 0)
	if len(now.Holders) != 1 || now.Holders[0].Party != "ret-de" {
		t.Errorf("holders now = %+v, want ret-de", now)
	}
}

func TestJournalChain(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustReject("ret-us", transferBody("REG", "ret-us", "ret-de", "1"), "INSUFFICIENT_BALANCE")
	v, err := h.s.VerifyJournal()
	if err != nil || !v.OK || v.Length == 0 {
		t.Fatalf("verify = %+v, %v", v, err)
	}
	page, _ := h.s.Journal(JournalQuery{Limit: 3})
	if len(page.Entries) != 3 || page.Entries[0].PrevHash != ZeroHash || page.Entries[0].Seq != 1 || page.Next != 3 {
		t.Errorf("first page = %d entries, next %d", len(page.Entries), page.Next)
	}
	mine, _ := h.s.Journal(JournalQuery{Party: "ret-us"})
	for _, e := range mine.Entries {
		if !slices.Contains(e.Parties, "ret-us") {
			t.Errorf("filtered entry %d does not name ret-us", e.Seq)
		}
	}
	last := mine.Entries[len(mine.Entries)-1]
	if last.Status != StatusRejected || last.Reason == nil {
		t.Errorf("rejected instruction journaled as %+v", last)
	}
}
