package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
)

// TestPartyFigures checks that an investor's annual_income and net_worth
// are set by whoever may update the party, refused when malformed (400),
// and read only by the party, its custodian, the operator and auditors.
func TestPartyFigures(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	e.must(http.StatusOK, "cus-1", "POST", "/v1/instructions",
		ins("update_party", map[string]any{"party_id": "inv-a", "annual_income": "90000", "net_worth": "250000.50"}))
	e.must(http.StatusForbidden, "cus-2", "POST", "/v1/instructions",
		ins("update_party", map[string]any{"party_id": "inv-a", "net_worth": "1"}))
	r := e.must(http.StatusBadRequest, "cus-1", "POST", "/v1/instructions",
		ins("update_party", map[string]any{"party_id": "inv-a", "net_worth": "-1"}))
	if code := r.errorCode(); code != "BAD_AMOUNT" && code != "INVALID_INSTRUCTION" && code != "MALFORMED" {
		t.Errorf("a negative net_worth: code %s", code)
	}
	for _, who := range []string{"inv-a", "cus-1", ledger.OperatorID, "aud"} {
		body := string(e.must(http.StatusOK, who, "GET", "/v1/parties/inv-a", "").body)
		if !strings.Contains(body, `"annual_income":"90000"`) || !strings.Contains(body, `"net_worth":"250000.5"`) {
			t.Errorf("%s reads inv-a as %s, want its figures", who, body)
		}
	}
	for _, who := range []string{"inv-b", "cus-2", "iss-1", "orc"} {
		e.must(http.StatusForbidden, who, "GET", "/v1/parties/inv-a", "")
		if body := string(e.must(http.StatusOK, who, "GET", "/v1/parties", "").body); strings.Contains(body, "annual_income") {
			t.Errorf("%s lists parties with figures: %s", who, body)
		}
	}
}
