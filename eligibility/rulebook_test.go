package eligibility_test

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
)

// Ensure that the embedded default parses, names its version and regimes, and
// hands out copies of its text.
func TestDefault(t *testing.T) {
	rb := eligibility.Default()
	if got, want := rb.Version(), "2026-12-default-1"; got != want {
		t.Errorf("Version() = %q, want %q", got, want)
	}
	wantRegimes := []string{"cftc", "reg_a_tier2", "reg_cf", "reg_d_506b", "reg_d_506c", "reg_s", "registered", "rule_144a", "unrestricted"}
	if got := rb.Regimes(); !slices.Equal(got, wantRegimes) {
		t.Errorf("Regimes() = %v, want %v", got, wantRegimes)
	}
	if !bytes.Equal(rb.YAML(), eligibility.DefaultYAML()) {
		t.Errorf("Default().YAML() differs from DefaultYAML()")
	}
	if eligibility.Default() != rb {
		t.Errorf("Default() parsed twice")
	}
	// Callers may scribble on what they get back; the rulebook must not change.
	y := rb.YAML()
	y[0] = '!'
	r := rb.Regimes()
	r[0] = "mine"
	if !bytes.Equal(rb.YAML(), eligibility.DefaultYAML()) || rb.Regimes()[0] != "cftc" {
		t.Errorf("Rulebook shares its slices with callers")
	}
	again := mustParse(t, rb.YAML())
	if again.Version() != rb.Version() {
		t.Errorf("re-parsed Version() = %q, want %q", again.Version(), rb.Version())
	}
}

// Ensure that every number in default.yaml carries its source in a comment.
func TestDefaultNumbersCiteSources(t *testing.T) {
	numeric := regexp.MustCompile(`^\s*-?\s*(schema|max|default_max|max_holders|max_non_accredited_holders|non_accredited_max_holders|short_term_days|min_indicators|period|distribution_period):`)
	n := 0
	for i, line := range strings.Split(string(eligibility.DefaultYAML()), "\n") {
		if !numeric.MatchString(line) {
			continue
		}
		n++
		value, comment, _ := strings.Cut(line, " #")
		if strings.TrimSpace(comment) == "" {
			// The default_max line's source is the comment above it and default_source.
			if strings.Contains(value, "default_max") {
				continue
			}
			t.Errorf("default.yaml line %d has a number with no source comment: %q", i+1, line)
		}
	}
	if n < 20 {
		t.Errorf("found only %d numeric lines; the pattern is stale", n)
	}
}

