package eligibility_test

import (
	"errors"
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
)

// FuzzParse checks that Parse never panics, that every error wraps
// ErrInvalidRulebook, and that whatever it accepts can be used and re-parsed.
func FuzzParse(f *testing.F) {
	f.Add(eligibility.DefaultYAML())
	f.Add([]byte(""))
	f.Add([]byte("schema: 1\n"))
	f.Add([]byte("schema: 1\nversion: x\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("leverage:\n  rules:\n    - id: x\n      max: 1e99999\n"))
	f.Add([]byte("regimes:\n  - name: r\n    lockup: {period: 99999y}\n"))
	f.Add([]byte("schema: 1\n---\nschema: 1\n"))
	f.Add([]byte("\xff\xfe"))
	f.Add(append(eligibility.DefaultYAML(), "\ndual_control: [force_transfer, recover]\ndual_control_ttl: 2d\n"...))
	f.Add(mutate(f, func(d map[string]any) { delete(at(f, d, "regimes[name=reg_cf]"), "receive") }))
	f.Add(mutate(f, func(d map[string]any) { at(f, d, "leverage")["default_max"] = "0" }))
	attrs := []eligibility.Attributes{
		equity,
		{Underlying: "cash"},
		{Underlying: "fx", FXMajor: true, Payoff: "option", ExpiryDays: 30},
		{Underlying: "event", Payoff: "binary", ExpiryDays: 3, EventTopic: "war"},
		{Underlying: "digital_commodity", EmbeddedLeverage: dec("3")},
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		rb, err := eligibility.Parse(text)
		if err != nil {
			if !errors.Is(err, eligibility.ErrInvalidRulebook) {
				t.Fatalf("Parse error %v does not wrap ErrInvalidRulebook", err)
			}
			return
		}
		findings := eligibility.Lint(rb)
		for _, name := range rb.Regimes() {
			for _, a := range attrs {
				p := eligibility.Product{Symbol: "S", Issuer: "iss", Regime: name, OfferingDate: now, Attributes: a}
				rb.CheckCreate(p)
				rb.CheckReceive(receive(retail, p))
				rb.CheckLockedSend(eligibility.LockedSend{Now: now, AcquiredAt: now, From: retail, To: retail, Product: p})
				rb.HoldingPeriod(p)
			}
		}
		for _, s := range eligibility.Statuses() {
			rb.MaxLeverage(s, "derivative", "fx", true)
			rb.Measure(account(investor("i", s, "US"), "10", usd("5"), pos("BTC3", "derivative", "digital_commodity", "1", "2", "3")))
		}
		again, err := eligibility.Parse(rb.YAML())
		if err != nil {
			t.Fatalf("re-Parse of accepted text: %v", err)
		}
		if again.Version() != rb.Version() || len(eligibility.Lint(again)) != len(findings) {
			t.Fatalf("re-Parse changed the rulebook")
		}
	})
}
