package eligibility_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
)

// Ensure that Lint knows the risk sections: two position limits on the same
// case are a conflict with the strictest binding, a class without a
// maintenance fraction is a gap, and so is a non-accredited status that
// reg_cf or reg_a_tier2 admits without an investment limit.
func TestLintRisk(t *testing.T) {
	tests := []struct {
		name string
		edit func(doc map[string]any)
		want eligibility.Finding
		msg  string
	}{
		{"overlapping position limits", func(d map[string]any) {
			d["position_limits"] = append(d["position_limits"].([]any), map[string]any{
				"id": "house_event_cap", "classes": []any{"event_contract"}, "statuses": []any{"retail"},
				"max_share_of_supply": "0.1", "source": "house"})
		}, eligibility.Finding{
			Kind: "conflict", Subject: "position limit event_contract for retail",
			Rules:      []string{"spot_month_share", "house_event_cap"},
			Resolution: "every limit applies; the strictest binds: max_share_of_supply 0.1 (limit house_event_cap)",
		}, "spot_month_share caps max_share_of_supply at 0.25"},
		{"limits of two kinds", func(d map[string]any) {
			d["position_limits"] = append(d["position_limits"].([]any), map[string]any{
				"id": "unit_cap", "classes": []any{"derivative"}, "statuses": []any{"retail", "accredited"},
				"max_units": "1000", "source": "house"})
		}, eligibility.Finding{
			Kind: "conflict", Subject: "position limit derivative for retail, accredited",
			Rules:      []string{"spot_month_share", "unit_cap"},
			Resolution: "every limit applies; the strictest binds: max_share_of_supply 0.25 (limit spot_month_share), max_units 1000 (limit unit_cap)",
		}, "a change must pass each"},
		{"a class without a maintenance fraction", func(d map[string]any) {
			rules := at(t, d, "maintenance")["rules"].([]any)
			at(t, d, "maintenance")["rules"] = rules[1:] // drop security
		}, eligibility.Finding{
			Kind: "gap", Subject: "maintenance security", Rules: []string{},
			Resolution: "the whole initial requirement is the maintenance requirement (fraction 1)",
		}, "add it to maintenance.rules"},
		{"reg_cf without an investment limit", func(d map[string]any) {
			d["investment_limits"] = d["investment_limits"].([]any)[1:]
		}, eligibility.Finding{
			Kind: "gap", Subject: "investment limit reg_cf for retail", Rules: []string{},
			Resolution: "no limit: retail investors may invest any amount",
		}, "regime reg_cf admits retail investors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rb, err := eligibility.Parse(mutate(t, tc.edit))
			if err != nil {
				t.Fatal(err)
			}
			var found []eligibility.Finding
			for _, f := range eligibility.Lint(rb) {
				if f.Subject == tc.want.Subject {
					found = append(found, f)
				}
			}
			if len(found) != 1 {
				t.Fatalf("Lint = %+v, want one finding %q", eligibility.Lint(rb), tc.want.Subject)
			}
			g := found[0]
			if g.Kind != tc.want.Kind || !slices.Equal(g.Rules, tc.want.Rules) || g.Resolution != tc.want.Resolution {
				t.Errorf("finding = %+v, want %+v", g, tc.want)
			}
			if !strings.Contains(g.Message, tc.msg) {
				t.Errorf("message %q lacks %q", g.Message, tc.msg)
			}
			if n := len(eligibility.Lint(rb)) - len(eligibility.Lint(eligibility.Default())); n != 1 {
				t.Errorf("Lint has %d findings more than the default's, want 1", n)
			}
		})
	}
}
