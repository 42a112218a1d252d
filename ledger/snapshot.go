package ledger

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

type snapshot struct {
	tx   *bolt.Tx
	file *os.File // the state file tx reads, opened beside bbolt's own handle
	bare bool     // Config.SnapshotBare
}

// Snapshot commits what is pending and opens a read transaction, and returns
// at once: raft blocks Apply while it runs. The copy is written by Persist,
// concurrently with Apply. Committing first keeps the state file at least as
// new as every snapshot, so raft never compacts away log entries the file
// still needs after a crash.
func (s *Store) Snapshot() (Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.commitPending(); err != nil {
		return nil, fmt.Errorf("ledger: snapshot: %w", err)
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("ledger: begin snapshot: %w", err)
	}
	// A restore renames another file over the path only under s.mu, which
	// this holds: the path names tx's file.
	f, err := os.Open(s.db.Path())
	if err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("ledger: snapshot: %w", err)
	}
	return &snapshot{tx: tx, file: f, bare: s.cfg.SnapshotBare}, nil
}

// Persist writes the snapshot stream (snapshot_stream.go): the file's pages
// as of the snapshot, less the free ones, with a checksum, compressed
// unless the store writes them bare.
func (sn *snapshot) Persist(w io.Writer) error {
	if sn.bare {
		return writePageStream(w, sn.tx, sn.file)
	}
	return writeStream(w, sn.tx, sn.file)
}

// Release ends the read transaction; bbolt cannot reuse pages it pins.
func (sn *snapshot) Release() {
	_ = sn.tx.Rollback()
	_ = sn.file.Close()
}

// restoreSuffix names the file a snapshot is restored into, beside the state
// file it replaces.
const restoreSuffix = ".restore"

