// Package consensus replicates the ledger with hashicorp/raft.
//
// It owns raft itself, the log and stable store (raft-boltdb, or raft-wal
// where chosen; MigrateLogStore moves one), file snapshots,
// the node-to-node transport (one TCP port, optionally mutual TLS, carrying both
// raft traffic and an internal RPC; in internal/transport), bootstrap,
// membership, the leader's time stamps, proposal batching, forwarding from
// followers to the leader, and linearizable reads (read index).
//
// The replicated state machine is a ledger.Machine; FSM adapts it to
// raft.BatchingFSM and stays a thin wrapper (rqlite's store/fsm.go is the model).
// consensus imports ledger only for Batch, Snapshot and Machine, and never
// imports api, echo or net/http.
//
// # Basics
//
// Open starts a node and Close stops it. Propose hands opaque items to the
// leader (directly, or forwarded by a follower), which coalesces concurrent
// proposals into one raft log entry stamped with the leader's time, and
// returns one result per item once the log entry is committed and applied.
// ReadIndex makes a following local read linearizable.
//
// # Errors
//
// ErrNoLeader, ErrOverloaded, ErrClosed and ErrTooLarge mean nothing was
// applied. ErrUnknownOutcome means the items may or may not have been applied:
// retry with the same instruction ids, which the ledger deduplicates.
//
// # Concurrency
//
// All Node methods are safe for concurrent use. FSM methods are called by raft:
// Apply, ApplyBatch, Snapshot and Restore from raft's single FSM goroutine, and
// snapshot Persist concurrently with ApplyBatch. The Machine's Apply, Snapshot
// and Restore are only called from raft's FSM goroutine; its AppliedIndex and
// LastTime are also called from any goroutine (readers waiting for an index,
// the leader stamping a log entry), so they must be safe for concurrent use.
// Every goroutine the package starts is owned by the Node and stopped by Close.
package consensus
