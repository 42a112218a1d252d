package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
)

// matrixRoles are the callers of the role matrix, in column order: a party of
// each role, no key at all, and a key that was never issued.
var matrixRoles = [...]string{ledger.OperatorID, "iss-1", "cus-1", "inv-a", "aud", "orc", "none", "bad"}

// TestRoleMatrix checks, route by route, which role is answered and which is
// refused. Method: the standard world, then each route called as each role
// with the status each must get (200/201/204 allowed, 401 unauthenticated,
// 403 refused, 404 hidden), and a refused write must not change the state.
func TestRoleMatrix(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	e.keys["bad"] = "tl_never-issued-key"
	twoSeq := e.must(http.StatusOK, "iss-2", "POST", "/v1/instructions", createInstrument("TWO", "iss-2", "registered", "enterprise_equity", 0)).seq(t)
	// A transfer of inv-a's whose recorded outcome the matrix reads.
	mxSeq := e.must(http.StatusOK, "inv-a", "POST", "/v1/instructions",
		`{"id":"mx-transfer","type":"transfer","legs":[{"symbol":"REG","from":"inv-a","to":"inv-b","amount":"1"}]}`).seq(t)
	// A distribution whose lines the matrix reads: inv-a and inv-b hold REG.
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", mint("USD", "iss-1", "1000"))
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions",
		`{"id":"mx-distribute","type":"distribute","symbol":"REG","cash_symbol":"USD","amount_per_unit":"0.01"}`)
	// A key of inv-b's that the matrix revokes.
	var invBKey struct {
		KeyID string `json:"key_id"`
	}
	e.must(http.StatusCreated, ledger.OperatorID, "POST", "/v1/keys", `{"party_id":"inv-b"}`).decode(t, &invBKey)
	lint := func() string { return jsonOf(t, map[string]string{"rulebook": string(eligibility.Default().YAML())}) }

	const (
		ok = http.StatusOK
		cr = http.StatusCreated
		nc = http.StatusNoContent
		un = http.StatusUnauthorized
		no = http.StatusForbidden
		nf = http.StatusNotFound
		rj = http.StatusUnprocessableEntity
	)
	tr := func() string { return transferBody("REG", "inv-a", "inv-b", "1") }
	tests := []struct {
		name   string
		method string
		path   string
		body   func() string
		want   [len(matrixRoles)]int // operator, issuer, custodian, investor, auditor, oracle, no key, bad key
	}{
		{"party of an investor", "GET", "/v1/parties/inv-a", nil, [...]int{ok, no, ok, ok, ok, no, un, un}},
		{"party of another custodian's investor", "GET", "/v1/parties/inv-c", nil, [...]int{ok, no, no, no, ok, no, un, un}},
		{"party of a custodian", "GET", "/v1/parties/cus-1", nil, [...]int{ok, no, ok, no, ok, no, un, un}},
		{"party that does not exist", "GET", "/v1/parties/ghost", nil, [...]int{nf, no, no, no, nf, no, un, un}},
		{"own party", "GET", "/v1/parties/orc", nil, [...]int{ok, no, no, no, ok, ok, un, un}},
		{"holdings of an investor", "GET", "/v1/parties/inv-a/holdings", nil, [...]int{ok, no, ok, ok, ok, no, un, un}},
		{"holdings of another custodian's investor", "GET", "/v1/parties/inv-c/holdings", nil, [...]int{ok, no, no, no, ok, no, un, un}},
		{"margin calls", "GET", "/v1/margin-calls", nil, [...]int{ok, no, ok, no, ok, no, un, un}},
		{"party list", "GET", "/v1/parties", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"instrument list", "GET", "/v1/instruments", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"instrument", "GET", "/v1/instruments/REG", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"cap table", "GET", "/v1/instruments/REG/holders", nil, [...]int{ok, ok, no, no, ok, no, un, un}},
		{"cap table at a seq", "GET", "/v1/instruments/REG/holders?at=3", nil, [...]int{ok, ok, no, no, ok, no, un, un}},
		{"control book", "GET", "/v1/instruments/REG/control-book", nil, [...]int{ok, ok, no, no, ok, no, un, un}},
		{"pending instructions", "GET", "/v1/pending", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"control book at a seq", "GET", "/v1/instruments/REG/control-book?at=3", nil, [...]int{ok, ok, no, no, ok, no, un, un}},
		{"update an instrument", "POST", "/v1/instructions", func() string {
			return ins("update_instrument", map[string]any{"symbol": "REG", "name": "Renamed"})
		}, [...]int{ok, ok, no, no, no, no, un, un}},
		{"price", "GET", "/v1/prices/REG", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"journal", "GET", "/v1/journal", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"journal of an investor", "GET", "/v1/journal?party=inv-a", nil, [...]int{ok, no, ok, ok, ok, no, un, un}},
		{"journal of a symbol", "GET", "/v1/journal?symbol=REG", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"journal verification", "GET", "/v1/journal/verify", nil, [...]int{ok, no, no, no, ok, no, un, un}},
		{"journal checkpoint", "GET", "/v1/journal/checkpoint", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"journal consistency", "GET", "/v1/journal/consistency?from=1", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"proof of an investor's transfer", "GET", fmt.Sprintf("/v1/journal/proof/%d", mxSeq), nil, [...]int{ok, ok, ok, ok, ok, no, un, un}},
		{"proof of another issuer's instrument", "GET", fmt.Sprintf("/v1/journal/proof/%d", twoSeq), nil, [...]int{ok, no, no, no, ok, no, un, un}},
		{"classify", "POST", "/v1/classify", func() string {
			return `{"attributes":{"underlying":"enterprise_equity","payoff":"linear","embedded_leverage":"1","expiry_days":0,"economic_purpose":"capital_formation"}}`
		}, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"rulebook", "GET", "/v1/rulebook", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"cluster", "GET", "/v1/cluster", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"strong read", "GET", "/v1/instruments/REG?consistency=strong", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"add node", "POST", "/v1/cluster/nodes", func() string {
			return `{"id":"n3","raft_addr":"127.0.0.1:7002","api_addr":"127.0.0.1:8082"}`
		}, [...]int{ok, no, no, no, no, no, un, un}},
		{"remove node", "DELETE", "/v1/cluster/nodes/n2", nil, [...]int{nc, no, no, no, no, no, un, un}},
		{"make a key", "POST", "/v1/keys", func() string { return `{"party_id":"inv-b"}` }, [...]int{cr, no, no, no, no, no, un, un}},
		{"own keys", "GET", "/v1/keys", nil, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"keys of another party", "GET", "/v1/keys?party=inv-b", nil, [...]int{ok, no, no, no, no, no, un, un}},
		{"revoke another party's key", "DELETE", "/v1/keys/" + invBKey.KeyID, nil, [...]int{nc, no, no, no, no, no, un, un}},
		{"revoke an unknown key", "DELETE", "/v1/keys/k_0000000000000000", nil, [...]int{nf, nf, nf, nf, nf, nf, un, un}},
		{"lint a rulebook", "POST", "/v1/rulebook/lint", lint, [...]int{ok, no, no, no, ok, no, un, un}},
		{"mint", "POST", "/v1/instructions", func() string { return mint("REG", "inv-a", "1") }, [...]int{ok, ok, no, no, no, no, un, un}},
		{"mint of another issuer's instrument", "POST", "/v1/instructions", func() string { return mint("TWO", "inv-a", "1") }, [...]int{ok, no, no, no, no, no, un, un}},
		{"transfer", "POST", "/v1/instructions", tr, [...]int{ok, no, ok, ok, no, no, un, un}},
		{"transfer of another's holding", "POST", "/v1/instructions", func() string { return transferBody("REG", "inv-b", "inv-a", "1") }, [...]int{ok, no, ok, no, no, no, un, un}},
		{"set price", "POST", "/v1/instructions", func() string {
			return ins("set_price", map[string]any{"symbol": "REG", "price": "11"})
		}, [...]int{ok, no, no, no, no, ok, un, un}},
		{"unpause", "POST", "/v1/instructions", func() string {
			return ins("unpause", map[string]any{"symbol": "REG"})
		}, [...]int{ok, ok, no, no, no, no, un, un}},
		{"set rulebook", "POST", "/v1/instructions", func() string {
			return ins("set_rulebook", map[string]any{"rulebook": "not: a rulebook"})
		}, [...]int{rj, no, no, no, no, no, un, un}},
		{"register an investor", "POST", "/v1/instructions", func() string {
			return registerInvestor(newID(), "retail", "cus-1")
		}, [...]int{ok, no, ok, no, no, no, un, un}},
		{"dry run", "POST", "/v1/check", tr, [...]int{ok, no, ok, ok, no, no, un, un}},
		{"batch", "POST", "/v1/instructions/batch", func() string { return `{"instructions":[` + tr() + `]}` }, [...]int{ok, ok, ok, ok, ok, ok, un, un}},
		{"recorded outcome", "GET", "/v1/instructions/mx-transfer", nil, [...]int{ok, nf, ok, ok, ok, nf, un, un}},
		{"corporate action", "GET", "/v1/corporate-actions/mx-distribute", nil, [...]int{ok, ok, no, ok, ok, no, un, un}},
		{"corporate action line proof", "GET", "/v1/corporate-actions/mx-distribute/proof?party=inv-a", nil, [...]int{ok, ok, no, ok, ok, no, un, un}},
		{"openapi", "GET", "/v1/openapi.yaml", nil, [...]int{ok, ok, ok, ok, ok, ok, ok, ok}},
		{"healthz", "GET", "/healthz", nil, [...]int{ok, ok, ok, ok, ok, ok, ok, ok}},
		{"readyz", "GET", "/readyz", nil, [...]int{ok, ok, ok, ok, ok, ok, ok, ok}},
		{"metrics", "GET", "/metrics", nil, [...]int{ok, ok, ok, ok, ok, ok, ok, ok}},
	}
	var covered []string
	for _, tc := range tests {
		covered = append(covered, tc.method+" "+tc.path)
	}
	// A stream never ends by itself: TestStreamRoles holds its row.
	covered = append(covered, "GET /v1/journal/stream")
	checkEveryRoute(t, e.srv, covered)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, role := range matrixRoles {
				body := ""
				if tc.body != nil {
					body = tc.body()
				}
				before := e.hashes()
				r := e.do(tc.method, tc.path, e.keys[role], body)
				if r.status != tc.want[i] {
					t.Errorf("%s %s as %s: status %d (%s), want %d", tc.method, tc.path, role, r.status, r.body, tc.want[i])
				}
				if r.status >= 400 && r.status != http.StatusUnprocessableEntity {
					if code := r.errorCode(); code == "" {
						t.Errorf("%s %s as %s: status %d without an error code: %s", tc.method, tc.path, role, r.status, r.body)
					}
				}
				if r.status == http.StatusForbidden || r.status == http.StatusUnauthorized {
					if after := e.hashes(); after.Full != before.Full {
						t.Errorf("%s %s as %s: refused with %d but the ledger changed", tc.method, tc.path, role, r.status)
					}
				}
			}
		})
	}
}