// Ensure that Parse refuses malformed rulebooks, naming the bad field, and
// wraps ErrInvalidRulebook.
func TestParseRejects(t *testing.T) {
	big := bytes.Repeat([]byte("#"), eligibility.MaxRulebookBytes+1)
	tests := []struct {
		name string
		text []byte
		want string // a substring of the error
	}{
		{"empty", nil, "empty text"},
		{"too large", big, "above the limit"},
		{"not utf-8", []byte("version: \"\xff\"\n"), "not UTF-8"},
		{"null document", []byte("~\n"), "schema: is 0"},
		{"list document", []byte("- 1\n"), "cannot unmarshal"},
		{"two documents", append(eligibility.DefaultYAML(), []byte("---\nschema: 1\n")...), "more than one YAML document"},
		{"duplicate key", []byte("schema: 1\nschema: 1\n"), "already defined"},
		{"unknown top-level field", append(eligibility.DefaultYAML(), []byte("extra: 1\n")...), "field extra not found"},
		{"unknown nested field", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[0]")["maxx"] = "2"
		}), "field maxx not found"},
		{"wrong type", mutate(t, func(d map[string]any) {
			at(t, d, "holder_limits")["max_holders"] = "many"
		}), "cannot unmarshal"},
		{"schema", mutate(t, func(d map[string]any) { d["schema"] = 2 }), "schema: is 2"},
		{"version empty", mutate(t, func(d map[string]any) { d["version"] = "" }), "version:"},
		{"version spaces", mutate(t, func(d map[string]any) { d["version"] = "v 1" }), "version:"},
		{"classification missing", mutate(t, func(d map[string]any) { delete(d, "classification") }), "classification: is required"},
		{"underlying missing", mutate(t, func(d map[string]any) {
			removeItem(t, d, "classification", "underlyings", "underlying", "event")
		}), `classification.underlyings: has no entry for underlying "event"`},
		{"underlying unknown", mutate(t, func(d map[string]any) {
			at(t, d, "classification.underlyings[0]")["underlying"] = "tulips"
		}), `classification.underlyings[0].underlying: "tulips"`},
		{"plain missing", mutate(t, func(d map[string]any) {
			delete(at(t, d, "classification.underlyings[1]"), "plain")
		}), "classification.underlyings[1].plain: is required"},
		{"class gaming", mutate(t, func(d map[string]any) {
			at(t, d, "classification.underlyings[1].plain")["class"] = "gaming"
		}), "classification.underlyings[1].plain.class"},
		{"regulator", mutate(t, func(d map[string]any) {
			at(t, d, "classification.underlyings[1].derived")["regulator"] = "FINRA"
		}), "classification.underlyings[1].derived.regulator"},
		{"prohibited source", mutate(t, func(d map[string]any) {
			delete(at(t, d, "classification"), "prohibited_source")
		}), "classification.prohibited_source: is required"},
		{"prohibited topic twice", mutate(t, func(d map[string]any) {
			at(t, d, "classification")["prohibited_topics"] = []any{"war", "War"}
		}), "classification.prohibited_topics[1]"},
		{"screen indicator", mutate(t, func(d map[string]any) {
			at(t, d, "gambling_screen")["indicators"] = []any{"vibes"}
		}), "gambling_screen.indicators[0]"},
		{"screen min_indicators", mutate(t, func(d map[string]any) {
			at(t, d, "gambling_screen")["min_indicators"] = 6
		}), "gambling_screen.min_indicators"},
		{"screen short_term_days", mutate(t, func(d map[string]any) {
			at(t, d, "gambling_screen")["short_term_days"] = 0
		}), "gambling_screen.short_term_days"},
		{"screen min_status", mutate(t, func(d map[string]any) {
			at(t, d, "gambling_screen")["min_status"] = "whale"
		}), "gambling_screen.min_status"},
		{"screen applies to nothing", mutate(t, func(d map[string]any) {
			s := at(t, d, "gambling_screen")
			delete(s, "classes")
			delete(s, "payoffs")
		}), "gambling_screen: needs classes or payoffs"},
		{"max_holders zero", mutate(t, func(d map[string]any) {
			at(t, d, "holder_limits")["max_holders"] = 0
		}), "holder_limits.max_holders"},
		{"non-accredited above holders", mutate(t, func(d map[string]any) {
			at(t, d, "holder_limits")["max_non_accredited_holders"] = 5000
		}), "holder_limits.max_non_accredited_holders"},
		{"no regimes", mutate(t, func(d map[string]any) { delete(d, "regimes") }), "regimes: is required"},
		{"regime name", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[0]")["name"] = "Reg D"
		}), "regimes[0].name"},
		{"regime twice", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[1]")["name"] = "reg_d_506b"
		}), `regimes[1].name: "reg_d_506b" is defined twice`},
		{"regime holder_limits missing", mutate(t, func(d map[string]any) {
			delete(at(t, d, "regimes[name=reg_cf]"), "holder_limits")
		}), "(reg_cf).holder_limits: is required"},
		{"regime class", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[name=cftc]")["classes"] = []any{"bonds"}
		}), "(cftc).classes[0]"},
		{"receive min_status", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[name=reg_d_506c].receive")["min_status"] = "everyone"
		}), "(reg_d_506c).receive.min_status"},
		{"receive source", mutate(t, func(d map[string]any) {
			delete(at(t, d, "regimes[name=reg_d_506c].receive"), "source")
		}), "(reg_d_506c).receive.source: is required"},
		{"non-accredited negative", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[name=reg_d_506b].receive")["non_accredited_max_holders"] = -1
		}), "(reg_d_506b).receive.non_accredited_max_holders"},
		{"jurisdiction", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[name=reg_s].receive")["blocked_jurisdictions"] = []any{"usa"}
		}), "(reg_s).receive.blocked_jurisdictions[0]"},
		{"distribution period alone", mutate(t, func(d map[string]any) {
			delete(at(t, d, "regimes[name=reg_s].receive"), "blocked_jurisdictions")
		}), "(reg_s).receive: distribution_period and blocked_jurisdictions go together"},
		{"distribution period unit", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[name=reg_s].receive")["distribution_period"] = "12w"
		}), "(reg_s).receive.distribution_period"},
		{"lockup period bare number", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[name=reg_cf].lockup")["period"] = "365"
		}), "(reg_cf).lockup.period"},
		{"lockup period zero", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[name=reg_cf].lockup")["period"] = "0d"
		}), "(reg_cf).lockup.period"},
		{"lockup period too long", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[name=reg_cf].lockup")["period"] = "101y"
		}), "(reg_cf).lockup.period"},
		{"lockup rule", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[name=reg_cf].lockup")["rule"] = "Rule 144"
		}), "(reg_cf).lockup.rule"},
		{"lockup exempt status", mutate(t, func(d map[string]any) {
			at(t, d, "regimes[name=reg_cf].lockup")["exempt_min_status"] = "friends"
		}), "(reg_cf).lockup.exempt_min_status"},
		{"leverage missing", mutate(t, func(d map[string]any) { delete(d, "leverage") }), "leverage: is required"},
		{"default_max missing", mutate(t, func(d map[string]any) {
			delete(at(t, d, "leverage"), "default_max")
		}), "leverage.default_max"},
		{"cap word", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[1]")["max"] = "two"
		}), "leverage.rules[1] (reg_t_initial_margin).max"},
		{"cap exponent", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[1]")["max"] = "1e3"
		}), "leverage.rules[1] (reg_t_initial_margin).max"},
		{"cap too precise", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[2]")["max"] = "6.666666"
		}), "leverage.rules[2] (security_futures_margin).max"},
		{"cap negative", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[1]")["max"] = "-2"
		}), "leverage.rules[1] (reg_t_initial_margin).max"},
		{"cap too high", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[1]")["max"] = "2000"
		}), "above the limit of 1000"},
		{"cap missing", mutate(t, func(d map[string]any) {
			delete(at(t, d, "leverage.rules[1]"), "max")
		}), "leverage.rules[1] (reg_t_initial_margin).max"},
		{"rule status", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[1]")["statuses"] = []any{"vip"}
		}), "leverage.rules[1] (reg_t_initial_margin).statuses[0]"},
		{"rule statuses missing", mutate(t, func(d map[string]any) {
			delete(at(t, d, "leverage.rules[1]"), "statuses")
		}), "leverage.rules[1] (reg_t_initial_margin).statuses: is required"},
		{"rule class gaming", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[1]")["classes"] = []any{"gaming"}
		}), "leverage.rules[1] (reg_t_initial_margin).classes[0]"},
		{"rule underlying fx", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[5]")["underlyings"] = []any{"fx"}
		}), "leverage.rules[5] (cftc_retail_forex_major).underlyings[0]"},
		{"rule id twice", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[2]")["id"] = "reg_t_initial_margin"
		}), `leverage.rules[2].id: "reg_t_initial_margin" is used twice`},
		{"rule source", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[1]")["source"] = "  "
		}), "leverage.rules[1] (reg_t_initial_margin).source: is required"},
		{"status listed twice", mutate(t, func(d map[string]any) {
			at(t, d, "leverage.rules[1]")["statuses"] = []any{"retail", "retail"}
		}), "is listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rb, err := eligibility.Parse(tc.text)
			if err == nil {
				t.Fatalf("Parse() = %v, nil; want an error containing %q", rb.Version(), tc.want)
			}
			if !errors.Is(err, eligibility.ErrInvalidRulebook) {
				t.Errorf("Parse() error %v does not wrap ErrInvalidRulebook", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse() error = %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "in type eligibility.") {
				t.Errorf("Parse() error %q leaks a Go type name", err)
			}
		})
	}
}

