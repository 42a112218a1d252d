package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/tokenledger/tokenledger/consensus"
	"github.com/tokenledger/tokenledger/ledger"
)

// TestFailStopReportsOnce checks that the first storage fault marks the node
// failing and reaches serve once, naming its file and kind in the metric,
// and that later faults are only counted.
func TestFailStopReportsOnce(t *testing.T) {
	fs := newFailStop("/data/n1")
	if fs.Failing() {
		t.Fatal("failing before any fault")
	}
	fs.ledgerFault(&ledger.FaultError{Step: "commit", Path: "/data/n1/state.db", Err: errors.New("no space left on device")})
	fs.raftFault(&consensus.StorageFault{File: "/data/n1/raft/raft.db", Kind: "log", Err: errors.New("no space left on device")})
	fs.raftFault(&consensus.StorageFault{File: "/data/n1/raft/raft.db", Kind: "log", Err: errors.New("no space left on device")})
	if !fs.Failing() {
		t.Error("not failing after a fault")
	}
	select {
	case err := <-fs.fault:
		var coded interface{ ExitCode() int }
		if !errors.As(err, &coded) || coded.ExitCode() != exitStorageFault || !strings.Contains(err.Error(), "state.db") {
			t.Errorf("first fault %v: want the state file's, exiting %d", err, exitStorageFault)
		}
	default:
		t.Fatal("no fault handed to serve")
	}
	select {
	case err := <-fs.fault:
		t.Errorf("a second fault was handed to serve: %v", err)
	default:
	}
	for _, c := range []struct {
		file, kind string
		want       float64
	}{{"state.db", "commit", 1}, {"raft.db", "log", 2}} {
		var m dto.Metric
		if err := fs.errors.WithLabelValues(c.file, c.kind).Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != c.want {
			t.Errorf("storage errors {%s, %s} = %v, want %v", c.file, c.kind, got, c.want)
		}
	}
	if !strings.Contains(fs.advice(), "free space on the filesystem of /data/n1") {
		t.Errorf("advice %q does not say what to free", fs.advice())
	}
}

// TestFailStopAdviceForAFailedCheck checks that a restored state failing
// its checks stops the node with advice about the snapshot's source, not
// about free space, which would not help.
func TestFailStopAdviceForAFailedCheck(t *testing.T) {
	fs := newFailStop("/data/n1")
	fs.ledgerFault(&ledger.FaultError{Step: "check", Path: "/data/n1/state.db", Err: errors.New("the snapshot restored at index 9 fails its checks")})
	if !fs.Failing() {
		t.Error("not failing after a failed check")
	}
	if err := <-fs.fault; !strings.Contains(err.Error(), "fails its checks") || strings.Contains(err.Error(), "storage fault") {
		t.Errorf("fault %v does not say the check failed, or calls it a storage fault", err)
	}
	if a := fs.advice(); !strings.Contains(a, "leader's state may be damaged") || strings.Contains(a, "free space") {
		t.Errorf("advice %q does not point at the snapshot's source", a)
	}
}

// TestServeRefusesDamagedState checks that a node whose state file is cut
// short does not start, exits with the storage-fault status, and says how to
// recover.
func TestServeRefusesDamagedState(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.db")
	store, err := ledger.Open(ledger.Config{Path: statePath, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	items := [][]byte{ledger.KeyItem(ledger.OperatorID, strings.Repeat("a", 64))}
	store.Apply([]ledger.Batch{{Index: 1, Term: 1, Time: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), Items: items}})
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(statePath, 4*int64(os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
	opts := nodeOptions{id: defaultNodeID, dataDir: dir, apiAddr: "127.0.0.1:0", raftAddr: "127.0.0.1:0", logLevel: slog.LevelError}
	err = serveNode(t.Context(), opts)
	var coded interface{ ExitCode() int }
	if !errors.As(err, &coded) || coded.ExitCode() != exitStorageFault {
		t.Fatalf("serve on a damaged state file: %v, want exit status %d", err, exitStorageFault)
	}
	if !errors.Is(err, ledger.ErrDamaged) || !strings.Contains(err.Error(), "move "+statePath+" aside") {
		t.Errorf("serve on a damaged state file: %v; want ErrDamaged and how to recover", err)
	}
}
