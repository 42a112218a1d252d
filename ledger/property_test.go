package ledger

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

var (
	propSeeds = flag.Int("prop.seeds", 24, "seeds for the ledger property tests")
	propSteps = flag.Int("prop.steps", 250, "instructions per seed")
)

// gen produces random instructions over a small world, valid and invalid
// alike, so every path of the state machine is exercised.
type gen struct {
	r         *rand.Rand
	n         int
	investors []string
	symbols   []string
	past      []string // bodies already sent, for idempotency checks
	pastActor []string
}

func newGen(seed int64) *gen {
	return &gen{
		r:         rand.New(rand.NewSource(seed)),
		investors: []string{"ret-us", "ret-de", "acc-us", "qp-us", "inst-us", "acc-de"},
		symbols:   []string{"USD", "REG", "PRIV", "CROWD", "SF2", "BTC"},
	}
}

func (g *gen) pick(list []string) string { return list[g.r.Intn(len(list))] }

func (g *gen) amount() string {
	switch g.r.Intn(10) {
	case 0:
		return "0"
	case 1:
		return fmt.Sprintf("%d.%d", g.r.Intn(50), g.r.Intn(100))
	case 2:
		return "100000"
	default:
		return fmt.Sprint(1 + g.r.Intn(200))
	}
}

