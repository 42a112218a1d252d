package consensus

// Storage faults: raft's log, stable store and snapshots are wrapped so a
// write that fails is reported once to Config.OnStorageFault, which stops
// the node. Raft itself carries on after some of these (a follower whose
// log append fails keeps serving reads of a state that no longer advances)
// and panics after others (a term it cannot save); neither is a clean stop.

import (
	"fmt"
	"io"

	"github.com/hashicorp/raft"
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
