package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// harness drives a Store the way consensus does: one Batch per call, with
// increasing indexes and a test-controlled clock.
type harness struct {
	t     testing.TB
	s     *Store
	index uint64
	now   time.Time
	// rec, when set, collects every batch applied, for a replay.
	rec *[]Batch
}

var epoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func newHarness(t testing.TB) *harness {
	t.Helper()
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"), true)
	h := &harness{t: t, s: s, now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	return h
}

// newLayeredHarness is newHarness over a store that commits every
// commitEvery instructions beside Apply, without StrictChecks (which waits
// for each commit): Apply and reads then run over a live layer of several
// calls and a layer still being committed.
func newLayeredHarness(t testing.TB, commitEvery int) *harness {
	t.Helper()
	s := openStoreWith(t, Config{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true, CommitEvery: commitEvery})
	h := &harness{t: t, s: s, now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	return h
}

// runSeeds runs run in a subtest per seed from 1 to seeds, named by its
// seed so that a failure can be run again alone.
func runSeeds(t *testing.T, seeds int, run func(t *testing.T, seed int64)) {
	t.Helper()
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { run(t, seed) })
	}
}

func openStore(t testing.TB, path string, strict bool) *Store {
	t.Helper()
	return openStoreWith(t, Config{Path: path, StrictChecks: strict, NoSync: true})
}

// openStoreWith opens a store with cfg, checked and closed when the test
// ends.
func openStoreWith(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if errs := s.Check(); len(errs) > 0 {
			t.Errorf("Check after test: %v", errs)
		}
		s.Close()
	})
	return s
}

// mustHashes and mustVerifyJournal fail the test when the store cannot
// answer: two zero Hashes compare equal, as do the heads of two zero
// Verifications, so a dropped error would let every comparison of them pass.
func mustHashes(t testing.TB, s *Store) Hashes {
	t.Helper()
	return mustAnswer(t, "Hashes", s.Hashes)
}

func mustVerifyJournal(t testing.TB, s *Store) Verification {
	t.Helper()
	return mustAnswer(t, "VerifyJournal", s.VerifyJournal)
}

func mustAnswer[T any](t testing.TB, what string, read func() (T, error)) T {
	t.Helper()
	x, err := read()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return x
}

func hashKey(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}

// apply applies items as one batch at the harness clock.
func (h *harness) apply(items ...[]byte) []Outcome {
	h.t.Helper()
	h.index++
	b := Batch{Index: h.index, Term: 1, Time: h.now, Items: items}
	if h.rec != nil {
		*h.rec = append(*h.rec, b)
	}
	res := h.s.Apply([]Batch{b})
	out := make([]Outcome, len(items))
	for i, b := range res[0] {
		o, err := DecodeOutcome(b)
		if err != nil {
			h.t.Fatalf("decode outcome %s: %v", b, err)
		}
		out[i] = o
	}
	return out
}

// do applies one instruction given as JSON (with "id" filled in when absent).
func (h *harness) do(actor string, body string) Outcome {
	h.t.Helper()
	return h.apply(InstructionItem(actor, []byte(body)))[0]
}

// nextID numbers instructions across tests, which run in parallel.
var nextID atomic.Int64