// Ensure that Parse accepts what the schema allows beyond the default: periods
// in months and years, caps of none and 0, unquoted numbers, a regime without
// classes.
func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		edit func(d map[string]any)
	}{
		{"months", func(d map[string]any) { at(t, d, "regimes[name=reg_cf].lockup")["period"] = "6m" }},
		{"years", func(d map[string]any) { at(t, d, "regimes[name=reg_cf].lockup")["period"] = "1y" }},
		{"cap none", func(d map[string]any) { at(t, d, "leverage.rules[1]")["max"] = "none" }},
		{"cap zero", func(d map[string]any) { at(t, d, "leverage.rules[1]")["max"] = "0" }},
		{"cap unquoted", func(d map[string]any) { at(t, d, "leverage.rules[1]")["max"] = 2 }},
		{"regime any class", func(d map[string]any) { delete(at(t, d, "regimes[name=cftc]"), "classes") }},
		{"no prohibited topics", func(d map[string]any) {
			c := at(t, d, "classification")
			delete(c, "prohibited_topics")
			delete(c, "prohibited_source")
			delete(c, "prohibited_vocabulary")
		}},
		{"no leverage rules", func(d map[string]any) { delete(at(t, d, "leverage"), "rules") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := eligibility.Parse(mutate(t, tc.edit)); err != nil {
				t.Errorf("Parse() = %v, want nil", err)
			}
		})
	}
}

