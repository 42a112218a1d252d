package eligibility_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
)

// Ensure that Lint on the default reports the security_future conflict (15%
// security-futures margin = 6.67 vs ESMA 5:1 = 5) resolved to the strictest,
// the fx-major conflict likewise, and no gaps.
func TestLintDefault(t *testing.T) {
	got := eligibility.Lint(eligibility.Default())
	want := []eligibility.Finding{
		{
			Kind:       "conflict",
			Subject:    "leverage security_future for retail, accredited, qualified_purchaser",
			Rules:      []string{"security_futures_margin", "esma_single_equity"},
			Resolution: "strictest wins: 5 (rule esma_single_equity)",
		},
		{
			Kind:       "conflict",
			Subject:    "leverage commodity on fx_major for retail, accredited, qualified_purchaser",
			Rules:      []string{"cftc_retail_forex_major", "esma_fx_major"},
			Resolution: "strictest wins: 30 (rule esma_fx_major)",
		},
		{
			Kind:       "conflict",
			Subject:    "leverage derivative on fx_major for retail, accredited, qualified_purchaser",
			Rules:      []string{"cftc_retail_forex_major", "esma_fx_major"},
			Resolution: "strictest wins: 30 (rule esma_fx_major)",
		},
	}
	if len(got) != len(want) {
		t.Fatalf("Lint(default) = %d findings %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || g.Subject != w.Subject || !slices.Equal(g.Rules, w.Rules) || g.Resolution != w.Resolution {
			t.Errorf("finding %d = %+v, want %+v", i, g, w)
		}
	}
	msg := got[0].Message
	for _, part := range []string{"security_futures_margin allows 6.67", "esma_single_equity allows 5", "85 FR 75112", "the effective cap is the strictest, 5"} {
		if !strings.Contains(msg, part) {
			t.Errorf("security_future message %q lacks %q", msg, part)
		}
	}
	if again := eligibility.Lint(eligibility.Default()); !reflect.DeepEqual(again, got) {
		t.Errorf("Lint is not deterministic")
	}
	if eligibility.Lint(nil) != nil {
		t.Errorf("Lint(nil) != nil")
	}
}

// Ensure that Lint reports a gap when a cell or a regime's receive rule is
// removed, and that the checks then resolve it the strictest way.
func TestLintGaps(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, d map[string]any)
		want eligibility.Finding
	}{
		{
			name: "security cell of institutional",
			edit: func(t *testing.T, d map[string]any) {
				at(t, d, "leverage.rules[1]")["statuses"] = []any{"retail", "accredited", "qualified_purchaser"}
			},
			want: eligibility.Finding{Kind: "gap", Subject: "leverage security for institutional", Resolution: "leverage.default_max applies: 1 (held fully paid only)"},
		},
		{
			name: "event contracts",
			edit: func(t *testing.T, d map[string]any) {
				removeItem(t, d, "leverage", "rules", "id", "event_fully_funded")
			},
			want: eligibility.Finding{Kind: "gap", Subject: "leverage event_contract for retail, accredited, qualified_purchaser, institutional", Resolution: "leverage.default_max applies: 1 (held fully paid only)"},
		},
		{
			name: "fx other with no cap by default",
			edit: func(t *testing.T, d map[string]any) {
				removeItem(t, d, "leverage", "rules", "id", "cftc_retail_forex_other")
				removeItem(t, d, "leverage", "rules", "id", "esma_fx_other")
				at(t, d, "leverage")["default_max"] = "none"
			},
			want: eligibility.Finding{Kind: "gap", Subject: "leverage commodity on fx_other for retail, accredited, qualified_purchaser", Resolution: "leverage.default_max applies: no cap"},
		},
		{
			name: "reg_cf receive rule",
			edit: func(t *testing.T, d map[string]any) {
				delete(at(t, d, "regimes[name=reg_cf]"), "receive")
			},
			want: eligibility.Finding{Kind: "gap", Subject: "regime reg_cf", Resolution: "strictest: no one but the issuer may receive"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rb := mustParse(t, mutate(t, func(d map[string]any) { tc.edit(t, d) }))
			var gaps []eligibility.Finding
			for _, f := range eligibility.Lint(rb) {
				if f.Kind == "gap" {
					gaps = append(gaps, f)
				}
			}
			if len(gaps) == 0 {
				t.Fatalf("Lint() reported no gap, want %+v", tc.want)
			}
			g := gaps[0]
			if g.Subject != tc.want.Subject || g.Resolution != tc.want.Resolution || len(g.Rules) != 0 || g.Message == "" {
				t.Errorf("Lint() gap = %+v, want %+v", g, tc.want)
			}
		})
	}
}

