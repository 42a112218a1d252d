package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// The API must be servable straight from the ledger.
var _ api.Reader = (*ledger.Store)(nil)

var _ api.Replicator = (*fakeReplicator)(nil)

// epoch is the fake leader's clock.
var epoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// fakeReplicator is a single node that is always leader: Submit, CreateKey
// and the membership calls apply their items as one batch to the real
// store, as consensus would after commit. The function fields, when set,
// replace a method's behaviour.
type fakeReplicator struct {
	store *ledger.Store

	// mu serialises proposals and guards the fields below, as raft's single
	// apply goroutine would.
	mu        sync.Mutex
	now       time.Time
	status    api.ClusterStatus
	ready     bool
	lagging   bool // not caught up since start
	failing   bool // stopping after a storage fault
	proposals atomic.Int64

	submitFn    func(ctx context.Context, actor, keyID string, inss []transfer.Instruction) ([]ledger.Outcome, error)
	createKeyFn func(ctx context.Context, req ledger.KeyRequest) (ledger.Outcome, error)
	readIndexFn func(ctx context.Context) error
}

func newFakeReplicator(store *ledger.Store) *fakeReplicator {
	return &fakeReplicator{
		store: store,
		now:   epoch,
		ready: true,
		status: api.ClusterStatus{
			ID: "n1", State: "Leader", Leader: "n1", Term: 1,
			Nodes: []api.NodeStatus{
				{ID: "n1", RaftAddr: "127.0.0.1:7000", State: "Leader", Voter: true},
				{ID: "n2", RaftAddr: "127.0.0.1:7001", State: "Follower", Voter: true},
			},
		},
	}
}

func (f *fakeReplicator) Submit(ctx context.Context, actor, keyID string, inss []transfer.Instruction) ([]ledger.Outcome, error) {
	f.proposals.Add(1)
	if f.submitFn != nil {
		return f.submitFn(ctx, actor, keyID, inss)
	}
	items := make([][]byte, len(inss))
	for i, ins := range inss {
		items[i] = ledger.KeyedInstructionItem(actor, keyID, transfer.Encode(ins))
	}
	return f.outcomes(f.apply(items))
}

func (f *fakeReplicator) CreateKey(ctx context.Context, req ledger.KeyRequest) (ledger.Outcome, error) {
	f.proposals.Add(1)
	if f.createKeyFn != nil {
		return f.createKeyFn(ctx, req)
	}
	return f.one(ledger.KeyRequestItem(req))
}

func (f *fakeReplicator) RevokeKey(_ context.Context, actor, keyID string) (ledger.Outcome, error) {
	f.proposals.Add(1)
	return f.one(ledger.RevokeKeyItem(actor, keyID))
}

// one applies one item as a log entry of its own and decodes its outcome.
func (f *fakeReplicator) one(item []byte) (ledger.Outcome, error) {
	outs, err := f.outcomes(f.apply([][]byte{item}))
	if err != nil {
		return ledger.Outcome{}, err
	}
	return outs[0], nil
}

// outcomes decodes the store's results.
func (f *fakeReplicator) outcomes(results [][]byte) ([]ledger.Outcome, error) {
	outs := make([]ledger.Outcome, len(results))
	for i, r := range results {
		var err error
		if outs[i], err = ledger.DecodeOutcome(r); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// apply applies items as the next log entry.
func (f *fakeReplicator) apply(items [][]byte) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	index := f.store.AppliedIndex() + 1
	res := f.store.Apply([]ledger.Batch{{Index: index, Term: 1, Time: f.now, Items: items}})
	f.status.CommitIndex, f.status.AppliedIndex = index, index
	return res[0]
}

func (f *fakeReplicator) ReadIndex(ctx context.Context) error {
	if f.readIndexFn != nil {
		return f.readIndexFn(ctx)
	}
	return ctx.Err()
}

func (f *fakeReplicator) Status() api.ClusterStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.status
	st.Nodes = append([]api.NodeStatus(nil), f.status.Nodes...)
	return st
}

// AddNode refuses an id the store lists as removed, as the real adapter
// does before it changes raft's configuration, then adds the node and
// replicates its addresses.
func (f *fakeReplicator) AddNode(_ context.Context, n ledger.NodeInfo) error {
	known, err := f.store.Nodes()
	if err != nil {
		return err
	}
	for _, k := range known {
		if k.ID == n.ID && k.Removed {
			return api.ErrNodeRemoved
		}
	}
	f.mu.Lock()
	if !slices.ContainsFunc(f.status.Nodes, func(s api.NodeStatus) bool { return s.ID == n.ID }) {
		f.status.Nodes = append(f.status.Nodes, api.NodeStatus{ID: n.ID, RaftAddr: n.RaftAddr, State: "Follower", Voter: true})
	}
	f.mu.Unlock()
	f.apply([][]byte{ledger.NodeItem(n)})
	return nil
}

