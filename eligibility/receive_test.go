package eligibility_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
)

// regimeProduct is a product each regime admits: a security, cash for
// unrestricted, a spot digital commodity for cftc.
func regimeProduct(regime string) eligibility.Product {
	switch regime {
	case "unrestricted":
		return product("USD", regime, eligibility.Attributes{Underlying: "cash", EconomicPurpose: "payment"})
	case "cftc":
		return product("BTC", regime, attrs("digital_commodity", "linear", "1", 0, "payment"))
	}
	return product("SEC1", regime, equity)
}

// receive is a first receipt by to, leaving the instrument with few holders.
func receive(to eligibility.Party, p eligibility.Product) eligibility.Receive {
	r := eligibility.Receive{Now: now, To: to, Product: p, NewHolder: true, HoldersAfter: 10}
	if to.EffectiveStatus() == eligibility.StatusRetail {
		r.NonAccreditedHoldersAfter = 1
	}
	return r
}

// Ensure that every row of RULES.md's regime table admits exactly the
// receivers it names (one month into each offering, receivers in the US).
func TestCheckReceiveRegimeTable(t *testing.T) {
	ok := []string{}
	notEligible := func(regime string) []string { return []string{"INVESTOR_NOT_ELIGIBLE " + regime + ".receive"} }
	blocked := []string{"JURISDICTION_BLOCKED reg_s.distribution_period"}
	receivers := []eligibility.Party{retail, accredited, qp, institutional, custodian}
	tests := []struct {
		regime string
		want   [5][]string // retail, accredited, qualified_purchaser, institutional, custodian
	}{
		{"reg_d_506b", [5][]string{ok, ok, ok, ok, ok}},
		{"reg_d_506c", [5][]string{notEligible("reg_d_506c"), ok, ok, ok, ok}},
		{"rule_144a", [5][]string{notEligible("rule_144a"), notEligible("rule_144a"), notEligible("rule_144a"), ok, ok}},
		{"reg_s", [5][]string{blocked, blocked, blocked, blocked, ok}},
		{"reg_a_tier2", [5][]string{ok, ok, ok, ok, ok}},
		{"reg_cf", [5][]string{ok, ok, ok, ok, ok}},
		{"registered", [5][]string{ok, ok, ok, ok, ok}},
		{"unrestricted", [5][]string{ok, ok, ok, ok, ok}},
		{"cftc", [5][]string{ok, ok, ok, ok, ok}},
	}
	for _, tc := range tests {
		for i, to := range receivers {
			t.Run(tc.regime+"/"+to.ID, func(t *testing.T) {
				got := eligibility.Default().CheckReceive(receive(to, regimeProduct(tc.regime)))
				if !slices.Equal(codes(got), tc.want[i]) {
					t.Errorf("CheckReceive(%s to %s) = %v, want %v", tc.regime, to.EffectiveStatus(), codes(got), tc.want[i])
				}
			})
		}
	}
}

// Ensure that refusals carry messages a person can act on.
func TestCheckReceiveMessages(t *testing.T) {
	tests := []struct {
		name string
		r    eligibility.Receive
		want string
	}{
		{"506c retail", receive(retail, regimeProduct("reg_d_506c")),
			"inv-7 is retail; reg_d_506c offerings may be held only by accredited investors or better"},
		{"144a accredited", receive(accredited, regimeProduct("rule_144a")),
			"inv-8 is accredited; rule_144a offerings may be held only by institutional investors"},
		{"reg_s US person", receive(retail, regimeProduct("reg_s")),
			"inv-7 is in jurisdiction US; SEC1 is in its 365-day reg_s distribution compliance period until 2027-10-15 12:00:00 UTC"},
		{"reg_s no jurisdiction", receive(investor("inv-0", eligibility.StatusAccredited, ""), regimeProduct("reg_s")),
			"inv-0 has no jurisdiction on record; SEC1 is in its 365-day reg_s distribution compliance period"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eligibility.Default().CheckReceive(tc.r)
			if len(got) != 1 || !strings.Contains(got[0].Message, tc.want) {
				t.Errorf("CheckReceive() = %+v, want one reason whose message contains %q", got, tc.want)
			}
		})
	}
}

