package eligibility_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
)

// Ensure that MaxLeverage answers every cell of RULES.md's leverage table.
func TestMaxLeverageTable(t *testing.T) {
	const none = "none"
	type row struct {
		class, underlying string
		fxMajor           bool
		want              [4]string // retail, accredited, qualified_purchaser, institutional
	}
	rows := []row{
		{"cash", "cash", false, [4]string{none, none, none, none}},
		{"security", "enterprise_equity", false, [4]string{"2", "2", "2", "2"}},
		{"security", "enterprise_debt", false, [4]string{"2", "2", "2", "2"}},
		{"security", "fund_interest", false, [4]string{"2", "2", "2", "2"}},
		{"security", "real_estate", false, [4]string{"2", "2", "2", "2"}},
		{"security_future", "enterprise_equity", false, [4]string{"5", "5", "5", "6.67"}},
		{"security_future", "enterprise_debt", false, [4]string{"5", "5", "5", "6.67"}},
		{"security_future", "fund_interest", false, [4]string{"5", "5", "5", "6.67"}},
		{"security_future", "real_estate", false, [4]string{"5", "5", "5", "6.67"}},
		{"digital_commodity", "digital_commodity", false, [4]string{"2", "2", "2", none}},
		{"derivative", "digital_commodity", false, [4]string{"2", "2", "2", none}},
		{"derivative", "fx", true, [4]string{"30", "30", "30", none}},
		{"derivative", "fx", false, [4]string{"20", "20", "20", none}},
		{"derivative", "commodity", false, [4]string{"10", "10", "10", none}},
		{"derivative", "index", false, [4]string{"10", "10", "10", none}},
		{"commodity", "fx", true, [4]string{"30", "30", "30", none}},
		{"commodity", "fx", false, [4]string{"20", "20", "20", none}},
		{"commodity", "commodity", false, [4]string{"10", "10", "10", none}},
		{"commodity", "index", false, [4]string{"10", "10", "10", none}},
		{"event_contract", "event", false, [4]string{"1", "1", "1", "1"}},
		// No rule covers these: the default cap of 1 applies to all but those an
		// underlying-free rule covers.
		{"derivative", "", false, [4]string{"1", "1", "1", none}},
		{"security", "", false, [4]string{"2", "2", "2", "2"}},
	}
	for _, r := range rows {
		for i, s := range eligibility.Statuses() {
			t.Run(fmt.Sprintf("%s/%s/major=%v/%s", r.class, r.underlying, r.fxMajor, s), func(t *testing.T) {
				max, capped := eligibility.Default().MaxLeverage(s, r.class, r.underlying, r.fxMajor)
				got := none
				if capped {
					got = max.String()
				}
				if got != r.want[i] {
					t.Errorf("MaxLeverage(%s, %s, %s, %v) = %s, want %s", s, r.class, r.underlying, r.fxMajor, got, r.want[i])
				}
			})
		}
	}
	// An unknown status is held to retail's caps.
	if max, capped := eligibility.Default().MaxLeverage("", "security_future", "enterprise_equity", false); !capped || !max.Equal(dec("5")) {
		t.Errorf(`MaxLeverage("", security_future) = %s, %v; want 5, true`, max, capped)
	}
}

// pos builds a priced position; lev "" leaves embedded leverage unset.
func pos(symbol, class, underlying, qty, price, lev string) eligibility.Position {
	p := eligibility.Position{Symbol: symbol, Class: class, Underlying: underlying, Quantity: dec(qty), Price: dec(price), Priced: true}
	if lev != "" {
		p.EmbeddedLeverage = dec(lev)
	}
	return p
}

func usd(qty string) eligibility.Position { return pos("USD", "cash", "cash", qty, "1", "") }

func sec(qty string) eligibility.Position {
	return pos("SEC1", "security", "enterprise_equity", qty, "1", "1")
}

func unpriced(p eligibility.Position) eligibility.Position {
	p.Priced, p.Price = false, decimal.Decimal{}
	return p
}

func account(p eligibility.Party, loan string, ps ...eligibility.Position) eligibility.Account {
	return eligibility.Account{Party: p, Positions: ps, Loan: dec(loan)}
}

type measured struct{ value, exposure, equity, requirement, leverage string }

func (m measured) equal(g eligibility.Measure) bool {
	return g.Value.Equal(dec(m.value)) && g.Exposure.Equal(dec(m.exposure)) && g.Equity.Equal(dec(m.equity)) &&
		g.Requirement.Equal(dec(m.requirement)) && g.Leverage.Equal(dec(m.leverage))
}

