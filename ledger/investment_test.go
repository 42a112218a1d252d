package ledger

import (
	"strings"
	"testing"
	"time"
)

// investWorld is the standard cast with two Reg CF offerings, two Reg A
// Tier 2 offerings (one listed), and retail investors whose income and net
// worth are set by their custodian.
func investWorld(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.world()
	for _, sym := range []string{"CF1", "CF2"} {
		h.mustAccept("iss-1", ins("create_instrument", instrument(sym, "reg_cf", "enterprise_equity", 2, nil)))
	}
	h.mustAccept("iss-1", ins("create_instrument", instrument("RA1", "reg_a_tier2", "enterprise_equity", 2, nil)))
	h.mustAccept("iss-1", ins("create_instrument", instrument("RA2", "reg_a_tier2", "enterprise_equity", 2, nil)))
	h.mustAccept("iss-1", ins("create_instrument", instrument("RAL", "reg_a_tier2", "enterprise_equity", 2, map[string]any{"listed": true})))
	return h
}

// retailWith registers a retail investor with the figures given ("" for
// unknown).
func retailWith(h *harness, id, income, worth string) {
	h.t.Helper()
	p := investor(id, "retail", "US")
	spec := p["party"].(map[string]any)
	if income != "" {
		spec["annual_income"] = income
	}
	if worth != "" {
		spec["net_worth"] = worth
	}
	h.mustAccept("cus-1", ins("register_party", p))
}

func mintFor(symbol, to, amount, consideration string) string {
	fields := map[string]any{"symbol": symbol, "to": to, "amount": amount}
	if consideration != "" {
		fields["consideration"] = consideration
	}
	return ins("mint", fields)
}

// wantLimit checks that a refusal names the rule and the remaining
// allowance.
func wantLimit(t *testing.T, o Outcome, rule, remaining string) {
	t.Helper()
	if o.Reason.Rule != rule {
		t.Errorf("rule = %q, want %q", o.Reason.Rule, rule)
	}
	if !strings.Contains(o.Reason.Message, "so "+remaining+" remains") {
		t.Errorf("message %q does not give the remaining allowance %s", o.Reason.Message, remaining)
	}
}

// RULES.md "Investment limits", reg_cf: over any 12 months, across all
// Reg CF offerings, a retail investor may invest the greater of 2,500 and
// 5% of the greater of income and net worth if either is below 124,000;
// otherwise 10% of the greater, at most 124,000. Unknown counts as 0.
func TestInvestmentLimit_RegCF(t *testing.T) {
	tests := []struct {
		name          string
		income, worth string
		allowance     string // the most that passes
		over          string // the least that is refused
	}{
		{"unknown income and net worth: the 2,500 floor", "", "", "2500", "2500.01"},
		{"5% of 40,000 is below the floor", "40000", "10000", "2500", "2500.01"},
		{"either below 124,000: 5% of the greater", "100000", "200000", "10000", "10000.01"},
		{"income just below 124,000 with a large net worth", "123999.99", "3000000", "150000", "150000.01"},
		{"both at 124,000: 10% of the greater", "124000", "124000", "12400", "12400.01"},
		{"both above: 10% of the greater", "130000", "500000", "50000", "50000.01"},
		{"both above: at most 124,000", "200000", "5000000", "124000", "124000.01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := investWorld(t)
			retailWith(h, "inv", tc.income, tc.worth)
			o := h.mustReject("iss-1", mintFor("CF1", "inv", "1", tc.over), "INVESTMENT_LIMIT")
			wantLimit(t, o, "reg_cf.investment_limit", tc.allowance)
			h.mustAccept("iss-1", mintFor("CF1", "inv", "1", tc.allowance))
			// Across offerings: the allowance is spent for CF2 too.
			o = h.mustReject("iss-1", mintFor("CF2", "inv", "1", "0.01"), "INVESTMENT_LIMIT")
			wantLimit(t, o, "reg_cf.investment_limit", "0")
		})
	}
}

// The 12 months roll: what was invested more than a year ago no longer
// counts; and an investment at the edge of the window still does.
func TestInvestmentLimit_RegCFWindow(t *testing.T) {
	h := investWorld(t)
	retailWith(h, "inv", "", "")
	h.mustAccept("iss-1", mintFor("CF1", "inv", "1", "2000"))
	h.now = h.now.Add(200 * 24 * time.Hour)
	h.mustAccept("iss-1", mintFor("CF2", "inv", "1", "500"))
	h.now = h.now.Add(165 * 24 * time.Hour) // 365 days after the first: it still counts
	o := h.mustReject("iss-1", mintFor("CF1", "inv", "1", "1"), "INVESTMENT_LIMIT")
	wantLimit(t, o, "reg_cf.investment_limit", "0")
	h.now = h.now.Add(time.Second) // now the first has left the window
	h.mustAccept("iss-1", mintFor("CF1", "inv", "1", "2000"))
	h.mustReject("iss-1", mintFor("CF1", "inv", "1", "0.01"), "INVESTMENT_LIMIT")
}

