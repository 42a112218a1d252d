package consensus

// Storage faults: raft's log, stable store and snapshots are wrapped so a
// write that fails is reported once to Config.OnStorageFault, which stops
// the node. Raft itself carries on after some of these (a follower whose
// log append fails keeps serving reads of a state that no longer advances)
// and panics after others (a term it cannot save); neither is a clean stop.

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// StorageFault describes a failed write to one of the node's files.
type StorageFault struct {
	// File is the path (or, for snapshots, the directory) that failed.
	File string
	// Kind is what failed: "log" (raft log append or truncation), "stable"
	// (raft's term and vote), "snapshot" (persisting a snapshot).
	Kind string
	Err  error
}

func (f *StorageFault) Error() string {
	return fmt.Sprintf("consensus: %s write to %s failed: %v", f.Kind, f.File, f.Err)
}

func (f *StorageFault) Unwrap() error { return f.Err }

// faults reports storage faults to the node's handler.
type faults struct {
	report func(*StorageFault)
}

func (f faults) fail(file, kind string, err error) error {
	if err != nil && f.report != nil {
		f.report(&StorageFault{File: file, Kind: kind, Err: err})
	}
	return err
}

// faultLogStore reports failed writes of raft's log. Raft answers the
// failure itself (a leader steps down, a follower refuses the entries), so
// the error is returned as well.
type faultLogStore struct {
	raft.LogStore
	file string
	f    faults
}

// IsMonotonic passes the wrapped store's answer on (raft.MonotonicLogStore):
// raft-wal refuses a gap in the log, and raft must know it to clear the log
// when it installs a snapshot instead of leaving a gap behind.
func (s faultLogStore) IsMonotonic() bool {
	m, ok := s.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

var _ raft.MonotonicLogStore = faultLogStore{}

func (s faultLogStore) StoreLog(l *raft.Log) error {
	return s.f.fail(s.file, "log", s.LogStore.StoreLog(l))
}

func (s faultLogStore) StoreLogs(logs []*raft.Log) error {
	return s.f.fail(s.file, "log", s.LogStore.StoreLogs(logs))
}

func (s faultLogStore) DeleteRange(min, max uint64) error {
	return s.f.fail(s.file, "log", s.LogStore.DeleteRange(min, max))
}

// faultStableStore reports failed writes of raft's term and vote. Raft
// panics when it cannot save them; the fault is reported first, so the
// node stops with one clear line, and the write then never returns: the
// handler ends the process, and raft never acts on a vote it did not save.
type faultStableStore struct {
	raft.StableStore
	file string
	f    faults
	// hold blocks a failed write until the process exits.
	hold func()
}

func (s faultStableStore) Set(key, val []byte) error {
	return s.held(s.StableStore.Set(key, val))
}

func (s faultStableStore) SetUint64(key []byte, val uint64) error {
	return s.held(s.StableStore.SetUint64(key, val))
}

func (s faultStableStore) held(err error) error {
	if err != nil && s.f.report != nil {
		s.f.fail(s.file, "stable", err)
		if s.hold != nil {
			s.hold()
		}
	}
	return err
}

// faultSnapshotStore reports snapshots that could not be persisted. Raft
// logs such a failure and goes on with a log it cannot compact; a disk that
// cannot take a snapshot will soon not take the log either.
type faultSnapshotStore struct {
	raft.SnapshotStore
	dir string
	f   faults
}

func (s faultSnapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.SnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, s.f.fail(s.dir, "snapshot", err)
	}
	return faultSink{SnapshotSink: sink, dir: s.dir, f: s.f}, nil
}

type faultSink struct {
	raft.SnapshotSink
	dir string
	f   faults
}

var _ io.WriteCloser = faultSink{}

func (s faultSink) Write(p []byte) (int, error) {
	n, err := s.SnapshotSink.Write(p)
	return n, s.f.fail(s.dir, "snapshot", err)
}

func (s faultSink) Close() error {
	return s.f.fail(s.dir, "snapshot", s.SnapshotSink.Close())
}

// ErrDamaged is wrapped by Open's error when raft's log file is truncated or
// its meta pages are corrupt. The node's term and vote are in that file: it
// must not start, and must not be started on an empty one under its id.
var ErrDamaged = errors.New("consensus: raft log file is damaged")

// checkBoltFile refuses a bbolt file shorter than the pages its meta page
// counts, or whose meta pages fail their checksums, before it is opened for
// writing: bbolt maps those pages, and reading past the end of the file is a
// SIGBUS that kills the process. Only the meta pages are read, so the check
// costs the same whatever the file's size. A missing or empty file passes.
func checkBoltFile(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && info.Size() == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: boltOpenTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("consensus: %s is locked by another process: %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("%w: open %s: %w", ErrDamaged, path, err)
	}
	defer db.Close()
	tx, err := db.Begin(false)
	if err != nil {
		return fmt.Errorf("%w: read %s: %w", ErrDamaged, path, err)
	}
	defer func() { _ = tx.Rollback() }()
	if info.Size() < tx.Size() {
		return fmt.Errorf("%w: %s is truncated: %d bytes of %d", ErrDamaged, path, info.Size(), tx.Size())
	}
	return nil
}
