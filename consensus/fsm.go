package consensus

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/tokenledger/tokenledger/ledger"
)

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
	_ raft.FSMSnapshot = (*fsmSnapshot)(nil)
)

// Snapshot envelope: the Machine's snapshot follows a fixed header that records
// the Machine's applied index when the snapshot was taken. The Machine's own
// state carries that index too; Restore checks the two agree.
//
//	magic    4 bytes  "TLSN"
//	version  byte     = 1
//	applied  8 bytes  big-endian uint64
const (
	snapshotMagic    = "TLSN"
	snapshotVersion1 = 1
	snapshotHeader   = len(snapshotMagic) + 1 + 8
)

// FSM adapts a ledger.Machine to raft.BatchingFSM. It decodes log entries
// into ledger.Batches and lets readers wait for the Machine's applied index.
//
// It keeps no copy of the applied index or of the last batch's time: the
// Machine records both in the same transaction as the batch's effects, and
// keeps time monotonic itself, deterministically, from replicated state. A
// second copy here could only drift from it. The Machine's index counts
// command log entries only, never configuration entries (which never reach
// it), so on every node it is the same number for the same log, and a
// follower can wait for a leader's.
//
// raft calls Apply, ApplyBatch, Snapshot and Restore from one goroutine;
// AppliedIndex and waitApplied are safe from any goroutine.
type FSM struct {
	machine ledger.Machine

	mu sync.Mutex // guards changed
	// changed is closed and replaced whenever the Machine may have applied
	// or restored something, so waiters recheck its index.
	changed chan struct{}
}

// NewFSM returns an FSM over m.
func NewFSM(m ledger.Machine) *FSM {
	return &FSM{machine: m, changed: make(chan struct{})}
}

// Apply applies one log entry; raft uses ApplyBatch instead when it can.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies the command log entries among logs in one Machine.Apply
// call and returns one response per log: the item results ([][]byte) for a
// command, nil for anything else. It panics on a log entry it cannot decode,
// as Vault and rqlite do: skipping it would make this node diverge, and a
// panic makes it replay after a restart instead.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	responses := make([]any, len(logs))
	batches := make([]ledger.Batch, 0, len(logs))
	slots := make([]int, 0, len(logs))
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		e, err := decodeLogEntry(l.Data)
		if err != nil {
			panic(fmt.Sprintf("consensus: cannot apply log entry %d (term %d): %v", l.Index, l.Term, err))
		}
		// The stamp goes to the Machine as the leader wrote it: the Machine
		// clamps it to its last applied time, so a new leader whose clock
		// lags cannot move time backwards.
		batches = append(batches, ledger.Batch{Index: l.Index, Term: l.Term, Time: e.Time, Items: e.Items})
		slots = append(slots, i)
	}
	if len(batches) == 0 {
		return responses
	}
	results := f.machine.Apply(batches)
	assert(len(results) == len(batches), "machine returned %d results for %d batches", len(results), len(batches))
	for j, r := range results {
		assert(r == nil || len(r) == len(batches[j].Items),
			"machine returned %d results for %d items at index %d", len(r), len(batches[j].Items), batches[j].Index)
		responses[slots[j]] = r
	}
	f.notify()
	return responses
}

// Snapshot captures the machine's state; Persist writes it later.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	s, err := f.machine.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("consensus: snapshot: %w", err)
	}
	return &fsmSnapshot{snap: s, applied: f.machine.AppliedIndex()}, nil
}

// Restore replaces the machine's state with a snapshot written by Persist.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var h [snapshotHeader]byte
	if _, err := io.ReadFull(rc, h[:]); err != nil {
		return fmt.Errorf("consensus: restore: read header: %w", err)
	}
	if string(h[:4]) != snapshotMagic {
		return fmt.Errorf("consensus: restore: not a tokenledger snapshot")
	}
	if h[4] != snapshotVersion1 {
		return fmt.Errorf("consensus: restore: unknown snapshot version %d", h[4])
	}
	applied := binary.BigEndian.Uint64(h[5:])
	if err := f.machine.Restore(rc); err != nil {
		return fmt.Errorf("consensus: restore: %w", err)
	}
	// A restore replaces all state, the applied index with it, so waiters
	// must look again even if it went down.
	f.notify()
	// The header was written with the Machine's index (or, by earlier
	// versions, an index that also counted configuration log entries, so never
	// a smaller one). A Machine ahead of it restored something else.
	if got := f.machine.AppliedIndex(); got > applied {
		return fmt.Errorf("consensus: restore: machine reflects index %d, snapshot header says %d", got, applied)
	}
	return nil
}

// AppliedIndex is the raft index of the last command log entry reflected in
// the machine.
func (f *FSM) AppliedIndex() uint64 { return f.machine.AppliedIndex() }

func (f *FSM) notify() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitApplied blocks until the machine's applied index reaches index, or ctx
// ends.
func (f *FSM) waitApplied(ctx context.Context, index uint64) error {
	for {
		// Take the channel before reading the index: an apply that lands
		// in between closes this channel, so it is never missed.
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if f.machine.AppliedIndex() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// fsmSnapshot writes the envelope header and then the machine's snapshot.
type fsmSnapshot struct {
	snap    ledger.Snapshot
	applied uint64
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	var h [snapshotHeader]byte
	copy(h[:], snapshotMagic)
	h[4] = snapshotVersion1
	binary.BigEndian.PutUint64(h[5:], s.applied)
	if _, err := sink.Write(h[:]); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("consensus: persist snapshot header: %w", err)
	}
	if err := s.snap.Persist(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("consensus: persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.snap.Release() }