// RemoveNode takes a member out and replicates its removal.
func (f *fakeReplicator) RemoveNode(_ context.Context, id string) error {
	f.mu.Lock()
	i := slices.IndexFunc(f.status.Nodes, func(s api.NodeStatus) bool { return s.ID == id })
	if i < 0 {
		f.mu.Unlock()
		return api.ErrNotMember
	}
	f.status.Nodes = slices.Delete(f.status.Nodes, i, i+1)
	f.mu.Unlock()
	f.apply([][]byte{ledger.NodeItem(ledger.NodeInfo{ID: id, Removed: true})})
	return nil
}

func (f *fakeReplicator) Ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

func (f *fakeReplicator) Failing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failing
}

func (f *fakeReplicator) CaughtUp() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.lagging
}

// env is a server over a real store on a temp dir, with the standard cast of
// parties and a key for each.
type env struct {
	t     testing.TB
	store *ledger.Store
	repl  *fakeReplicator
	srv   *api.Server
	logs  *syncBuffer
	keys  map[string]string // party id → key
	// addr, when set, is the client address of every request; otherwise each
	// request comes from an address of its own, so tests about other things
	// are never slowed by the failed-authentication limit.
	addr string
}

// nextAddr numbers the client addresses of requests that have none pinned.
var nextAddr atomic.Uint32

// remoteAddr is the client address of the env's next request.
func (e *env) remoteAddr() string {
	if e.addr != "" {
		return e.addr
	}
	n := nextAddr.Add(1)
	return fmt.Sprintf("10.%d.%d.%d:40000", byte(n>>16), byte(n>>8), byte(n))
}

// operatorKey bootstraps the ledger, as $TOKENLEDGER_BOOTSTRAP_KEY would.
const operatorKey = "tl_bootstrap-operator-key-for-tests"

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

// newEnv opens a store, bootstraps the operator key and builds a server; cfg
// fields other than Reader, Replicator and Logger are kept.
func newEnv(t testing.TB, cfg api.Config) *env {
	t.Helper()
	store, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true})
	if err != nil {
		t.Fatalf("ledger.Open: %v", err)
	}
	t.Cleanup(func() {
		if errs := store.Check(); len(errs) > 0 {
			t.Errorf("ledger Check after test: %v", errs)
		}
		store.Close()
	})
	e := &env{t: t, store: store, repl: newFakeReplicator(store), keys: map[string]string{}}
	logs := &syncBuffer{}
	cfg.Reader, cfg.Replicator = store, e.repl
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return epoch }
	}
	if cfg.CheckpointSigner == nil {
		cfg.CheckpointSigner, _ = newNoteKey(t)
	}
	srv, err := api.New(cfg)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	e.srv = srv
	e.logs = logs
	// The bootstrap key creates the operator party (ledger.OperatorID).
	e.repl.apply([][]byte{ledger.KeyItem(ledger.OperatorID, api.HashKey(operatorKey))})
	e.keys[ledger.OperatorID] = operatorKey
	return e
}

// response is one answered request.
type response struct {
	status int
	body   []byte
	header http.Header
}

// errorDetail is the error object of an error body; zero when there is none.
type errorDetail struct {
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

func (r response) errorDetail() errorDetail {
	var b struct {
		Error errorDetail `json:"error"`
	}
	_ = json.Unmarshal(r.body, &b)
	return b.Error
}

// errorCode is the code of an error body, or "".
func (r response) errorCode() string { return r.errorDetail().Code }

// decode unmarshals the body into v.
func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request with key (none when empty) through the server's handler.
func (e *env) do(method, path, key, body string) response {
	e.t.Helper()
	return e.request(method, path, key, body)
}

// request is do without test bookkeeping, for fuzz targets, whose inner t
// differs from the env's.
func (e *env) request(method, path, key, body string) response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return e.serve(req)
}

// serve sends req through the server's handler from the env's client
// address.
func (e *env) serve(req *http.Request) response {
	req.RemoteAddr = e.remoteAddr()
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return response{status: rec.Code, body: rec.Body.Bytes(), header: rec.Header()}
}

// doHeader sends a GET-style request with a raw Authorization header.
func (e *env) doHeader(method, path, authorization string) response {
	e.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return e.serve(req)
}

// as sends a request as party (its key).
func (e *env) as(party, method, path, body string) response {
	e.t.Helper()
	key, ok := e.keys[party]
	if !ok {
		e.t.Fatalf("no key for %s", party)
	}
	return e.do(method, path, key, body)
}

