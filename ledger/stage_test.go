package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
)

// stagedCalls are calls of random transfers among 20 funded investors,
// after one call that sets them up; some overdraw and are rejected.
func stagedCalls(seed uint64, calls int) []Batch {
	const accounts = 20
	setup := fundedAccounts(accounts)
	r := rand.New(rand.NewPCG(seed, 11))
	out := []Batch{{Index: 1, Term: 1, Time: epoch, Items: setup}}
	for n := 2; n <= calls; n++ {
		var items [][]byte
		for range 1 + r.IntN(4) {
			from, to := r.IntN(accounts), r.IntN(accounts-1)
			if to >= from {
				to++
			}
			items = append(items, InstructionItem(OperatorID, []byte(transferBody("USD", fmt.Sprintf("inv-%d", from), fmt.Sprintf("inv-%d", to), fmt.Sprint(1+r.IntN(1500))))))
		}
		out = append(out, Batch{Index: uint64(n), Term: 1, Time: epoch.Add(time.Duration(n) * time.Second), Items: items})
	}
	return out
}

// stagedState is how many layers the store holds staged once no commit
// is in flight.
func (s *Store) stagedState() (layers int) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.waitFrozenLocked()
	return len(s.staged)
}

// hasStagedRecords reports whether the open file holds staged records.
func (s *Store) hasStagedRecords() (found bool) {
	_ = s.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketStaged) != nil
		return nil
	})
	return found
}

// fileApplied is the applied index db's buckets hold, and whether it holds
// staged records.
func fileApplied(t *testing.T, path string) (applied uint64, staged bool) {
	t.Helper()
	viewFile(t, path, func(tx *bolt.Tx) {
		if v := tx.Bucket(bucketMeta).Get(metaAppliedIndex); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		staged = tx.Bucket(bucketStaged) != nil
	})
	return applied, staged
}

// viewFile runs fn in a read transaction of the file at path, opened
// read-only.
func viewFile(t *testing.T, path string, fn func(tx *bolt.Tx)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		fn(tx)
		return nil
	})
}

// TestStagedLayersAfterACrash applies random calls to a store that
// commits every few instructions, so that its commits stage layers as
// records and merge them every fourth, and crashes it at random points.
// At each crash the file's buckets must lag what was applied while
// layers are staged, and reopening must give back the state of the last
// commit, staged layers included: the applied index of the last layer
// committed, and the hashes, journal and check of a store that applied
// the same calls and committed each. Replaying from there, as raft would,
// must end where the reference ends.
func TestStagedLayersAfterACrash(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			batches := stagedCalls(seed, 160)
			ref := openStoreWith(t, Config{Path: filepath.Join(t.TempDir(), "ref.db"), NoSync: true, CommitEvery: 1})
			path := filepath.Join(t.TempDir(), "staged.db")
			open := func() *Store {
				s, err := Open(Config{Path: path, NoSync: true, CommitEvery: 3, stageFrom: 1})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			s := open()
			defer func() { s.Close() }()
			r := rand.New(rand.NewPCG(seed, 3))
			refAt := uint64(0)
			crashesStaged := 0
			for i := 0; i < len(batches); i++ {
				s.Apply(batches[i : i+1])
				for refAt < batches[i].Index {
					ref.Apply(batches[refAt : refAt+1])
					refAt++
				}
				if r.IntN(12) != 0 {
					continue
				}
				staged := s.stagedState()
				s.crash()
				merged, hasRecords := fileApplied(t, path)
				if (staged > 0) != hasRecords {
					t.Fatalf("call %d: %d layers staged in memory, records in the file: %v", i, staged, hasRecords)
				}
				s = open()
				durable := s.AppliedIndex()
				if s.hasStagedRecords() {
					t.Fatalf("call %d: staged records left after Open", i)
				}
				if staged > 0 {
					crashesStaged++
					if durable <= merged {
						t.Fatalf("call %d: reopened at %d with %d layers staged over %d: the staged layers were lost", i, durable, staged, merged)
					}
				}
				// The reference, rebuilt to the durable index, must hash the
				// same: a fresh store up to it.
				at := openStoreWith(t, Config{Path: filepath.Join(t.TempDir(), "at.db"), NoSync: true, CommitEvery: 1})
				at.Apply(batches[:durable])
				want, err := at.Hashes()
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.Hashes()
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("call %d: reopened at %d with hashes %+v, want %+v", i, durable, got, want)
				}
				if errs := s.Check(); len(errs) > 0 {
					t.Fatalf("call %d: check after reopening: %v", i, errs)
				}
				_ = at.Close()
				for i >= 0 && batches[i].Index > durable {
					i-- // replay what the file lacks
				}
			}
			if crashesStaged == 0 {
				t.Fatal("no crash came while layers were staged")
			}
			got, err := s.Hashes()
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.Hashes()
			if err != nil {
				t.Fatal(err)
			}
			if got != want || mustVerifyJournal(t, s).Head != mustVerifyJournal(t, ref).Head {
				t.Fatalf("after the crashes: %+v, want %+v", got, want)
			}
		})
	}
}