// Units from the issuer by a transfer leg count as an investment at the
// leg's consideration, or at units × price; neither is PRICE_UNAVAILABLE.
// A transfer between investors is not an investment in the offering, and
// accredited investors have no limit.
func TestInvestmentLimit_ValueAndScope(t *testing.T) {
	h := investWorld(t)
	retailWith(h, "inv", "", "")
	h.mustAccept("iss-1", mintBody("CF1", "iss-1", "10000"))
	h.mustAccept(OperatorID, mintBody("USD", "inv", "10000"))
	// The issuer's own units sit out the Reg CF holding period first.
	h.now = h.now.Add(366 * 24 * time.Hour)
	buy := func(amount, consideration string) string {
		leg := map[string]any{"symbol": "CF1", "from": "iss-1", "to": "inv", "amount": amount}
		if consideration != "" {
			leg["consideration"] = consideration
		}
		return ins("transfer", map[string]any{"legs": []map[string]any{leg,
			{"symbol": "USD", "from": "inv", "to": "iss-1", "amount": "1"}}})
	}
	o := h.mustReject(OperatorID, buy("10", ""), "PRICE_UNAVAILABLE")
	if o.Reason.Rule != "reg_cf.investment_limit" {
		t.Errorf("rule = %q, want reg_cf.investment_limit", o.Reason.Rule)
	}
	h.mustAccept(OperatorID, buy("10", "1000"))
	h.mustAccept("oracle", ins("set_price", map[string]any{"symbol": "CF1", "price": "100"}))
	h.mustReject(OperatorID, buy("16", ""), "INVESTMENT_LIMIT") // 1,600 > 1,500 left
	h.mustAccept(OperatorID, buy("15", ""))
	h.mustReject("iss-1", mintFor("CF1", "inv", "1", "0.01"), "INVESTMENT_LIMIT")
	// An accredited investor, and the issuer itself, are not limited.
	h.mustAccept("iss-1", mintFor("CF1", "acc-us", "1", "1000000"))
	h.mustAccept("iss-1", mintFor("CF1", "iss-1", "1", "1000000"))
}

// RULES.md "Investment limits", reg_a_tier2: a retail investor's purchases
// in one offering total at most 10% of the greater of income and net
// worth, unless the instrument is listed; each offering has its own.
func TestInvestmentLimit_RegATier2(t *testing.T) {
	h := investWorld(t)
	retailWith(h, "inv", "50000", "30000")
	o := h.mustReject("iss-1", mintFor("RA1", "inv", "1", "5000.01"), "INVESTMENT_LIMIT")
	wantLimit(t, o, "reg_a_tier2.investment_limit", "5000")
	h.mustAccept("iss-1", mintFor("RA1", "inv", "1", "4000"))
	o = h.mustReject("iss-1", mintFor("RA1", "inv", "1", "1000.01"), "INVESTMENT_LIMIT")
	wantLimit(t, o, "reg_a_tier2.investment_limit", "1000")
	h.mustAccept("iss-1", mintFor("RA2", "inv", "1", "5000"))  // another offering
	h.mustAccept("iss-1", mintFor("RAL", "inv", "1", "90000")) // listed: no limit
	// The custodian raises the figures: the allowance follows.
	h.mustAccept("cus-1", ins("update_party", map[string]any{"party_id": "inv", "net_worth": "100000"}))
	h.mustAccept("iss-1", mintFor("RA1", "inv", "1", "6000"))
	retailWith(h, "nobody", "", "")
	h.mustReject("iss-1", mintFor("RA1", "nobody", "1", "0.01"), "INVESTMENT_LIMIT")
	// A transfer between investors is not an investment in the offering.
	h.mustAccept("inv", transferBody("RA1", "inv", "nobody", "1"))
}

// Two mints in one batch at one time add up under one key, and the ledger
// reads them back after a restart of the view.
func TestInvestmentLimit_SameBatch(t *testing.T) {
	h := investWorld(t)
	retailWith(h, "inv", "", "")
	out := h.apply(
		InstructionItem("iss-1", []byte(mintFor("CF1", "inv", "1", "1500"))),
		InstructionItem("iss-1", []byte(mintFor("CF1", "inv", "1", "1000"))),
		InstructionItem("iss-1", []byte(mintFor("CF1", "inv", "1", "0.01"))),
	)
	if out[0].Status != StatusAccepted || out[1].Status != StatusAccepted || out[2].Status != StatusRejected {
		t.Fatalf("outcomes = %+v, want accepted, accepted, rejected", out)
	}
	h.mustReject("iss-1", mintFor("CF2", "inv", "1", "0.01"), "INVESTMENT_LIMIT")
	p, err := h.s.Party("inv")
	if err != nil || p.AnnualIncome != nil || p.NetWorth != nil {
		t.Errorf("party = %+v (%v), want unknown figures", p, err)
	}
}