// must sends a request as party and fails the test unless it gets status.
func (e *env) must(status int, party, method, path, body string) response {
	e.t.Helper()
	r := e.as(party, method, path, body)
	if r.status != status {
		e.t.Fatalf("%s %s as %s: status %d (%s), want %d", method, path, party, r.status, r.body, status)
	}
	return r
}

var nextID atomic.Int64

// newID is a fresh instruction id.
func newID() string { return fmt.Sprintf("t-%d", nextID.Add(1)) }

// ins renders an instruction body with a fresh id.
func ins(typ string, fields map[string]any) string {
	m := map[string]any{"id": newID(), "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func registerParty(id, role string) string {
	return ins("register_party", map[string]any{"party": map[string]any{"id": id, "role": role}})
}

func registerInvestor(id, status, custodian string) string {
	return ins("register_party", map[string]any{"party": map[string]any{
		"id": id, "role": "investor", "status": status, "jurisdiction": "US",
		"kyc_expires_at": "2030-01-01T00:00:00Z", "custodian": custodian,
	}})
}

func createInstrument(symbol, issuer, regime, underlying string, decimals int) string {
	return ins("create_instrument", map[string]any{"instrument": map[string]any{
		"symbol": symbol, "name": symbol + " token", "issuer": issuer, "decimals": decimals, "regime": regime,
		"attributes": map[string]any{"underlying": underlying, "payoff": "linear", "embedded_leverage": "1", "expiry_days": 0, "economic_purpose": "capital_formation"},
	}})
}

func mint(symbol, to, amount string) string {
	return ins("mint", map[string]any{"symbol": symbol, "to": to, "amount": amount})
}

func transferBody(symbol, from, to, amount string) string {
	return ins("transfer", map[string]any{"legs": []map[string]any{{"symbol": symbol, "from": from, "to": to, "amount": amount}}})
}

// world registers the cast through the API and gives each party a key:
// issuers iss-1 and iss-2, custodians cus-1 and cus-2, investors inv-a and
// inv-b (cus-1) and inv-c (cus-2), an auditor and an oracle; USD cash (2
// decimals) and REG (iss-1's registered security, 0 decimals) with 100 REG
// minted to inv-a, 1000 USD to inv-a, and a REG price.
func (e *env) world() {
	e.t.Helper()
	for _, p := range []struct{ id, role string }{
		{"iss-1", "issuer"}, {"iss-2", "issuer"}, {"cus-1", "custodian"}, {"cus-2", "custodian"},
		{"aud", "auditor"}, {"orc", "oracle"},
	} {
		e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", registerParty(p.id, p.role))
	}
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", registerInvestor("inv-a", "accredited", "cus-1"))
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", registerInvestor("inv-b", "accredited", "cus-1"))
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", registerInvestor("inv-c", "accredited", "cus-2"))
	for _, id := range []string{"iss-1", "iss-2", "cus-1", "cus-2", "inv-a", "inv-b", "inv-c", "aud", "orc"} {
		r := e.must(http.StatusCreated, ledger.OperatorID, "POST", "/v1/keys", `{"party_id":"`+id+`"}`)
		var k struct {
			PartyID string `json:"party_id"`
			Key     string `json:"key"`
		}
		r.decode(e.t, &k)
		if k.PartyID != id || !strings.HasPrefix(k.Key, api.KeyPrefix) {
			e.t.Fatalf("POST /v1/keys for %s: got %s", id, r.body)
		}
		e.keys[id] = k.Key
	}
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", createInstrument("USD", "iss-1", "unrestricted", "cash", 2))
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", createInstrument("REG", "iss-1", "registered", "enterprise_equity", 0))
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", mint("REG", "inv-a", "100"))
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", mint("USD", "inv-a", "1000"))
	e.must(http.StatusOK, "orc", "POST", "/v1/instructions", ins("set_price", map[string]any{"symbol": "REG", "price": "10"}))
}

// hashes returns the store's hashes.
func (e *env) hashes() ledger.Hashes {
	e.t.Helper()
	h, err := e.store.Hashes()
	if err != nil {
		e.t.Fatalf("Hashes: %v", err)
	}
	return h
}

// snapshot identifies what an instruction can change: the business state and
// the journal. (A replayed proposal still advances the applied index.)
type snapshot struct {
	state   string
	journal uint64
	head    string
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	v, err := e.store.VerifyJournal()
	if err != nil || !v.OK {
		e.t.Fatalf("VerifyJournal: %+v %v", v, err)
	}
	return snapshot{state: e.hashes().State, journal: v.Length, head: v.Head}
}