func show(g eligibility.Measure) string {
	return fmt.Sprintf("{value %s exposure %s equity %s requirement %s leverage %s unpriced %v}",
		g.Value, g.Exposure, g.Equity, g.Requirement, g.Leverage, g.Unpriced)
}

// Ensure that RULES.md's worked example holds: a retail investor with 1,000 USD
// borrows 1,500 (allowed), then buys a security priced 1 for 2,500 (refused:
// requirement 1,250 > equity 1,000) or for 2,000 (accepted: 1,000 = 1,000).
func TestWorkedExample(t *testing.T) {
	rb := eligibility.Default()
	start := account(retail, "0", usd("1000"))
	borrowed := account(retail, "1500", usd("2500"))
	tests := []struct {
		name          string
		before, after eligibility.Account
		want          measured
		codes         []string
	}{
		{"borrow 1,500", start, borrowed, measured{"2500", "0", "1000", "0", "0"}, []string{}},
		{"buy 2,500 of a security", borrowed, account(retail, "1500", usd("0"), sec("2500")),
			measured{"2500", "2500", "1000", "1250", "2.5"}, []string{"LEVERAGE_EXCEEDED account_leverage"}},
		{"buy 2,000 of a security", borrowed, account(retail, "1500", usd("500"), sec("2000")),
			measured{"2500", "2000", "1000", "1000", "2"}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if m := rb.Measure(tc.after); !tc.want.equal(m) {
				t.Errorf("Measure(after) = %s, want %+v", show(m), tc.want)
			}
			got := rb.CheckAccount(tc.before, tc.after)
			if !slices.Equal(codes(got), tc.codes) {
				t.Fatalf("CheckAccount() = %v, want %v", codes(got), tc.codes)
			}
			if len(got) == 1 && !strings.Contains(got[0].Message, "equity of at least 1250, 250 more than it would have") {
				t.Errorf("message = %q, want the requirement and the shortfall", got[0].Message)
			}
		})
	}
}

// Ensure that Measure follows DESIGN.md's formulas and rounding.
func TestMeasure(t *testing.T) {
	crypto2x := pos("BTC2", "derivative", "digital_commodity", "100", "1", "2")
	sf := pos("SF", "security_future", "enterprise_equity", "100", "1", "1")
	tests := []struct {
		name     string
		a        eligibility.Account
		want     measured
		unpriced []string
	}{
		{"empty", account(retail, "0"), measured{"0", "0", "0", "0", "0"}, []string{}},
		{"cash only", account(retail, "0", usd("10")), measured{"10", "0", "10", "0", "0"}, []string{}},
		{"unset leverage is 1", account(retail, "0", pos("SEC1", "security", "enterprise_equity", "10", "3", "")), measured{"30", "30", "30", "15", "1"}, []string{}},
		{"embedded leverage", account(retail, "0", crypto2x), measured{"100", "200", "100", "100", "2"}, []string{}},
		{"institutional has no crypto cap", account(institutional, "0", crypto2x), measured{"100", "200", "100", "0", "2"}, []string{}},
		{"custodian counts as institutional", account(custodian, "0", crypto2x), measured{"100", "200", "100", "0", "2"}, []string{}},
		{"requirement rounds up", account(institutional, "0", sf), measured{"100", "100", "100", "14.992503748125937032", "1"}, []string{}},
		{"leverage rounds down", account(retail, "997", usd("0"), sec("1000")), measured{"1000", "1000", "3", "500", "333.3333"}, []string{}},
		{"no equity is unbounded", account(retail, "200", sec("100")), measured{"100", "100", "-100", "50", "-1"}, []string{}},
		{"zero equity is unbounded", account(retail, "100", sec("100")), measured{"100", "100", "0", "50", "-1"}, []string{}},
		{"unpriced are listed and left out", account(retail, "0", usd("5"), unpriced(sec("7")), unpriced(pos("ABC", "security", "enterprise_equity", "1", "1", "1")), unpriced(pos("ZZZ", "security", "enterprise_equity", "0", "1", "1"))),
			measured{"5", "0", "5", "0", "0"}, []string{"ABC", "SEC1"}},
		{"a cell no rule covers is held fully paid", account(retail, "0", pos("X", "derivative", "", "10", "1", "1")), measured{"10", "10", "10", "10", "1"}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := eligibility.Default().Measure(tc.a)
			if !tc.want.equal(m) {
				t.Errorf("Measure() = %s, want %+v", show(m), tc.want)
			}
			if !slices.Equal(m.Unpriced, tc.unpriced) {
				t.Errorf("Measure().Unpriced = %v, want %v", m.Unpriced, tc.unpriced)
			}
			if m.Unbounded() != (tc.want.leverage == "-1") {
				t.Errorf("Measure().Unbounded() = %v", m.Unbounded())
			}
		})
	}
}

