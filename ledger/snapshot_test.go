package ledger

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
)

// snapshotOf returns the snapshot stream of s, as raft would persist it.
func snapshotOf(t *testing.T, s *Store) []byte {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	return buf.Bytes()
}

// editSnapshot returns snap changed by edit, made through bbolt as a broken
// or hostile node could, as a stream that passes its checksum.
func editSnapshot(t *testing.T, snap []byte, edit func(tx *kv.Tx) error) []byte {
	t.Helper()
	path := snapshotFile(t, snap)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("open snapshot: %v", err)
	}
	defer db.Close()
	if err := updateKV(db, edit); err != nil {
		t.Fatalf("edit snapshot: %v", err)
	}
	return streamOf(t, db)
}

// snapshotFile writes the snapshot stream snap into a new file, as Restore
// does, and returns its path.
func snapshotFile(t *testing.T, snap []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "snapshot.db")
	if err := writeSnapshotFile(path, bytes.NewReader(snap)); err != nil {
		t.Fatalf("write snapshot file: %v", err)
	}
	return path
}

// streamOf returns the snapshot stream of the bbolt database db.
func streamOf(t *testing.T, db *bolt.DB) []byte {
	t.Helper()
	tx, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	f, err := os.Open(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if err := writeStream(&buf, tx, f); err != nil {
		t.Fatalf("writeStream: %v", err)
	}
	return buf.Bytes()
}

// restoreSource is a store whose state the restore tests' stores do not
// have: inst-us holds 7 REG, so a restore that took effect shows.
func restoreSource(t *testing.T) *harness {
	t.Helper()
	src := newHarness(t)
	src.world()
	src.mustAccept("iss-1", mintBody("REG", "inst-us", "7"))
	return src
}

// storeWithPendingWork opens a store at path holding the world and a mint
// of 100 REG to acc-us that is not committed yet: commits are rare, so a
// restore meets pending work, which it must replace or, failing, keep.
func storeWithPendingWork(t *testing.T, path string, strict bool) (*Store, *harness) {
	t.Helper()
	s, err := Open(Config{Path: path, StrictChecks: strict, NoSync: true, CommitEvery: 1 << 20})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	h := &harness{t: t, s: s, now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.world()
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "100"))
	if s.live == nil {
		t.Fatal("no pending write transaction before the restore")
	}
	return s, h
}

// checkRestoreFileGone fails the test if a restore left its temporary file
// beside the state file.
func checkRestoreFileGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path + restoreSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the restore file is left behind: %v", err)
	}
}

// checkReopens closes s and checks that the state file it leaves at path
// opens again with the hashes want: what a restart would find.
func checkReopens(t *testing.T, s *Store, path string, want Hashes) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := mustHashes(t, openStore(t, path, true)); got != want {
		t.Errorf("reopened state file hashes %+v, want %+v", got, want)
	}
}

// TestRestoreFailureKeepsState checks that a restore failing at any step
// before the swap leaves the store open on its old state, pending work
// included: it answers reads as before, applies further instructions, and
// its file reopens with them. Each case fails one step: the stream, bbolt's
// open, loading the state, or the swap of the files. (A snapshot that
// arrives whole but fails the checks is found after the swap:
// TestRestoredStateFailingItsChecksStops.)
func TestRestoreFailureKeepsState(t *testing.T) {
	good := snapshotOf(t, restoreSource(t).s)

	errSwap := errors.New("injected rename failure")
	tests := []struct {
		name   string
		snap   []byte
		rename func(oldpath, newpath string) error
	}{
		{name: "truncated stream", snap: good[:len(good)/2]},
		{name: "not a state file", snap: bytes.Repeat([]byte("not bbolt "), 1000)},
		{name: "empty stream", snap: nil},
		{name: "rulebook does not parse", snap: editSnapshot(t, good, func(tx *kv.Tx) error {
			return tx.Bucket(bucketMeta).Put(metaRulebook, []byte("regimes: [unclosed"))
		})},
		{name: "swap fails", snap: good, rename: func(string, string) error { return errSwap }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s, h := storeWithPendingWork(t, path, true)
			applied := s.AppliedIndex()
			if tc.rename != nil {
				s.rename = tc.rename
			}

			err := s.Restore(bytes.NewReader(tc.snap))
			if err == nil {
				t.Fatal("Restore succeeded, want an error")
			}
			if tc.rename != nil && !errors.Is(err, errSwap) {
				t.Errorf("Restore = %v, want the rename's error", err)
			}
			checkRestoreFileGone(t, path)
			if unverified, err := isUnverified(path); err != nil || unverified {
				t.Errorf("a failed restore left the state marked unchecked (%v, %v)", unverified, err)
			}
			if !s.Verified() {
				t.Error("Verified = false after a failed restore of a checked state")
			}

			if got := s.AppliedIndex(); got != applied {
				t.Errorf("AppliedIndex after a failed restore = %d, want %d", got, applied)
			}
			if got := h.balance("acc-us", "REG"); got != "100" {
				t.Errorf("acc-us REG after a failed restore = %s, want 100", got)
			}
			if got := h.balance("inst-us", "REG"); got != "0" {
				t.Errorf("inst-us REG after a failed restore = %s, want 0 (the snapshot's 7 must not show)", got)
			}
			if errs := s.Check(); len(errs) > 0 {
				t.Errorf("Check after a failed restore: %v", errs)
			}
			h.mustAccept("iss-1", mintBody("REG", "acc-us", "1"))
			checkReopens(t, s, path, mustHashes(t, s))
		})
	}
}

// TestRestoreReplacesState checks that a restore gives exactly the
// snapshot's state, over a store that had other state and pending work, and
// that the state file left at the configured path holds it after a reopen.
func TestRestoreReplacesState(t *testing.T) {
	src := restoreSource(t)
	want := mustHashes(t, src.s)

	path := filepath.Join(t.TempDir(), "state.db")
	s, h := storeWithPendingWork(t, path, false)
	if err := s.Restore(bytes.NewReader(snapshotOf(t, src.s))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := mustHashes(t, s); got != want {
		t.Errorf("restored hashes %+v, want %+v", got, want)
	}
	if got := h.balance("inst-us", "REG"); got != "7" {
		t.Errorf("inst-us REG after restore = %s, want 7", got)
	}
	checkRestoreFileGone(t, path)
	checkReopens(t, s, path, want)
}
