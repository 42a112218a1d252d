package ledger

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
)

// TestComputeHashFromServedJSON recomputes, as an auditor would, the hash of
// every served journal entry from its JSON alone: canonical and other bodies,
// accepted and rejected, and a distribution whose payees the instruction does
// not name.
func TestComputeHashFromServedJSON(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, `{"id":"m-1","type":"mint","symbol":"USD","to":"ret-us","amount":"100"}`)
	h.mustAccept("iss-1", `{"id":"m-2","type":"mint","symbol":"REG","to":"acc-us","amount":"10"}`)
	h.mustAccept("iss-1", `{"id":"m-3","type":"mint","symbol":"REG","to":"inst-us","amount":"30"}`)
	h.mustAccept(OperatorID, `{"id":"m-4","type":"mint","symbol":"USD","to":"iss-1","amount":"1000"}`)
	h.mustAccept("iss-1", ins("distribute", map[string]any{"symbol": "REG", "cash_symbol": "USD", "amount_per_unit": "0.5"}))
	h.mustReject(OperatorID, `{"id":"t-1","type":"transfer","legs":[{"symbol":"USD","from":"ret-us","to":"acc-us","amount":"1000"}]}`, "INSUFFICIENT_BALANCE")
	h.mustAccept(OperatorID, `{ "id": "f-1", "type": "freeze", "party_id": "acc-us", "symbol": "USD", "amount": "1" }`)
	h.mustAccept(OperatorID, `{"id":"u-1","type":"update_party","party_id":"ret-de","status":"accredited","kyc_expires_at":"2031-02-03T04:05:06.7+01:00"}`)
	h.mustAccept(OperatorID, `{"id":"x-1","type":"force_transfer","legs":[{"symbol":"USD","from":"ret-us","to":"acc-us","amount":"2"}],"legal_reference":"court <order> & \"x\" é"}`)
	checkComputeHashFromJSON(t, h.s)

	// A payee of the distribution finds its entry.
	page, err := h.s.Journal(JournalQuery{Party: "inst-us"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range page.Entries {
		found = found || bytes.Contains(e.Instruction, []byte(`"distribute"`))
	}
	if !found {
		t.Errorf("inst-us's journal lacks the distribution it was paid by: %+v", page.Entries)
	}
}

// checkComputeHashFromJSON decodes every served entry from its JSON and
// recomputes its hash; an altered field must not verify.
func checkComputeHashFromJSON(t *testing.T, s *Store) {
	t.Helper()
	page, err := s.Journal(JournalQuery{Limit: MaxJournalPage})
	if err != nil {
		t.Fatal(err)
	}
	v2 := 0
	for _, served := range page.Entries {
		raw := encodeJSON(served)
		var e JournalEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		if got, err := ComputeHash(e); err != nil || got != e.Hash {
			t.Errorf("entry %d: ComputeHash %s, %v; served hash %s\n%s", e.Seq, got, err, e.Hash, raw)
		}
		if e.HashVersion != HashV2 {
			continue
		}
		v2++
		// A corporate action's summary, outside the hash, is served after it.
		if !bytes.Contains(raw, []byte(`,"hash_version":2}`)) && !bytes.Contains(raw, []byte(`,"hash_version":2,"corporate_action":{`)) {
			t.Errorf("entry %d: served JSON lacks hash_version: %s", e.Seq, raw)
		}
		for name, alter := range map[string]func(*JournalEntry){
			"time":   func(e *JournalEntry) { e.Time = e.Time.Add(1) },
			"actor":  func(e *JournalEntry) { e.Actor += "x" },
			"status": func(e *JournalEntry) { e.Status = StatusRejected + StatusAccepted },
			"instruction": func(e *JournalEntry) {
				// Key events carry no id; their type is altered instead.
				field := []byte(`"id":"`)
				if !bytes.Contains(e.Instruction, field) {
					field = []byte(`"type":"`)
				}
				e.Instruction = bytes.Replace(e.Instruction, field, append(field, 'z'), 1)
			},
			"parties":   func(e *JournalEntry) { e.Parties = append(e.Parties, "zz") },
			"symbols":   func(e *JournalEntry) { e.Symbols = append(e.Symbols, "ZZ") },
			"prev_hash": func(e *JournalEntry) { e.PrevHash = ZeroHash[:63] + "1" },
			"reasons": func(e *JournalEntry) {
				e.Reasons = append(e.Reasons, eligibility.Reason{Code: "X"})
				if e.Reason == nil {
					e.Reason = &e.Reasons[0]
				}
			},
		} {
			altered := e
			altered.Parties = append([]string(nil), e.Parties...)
			altered.Symbols = append([]string(nil), e.Symbols...)
			altered.Reasons = append([]eligibility.Reason(nil), e.Reasons...)
			alter(&altered)
			if got, err := ComputeHash(altered); err == nil && got == e.Hash {
				t.Errorf("entry %d with another %s still hashes to %s", e.Seq, name, got)
			}
		}
	}
	if v2 == 0 {
		t.Errorf("no hash_version 2 entry among %d", len(page.Entries))
	}
}

// TestJournalRecordsSmall checks that a canonical transfer's journal record
// stays small: its instruction in binary, no names, no prev_hash.
func TestJournalRecordsSmall(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, `{"id":"m-1","type":"mint","symbol":"USD","to":"ret-us","amount":"100"}`)
	o := h.mustAccept("ret-us", `{"id":"t-1","type":"transfer","legs":[{"symbol":"USD","from":"ret-us","to":"acc-us","amount":"1.25"}]}`)
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	var size int
	if err := h.s.view(func(tx *kv.Tx) error { size = len(journalRecordAt(tx.Bucket(bucketJournal), o.Seq)); return nil }); err != nil {
		t.Fatal(err)
	}
	if size == 0 || size > 120 {
		t.Errorf("a one-leg transfer's journal record takes %d bytes, want 1 to 120", size)
	}
}