// Ensure that CheckAccount refuses only changes that add risk to an account
// short of its requirement, and asks for prices only where they matter.
func TestCheckAccount(t *testing.T) {
	short := account(retail, "1500", usd("0"), sec("2500")) // equity 1000 < requirement 1250
	lev3 := pos("BTC3", "derivative", "digital_commodity", "10", "1", "3")
	tests := []struct {
		name          string
		before, after eligibility.Account
		want          []string
	}{
		{"sell part of a short account", short, account(retail, "1500", usd("500"), sec("2000")), []string{}},
		{"sell a little, still short", short, account(retail, "1500", usd("100"), sec("2400")), []string{}},
		{"repay with sale proceeds, still short", short, account(retail, "1400", usd("0"), sec("2400")), []string{}},
		{"withdraw cash while short", account(retail, "1500", usd("100"), sec("2500")), short, []string{"LEVERAGE_EXCEEDED account_leverage"}},
		{"buy more while short", short, account(retail, "1600", usd("0"), sec("2600")), []string{"LEVERAGE_EXCEEDED account_leverage"}},
		// The requirement rose, so the rule refuses even though the shortfall shrank.
		{"receive securities while short", short, account(retail, "1500", usd("0"), sec("2600")), []string{"LEVERAGE_EXCEEDED account_leverage"}},
		{"receive cash while short", short, account(retail, "1500", usd("100"), sec("2500")), []string{}},
		{"fully paid purchase", account(retail, "0", usd("100")), account(retail, "0", usd("0"), sec("100")), []string{}},
		{"borrow against unpriced holding", account(retail, "0", usd("10"), unpriced(sec("5"))), account(retail, "100", usd("110"), unpriced(sec("5"))), []string{"PRICE_UNAVAILABLE account_leverage"}},
		{"buy with a loan and an unpriced holding", account(retail, "100", usd("110"), unpriced(sec("5"))), account(retail, "100", usd("100"), unpriced(sec("5")), pos("GLD", "commodity", "commodity", "10", "1", "1")), []string{"PRICE_UNAVAILABLE account_leverage"}},
		{"repay with an unpriced holding", account(retail, "100", usd("110"), unpriced(sec("5"))), account(retail, "50", usd("60"), unpriced(sec("5"))), []string{}},
		{"sell an unpriced holding with a loan", account(retail, "100", usd("110"), unpriced(sec("5"))), account(retail, "100", usd("115"), unpriced(sec("0"))), []string{}},
		{"fully paid unpriced holdings need no price", account(retail, "0", usd("10"), unpriced(sec("5"))), account(retail, "0", usd("0"), unpriced(sec("5")), pos("GLD", "commodity", "commodity", "10", "1", "1")), []string{}},
		{"unpriced leveraged holding", account(institutional, "0", usd("10"), unpriced(lev3)), account(institutional, "0", usd("0"), unpriced(lev3), pos("GLD", "commodity", "commodity", "10", "1", "1")), []string{"PRICE_UNAVAILABLE account_leverage"}},
		{"both", account(retail, "1500", usd("100"), sec("2500"), unpriced(lev3)), account(retail, "1500", usd("0"), sec("2600"), unpriced(lev3)), []string{"PRICE_UNAVAILABLE account_leverage", "LEVERAGE_EXCEEDED account_leverage"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eligibility.Default().CheckAccount(tc.before, tc.after)
			if !slices.Equal(codes(got), tc.want) {
				t.Errorf("CheckAccount() = %v, want %v (after %s)", codes(got), tc.want, show(eligibility.Default().Measure(tc.after)))
			}
			for _, r := range got {
				if r.Code == eligibility.CodePriceUnavailable && !strings.Contains(r.Message, "the oracle must set a price for") {
					t.Errorf("message = %q, want it to say what to price", r.Message)
				}
			}
		})
	}
}