// TestStaleStagedLayersAreDropped stages layers, crashes, and moves the
// file's buckets on as a release that knows nothing of staged records
// would (it reads the buckets and replays raft's log over them): Open must
// then drop the records, not write them over the newer state.
func TestStaleStagedLayersAreDropped(t *testing.T) {
	batches := stagedCalls(9, 40)
	path := filepath.Join(t.TempDir(), "staged.db")
	s, err := Open(Config{Path: path, NoSync: true, CommitEvery: 3, stageFrom: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range batches {
		s.Apply(batches[i : i+1])
		if s.stagedState() > 0 {
			break
		}
	}
	if s.stagedState() == 0 {
		t.Fatal("nothing was staged")
	}
	s.crash()
	merged, staged := fileApplied(t, path)
	if !staged {
		t.Fatal("no staged records in the file")
	}
	// The older release: its replay committed index merged+7 into the
	// buckets (the applied index stands for all it wrote).
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	moved := merged + 7
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaAppliedIndex, binary.BigEndian.AppendUint64(nil, moved))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Config{Path: path, NoSync: true, CommitEvery: 3, stageFrom: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.AppliedIndex(); got != moved {
		t.Fatalf("applied index %d after Open, want the buckets' %d: stale staged layers were written over them", got, moved)
	}
	if s.hasStagedRecords() {
		t.Fatal("stale staged records left in the file")
	}
}

// TestStagedRecordsReadBack writes random layers and postings as staged
// records and reads them back: the layers must write the same into a
// file, the postings flush the same; every truncation and any bytes past
// the end must be refused.
func TestStagedRecordsReadBack(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 5))
		f := &frozenLayer{layer: kv.NewLayer(), gen: 1 + seed}
		bucketNames := [][]byte{bucketHoldings, bucketJournal, bucketMeta}
		db := openTestBolt(t, bucketNames)
		if err := db.View(func(btx *bolt.Tx) error {
			tx := kv.Over(btx, nil, f.layer)
			for range r.IntN(300) {
				b := tx.Bucket(bucketNames[r.IntN(len(bucketNames))])
				key := fmt.Appendf(nil, "k%03d", r.IntN(200))
				if r.IntN(5) == 0 {
					if err := b.Delete(key); err != nil {
						return err
					}
				} else if err := b.Put(key, bytes.Repeat([]byte{byte(r.IntN(256))}, r.IntN(40))); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		seq := uint64(0)
		for range r.IntN(200) {
			seq += uint64(r.IntN(3))
			f.postings.add(uint8(r.IntN(2)), fmt.Sprintf("p%d", r.IntN(30)), seq)
		}
		rec := encodeStagedRecord(t, f, 42)
		back, base, err := readStagedRecord(rec)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if base != 42 {
			t.Fatalf("seed %d: base %d, want 42", seed, base)
		}
		if again := encodeStagedRecord(t, back, 42); !bytes.Equal(again, rec) {
			t.Fatalf("seed %d: the record read back encodes differently", seed)
		}
		// A merge in slices stages the same layout under its own version;
		// a version this release does not know is refused.
		sliced := encodeStaged(f, 42, stagedSlicedVersion)
		if !bytes.Equal(sliced[1:], rec[1:]) || sliced[0] != stagedSlicedVersion {
			t.Fatalf("seed %d: a sliced merge's record differs from a staged one past its version", seed)
		}
		if back, _, err := readStagedRecord(sliced); err != nil {
			t.Fatalf("seed %d: a sliced merge's record: %v", seed, err)
		} else if got, want := bucketDump(t, back.layer, bucketNames), bucketDump(t, f.layer, bucketNames); !slices.Equal(got, want) {
			t.Fatalf("seed %d: a sliced merge's record writes %q, want %q", seed, got, want)
		}
		if _, _, err := readStagedRecord(append([]byte{stagedSlicedVersion + 1}, rec[1:]...)); err == nil {
			t.Fatalf("seed %d: a record of an unknown version read", seed)
		}
		if got, want := bucketDump(t, back.layer, bucketNames), bucketDump(t, f.layer, bucketNames); !slices.Equal(got, want) {
			t.Fatalf("seed %d: layer read back writes %q, want %q", seed, got, want)
		}
		// Every cut near either end, and some between.
		cuts := []int{}
		for n := range len(rec) {
			if n < 128 || n >= len(rec)-128 || r.IntN(64) == 0 {
				cuts = append(cuts, n)
			}
		}
		for _, n := range cuts {
			if _, _, err := readStagedRecord(rec[:n]); err == nil {
				t.Fatalf("seed %d: a record cut to %d of %d bytes read", seed, n, len(rec))
			}
		}
		if _, _, err := readStagedRecord(append(slices.Clip(rec), 0)); err == nil {
			t.Fatalf("seed %d: a record with a byte past its end read", seed)
		}
	}
}

func encodeStagedRecord(t *testing.T, f *frozenLayer, base uint64) []byte {
	t.Helper()
	if n, most := len(f.layer.AppendTo(nil)), f.layer.AppendSize(); n > most {
		t.Fatalf("a layer appended %d bytes, more than AppendSize's %d", n, most)
	}
	if n, most := len(f.postings.appendTo(nil)), f.postings.appendSize(); n > most {
		t.Fatalf("postings appended %d bytes, more than appendSize's %d", n, most)
	}
	return encodeStaged(f, base, stagedVersion)
}

func openTestBolt(t *testing.T, buckets [][]byte) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range append(slices.Clone(buckets), postingBuckets[:]...) {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		// A key to delete, beneath the layers.
		return tx.Bucket(buckets[0]).Put([]byte("k000"), []byte("under"))
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

// bucketDump writes l into a fresh file and lists what its buckets hold.
func bucketDump(t *testing.T, l *kv.Layer, buckets [][]byte) []string {
	t.Helper()
	db := openTestBolt(t, buckets)
	var out []string
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := l.WriteTo(tx); err != nil {
			return err
		}
		for _, name := range buckets {
			if err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				out = append(out, fmt.Sprintf("%s/%s=%x", name, k, v))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMergeInSlicesAfterACrash merges staged layers a few keys a
// transaction and copies the file after a slice that is not a merge's
// last, as a crash there leaves it: the buckets partly merged, the
// applied index not moved, every layer merged still in its record. Each
// copy must open at the state of its last committed layer (the hashes
// and check of a store that applied the same calls and committed each),
// and raft's replay from there must end where the reference ends.
func TestMergeInSlicesAfterACrash(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			batches := stagedCalls(seed, 90)
			// The reference's hashes after each call: a crashed file must
			// open at one of them.
			ref := openStoreWith(t, Config{Path: filepath.Join(t.TempDir(), "ref.db"), NoSync: true, CommitEvery: 1})
			refAt := make([]Hashes, len(batches)+1)
			for i := range batches {
				ref.Apply(batches[i : i+1])
				h, err := ref.Hashes()
				if err != nil {
					t.Fatal(err)
				}
				refAt[i+1] = h
			}
			want := refAt[len(batches)]
			dir := t.TempDir()
			path := filepath.Join(dir, "sliced.db")
			s, err := Open(Config{Path: path, NoSync: true, CommitEvery: 3, stageFrom: 1, mergeSlice: 8})
			if err != nil {
				t.Fatal(err)
			}
			var images []string
			slicesSeen := 0
			s.afterMergeSlice = func() {
				// The commit goroutine, between two transactions of its
				// merge: the file's last commit is a slice's, as a crash
				// would leave it.
				slicesSeen++
				image := filepath.Join(dir, fmt.Sprintf("crash-%d.db", len(images)))
				if err := s.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(image, 0o600) }); err != nil {
					t.Error(err)
					return
				}
				images = append(images, image)
			}
			for i := range batches {
				s.Apply(batches[i : i+1])
			}
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			s.afterMergeSlice = nil
			if got, err := s.Hashes(); err != nil || got != want {
				t.Fatalf("merged in slices: hashes %+v (%v), want %+v", got, err, want)
			}
			_ = s.Close()
			refHead := mustVerifyJournal(t, ref).Head
			if slicesSeen == 0 || len(images) == 0 {
				t.Fatalf("%d slices committed before a merge's last, %d copies: nothing was tested", slicesSeen, len(images))
			}
			for n, image := range images {
				merged, staged := fileApplied(t, image)
				if !staged {
					t.Fatalf("image %d: no staged records between two slices of a merge", n)
				}
				// A release that knows only the first version must refuse
				// the file, not write its records again.
				if !slices.Contains(stagedVersions(t, image), stagedSlicedVersion) {
					t.Fatalf("image %d: staged records %v, none of version %d", n, stagedVersions(t, image), stagedSlicedVersion)
				}
				c, err := Open(Config{Path: image, NoSync: true, CommitEvery: 3, stageFrom: 1, mergeSlice: 8})
				if err != nil {
					t.Fatalf("image %d: %v", n, err)
				}
				durable := c.AppliedIndex()
				if durable <= merged {
					t.Fatalf("image %d: opened at %d over buckets at %d: the staged layers were lost", n, durable, merged)
				}
				if c.hasStagedRecords() {
					t.Fatalf("image %d: staged records left after Open", n)
				}
				if got, err := c.Hashes(); err != nil || got != refAt[durable] {
					t.Fatalf("image %d: opened at %d with hashes %+v (%v), want %+v", n, durable, got, err, refAt[durable])
				}
				if errs := c.Check(); len(errs) > 0 {
					t.Fatalf("image %d: check after opening: %v", n, errs)
				}
				for i := durable; i < uint64(len(batches)); i++ {
					c.Apply(batches[i : i+1])
				}
				if got, err := c.Hashes(); err != nil || got != want || mustVerifyJournal(t, c).Head != refHead {
					t.Fatalf("image %d: after replaying from %d: hashes %+v (%v), want %+v", n, durable, got, err, want)
				}
				_ = c.Close()
			}
		})
	}
}

