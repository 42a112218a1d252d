package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
)

// TestIDIndexTable checks the table alone: every seq added for a hash is
// a candidate of it, latest answers the greatest the caller accepts, ids
// sharing a tag are told apart by the caller's test, growth keeps them all,
// and seqs too large for a slot live in the map.
func TestIDIndexTable(t *testing.T) {
	defer func(v uint64) { idSeqLimit = v }(idSeqLimit)
	idSeqLimit = 1 << 20 // seqs from here go to the map
	x := newIDIndex(0)
	r := rand.New(rand.NewSource(1))
	want := map[uint64][]uint64{} // hash -> seqs added
	var hashes []uint64
	seq := uint64(0)
	for i := range 20_000 {
		h := r.Uint64()
		if i%7 == 0 && len(hashes) > 0 {
			h = hashes[r.Intn(len(hashes))] // another entry of an id already in
		} else if i%11 == 0 && len(hashes) > 0 {
			// Another id with the same tag (and home slot), a different hash.
			h = hashes[r.Intn(len(hashes))]>>idSeqBits<<idSeqBits | uint64(r.Int63n(1<<idSeqBits))
		}
		seq++
		if i%5000 == 4999 {
			seq = idSeqLimit + uint64(i) // past what a slot holds
		}
		if _, ok := want[h]; !ok {
			hashes = append(hashes, h)
		}
		want[h] = append(want[h], seq)
		x.mu.Lock()
		x.add(h, seq)
		x.mu.Unlock()
	}
	if x.len() != 20_000 {
		t.Fatalf("len %d, want 20000", x.len())
	}
	if len(x.big) == 0 {
		t.Fatal("no seq went to the map")
	}
	for _, h := range hashes {
		seqs := want[h]
		// Every seq added for h is a candidate: accepting only one gives it.
		for _, s := range seqs {
			if got := latestOfHash(x, h, func(c uint64) bool { return c == s }); got != s {
				t.Fatalf("hash %x: accepting only %d gave %d", h, s, got)
			}
		}
		// Accepting every one of h's gives the greatest; none of another's.
		own := map[uint64]bool{}
		greatest := uint64(0)
		for _, s := range seqs {
			own[s] = true
			greatest = max(greatest, s)
		}
		if got := latestOfHash(x, h, func(c uint64) bool { return own[c] }); got != greatest {
			t.Fatalf("hash %x: latest %d, want %d", h, got, greatest)
		}
	}
	// A hash never added finds nothing its test accepts.
	if got := latestOfHash(x, 0xdeadbeef, func(uint64) bool { return false }); got != 0 {
		t.Fatalf("an absent hash gave %d", got)
	}
}

// latestOfHash is idIndex.latest for a hash rather than an id.
func latestOfHash(x *idIndex, h uint64, has func(uint64) bool) uint64 {
	var best uint64
	x.mu.RLock()
	defer x.mu.RUnlock()
	mask := uint64(len(x.slots) - 1)
	tag := h >> idSeqBits
	for i := tag & mask; x.slots[i] != 0; i = (i + 1) & mask {
		if v := x.slots[i]; v>>idSeqBits == tag && v&(1<<idSeqBits-1) > best && has(v&(1<<idSeqBits-1)) {
			best = v & (1<<idSeqBits - 1)
		}
	}
	for _, s := range x.big[h] {
		if s > best && has(s) {
			best = s
		}
	}
	return best
}

// TestIDsAnsweredByJournal checks schema 11's ids: an instruction whose
// entry serves its body as it came writes no record of the ids bucket, and
// its id still answers with its first outcome (a repeat changes nothing,
// another body is ID_REUSED, Outcome finds it) in the same call, after a
// commit, after a restart (the index rebuilt from the journal, in several
// read transactions) and after a restore; a body the journal serves
// otherwise keeps its record. Without StrictChecks too, whose appendJournal
// takes the decoder's word that a body is canonical.
func TestIDsAnsweredByJournal(t *testing.T) {
	defer func(n int) { scanChunk = n }(scanChunk)
	scanChunk = 7
	for _, strict := range []bool{true, false} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) { testIDsAnsweredByJournal(t, strict) })
	}
}

