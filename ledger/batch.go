package ledger

import (
	"io"
	"time"
)

// Batch is the batch of a committed log entry as the state machine sees it:
// the leader's time stamp and the items coalesced into the log entry. Raft's
// log entries are consensus's business; the ledger sees only their batches,
// and its own journal entries are JournalEntry. Items are opaque to
// consensus; each is one encoded Item (see command.go) and yields one result.
type Batch struct {
	Index uint64
	Term  uint64
	Time  time.Time
	Items [][]byte
}

// Snapshot is a point-in-time copy of the state, taken quickly and written out
// later. Persist may run concurrently with Apply; Release must always be called.
type Snapshot interface {
	Persist(w io.Writer) error
	Release()
}

// Machine is the replicated state machine as consensus drives it. Store
// implements it; consensus adapts it to raft.FSM and raft.BatchingFSM.
//
// Apply is called from one goroutine only. It applies every batch whose Index is
// above AppliedIndex in one storage transaction and returns, for each batch, one
// result per item (JSON bytes); batches at or below AppliedIndex get nil results.
// It panics when the node cannot apply (storage failure, undecodable data), so
// the node stops and replays after a restart instead of diverging.
//
// AppliedIndex (the Index of the last batch applied or restored) and LastTime
// (its clamped time) are safe to call from any goroutine while Apply runs:
// consensus reads them for read-index waits and the leader's time stamp, and
// keeps no copy of its own.
type Machine interface {
	Apply(batches []Batch) [][][]byte
	Snapshot() (Snapshot, error)
	Restore(r io.Reader) error
	AppliedIndex() uint64
	LastTime() time.Time
}
