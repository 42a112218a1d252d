package eligibility_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
)

// attrs builds attributes; leverage "" leaves embedded_leverage unset.
func attrs(underlying, payoff, leverage string, expiryDays int, purpose string) eligibility.Attributes {
	a := eligibility.Attributes{Underlying: underlying, Payoff: payoff, ExpiryDays: expiryDays, EconomicPurpose: purpose}
	if leverage != "" {
		a.EmbeddedLeverage = dec(leverage)
	}
	return a
}

// Ensure that every row of RULES.md's classification table classifies as it
// says, including the unset-attribute defaults.
func TestClassifyTable(t *testing.T) {
	rb := eligibility.Default()
	type want struct{ class, regulator, category string }
	security := want{"security", "SEC", "investment"}
	securityFuture := want{"security_future", "joint", "investment"}
	derivative := want{"derivative", "CFTC", "investment"}
	commodity := want{"commodity", "CFTC", "investment"}
	gaming := want{"gaming", "none", "prohibited"}
	tests := []struct {
		name string
		a    eligibility.Attributes
		want want
	}{
		{"cash", attrs("cash", "linear", "1", 0, "payment"), want{"cash", "none", "investment"}},
		{"cash with nothing else set", eligibility.Attributes{Underlying: "cash"}, want{"cash", "none", "investment"}},
		{"equity plain", attrs("enterprise_equity", "linear", "1", 0, "capital_formation"), security},
		{"debt plain", attrs("enterprise_debt", "linear", "1", 0, "capital_formation"), security},
		{"fund interest plain", attrs("fund_interest", "linear", "1", 0, "capital_formation"), security},
		{"real estate plain", attrs("real_estate", "", "", 0, ""), security},
		{"equity with expiry", attrs("enterprise_equity", "linear", "1", 90, "hedging"), securityFuture},
		{"debt with option payoff", attrs("enterprise_debt", "option", "1", 0, "hedging"), securityFuture},
		{"fund interest leveraged", attrs("fund_interest", "linear", "2", 0, "capital_formation"), securityFuture},
		{"real estate binary", attrs("real_estate", "binary", "1", 0, "hedging"), securityFuture},
		{"digital commodity plain", attrs("digital_commodity", "linear", "1", 0, "payment"), want{"digital_commodity", "CFTC", "investment"}},
		{"commodity plain", attrs("commodity", "linear", "1", 0, "hedging"), commodity},
		{"fx plain", attrs("fx", "linear", "1", 0, "payment"), commodity},
		{"index plain", attrs("index", "linear", "1", 0, "hedging"), commodity},
		{"digital commodity leveraged", attrs("digital_commodity", "linear", "3", 0, "none"), derivative},
		{"commodity with expiry", attrs("commodity", "linear", "1", 180, "hedging"), derivative},
		{"fx option", attrs("fx", "option", "1", 0, "hedging"), derivative},
		{"index leveraged", attrs("index", "linear", "1.5", 0, "hedging"), derivative},
		{"event plain", attrs("event", "linear", "1", 0, "hedging"), want{"event_contract", "CFTC", "investment"}},
		{"event binary hedge", attrs("event", "binary", "1", 365, "hedging"), want{"event_contract", "CFTC", "investment"}},
	}
	for _, topic := range []string{"terrorism", "assassination", "war", "gaming", "unlawful_activity", "Unlawful Activity", "  WAR "} {
		a := attrs("event", "binary", "1", 30, "none")
		a.EventTopic = topic
		tests = append(tests, struct {
			name string
			a    eligibility.Attributes
			want want
		}{"topic " + topic, a, gaming})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := rb.Classify(tc.a)
			got := want{c.Class, c.Regulator, c.Category}
			if got != tc.want {
				t.Errorf("Classify(%+v) = %+v, want %+v (reasons %q)", tc.a, got, tc.want, c.Reasons)
			}
			if c.Allowed != (tc.want.category != "prohibited") {
				t.Errorf("Classify(%+v).Allowed = %v", tc.a, c.Allowed)
			}
			if len(c.Reasons) == 0 {
				t.Errorf("Classify(%+v) gave no reasons", tc.a)
			}
		})
	}
}