// ins builds an instruction body from a type and fields.
func ins(typ string, fields map[string]any) string {
	m := map[string]any{"id": fmt.Sprintf("i-%d", nextID.Add(1)), "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (h *harness) mustAccept(actor, body string) Outcome {
	h.t.Helper()
	o := h.do(actor, body)
	if o.Status != StatusAccepted {
		h.t.Fatalf("%s by %s: got %+v (reason %+v), want accepted", body, actor, o, o.Reason)
	}
	return o
}

func (h *harness) mustReject(actor, body, code string) Outcome {
	h.t.Helper()
	before := mustHashes(h.t, h.s)
	o := h.do(actor, body)
	if o.Status != StatusRejected || o.Reason == nil {
		h.t.Fatalf("%s by %s: got %+v, want rejected with %s", body, actor, o, code)
	}
	found := false
	for _, r := range o.Reasons {
		if string(r.Code) == code {
			found = true
		}
	}
	if !found {
		h.t.Fatalf("%s by %s: reasons %+v, want %s among them", body, actor, o.Reasons, code)
	}
	after := mustHashes(h.t, h.s)
	if before.State != after.State {
		h.t.Fatalf("rejected %s changed the state", body)
	}
	return o
}

func (h *harness) balance(party, symbol string) string {
	h.t.Helper()
	hs, err := h.s.PartyHoldings(party, h.now)
	if err != nil {
		h.t.Fatalf("holdings of %s: %v", party, err)
	}
	for _, l := range hs.Holdings {
		if l.Symbol == symbol {
			return l.Balance.String()
		}
	}
	return "0"
}

func party(id, role string) map[string]any {
	return map[string]any{"party": map[string]any{"id": id, "role": role}}
}

func investor(id, status, jurisdiction string) map[string]any {
	return map[string]any{"party": map[string]any{
		"id": id, "role": "investor", "status": status, "jurisdiction": jurisdiction,
		"kyc_expires_at": "2030-01-01T00:00:00Z", "custodian": "cus-1",
	}}
}

func instrument(symbol, regime, underlying string, decimals int, extra map[string]any) map[string]any {
	attrs := map[string]any{"underlying": underlying, "payoff": "linear", "embedded_leverage": "1", "expiry_days": 0, "economic_purpose": "capital_formation"}
	spec := map[string]any{"symbol": symbol, "name": symbol + " token", "issuer": "iss-1", "decimals": decimals, "regime": regime, "attributes": attrs}
	for k, v := range extra {
		if k == "attributes" {
			for ak, av := range v.(map[string]any) {
				attrs[ak] = av
			}
			continue
		}
		spec[k] = v
	}
	return map[string]any{"instrument": spec}
}

// world registers the standard cast: a custodian, an issuer, an oracle, an
// auditor, investors of every status, USD cash and a registered security.
func (h *harness) world() {
	h.t.Helper()
	for _, p := range []struct{ id, role string }{{"cus-1", "custodian"}, {"iss-1", "issuer"}, {"oracle", "oracle"}, {"aud", "auditor"}} {
		h.mustAccept(OperatorID, ins("register_party", party(p.id, p.role)))
	}
	for _, p := range []struct{ id, status, j string }{
		{"ret-us", "retail", "US"}, {"ret-de", "retail", "DE"}, {"acc-us", "accredited", "US"},
		{"qp-us", "qualified_purchaser", "US"}, {"inst-us", "institutional", "US"}, {"acc-de", "accredited", "DE"},
	} {
		h.mustAccept("cus-1", ins("register_party", investor(p.id, p.status, p.j)))
	}
	h.mustAccept(OperatorID, ins("create_instrument", instrument("USD", "unrestricted", "cash", 2, nil)))
	h.mustAccept("iss-1", ins("create_instrument", instrument("REG", "registered", "enterprise_equity", 0, nil)))
}

// openWorld opens a store at path, without fsync or StrictChecks (the
// tests that use it damage the file or reopen it), with the operator's key
// and h.world applied. The caller closes it.
func openWorld(t *testing.T, path string) (*Store, *harness) {
	t.Helper()
	s, err := Open(Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.world()
	return s, h
}

func transferBody(symbol, from, to, amount string) string {
	return ins("transfer", map[string]any{"legs": []map[string]any{{"symbol": symbol, "from": from, "to": to, "amount": amount}}})
}

// fundedAccounts registers a custodian, an issuer, the cash instrument
// USD and n retail investors, inv-0 to inv-n-1, and mints each 1,000.
func fundedAccounts(n int) [][]byte {
	setup := [][]byte{
		InstructionItem(OperatorID, []byte(ins("register_party", party("cus-1", "custodian")))),
		InstructionItem(OperatorID, []byte(ins("register_party", party("iss-1", "issuer")))),
		InstructionItem(OperatorID, []byte(ins("create_instrument", instrument("USD", "unrestricted", "cash", 2, nil)))),
	}
	for i := range n {
		setup = append(setup, InstructionItem("cus-1", []byte(ins("register_party", investor(fmt.Sprintf("inv-%d", i), "retail", "US")))))
		setup = append(setup, InstructionItem(OperatorID, []byte(mintBody("USD", fmt.Sprintf("inv-%d", i), "1000"))))
	}
	return setup
}

func mintBody(symbol, to, amount string) string {
	return ins("mint", map[string]any{"symbol": symbol, "to": to, "amount": amount})
}

// crash drops the store as a killed process would: the layers not yet in
// the file are lost, the committed file stays. A commit in flight lands
// first: the file it leaves is one a crash just before it would have too.
func (s *Store) crash() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wmu.Lock()
	s.dropPendingLocked()
	s.wmu.Unlock()
	_ = s.db.Close()
	s.db, s.cache = nil, nil
}

// liveLayerSize is the bytes of keys and values the live layer holds, and
// the instructions pending in it.
func (s *Store) liveLayerSize() (bytes, instructions int) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.live == nil {
		return 0, 0
	}
	return s.live.Size(), s.pending
}