// stagedVersions lists the version bytes of the staged records in the
// file at path.
func stagedVersions(t *testing.T, path string) (versions []byte) {
	t.Helper()
	viewFile(t, path, func(tx *bolt.Tx) {
		_ = tx.Bucket(bucketStaged).ForEach(func(k, v []byte) error {
			if binary.BigEndian.Uint32(k[8:]) == 0 && len(v) > 0 {
				versions = append(versions, v[0])
			}
			return nil
		})
	})
	return versions
}

// TestMergeInOneTransactionKeepsStagedLayers stages layers, then has the
// next commits find the file too small to stage (as a failed stat of it
// would): that commit merges in one transaction, and it must write the
// staged layers under its own, not drop their records.
func TestMergeInOneTransactionKeepsStagedLayers(t *testing.T) {
	batches := stagedCalls(4, 60)
	ref := openStoreWith(t, Config{Path: filepath.Join(t.TempDir(), "ref.db"), NoSync: true, CommitEvery: 1})
	ref.Apply(batches)
	s, err := Open(Config{Path: filepath.Join(t.TempDir(), "s.db"), NoSync: true, CommitEvery: 3, stageFrom: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	i := 0
	for ; i < len(batches) && (i < 20 || s.stagedState() == 0); i++ {
		s.Apply(batches[i : i+1])
	}
	if s.stagedState() == 0 {
		t.Fatal("no layer staged")
	}
	s.wmu.Lock()
	s.cfg.stageFrom = math.MaxInt64
	s.wmu.Unlock()
	for ; i < len(batches); i++ {
		s.Apply(batches[i : i+1])
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	want, err := ref.Hashes()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Hashes(); err != nil || got != want {
		t.Fatalf("hashes %+v (%v), want %+v", got, err, want)
	}
	if errs := s.Check(); len(errs) > 0 {
		t.Fatalf("check: %v", errs)
	}
}