// RULES.md "Classification, harder to fool": lower-cased words and phrases
// of a topic are matched against each prohibited topic's vocabulary, whole
// words only (a plural allowed), so letters inside other words do not
// count; athlete injury or conduct and officiating terms make the outcome
// controllable.
func TestClassifyTopicVocabulary(t *testing.T) {
	tests := []struct {
		topic        string
		class        string
		controllable bool
	}{
		{"War in X", "gaming", false},
		{"Will the award go to the film about war?", "gaming", false},
		{"Casino revenue above forecast", "gaming", false},
		{"sports betting handle in Q3", "gaming", false},
		{"Slots revenue", "gaming", false},
		{"An ARMED   CONFLICT between A and B", "gaming", false},
		{"military-strike on the border", "gaming", false},
		{"Lottery jackpot", "gaming", false},
		{"unlawful activity", "gaming", false},
		{"Terrorist attack this year", "gaming", false},
		{"warm winter in Chicago", "event_contract", false},
		{"Award ceremony date", "event_contract", false},
		{"Fed funds rate above 4%", "event_contract", false},
		{"Will the star striker be injured before the final", "event_contract", true},
		{"Number of red cards in the derby", "event_contract", true},
		{"Will the referee award a penalty", "event_contract", true},
	}
	rb := eligibility.Default()
	for _, tc := range tests {
		t.Run(tc.topic, func(t *testing.T) {
			a := attrs("event", "linear", "1", 0, "hedging")
			a.EventTopic = tc.topic
			c := rb.Classify(a)
			if c.Class != tc.class {
				t.Fatalf("Classify(topic %q).Class = %s, want %s (%q)", tc.topic, c.Class, tc.class, c.Reasons)
			}
			if tc.class != "event_contract" {
				return
			}
			got := strings.Contains(strings.Join(c.Reasons, " "), "outcome_controllable")
			if got != tc.controllable {
				t.Errorf("Classify(topic %q) counts outcome_controllable: %v, want %v (%q)", tc.topic, got, tc.controllable, c.Reasons)
			}
		})
	}
}

// RULES.md: a perpetual (no expiry, funded) is a derivative of its
// underlying, never plain; with an expiry it is malformed.
func TestClassifyPerpetual(t *testing.T) {
	rb := eligibility.Default()
	tests := []struct {
		underlying string
		expiry     int
		class      string
	}{
		{"digital_commodity", 0, "derivative"},
		{"index", 0, "derivative"},
		{"enterprise_equity", 0, "security_future"},
		{"digital_commodity", 30, ""},
	}
	for _, tc := range tests {
		a := attrs(tc.underlying, "linear", "1", tc.expiry, "none")
		a.Perpetual = true
		if c := rb.Classify(a); c.Class != tc.class {
			t.Errorf("Classify(perpetual %s, expiry %d).Class = %q, want %q (%q)", tc.underlying, tc.expiry, c.Class, tc.class, c.Reasons)
		}
	}
}

