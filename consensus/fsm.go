package consensus

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tokenledger/tokenledger/ledger"
)

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
	_ raft.FSMSnapshot = (*fsmSnapshot)(nil)
)

// Snapshot envelope: the Machine's snapshot follows a fixed header that records
// the raft index the snapshot reflects, so a node restored from it knows which
// index its state has reached (raft does not tell FSM.Restore).
//
//	magic    4 bytes  "TLSN"
//	version  byte     = 1
//	applied  8 bytes  big-endian uint64
const (
	snapshotMagic    = "TLSN"
	snapshotVersion1 = 1
	snapshotHeader   = len(snapshotMagic) + 1 + 8
)

// FSM adapts a ledger.Machine to raft.BatchingFSM. It decodes entries into
// ledger.Batches, clamps their time stamps so time never goes backwards, and
// tracks the applied index so readers can wait for it.
//
// raft calls Apply, ApplyBatch, Snapshot and Restore from one goroutine; the
// index accessors are safe from any goroutine.
type FSM struct {
	machine ledger.Machine

	mu sync.Mutex // guards the fields below
	// applied is the raft index of the last entry reflected in the machine:
	// the last command or configuration entry delivered, or the index a
	// restored snapshot reflects. Equal on every node for the same log.
	applied uint64
	// processed is at least applied; it also counts barrier entries known to
	// be applied, which raft never delivers to the FSM.
	processed uint64
	// lastTime is the time of the last applied batch.
	lastTime time.Time
	// changed is closed and replaced whenever applied or processed grows.
	changed chan struct{}
}

// NewFSM returns an FSM over m, starting from m's applied index and time.
func NewFSM(m ledger.Machine) *FSM {
	applied := m.AppliedIndex()
	return &FSM{
		machine:   m,
		applied:   applied,
		processed: applied,
		lastTime:  m.LastTime(),
		changed:   make(chan struct{}),
	}
}

// Apply applies one log entry; raft uses ApplyBatch instead when it can.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies the command entries among logs in one Machine.Apply call
// and returns one response per log: the item results ([][]byte) for a command,
// nil for anything else. It panics on an entry it cannot decode, as Vault and
// rqlite do: skipping it would make this node diverge, and a panic makes it
// replay after a restart instead.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	responses := make([]any, len(logs))
	if len(logs) == 0 {
		return responses
	}
	batches := make([]ledger.Batch, 0, len(logs))
	slots := make([]int, 0, len(logs))
	// The leader stamps max(now, last stamp, applied time), but a new leader
	// whose clock is behind can still stamp an entry before the last one
	// applied. Clamping here, from the machine's own state, is deterministic,
	// so every node sees the same non-decreasing times.
	last := f.machine.LastTime()
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		e, err := decodeEntry(l.Data)
		if err != nil {
			panic(fmt.Sprintf("consensus: cannot apply log entry %d (term %d): %v", l.Index, l.Term, err))
		}
		t := e.Time
		if t.Before(last) {
			t = last
		}
		last = t
		batches = append(batches, ledger.Batch{Index: l.Index, Term: l.Term, Time: t, Items: e.Items})
		slots = append(slots, i)
	}
	if len(batches) > 0 {
		results := f.machine.Apply(batches)
		assert(len(results) == len(batches), "machine returned %d results for %d batches", len(results), len(batches))
		for j, r := range results {
			assert(r == nil || len(r) == len(batches[j].Items),
				"machine returned %d results for %d items at index %d", len(r), len(batches[j].Items), batches[j].Index)
			responses[slots[j]] = r
		}
	}
	f.advance(logs[len(logs)-1].Index, last)
	return responses
}

// Snapshot captures the machine's state; Persist writes it later.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	s, err := f.machine.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("consensus: snapshot: %w", err)
	}
	return &fsmSnapshot{snap: s, applied: f.AppliedIndex()}, nil
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
	f.mu.Lock()
	defer f.mu.Unlock()
	// A restore replaces all state, so the indexes are set, not raised.
	f.applied = applied
	f.processed = applied
	f.lastTime = f.machine.LastTime()
	f.notifyLocked()
	return nil
}

// AppliedIndex is the raft index of the last entry reflected in the machine.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// lastApplied is the time of the last applied batch.
func (f *FSM) lastApplied() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastTime
}

// advance records that every entry up to index has been applied.
func (f *FSM) advance(index uint64, last time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// With NoSnapshotRestoreOnStart a durable machine may start ahead of the
	// entries raft replays; those batches are skipped by the machine and must
	// not move the index back.
	if index <= f.applied {
		return
	}
	f.applied = index
	f.processed = max(f.processed, index)
	f.lastTime = last
	f.notifyLocked()
}

// noteBarrier records that a barrier at index completed: every entry up to it
// has been applied.
func (f *FSM) noteBarrier(index uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if index > f.processed {
		f.processed = index
		f.notifyLocked()
	}
}

func (f *FSM) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitApplied blocks until applied >= index.
func (f *FSM) waitApplied(ctx context.Context, index uint64) error {
	return f.wait(ctx, func() bool { return f.applied >= index })
}

// waitProcessed blocks until processed >= index.
func (f *FSM) waitProcessed(ctx context.Context, index uint64) error {
	return f.wait(ctx, func() bool { return f.processed >= index })
}

// wait blocks until reached (called with mu held) is true or ctx ends.
func (f *FSM) wait(ctx context.Context, reached func() bool) error {
	for {
		f.mu.Lock()
		ok, ch := reached(), f.changed
		f.mu.Unlock()
		if ok {
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