func (g *gen) body(typ string, fields map[string]any) string {
	g.n++
	m := map[string]any{"id": fmt.Sprintf("p-%d", g.n), "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (g *gen) leg() map[string]any {
	parties := append([]string{"iss-1", "cus-1"}, g.investors...)
	from := g.pick(parties)
	to := g.pick(parties)
	for to == from {
		to = g.pick(parties)
	}
	return map[string]any{"symbol": g.pick(g.symbols), "from": from, "to": to, "amount": g.amount()}
}

// next returns an actor and an instruction body.
func (g *gen) next() (string, string) {
	if len(g.past) > 0 && g.r.Intn(20) == 0 {
		i := g.r.Intn(len(g.past))
		if g.r.Intn(2) == 0 {
			return g.pastActor[i], g.past[i] // same id, same body
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(g.past[i]), &m)
		m["type"], m["symbol"] = "pause", "REG" // same id, another body
		for k := range m {
			if k != "id" && k != "type" && k != "symbol" {
				delete(m, k)
			}
		}
		b, _ := json.Marshal(m)
		return OperatorID, string(b)
	}
	inv := g.pick(g.investors)
	sym := g.pick(g.symbols)
	var actor, body string
	switch k := g.r.Intn(100); {
	case k < 22:
		fields := map[string]any{"symbol": sym, "to": g.pick(append(g.investors, "iss-1", "cus-1")), "amount": g.amount()}
		if g.r.Intn(2) == 0 {
			fields["consideration"] = g.amount() // Reg CF sales to retail need a value
		}
		actor, body = "iss-1", g.body("mint", fields)
		if sym == "USD" {
			actor = OperatorID
		}
	case k < 50:
		l := g.leg()
		actor, body = l["from"].(string), g.body("transfer", map[string]any{"legs": []any{l}})
	case k < 58:
		l1, l2 := g.leg(), g.leg()
		l2["from"], l2["to"] = l1["to"], l1["from"]
		actor, body = OperatorID, g.body("transfer", map[string]any{"legs": []any{l1, l2}})
	case k < 62:
		actor, body = OperatorID, g.body("force_transfer", map[string]any{"legal_reference": "order", "legs": []any{g.leg()}})
	case k < 66:
		actor, body = "iss-1", g.body("burn", map[string]any{"symbol": sym, "from": g.pick(g.investors), "amount": g.amount(), "legal_reference": "order 1"})
	case k < 70:
		typ := []string{"freeze", "unfreeze"}[g.r.Intn(2)]
		f := map[string]any{"party_id": inv}
		if g.r.Intn(2) == 0 {
			f["symbol"] = sym
			if g.r.Intn(2) == 0 {
				f["amount"] = g.amount()
			}
		}
		// Freezes by different placers: only the placer or the operator lifts one.
		actor, body = g.pick([]string{"cus-1", "cus-1", "iss-1", OperatorID}), g.body(typ, f)
	case k < 73:
		actor, body = "iss-1", g.body([]string{"pause", "unpause", "unpause"}[g.r.Intn(3)], map[string]any{"symbol": sym})
	case k < 78:
		actor, body = "oracle", g.body("set_price", map[string]any{"symbol": sym, "price": fmt.Sprintf("%d.%d", 1+g.r.Intn(5), g.r.Intn(10))})
	case k < 84:
		actor, body = "cus-1", g.body([]string{"borrow", "repay"}[g.r.Intn(2)], map[string]any{"party_id": inv, "cash_symbol": "USD", "amount": g.amount()})
	case k < 87:
		actor, body = "iss-1", g.body("distribute", map[string]any{"symbol": sym, "cash_symbol": "USD", "amount_per_unit": "0.01"})
	case k < 89:
		actor, body = "iss-1", g.body("split", map[string]any{"symbol": sym, "ratio": []string{"2", "0.5", "1.5"}[g.r.Intn(3)]})
	case k < 94:
		f := map[string]any{"party_id": inv}
		actor = "cus-1"
		switch g.r.Intn(5) {
		case 0, 1:
			f["status"] = g.pick([]string{"retail", "accredited", "qualified_purchaser", "institutional"})
		case 2, 3:
			f["kyc_expires_at"] = epoch.Add(time.Duration(g.r.Intn(800)) * day).Format(time.RFC3339)
		default:
			// Affiliates of an issuer: their sales are held to Rule 144(e)'s volume.
			actor, f["affiliate_of"] = "iss-1", []string{sym}
		}
		body = g.body("update_party", f)
	case k < 96:
		to := g.pick(g.investors)
		actor, body = OperatorID, g.body("recover", map[string]any{"from": inv, "to": to})
	default:
		// Wrong actors and malformed bodies: refused or not decoded, never applied.
		actor = g.pick([]string{"aud", "ret-de", "nobody"})
		body = g.body("mint", map[string]any{"symbol": sym, "to": inv, "amount": g.amount()})
		if g.r.Intn(3) == 0 {
			actor, body = OperatorID, `{"id":"bad","type":"mint","amount":1e9}`
		}
	}
	g.past = append(g.past, body)
	g.pastActor = append(g.pastActor, actor)
	return actor, body
}

func (h *harness) propertyWorld() {
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("PRIV", "reg_d_506b", "enterprise_equity", 0, nil)))
	h.mustAccept("iss-1", ins("create_instrument", instrument("CROWD", "reg_cf", "enterprise_equity", 2, nil)))
	h.mustAccept("iss-1", ins("create_instrument", instrument("SF2", "registered", "enterprise_equity", 0, map[string]any{"attributes": map[string]any{"embedded_leverage": "2"}})))
	h.mustAccept("iss-1", ins("create_instrument", instrument("BTC", "cftc", "digital_commodity", 8, map[string]any{"attributes": map[string]any{"economic_purpose": "none"}})))
	h.mustAccept(OperatorID, mintBody("USD", "cus-1", "1000000"))
	h.mustAccept(OperatorID, mintBody("USD", "iss-1", "1000000"))
}

func supplies(t testing.TB, s *Store) map[string]string {
	ins, err := s.Instruments()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, in := range ins {
		out[in.Symbol] = in.Supply.String()
	}
	return out
}

// TestProperties runs long random instruction sequences and checks, after
// every instruction: the invariants of Check (StrictChecks: supply equals
// balances, no negative balance, lots, holder counts, journal chain); that a
// rejected or undecided instruction leaves the state hash unchanged; that only
// mint, burn and split change supply. At the end: replaying the same batches
// into a fresh store gives the same full hash and journal head; applying them
// all again changes nothing; snapshot then restore gives the same hash.
func TestProperties(t *testing.T) {
	seeds, steps := *propSeeds, *propSteps
	if testing.Short() {
		seeds, steps = 4, 100
	} else if raceEnabled {
		seeds, steps = 8, 150
	}
	crashesLosingWork.Store(0)
	crashesAll.Store(0)
	t.Run("seeds", func(t *testing.T) {
		runSeeds(t, seeds, func(t *testing.T, seed int64) {
			t.Parallel()
			runProperties(t, seed, steps)
		})
	})
	// The crashes must have lost applied work some of the time, or the
	// replay after them proves nothing.
	if !t.Failed() && crashesAll.Load() >= 20 && crashesLosingWork.Load() == 0 {
		t.Errorf("none of %d crashes lost applied work", crashesAll.Load())
	}
}

