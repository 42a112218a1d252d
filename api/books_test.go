package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
)

// addKey gives party a key and returns it.
func (e *env) addKey(party string) {
	e.t.Helper()
	r := e.must(http.StatusCreated, ledger.OperatorID, "POST", "/v1/keys", `{"party_id":"`+party+`"}`)
	var k struct {
		Key string `json:"key"`
	}
	r.decode(e.t, &k)
	e.keys[party] = k.Key
}

// Ensure that the books of API.md are served: the control book, a closed
// party's keys refused, and dual control answered 202 and listed pending.
func TestBooks(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()

	var in struct {
		HolderCount int    `json:"holder_count"`
		Issued      string `json:"issued"`
		Treasury    string `json:"treasury"`
		Outstanding string `json:"outstanding"`
	}
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", mint("REG", "iss-1", "50"))
	e.must(http.StatusOK, "aud", "GET", "/v1/instruments/REG", "").decode(t, &in)
	if in.HolderCount != 1 || in.Issued != "150" || in.Treasury != "50" || in.Outstanding != "100" {
		t.Errorf("REG = %+v, want 1 holder of record, 150 issued, 50 treasury, 100 outstanding", in)
	}
	var book ledger.ControlBookAt
	e.must(http.StatusOK, "iss-1", "GET", "/v1/instruments/REG/control-book", "").decode(t, &book)
	if !book.Reconciled || book.HoldersOfRecord != 1 {
		t.Errorf("control book = %+v", book)
	}
	e.must(http.StatusBadRequest, "aud", "GET", "/v1/instruments/REG/control-book?at=100000", "")

	// A recovered account's keys answer 401.
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", registerInvestor("inv-z", "accredited", "cus-1"))
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", ins("recover", map[string]any{"from": "inv-b", "to": "inv-z"}))
	e.must(http.StatusUnauthorized, "inv-b", "GET", "/v1/parties/inv-b", "")

	// Dual control: 202 pending, listed, approved by a second operator.
	y := string(eligibility.Default().YAML()) + "\ndual_control: [force_transfer]\n"
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", ins("set_rulebook", map[string]any{"rulebook": y}))
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", registerParty("op-2", "operator"))
	e.addKey("op-2")
	force := ins("force_transfer", map[string]any{"legal_reference": "order 3",
		"legs": []map[string]any{{"symbol": "REG", "from": "inv-a", "to": "inv-c", "amount": "5"}}})
	r := e.must(http.StatusAccepted, ledger.OperatorID, "POST", "/v1/instructions", force)
	var held struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	r.decode(t, &held)
	if held.Status != "pending" {
		t.Errorf("held = %s", r.body)
	}
	if body := e.must(http.StatusOK, "aud", "GET", "/v1/pending", "").body; !strings.Contains(string(body), held.ID) {
		t.Errorf("GET /v1/pending = %s, want %s", body, held.ID)
	}
	if body := e.must(http.StatusOK, "inv-a", "GET", "/v1/pending", "").body; strings.Contains(string(body), held.ID) {
		t.Errorf("GET /v1/pending as inv-a = %s, want not another's", body)
	}
	e.must(http.StatusForbidden, "iss-1", "POST", "/v1/instructions", ins("approve", map[string]any{"instruction_id": held.ID}))
	e.must(http.StatusOK, "op-2", "POST", "/v1/instructions", ins("approve", map[string]any{"instruction_id": held.ID}))
}