// Ensure that Reg S blocks US persons only during the distribution compliance
// period, counted from the offering date.
func TestCheckReceiveRegS(t *testing.T) {
	p := regimeProduct("reg_s")
	p.OfferingDate = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) // 365 days later
	de := investor("inv-de", eligibility.StatusRetail, "DE")
	lowerUS := investor("inv-us", eligibility.StatusInstitutional, "us")
	usCustodian := eligibility.Party{ID: "cust-us", Role: eligibility.RoleCustodian, Jurisdiction: "US"}
	blocked := []string{"JURISDICTION_BLOCKED reg_s.distribution_period"}
	tests := []struct {
		name string
		to   eligibility.Party
		at   time.Time
		want []string
	}{
		{"non-US during", de, end.Add(-time.Second), []string{}},
		{"US during", retail, end.Add(-time.Second), blocked},
		{"US lower-case during", lowerUS, end.Add(-24 * time.Hour), blocked},
		{"US custodian during", usCustodian, end.Add(-time.Second), blocked},
		{"custodian with no jurisdiction during", custodian, end.Add(-time.Second), []string{}},
		{"investor with no jurisdiction during", investor("inv-nowhere", eligibility.StatusInstitutional, ""), end.Add(-time.Second), blocked},
		{"investor with no jurisdiction after", investor("inv-nowhere", eligibility.StatusInstitutional, ""), end, []string{}},
		{"US at the end", retail, end, []string{}},
		{"US after", retail, end.AddDate(1, 0, 0), []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := receive(tc.to, p)
			r.Now = tc.at
			r.To.KYCExpiresAt = tc.at.AddDate(1, 0, 0)
			if tc.to.Role != eligibility.RoleInvestor {
				r.To.KYCExpiresAt = time.Time{}
			}
			got := eligibility.Default().CheckReceive(r)
			if !slices.Equal(codes(got), tc.want) {
				t.Errorf("CheckReceive(%s at %s) = %v, want %v", tc.to.ID, tc.at, codes(got), tc.want)
			}
		})
	}
}

// Ensure that Reg D 506(b) admits retail receivers while the instrument has at
// most 35 non-accredited holders, and that the 36th is HOLDER_LIMIT.
func TestCheckReceive506bNonAccreditedAllowance(t *testing.T) {
	limit := []string{"HOLDER_LIMIT reg_d_506b.non_accredited_limit"}
	tests := []struct {
		name       string
		to         eligibility.Party
		newHolder  bool
		nonAccAfer int
		want       []string
	}{
		{"35th retail holder", retail, true, 35, []string{}},
		{"36th retail holder", retail, true, 36, limit},
		{"existing retail holder buys more at 36", retail, false, 36, []string{}},
		{"accredited while 36 retail hold", accredited, true, 36, []string{}},
		{"investor with no status counts as retail", eligibility.Party{ID: "inv-x", Role: eligibility.RoleInvestor, KYCExpiresAt: now.AddDate(1, 0, 0)}, true, 36, limit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := receive(tc.to, regimeProduct("reg_d_506b"))
			r.NewHolder, r.NonAccreditedHoldersAfter = tc.newHolder, tc.nonAccAfer
			got := eligibility.Default().CheckReceive(r)
			if !slices.Equal(codes(got), tc.want) {
				t.Errorf("CheckReceive() = %v, want %v", codes(got), tc.want)
			}
			if len(got) == 1 && !strings.Contains(got[0].Message, "at most 35") {
				t.Errorf("message %q does not name the limit", got[0].Message)
			}
		})
	}
}

