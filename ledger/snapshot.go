package ledger

import (
	"fmt"
	"io"
	"os"
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
// a new file, opens, checks and loads it while the old state still serves,
// then renames it over the state file and only then closes the old one. A
// failure at any step leaves the old state whole and open, pending work
// included (a partial restore diverged rqlite), and after the rename nothing
// can fail, so the store is never left without an open state file.
func (s *Store) Restore(r io.Reader) error {
	tmp := s.cfg.Path + restoreSuffix
	var took restoreTimes
	db, st, err := s.openRestored(tmp, r, &took)
	if err != nil {
		_ = removeIfExists(tmp)
		return fmt.Errorf("ledger: restore: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// The new file is open under its temporary name, and an open bbolt file
	// may be renamed: the swap is this one rename, and until it succeeds the
	// old file is untouched and still serves.
	if err := s.rename(tmp, s.cfg.Path); err != nil {
		db.Close()
		_ = removeIfExists(tmp)
		return fmt.Errorf("ledger: restore: %w", err)
	}
	old := s.db
	// The snapshot replaces the state: what is pending is dropped with it.
	s.wmu.Lock()
	s.dropPendingLocked()
	s.broken = nil
	s.wmu.Unlock()
	s.db = db
	s.install(st)
	if old != nil {
		// The old file is already unlinked and nothing reads it any more, so
		// a failed close loses nothing the store still needs.
		if err := old.Close(); err != nil {
			s.log.Warn("closing the state file a restore replaced failed", "err", err)
		}
	}
	// Durations only, for the operator: nothing of the state depends on them.
	s.log.Info("restored a snapshot", "applied_index", st.applied,
		"write", took.write.Round(time.Millisecond), "check", took.check.Round(time.Millisecond),
		"load", took.load.Round(time.Millisecond))
	return nil
}

// restoreTimes is how long each step of a restore took: writing the stream
// to the file (its checksum included), checking the file, and opening and
// loading it.
type restoreTimes struct {
	write, check, load time.Duration
}

// openRestored writes the snapshot stream to path and returns it open,
// checked, and loaded. It touches nothing of the live state. On error
// nothing is left open; the caller removes path.
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
	db, err := openDB(path, s.cfg.NoSync, s.log)
	if err != nil {
		return nil, memState{}, err
	}
	// The file is ours alone until the swap: its checks may run in two
	// transactions at once, and nothing writes it while they read it all.
	opened := time.Since(start)
	start = time.Now()
	stop := releaseMappedPages(db, restoreReleaseInterval, restoreResidentBudget)
	errs := checkDB(db)
	stop()
	took.check = time.Since(start)
	if len(errs) > 0 {
		db.Close()
		return nil, memState{}, fmt.Errorf("snapshot fails its checks: %v", errs[0])
	}
	start = time.Now()
	st, err := loadState(db, s.cfg.cacheBytes())
	if err != nil {
		db.Close()
		return nil, memState{}, err
	}
	took.load = opened + time.Since(start)
	return db, st, nil
}

// restoreReleaseInterval is how often a restore's check looks at the file
// pages it holds, and restoreResidentBudget how many bytes of them it may
// hold before it lets go of them (releaseMappedPages): at the check's pace
// of a few hundred megabytes a second, it overshoots by tens of them.
const (
	restoreReleaseInterval = 50 * time.Millisecond
	restoreResidentBudget  = 768 << 20
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
