package ledger

import (
	"bytes"
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
)

func parseRulebook(t testing.TB, text string) *eligibility.Rulebook {
	t.Helper()
	rb, err := eligibility.Parse([]byte(text))
	if err != nil {
		t.Fatalf("parse rulebook: %v", err)
	}
	return rb
}

// TestImpact lists what a proposed rulebook would not allow today: a retail
// holder of a registered security under rules that admit accredited
// investors only, and a margin loan under a lower cap; the rulebook in
// force lists nothing of the same state.
func TestImpact(t *testing.T) {
	h := newBorrowerHarness(t)
	h.mustAccept(OperatorID, ins("transfer", map[string]any{"legs": []map[string]any{
		{"symbol": "REG", "from": "iss-1", "to": "ret-us", "amount": "2000"},
		{"symbol": "USD", "from": "ret-us", "to": "iss-1", "amount": "2000"},
	}}))
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "5"))

	lowCap := bytes.Replace(eligibility.Default().YAML(), []byte(`max: "2" # 50% initial margin`), []byte(`max: "1.5" # lower`), 1)
	for _, tc := range []struct {
		name string
		rb   *eligibility.Rulebook
		want []ImpactItem // Message is not compared
	}{
		{"the rulebook in force", eligibility.Default(), nil},
		{"registered securities for accredited investors only", parseRulebook(t, strictRulebook), []ImpactItem{
			{Party: "ret-us", Symbol: "REG", Code: eligibility.CodeInvestorNotEligible, Rule: "registered.receive"},
		}},
		{"a lower margin cap", parseRulebook(t, string(lowCap)), []ImpactItem{
			{Party: "ret-us", Symbol: "USD", Code: eligibility.CodeLeverageExceeded, Rule: "account_leverage"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.s.Impact(tc.rb, h.now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Truncated || len(got.Items) != len(tc.want) {
				t.Fatalf("Impact = %+v, want %+v", got, tc.want)
			}
			for i, it := range got.Items {
				if it.Message == "" {
					t.Errorf("item %d has no message", i)
				}
				it.Message = ""
				if it != tc.want[i] {
					t.Errorf("item %d = %+v, want %+v", i, it, tc.want[i])
				}
			}
		})
	}
}
