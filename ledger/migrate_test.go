package ledger

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
)

// schema2Golden is what the schema 2 code served from testdata/schema2/state.db,
// recorded when it wrote the file (testdata/schema2/generate_test.go.txt, run
// against that release): the journal entries exactly as stored and served,
// the outcome JSON of every id, the verification and the business state hash.
type schema2Golden struct {
	Entries      []string          `json:"entries"`
	Outcomes     map[string]string `json:"outcomes"`
	Verification Verification      `json:"verification"`
	State        string            `json:"state"`
}

func loadSchema2(t *testing.T) (path string, golden schema2Golden) {
	t.Helper()
	path = loadFixture(t, "schema2", &golden)
	return path, golden
}

// loadFixture reads testdata/dir's served.json into golden and copies its
// state.db where the test may open and migrate it.
func loadFixture(t *testing.T, dir string, golden any) (path string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", dir, "served.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, golden); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(filepath.Join("testdata", dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMigrateSchema2 opens a state file the schema 2 release wrote and checks
// that the migrated store serves what that release served: every journal
// entry's JSON byte for byte (hashes included, still v1), the verification,
// the business state, every id's outcome, and the first outcome again for a
// repeat of each instruction. New entries then chain onto the v1 ones as v2.
func TestMigrateSchema2(t *testing.T) {
	path, golden := loadSchema2(t)
	s := openStore(t, path, true)
	checkServesSchema2(t, s, golden)

	h := &harness{t: t, s: s, now: epoch.Add(1 << 40), index: s.AppliedIndex()}
	o := h.mustAccept(OperatorID, `{"id":"after-1","type":"mint","symbol":"USD","to":"ret-us","amount":"3"}`)
	page, err := s.Journal(JournalQuery{After: o.Seq - 1})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("journal after migration: %+v, %v", page, err)
	}
	if e := page.Entries[0]; e.HashVersion != HashV2 || e.PrevHash != golden.Verification.Head {
		t.Errorf("first new entry: hash_version %d, prev_hash %s; want 2 linking to %s", e.HashVersion, e.PrevHash, golden.Verification.Head)
	}
	if v := mustVerifyJournal(t, s); !v.OK || v.Length != golden.Verification.Length+1 {
		t.Errorf("verify after a new entry: %+v", v)
	}
	checkComputeHashFromJSON(t, s)
}

// TestMigrateSchema2Resumes cuts the migration into transactions of a few
// records, stops it after the first few, and checks that Open finishes it to
// the same result.
func TestMigrateSchema2Resumes(t *testing.T) {
	path, golden := loadSchema2(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := db.Update(func(tx *bolt.Tx) error { _, err := migrateJournalStep(tx, 7); return err }); err != nil {
			t.Fatal(err)
		}
	}
	for done := false; !done; {
		if err := db.Update(func(tx *bolt.Tx) (err error) { done, err = migrateJournalStep(tx, 7); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := migrateIDsStep(tx, 5); return err }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, path, true)
	checkServesSchema2(t, s, golden)
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	current, err := strconv.Atoi(schemaVersion)
	if err != nil {
		t.Fatal(err)
	}
	newer := strconv.Itoa(current + 1)
	path := writeSchemaOnly(t, newer)
	s, err := Open(Config{Path: path, NoSync: true})
	if err == nil {
		s.Close()
		t.Fatalf("Open of a schema %s file succeeded, want an error", newer)
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open: %v; want it to say the schema is newer", err)
	}
}

// writeSchemaOnly writes a state file holding only the meta key schema, and
// returns its path.
func writeSchemaOnly(t *testing.T, schema string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v"+schema+".db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = updateKV(db, func(tx *kv.Tx) error {
		meta, err := tx.Bolt().CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		return meta.Put(metaSchema, []byte(schema))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func checkServesSchema2(t *testing.T, s *Store, golden schema2Golden) {
	t.Helper()
	page, err := s.Journal(JournalQuery{Limit: MaxJournalPage})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != len(golden.Entries) {
		t.Fatalf("%d journal entries, want %d", len(page.Entries), len(golden.Entries))
	}
	for i, e := range page.Entries {
		if got := encodeJSON(e); string(got) != golden.Entries[i] {
			t.Errorf("entry %d:\n got %s\nwant %s", e.Seq, got, golden.Entries[i])
		}
	}
	if v := mustVerifyJournal(t, s); v != golden.Verification {
		t.Errorf("verification %+v, want %+v", v, golden.Verification)
	}
	if st := mustHashes(t, s).State; st != golden.State {
		t.Errorf("state hash %s, want %s", st, golden.State)
	}
	for id, want := range golden.Outcomes {
		o, err := s.Outcome(id)
		if err != nil {
			t.Fatalf("outcome of %s: %v", id, err)
		}
		if got := EncodeOutcome(o); string(got) != want {
			t.Errorf("outcome of %s: %s, want %s", id, got, want)
		}
	}
	if errs := s.Check(); len(errs) > 0 {
		t.Errorf("Check: %v", errs)
	}
	// A repeat of each instruction returns its first outcome. The served
	// instruction is the body, but for the two bodies the generator sent with
	// whitespace and HTML characters, which the journal serves compacted.
	compacted := map[string]bool{"c-11": true, "c-13": true}
	index := s.AppliedIndex()
	var items [][]byte
	var want []string
	for _, e := range page.Entries {
		var head struct{ ID string }
		if err := json.Unmarshal(e.Instruction, &head); err != nil {
			t.Fatal(err)
		}
		if compacted[head.ID] {
			continue
		}
		items = append(items, InstructionItem(e.Actor, e.Instruction))
		want = append(want, golden.Outcomes[head.ID])
	}
	before := mustVerifyJournal(t, s)
	res := s.Apply([]Batch{{Index: index + 1, Term: 1, Time: s.LastTime(), Items: items}})[0]
	for i, got := range res {
		if !bytes.Equal(got, []byte(want[i])) {
			t.Errorf("repeat %d: %s, want %s", i, got, want[i])
		}
	}
	if after := mustVerifyJournal(t, s); after != before {
		t.Errorf("repeats changed the journal: %+v, was %+v", after, before)
	}
}

// schema4Golden is what the schema 4 release served from
// testdata/schema4/state.db (testdata/schema4/generate_test.go.txt wrote
// both): the business state hash, the journal head, and each party's and
// symbol's journal entries, which its per-posting keys listed.
type schema4Golden struct {
	State   string              `json:"state"`
	Head    string              `json:"head"`
	Parties map[string][]uint64 `json:"parties"`
	Symbols map[string][]uint64 `json:"symbols"`
}

func loadSchema4(t *testing.T) (path string, golden schema4Golden) {
	t.Helper()
	path = loadFixture(t, "schema4", &golden)
	return path, golden
}

// TestMigrateSchema4 opens a file the schema 4 release wrote, its journal
// indexes a key per posting, and checks that the packed indexes Open builds
// list exactly the entries the old ones did, read a page at a time, and
// that the state and journal are untouched; cut short after its first
// step, the rebuild resumes on the next Open to the same result.
func TestMigrateSchema4(t *testing.T) {
	for _, cut := range []bool{false, true} {
		t.Run(map[bool]string{false: "whole", true: "resumed"}[cut], func(t *testing.T) {
			path, golden := loadSchema4(t)
			if cut {
				db, err := bolt.Open(path, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Update(func(tx *bolt.Tx) error { _, err := buildIndexesStep(tx, 50, true); return err }); err != nil {
					t.Fatal(err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
			s := openStore(t, path, true)
			if got := mustHashes(t, s).State; got != golden.State {
				t.Errorf("state hash %s, schema 4 served %s", got, golden.State)
			}
			if v := mustVerifyJournal(t, s); !v.OK || v.Head != golden.Head {
				t.Errorf("verification %+v, want head %s", v, golden.Head)
			}
			if len(golden.Parties) == 0 || len(golden.Symbols) == 0 {
				t.Fatal("golden lists no parties or symbols")
			}
			for name, want := range golden.Parties {
				if got := pagedSeqs(t, s, JournalQuery{Party: name, Limit: 7}, nil); !slices.Equal(got, want) {
					t.Errorf("party %s: %v, schema 4 served %v", name, got, want)
				}
			}
			for name, want := range golden.Symbols {
				if got := pagedSeqs(t, s, JournalQuery{Symbol: name, Limit: 7}, nil); !slices.Equal(got, want) {
					t.Errorf("symbol %s: %v, schema 4 served %v", name, got, want)
				}
			}
		})
	}
}

// pagedSeqs reads q's whole journal a page at a time and returns the seqs;
// limit, when set, gives each page's limit.
func pagedSeqs(t *testing.T, s *Store, q JournalQuery, limit func() int) []uint64 {
	t.Helper()
	var seqs []uint64
	for range 100_000 {
		if limit != nil {
			q.Limit = limit()
		}
		page, err := s.Journal(q)
		if err != nil {
			t.Fatalf("Journal(%+v): %v", q, err)
		}
		for _, e := range page.Entries {
			seqs = append(seqs, e.Seq)
		}
		if page.Next == 0 {
			return seqs
		}
		q.After = page.Next
	}
	t.Fatalf("Journal(%+v): no last page", q)
	return nil
}

// schema9Golden is what the schema 9 release served from
// testdata/schema9/state.db (testdata/schema9/generate_test.go.txt wrote
// both): the business state hash, every journal entry as served, and cap
// tables and control books at past seqs, which read the supplies index and
// the status history.
type schema9Golden struct {
	State   string            `json:"state"`
	Journal []json.RawMessage `json:"journal"`
	Tables  []json.RawMessage `json:"tables"`
	Books   []json.RawMessage `json:"books"`
}

// TestMigrateSchema9 opens a file the schema 9 release wrote (journal
// chunks holding each entry's hash, a supplies key a change, a status
// history key at each registration) and checks that it serves what that
// release served: every journal entry's JSON byte for byte, the journal's
// verification, the business state, the cap tables and control books of
// past seqs. Then it goes on, in schema 10's forms after the old ones, and
// still serves the old seqs as before; so after a reopen too.
func TestMigrateSchema9(t *testing.T) {
	var golden schema9Golden
	path := loadFixture(t, "schema9", &golden)
	// The fixture holds each old form.
	var hashedChunks, supplyKeys, statusKeys, plainHoldings int
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		_ = tx.Bucket(bucketJournal).ForEach(func(_, v []byte) error {
			if v[0] == tagHashedChunk {
				hashedChunks++
			}
			return nil
		})
		_ = tx.Bucket(bucketSupplies).ForEach(func(_, v []byte) error {
			if v[0] == tagBalance {
				supplyKeys++
			}
			return nil
		})
		_ = tx.Bucket(bucketStatusHistory).ForEach(func(k, _ []byte) error {
			if bytes.HasPrefix(k, []byte("late-us\x00")) {
				statusKeys++
			}
			return nil
		})
		if got := string(tx.Bucket(bucketMeta).Get(metaSchema)); got != schemaHashedChunks {
			t.Errorf("fixture schema %q", got)
		}
		if kv.IsPacked(tx.Bucket(bucketHoldings)) {
			t.Error("fixture: its holdings are packed")
		}
		plainHoldings = tx.Bucket(bucketHoldings).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if hashedChunks < 10 || supplyKeys < 10 || statusKeys != 1 || plainHoldings < 10 {
		t.Fatalf("fixture: %d hashed chunks, %d supply keys, %d status keys of a registration, %d holdings", hashedChunks, supplyKeys, statusKeys, plainHoldings)
	}

	s := openStore(t, path, true)
	served := func() {
		t.Helper()
		if got := fileSchema(s.db); got != schemaVersion {
			t.Errorf("schema %q, want %q", got, schemaVersion)
		}
		// Schema 12: the holdings packed, every one of them still read.
		_ = s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketHoldings)
			if !kv.IsPacked(b) {
				t.Error("the holdings are not packed")
			}
			if chunks := b.Stats().KeyN; chunks*4 > plainHoldings {
				t.Errorf("%d holdings in %d chunks", plainHoldings, chunks)
			}
			return nil
		})
		page := mustAnswer(t, "journal", func() (JournalPage, error) {
			return s.Journal(JournalQuery{Limit: len(golden.Journal)})
		})
		if len(page.Entries) != len(golden.Journal) {
			t.Fatalf("%d entries, schema 9 served %d", len(page.Entries), len(golden.Journal))
		}
		for i, e := range page.Entries {
			if got, _ := json.Marshal(e); !bytes.Equal(got, golden.Journal[i]) {
				t.Fatalf("entry %d: %s, schema 9 served %s", i+1, got, golden.Journal[i])
			}
		}
		for _, raw := range golden.Tables {
			var want CapTable
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			got := mustAnswer(t, "holders", func() (CapTable, error) {
				return s.HoldersPage(HoldersQuery{Symbol: want.Symbol, At: want.Seq, Limit: MaxHoldersPage})
			})
			if g, _ := json.Marshal(got); !bytes.Equal(g, raw) {
				t.Fatalf("cap table of %s at %d: %s, schema 9 served %s", want.Symbol, want.Seq, g, raw)
			}
		}
		for _, raw := range golden.Books {
			var want ControlBookAt
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			got := mustAnswer(t, "control book", func() (ControlBookAt, error) { return s.ControlBook(want.Symbol, want.Seq, false) })
			if g, _ := json.Marshal(got); !bytes.Equal(g, raw) {
				t.Fatalf("control book of %s at %d: %s, schema 9 served %s", want.Symbol, want.Seq, g, raw)
			}
		}
	}
	served()
	if got := mustHashes(t, s).State; got != golden.State {
		t.Errorf("state hash %s, schema 9 served %s", got, golden.State)
	}
	if len(golden.Tables) < 20 || len(golden.Books) < 20 {
		t.Fatalf("golden: %d tables, %d books", len(golden.Tables), len(golden.Books))
	}

	// Go on: new entries, supply changes and status changes in schema 10's
	// forms after the old ones.
	h := &harness{t: t, s: s, now: s.LastTime()}
	h.index = s.AppliedIndex()
	// Past the fixture's instruction ids, which the same counter made.
	nextID.Add(1_000_000)
	h.mustAccept(OperatorID, ins("update_party", map[string]any{"party_id": "late-us", "status": "accredited"}))
	h.mustAccept(OperatorID, ins("register_party", investor("later-us", "retail", "US")))
	h.mustAccept(OperatorID, ins("update_party", map[string]any{"party_id": "later-us", "status": "accredited"}))
	g := newGen(10)
	for range 200 {
		actor, body := g.next()
		h.apply(InstructionItem(actor, []byte(body)))
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if v := mustVerifyJournal(t, s); !v.OK {
		t.Fatalf("VerifyJournal after new entries: %+v", v)
	}
	var chunks int
	for _, jv := range journalLayout(t, s) {
		if jv.val[0] == tagJournalChunk {
			chunks++
		}
	}
	if chunks == 0 {
		t.Error("no journal chunk of schema 10 after new entries")
	}
	page := mustAnswer(t, "journal", func() (JournalPage, error) { return s.Journal(JournalQuery{Limit: len(golden.Journal)}) })
	for i, e := range page.Entries {
		if got, _ := json.Marshal(e); !bytes.Equal(got, golden.Journal[i]) {
			t.Fatalf("after new entries, entry %d: %s, schema 9 served %s", i+1, got, golden.Journal[i])
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, true)
	for _, raw := range golden.Tables {
		var want CapTable
		_ = json.Unmarshal(raw, &want)
		got := mustAnswer(t, "holders", func() (CapTable, error) {
			return s.HoldersPage(HoldersQuery{Symbol: want.Symbol, At: want.Seq, Limit: MaxHoldersPage})
		})
		if g, _ := json.Marshal(got); !bytes.Equal(g, raw) {
			t.Fatalf("after new entries, cap table of %s at %d: %s, schema 9 served %s", want.Symbol, want.Seq, g, raw)
		}
	}
	if errs := s.Check(); len(errs) > 0 {
		t.Fatalf("Check after reopening: %v", errs)
	}
}

// unpackFile turns the closed state file at path into one of plain
// buckets (kv.Unpack of packedBuckets) that records schema.
func unpackFile(tb testing.TB, path, schema string) {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range packedBuckets {
			if err := kv.Unpack(tx, name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, []byte(schema))
	}); err != nil {
		tb.Fatal(err)
	}
}

// TestOpenPacksSchema11 writes a register, turns its file into a schema 11
// one (the packed buckets a bbolt key a key, kv.Unpack; the schema
// recorded as 11) and opens it: Open packs those buckets, and the store
// serves the same state and full hashes, journal and cap tables, checks
// clean, and goes on applying. A crash after the schema is recorded and
// before the buckets are packed (the schema 12 file with plain buckets)
// opens the same way.
func TestOpenPacksSchema11(t *testing.T) {
	for _, schema := range []string{schemaPlainHoldings, schemaVersion} {
		t.Run("recorded="+schema, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s, err := Open(Config{Path: path, NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{t: t, s: s, now: epoch}
			h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
			h.propertyWorld()
			g := newGen(4)
			for range 400 {
				actor, body := g.next()
				h.apply(InstructionItem(actor, []byte(body)))
			}
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			before := mustHashes(t, s)
			journal := mustAnswer(t, "journal", func() (JournalPage, error) { return s.Journal(JournalQuery{Limit: 1000}) })
			// Cap tables now and at a past seq, which reads the balance
			// index.
			type table struct {
				symbol string
				at     uint64
			}
			tables := map[table]CapTable{}
			mid := uint64(len(journal.Entries) / 2)
			for _, sym := range []string{"REG", "PRIV", "USD"} {
				for _, at := range []uint64{0, mid} {
					tables[table{sym, at}] = mustAnswer(t, "holders", func() (CapTable, error) { return s.Holders(sym, at) })
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			unpackFile(t, path, schema)

			s = openStore(t, path, true)
			if got := fileSchema(s.db); got != schemaVersion {
				t.Errorf("schema %q, want %q", got, schemaVersion)
			}
			_ = s.db.View(func(tx *bolt.Tx) error {
				for _, name := range packedBuckets {
					if !kv.IsPacked(tx.Bucket(name)) {
						t.Errorf("%s is not packed", name)
					}
				}
				return nil
			})
			if after := mustHashes(t, s); after != before {
				t.Errorf("hashes %+v after the upgrade, %+v before", after, before)
			}
			if got := mustAnswer(t, "journal", func() (JournalPage, error) { return s.Journal(JournalQuery{Limit: 1000}) }); !reflect.DeepEqual(got, journal) {
				t.Error("the journal reads otherwise after the upgrade")
			}
			for key, want := range tables {
				got := mustAnswer(t, "holders", func() (CapTable, error) { return s.Holders(key.symbol, key.at) })
				if !reflect.DeepEqual(got, want) {
					t.Errorf("cap table %+v: %+v after the upgrade, %+v before", key, got, want)
				}
				if len(want.Holders) == 0 {
					t.Errorf("cap table %+v: no holders to compare", key)
				}
			}
			if errs := s.Check(); len(errs) > 0 {
				t.Fatalf("Check: %v", errs)
			}
			h = &harness{t: t, s: s, now: s.LastTime(), index: s.AppliedIndex()}
			for range 200 {
				actor, body := g.next()
				h.apply(InstructionItem(actor, []byte(body)))
			}
		})
	}
}