// Ensure that the 12(g) holder limits apply to every regime but registered,
// unrestricted and cftc, and only when the change adds a holder.
func TestCheckReceiveHolderLimits(t *testing.T) {
	limited := map[string]bool{
		"reg_d_506b": true, "reg_d_506c": true, "rule_144a": true, "reg_s": true, "reg_a_tier2": true, "reg_cf": true,
		"registered": false, "unrestricted": false, "cftc": false,
	}
	deInstitutional := investor("inv-de", eligibility.StatusInstitutional, "DE")
	deRetail := investor("inv-de-r", eligibility.StatusRetail, "DE")
	for _, regime := range eligibility.Default().Regimes() {
		want := limited[regime]
		t.Run(regime, func(t *testing.T) {
			cases := []struct {
				name      string
				to        eligibility.Party
				newHolder bool
				holders   int
				nonAcc    int
				refused   bool
			}{
				{"1999th holder", deInstitutional, true, 1999, 0, false},
				{"2000th holder", deInstitutional, true, 2000, 0, want},
				{"existing holder at 2000", deInstitutional, false, 2000, 0, false},
				{"499th non-accredited", deRetail, true, 600, 499, false},
				{"500th non-accredited", deRetail, true, 600, 500, want},
				{"accredited while 500 non-accredited hold", deInstitutional, true, 600, 500, false},
			}
			for _, c := range cases {
				r := receive(c.to, regimeProduct(regime))
				r.NewHolder, r.HoldersAfter, r.NonAccreditedHoldersAfter = c.newHolder, c.holders, c.nonAcc
				got := eligibility.Default().CheckReceive(r)
				var limit []string
				for _, g := range got {
					if g.Rule == "section_12g" {
						limit = append(limit, g.Message)
					}
				}
				if (len(limit) > 0) != c.refused {
					t.Errorf("%s: CheckReceive() = %v, want section_12g refusal %v", c.name, codes(got), c.refused)
				}
			}
		})
	}
}

// Ensure that the issuer may always receive its own instrument (treasury), and
// that non-investors count as institutional without KYC.
func TestCheckReceiveIssuerAndNonInvestors(t *testing.T) {
	war := attrs("event", "binary", "1", 30, "none")
	war.EventTopic = "war"
	tests := []struct {
		name string
		to   eligibility.Party
		p    eligibility.Product
		want []string
	}{
		{"issuer, rule_144a", issuer, regimeProduct("rule_144a"), []string{}},
		{"issuer, reg_s, US", eligibility.Party{ID: "iss-1", Role: eligibility.RoleIssuer, Jurisdiction: "US"}, regimeProduct("reg_s"), []string{}},
		{"issuer, unknown regime", issuer, regimeProduct("nope"), []string{}},
		{"another issuer, rule_144a", eligibility.Party{ID: "iss-2", Role: eligibility.RoleIssuer}, regimeProduct("rule_144a"), []string{}},
		{"operator, rule_144a", eligibility.Party{ID: "op", Role: eligibility.RoleOperator}, regimeProduct("rule_144a"), []string{}},
		{"custodian, 3x crypto", custodian, product("BTC3", "cftc", attrs("digital_commodity", "linear", "3", 0, "none")), []string{}},
		{"unknown regime", retail, regimeProduct("nope"), []string{"INVALID_INSTRUCTION regime"}},
		{"prohibited product, institutional", institutional, product("WAR", "cftc", war), []string{"GAMING_PRODUCT prohibited_topic"}},
		{"prohibited product, custodian", custodian, product("WAR", "cftc", war), []string{"GAMING_PRODUCT prohibited_topic"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eligibility.Default().CheckReceive(receive(tc.to, tc.p))
			if !slices.Equal(codes(got), tc.want) {
				t.Errorf("CheckReceive() = %v, want %v", codes(got), tc.want)
			}
		})
	}
}

// Ensure that gambling-like products go only to institutional holders.
func TestCheckReceiveGamblingScreen(t *testing.T) {
	gambling := product("EVT", "cftc", attrs("event", "binary", "1", 7, "none"))
	hedge := product("RAIN", "cftc", attrs("event", "binary", "1", 365, "hedging"))
	refused := []string{"INVESTOR_NOT_ELIGIBLE gambling_screen"}
	tests := []struct {
		to   eligibility.Party
		p    eligibility.Product
		want []string
	}{
		{retail, gambling, refused},
		{accredited, gambling, refused},
		{qp, gambling, refused},
		{institutional, gambling, []string{}},
		{custodian, gambling, []string{}},
		{retail, hedge, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.p.Symbol+"/"+string(tc.to.EffectiveStatus()), func(t *testing.T) {
			got := eligibility.Default().CheckReceive(receive(tc.to, tc.p))
			if !slices.Equal(codes(got), tc.want) {
				t.Fatalf("CheckReceive() = %v, want %v", codes(got), tc.want)
			}
			if len(got) > 0 && !strings.Contains(got[0].Message, "3 of 5 indicators") {
				t.Errorf("message %q does not list the indicators", got[0].Message)
			}
		})
	}
	// A caller that passes only a classification still gets the screen.
	p := gambling
	p.Attributes = eligibility.Attributes{}
	if got := eligibility.Default().CheckReceive(receive(retail, p)); !slices.Equal(codes(got), refused) {
		t.Errorf("classification only: CheckReceive() = %v, want %v", codes(got), refused)
	}
}

