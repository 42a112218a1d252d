package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// outcome is the wire form of an outcome, as a client reads it.
type outcome struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Index  uint64 `json:"index"`
	Seq    uint64 `json:"seq"`
	Reason *struct {
		Code    string `json:"code"`
		Rule    string `json:"rule"`
		Message string `json:"message"`
		ERC1066 string `json:"erc1066"`
	} `json:"reason"`
	Reasons []struct {
		Code string `json:"code"`
	} `json:"reasons"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestIdempotency checks API.md: the same id with the same body returns the
// first outcome and changes nothing; with another body, 409. Method: submit,
// resubmit (also with other whitespace and key order, which encode the same),
// then a changed body, comparing outcomes and the ledger's full hash.
func TestIdempotency(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	tests := []struct {
		name       string
		first      string
		again      string
		wantStatus int
	}{
		{"accepted",
			`{"id":"idem-1","type":"transfer","legs":[{"symbol":"REG","from":"inv-a","to":"inv-b","amount":"1"}]}`,
			`{ "type" : "transfer", "id":"idem-1", "legs":[{"amount":"1","to":"inv-b","from":"inv-a","symbol":"REG"}] }`,
			http.StatusOK},
		{"rejected",
			`{"id":"idem-2","type":"transfer","legs":[{"symbol":"REG","from":"inv-a","to":"inv-b","amount":"100000"}]}`,
			`{"id":"idem-2","type":"transfer","legs":[{"symbol":"REG","from":"inv-a","to":"inv-b","amount":"100000"}]}`,
			http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r1 := e.as("inv-a", "POST", "/v1/instructions", tc.first)
			if r1.status != tc.wantStatus {
				t.Fatalf("first: %d %s, want %d", r1.status, r1.body, tc.wantStatus)
			}
			before := e.snapshot()
			r2 := e.as("inv-a", "POST", "/v1/instructions", tc.again)
			if r2.status != r1.status || string(r2.body) != string(r1.body) {
				t.Errorf("again: %d %s, want the first answer %d %s", r2.status, r2.body, r1.status, r1.body)
			}
			if e.snapshot() != before {
				t.Errorf("again: the ledger changed")
			}
			changed := strings.Replace(tc.first, `"amount":"1`, `"amount":"2`, 1)
			r3 := e.as("inv-a", "POST", "/v1/instructions", changed)
			if r3.status != http.StatusConflict || r3.errorCode() != "ID_REUSED" {
				t.Errorf("other body: %d %s, want 409 ID_REUSED", r3.status, r3.body)
			}
			if e.snapshot() != before {
				t.Errorf("other body: the ledger changed")
			}
			// Another actor sending the same bytes reuses the id too.
			r4 := e.as("cus-1", "POST", "/v1/instructions", tc.first)
			if r4.status != http.StatusConflict {
				t.Errorf("other actor: %d %s, want 409", r4.status, r4.body)
			}
			// A batch answers the first outcome, and the reuse, in place.
			rb := e.as("inv-a", "POST", "/v1/instructions/batch", `{"instructions":[`+tc.first+`,`+changed+`]}`)
			var got struct{ Results []outcome }
			rb.decode(t, &got)
			var want outcome
			r1.decode(t, &want)
			if len(got.Results) != 2 || got.Results[0].Seq != want.Seq || got.Results[0].Status != want.Status ||
				got.Results[1].Status != "error" || got.Results[1].Error == nil || got.Results[1].Error.Code != "ID_REUSED" || got.Results[1].ID != want.ID {
				t.Errorf("batch: %s, want the first outcome then ID_REUSED", rb.body)
			}
			if e.snapshot() != before {
				t.Errorf("batch: the ledger changed")
			}
		})
	}
}

// TestOutcomes checks the outcome bodies of API.md.
func TestOutcomes(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()

	r := e.must(http.StatusOK, "inv-a", "POST", "/v1/instructions", transferBody("REG", "inv-a", "inv-b", "1"))
	var ok outcome
	r.decode(t, &ok)
	if ok.Status != "accepted" || ok.Index == 0 || ok.Seq == 0 || ok.Reason != nil {
		t.Errorf("accepted: %s", r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}

	// Two legs refused at once by the same rule: the rule is reported once,
	// naming both legs.
	twoLegs := ins("transfer", map[string]any{"legs": []map[string]any{
		{"symbol": "REG", "from": "inv-a", "to": "inv-b", "amount": "100000"},
		{"symbol": "USD", "from": "inv-b", "to": "inv-a", "amount": "5"},
	}})
	r = e.must(http.StatusUnprocessableEntity, "cus-1", "POST", "/v1/instructions", twoLegs)
	var rej outcome
	r.decode(t, &rej)
	if rej.Status != "rejected" || rej.Index == 0 || rej.Seq != ok.Seq+1 || rej.Reason == nil || len(rej.Reasons) != 1 {
		t.Fatalf("rejected: %s", r.body)
	}
	if m := rej.Reason.Message; !strings.Contains(m, "inv-a holds") || !strings.Contains(m, "inv-b holds") {
		t.Errorf("rejected: %s, want both legs named", r.body)
	}
	if rej.Reason.Code != rej.Reasons[0].Code || rej.Reason.Rule == "" || rej.Reason.Message == "" || !strings.HasPrefix(rej.Reason.ERC1066, "0x") {
		t.Errorf("rejected reason: %s", r.body)
	}
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", ins("freeze", map[string]any{"party_id": "inv-a"}))

	// The recorded outcome reads back the same.
	var recorded outcome
	e.must(http.StatusOK, "inv-a", "GET", "/v1/instructions/"+rej.ID, "").decode(t, &recorded)
	if recorded.Seq != rej.Seq || recorded.Status != "rejected" {
		t.Errorf("GET /v1/instructions/%s: %+v, want seq %d rejected", rej.ID, recorded, rej.Seq)
	}

	// A dry run answers without index or seq and applies nothing.
	before := e.hashes()
	r = e.must(http.StatusOK, "cus-1", "POST", "/v1/check", transferBody("REG", "inv-a", "inv-b", "1"))
	var dry outcome
	r.decode(t, &dry)
	if dry.Status != "rejected" || dry.Index != 0 || dry.Seq != 0 || dry.Reason == nil || dry.Reason.Code != "ACCOUNT_FROZEN" {
		t.Errorf("dry run: %s", r.body)
	}
	if strings.Contains(string(r.body), `"index"`) || strings.Contains(string(r.body), `"seq"`) {
		t.Errorf("dry run has index or seq: %s", r.body)
	}
	if e.hashes().Full != before.Full {
		t.Errorf("dry run changed the ledger")
	}
}

// TestBatch checks that each instruction of a batch is decided on its own, in
// order, with the refused ones in place and the others in one proposal.
func TestBatch(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	items := []string{
		transferBody("REG", "inv-a", "inv-b", "1"), // accepted
		`{"id":"bad-json","type":`,                 // not even JSON: the envelope fails
		transferBody("REG", "inv-b", "inv-a", "1"), // inv-a may not move inv-b's holding
		`{"id":"b-amount","type":"transfer","legs":[{"symbol":"REG","from":"inv-a","to":"inv-b","amount":"1e5"}]}`,
		transferBody("REG", "inv-a", "inv-b", "100000"), // rejected
		`{"id":"b-field","type":"transfer","legs":[],"memo":"x"}`,
		transferBody("REG", "inv-a", "inv-b", "0.5"), // too many decimals for REG
		transferBody("REG", "inv-a", "inv-b", "2"),   // accepted
	}
	// A body that is not JSON spoils the whole envelope: 400.
	r := e.as("inv-a", "POST", "/v1/instructions/batch", `{"instructions":[`+strings.Join(items, ",")+`]}`)
	if r.status != http.StatusBadRequest {
		t.Fatalf("batch with broken JSON: %d %s, want 400", r.status, r.body)
	}
	items = append(items[:1], items[2:]...)
	proposals := e.repl.proposals.Load()
	r = e.must(http.StatusOK, "inv-a", "POST", "/v1/instructions/batch", `{"instructions":[`+strings.Join(items, ",")+`]}`)
	if got := e.repl.proposals.Load() - proposals; got != 1 {
		t.Errorf("batch made %d proposals, want 1", got)
	}
	var got struct{ Results []outcome }
	r.decode(t, &got)
	want := []struct{ status, code, id string }{
		{"accepted", "", ""},
		{"error", "NOT_AUTHORIZED", ""},
		{"error", "BAD_AMOUNT", "b-amount"},
		{"rejected", "INSUFFICIENT_BALANCE", ""},
		{"error", "UNKNOWN_FIELD", "b-field"},
		{"error", "BAD_AMOUNT", ""},
		{"accepted", "", ""},
	}
	if len(got.Results) != len(want) {
		t.Fatalf("%d results, want %d: %s", len(got.Results), len(want), r.body)
	}
	var lastSeq uint64
	for i, w := range want {
		g := got.Results[i]
		code := ""
		switch {
		case g.Error != nil:
			code = g.Error.Code
		case g.Reason != nil:
			code = g.Reason.Code
		}
		if g.Status != w.status || code != w.code {
			t.Errorf("result %d: %s %s, want %s %s", i, g.Status, code, w.status, w.code)
		}
		if w.id != "" && g.ID != w.id {
			t.Errorf("result %d: id %q, want %q", i, g.ID, w.id)
		}
		if g.Status != "error" {
			if g.Seq <= lastSeq {
				t.Errorf("result %d: seq %d after %d; want increasing in order", i, g.Seq, lastSeq)
			}
			lastSeq = g.Seq
		}
	}
}

// TestBatchLarge checks a full batch of MaxBatchInstructions goes through in
// one proposal, decoded concurrently, with results in order.
func TestBatchLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large batch")
	}
	e := newEnv(t, api.Config{})
	e.world()
	items := make([]string, api.MaxBatchInstructions)
	for i := range items {
		items[i] = fmt.Sprintf(`{"id":"big-%d","type":"transfer","legs":[{"symbol":"USD","from":"inv-a","to":"inv-b","amount":"0.01"}]}`, i)
	}
	items[1234] = `{"id":"big-bad","type":"transfer","legs":[{"symbol":"USD","from":"inv-a","to":"inv-b","amount":"0.001"}]}`
	r := e.must(http.StatusOK, "inv-a", "POST", "/v1/instructions/batch", `{"instructions":[`+strings.Join(items, ",")+`]}`)
	var got struct{ Results []outcome }
	r.decode(t, &got)
	if len(got.Results) != api.MaxBatchInstructions {
		t.Fatalf("%d results, want %d", len(got.Results), api.MaxBatchInstructions)
	}
	for i, g := range got.Results {
		wantID, wantStatus := fmt.Sprintf("big-%d", i), "accepted"
		if i == 1234 {
			wantID, wantStatus = "big-bad", "error"
		}
		if g.ID != wantID || g.Status != wantStatus {
			t.Fatalf("result %d: %s %s, want %s %s", i, g.ID, g.Status, wantID, wantStatus)
		}
	}
}

// TestReplicatorErrors checks the mapping of the Replicator's failures: the
// client learns whether to retry, and never sees internal text.
func TestReplicatorErrors(t *testing.T) {
	type submitFn = func(ctx context.Context, actor, keyID string, inss []transfer.Instruction) ([]ledger.Outcome, error)
	tests := []struct {
		name           string
		submit         submitFn
		want           int
		wantCode       string
		wantRetryAfter bool
	}{
		{"no leader", func(context.Context, string, string, []transfer.Instruction) ([]ledger.Outcome, error) {
			return nil, fmt.Errorf("consensus: forward: %w", api.ErrNoLeader)
		}, http.StatusServiceUnavailable, "NO_LEADER", false},
		{"overloaded", func(context.Context, string, string, []transfer.Instruction) ([]ledger.Outcome, error) {
			return nil, fmt.Errorf("consensus: queue full: %w", api.ErrOverloaded)
		}, http.StatusServiceUnavailable, "OVERLOADED", true},
		{"outcome unknown", func(context.Context, string, string, []transfer.Instruction) ([]ledger.Outcome, error) {
			return nil, fmt.Errorf("consensus: leadership lost: %w", api.ErrUnknownOutcome)
		}, http.StatusServiceUnavailable, "TIMEOUT", false},
		{"deadline", func(ctx context.Context, _, _ string, _ []transfer.Instruction) ([]ledger.Outcome, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}, http.StatusServiceUnavailable, "TIMEOUT", false},
		{"internal", func(context.Context, string, string, []transfer.Instruction) ([]ledger.Outcome, error) {
			return nil, errors.New("disk on fire at /secret/path")
		}, http.StatusInternalServerError, "INTERNAL", false},
		{"wrong outcome count", func(context.Context, string, string, []transfer.Instruction) ([]ledger.Outcome, error) {
			return nil, nil
		}, http.StatusInternalServerError, "INTERNAL", false},
		{"panic", func(context.Context, string, string, []transfer.Instruction) ([]ledger.Outcome, error) {
			panic("replicator bug at /secret/path")
		}, http.StatusInternalServerError, "INTERNAL", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, api.Config{RequestTimeout: 50 * time.Millisecond})
			e.repl.submitFn = tc.submit
			for _, path := range []string{"/v1/instructions", "/v1/instructions/batch"} {
				body := registerParty("p-1", "auditor")
				if path != "/v1/instructions" {
					body = `{"instructions":[` + body + `]}`
				}
				r := e.as(ledger.OperatorID, "POST", path, body)
				if r.status != tc.want || r.errorCode() != tc.wantCode {
					t.Errorf("POST %s: %d %s, want %d %s", path, r.status, r.body, tc.want, tc.wantCode)
				}
				if got := r.header.Get("Retry-After") != ""; got != tc.wantRetryAfter {
					t.Errorf("POST %s: Retry-After %q, want one: %v", path, r.header.Get("Retry-After"), tc.wantRetryAfter)
				}
				if strings.Contains(string(r.body), "secret") {
					t.Errorf("POST %s: internal text reached the client: %s", path, r.body)
				}
			}
			if tc.want == http.StatusInternalServerError && !strings.Contains(e.logs.String(), "secret") && tc.name != "wrong outcome count" {
				t.Errorf("the internal error was not logged: %s", e.logs.String())
			}
		})
	}

	t.Run("strong read", func(t *testing.T) {
		e := newEnv(t, api.Config{})
		e.repl.readIndexFn = func(context.Context) error { return api.ErrNoLeader }
		r := e.as(ledger.OperatorID, "GET", "/v1/instruments?consistency=strong", "")
		if r.status != http.StatusServiceUnavailable || r.errorCode() != "NO_LEADER" {
			t.Errorf("strong read without a leader: %d %s, want 503 NO_LEADER", r.status, r.body)
		}
		r = e.as(ledger.OperatorID, "GET", "/v1/instruments", "")
		if r.status != http.StatusOK {
			t.Errorf("local read without a leader: %d %s, want 200", r.status, r.body)
		}
	})
}

// TestCluster checks membership changes and the cluster view.
func TestCluster(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/cluster/nodes", `{"id":"n3","raft_addr":"127.0.0.1:7002","api_addr":"127.0.0.1:8082"}`)
	var st api.ClusterStatus
	e.must(http.StatusOK, ledger.OperatorID, "GET", "/v1/cluster", "").decode(t, &st)
	if st.Leader != "n1" || len(st.Nodes) != 3 || st.Nodes[2].ID != "n3" || st.Nodes[2].APIAddr != "127.0.0.1:8082" {
		t.Errorf("cluster after adding n3: %+v", st)
	}
	nodes, err := e.store.Nodes()
	if err != nil || len(nodes) != 1 || nodes[0].ID != "n3" {
		t.Errorf("replicated nodes: %+v %v, want n3", nodes, err)
	}
	e.must(http.StatusNoContent, ledger.OperatorID, "DELETE", "/v1/cluster/nodes/n3", "")
	// The record stays as a tombstone: the id is never taken again.
	want := ledger.NodeInfo{ID: "n3", RaftAddr: "127.0.0.1:7002", APIAddr: "127.0.0.1:8082", Removed: true}
	if nodes, _ := e.store.Nodes(); len(nodes) != 1 || nodes[0] != want {
		t.Errorf("replicated nodes after removal: %+v, want %+v", nodes, want)
	}
	r := e.as(ledger.OperatorID, "DELETE", "/v1/cluster/nodes/n3", "")
	if r.status != http.StatusNotFound {
		t.Errorf("removing a non-member: %d %s, want 404", r.status, r.body)
	}
	r = e.as(ledger.OperatorID, "POST", "/v1/cluster/nodes", `{"id":"n3","raft_addr":"127.0.0.1:7009","api_addr":"127.0.0.1:8089"}`)
	if r.status != http.StatusConflict || r.errorCode() != "ID_REUSED" {
		t.Errorf("adding removed n3 again: %d %s, want 409 ID_REUSED", r.status, r.body)
	}
}

// TestKeys checks a new key authenticates as its party and nothing else.
func TestKeys(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	var k struct{ Key string }
	e.must(http.StatusCreated, ledger.OperatorID, "POST", "/v1/keys", `{"party_id":"inv-b"}`).decode(t, &k)
	if len(k.Key) != len(api.KeyPrefix)+43 {
		t.Errorf("key %d bytes, want %d", len(k.Key), len(api.KeyPrefix)+43)
	}
	if party, err := e.store.KeyParty(api.HashKey(k.Key)); err != nil || party != "inv-b" {
		t.Errorf("KeyParty(hash of new key) = %q, %v; want inv-b", party, err)
	}
	if r := e.do("GET", "/v1/parties/inv-b", k.Key, ""); r.status != http.StatusOK {
		t.Errorf("new key: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/parties/inv-a", k.Key, ""); r.status != http.StatusForbidden {
		t.Errorf("new key reading another investor: %d, want 403", r.status)
	}
	// The old key of inv-b still works: keys are added, not replaced.
	if r := e.as("inv-b", "GET", "/v1/parties/inv-b", ""); r.status != http.StatusOK {
		t.Errorf("old key: %d", r.status)
	}
	headers := []string{"", "Bearer", "Bearer ", "Basic " + k.Key, "Bearer " + k.Key + "x", "Bearer " + strings.Repeat("k", api.MaxKeyBytes+1)}
	for _, h := range headers {
		r := e.doHeader("GET", "/v1/parties/inv-b", h)
		if r.status != http.StatusUnauthorized || r.errorCode() != "UNAUTHENTICATED" {
			t.Errorf("Authorization %.20q: %d %s, want 401 UNAUTHENTICATED", h, r.status, r.body)
		}
	}
	if r := e.doHeader("GET", "/v1/parties/inv-b", "bearer "+k.Key); r.status != http.StatusOK {
		t.Errorf("lower-case scheme: %d", r.status)
	}
}

// TestNoSecretsInLogs checks that neither a key nor its hash is ever logged,
// at Debug level, across every kind of request: answered, refused (401, 403,
// 429), failed, and with a key sent as the request id; the access log's
// lines are among those checked.
func TestNoSecretsInLogs(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	e.as("inv-a", "GET", "/v1/parties/inv-a", "")
	e.as("inv-a", "GET", "/v1/parties/inv-b", "")
	e.do("GET", "/v1/parties/inv-a", "tl_wrong-key", "")
	e.addr = "192.0.2.99:1"
	for range api.AuthFailureBurst + 1 {
		e.do("GET", "/v1/parties/inv-a", "tl_wrong-key", "")
	}
	if r := e.do("GET", "/v1/parties/inv-a", "tl_wrong-key", ""); r.status != http.StatusTooManyRequests {
		t.Errorf("a wrong key past the burst: %d, want 429", r.status)
	}
	e.addr = ""
	req := httptest.NewRequest("GET", "/v1/parties/inv-a", nil)
	req.Header.Set("Authorization", "Bearer "+e.keys["inv-a"])
	req.Header.Set(api.HeaderRequestID, e.keys["inv-a"])
	e.serve(req)
	req = httptest.NewRequest("GET", "/v1/parties/inv-a", nil)
	req.Header.Set(api.HeaderRequestID, operatorKey)
	e.serve(req)
	var k struct{ Key string }
	e.must(http.StatusCreated, ledger.OperatorID, "POST", "/v1/keys", `{"party_id":"aud"}`).decode(t, &k)
	e.keys["aud-2"] = k.Key
	// A key with an expiry, listed, used and revoked: none of it may log the
	// key or its hash.
	var k3 struct {
		Key   string `json:"key"`
		KeyID string `json:"key_id"`
	}
	e.must(http.StatusCreated, ledger.OperatorID, "POST", "/v1/keys",
		`{"party_id":"aud","expires_at":"`+epoch.Add(time.Hour).Format(time.RFC3339)+`"}`).decode(t, &k3)
	e.keys["aud-3"] = k3.Key
	e.must(http.StatusOK, "aud-3", "GET", "/v1/keys", "")
	e.must(http.StatusNoContent, "aud-3", "DELETE", "/v1/keys/"+k3.KeyID, "")
	if r := e.do("GET", "/v1/keys", k3.Key, ""); r.status != http.StatusUnauthorized {
		t.Errorf("a revoked key: %d, want 401", r.status)
	}
	e.repl.createKeyFn = func(context.Context, ledger.KeyRequest) (ledger.Outcome, error) {
		return ledger.Outcome{}, errors.New("boom")
	}
	e.as(ledger.OperatorID, "POST", "/v1/keys", `{"party_id":"aud"}`)
	logs := e.logs.String()
	if logs == "" || !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, `"status":429`) {
		t.Fatal("no access log lines, or none for a 429; the test would prove nothing")
	}
	for party, key := range e.keys {
		for _, secret := range []string{key, api.HashKey(key)} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log holds %s's key or key hash", party)
			}
		}
	}
	for _, secret := range []string{"tl_wrong-key", api.HashKey("tl_wrong-key")} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a presented key or its hash")
		}
	}
}