// Ensure that a month-based holding period ends on the calendar date, and that
// HoldingPeriod is an upper bound of it.
func TestCalendarPeriods(t *testing.T) {
	rb := mustParse(t, mutate(t, func(d map[string]any) {
		at(t, d, "regimes[name=reg_cf].lockup")["period"] = "6m"
	}))
	p := product("CFX", "reg_cf", equity)
	acquired := now // 2026-11-15 12:00 UTC
	end, ok := rb.LockupEnd(p, acquired)
	want := acquired.AddDate(0, 6, 0)
	if !ok || !end.Equal(want) {
		t.Errorf("LockupEnd() = %v, %v; want %v, true", end, ok, want)
	}
	if d := rb.HoldingPeriod(p); acquired.Add(d).Before(end) {
		t.Errorf("HoldingPeriod() = %v ends before LockupEnd %v", d, end)
	}
	for _, tc := range []struct {
		at   string
		want int
	}{{"2027-05-15T11:59:59Z", 1}, {"2027-05-15T12:00:00Z", 0}} {
		ts := mustTime(t, tc.at)
		got := rb.CheckLockedSend(eligibility.LockedSend{Now: ts, AcquiredAt: acquired, From: retail, To: retail, Product: p})
		if len(got) != tc.want {
			t.Errorf("CheckLockedSend(now=%s) = %v, want %d reasons", tc.at, codes(got), tc.want)
		}
	}
}

// Ensure that the limits keep their relations.
func TestLimits(t *testing.T) {
	checks := []struct {
		name string
		ok   bool
	}{
		{"a leverage cap can exceed any embedded leverage it must admit", eligibility.MaxLeverageCap >= eligibility.MaxEmbeddedLeverage},
		{"periods in days and months span the same 100 years", eligibility.MaxPeriodDays/365 == eligibility.MaxPeriodMonths/12},
		{"expiry fits in a period", eligibility.MaxExpiryDays <= eligibility.MaxPeriodDays},
		{"the default fits well inside the size limit", len(eligibility.DefaultYAML())*16 < eligibility.MaxRulebookBytes},
		{"the default's regimes fit", len(eligibility.Default().Regimes()) <= eligibility.MaxRegimes},
		{"a topic fits in a list item's budget", eligibility.MaxTopicBytes < eligibility.MaxSourceBytes},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("limit relation broken: %s", c.name)
		}
	}
}

// Ensure that the status and role helpers rank and validate.
func TestStatusRoleHelpers(t *testing.T) {
	for i, s := range eligibility.Statuses() {
		if s.Rank() != i || !s.Valid() {
			t.Errorf("%s.Rank() = %d, Valid() = %v; want %d, true", s, s.Rank(), s.Valid(), i)
		}
	}
	for _, s := range []eligibility.Status{"", "Retail", "whale"} {
		if s.Valid() || s.Rank() != -1 || s.AtLeast(eligibility.StatusRetail) {
			t.Errorf("%q: Valid() = %v, Rank() = %d, AtLeast(retail) = %v; want false, -1, false", s, s.Valid(), s.Rank(), s.AtLeast(eligibility.StatusRetail))
		}
	}
	roles := []eligibility.Role{eligibility.RoleOperator, eligibility.RoleIssuer, eligibility.RoleCustodian, eligibility.RoleInvestor, eligibility.RoleAuditor, eligibility.RoleOracle}
	for _, r := range roles {
		if !r.Valid() {
			t.Errorf("%s.Valid() = false", r)
		}
	}
	if eligibility.Role("admin").Valid() {
		t.Errorf(`Role("admin").Valid() = true`)
	}
	effective := []struct {
		p    eligibility.Party
		want eligibility.Status
	}{
		{retail, eligibility.StatusRetail},
		{qp, eligibility.StatusQualifiedPurchaser},
		{custodian, eligibility.StatusInstitutional},
		{eligibility.Party{ID: "o", Role: eligibility.RoleOracle}, eligibility.StatusInstitutional},
		{eligibility.Party{ID: "x", Role: eligibility.RoleInvestor}, eligibility.StatusRetail},
		{eligibility.Party{ID: "y", Role: "admin", Status: eligibility.StatusInstitutional}, eligibility.StatusInstitutional},
		{eligibility.Party{ID: "z", Role: "admin"}, eligibility.StatusRetail},
	}
	for _, tc := range effective {
		if got := tc.p.EffectiveStatus(); got != tc.want {
			t.Errorf("%+v.EffectiveStatus() = %s, want %s", tc.p, got, tc.want)
		}
	}
	if !slices.Equal(eligibility.Default().Regimes(), eligibility.Default().Regimes()) {
		t.Errorf("Regimes() is not deterministic")
	}
}