// crashesLosingWork counts crashReplay's crashes after which the reopened
// file was behind what had been applied, of crashesAll.
var crashesLosingWork, crashesAll atomic.Int64

func runProperties(t *testing.T, seed int64, steps int) {
	h := newHarness(t)
	h.propertyWorld()
	g := newGen(seed)
	var log []Batch
	for step := 0; step < steps; step++ {
		if g.r.Intn(8) == 0 {
			h.now = h.now.Add(time.Duration(g.r.Intn(200)) * day)
		}
		// Mostly one instruction per batch, so each outcome can be checked
		// alone; sometimes several, to exercise batching.
		n := 1
		if g.r.Intn(5) == 0 {
			n = 2 + g.r.Intn(6)
		}
		items := make([][]byte, n)
		types := make([]string, n)
		for i := range items {
			actor, body := g.next()
			items[i] = InstructionItem(actor, []byte(body))
			var m struct{ Type string }
			_ = json.Unmarshal([]byte(body), &m)
			types[i] = m.Type
		}
		before := mustHashes(t, h.s)
		supBefore := supplies(t, h.s)
		out := h.apply(items...)
		log = append(log, Batch{Index: h.index, Term: 1, Time: h.now, Items: items})
		after := mustHashes(t, h.s)
		if n == 1 && out[0].Status != StatusAccepted && before.State != after.State {
			t.Fatalf("seed %d step %d: %s %+v changed the state", seed, step, items[0], out[0])
		}
		changesSupply := false
		for i, o := range out {
			if o.Status == StatusAccepted && (types[i] == "mint" || types[i] == "burn" || types[i] == "split") {
				changesSupply = true
			}
		}
		if supAfter := supplies(t, h.s); !changesSupply && fmt.Sprint(supAfter) != fmt.Sprint(supBefore) {
			t.Fatalf("seed %d step %d: supply changed %v -> %v without mint, burn or split", seed, step, supBefore, supAfter)
		}
	}
	final := mustHashes(t, h.s)
	ver := mustVerifyJournal(t, h.s)
	if !ver.OK {
		t.Fatalf("seed %d: journal does not verify: %+v", seed, ver)
	}

	// Replay everything, including the world setup, into a fresh store.
	fresh := openStore(t, filepath.Join(t.TempDir(), "replay.db"), false)
	prefix := replayPrefix(t, h)
	fresh.Apply(prefix)
	for _, b := range log {
		fresh.Apply([]Batch{b})
	}
	got := mustHashes(t, fresh)
	gotVer := mustVerifyJournal(t, fresh)
	if got != final || gotVer.Head != ver.Head {
		t.Fatalf("seed %d: replay gives %+v head %s, want %+v head %s", seed, got, gotVer.Head, final, ver.Head)
	}
	// Everything again, in one call: all at or below the applied index.
	fresh.Apply(append(prefix, log...))
	if again := mustHashes(t, fresh); again != final {
		t.Fatalf("seed %d: re-applying changed the state", seed)
	}

	// The same batches, several to a call as a node's log hands them over
	// when it is behind: how calls group them may not show in the state.
	grouped := openStore(t, filepath.Join(t.TempDir(), "grouped.db"), false)
	grouped.Apply(prefix)
	gr := rand.New(rand.NewSource(seed))
	for i := 0; i < len(log); {
		n := min(1+gr.Intn(12), len(log)-i)
		grouped.Apply(log[i : i+n])
		i += n
	}
	if got := mustHashes(t, grouped); got != final {
		t.Fatalf("seed %d: the batches grouped into calls give %+v, want %+v", seed, got, final)
	}

	crashReplay(t, seed, append(prefix, log...), final, ver.Head)

	// Snapshot and restore into a third store.
	snap := snapshotOf(t, h.s)
	restored := openStore(t, filepath.Join(t.TempDir(), "restored.db"), false)
	if err := restored.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := mustHashes(t, restored); got != final || restored.AppliedIndex() != h.s.AppliedIndex() {
		t.Fatalf("seed %d: restored hashes %+v, want %+v", seed, got, final)
	}
}

