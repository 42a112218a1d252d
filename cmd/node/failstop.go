package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenledger/tokenledger/consensus"
	"github.com/tokenledger/tokenledger/ledger"
)

// exitStorageFault is the exit status of a node stopped by a storage fault
// (a write to its state file, raft log, vote or snapshots failed) or refused
// at start because a file is damaged: sysexits' EX_IOERR. A supervisor that
// restarts on any failure should not restart on this one until an operator
// has freed space or repaired the disk.
const exitStorageFault = 74

// handOverTimeout bounds the leadership transfer of a node stopping after a
// storage fault.
const handOverTimeout = 3 * time.Second

// storageFaultError ends serve with exitStorageFault.
type storageFaultError struct{ err error }

func (e *storageFaultError) Error() string { return e.err.Error() }
func (e *storageFaultError) Unwrap() error { return e.err }
func (e *storageFaultError) ExitCode() int { return exitStorageFault }

// failStop turns the first storage fault into a clean stop: it marks the
// node failing (every request 503 NODE_FAILING, /readyz 503) and hands the
// fault to serve, which hands leadership over, closes the listeners and
// exits. Later faults are only counted. The node must not go on: its state
// or its log is behind what it acknowledged, and raft's log replays it after
// a restart.
type failStop struct {
	dataDir string
	failing atomic.Bool
	once    sync.Once
	fault   chan error // the first fault; buffered
	kind    string     // the first fault's kind; set once, before fault is sent
	errors  *prometheus.CounterVec
}

func newFailStop(dataDir string) *failStop {
	return &failStop{
		dataDir: dataDir,
		fault:   make(chan error, 1),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenledger_storage_errors_total",
			Help: "Writes to the node's files that failed, by file (state.db, raft.db, snapshots) and kind (begin, write, commit of the state; check: a state restored from a snapshot failed its checks; log, stable, snapshot of raft). Any increase stops the node.",
		}, []string{"file", "kind"}),
	}
}

// Failing reports whether a fault has been seen.
func (f *failStop) Failing() bool { return f.failing.Load() }

// ledgerFault is the ledger's OnFault.
func (f *failStop) ledgerFault(err error) {
	file, kind := "state.db", "write"
	var fe *ledger.FaultError
	if errors.As(err, &fe) {
		file, kind = filepath.Base(fe.Path), fe.Step
	}
	f.report(file, kind, err)
}

// raftFault is consensus's OnStorageFault.
func (f *failStop) raftFault(sf *consensus.StorageFault) {
	f.report(filepath.Base(sf.File), sf.Kind, sf)
}

func (f *failStop) report(file, kind string, err error) {
	f.errors.WithLabelValues(file, kind).Inc()
	f.once.Do(func() {
		f.kind = kind
		f.failing.Store(true)
		what := "storage fault"
		if kind == "check" {
			what = "state check failed" // the disk is fine; the snapshot's state is not
		}
		f.fault <- &storageFaultError{err: fmt.Errorf("%s: %w", what, err)}
	})
}

// advice is the one line an operator reads after a storage fault.
func (f *failStop) advice() string {
	if f.kind == "check" {
		return fmt.Sprintf("the snapshot this node restored from the leader is whole but fails the state checks, so the leader's state may be damaged: keep %s for inspection, check the other nodes' journals (node verify chain), and rebuild this node only from a node whose state passes; it refuses this state file when it starts", f.dataDir)
	}
	return fmt.Sprintf("free space on the filesystem of %s (or repair the disk), then restart the node: it replays what it lost from raft's log and catches up with the cluster", f.dataDir)
}

// stop logs the fault once, with what to do about it.
func (f *failStop) stop(log *slog.Logger, err error) {
	msg := "storage fault: the node stops"
	if f.kind == "check" {
		msg = "the restored state failed its checks: the node stops"
	}
	log.Error(msg, "err", err, "action", f.advice(), "exit_code", exitStorageFault)
}

// failStopNode stops a node after a storage fault: one log line with what to
// do, leadership handed over if it can be (bounded: raft may be stuck on the
// failed write), the API closed, and an error that exits with
// exitStorageFault. Raft and the state file are not closed cleanly: a
// clean close would wait for raft, which may never return from the failed
// write, and what they hold durably is all a restart needs.
func failStopNode(log *slog.Logger, fs *failStop, fault error, node *consensus.Node, httpSrv *http.Server) error {
	fs.stop(log, fault)
	ctx, cancel := context.WithTimeout(context.Background(), handOverTimeout)
	defer cancel()
	node.HandOver(ctx)
	if err := httpSrv.Close(); err != nil {
		log.Warn("close api", "err", err)
	}
	return fault
}

// damagedStateError refuses to start on a damaged state file, saying how to
// recover: without the file the node rebuilds its state from its latest raft
// snapshot and log, or from the leader.
func damagedStateError(log *slog.Logger, path string, err error) error {
	action := fmt.Sprintf("move %s aside and restart the node: it rebuilds its state from its latest raft snapshot and log, or from the leader", path)
	log.Error("damaged state file: the node will not serve it", "file", path, "err", err, "action", action, "exit_code", exitStorageFault)
	return &storageFaultError{err: fmt.Errorf("%w; %s", err, action)}
}

// damagedLogError refuses to start on a damaged raft log: the node's term
// and vote are lost with it, so it must not vote again under its id.
func damagedLogError(log *slog.Logger, id string, err error) error {
	action := fmt.Sprintf("this node's raft log and vote are lost: remove it from the cluster (DELETE /v1/cluster/nodes/%s on the leader) and add a replacement under a new id with an empty data directory", id)
	log.Error("damaged raft log: the node will not start", "err", err, "action", action, "exit_code", exitStorageFault)
	return &storageFaultError{err: fmt.Errorf("%w; %s", err, action)}
}
