package ledger

import (
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

type snapshot struct {
	tx *bolt.Tx
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
	return &snapshot{tx: tx}, nil
}

// Persist streams the whole bbolt file as of the snapshot.
func (sn *snapshot) Persist(w io.Writer) error {
	_, err := sn.tx.WriteTo(w)
	return err
}

// Release ends the read transaction; bbolt cannot reuse pages it pins.
func (sn *snapshot) Release() { _ = sn.tx.Rollback() }

// Restore replaces the state with a snapshot stream. It writes a temporary
// file, checks it, then renames it over the state file, so a failure at any
// point leaves the old state whole (a partial restore diverged rqlite).
func (s *Store) Restore(r io.Reader) error {
	tmp := s.cfg.Path + ".restore"
	if err := removeIfExists(tmp); err != nil {
		return fmt.Errorf("ledger: restore: %w", err)
	}
	if err := writeFileSync(tmp, r); err != nil {
		return fmt.Errorf("ledger: restore: %w", err)
	}
	db, err := openDB(tmp, s.cfg.NoSync)
	if err != nil {
		return fmt.Errorf("ledger: restore: %w", err)
	}
	var errs []error
	_ = db.View(func(tx *bolt.Tx) error { errs = check(tx); return nil })
	db.Close()
	if len(errs) > 0 {
		_ = os.Remove(tmp)
		return fmt.Errorf("ledger: restore: snapshot fails its checks: %v", errs[0])
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// The snapshot replaces the state: what is pending is dropped with it.
	s.wmu.Lock()
	s.dropPendingLocked()
	s.broken = nil
	s.wmu.Unlock()
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			return fmt.Errorf("ledger: restore: close state: %w", err)
		}
		s.db, s.cache = nil, nil
	}
	if err := os.Rename(tmp, s.cfg.Path); err != nil {
		return fmt.Errorf("ledger: restore: %w", err)
	}
	db, err = openDB(s.cfg.Path, s.cfg.NoSync)
	if err != nil {
		return err
	}
	if err := s.load(db); err != nil {
		db.Close()
		return err
	}
	s.db = db
	return nil
}

func writeFileSync(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
