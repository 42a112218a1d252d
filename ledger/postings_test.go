package ledger

import (
	"fmt"
	"hash/maphash"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
)

// TestPostingsAgreeWithAList writes random posting lists through the
// buffer, flushed at random points as commits would, and checks that every
// seek answers what the plain list does, that Check's walk counts every
// posting and finds nothing wrong, and that the chunks stay within bounds.
func TestPostingsAgreeWithAList(t *testing.T) {
	runSeeds(t, 5, func(t *testing.T, seed int64) {
		r := rand.New(rand.NewSource(seed))
		db, err := bolt.Open(filepath.Join(t.TempDir(), "p.db"), 0o600, &bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		names := []string{"a", "ab", "b", "inv-1", "inv-10", "inv-2", "USD"}
		want, wantSymbol := map[string][]uint64{}, map[string][]uint64{}
		var buf postingBuffer
		tx, err := db.Begin(true)
		if err != nil {
			t.Fatal(err)
		}
		// A failure must not leave the write transaction open, or Close waits.
		defer func() { _ = tx.Rollback() }()
		for _, b := range postingBuckets {
			if _, err := tx.CreateBucket(b); err != nil {
				t.Fatal(err)
			}
		}
		seq := uint64(0)
		for range 5000 {
			// Gaps from 1 to beyond a two-byte varint, so chunks hold
			// different numbers of seqs.
			seq += 1 + uint64(r.Intn([]int{1, 100, 40_000}[r.Intn(3)]))
			for _, n := range names {
				if r.Intn(3) == 0 {
					buf.add(postingParty, n, seq)
					want[n] = append(want[n], seq)
					if r.Intn(10) == 0 {
						buf.add(postingParty, n, seq) // a name an entry serves twice
					}
				}
				// The same names in the other index, whose postings the
				// buffer keeps apart.
				if r.Intn(4) == 0 {
					buf.add(postingSymbol, n, seq)
					wantSymbol[n] = append(wantSymbol[n], seq)
				}
			}
			switch r.Intn(200) {
			case 0: // a commit
				if err := buf.flush(kv.Wrap(tx)); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				buf.reset()
				if tx, err = db.Begin(true); err != nil {
					t.Fatal(err)
				}
			case 1: // a strict check's flush within the transaction
				if err := buf.flush(kv.Wrap(tx)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := buf.flush(kv.Wrap(tx)); err != nil {
			t.Fatal(err)
		}
		b := kv.Wrap(tx).Bucket(bucketJournalParty)
		var problems []string
		total := checkPostings(b, "journal_party", func(f string, args ...any) { problems = append(problems, fmt.Sprintf(f, args...)) }, nil)
		if len(problems) > 0 {
			t.Fatalf("checkPostings: %v", problems)
		}
		count, chunks := 0, 0
		_ = b.ForEach(func(k, v []byte) error { chunks++; return nil })
		for _, n := range names {
			count += len(want[n])
		}
		if total != count || chunks < 2*len(names) {
			t.Fatalf("%d postings in %d chunks, want %d in at least %d", total, chunks, count, 2*len(names))
		}
		comparePostings(t, r, b, names, want, seq)
		seekAll(t, r, b, append(names, "", "c", "inv-"), want, seq)
		seekAll(t, r, kv.Wrap(tx).Bucket(bucketJournalSymbol), names, wantSymbol, seq)
	})
}

// seekAll checks seeks into each name's list in b against want.
func seekAll(t *testing.T, r *rand.Rand, b *kv.Bucket, names []string, want map[string][]uint64, seq uint64) {
	t.Helper()
	for _, n := range names {
		l := newSeqList(b, n)
		list := want[n]
		for range 300 {
			from := uint64(r.Int63n(int64(seq + 10)))
			if r.Intn(4) == 0 && len(list) > 0 {
				from = list[r.Intn(len(list))] // an exact hit
			}
			i, _ := slices.BinarySearch(list, from)
			got, ok := l.seek(from)
			if wantOK := i < len(list); ok != wantOK || (ok && got != list[i]) {
				t.Fatalf("%q seek(%d) = %d, %v; want the first of %d at or after it", n, from, got, ok, len(list))
			}
		}
	}
}

// comparePostings checks checkPostings against the journal's pairs (want):
// exactly those pass; one pair more, one fewer, a name more or a name fewer
// is reported.
func comparePostings(t *testing.T, r *rand.Rand, b *kv.Bucket, names []string, want map[string][]uint64, maxSeq uint64) {
	t.Helper()
	set := func(edit func(n string, seqs []uint64) []uint64) *postingSet {
		var p postingSet
		for _, n := range names {
			for _, seq := range edit(n, slices.Clone(want[n])) {
				p.add(n, seq)
			}
		}
		return &p
	}
	run := func(p *postingSet) []string {
		var problems []string
		checkPostings(b, "journal_party", func(f string, args ...any) { problems = append(problems, fmt.Sprintf(f, args...)) }, p)
		return problems
	}
	if problems := run(set(func(_ string, seqs []uint64) []uint64 { return seqs })); len(problems) > 0 {
		t.Fatalf("the journal's own pairs: %v", problems)
	}
	victim := names[r.Intn(len(names))]
	for _, tc := range []struct {
		name string
		p    *postingSet
		says string
	}{
		{"a pair more", set(func(n string, seqs []uint64) []uint64 {
			if n == victim {
				seqs = append(seqs, maxSeq+1)
			}
			return seqs
		}), "is not indexed"},
		{"a pair fewer", set(func(n string, seqs []uint64) []uint64 {
			if n == victim {
				seqs = slices.Delete(seqs, len(seqs)/2, len(seqs)/2+1)
			}
			return seqs
		}), "is indexed, but does not name it"},
		{"a name fewer", set(func(n string, seqs []uint64) []uint64 {
			if n == victim {
				return nil
			}
			return seqs
		}), "no journal entry names it"},
		{"a name more", func() *postingSet {
			p := set(func(_ string, seqs []uint64) []uint64 { return seqs })
			p.add("zz-absent", 1)
			return p
		}(), "is not indexed in journal_party under zz-absent"},
	} {
		problems := run(tc.p)
		if len(problems) == 0 || !strings.Contains(strings.Join(problems, "; "), tc.says) {
			t.Errorf("%s: problems %v, want one saying %q", tc.name, problems, tc.says)
		}
	}
}

// TestPostingSetOf checks that a sorted postingSet gives each name exactly
// its own seqs, in order and once each, against a map of the same
// postings, over random names and seqs (repeats included).
func TestPostingSetOf(t *testing.T) {
	for seed := int64(1); seed <= 50; seed++ {
		r := rand.New(rand.NewSource(seed))
		var set postingSet
		want := map[string]map[uint64]bool{}
		names := 1 + r.Intn(40)
		for range r.Intn(400) {
			name := fmt.Sprintf("p%d", r.Intn(names))
			seq := uint64(1 + r.Intn(300))
			set.add(name, seq)
			if want[name] == nil {
				want[name] = map[uint64]bool{}
			}
			want[name][seq] = true
		}
		set.sort()
		for name, seqs := range want {
			var wantSeqs []uint64
			for s := range seqs {
				wantSeqs = append(wantSeqs, s)
			}
			slices.Sort(wantSeqs)
			var got []uint64
			for _, p := range set.of(name) {
				got = append(got, p&postingSeqMask)
			}
			if !slices.Equal(got, wantSeqs) {
				t.Fatalf("seed %d: of(%s) = %v, want %v", seed, name, got, wantSeqs)
			}
		}
		if got := set.of("absent"); got != nil {
			t.Fatalf("seed %d: of(absent) = %v, want none", seed, got)
		}
	}
}

// TestPostingBufferNamesShareAHash: a name whose hash another name already
// holds in the buffer's table keeps postings of its own (the overflow), and
// a name in both buckets keeps a run in each.
func TestPostingBufferNamesShareAHash(t *testing.T) {
	var b postingBuffer
	b.add(postingParty, "a", 1)
	hashOf := func(bucket uint8, name string) uint64 {
		return maphash.String(postingSeed, name) ^ uint64(bucket)*0x9e3779b97f4a7c15
	}
	aRun, ok := b.index.get(hashOf(postingParty, "a"))
	if !ok {
		t.Fatal("a has no run")
	}
	b.index.set(hashOf(postingParty, "b"), aRun) // b's hash now names a's run
	for _, p := range []struct {
		bucket uint8
		name   string
		seq    uint64
	}{{postingParty, "b", 2}, {postingParty, "a", 3}, {postingParty, "b", 4}, {postingSymbol, "a", 5}, {postingParty, "a", 6}} {
		b.add(p.bucket, p.name, p.seq)
	}
	got := map[string][]uint64{}
	for _, run := range b.runs {
		for at := run.first; at >= 0; at = b.next[at] {
			k := fmt.Sprint(run.bucket, run.name)
			got[k] = append(got[k], b.seqs[at])
		}
	}
	want := map[string][]uint64{"0a": {1, 3, 6}, "0b": {2, 4}, "1a": {5}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	b.drop()
	if b.index.len() != 0 || len(b.overflow) != 0 || len(b.runs) != 0 {
		t.Fatalf("drop left %d indexed, %d overflowing, %d runs", b.index.len(), len(b.overflow), len(b.runs))
	}
	b.add(postingParty, "b", 7)
	if len(b.runs) != 1 || b.runs[0].name != "b" {
		t.Fatalf("after drop: runs %v", b.runs)
	}
}

// TestPostingsWriterInSlices writes the postings of several layers'
// buffers three ways: each buffer flushed in turn in one transaction; one
// writer over all of them in transactions of a few names; and such a
// writer stopped after some transactions, as a crash stops a merge in
// slices, then a writer that skips what the chunks hold (posted) over all
// of them again. The three files must hold the same chunks.
func TestPostingsWriterInSlices(t *testing.T) {
	runSeeds(t, 10, func(t *testing.T, seed int64) {
		r := rand.New(rand.NewSource(seed))
		type posting struct {
			bucket uint8
			name   string
			seq    uint64
		}
		layers := make([][]posting, 1+r.Intn(4))
		seq := uint64(0)
		for i := range layers {
			for range r.Intn(300) {
				seq += 1 + uint64(r.Intn(3))
				layers[i] = append(layers[i], posting{uint8(r.Intn(2)), fmt.Sprintf("inv-%d", r.Intn(40)), seq})
			}
		}
		buffers := func() []*postingBuffer {
			bufs := make([]*postingBuffer, len(layers))
			for i, l := range layers {
				bufs[i] = &postingBuffer{}
				for _, p := range l {
					bufs[i].add(p.bucket, p.name, p.seq)
				}
			}
			return bufs
		}
		open := func(name string) *bolt.DB {
			db, err := bolt.Open(filepath.Join(t.TempDir(), name), 0o600, &bolt.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Update(func(tx *bolt.Tx) error {
				for _, b := range postingBuckets {
					bk, err := tx.CreateBucket(b)
					if err != nil {
						return err
					}
					// A chunk the file held before the layers.
					if err := bk.Put(append([]byte("inv-1\x00"), make([]byte, 8)...), []byte{tagPostings}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return db
		}
		update := func(db *bolt.DB, fn func(tx *kv.Tx) error) {
			t.Helper()
			if err := db.Update(func(tx *bolt.Tx) error { return fn(kv.Wrap(tx)) }); err != nil {
				t.Fatal(err)
			}
		}
		inTurn, sliced, crashed := open("in-turn.db"), open("sliced.db"), open("crashed.db")
		update(inTurn, func(tx *kv.Tx) error {
			for _, b := range buffers() {
				if err := b.flush(tx); err != nil {
					return err
				}
			}
			return nil
		})
		w := newPostingsWriter(buffers(), false)
		for more := true; more; {
			update(sliced, func(tx *kv.Tx) (err error) {
				more, err = w.write(tx, 1+r.Intn(10))
				return err
			})
		}
		w = newPostingsWriter(buffers(), false)
		for range r.Intn(6) {
			update(crashed, func(tx *kv.Tx) (err error) {
				_, err = w.write(tx, 1+r.Intn(10))
				return err
			})
		}
		update(crashed, func(tx *kv.Tx) error {
			_, err := newPostingsWriter(buffers(), true).write(tx, math.MaxInt)
			return err
		})
		dump := func(db *bolt.DB) (out []string) {
			_ = db.View(func(tx *bolt.Tx) error {
				for _, b := range postingBuckets {
					_ = tx.Bucket(b).ForEach(func(k, v []byte) error {
						out = append(out, fmt.Sprintf("%s %q=%x", b, k, v))
						return nil
					})
				}
				return nil
			})
			return out
		}
		want := dump(inTurn)
		if got := dump(sliced); !slices.Equal(got, want) {
			t.Fatalf("in slices:\n%q\nin turn:\n%q", got, want)
		}
		if got := dump(crashed); !slices.Equal(got, want) {
			t.Fatalf("stopped, then written again:\n%q\nin turn:\n%q", got, want)
		}
	})
}