// Ensure that a product's embedded leverage is checked against the
// receiver's cap: a fully paid 3x digital-commodity product is refused to
// retail, whatever its cash.
func TestCheckReceiveProductLeverage(t *testing.T) {
	fx := func(lev string, major bool) eligibility.Attributes {
		a := attrs("fx", "linear", lev, 0, "hedging")
		a.FXMajor = major
		return a
	}
	refused := []string{"LEVERAGE_EXCEEDED product_leverage"}
	tests := []struct {
		name string
		to   eligibility.Party
		p    eligibility.Product
		want []string
	}{
		{"3x crypto to retail", retail, product("BTC3", "cftc", attrs("digital_commodity", "linear", "3", 0, "none")), refused},
		{"3x crypto to accredited", accredited, product("BTC3", "cftc", attrs("digital_commodity", "linear", "3", 0, "none")), refused},
		{"3x crypto to qualified purchaser", qp, product("BTC3", "cftc", attrs("digital_commodity", "linear", "3", 0, "none")), refused},
		{"3x crypto to institutional", institutional, product("BTC3", "cftc", attrs("digital_commodity", "linear", "3", 0, "none")), []string{}},
		{"2x crypto to retail", retail, product("BTC2", "cftc", attrs("digital_commodity", "linear", "2", 0, "none")), []string{}},
		{"5x security future to retail", retail, product("SF5", "registered", attrs("enterprise_equity", "linear", "5", 0, "hedging")), []string{}},
		{"6x security future to retail", retail, product("SF6", "registered", attrs("enterprise_equity", "linear", "6", 0, "hedging")), refused},
		{"6x security future to institutional", institutional, product("SF6", "registered", attrs("enterprise_equity", "linear", "6", 0, "hedging")), []string{}},
		{"6.67x security future to institutional", institutional, product("SF667", "registered", attrs("enterprise_equity", "linear", "6.67", 0, "hedging")), []string{}},
		{"7x security future to institutional", institutional, product("SF7", "registered", attrs("enterprise_equity", "linear", "7", 0, "hedging")), refused},
		{"30x fx major to retail", retail, product("EUR30", "cftc", fx("30", true)), []string{}},
		{"31x fx major to retail", retail, product("EUR31", "cftc", fx("31", true)), refused},
		{"20x fx other to retail", retail, product("TRY20", "cftc", fx("20", false)), []string{}},
		{"21x fx other to retail", retail, product("TRY21", "cftc", fx("21", false)), refused},
		{"10x commodity to retail", retail, product("OIL10", "cftc", attrs("commodity", "linear", "10", 0, "hedging")), []string{}},
		{"11x index to retail", retail, product("IDX11", "cftc", attrs("index", "linear", "11", 0, "hedging")), refused},
		{"100x index to institutional", institutional, product("IDX100", "cftc", attrs("index", "linear", "100", 0, "hedging")), []string{}},
		{"2x event to institutional", institutional, product("EVT2", "cftc", attrs("event", "linear", "2", 0, "hedging")), refused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eligibility.Default().CheckReceive(receive(tc.to, tc.p))
			if !slices.Equal(codes(got), tc.want) {
				t.Fatalf("CheckReceive() = %v, want %v", codes(got), tc.want)
			}
		})
	}
	got := eligibility.Default().CheckReceive(receive(retail, product("BTC3", "cftc", attrs("digital_commodity", "linear", "3", 0, "none"))))
	if want := "BTC3 embeds 3x leverage (derivative on digital_commodity); inv-7 is retail and may hold at most 2x (rule esma_crypto"; !strings.Contains(got[0].Message, want) {
		t.Errorf("message = %q, want it to contain %q", got[0].Message, want)
	}
}

