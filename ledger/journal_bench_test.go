package ledger

import (
	"math/rand"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

// benchJournalMixed is how many batches of benchInstruction's mix
// BenchmarkVerifyJournal adds to benchStore's 301,004 entries.
const benchJournalMixed = 100

// BenchmarkVerifyJournal walks a journal of about 401,000 entries: benchStore's
// registrations and mints (100,000 investors), then 100,000 mixed
// instructions. It reports the entries verified per second and what the
// state costs per journal entry: the whole file, the journal and ids buckets,
// and the file's growth per mixed instruction (the shape of steady traffic).
//
//	go test ./ledger -run '^$' -bench BenchmarkVerifyJournal -benchtime 5x
func BenchmarkVerifyJournal(b *testing.B) {
	s, index, now := benchStore(b, true, 20_000)
	before := stateSize(b, s)
	journalBefore, seqBefore := journalSize(b, s)
	r := rand.New(rand.NewSource(1))
	for n := 0; n < benchJournalMixed; n++ {
		items := make([][]byte, benchBatch)
		for i := range items {
			items[i] = benchInstruction(r, n, i)
		}
		index++
		now = now.Add(time.Second)
		s.Apply([]Batch{{Index: index, Term: 1, Time: now, Items: items}})
	}
	if err := s.Commit(); err != nil {
		b.Fatal(err)
	}
	after := stateSize(b, s)
	journalBytes, entries := journalSize(b, s)
	b.Logf("state %d bytes for %d journal entries, %d bytes for the first %d; journal and ids buckets %d bytes", after, entries, before, seqBefore, journalBytes)
	b.ResetTimer()
	var v Verification
	for n := 0; n < b.N; n++ {
		var err error
		if v, err = s.VerifyJournal(); err != nil || !v.OK {
			b.Fatalf("verify: %+v, %v", v, err)
		}
	}
	b.ReportMetric(float64(v.Length)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	// After the timed loop: ResetTimer drops the metrics reported before it.
	b.ReportMetric(float64(after)/float64(entries), "file-B/entry")
	b.ReportMetric(float64(after-before)/float64(entries-seqBefore), "growth-B/mixed-entry")
	b.ReportMetric(float64(journalBytes)/float64(entries), "journal+ids-B/entry")
	b.ReportMetric(float64(journalBytes-journalBefore)/float64(entries-seqBefore), "journal+ids-growth-B/mixed-entry")
}

// stateSize is the size of the state file's pages in use up to its high
// water mark (bbolt grows the file itself in large steps).
func stateSize(b *testing.B, s *Store) (size int64) {
	b.Helper()
	if err := viewKV(s.db, func(tx *kv.Tx) error { size = tx.Bolt().Size(); return nil }); err != nil {
		b.Fatal(err)
	}
	return size
}

// journalSize is the bytes the journal and ids buckets' pages hold, and the
// journal's length.
func journalSize(b *testing.B, s *Store) (size int64, entries uint64) {
	b.Helper()
	err := viewKV(s.db, func(tx *kv.Tx) error {
		for _, name := range [][]byte{bucketJournal, bucketIDs} {
			st := tx.Bolt().Bucket(name).Stats()
			size += int64(st.BranchAlloc + st.LeafAlloc)
		}
		entries = getUint(tx.Bucket(bucketMeta), metaJournalSeq)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return size, entries
}