// TestRepeatOutcomeFromJournal repeats instructions in later calls, where the
// first outcome comes back from the journal entry: canonical, other and
// compacted bodies, accepted and rejected; another body is ID_REUSED.
func TestRepeatOutcomeFromJournal(t *testing.T) {
	h := newHarness(t)
	h.world()
	bodies := []struct{ actor, body string }{
		{OperatorID, `{"id":"m-1","type":"mint","symbol":"USD","to":"ret-us","amount":"100"}`},
		{OperatorID, `{"id":"t-1","type":"transfer","legs":[{"symbol":"USD","from":"ret-us","to":"acc-us","amount":"1000"}]}`},
		{OperatorID, `{ "id": "f-1", "type": "freeze", "party_id": "acc-us", "symbol": "USD" }`},
		{OperatorID, `{"type":"mint","id":"m-2","symbol":"USD","to":"acc-us","amount":"1.50"}`},
	}
	first := make([][]byte, len(bodies))
	for i, b := range bodies {
		h.index++
		first[i] = h.s.Apply([]Batch{{Index: h.index, Term: 1, Time: h.now, Items: [][]byte{InstructionItem(b.actor, []byte(b.body))}}})[0][0]
	}
	before := mustVerifyJournal(t, h.s)
	for i, b := range bodies {
		h.index++
		got := h.s.Apply([]Batch{{Index: h.index, Term: 1, Time: h.now, Items: [][]byte{InstructionItem(b.actor, []byte(b.body))}}})[0][0]
		if !bytes.Equal(got, first[i]) {
			t.Errorf("repeat of %s: %s, want %s", b.body, got, first[i])
		}
		if o, err := h.s.Outcome(mustID(t, b.body)); err != nil || !bytes.Equal(EncodeOutcome(o), first[i]) {
			t.Errorf("Outcome of %s: %s, %v; want %s", b.body, EncodeOutcome(o), err, first[i])
		}
		other := h.do(b.actor, strings.Replace(b.body, `"USD"`, `"REG"`, 1))
		if other.Error == nil || other.Error.Code != ErrCodeIDReused {
			t.Errorf("another body under the id of %s: %+v, want ID_REUSED", b.body, other)
		}
		if o := h.do("iss-1", b.body); o.Error == nil || o.Error.Code != ErrCodeIDReused {
			t.Errorf("another actor with %s: %+v, want ID_REUSED", b.body, o)
		}
	}
	if after := mustVerifyJournal(t, h.s); after != before {
		t.Errorf("repeats changed the journal: %+v, was %+v", after, before)
	}
}