// Ensure that KYC is required of investors only, current until the instant it
// expires, and never traps a holder sending back to the issuer.
func TestCheckKYC(t *testing.T) {
	withKYC := func(p eligibility.Party, exp time.Time) eligibility.Party {
		p.KYCExpiresAt = exp
		return p
	}
	expired := []string{"KYC_EXPIRED kyc"}
	tests := []struct {
		name     string
		p        eligibility.Party
		want     []string
		contains string
	}{
		{"current", withKYC(retail, now.Add(time.Second)), []string{}, ""},
		{"expires now", withKYC(retail, now), expired, "KYC expired on 2026-11-15 12:00:00 UTC"},
		{"expired", withKYC(retail, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)), expired, "inv-7's KYC expired on 2026-10-01; its custodian must renew it"},
		{"missing", withKYC(institutional, time.Time{}), expired, "inv-10 has no KYC on record"},
		{"custodian without KYC", custodian, []string{}, ""},
		{"auditor without KYC", eligibility.Party{ID: "aud", Role: eligibility.RoleAuditor}, []string{}, ""},
		{"unknown role without KYC", eligibility.Party{ID: "who", Role: "admin"}, expired, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eligibility.Default().CheckKYC(tc.p, now)
			if !slices.Equal(codes(got), tc.want) {
				t.Fatalf("CheckKYC() = %v, want %v", codes(got), tc.want)
			}
			if tc.contains != "" && !strings.Contains(got[0].Message, tc.contains) {
				t.Errorf("message = %q, want it to contain %q", got[0].Message, tc.contains)
			}
			r := receive(tc.p, regimeProduct("registered"))
			if got := eligibility.Default().CheckReceive(r); !slices.Equal(codes(got), tc.want) {
				t.Errorf("CheckReceive() = %v, want %v", codes(got), tc.want)
			}
		})
	}
	lapsed := withKYC(retail, now.AddDate(0, -1, 0))
	p := regimeProduct("reg_d_506b")
	if got := eligibility.Default().CheckSenderKYC(lapsed, issuer, p, now); len(got) != 0 {
		t.Errorf("CheckSenderKYC(lapsed to issuer) = %v, want none", codes(got))
	}
	if got := eligibility.Default().CheckSenderKYC(lapsed, accredited, p, now); !slices.Equal(codes(got), expired) {
		t.Errorf("CheckSenderKYC(lapsed to investor) = %v, want %v", codes(got), expired)
	}
}

// Ensure that every reason CheckReceive gives is sorted by precedence.
func TestCheckReceiveOrder(t *testing.T) {
	lapsed := retail
	lapsed.KYCExpiresAt = time.Time{}
	p := product("GMB3", "reg_d_506c", attrs("enterprise_equity", "binary", "9", 7, "none"))
	r := receive(lapsed, p)
	r.HoldersAfter, r.NonAccreditedHoldersAfter = 2000, 500
	want := []string{
		"KYC_EXPIRED kyc",
		"INVESTOR_NOT_ELIGIBLE reg_d_506c.receive",
		"INVESTOR_NOT_ELIGIBLE gambling_screen",
		"HOLDER_LIMIT section_12g",
		"HOLDER_LIMIT section_12g",
		"LEVERAGE_EXCEEDED product_leverage",
	}
	if got := eligibility.Default().CheckReceive(r); !slices.Equal(codes(got), want) {
		t.Errorf("CheckReceive() = %v, want %v", codes(got), want)
	}
}