// Ensure that invalid attributes classify to nothing, with the reasons.
func TestClassifyInvalid(t *testing.T) {
	fxMajorEquity := equity
	fxMajorEquity.FXMajor = true
	longTopic := attrs("event", "", "", 0, "")
	longTopic.EventTopic = strings.Repeat("x", eligibility.MaxTopicBytes+1)
	tests := []struct {
		name string
		a    eligibility.Attributes
		want string
	}{
		{"no underlying", eligibility.Attributes{}, `underlying ""`},
		{"unknown underlying", attrs("tulips", "linear", "1", 0, "none"), `underlying "tulips"`},
		{"unknown payoff", attrs("commodity", "exotic", "1", 0, "none"), `payoff "exotic"`},
		{"leverage below 1", attrs("commodity", "linear", "0.5", 0, "none"), "embedded_leverage 0.5 is below 1"},
		{"leverage negative", attrs("commodity", "linear", "-2", 0, "none"), "embedded_leverage -2 is below 1"},
		{"leverage huge", attrs("commodity", "linear", "1001", 0, "none"), "above the limit"},
		{"negative expiry", attrs("commodity", "linear", "1", -1, "none"), "expiry_days -1"},
		{"expiry too far", attrs("commodity", "linear", "1", eligibility.MaxExpiryDays+1, "none"), "expiry_days"},
		{"unknown purpose", attrs("commodity", "linear", "1", 0, "fun"), `economic_purpose "fun"`},
		{"fx_major on equity", fxMajorEquity, "fx_major applies only to underlying fx"},
		{"topic too long", longTopic, "event_topic is 201 bytes"},
		{"cash with expiry", attrs("cash", "linear", "1", 30, "payment"), "underlying cash admits no expiry in 30 days"},
		{"cash leveraged", attrs("cash", "linear", "2", 0, "payment"), "embedded leverage 2x"},
		{"cash binary", attrs("cash", "binary", "1", 0, "payment"), "binary payoff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := eligibility.Default().Classify(tc.a)
			if c.Class != "" || c.Regulator != "" || c.Category != "" || c.Allowed {
				t.Errorf("Classify(%+v) = %+v, want an empty classification", tc.a, c)
			}
			if !strings.Contains(strings.Join(c.Reasons, "; "), tc.want) {
				t.Errorf("Classify(%+v).Reasons = %q, want one containing %q", tc.a, c.Reasons, tc.want)
			}
		})
	}
}

// Ensure that the gambling screen counts each indicator and decides at two.
func TestGamblingScreen(t *testing.T) {
	event := func(payoff string, expiry int, purpose string, platform, controllable bool) eligibility.Attributes {
		a := attrs("event", payoff, "1", expiry, purpose)
		a.EventTopic = "rainfall in Paris"
		a.CounterpartyIsPlatform, a.OutcomeControllable = platform, controllable
		return a
	}
	tests := []struct {
		name       string
		a          eligibility.Attributes
		indicators string // as the reason lists them
		want       string
	}{
		{"none", event("linear", 0, "hedging", false, false), "0 of 5 indicators (none)", "investment"},
		{"fixed-or-zero payout only", event("binary", 0, "hedging", false, false), "1 of 5 indicators (fixed_or_zero_payout)", "investment"},
		{"short term only", event("linear", 30, "hedging", false, false), "1 of 5 indicators (short_term)", "investment"},
		{"no purpose only", event("linear", 0, "none", false, false), "1 of 5 indicators (no_economic_purpose)", "investment"},
		{"platform only", event("linear", 0, "hedging", true, false), "1 of 5 indicators (platform_counterparty)", "investment"},
		{"controllable only", event("linear", 0, "hedging", false, true), "1 of 5 indicators (outcome_controllable)", "investment"},
		{"binary and short", event("binary", 30, "hedging", false, false), "2 of 5 indicators (fixed_or_zero_payout, short_term)", "gambling_like"},
		{"89 days is short", event("linear", 89, "none", false, false), "2 of 5 indicators (short_term, no_economic_purpose)", "gambling_like"},
		{"90 days is not short", event("linear", 90, "none", false, false), "1 of 5 indicators (no_economic_purpose)", "investment"},
		{"1 day is short", event("linear", 1, "none", false, false), "2 of 5", "gambling_like"},
		{"unset purpose counts as none", event("binary", 0, "", false, false), "2 of 5 indicators (fixed_or_zero_payout, no_economic_purpose)", "gambling_like"},
		{"platform and controllable", event("linear", 0, "hedging", true, true), "2 of 5", "gambling_like"},
		{"all five", event("binary", 7, "none", true, true), "5 of 5", "gambling_like"},
		{"binary on equity is screened", attrs("enterprise_equity", "binary", "1", 30, "hedging"), "2 of 5", "gambling_like"},
		{"binary long-dated hedge on equity", attrs("enterprise_equity", "binary", "1", 365, "hedging"), "1 of 5", "investment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := eligibility.Default().Classify(tc.a)
			if c.Category != tc.want {
				t.Errorf("Classify(%+v).Category = %s, want %s (reasons %q)", tc.a, c.Category, tc.want, c.Reasons)
			}
			if !strings.Contains(strings.Join(c.Reasons, "; "), tc.indicators) {
				t.Errorf("Classify(%+v).Reasons = %q, want them to mention %q", tc.a, c.Reasons, tc.indicators)
			}
		})
	}
	// An option on an equity is neither an event contract nor binary: unscreened.
	c := eligibility.Default().Classify(attrs("enterprise_equity", "option", "1", 30, "none"))
	if c.Category != "investment" || strings.Contains(strings.Join(c.Reasons, ";"), "gambling screen") {
		t.Errorf("option on equity: %+v, want an unscreened investment", c)
	}
}