// crashReplay applies batches to a store that keeps its write transaction
// open for a random number of instructions, kills it at random points (what
// was pending is lost, as in a SIGKILL), reopens it and carries on from its
// durable applied index, as raft's replay would. It must end with the same
// hashes, journal head and tree as the store that committed every call, and
// reads in between must see pending work.
func crashReplay(t *testing.T, seed int64, batches []Batch, want Hashes, head string) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	path := filepath.Join(t.TempDir(), "crashy.db")
	open := func() *Store {
		// Half the time the commits stage layers (stage.go), whatever the
		// file's size.
		s, err := Open(Config{Path: path, NoSync: true, CommitEvery: 1 + r.Intn(40), stageFrom: int64(r.Intn(2))})
		if err != nil {
			t.Fatalf("seed %d: reopen: %v", seed, err)
		}
		return s
	}
	s := open()
	defer func() { s.Close() }()
	crashes, lost := 0, 0
	for i := 0; i < len(batches); i++ {
		s.Apply(batches[i : i+1])
		if got := s.AppliedIndex(); got != batches[i].Index {
			t.Fatalf("seed %d: applied index %d after batch %d", seed, got, batches[i].Index)
		}
		if r.Intn(15) != 0 {
			continue
		}
		// A read sees the pending batch (through the layers, committing
		// nothing: Hashes would commit first, and the crash lose nothing);
		// then the process dies.
		var seen uint64
		if err := s.view(func(tx *kv.Tx) error {
			seen = getUint(tx.Bucket(bucketMeta), metaAppliedIndex)
			return nil
		}); err != nil || seen != batches[i].Index {
			t.Fatalf("seed %d: applied index %d (%v) read before the crash, want %d", seed, seen, err, batches[i].Index)
		}
		s.crash()
		crashes++
		s = open()
		if s.AppliedIndex() < batches[i].Index {
			lost++ // the crash lost applied work, which the replay below restores
		}
		durable := s.AppliedIndex()
		if durable > batches[i].Index {
			t.Fatalf("seed %d: durable index %d beyond the last applied %d", seed, durable, batches[i].Index)
		}
		// Replay from the first batch the file lacks (the loop's i++ moves
		// to it).
		for i >= 0 && batches[i].Index > durable {
			i--
		}
	}
	got, err := s.Hashes()
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifyJournal(t, s)
	if got != want || v.Head != head || !v.OK {
		t.Fatalf("seed %d: after %d crashes: %+v head %s, want %+v head %s", seed, crashes, got, v.Head, want, head)
	}
	if errs := s.Check(); len(errs) > 0 {
		t.Fatalf("seed %d: check after crashes: %v", seed, errs)
	}
	crashesLosingWork.Add(int64(lost))
	crashesAll.Add(int64(crashes))
	// The full hash covers the tree's stored hashes; its root must also be
	// the tree of the journal as served.
	checkTreeFollowsJournal(t, s)
}

// replayPrefix rebuilds the batches the harness applied before the random
// log (bootstrap and world), from the journal and the recorded key.
func replayPrefix(t *testing.T, h *harness) []Batch {
	t.Helper()
	batches := []Batch{{Index: 1, Term: 1, Time: epoch, Items: [][]byte{KeyItem(OperatorID, hashKey("operator-secret"))}}}
	page, err := h.s.Journal(JournalQuery{Limit: MaxJournalPage})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Entries {
		if e.Index > uint64(len(batches)) && e.Index <= worldBatches {
			batches = append(batches, Batch{Index: e.Index, Term: 1, Time: e.Time, Items: [][]byte{InstructionItem(e.Actor, e.Instruction)}})
		}
	}
	return batches
}

// worldBatches: bootstrap (1) + world (4 parties, 6 investors, 2 instruments)
// + propertyWorld's 6 more.
const worldBatches = 1 + 12 + 6

// FuzzApply runs the property checks on a random instruction sequence drawn
// from the fuzzed seed: `go test ./ledger -fuzz FuzzApply`.
func FuzzApply(f *testing.F) {
	for _, s := range []int64{1, 7, 42, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed int64) {
		runProperties(t, seed, 60)
	})
}
