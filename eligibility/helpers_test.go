package eligibility_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"

	"github.com/tokenledger/tokenledger/eligibility"
)

// now is the time every test decides at, unless a case says otherwise.
var now = time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// investor is a party with current KYC.
func investor(id string, s eligibility.Status, jurisdiction string) eligibility.Party {
	return eligibility.Party{
		ID:           id,
		Role:         eligibility.RoleInvestor,
		Status:       s,
		Jurisdiction: jurisdiction,
		KYCExpiresAt: now.AddDate(1, 0, 0),
	}
}

var (
	retail        = investor("inv-7", eligibility.StatusRetail, "US")
	accredited    = investor("inv-8", eligibility.StatusAccredited, "US")
	qp            = investor("inv-9", eligibility.StatusQualifiedPurchaser, "US")
	institutional = investor("inv-10", eligibility.StatusInstitutional, "US")
	custodian     = eligibility.Party{ID: "cust-1", Role: eligibility.RoleCustodian}
	issuer        = eligibility.Party{ID: "iss-1", Role: eligibility.RoleIssuer}
)

var equity = eligibility.Attributes{
	Underlying:       eligibility.UnderlyingEnterpriseEquity,
	Payoff:           eligibility.PayoffLinear,
	EmbeddedLeverage: decimal.NewFromInt(1),
	EconomicPurpose:  eligibility.PurposeCapitalFormation,
}

// product builds a product issued by iss-1, classified by the default rulebook.
func product(symbol, regime string, a eligibility.Attributes) eligibility.Product {
	return eligibility.Product{
		Symbol:         symbol,
		Issuer:         issuer.ID,
		Regime:         regime,
		OfferingDate:   now.AddDate(0, -1, 0),
		Attributes:     a,
		Classification: eligibility.Default().Classify(a),
	}
}

// codes lists the reasons' codes and rules as "CODE rule", for comparison.
func codes(rs []eligibility.Reason) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, string(r.Code)+" "+r.Rule)
	}
	return out
}

// mustParse parses a rulebook or stops the test.
func mustParse(tb testing.TB, text []byte) *eligibility.Rulebook {
	tb.Helper()
	rb, err := eligibility.Parse(text)
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return rb
}

// mutate decodes the default rulebook into generic YAML, lets edit change it,
// and encodes it again (comments are lost, which Parse does not mind).
func mutate(tb testing.TB, edit func(doc map[string]any)) []byte {
	tb.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(eligibility.DefaultYAML(), &doc); err != nil {
		tb.Fatalf("decode default: %v", err)
	}
	edit(doc)
	out, err := yaml.Marshal(doc)
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return out
}

// at walks a path such as "leverage.rules[3]" or "regimes[name=reg_s].receive"
// in a generic YAML document and returns the map there.
func at(tb testing.TB, doc map[string]any, path string) map[string]any {
	tb.Helper()
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		key, sel, _ := strings.Cut(part, "[")
		cur = cur.(map[string]any)[key]
		if sel == "" {
			continue
		}
		sel = strings.TrimSuffix(sel, "]")
		list := cur.([]any)
		if field, want, ok := strings.Cut(sel, "="); ok {
			cur = nil
			for _, item := range list {
				if fmt.Sprint(item.(map[string]any)[field]) == want {
					cur = item
				}
			}
			if cur == nil {
				tb.Fatalf("at(%q): no item with %s", path, sel)
			}
			continue
		}
		var i int
		fmt.Sscan(sel, &i)
		cur = list[i]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		tb.Fatalf("at(%q) is %T, not a map", path, cur)
	}
	return m
}

// removeItem deletes from the list at doc[listPath] the item whose field has
// value want.
func removeItem(tb testing.TB, doc map[string]any, parent, list, field, want string) {
	tb.Helper()
	m := doc
	if parent != "" {
		m = at(tb, doc, parent)
	}
	items := m[list].([]any)
	kept := slices.DeleteFunc(slices.Clone(items), func(item any) bool {
		return fmt.Sprint(item.(map[string]any)[field]) == want
	})
	if len(kept) == len(items) {
		tb.Fatalf("removeItem: no %s=%s in %s", field, want, list)
	}
	m[list] = kept
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatalf("time.Parse(%q): %v", s, err)
	}
	return ts
}