func testIDsAnsweredByJournal(t *testing.T, strict bool) {
	path := filepath.Join(t.TempDir(), "state.db")
	h := &harness{t: t, s: openStore(t, path, strict), now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.world()
	type decided struct {
		body  string
		first Outcome
	}
	var all []decided
	for i := range 40 {
		b := fmt.Sprintf(`{"id":"m-%d","type":"mint","symbol":"USD","to":"ret-us","amount":"%d"}`, i, i+1)
		if i%10 == 9 {
			b = fmt.Sprintf(`{"id":"r-%d","type":"transfer","legs":[{"symbol":"USD","from":"ret-us","to":"acc-us","amount":"999999999"}]}`, i) // rejected
		}
		all = append(all, decided{b, h.do(OperatorID, b)})
	}
	// Spaces: the journal serves the body compacted, so the id keeps a
	// record with the body's hash.
	spaced := `{"id": "spaced", "type": "mint", "symbol": "USD", "to": "ret-us", "amount": "5"}`
	all = append(all, decided{spaced, h.mustAccept(OperatorID, spaced)})
	// Within one call, the second of two items with one id is a repeat.
	same := `{"id":"twice","type":"mint","symbol":"USD","to":"ret-us","amount":"3"}`
	pair := h.apply(InstructionItem(OperatorID, []byte(same)), InstructionItem(OperatorID, []byte(same)))
	if pair[1].Seq != pair[0].Seq || pair[0].Status != StatusAccepted {
		t.Fatalf("an id twice in one call: %+v", pair)
	}
	all = append(all, decided{same, pair[0]})
	// And one with another body, or from another actor, is ID_REUSED:
	// for a body the journal serves (its hash taken only when compared)
	// and for one it compacts (its hash kept).
	for _, first := range []string{
		`{"id":"twice-served","type":"mint","symbol":"USD","to":"ret-us","amount":"4"}`,
		`{"id": "twice-spaced", "type": "mint", "symbol": "USD", "to": "ret-us", "amount": "4"}`,
	} {
		other := strings.Replace(first, `"4"`, `"6"`, 1)
		got := h.apply(InstructionItem(OperatorID, []byte(first)), InstructionItem(OperatorID, []byte(other)),
			InstructionItem("iss-1", []byte(first)), InstructionItem(OperatorID, []byte(first)))
		if got[0].Status != StatusAccepted {
			t.Fatalf("%s: %+v", first, got[0])
		}
		for i, o := range got[1:3] {
			if o.Error == nil || o.Error.Code != ErrCodeIDReused {
				t.Errorf("%s, item %d in the same call: %+v, want ID_REUSED", first, i+1, o)
			}
		}
		if got[3].Seq != got[0].Seq || got[3].Status != got[0].Status {
			t.Errorf("%s repeated in the same call: %+v, want %+v", first, got[3], got[0])
		}
	}
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	filed := map[string]bool{}
	if err := h.s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIDs).ForEach(func(k, _ []byte) error { filed[string(k)] = true; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		if want := d.first.ID == "spaced"; filed[d.first.ID] != want {
			t.Errorf("ids bucket holds %s: %v, want %v (only an id whose body the journal serves compacted)", d.first.ID, !want, want)
		}
	}
	// Every body here is kept in binary: the spaced one's compaction, which
	// the journal serves, is canonical too.
	if err := h.s.db.View(func(tx *bolt.Tx) error {
		journal := kv.Wrap(tx).Bucket(bucketJournal)
		for _, d := range all {
			_, binary := journalInstruction(journalRecordAt(journal, d.first.Seq))
			if !binary {
				t.Errorf("journal entry %d (%s) is not in binary", d.first.Seq, d.first.ID)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	check := func(when string) {
		t.Helper()
		balance := h.balance("ret-us", "USD")
		for _, d := range all {
			if o := h.do(OperatorID, d.body); o.Status != d.first.Status || o.Seq != d.first.Seq {
				t.Errorf("%s: repeat of %s: %+v, want %+v", when, d.body, o, d.first)
			}
			other := strings.Replace(d.body, `"USD"`, `"REG"`, 1)
			if o := h.do(OperatorID, other); o.Error == nil || o.Error.Code != ErrCodeIDReused {
				t.Errorf("%s: another body under the id of %s: %+v, want ID_REUSED", when, d.body, o)
			}
			if o, err := h.s.Outcome(d.first.ID); err != nil || o.Seq != d.first.Seq || o.Status != d.first.Status {
				t.Errorf("%s: Outcome(%s) = %+v, %v; want %+v", when, d.first.ID, o, err, d.first)
			}
		}
		if _, err := h.s.Outcome("never-used"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: Outcome of an unused id: %v, want ErrNotFound", when, err)
		}
		if got := h.balance("ret-us", "USD"); got != balance {
			t.Errorf("%s: repeats moved the balance from %s to %s", when, balance, got)
		}
	}
	check("before a restart")
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	h.s = openStore(t, path, strict)
	check("after a restart")
	if n := h.s.idx.len(); n < len(all) {
		t.Errorf("the rebuilt index holds %d entries, want at least %d", n, len(all))
	}

	snap, err := h.s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	restored := openStore(t, filepath.Join(t.TempDir(), "restored.db"), strict)
	if err := restored.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	h.s = restored
	check("after a restore")
}

// TestHeldIDRecordOfSchema10 checks an id a schema 10 file recorded in the
// ids bucket, held for approval before the upgrade and decided after it:
// the decision drops the old record, which named the held entry, and the
// id answers with the decision.
func TestHeldIDRecordOfSchema10(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	h := &harness{t: t, s: openStore(t, path, true), now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.world()
	h.mustAccept(OperatorID, ins("register_party", party("op-2", "operator")))
	h.mustAccept(OperatorID, setRulebookBody(dualControlRulebook(t), nil))
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "10"))
	// No space in the body: the journal serves it as it came, and schema
	// 10 recorded its id with the seq alone.
	held := h.do(OperatorID, ins("force_transfer", map[string]any{"legal_reference": "order-9",
		"legs": []map[string]any{{"symbol": "REG", "from": "acc-us", "to": "qp-us", "amount": "4"}}}))
	if held.Status != StatusPending {
		t.Fatalf("held: %+v", held)
	}
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	// The record schema 10 wrote for the held instruction.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := updateKV(db, func(tx *kv.Tx) error {
		rec := idRecord{Seq: held.Seq, BodyServed: true}
		return tx.Bucket(bucketIDs).Put([]byte(held.ID), encodeIDRecord(nil, &rec))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	h.s = openStore(t, path, true)
	if o, err := h.s.Outcome(held.ID); err != nil || o.Seq != held.Seq {
		t.Fatalf("Outcome(%s) with the old record: %+v, %v; want the held entry %d", held.ID, o, err, held.Seq)
	}
	approved := h.mustAccept("op-2", ins("approve", map[string]any{"instruction_id": held.ID}))
	for _, when := range []string{"before the commit", "after it"} {
		if o, err := h.s.Outcome(held.ID); err != nil || o.Status != StatusAccepted || o.Seq != approved.Seq+1 {
			t.Errorf("Outcome(%s) %s: %+v, %v; want accepted at %d", held.ID, when, o, err, approved.Seq+1)
		}
		if err := h.s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketIDs).Get([]byte(held.ID)); v != nil {
			return fmt.Errorf("the ids bucket still holds %s: %x", held.ID, v)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestIDIndexFaultsOnDamagedJournal checks that a journal entry the id
// index's scan cannot decode stops the store, as a state that fails its
// checks does, rather than let Apply answer for ids without it.
func TestIDIndexFaultsOnDamagedJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	h := &harness{t: t, s: openStore(t, path, false), now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.world()
	for i := range 30 {
		h.mustAccept(OperatorID, fmt.Sprintf(`{"id":"m-%d","type":"mint","symbol":"USD","to":"ret-us","amount":"1"}`, i))
	}
	index := h.index
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketJournal).Cursor().First()
		if v[0] != tagJournalChunk {
			return fmt.Errorf("the first journal value is not a chunk: %q", v[0])
		}
		damaged := append(bytes.Clone(v[:chunkHeader]), 0xff, 0xff, 0xff)
		return tx.Bucket(bucketJournal).Put(k, damaged)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	faults := make(chan error, 1)
	s, err := Open(Config{Path: path, NoSync: true, OnFault: func(err error) { faults <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go s.Apply([]Batch{{Index: index + 1, Term: 1, Time: epoch, Items: [][]byte{
		InstructionItem(OperatorID, []byte(`{"id":"m-0","type":"mint","symbol":"USD","to":"ret-us","amount":"1"}`)),
	}}})
	select {
	case err := <-faults:
		var fe *FaultError
		if !errors.As(err, &fe) || fe.Step != "index" || !errors.Is(err, ErrStorageFault) || !errors.Is(err, ErrDamaged) {
			t.Errorf("fault %v: want an index fault of a damaged file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Apply over a journal the index cannot read reported no fault")
	}
}

// FuzzJournalInstruction holds journalInstruction, which skips to a
// record's instruction, to decodeJournalRecord: whatever the whole decode
// accepts, the skip reads the same instruction and kind from.
func FuzzJournalInstruction(f *testing.F) {
	reason := eligibility.Reason{Code: "LIMIT", Rule: "r.1", Message: "too much", ERC1066: "0x50"}
	for _, rec := range []journalRecord{
		{version: HashV2, index: 7, time: epoch, actor: "operator", status: StatusAccepted, binary: true, instruction: []byte{1, 2, 3}},
		{version: HashV2, index: 9, time: epoch.Add(time.Second), actor: "cus-1", status: StatusRejected,
			reasons: []eligibility.Reason{reason, reason}, instruction: []byte(`{"id":"x"}`), extra: []string{"a"}},
		{version: HashV1, index: 1, time: epoch, actor: "a", status: "pending", reasonForm: reasonExplicit, reason: &reason,
			instruction: []byte(`{"id":"y"}`), namesExplicit: true, parties: []string{"p"}, symbols: []string{"S"}},
	} {
		f.Add(append(appendJournalBody(nil, &rec), make([]byte, journalHashSize)...))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		var whole journalRecord
		wholeOK := returns(func() { whole, _ = decodeJournalRecord(v) })
		var ins []byte
		var bin bool
		skipOK := returns(func() { ins, bin = journalInstruction(v) })
		if !wholeOK {
			return
		}
		if !skipOK || !bytes.Equal(ins, whole.instruction) || bin != whole.binary {
			t.Fatalf("skip gave %q binary %v (ok %v), the whole decode %q binary %v", ins, bin, skipOK, whole.instruction, whole.binary)
		}
	})
}

// returns reports whether fn returned rather than panicked.
func returns(fn func()) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	fn()
	return true
}

// BenchmarkOutcome is GET /v1/instructions/{id}'s read: the outcome of one
// of 20,000 decided instruction ids, at random, from the file.
//
//	go test ./ledger -run '^$' -bench BenchmarkOutcome -benchmem
func BenchmarkOutcome(b *testing.B) {
	h := &harness{t: b, s: openStore(b, filepath.Join(b.TempDir(), "state.db"), false), now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.world()
	const n = 20_000
	items := make([][]byte, 0, 1000)
	for i := range n {
		items = append(items, InstructionItem(OperatorID, fmt.Appendf(nil, `{"id":"o-%d","type":"mint","symbol":"USD","to":"ret-us","amount":"1"}`, i)))
		if len(items) == cap(items) {
			h.apply(items...)
			items = items[:0]
		}
	}
	if err := h.s.Commit(); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		id := fmt.Sprintf("o-%d", r.Intn(n))
		if o, err := h.s.Outcome(id); err != nil || o.Status != StatusAccepted {
			b.Fatalf("Outcome(%s) = %+v, %v", id, o, err)
		}
	}
}
