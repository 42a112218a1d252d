package ledger

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tokenledger/tokenledger/internal/dirsync"
)

// A restored state is checked beside Apply, not before the swap: at a
// million investors the check (every balance, index, id and journal hash)
// takes about 20 s, and raft's apply loop, and with it the node's part in
// the cluster, would wait for it. The stream's checksum is verified before
// the swap, so a snapshot damaged on its way is still refused with the old
// state kept; the check looks for a snapshot that arrived whole but does
// not hold a sound ledger, which only a damaged or faulty source gives.
//
// Until the check passes the state is unverified: Verified is false (the
// node answers NOT_READY, so no read serves it), and a file beside the
// state file (unverifiedSuffix), made durable before the swap, makes the
// next Open run the check before it serves anything, whether the process
// stopped mid-check or was killed. A check that fails stops the node as a
// storage fault does (FaultError, step "check"): the state it applies on
// must not serve, and the next Open refuses the file (ErrDamaged).

// unverifiedSuffix names the file that marks, beside the state file, a
// state restored from a snapshot whose check has not passed.
const unverifiedSuffix = ".unverified"

// restoreCheck is the check of a restored state running beside Apply.
type restoreCheck struct {
	stop     atomic.Bool   // set to call the check off
	done     chan struct{} // closed when the check has ended
	err      error         // what the check found; read after done
	releases int           // how often it let go of the file's pages; read after done
}

// startRestoreCheck checks db, the state just restored, in a and b: read
// transactions begun before anything was applied to it, so the check sees
// the snapshot's state whatever Apply does meanwhile. Callers hold mu
// exclusively.
func (s *Store) startRestoreCheck(db *bolt.DB, a, b *bolt.Tx, applied uint64) {
	rc := &restoreCheck{done: make(chan struct{})}
	s.restoreCheck = rc
	s.unverified.Store(true)
	hook := s.beforeRestoreCheck
	go func() {
		defer close(rc.done)
		if hook != nil {
			hook(&rc.stop)
		}
		start := time.Now()
		// The check reads the whole file; its pages are let go of while
		// a and b are open, which keeps bbolt from remapping the file
		// under the release (a remap waits for every read transaction).
		release := releaseMappedPages(db, a.Size(), restoreReleaseInterval, s.releaseBudget)
		errs := checkTxs(a, b, &rc.stop)
		rc.releases = release()
		rollbackCheck(a, b)
		took := time.Since(start).Round(time.Millisecond)
		switch {
		case rc.stop.Load():
			// Close or another restore called it off: the file marks the
			// state unverified, and the next Open checks it.
			s.log.Info("the check of a restored snapshot was called off; the next start runs it", "applied_index", applied)
		case len(errs) > 0:
			rc.err = fmt.Errorf("the snapshot restored at index %d fails its checks (%d findings): %w", applied, len(errs), errs[0])
			s.wmu.Lock()
			_ = s.faultLocked("check", rc.err)
			s.wmu.Unlock()
		default:
			if err := removeUnverified(s.cfg.Path); err != nil {
				// The state is sound; the next Open only checks it again.
				s.log.Warn("the restored snapshot passed its checks, but the file marking it unchecked stays", "err", err)
			}
			s.unverified.Store(false)
			// A duration only, for the operator.
			s.log.Info("the restored snapshot passed its checks", "applied_index", applied, "check", took, "page_releases", rc.releases)
		}
	}()
}

// stopRestoreCheck calls off the check of a restored state, if one runs,
// and waits for it to end. Callers hold mu exclusively.
func (s *Store) stopRestoreCheck() {
	if rc := s.restoreCheck; rc != nil {
		rc.stop.Store(true)
		<-rc.done
		s.restoreCheck = nil
	}
}

// Verified reports whether the state has passed its checks. It is false
// from a restore until the check of the restored state, which runs beside
// Apply, passes; a node does not serve reads until then.
func (s *Store) Verified() bool { return !s.unverified.Load() }

// awaitRestoreCheck waits for the check of the last restored state, if one
// runs, and returns what it found. For tests and benchmarks.
func (s *Store) awaitRestoreCheck() error {
	s.mu.RLock()
	rc := s.restoreCheck
	s.mu.RUnlock()
	if rc == nil {
		return nil
	}
	<-rc.done
	if rc.err == nil && rc.stop.Load() {
		return errors.New("the check was called off")
	}
	return rc.err
}

// markUnverified makes the file that marks the state at path unverified,
// durably, before a restore swaps its file in.
func markUnverified(path string) error {
	name := path + unverifiedSuffix
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString("the state file beside this one was restored from a snapshot whose check has not passed; the node checks it when it starts\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("mark the restored state unchecked: %w", err)
	}
	return nil
}

// removeUnverified removes the mark of markUnverified, if any.
func removeUnverified(path string) error {
	if err := removeIfExists(path + unverifiedSuffix); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// isUnverified reports whether the state at path is marked unverified.
func isUnverified(path string) (bool, error) {
	_, err := os.Stat(path + unverifiedSuffix)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// checkUnverified checks, at Open, a state file a restore left unverified:
// the node stopped before its check passed. It refuses the file with
// ErrDamaged if the check finds anything, and clears the mark if not.
func checkUnverified(db *bolt.DB, path string, log *slog.Logger) error {
	unverified, err := isUnverified(path)
	if err != nil || !unverified {
		return err
	}
	log.Info("checking a state restored from a snapshot whose check had not passed", "file", path)
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	stop := releaseMappedPages(db, info.Size(), restoreReleaseInterval, restoreResidentBudget)
	errs := checkDB(db)
	stop()
	if len(errs) > 0 {
		return fmt.Errorf("%w: it was restored from a snapshot that fails its checks (%d findings): %w", ErrDamaged, len(errs), errs[0])
	}
	return removeUnverified(path)
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error { return dirsync.Sync(dir) }
