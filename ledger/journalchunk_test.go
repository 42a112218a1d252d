package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
)

// chunksWorld applies entries of many sizes, a few bigger than a chunk
// (a set_rulebook refused with a long text), in calls of one to five
// entries, and commits. It returns the harness and the journal's length.
func chunksWorld(t *testing.T, path string, r *rand.Rand) (*Store, *harness) {
	t.Helper()
	s, h := openWorld(t, path)
	t.Cleanup(func() { s.Close() })
	h.mustAccept(OperatorID, mintBody("USD", "ret-us", "1000000"))
	for i := 0; i < 150; {
		var items [][]byte
		for n := 1 + r.Intn(5); n > 0; n-- {
			actor, body := chunkyEntry(r)
			items = append(items, InstructionItem(actor, []byte(body)))
			i++
		}
		h.apply(items...)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	return s, h
}

// chunkyEntry is an instruction whose journal entry takes from about 100
// bytes to a few thousand: transfers with ids of any length, set_rulebook
// refused from an investor (its text journaled), and now and then one
// longer than a chunk.
func chunkyEntry(r *rand.Rand) (actor, body string) {
	switch k := r.Intn(20); {
	case k == 0:
		return "ret-us", setRulebookBody(strings.Repeat("x", journalChunkBytes+r.Intn(2000)), nil)
	case k < 6:
		return "ret-us", setRulebookBody(strings.Repeat("x", r.Intn(600)), nil)
	default:
		id := fmt.Sprintf("t-%d-%s", nextID.Add(1), strings.Repeat("i", r.Intn(60)))
		return "ret-us", ins("transfer", map[string]any{"id": id, "legs": []map[string]any{{"symbol": "USD", "from": "ret-us", "to": "acc-us", "amount": "0.01"}}})
	}
}

// journalLayout is the journal bucket's keys and values as they lie.
type journalValue struct {
	key uint64
	val []byte
}

func journalLayout(t *testing.T, s *Store) []journalValue {
	t.Helper()
	var out []journalValue
	if err := viewKV(s.db, func(tx *kv.Tx) error {
		return tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
			out = append(out, journalValue{binary.BigEndian.Uint64(k), bytes.Clone(v)})
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestJournalChunks checks the layout a journal written by Apply has: every
// value a chunk, keyed by its first entry's seq, the seqs running on from
// chunk to chunk; each chunk within journalChunkBytes unless it holds one
// entry; and each chunk ended by an entry that would not have fitted. Then
// that every reader finds every entry: a look-up of each seq, a cursor
// seeking each, the last, pages of the journal from each seq, and the
// hash chain.
func TestJournalChunks(t *testing.T) {
	for seed := range int64(3) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			s, _ := chunksWorld(t, filepath.Join(t.TempDir(), "state.db"), rand.New(rand.NewSource(seed)))
			layout := journalLayout(t, s)
			var records [][]byte // records[seq-1]
			big := 0
			for i, jv := range layout {
				if len(jv.val) == 0 || jv.val[0] != tagJournalChunk {
					t.Fatalf("value at %d is not a chunk: %q", jv.key, firstByte(jv.val))
				}
				if i == 0 && !bytes.Equal(jv.val[1:chunkHeader], make([]byte, journalHashSize)) {
					t.Errorf("the first chunk's prev is %x, not zeros", jv.val[1:chunkHeader])
				}
				if jv.key != uint64(len(records))+1 {
					t.Fatalf("chunk at %d follows entry %d", jv.key, len(records))
				}
				n, ok := chunkEntries(jv.val)
				if !ok {
					t.Fatalf("chunk at %d is not framed", jv.key)
				}
				if n > 1 && len(jv.val) > journalChunkBytes {
					t.Errorf("chunk at %d: %d entries in %d bytes", jv.key, n, len(jv.val))
				}
				if n == 1 && len(jv.val) > journalChunkBytes {
					big++
				}
				jc := journalCursor{}
				for _, rec := jc.enter(binary.BigEndian.AppendUint64(nil, jv.key), jv.val); rec != nil; {
					records = append(records, rec)
					if len(jc.rest) == 0 {
						break
					}
					_, rec = jc.next()
				}
				if i+1 < len(layout) {
					if next := layout[i+1].val; chunkJoins(len(jv.val), len(firstRecord(next))-journalHashSize) {
						t.Errorf("chunk at %d ends, yet the next entry (%d bytes) fits in it", jv.key, len(firstRecord(next)))
					}
					// Its stored hash of the entry before it is that entry's.
					if prev := records[len(records)-1]; !bytes.Equal(layout[i+1].val[1:chunkHeader], prev[len(prev)-journalHashSize:]) {
						t.Errorf("chunk at %d: stored prev %x, entry %d's hash %x", layout[i+1].key, layout[i+1].val[1:chunkHeader], len(records), prev[len(prev)-journalHashSize:])
					}
				}
			}
			if big == 0 {
				t.Error("no entry larger than a chunk")
			}
			// Entries of one call share their index and time: after the
			// first of a chunk they are stored short, and every record
			// the cursor gave back is whole (the chain, checked below,
			// covers the bodies it rebuilt).
			short := 0
			for _, jv := range layout {
				for i, e := range storedEntries(jv.val) {
					if e[0] == tagShortEntry {
						short++
						if i == 0 {
							t.Errorf("chunk at %d opens with a short entry", jv.key)
						}
					}
				}
			}
			if short == 0 {
				t.Error("no entry stored short")
			}
			for i, rec := range records {
				if rec[0] != tagJournal || indexTimeEnd(rec) == 0 {
					t.Fatalf("record %d as the cursor gives it: %x", i+1, rec)
				}
			}
			if len(layout) > len(records)/2 {
				t.Errorf("%d chunks for %d entries", len(layout), len(records))
			}
			seq := uint64(len(records))
			if v := mustVerifyJournal(t, s); !v.OK || v.Length != seq {
				t.Fatalf("VerifyJournal: %+v, want %d entries", v, seq)
			}
			if err := viewKV(s.db, func(tx *kv.Tx) error {
				journal := tx.Bucket(bucketJournal)
				for i, want := range records {
					at := uint64(i + 1)
					if got := journalRecordAt(journal, at); !bytes.Equal(got, want) {
						t.Fatalf("journalRecordAt(%d) = %x, want %x", at, got, want)
					}
					if got, rec := newJournalCursor(journal).seek(at); got != at || !bytes.Equal(rec, want) {
						t.Fatalf("seek(%d) = %d", at, got)
					}
				}
				// A reader of rising seqs, with gaps of any length, on one
				// cursor: each record and the hash before it.
				r := rand.New(rand.NewSource(seed))
				jc := newJournalCursor(journal)
				for at := uint64(1 + r.Intn(3)); at <= seq; at += uint64(1 + r.Intn(12)) {
					prev, rec := jc.withPrev(at)
					var want [journalHashSize]byte
					if at > 1 {
						copy(want[:], records[at-2][len(records[at-2])-journalHashSize:])
					}
					if !bytes.Equal(rec, records[at-1]) || prev != want {
						t.Fatalf("withPrev(%d) = %x after %x, want %x after %x", at, rec, prev, records[at-1], want)
					}
				}
				if _, rec := jc.withPrev(seq + 1); rec != nil {
					t.Errorf("withPrev past the end = %x", rec)
				}
				if got := journalRecordAt(journal, seq+1); got != nil {
					t.Errorf("journalRecordAt past the end = %x", got)
				}
				if got, rec := newJournalCursor(journal).seek(seq + 1); rec != nil {
					t.Errorf("seek past the end = %d", got)
				}
				if got, rec := newJournalCursor(journal).seek(0); got != 1 || !bytes.Equal(rec, records[0]) {
					t.Errorf("seek(0) = %d", got)
				}
				if got, rec := newJournalCursor(journal).last(); got != seq || !bytes.Equal(rec, records[seq-1]) {
					t.Errorf("last = %d, want %d", got, seq)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			all := mustAnswer(t, "journal", func() (JournalPage, error) { return s.Journal(JournalQuery{Limit: MaxJournalPage}) })
			for after := uint64(0); after < seq; after += 7 {
				page := mustAnswer(t, "journal", func() (JournalPage, error) { return s.Journal(JournalQuery{After: after, Limit: 5}) })
				for i, e := range page.Entries {
					if want := all.Entries[after+uint64(i)]; e.Seq != want.Seq || e.Hash != want.Hash || e.PrevHash != want.PrevHash {
						t.Fatalf("page after %d, entry %d: %d %s, want %d %s", after, i, e.Seq, e.Hash, want.Seq, want.Hash)
					}
				}
			}
		})
	}
}

// storedEntries is a chunk's stored entries, as they lie.
func storedEntries(v []byte) [][]byte {
	rest, ok := chunkBody(v)
	var out [][]byte
	for ok && len(rest) > 0 {
		l, w := binary.Uvarint(rest)
		if w <= 0 || l > uint64(len(rest)-w) {
			break
		}
		out = append(out, rest[w:w+int(l)])
		rest = rest[w+int(l):]
	}
	return out
}

// appendFramed appends rec to a chunk: its length, then it.
func appendFramed(chunk, rec []byte) []byte {
	return append(binary.AppendUvarint(chunk, uint64(len(rec))), rec...)
}

// firstRecord is the first record of a journal value.
func firstRecord(v []byte) []byte {
	var jc journalCursor
	_, rec := jc.enter(make([]byte, 8), v)
	return rec
}

// TestJournalChunkTakenUpAfterReopen applies the same batches to a store
// that stays open and to one closed and reopened between them, and at
// random crashed (its layers lost) and replayed: the journal's last chunk,
// taken up from the file after each, must end as it would have, so the
// files hash alike.
func TestJournalChunkTakenUpAfterReopen(t *testing.T) {
	s0, h := openWorld(t, filepath.Join(t.TempDir(), "state.db"))
	defer s0.Close()
	var log []Batch
	h.rec = &log
	r := rand.New(rand.NewSource(8))
	h.mustAccept(OperatorID, mintBody("USD", "ret-us", "1000000"))
	for range 200 {
		if o := h.do(chunkyEntry(r)); o.Seq == 0 {
			t.Fatalf("not journaled: %+v", o)
		}
	}
	want := mustHashes(t, h.s)
	prefix := replayPrefix(t, h)
	path := filepath.Join(t.TempDir(), "reopened.db")
	open := func() *Store {
		s, err := Open(Config{Path: path, NoSync: true, StrictChecks: true, CommitEvery: 1 + r.Intn(8)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	defer func() { s.Close() }()
	s.Apply(prefix)
	reopened, crashed := 0, 0
	for i := 0; i < len(log); {
		n := min(1+r.Intn(4), len(log)-i)
		s.Apply(log[i : i+n])
		i += n
		switch r.Intn(4) {
		case 0:
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open()
			reopened++
		case 1:
			// Lose what is not committed, and replay it, as raft does
			// (Apply skips the batches the file holds).
			s.crash()
			s = open()
			s.Apply(prefix)
			s.Apply(log[:i])
			crashed++
		}
	}
	if reopened == 0 || crashed == 0 {
		t.Fatalf("reopened %d times, crashed %d", reopened, crashed)
	}
	if got := mustHashes(t, s); got != want {
		t.Fatalf("reopened between calls, the state hashes %+v, want %+v", got, want)
	}
	if errs := s.Check(); len(errs) > 0 {
		t.Fatalf("Check: %v", errs)
	}
}

// oneRecordPerKey rewrites the journal as schemas 3 to 8 kept it: a key
// per entry, its record the value.
func oneRecordPerKey(tx *kv.Tx) error {
	return rewriteJournal(tx, func(recs [][]byte) [][]byte { return recs })
}

// hashedChunks rewrites the journal as schema 9 kept it: chunks of
// records, hashes included, each ended by the entry that would not fit.
func hashedChunks(tx *kv.Tx) error {
	return rewriteJournal(tx, func(recs [][]byte) [][]byte {
		out := make([][]byte, len(recs))
		var open int // seq-1 of the chunk being built
		for i, rec := range recs {
			if i > 0 && chunkJoins(len(out[open]), len(rec)) {
				out[open] = appendFramed(out[open], rec)
				continue
			}
			open = i
			out[i] = appendFramed([]byte{tagHashedChunk}, rec)
		}
		return out
	})
}

// rewriteJournal puts layout(records) in place of the journal: its i-th
// value, when not nil, under seq i+1.
func rewriteJournal(tx *kv.Tx, layout func(records [][]byte) [][]byte) error {
	journal := tx.Bucket(bucketJournal)
	var recs [][]byte
	jc := newJournalCursor(journal)
	for _, rec := jc.first(); rec != nil; _, rec = jc.next() {
		recs = append(recs, bytes.Clone(rec))
	}
	var old [][]byte
	_ = journal.ForEach(func(k, _ []byte) error { old = append(old, bytes.Clone(k)); return nil })
	for _, k := range old {
		if err := journal.Delete(k); err != nil {
			return err
		}
	}
	for i, v := range layout(recs) {
		if v == nil {
			continue
		}
		if err := journal.Put(seqKey(uint64(i+1)), v); err != nil {
			return err
		}
	}
	return nil
}

// TestOlderJournalsOpen checks the upgrades: a schema 8 file, whose
// journal keeps a key per entry, and a schema 9 file, whose chunks keep
// each entry's hash, open as this schema without a rewrite; every entry
// reads as before (pages, the chain, an id's first outcome); the entries
// after them go into chunks of this schema from the next seq on; and Check
// passes throughout.
func TestOlderJournalsOpen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		schema  string
		rewrite func(*kv.Tx) error
		tag     byte // of the old values; 0: any but a chunk's
	}{
		{"one record a key", schemaKeyedJournal, oneRecordPerKey, 0},
		{"chunks with hashes", schemaHashedChunks, hashedChunks, tagHashedChunk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s, h := chunksWorld(t, path, rand.New(rand.NewSource(3)))
			firstBody := transferBody("USD", "ret-us", "acc-us", "1")
			first := h.mustAccept("ret-us", firstBody)
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			before := mustAnswer(t, "journal", func() (JournalPage, error) { return s.Journal(JournalQuery{Limit: MaxJournalPage}) })
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(btx *bolt.Tx) error {
				if err := tc.rewrite(kv.Wrap(btx)); err != nil {
					return err
				}
				return btx.Bucket(bucketMeta).Put(metaSchema, []byte(tc.schema))
			}); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s = openStore(t, path, true)
			h.s = s
			if got := fileSchema(s.db); got != schemaVersion {
				t.Errorf("schema after open: %q, want %q", got, schemaVersion)
			}
			if errs := s.Check(); len(errs) > 0 {
				t.Fatalf("Check after the upgrade: %v", errs)
			}
			after := mustAnswer(t, "journal", func() (JournalPage, error) { return s.Journal(JournalQuery{Limit: MaxJournalPage}) })
			if len(after.Entries) != len(before.Entries) || after.Entries[len(after.Entries)-1].Hash != before.Entries[len(before.Entries)-1].Hash {
				t.Fatalf("the journal read %d entries ending %s, before %d", len(after.Entries), after.Entries[len(after.Entries)-1].Hash, len(before.Entries))
			}
			if o := h.do("ret-us", firstBody); o.Seq != first.Seq || o.Status != StatusAccepted {
				t.Errorf("a repeat of entry %d's id: %+v", first.Seq, o)
			}
			old := uint64(len(before.Entries))
			for range 40 {
				h.mustAccept("ret-us", transferBody("USD", "ret-us", "acc-us", "0.01"))
			}
			if errs := s.Check(); len(errs) > 0 {
				t.Fatalf("Check after new entries: %v", errs)
			}
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			layout := journalLayout(t, s)
			var chunks, olds int
			for _, jv := range layout {
				isChunk := jv.val[0] == tagJournalChunk
				isOld := tc.tag == 0 && jv.val[0] == tagJournal || tc.tag != 0 && jv.val[0] == tc.tag
				switch {
				case jv.key <= old && !isOld, jv.key > old && !isChunk:
					t.Errorf("value at %d: tag %q, the old journal ending at %d", jv.key, jv.val[0], old)
				case isChunk:
					chunks++
					if chunks == 1 && jv.key != old+1 {
						t.Errorf("the first chunk is at %d, want %d", jv.key, old+1)
					}
				default:
					olds++
				}
			}
			if tc.tag != 0 && (olds == 0 || olds > int(old)/2) {
				t.Errorf("%d old chunks for %d entries", olds, old)
			}
			if v := mustVerifyJournal(t, s); !v.OK || v.Length != old+40 {
				t.Errorf("VerifyJournal: %+v", v)
			}
			if chunks == 0 || chunks > 20 {
				t.Errorf("%d chunks for 40 entries", chunks)
			}
			// The old values' rule of where chunks end holds among them,
			// and the first chunk of this schema is not held to it.
			if errs := s.Check(); len(errs) > 0 {
				t.Fatalf("Check at the end: %v", errs)
			}
		})
	}
}

// TestCheckFindsJournalChunkFaults damages the chunks of a committed
// journal; VerifyJournal and Check each name the damage.
func TestCheckFindsJournalChunkFaults(t *testing.T) {
	// second returns the key and value of the journal's second chunk.
	second := func(tx *kv.Tx) ([]byte, []byte) {
		c := tx.Bucket(bucketJournal).Cursor()
		c.First()
		k, v := c.Next()
		return bytes.Clone(k), bytes.Clone(v)
	}
	tests := []struct {
		name, want string
		damage     func(tx *kv.Tx) error
	}{
		{"a chunk split in two", "ends before the entry that would fill it", func(tx *kv.Tx) error {
			k, v := second(tx)
			jc := journalCursor{}
			seq, rec := jc.enter(k, v)
			body, hash := rec[:len(rec)-journalHashSize], rec[len(rec)-journalHashSize:]
			head := appendFramed(bytes.Clone(v[:chunkHeader]), body)
			if err := tx.Bucket(bucketJournal).Put(k, head); err != nil {
				return err
			}
			return tx.Bucket(bucketJournal).Put(seqKey(seq+1), append(append([]byte{tagJournalChunk}, hash...), jc.rest...))
		}},
		{"two chunks in one", "more entries than fit", func(tx *kv.Tx) error {
			c := tx.Bucket(bucketJournal).Cursor()
			k, v := c.First()
			k, v = bytes.Clone(k), bytes.Clone(v)
			k2, v2 := c.Next()
			k2, v2 = bytes.Clone(k2), bytes.Clone(v2)
			if err := tx.Bucket(bucketJournal).Delete(k2); err != nil {
				return err
			}
			return tx.Bucket(bucketJournal).Put(k, append(v, v2[chunkHeader:]...))
		}},
		{"an entry dropped", "not contiguous", func(tx *kv.Tx) error {
			k, v := second(tx)
			jc := journalCursor{}
			_, rec := jc.enter(k, v)
			_, _ = jc.next() // the second entry goes
			head := appendFramed(bytes.Clone(v[:chunkHeader]), rec[:len(rec)-journalHashSize])
			return tx.Bucket(bucketJournal).Put(k, append(head, jc.rest...))
		}},
		{"a body changed", "hash of the entry before it does not match", func(tx *kv.Tx) error {
			// The last byte of the chunk's last entry: the chunk still
			// frames, and only the next chunk's prev can tell.
			k, v := second(tx)
			v[len(v)-1] ^= 1
			return tx.Bucket(bucketJournal).Put(k, v)
		}},
		{"the last chunk's body changed", "recorded head differs", func(tx *kv.Tx) error {
			k, v := tx.Bucket(bucketJournal).Cursor().Last()
			k, v = bytes.Clone(k), bytes.Clone(v)
			v[len(v)-1] ^= 1
			return tx.Bucket(bucketJournal).Put(k, v)
		}},
		{"a chunk's prev changed", "hash of the entry before it does not match", func(tx *kv.Tx) error {
			k, v := second(tx)
			v[1] ^= 1
			return tx.Bucket(bucketJournal).Put(k, v)
		}},
		{"a length past the chunk's end", "malformed", func(tx *kv.Tx) error {
			k, v := second(tx)
			return tx.Bucket(bucketJournal).Put(k, append(append(bytes.Clone(v[:chunkHeader]), binary.AppendUvarint(nil, uint64(len(v)))...), v[chunkHeader:]...))
		}},
		{"a chunk without its prev", "malformed", func(tx *kv.Tx) error {
			k, _ := second(tx)
			return tx.Bucket(bucketJournal).Put(k, []byte{tagJournalChunk, 1, 2})
		}},
		{"a chunk of schema 9's form after this one's", "older form", func(tx *kv.Tx) error {
			k, v := second(tx)
			jc := journalCursor{}
			old := []byte{tagHashedChunk}
			for _, rec := jc.enter(k, v); rec != nil; {
				old = appendFramed(old, rec)
				if len(jc.rest) == 0 {
					break
				}
				_, rec = jc.next()
			}
			return tx.Bucket(bucketJournal).Put(k, old)
		}},
		{"an entry stored whole where it could be short", "stored whole", func(tx *kv.Tx) error {
			// The first short entry of a chunk with room for it whole.
			c := tx.Bucket(bucketJournal).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				entries := storedEntries(v)
				i := slices.IndexFunc(entries, func(e []byte) bool { return e[0] == tagShortEntry })
				if i < 0 || len(v)+3*binary.MaxVarintLen64 > journalChunkBytes {
					continue
				}
				k, v = bytes.Clone(k), bytes.Clone(v)
				jc := journalCursor{}
				out := bytes.Clone(v[:chunkHeader])
				j := 0
				for _, rec := jc.enter(k, v); rec != nil; j++ {
					if j == i {
						out = appendFramed(out, rec[:len(rec)-journalHashSize])
					} else {
						out = appendFramed(out, storedEntries(v)[j])
					}
					if len(jc.rest) == 0 {
						break
					}
					_, rec = jc.next()
				}
				return tx.Bucket(bucketJournal).Put(k, out)
			}
			return errors.New("no short entry in a chunk with room")
		}},
		{"a chunk opening with a short entry", "malformed", func(tx *kv.Tx) error {
			k, v := second(tx)
			entries := storedEntries(v)
			first := entries[0]
			end := indexTimeEnd(first)
			out := appendFramed(bytes.Clone(v[:chunkHeader]), append([]byte{tagShortEntry, first[1]}, first[end:]...))
			for _, e := range entries[1:] {
				out = appendFramed(out, e)
			}
			return tx.Bucket(bucketJournal).Put(k, out)
		}},
		{"a chunk under the wrong key", "not contiguous", func(tx *kv.Tx) error {
			k, v := second(tx)
			if err := tx.Bucket(bucketJournal).Delete(k); err != nil {
				return err
			}
			return tx.Bucket(bucketJournal).Put(seqKey(binary.BigEndian.Uint64(k)+1), v)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := chunksWorld(t, filepath.Join(t.TempDir(), "state.db"), rand.New(rand.NewSource(1)))
			if err := updateKV(s.db, func(tx *kv.Tx) error { return tc.damage(tx) }); err != nil {
				t.Fatal(err)
			}
			if v := mustVerifyJournal(t, s); v.OK || !strings.Contains(v.Message, tc.want) {
				t.Errorf("VerifyJournal after %s: %+v; want %q", tc.name, v, tc.want)
			}
			if got := fmt.Sprint(s.Check()); !strings.Contains(got, tc.want) && !strings.Contains(got, "stopped at damaged data") {
				t.Errorf("Check after %s: %s; want %q", tc.name, got, tc.want)
			}
		})
	}
}

// FuzzJournalCursor walks any value as a journal value: the cursor never
// reads past it, ends, gives a chunk framed exactly its entries, and gives
// each entry of a chunk of this form its body and the hash that chains it
// to the chunk's prev.
func FuzzJournalCursor(f *testing.F) {
	prev := bytes.Repeat([]byte{7}, journalHashSize)
	f.Add(append(append([]byte{tagJournalChunk}, prev...), 2, 'J', 2, 1, 'J'))
	// A whole entry, then one short: tag, version, index 7, time 9 s 0 ns.
	f.Add(append(append([]byte{tagJournalChunk}, prev...), 6, 'J', 2, 7, 18, 0, 'a', 3, tagShortEntry, 2, 'b'))
	f.Add(append(append([]byte{tagJournalChunk}, prev...), 3, tagShortEntry, 2, 'b'))
	f.Add(append(append([]byte{tagJournalChunk}, prev...), 0x80))
	f.Add(append([]byte{tagJournalChunk}, prev[:5]...))
	f.Add([]byte{tagJournalChunk})
	f.Add([]byte{tagHashedChunk, 2, 'J', 1})
	f.Add([]byte{tagHashedChunk, 0x80})
	f.Add([]byte{tagHashedChunk})
	f.Add([]byte{tagJournal, 2, 3})
	f.Fuzz(func(t *testing.T, v []byte) {
		var jc journalCursor
		stored := 0
		n := 0
		var records [][]byte
		for seq, rec := jc.enter(seqKey(5), v); rec != nil; {
			if seq != 5+uint64(n) {
				t.Fatalf("entry %d at seq %d", n, seq)
			}
			stored += jc.stored
			records = append(records, rec)
			n++
			if len(jc.rest) == 0 {
				break
			}
			seq, rec = jc.next()
		}
		if stored > len(v) || n > max(1, len(v)) {
			t.Fatalf("%d entries of %d bytes from a value of %d", n, stored, len(v))
		}
		want, framed := chunkEntries(v)
		isChunk := len(v) > 0 && (v[0] == tagHashedChunk || v[0] == tagJournalChunk && len(v) >= chunkHeader)
		if isChunk && framed && want != n {
			t.Fatalf("the cursor gives %d entries, the framing %d", n, want)
		}
		if !isChunk || !framed || v[0] != tagJournalChunk {
			return
		}
		chain := [journalHashSize]byte(v[1:chunkHeader])
		var lastIT []byte // the index and time of the entry before, in the chunk
		for i, stored := range storedEntries(v) {
			rec := records[i]
			body := stored
			if len(stored) >= 2 && stored[0] == tagShortEntry {
				if lastIT == nil {
					// Nothing to rebuild it from: given as it lies, the last.
					if !bytes.Equal(rec, stored) || i != len(records)-1 {
						t.Fatalf("entry %d, short and first: %x of %d records", i, rec, len(records))
					}
					return
				}
				body = append(append([]byte{tagJournal, stored[1]}, lastIT...), stored[2:]...)
			} else if end := indexTimeEnd(stored); end > 0 {
				lastIT = stored[2:end]
			} else {
				lastIT = nil
			}
			chain = hashV2(nil, chain, 5+uint64(i), body)
			if !bytes.Equal(rec, append(bytes.Clone(body), chain[:]...)) {
				t.Fatalf("entry %d: %x, want its body %x and hash %x", i, rec, body, chain)
			}
		}
	})
}

// TestJournalChunkOnBareBbolt appends entries through a transaction
// without layers, whose Put keeps the bytes it is handed until the commit:
// each chunk put must keep its own bytes while the chunk's buffer goes on.
func TestJournalChunkOnBareBbolt(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "j.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var want [][]byte
	chunk := &journalChunk{next: 1}
	if err := db.Update(func(btx *bolt.Tx) error {
		if _, err := btx.CreateBucket(bucketJournal); err != nil {
			return err
		}
		journal := kv.Wrap(btx).Bucket(bucketJournal)
		var prev [journalHashSize]byte
		for seq := uint64(1); seq <= 100; seq++ {
			body := append([]byte{tagJournal, HashV2}, fmt.Sprintf("entry %d %s", seq, strings.Repeat("x", int(seq%40)))...)
			h := hashV2(nil, prev, seq, body)
			rec := append(body, h[:]...)
			want = append(want, rec)
			if err := chunk.add(journal, seq, rec); err != nil {
				return err
			}
			prev = h
		}
		return chunk.flush(journal)
	}); err != nil {
		t.Fatal(err)
	}
	if err := viewKV(db, func(tx *kv.Tx) error {
		jc := newJournalCursor(tx.Bucket(bucketJournal))
		n := 0
		for seq, rec := jc.first(); rec != nil; seq, rec = jc.next() {
			if seq != uint64(n+1) || !bytes.Equal(rec, want[n]) {
				t.Fatalf("entry %d at seq %d: %q, want %q", n+1, seq, rec, want[n])
			}
			n++
		}
		if n != len(want) {
			t.Fatalf("%d entries, want %d", n, len(want))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
