package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
)

// corpActionEnv is the world with REG held by inv-a (100), inv-b (20) and
// inv-c (3), and a distribution of 0.5 USD per unit accepted; it returns
// the distribution's outcome.
func corpActionEnv(t *testing.T) (*env, map[string]any) {
	t.Helper()
	e := newEnv(t, api.Config{})
	e.world()
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", mint("REG", "inv-b", "20"))
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", mint("REG", "inv-c", "3"))
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", mint("USD", "iss-1", "1000"))
	body := ins("distribute", map[string]any{"symbol": "REG", "cash_symbol": "USD", "amount_per_unit": "0.5"})
	var out map[string]any
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", body).decode(t, &out)
	return e, out
}

// TestCorporateActionReads checks the distribution's outcome and journal
// entry carry corporate_action, that its lines page in party order, and
// who sees what: issuer, operator and auditor every line, a holder its own,
// anyone else (and anyone asking of an unknown id without seeing
// everything) 403.
func TestCorporateActionReads(t *testing.T) {
	e, out := corpActionEnv(t)
	id := out["id"].(string)
	want := map[string]any{"holders": 3.0, "total": "61.5", "fractions": "0", "status": "done"}
	if got, _ := out["corporate_action"].(map[string]any); !mapsEqual(got, want) {
		t.Fatalf("outcome corporate_action %v, want %v", out["corporate_action"], want)
	}
	var recorded map[string]any
	e.must(http.StatusOK, "iss-1", "GET", "/v1/instructions/"+id, "").decode(t, &recorded)
	if got, _ := recorded["corporate_action"].(map[string]any); !mapsEqual(got, want) {
		t.Fatalf("recorded outcome %v, want corporate_action %v", recorded, want)
	}
	var page ledger.JournalPage
	e.must(http.StatusOK, "aud", "GET", "/v1/journal?limit=1&after="+jsonNumber(out["seq"].(float64)-1), "").decode(t, &page)
	if e0 := page.Entries[0]; e0.CorporateAction == nil || e0.CorporateAction.Status != "done" || *e0.CorporateAction.Holders != 3 {
		t.Fatalf("accepting entry %+v", e0)
	}

	// Paged in party order, one line a page.
	var parties []string
	after := ""
	for range 5 {
		path := "/v1/corporate-actions/" + id + "?limit=1"
		if after != "" {
			path += "&after=" + after
		}
		var p ledger.CorporateActionPage
		e.must(http.StatusOK, "iss-1", "GET", path, "").decode(t, &p)
		if p.Status != "done" || p.Holders != 3 || p.Total.String() != "61.5" || p.LinesRoot == "" {
			t.Fatalf("page %+v", p)
		}
		for _, l := range p.Lines {
			parties = append(parties, l.Party+":"+l.Units.String()+":"+l.Amount.String())
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if w := []string{"inv-a:100:50", "inv-b:20:10", "inv-c:3:1.5"}; !slices.Equal(parties, w) {
		t.Fatalf("lines %v, want %v", parties, w)
	}

	for _, tc := range []struct {
		party, path string
		status      int
		lines       []string
	}{
		{party: ledger.OperatorID, path: id, status: http.StatusOK, lines: []string{"inv-a", "inv-b", "inv-c"}},
		{party: "aud", path: id, status: http.StatusOK, lines: []string{"inv-a", "inv-b", "inv-c"}},
		{party: "iss-1", path: id, status: http.StatusOK, lines: []string{"inv-a", "inv-b", "inv-c"}},
		{party: "inv-b", path: id, status: http.StatusOK, lines: []string{"inv-b"}},
		{party: "inv-b", path: id + "?after=inv-a", status: http.StatusOK, lines: []string{"inv-b"}},
		{party: "iss-2", path: id, status: http.StatusForbidden},
		{party: "cus-1", path: id, status: http.StatusForbidden},
		{party: "inv-b", path: "nothing", status: http.StatusForbidden},
		{party: "iss-1", path: "nothing", status: http.StatusForbidden},
		{party: "aud", path: "nothing", status: http.StatusNotFound},
		{party: "aud", path: id + "?limit=0", status: http.StatusBadRequest},
		{party: "aud", path: id + "?after=%20", status: http.StatusBadRequest},
	} {
		r := e.as(tc.party, "GET", "/v1/corporate-actions/"+tc.path, "")
		if r.status != tc.status {
			t.Errorf("%s GET %s: %d %s, want %d", tc.party, tc.path, r.status, r.body, tc.status)
			continue
		}
		if tc.status != http.StatusOK {
			continue
		}
		var p ledger.CorporateActionPage
		r.decode(t, &p)
		var got []string
		for _, l := range p.Lines {
			got = append(got, l.Party)
		}
		if !slices.Equal(got, tc.lines) || p.Holders != 3 {
			t.Errorf("%s GET %s: lines %v (holders %d), want %v", tc.party, tc.path, got, p.Holders, tc.lines)
		}
	}
}

// TestCorporateActionLineProofs checks GET /v1/corporate-actions/{id}/proof:
// the proof verifies against the root the completion entry carries, a
// holder gets its own and no other, and a missing line is 404 to those who
// see every line.
func TestCorporateActionLineProofs(t *testing.T) {
	e, out := corpActionEnv(t)
	id := out["id"].(string)
	var p ledger.CorporateActionLineProof
	e.must(http.StatusOK, "inv-c", "GET", "/v1/corporate-actions/"+id+"/proof?party=inv-c", "").decode(t, &p)
	if err := ledger.VerifyCorporateActionLine(p); err != nil {
		t.Fatalf("proof of inv-c's line: %v", err)
	}
	var page ledger.JournalPage
	e.must(http.StatusOK, "aud", "GET", "/v1/journal?limit=1&after="+jsonNumber(float64(p.DoneSeq-1)), "").decode(t, &page)
	var done struct {
		Type      string `json:"type"`
		LinesRoot string `json:"lines_root"`
	}
	if err := json.Unmarshal(page.Entries[0].Instruction, &done); err != nil || done.Type != "corporate_action_done" || done.LinesRoot != p.Root {
		t.Fatalf("entry %d: %s, want the completion with root %s", p.DoneSeq, page.Entries[0].Instruction, p.Root)
	}
	for _, tc := range []struct {
		party, query string
		status       int
	}{
		{party: "iss-1", query: "party=inv-a", status: http.StatusOK},
		{party: "aud", query: "party=inv-b", status: http.StatusOK},
		{party: "inv-c", query: "party=inv-a", status: http.StatusForbidden},
		{party: "iss-2", query: "party=iss-2", status: http.StatusForbidden},
		{party: "iss-1", query: "party=cus-1", status: http.StatusNotFound},
		{party: "aud", query: "", status: http.StatusBadRequest},
	} {
		if r := e.as(tc.party, "GET", "/v1/corporate-actions/"+id+"/proof?"+tc.query, ""); r.status != tc.status {
			t.Errorf("%s GET proof?%s: %d %s, want %d", tc.party, tc.query, r.status, r.body, tc.status)
		}
	}
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(int64(f))
	return string(b)
}
