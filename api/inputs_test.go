package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
)

// TestBadInput checks that every bad input of API.md gets its documented
// status and code and changes nothing. Method: the standard world, then each
// bad request, comparing the ledger's full hash (state, journal and meta) and
// the number of proposals before and after.
func TestBadInput(t *testing.T) {
	e := newEnv(t, api.Config{MaxBodyBytes: api.MinBodyBytes})
	e.world()

	mintWith := func(amountJSON string) string {
		return fmt.Sprintf(`{"id":%q,"type":"mint","symbol":"USD","to":"inv-a","amount":%s}`, newID(), amountJSON)
	}
	batchOf := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"id":"b-%d","type":"pause","symbol":"REG"}`, i)
		}
		return `{"instructions":[` + strings.Join(items, ",") + `]}`
	}
	big := `{"id":"big","type":"set_rulebook","rulebook":"` + strings.Repeat("x", api.MinBodyBytes) + `"}`

	const (
		bad = http.StatusBadRequest
	)
	tests := []struct {
		name       string
		party      string
		path       string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"malformed JSON", "iss-1", "/v1/instructions", `{"id":"x","type":`, bad, "MALFORMED"},
		{"not an object", "iss-1", "/v1/instructions", `["mint"]`, bad, "MALFORMED"},
		{"empty body", "iss-1", "/v1/instructions", ``, bad, "MALFORMED"},
		{"trailing data", "iss-1", "/v1/instructions", mint("USD", "inv-a", "1") + `{}`, bad, "MALFORMED"},
		{"wrong JSON type", "iss-1", "/v1/instructions", `{"id":"x","type":"mint","symbol":5,"to":"inv-a","amount":"1"}`, bad, "MALFORMED"},
		{"unknown field", "iss-1", "/v1/instructions", `{"id":"x","type":"mint","symbol":"USD","to":"inv-a","amount":"1","colour":"red"}`, bad, "UNKNOWN_FIELD"},
		{"field of another type", "iss-1", "/v1/instructions", `{"id":"x","type":"mint","symbol":"USD","to":"inv-a","amount":"1","legs":[]}`, bad, "UNKNOWN_FIELD"},
		{"unknown nested field", "iss-1", "/v1/instructions", `{"id":"x","type":"transfer","legs":[{"symbol":"REG","from":"inv-a","to":"inv-b","amount":"1","memo":"m"}]}`, bad, "UNKNOWN_FIELD"},
		{"number amount", "iss-1", "/v1/instructions", mintWith(`5`), bad, "BAD_AMOUNT"},
		{"exponent", "iss-1", "/v1/instructions", mintWith(`"1e5"`), bad, "BAD_AMOUNT"},
		{"negative", "iss-1", "/v1/instructions", mintWith(`"-1"`), bad, "BAD_AMOUNT"},
		{"plus sign", "iss-1", "/v1/instructions", mintWith(`"+1"`), bad, "BAD_AMOUNT"},
		{"empty amount", "iss-1", "/v1/instructions", mintWith(`""`), bad, "BAD_AMOUNT"},
		{"leading dot", "iss-1", "/v1/instructions", mintWith(`".5"`), bad, "BAD_AMOUNT"},
		{"huge exponent", "iss-1", "/v1/instructions", mintWith(`"1e999999"`), bad, "BAD_AMOUNT"},
		{"19 fraction digits", "iss-1", "/v1/instructions", mintWith(`"0.0000000000000000001"`), bad, "BAD_AMOUNT"},
		{"above 10^30", "iss-1", "/v1/instructions", mintWith(`"1000000000000000000000000000001"`), bad, "BAD_AMOUNT"},
		{"zero", "iss-1", "/v1/instructions", mintWith(`"0"`), bad, "BAD_AMOUNT"},
		{"more decimals than USD's 2", "iss-1", "/v1/instructions", mintWith(`"1.001"`), bad, "BAD_AMOUNT"},
		{"fraction of a 0-decimal instrument", "inv-a", "/v1/instructions", transferBody("REG", "inv-a", "inv-b", "1.5"), bad, "BAD_AMOUNT"},
		{"too many decimals in a dry run", "inv-a", "/v1/check", transferBody("REG", "inv-a", "inv-b", "0.5"), bad, "BAD_AMOUNT"},
		{"amount escaped", "iss-1", "/v1/instructions", mintWith(`"\u0031"`), bad, "BAD_AMOUNT"},
		{"unknown type", "iss-1", "/v1/instructions", `{"id":"x","type":"steal"}`, bad, "INVALID"},
		{"missing id", "iss-1", "/v1/instructions", `{"type":"pause","symbol":"REG"}`, bad, "INVALID"},
		{"bad id", "iss-1", "/v1/instructions", `{"id":"a b","type":"pause","symbol":"REG"}`, bad, "INVALID"},
		{"bad symbol", "iss-1", "/v1/instructions", `{"id":"x","type":"pause","symbol":"reg"}`, bad, "INVALID"},
		{"missing amount", "iss-1", "/v1/instructions", `{"id":"x","type":"mint","symbol":"USD","to":"inv-a"}`, bad, "INVALID"},
		{"too large body", "operator", "/v1/instructions", big, http.StatusRequestEntityTooLarge, "TOO_LARGE"},
		{"too large batch body", "operator", "/v1/instructions/batch", `{"instructions":[` + big + `]}`, http.StatusRequestEntityTooLarge, "TOO_LARGE"},
		{"wrong role", "inv-a", "/v1/instructions", mint("USD", "inv-a", "1"), http.StatusForbidden, "NOT_AUTHORIZED"},
		{"not its own instrument", "iss-2", "/v1/instructions", mint("REG", "inv-a", "1"), http.StatusForbidden, "NOT_AUTHORIZED"},
		{"not its own holding", "inv-b", "/v1/instructions", transferBody("REG", "inv-a", "inv-b", "1"), http.StatusForbidden, "NOT_AUTHORIZED"},
		{"another custodian's investor", "cus-2", "/v1/instructions", transferBody("REG", "inv-a", "inv-b", "1"), http.StatusForbidden, "NOT_AUTHORIZED"},
		{"auditor writes", "aud", "/v1/instructions", transferBody("REG", "inv-a", "inv-b", "1"), http.StatusForbidden, "NOT_AUTHORIZED"},
		{"wrong role in a dry run", "inv-a", "/v1/check", mint("USD", "inv-a", "1"), http.StatusForbidden, "NOT_AUTHORIZED"},
		{"batch: malformed", "iss-1", "/v1/instructions/batch", `{"instructions":[`, bad, "MALFORMED"},
		{"batch: unknown field", "iss-1", "/v1/instructions/batch", `{"instructions":[],"atomic":true}`, bad, "UNKNOWN_FIELD"},
		{"batch: empty", "iss-1", "/v1/instructions/batch", `{"instructions":[]}`, bad, "INVALID"},
		{"batch: missing", "iss-1", "/v1/instructions/batch", `{}`, bad, "INVALID"},
		{"batch: not a list", "iss-1", "/v1/instructions/batch", `{"instructions":{}}`, bad, "MALFORMED"},
		{"key: unknown field", "operator", "/v1/keys", `{"party_id":"inv-a","role":"operator"}`, bad, "UNKNOWN_FIELD"},
		{"key: bad party id", "operator", "/v1/keys", `{"party_id":""}`, bad, "INVALID"},
		{"key: unknown party", "operator", "/v1/keys", `{"party_id":"ghost"}`, http.StatusNotFound, "NOT_FOUND"},
		{"classify: unknown field", "inv-a", "/v1/classify", `{"attributes":{"underlying":"fx","colour":1}}`, bad, "UNKNOWN_FIELD"},
		{"classify: missing attributes", "inv-a", "/v1/classify", `{}`, bad, "MALFORMED"},
		{"classify: missing payoff", "inv-a", "/v1/classify", `{"attributes":{"underlying":"fx","embedded_leverage":"1","expiry_days":0,"economic_purpose":"none"}}`, bad, "MALFORMED"},
		{"classify: empty payoff", "inv-a", "/v1/classify", `{"attributes":{"underlying":"fx","payoff":"","embedded_leverage":"1","expiry_days":0,"economic_purpose":"none"}}`, bad, "MALFORMED"},
		{"classify: expiry as a string", "inv-a", "/v1/classify", `{"attributes":{"underlying":"fx","payoff":"linear","embedded_leverage":"1","expiry_days":"0","economic_purpose":"none"}}`, bad, "MALFORMED"},
		{"classify: event without its attributes", "inv-a", "/v1/classify", `{"attributes":{"underlying":"event","payoff":"binary","embedded_leverage":"1","expiry_days":30,"economic_purpose":"none","event_topic":"rain"}}`, bad, "MALFORMED"},
		{"classify: unknown underlying", "inv-a", "/v1/classify", `{"attributes":{"underlying":"tulips","payoff":"linear","embedded_leverage":"1","expiry_days":0,"economic_purpose":"none"}}`, bad, "MALFORMED"},
		{"create_instrument: missing payoff", "iss-1", "/v1/instructions", ins("create_instrument", map[string]any{"instrument": map[string]any{
			"symbol": "NOPAY", "name": "n", "issuer": "iss-1", "decimals": 0, "regime": "registered",
			"attributes": map[string]any{"underlying": "enterprise_equity", "embedded_leverage": "1", "expiry_days": 0, "economic_purpose": "capital_formation"}}}), bad, "MALFORMED"},
		{"create_instrument: unknown attribute", "iss-1", "/v1/instructions", ins("create_instrument", map[string]any{"instrument": map[string]any{
			"symbol": "NOPAY", "name": "n", "issuer": "iss-1", "decimals": 0, "regime": "registered",
			"attributes": map[string]any{"underlying": "enterprise_equity", "payoff": "linear", "embedded_leverage": "1", "expiry_days": 0, "economic_purpose": "capital_formation", "colour": "red"}}}), bad, "UNKNOWN_FIELD"},
		{"classify: number leverage", "inv-a", "/v1/classify", `{"attributes":{"underlying":"fx","embedded_leverage":2}}`, bad, "BAD_AMOUNT"},
		{"node: bad address", "operator", "/v1/cluster/nodes", `{"id":"n9","raft_addr":"nowhere","api_addr":"127.0.0.1:1"}`, bad, "INVALID"},
		{"node: unknown field", "operator", "/v1/cluster/nodes", `{"id":"n9","raft_addr":"127.0.0.1:1","api_addr":"127.0.0.1:2","voter":false}`, bad, "UNKNOWN_FIELD"},
		{"unknown query parameter", "iss-1", "/v1/instructions?dry=1", mint("USD", "inv-a", "1"), bad, "INVALID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, proposals := e.hashes(), e.repl.proposals.Load()
			r := e.as(tc.party, "POST", tc.path, tc.body)
			if r.status != tc.wantStatus || r.errorCode() != tc.wantCode {
				t.Errorf("POST %s as %s: %d %s (%.200s), want %d %s", tc.path, tc.party, r.status, r.errorCode(), r.body, tc.wantStatus, tc.wantCode)
			}
			if after := e.hashes(); after.Full != before.Full {
				t.Errorf("POST %s as %s: refused, but the ledger changed", tc.path, tc.party)
			}
			if got := e.repl.proposals.Load(); got != proposals {
				t.Errorf("POST %s as %s: refused, but %d proposals were made", tc.path, tc.party, got-proposals)
			}
		})
	}

	t.Run("batch over the limit", func(t *testing.T) {
		e := newEnv(t, api.Config{})
		before := e.hashes()
		r := e.as(ledger.OperatorID, "POST", "/v1/instructions/batch", batchOf(api.MaxBatchInstructions+1))
		if r.status != http.StatusRequestEntityTooLarge || r.errorCode() != "TOO_LARGE" {
			t.Errorf("batch of %d: %d %s, want 413 TOO_LARGE", api.MaxBatchInstructions+1, r.status, r.body)
		}
		if e.hashes().Full != before.Full || e.repl.proposals.Load() != 0 {
			t.Errorf("batch over the limit changed the ledger or proposed")
		}
	})
}

// TestBadQuery checks query parameters of reads.
func TestBadQuery(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	tests := []struct {
		path string
		want int
	}{
		{"/v1/journal?after=x", http.StatusBadRequest},
		{"/v1/journal?after=-1", http.StatusBadRequest},
		{"/v1/journal?limit=-5", http.StatusBadRequest},
		{"/v1/journal?party=a%20b", http.StatusBadRequest},
		{"/v1/journal?symbol=lower", http.StatusBadRequest},
		{"/v1/journal?after=1&after=2", http.StatusBadRequest},
		{"/v1/journal?afer=1", http.StatusBadRequest},
		{"/v1/journal?limit=100000", http.StatusOK},
		{"/v1/instruments/REG/holders?at=x", http.StatusBadRequest},
		{"/v1/instruments/REG/holders?at=1000000", http.StatusBadRequest},
		{"/v1/instruments/REG/holders?at=0", http.StatusOK},
		{"/v1/instruments/REG/holders?after=a%20b", http.StatusBadRequest},
		{"/v1/instruments/REG/holders?after=", http.StatusBadRequest},
		{"/v1/instruments/REG/holders?limit=0", http.StatusBadRequest},
		{"/v1/instruments/REG/holders?limit=-1", http.StatusBadRequest},
		{"/v1/instruments/REG/holders?limit=x", http.StatusBadRequest},
		{"/v1/instruments/REG/holders?limit=10001", http.StatusBadRequest},
		{"/v1/instruments/REG/holders?limit=10000&after=inv-a", http.StatusOK},
		{"/v1/instruments?consistency=eventual", http.StatusBadRequest},
		{"/v1/instruments?pretty", http.StatusBadRequest},
		{"/v1/instruments/NOPE", http.StatusNotFound},
		{"/v1/prices/USD", http.StatusNotFound},
		{"/v1/instructions/never-used", http.StatusNotFound},
		{"/v1/nowhere", http.StatusNotFound},
		{"/nowhere", http.StatusNotFound},
	}
	for _, tc := range tests {
		r := e.as(ledger.OperatorID, "GET", tc.path, "")
		if r.status != tc.want {
			t.Errorf("GET %s: %d %s, want %d", tc.path, r.status, r.body, tc.want)
		}
		if r.status != http.StatusOK && r.errorCode() == "" {
			t.Errorf("GET %s: %d without an error body: %s", tc.path, r.status, r.body)
		}
	}
	r := e.as(ledger.OperatorID, "PUT", "/v1/instructions", "")
	if r.status != http.StatusMethodNotAllowed || r.errorCode() != "METHOD_NOT_ALLOWED" {
		t.Errorf("PUT /v1/instructions: %d %s, want 405 METHOD_NOT_ALLOWED", r.status, r.body)
	}
}