// checkEveryRoute fails the test unless each route of srv but the web
// console's (public, and tested in console_test.go) is among requests
// ("METHOD /path?query"), each matched to the route echo would pick: a
// static segment before a parameter.
func checkEveryRoute(t *testing.T, srv *api.Server, requests []string) {
	t.Helper()
	type route struct{ method, path string }
	var routes []route
	for _, rt := range api.Routes(srv) {
		if rt.Method == echo.RouteNotFound || strings.HasPrefix(rt.Path, "/ui") {
			continue
		}
		routes = append(routes, route{rt.Method, rt.Path})
	}
	matches := func(pattern, path string) (bool, int) {
		ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
		if len(ps) != len(xs) {
			return false, 0
		}
		params := 0
		for i := range ps {
			switch {
			case strings.HasPrefix(ps[i], ":") && xs[i] != "":
				params++
			case ps[i] != xs[i]:
				return false, 0
			}
		}
		return true, params
	}
	hit := map[route]bool{}
	for _, req := range requests {
		method, path, _ := strings.Cut(req, " ")
		path, _, _ = strings.Cut(path, "?")
		best, bestParams := route{}, -1
		for _, r := range routes {
			if ok, params := matches(r.path, path); ok && r.method == method && (bestParams < 0 || params < bestParams) {
				best, bestParams = r, params
			}
		}
		if bestParams < 0 {
			t.Errorf("%s matches no route", req)
		}
		hit[best] = true
	}
	for _, r := range routes {
		if !hit[r] {
			t.Errorf("the role matrix has no row for %s %s", r.method, r.path)
		}
	}
}

