package ledger

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

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
// or hostile node could.
func editSnapshot(t *testing.T, snap []byte, edit func(tx *bolt.Tx) error) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "edited.db")
	if err := os.WriteFile(path, snap, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("open snapshot: %v", err)
	}
	if err := db.Update(edit); err != nil {
		t.Fatalf("edit snapshot: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestoreFailureKeepsState checks that a restore failing at any step
// leaves the store open on its old state, pending work included: it answers
// reads as before, applies further instructions, and its file reopens with
// them. Each case fails one step: the stream, bbolt's open, the checks,
// loading the state, or the swap of the files.
func TestRestoreFailureKeepsState(t *testing.T) {
	// The source holds other balances than the stores it is restored into,
	// so a restore that took effect would show.
	src := newHarness(t)
	src.world()
	src.mustAccept("iss-1", mintBody("REG", "inst-us", "7"))
	good := snapshotOf(t, src.s)

	errSwap := errors.New("injected rename failure")
	tests := []struct {
		name   string
		snap   []byte
		rename func(oldpath, newpath string) error
	}{
		{name: "truncated stream", snap: good[:len(good)-4096]},
		{name: "not a state file", snap: bytes.Repeat([]byte("not bbolt "), 1000)},
		{name: "empty stream", snap: nil},
		{name: "fails the checks", snap: editSnapshot(t, good, func(tx *bolt.Tx) error {
			// inst-us holds REG: its holding now names an unknown party.
			return tx.Bucket(bucketParties).Delete([]byte("inst-us"))
		})},
		{name: "rulebook does not parse", snap: editSnapshot(t, good, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(metaRulebook, []byte("regimes: [unclosed"))
		})},
		{name: "swap fails", snap: good, rename: func(string, string) error { return errSwap }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			// Commits are rare, so the restore meets pending work, which a
			// failed restore must not drop.
			s, err := Open(Config{Path: path, StrictChecks: true, NoSync: true, CommitEvery: 1 << 20})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			h := &harness{t: t, s: s, now: epoch}
			h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
			h.world()
			h.mustAccept("iss-1", mintBody("REG", "acc-us", "100"))
			if s.wtx == nil {
				t.Fatal("no pending write transaction before the restore")
			}
			applied := s.AppliedIndex()
			if tc.rename != nil {
				s.rename = tc.rename
			}

			err = s.Restore(bytes.NewReader(tc.snap))
			if err == nil {
				t.Fatal("Restore succeeded, want an error")
			}
			if tc.rename != nil && !errors.Is(err, errSwap) {
				t.Errorf("Restore = %v, want the rename's error", err)
			}
			if _, statErr := os.Stat(path + restoreSuffix); !errors.Is(statErr, os.ErrNotExist) {
				t.Errorf("the restore file is left behind: %v", statErr)
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
			want, err := s.Hashes()
			if err != nil {
				t.Fatalf("Hashes after a failed restore: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			reopened := openStore(t, path, true)
			if got, _ := reopened.Hashes(); got != want {
				t.Errorf("reopened state file hashes %+v, want %+v", got, want)
			}
		})
	}
}

// TestRestoreReplacesState checks that a restore gives exactly the
// snapshot's state, over a store that had other state and pending work, and
// that the state file left at the configured path holds it after a reopen.
func TestRestoreReplacesState(t *testing.T) {
	src := newHarness(t)
	src.world()
	src.mustAccept("iss-1", mintBody("REG", "inst-us", "7"))
	want, err := src.s.Hashes()
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(Config{Path: path, NoSync: true, CommitEvery: 1 << 20})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	h := &harness{t: t, s: s, now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.world()
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "100"))

	if err := s.Restore(bytes.NewReader(snapshotOf(t, src.s))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got, _ := s.Hashes(); got != want {
		t.Errorf("restored hashes %+v, want %+v", got, want)
	}
	if got := h.balance("inst-us", "REG"); got != "7" {
		t.Errorf("inst-us REG after restore = %s, want 7", got)
	}
	if _, err := os.Stat(path + restoreSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the restore file is left behind: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	reopened := openStore(t, path, true)
	if got, _ := reopened.Hashes(); got != want {
		t.Errorf("reopened state file hashes %+v, want %+v", got, want)
	}
}