func mustID(t *testing.T, body string) string {
	t.Helper()
	var head struct{ ID string }
	if err := json.Unmarshal([]byte(body), &head); err != nil {
		t.Fatal(err)
	}
	return head.ID
}

// FuzzNamingFields holds decodeNamingFields to the whole decode: for any
// JSON the whole Instruction decodes, names of the two are the same. Seeds:
// the instructions of the schema 2 and schema 4 fixtures' journals, which
// hold migrated and JSON-form entries, and of the harness's world.
func FuzzNamingFields(f *testing.F) {
	for _, dir := range []string{"schema2", "schema4"} {
		db, err := bolt.Open(filepath.Join("testdata", dir, "state.db"), 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			f.Fatal(err)
		}
		_ = db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketJournal).ForEach(func(_, v []byte) error {
				switch {
				case len(v) > 0 && v[0] == '{': // schema 2: the served entry's JSON
					var e struct {
						Instruction json.RawMessage `json:"instruction"`
					}
					if json.Unmarshal(v, &e) == nil {
						f.Add(bytes.Clone(e.Instruction))
					}
				default:
					rec, _ := decodeJournalRecord(v)
					f.Add(bytes.Clone(rec.servedInstruction())) // the file is closed before the seeds run
				}
				return nil
			})
		})
		db.Close()
	}
	for _, body := range []string{
		ins("register_party", investor("inv-1", "retail", "US")),
		ins("create_instrument", instrument("USD", "unrestricted", "cash", 2, nil)),
		transferBody("USD", "a", "b", "1"),
		mintBody("REG", "acc-us", "5"),
		`{"id":"x","type":"borrow","party_id":"p","cash_symbol":"USD","lender":"l","amount":"1"}`,
		`{"id":"x","type":"transfer","legs":[{"symbol":"A","from":"p","to":"q","amount":"1"},{"symbol":"B","from":"q","to":"p","amount":"2"}]}`,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		full, ok := decodeServedInstruction(raw)
		if !ok {
			return
		}
		wantP, wantS := names("actor", full)
		gotP, gotS := names("actor", decodeNamingFields(raw))
		if !slices.Equal(gotP, wantP) || !slices.Equal(gotS, wantS) {
			t.Fatalf("%s: names %v %v, the whole instruction's %v %v", raw, gotP, gotS, wantP, wantS)
		}
	})
}

// TestNeedsCompact holds needsCompact to what it stands for: a raw message
// it passes is one encoding/json writes as is. Bodies are built from
// fragments that json.Marshal keeps and ones it rewrites (whitespace, the
// HTML characters, U+2028), and every valid one is checked; some must pass
// and some not, or the check proves nothing.
func TestNeedsCompact(t *testing.T) {
	parts := []string{`"a"`, `1`, `"x y"`, ` `, "\t", "\n", "\r", `"<"`, `">"`, `"&"`, "\"\u2028\"", "\"\u00e9\"", `"\u0041"`, `null`, `[]`, `{}`, `,`, `:`}
	passed, flagged := 0, 0
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		b.WriteString(`{"k":[`)
		for j := range 1 + r.IntN(4) {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString(parts[r.IntN(len(parts))])
		}
		b.WriteString(`]}`)
		raw := []byte(b.String())
		if !json.Valid(raw) {
			continue
		}
		out, err := json.Marshal(json.RawMessage(raw))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if needsCompact(raw) {
			flagged++
			continue
		}
		passed++
		if !bytes.Equal(out, raw) {
			t.Fatalf("needsCompact(%q) = false, but encoding/json writes %q", raw, out)
		}
	}
	if passed == 0 || flagged == 0 {
		t.Fatalf("%d bodies passed and %d were flagged: the check needs both", passed, flagged)
	}
	for c := range 256 {
		want := strings.ContainsRune(" \t\n\r<>&", rune(c)) || c == 0xe2
		if got := needsCompact([]byte{'"', byte(c), '"'}); got != want {
			t.Errorf("needsCompact of byte %#x = %v, want %v", c, got, want)
		}
	}
}