// TestJournalScope checks that a party reading the journal gets only entries
// it may see. Method: read the whole journal as each role and check every
// entry names the reader (or its investor, or its instrument for an issuer).
func TestJournalScope(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	e.must(http.StatusOK, "cus-2", "POST", "/v1/instructions", registerInvestor("inv-d", "retail", "cus-2"))
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", mint("REG", "inv-c", "5"))

	visible := func(reader string, entry ledger.JournalEntry) bool {
		names := append([]string{entry.Actor}, entry.Parties...)
		for _, n := range names {
			switch {
			case n == reader:
				return true
			case reader == "cus-1" && (n == "inv-a" || n == "inv-b"):
				return true
			}
		}
		return false
	}
	tests := []struct {
		reader string
		query  string
		want   int
		check  func(ledger.JournalEntry) bool
	}{
		{"inv-a", "", http.StatusOK, func(en ledger.JournalEntry) bool { return visible("inv-a", en) }},
		{"inv-a", "?symbol=REG", http.StatusOK, func(en ledger.JournalEntry) bool { return visible("inv-a", en) }},
		{"inv-a", "?party=inv-a", http.StatusOK, func(en ledger.JournalEntry) bool { return visible("inv-a", en) }},
		{"inv-a", "?party=inv-b", http.StatusForbidden, nil},
		{"inv-c", "", http.StatusOK, func(en ledger.JournalEntry) bool { return visible("inv-c", en) }},
		{"cus-1", "?party=inv-b", http.StatusOK, func(en ledger.JournalEntry) bool { return visible("cus-1", en) }},
		{"cus-1", "?party=inv-c", http.StatusForbidden, nil},
		{"cus-2", "?party=inv-a", http.StatusForbidden, nil},
		{"iss-1", "?symbol=REG", http.StatusOK, func(en ledger.JournalEntry) bool { return slices.Contains(en.Symbols, "REG") }},
		{"iss-2", "?symbol=REG", http.StatusOK, func(en ledger.JournalEntry) bool { return visible("iss-2", en) }},
		{"iss-1", "?party=inv-a", http.StatusForbidden, nil},
		{"orc", "", http.StatusOK, func(en ledger.JournalEntry) bool { return visible("orc", en) }},
		{"aud", "?party=inv-c", http.StatusOK, func(en ledger.JournalEntry) bool { return slices.Contains(en.Parties, "inv-c") }},
	}
	for _, tc := range tests {
		t.Run(tc.reader+tc.query, func(t *testing.T) {
			r := e.as(tc.reader, "GET", "/v1/journal"+tc.query, "")
			if r.status != tc.want {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, tc.want)
			}
			if tc.check == nil {
				return
			}
			var page ledger.JournalPage
			r.decode(t, &page)
			if len(page.Entries) == 0 && tc.reader != "iss-2" {
				t.Errorf("no entries; want at least the reader's own")
			}
			for _, en := range page.Entries {
				if !tc.check(en) {
					t.Errorf("entry %d (actor %s, parties %v) is not visible to %s", en.Seq, en.Actor, en.Parties, tc.reader)
				}
			}
		})
	}
}

// TestPartyListScope checks GET /v1/parties returns what each role may see.
func TestPartyListScope(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	tests := []struct {
		reader string
		want   []string
	}{
		{"inv-a", []string{"inv-a"}},
		{"cus-1", []string{"cus-1", "inv-a", "inv-b"}},
		{"iss-1", []string{"iss-1"}},
		{"aud", []string{"aud", "cus-1", "cus-2", "inv-a", "inv-b", "inv-c", "iss-1", "iss-2", "operator", "orc"}},
	}
	for _, tc := range tests {
		r := e.must(http.StatusOK, tc.reader, "GET", "/v1/parties", "")
		var body struct {
			Parties []struct {
				ID string `json:"id"`
			} `json:"parties"`
		}
		r.decode(t, &body)
		var got []string
		for _, p := range body.Parties {
			got = append(got, p.ID)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("GET /v1/parties as %s = %v, want %v", tc.reader, got, tc.want)
		}
	}
}

// jsonOf marshals v.
func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
