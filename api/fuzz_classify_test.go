package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/eligibility"
)

// FuzzClassify sends arbitrary attribute objects to POST /v1/classify. The
// server must answer 200 or 400, never fail; a 200 must carry a class, a
// regulator and a category (an invalid body is never an empty answer), a
// prohibited category must come with class gaming, and a 400 must carry a
// code its status allows. Seeds: the README's products, events with and
// without their attributes, perpetuals, topics that dodge or hit the
// prohibited vocabulary.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		`{"attributes":{"underlying":"enterprise_equity","payoff":"linear","embedded_leverage":"1","expiry_days":0,"economic_purpose":"capital_formation"}}`,
		`{"attributes":{"underlying":"cash","payoff":"linear","embedded_leverage":"1","expiry_days":0,"economic_purpose":"payment"}}`,
		`{"attributes":{"underlying":"digital_commodity","payoff":"linear","embedded_leverage":"1","expiry_days":0,"economic_purpose":"none","perpetual":true}}`,
		`{"attributes":{"underlying":"event","payoff":"binary","embedded_leverage":"1","expiry_days":7,"economic_purpose":"none","event_topic":"War in X","counterparty_is_platform":false,"outcome_controllable":false}}`,
		`{"attributes":{"underlying":"event","payoff":"binary","embedded_leverage":"1","expiry_days":7,"economic_purpose":"hedging","event_topic":"Will the striker be injured","counterparty_is_platform":true,"outcome_controllable":false}}`,
		`{"attributes":{"underlying":"event","payoff":"binary","expiry_days":7}}`,
		`{"attributes":{"underlying":"fx","payoff":"option","embedded_leverage":"30","expiry_days":"7","economic_purpose":"hedging","fx_major":true}}`,
		`{"attributes":null}`, `{}`, `[]`, ``,
	} {
		f.Add(s)
	}
	e := newEnv(f, api.Config{})
	e.world()
	f.Fuzz(func(t *testing.T, body string) {
		r := e.request("POST", "/v1/classify", e.keys["inv-a"], body)
		switch r.status {
		case http.StatusOK:
			var c eligibility.Classification
			if err := json.Unmarshal(r.body, &c); err != nil {
				t.Fatalf("200 with a body that is not a classification: %s", r.body)
			}
			if c.Class == "" || c.Regulator == "" || c.Category == "" || len(c.Reasons) == 0 {
				t.Fatalf("classify(%s) = 200 %s: an empty answer", body, r.body)
			}
			if (c.Category == eligibility.CategoryProhibited) != (c.Class == eligibility.ClassGaming) {
				t.Fatalf("classify(%s) = %s: prohibited and gaming go together", body, r.body)
			}
		case http.StatusBadRequest:
			if code := r.errorCode(); !slices.Contains(codesByStatus[http.StatusBadRequest], code) {
				t.Fatalf("classify(%s) = 400 with code %q", body, code)
			}
		default:
			t.Fatalf("classify(%s) = %d %s, want 200 or 400", body, r.status, r.body)
		}
	})
}