// Ensure that each regime's holding period is as RULES.md says, and that a lot
// inside it moves only by force, to the issuer or (Reg CF) to an accredited
// investor or better.
func TestHoldingPeriods(t *testing.T) {
	day := 24 * time.Hour
	periods := map[string]time.Duration{
		"reg_d_506b": 365 * day, "reg_d_506c": 365 * day, "reg_cf": 365 * day,
		"rule_144a": 0, "reg_s": 0, "reg_a_tier2": 0, "registered": 0, "unrestricted": 0, "cftc": 0, "nope": 0,
	}
	for regime, want := range periods {
		if got := eligibility.Default().HoldingPeriod(regimeProduct(regime)); got != want {
			t.Errorf("HoldingPeriod(%s) = %v, want %v", regime, got, want)
		}
	}
	acquired := time.Date(2026, 8, 7, 0, 0, 0, 0, time.UTC)
	frees := time.Date(2027, 8, 7, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		regime string
		to     eligibility.Party
		at     time.Time
		forced bool
		want   []string
	}{
		{"506b to accredited", "reg_d_506b", accredited, now, false, []string{"LOCKUP_ACTIVE rule_144.holding_period"}},
		{"506b to institutional", "reg_d_506b", institutional, now, false, []string{"LOCKUP_ACTIVE rule_144.holding_period"}},
		{"506b forced", "reg_d_506b", accredited, now, true, []string{}},
		{"506b to issuer", "reg_d_506b", issuer, now, false, []string{}},
		{"506b a second before", "reg_d_506b", accredited, frees.Add(-time.Second), false, []string{"LOCKUP_ACTIVE rule_144.holding_period"}},
		{"506b when it frees", "reg_d_506b", accredited, frees, false, []string{}},
		{"506c to accredited", "reg_d_506c", accredited, now, false, []string{"LOCKUP_ACTIVE rule_144.holding_period"}},
		{"reg_cf to retail", "reg_cf", retail, now, false, []string{"LOCKUP_ACTIVE reg_cf.resale"}},
		{"reg_cf to accredited", "reg_cf", accredited, now, false, []string{}},
		{"reg_cf to qualified purchaser", "reg_cf", qp, now, false, []string{}},
		{"reg_cf to custodian", "reg_cf", custodian, now, false, []string{}},
		{"reg_cf to issuer", "reg_cf", issuer, now, false, []string{}},
		{"rule_144a has none", "rule_144a", institutional, now, false, []string{}},
		{"reg_s has none", "reg_s", retail, now, false, []string{}},
		{"reg_a_tier2 has none", "reg_a_tier2", retail, now, false, []string{}},
		{"registered has none", "registered", retail, now, false, []string{}},
		{"unknown regime", "nope", retail, now, false, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := eligibility.LockedSend{Now: tc.at, AcquiredAt: acquired, From: retail, To: tc.to, Product: regimeProduct(tc.regime), Forced: tc.forced}
			got := eligibility.Default().CheckLockedSend(s)
			if !slices.Equal(codes(got), tc.want) {
				t.Fatalf("CheckLockedSend() = %v, want %v", codes(got), tc.want)
			}
			if len(got) == 1 && !strings.Contains(got[0].Message, "until 2027-08-07") {
				t.Errorf("message %q does not name the date the lot frees", got[0].Message)
			}
		})
	}
	// The issuer selling units it holds is the offering, not a resale.
	for _, regime := range []string{"reg_cf", "reg_d_506b", "reg_d_506c"} {
		p := regimeProduct(regime)
		from := eligibility.Party{ID: p.Issuer, Role: eligibility.RoleIssuer}
		if p.Issuer == "" {
			t.Fatalf("regimeProduct(%s) names no issuer", regime)
		}
		s := eligibility.LockedSend{Now: now, AcquiredAt: acquired, From: from, To: retail, Product: p}
		if got := eligibility.Default().CheckLockedSend(s); len(got) != 0 {
			t.Errorf("%s: the issuer's own units in a holding period: %v, want none", regime, codes(got))
		}
	}
	end, ok := eligibility.Default().LockupEnd(regimeProduct("reg_cf"), acquired)
	if !ok || !end.Equal(frees) {
		t.Errorf("LockupEnd(reg_cf) = %v, %v; want %v, true", end, ok, frees)
	}
	if _, ok := eligibility.Default().LockupEnd(regimeProduct("registered"), acquired); ok {
		t.Errorf("LockupEnd(registered) ok = true, want false")
	}
}