// Restore replaces the state with a snapshot stream. It writes the stream to
// a new file, checking the stream's checksum, and opens and loads it while
// the old state still serves, then renames it over the state file and only
// then closes the old one. A failure at any step leaves the old state whole
// and open, pending work included (a partial restore diverged rqlite), and
// after the rename nothing can fail, so the store is never left without an
// open state file. The check of the restored state runs beside Apply from
// then on (restore_check.go): until it passes, Verified is false.
func (s *Store) Restore(r io.Reader) error {
	tmp := s.cfg.Path + restoreSuffix
	var took restoreTimes
	db, st, err := s.openRestored(tmp, r, &took)
	if err != nil {
		_ = removeIfExists(tmp)
		return fmt.Errorf("ledger: restore: %w", err)
	}
	fail := func(err error) error {
		db.Close()
		_ = removeIfExists(tmp)
		return fmt.Errorf("ledger: restore: %w", err)
	}
	// Begun before anything is applied to the new file, the check's
	// transactions see the snapshot's state.
	a, b, err := beginCheck(db)
	if err != nil {
		return fail(err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// The check of an earlier restore reads the file about to be replaced;
	// if it had not passed, the old state is unverified still.
	s.stopRestoreCheck()
	oldUnverified := s.unverified.Load()
	if err := markUnverified(s.cfg.Path); err != nil {
		rollbackCheck(a, b)
		return fail(err)
	}
	// The new file is open under its temporary name, and an open bbolt file
	// may be renamed: the swap is this one rename, and until it succeeds the
	// old file is untouched and still serves.
	if err := s.rename(tmp, s.cfg.Path); err != nil {
		rollbackCheck(a, b)
		if oldUnverified {
			s.recheckLocked()
		} else if rerr := removeUnverified(s.cfg.Path); rerr != nil {
			s.log.Warn("a restore failed, and the file marking the state unchecked stays: the next start checks it", "err", rerr)
		}
		return fail(err)
	}
	// The rename is durable only once the directory is: a crash before that
	// could bring the old file back under the name. The swap is done on
	// disk either way, so the store swaps too; a directory that cannot be
	// synced is a storage fault, and the node stops (below).
	dirErr := s.syncDir(filepath.Dir(s.cfg.Path))
	old := s.db
	// The snapshot replaces the state: what is pending is dropped with it.
	s.wmu.Lock()
	s.dropPendingLocked()
	s.broken = nil
	s.wmu.Unlock()
	s.ids.close() // its scan reads the old file
	s.holdings.close()
	s.idx.close() // so does this one's
	s.db = db
	s.install(st)
	s.startKeyFilters(db, st)
	s.idx = startIDIndex(db, st.journalSeq, s.log)
	s.startRestoreCheck(db, a, b, st.applied)
	if old != nil {
		// The old file is already unlinked and nothing reads it any more, so
		// a failed close loses nothing the store still needs.
		if err := old.Close(); err != nil {
			s.log.Warn("closing the state file a restore replaced failed", "err", err)
		}
	}
	if dirErr != nil {
		s.wmu.Lock()
		err := s.faultLocked("restore", fmt.Errorf("sync the directory after renaming the restored state into place: %w", dirErr))
		s.wmu.Unlock()
		return fmt.Errorf("ledger: restore: %w", err)
	}
	// Durations only, for the operator: nothing of the state depends on them.
	s.log.Info("restored a snapshot; its check runs beside Apply", "applied_index", st.applied,
		"write", took.write.Round(time.Millisecond), "open", took.open.Round(time.Millisecond),
		"load", took.load.Round(time.Millisecond))
	return nil
}

// recheckLocked starts a check of the state file as committed, for a state
// whose check a restore called off and then failed to replace. Callers hold
// mu exclusively.
func (s *Store) recheckLocked() {
	if err := s.commitPending(); err != nil {
		return // the store is broken: it stops, and the next Open checks
	}
	a, b, err := beginCheck(s.db)
	if err != nil {
		s.log.Warn("the state stays unchecked until the next start", "err", err)
		return
	}
	s.startRestoreCheck(s.db, a, b, s.AppliedIndex())
}

// restoreTimes is how long each step of a restore took: writing the stream
// to the file (its checksum included), opening it, and loading it (the
// rulebook, the record cache).
type restoreTimes struct {
	write, open, load time.Duration
}

// openRestored writes the snapshot stream to path and returns it open and
// loaded. It touches nothing of the live state. On error nothing is left
// open; the caller removes path.
func (s *Store) openRestored(path string, r io.Reader, took *restoreTimes) (*bolt.DB, memState, error) {
	if err := removeIfExists(path); err != nil {
		return nil, memState{}, err
	}
	start := time.Now()
	if err := writeSnapshotFile(path, r); err != nil {
		return nil, memState{}, err
	}
	took.write = time.Since(start)
	start = time.Now()
	if err := checkComplete(path); err != nil {
		return nil, memState{}, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, memState{}, err
	}
	// The check runs beside Apply with its read transactions open, and a
	// commit that grows the file past what bbolt has mapped would wait for
	// them to remap it, and Apply with it: map room to grow, as much as
	// the file again (the pages commits free while the check pins them
	// cannot be reused, so the file grows by what Apply writes).
	db, err := openDB(path, s.cfg.NoSync, mmapFor(info.Size()), s.log)
	if err != nil {
		return nil, memState{}, err
	}
	took.open = time.Since(start)
	start = time.Now()
	st, err := loadState(db, s.cfg.cacheBytes())
	if err != nil {
		db.Close()
		return nil, memState{}, err
	}
	took.load = time.Since(start)
	return db, st, nil
}

// restoreReleaseInterval is how often a restore's check looks at the file
// pages it holds, and restoreResidentBudget how many bytes of them it may
// hold before it lets go of them (releaseMappedPages): at the check's pace
// of a few hundred megabytes a second, it overshoots by tens of them.
// A restored state's check, beside Apply, keeps to restoreCheckBudget: the
// record cache, loaded before it now, takes some of what the file pages
// had (a restore of 1,000,000 investors peaked at 1.97–1.99 GiB on 768
// MiB), and a drop more often slows a check no longer on the restore's
// path. 384 MiB since the check reads the holdings' tails (schema 8) into
// a set of their own: on 512 the restore's peak rose to 1,864–1,916 MiB
// (three runs, 1,877 with the check as it is) from 1,764–1,784 before; on
// 384 it was 1,779 (one run), its check 23.1 s instead of 20.3–20.5.
const (
	restoreReleaseInterval = 50 * time.Millisecond
	restoreResidentBudget  = 768 << 20
	restoreCheckBudget     = 384 << 20
)

// checkComplete refuses a state or snapshot file shorter than the pages its
// meta page counts, or whose meta pages do not check out. bbolt maps the file
// and reads those pages when it opens it: past the end of the file that is a
// SIGBUS, which kills the process instead of failing the open or the restore.
// Opening read-only without preloading the freelist reads only the meta
// pages, so this costs the same whatever the file's size.
func checkComplete(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	tx, err := db.Begin(false)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer func() { _ = tx.Rollback() }()
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.Size() < tx.Size() {
		return fmt.Errorf("%s is truncated: %d bytes of %d", path, info.Size(), tx.Size())
	}
	return nil
}