// Ensure that CheckCreate refuses prohibited products, unknown regimes, bad
// attributes and classes the regime does not admit.
func TestCheckCreate(t *testing.T) {
	war := attrs("event", "binary", "1", 30, "none")
	war.EventTopic = "war"
	gamblingLike := attrs("event", "binary", "1", 7, "none")
	tests := []struct {
		name     string
		p        eligibility.Product
		want     []string
		contains string
	}{
		{"security under reg_d_506b", product("RDX", "reg_d_506b", equity), nil, ""},
		{"cash under unrestricted", product("USD", "unrestricted", eligibility.Attributes{Underlying: "cash"}), nil, ""},
		{"gambling-like event under cftc", product("EVT", "cftc", gamblingLike), nil, ""},
		{"prohibited topic", product("WAR", "cftc", war), []string{"GAMING_PRODUCT prohibited_topic"}, "CEA 5c(c)(5)(C)"},
		{"unknown regime", product("RDX", "reg_z", equity), []string{"INVALID_INSTRUCTION regime"}, `regime "reg_z"`},
		{"bad attributes", product("BAD", "cftc", attrs("tulips", "", "", 0, "")), []string{"INVALID_INSTRUCTION attributes"}, `"tulips"`},
		{"security under cftc", product("RDX", "cftc", equity), []string{"INVALID_INSTRUCTION cftc.classes"}, "regime cftc admits only digital_commodity, commodity, derivative, event_contract"},
		{"derivative under reg_cf", product("BTC3", "reg_cf", attrs("digital_commodity", "linear", "3", 0, "none")), []string{"INVALID_INSTRUCTION reg_cf.classes"}, "is a derivative"},
		{"reg_s without offering date", func() eligibility.Product {
			p := product("RSX", "reg_s", equity)
			p.OfferingDate = time.Time{}
			return p
		}(), []string{"INVALID_INSTRUCTION reg_s.offering_date"}, "set offering_date"},
		{"prohibited and unknown regime", product("WAR", "nope", war), []string{"INVALID_INSTRUCTION regime", "GAMING_PRODUCT prohibited_topic"}, ""},
		{"stale classification is not trusted", func() eligibility.Product {
			p := product("WAR", "cftc", war)
			p.Classification = eligibility.Classification{Class: "event_contract", Regulator: "CFTC", Category: "investment", Allowed: true}
			return p
		}(), []string{"GAMING_PRODUCT prohibited_topic"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eligibility.Default().CheckCreate(tc.p)
			if !slices.Equal(codes(got), tc.want) {
				t.Fatalf("CheckCreate(%s) = %v, want %v", tc.p.Symbol, codes(got), tc.want)
			}
			if tc.contains != "" && !strings.Contains(got[len(got)-1].Message, tc.contains) {
				t.Errorf("CheckCreate(%s) message = %q, want it to contain %q", tc.p.Symbol, got[len(got)-1].Message, tc.contains)
			}
			for _, r := range got {
				if r.ERC1066 == "" {
					t.Errorf("reason %+v has no ERC1066 byte", r)
				}
			}
		})
	}
}

// Ensure that unset and explicit embedded leverage 1 classify alike.
func TestClassifyUnsetLeverage(t *testing.T) {
	a := equity
	a.EmbeddedLeverage = decimal.Decimal{}
	if got, want := eligibility.Default().Classify(a).Class, eligibility.Default().Classify(equity).Class; got != want {
		t.Errorf("unset leverage class = %s, explicit 1 = %s", got, want)
	}
}