// Ensure that the gaps resolve as Lint says: a missing cell falls back to
// default_max, a regime without a receive rule admits only the issuer.
func TestGapResolution(t *testing.T) {
	rb := mustParse(t, mutate(t, func(d map[string]any) {
		at(t, d, "leverage.rules[1]")["statuses"] = []any{"retail", "accredited", "qualified_purchaser"}
		delete(at(t, d, "regimes[name=reg_cf]"), "receive")
	}))
	if max, capped := rb.MaxLeverage(eligibility.StatusInstitutional, "security", "enterprise_equity", false); !capped || !max.Equal(dec("1")) {
		t.Errorf("MaxLeverage(institutional, security) = %s, %v; want 1, true", max, capped)
	}
	p := regimeProduct("reg_cf")
	for _, to := range []eligibility.Party{retail, institutional, custodian} {
		got := rb.CheckReceive(receive(to, p))
		if want := []string{"INVESTOR_NOT_ELIGIBLE reg_cf.receive"}; !slices.Equal(codes(got), want) {
			t.Errorf("CheckReceive(%s) = %v, want %v", to.ID, codes(got), want)
		}
	}
	if got := rb.CheckReceive(receive(issuer, p)); len(got) != 0 {
		t.Errorf("CheckReceive(issuer) = %v, want none", codes(got))
	}
}

// Ensure that removing one side of a conflict removes the finding and leaves
// the other rule's cap.
func TestLintConflictResolvedByRemoval(t *testing.T) {
	rb := mustParse(t, mutate(t, func(d map[string]any) {
		removeItem(t, d, "leverage", "rules", "id", "esma_single_equity")
	}))
	for _, f := range eligibility.Lint(rb) {
		if strings.Contains(f.Subject, "security_future") {
			t.Errorf("Lint() still reports %+v", f)
		}
	}
	if max, _ := rb.MaxLeverage(eligibility.StatusRetail, "security_future", "enterprise_equity", false); !max.Equal(dec("6.67")) {
		t.Errorf("MaxLeverage(retail, security_future) = %s, want 6.67", max)
	}
}

// Ensure that cases sharing rules but not forming a status × underlying
// rectangle are listed pair by pair.
func TestLintIrregularGroup(t *testing.T) {
	rule := func(id string, underlyings, statuses []any) map[string]any {
		return map[string]any{"id": id, "classes": []any{"commodity"}, "underlyings": underlyings, "statuses": statuses, "max": "3", "source": "test"}
	}
	rb := mustParse(t, mutate(t, func(d map[string]any) {
		l := at(t, d, "leverage")
		l["rules"] = append(l["rules"].([]any),
			rule("a_rule", []any{"commodity", "index"}, []any{"retail", "accredited"}),
			rule("c_rule", []any{"index"}, []any{"retail"}),
			rule("d_rule", []any{"commodity"}, []any{"accredited"}),
		)
	}))
	var subjects []string
	for _, f := range eligibility.Lint(rb) {
		if strings.HasPrefix(f.Subject, "leverage commodity") && slices.Equal(f.Rules, []string{"esma_commodity_index", "a_rule"}) {
			subjects = append(subjects, f.Subject)
		}
	}
	want := []string{"leverage commodity for retail/commodity, accredited/index"}
	if !slices.Equal(subjects, want) {
		t.Errorf("subjects = %q, want %q", subjects, want)
	}
}
