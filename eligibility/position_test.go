package eligibility

import (
	"testing"

	"github.com/shopspring/decimal"
)

// TestPositionLimited holds the precheck to the default rulebook's one
// position limit (event contracts and derivatives; retail, accredited and
// qualified purchasers; the issuer exempt), and to CheckPosition: a change
// the precheck passes over is never refused.
func TestPositionLimited(t *testing.T) {
	rb := fresh(t)
	event := Product{Symbol: "EVT", Issuer: "iss-1", Attributes: Attributes{Underlying: "event", Payoff: "binary", ExpiryDays: 30, EconomicPurpose: "hedging", EventTopic: "weather"}}
	if c := rb.Classify(event.Attributes); c.Class != ClassEventContract {
		t.Fatalf("the test's event product classifies as %q", c.Class)
	}
	equity := Product{Symbol: "EQ", Issuer: "iss-1", Attributes: Attributes{Underlying: "enterprise_equity", Payoff: "linear"}}
	retail := Party{ID: "inv-1", Role: RoleInvestor, Status: StatusRetail, Jurisdiction: "US"}
	institutional := Party{ID: "inv-2", Role: RoleInvestor, Status: StatusInstitutional, Jurisdiction: "US"}
	issuer := Party{ID: "iss-1", Role: RoleIssuer}
	for _, tc := range []struct {
		name    string
		party   Party
		product Product
		want    bool
	}{
		{"retail, event contract", retail, event, true},
		{"institutional, event contract", institutional, event, false},
		{"the issuer", issuer, event, false},
		{"retail, equity", retail, equity, false},
	} {
		if got := rb.PositionLimited(tc.party, tc.product); got != tc.want {
			t.Errorf("%s: PositionLimited = %v, want %v", tc.name, got, tc.want)
		}
		// Above any share of supply: refused exactly where a limit applies.
		c := PositionChange{Party: tc.party, Product: tc.product, Before: decimal.Zero, After: decimal.NewFromInt(90), SupplyAfter: decimal.NewFromInt(100)}
		if refused := len(rb.CheckPosition(c)) > 0; refused != tc.want {
			t.Errorf("%s: CheckPosition refused %v, want %v", tc.name, refused, tc.want)
		}
	}
}
