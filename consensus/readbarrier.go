package consensus

import (
	"context"
	"sync"
)

// readBarrier proves leadership for linearizable reads by committing a raft
// barrier log entry that was appended after the read arrived. Concurrent reads
// share one barrier: a read joins the next barrier that has not started yet,
// never one already in flight, so the log entry that answers it was always
// appended after it arrived.
//
// Why not raft.VerifyLeader: in hashicorp/raft a verify future is counted as
// acknowledged by any successful AppendEntries response that arrives while it
// is pending, including the response to an RPC sent before the future existed.
// A leader frozen (SIGSTOP, a long GC or VM pause) right after sending a
// heartbeat resumes with that old "success" waiting in its socket, counts it,
// and answers a read from state that a newer leader has since overtaken. A
// barrier log entry cannot be committed by stale responses: commitment is counted
// per log index, and only a follower that accepted this log entry, in this term,
// can acknowledge it. The price is one log append (and fsync) per group of
// concurrent strong reads.
type readBarrier struct {
	barrierRunner

	mu      sync.Mutex // guards next and running
	next    *barrierCall
	running bool
}

// wait returns once a barrier appended after the call has been committed and
// everything before it applied, or with raft's error (ErrNotLeader,
// ErrLeadershipLost...) or ctx's.
func (b *readBarrier) wait(ctx context.Context) error {
	b.mu.Lock()
	if b.next == nil {
		b.next = &barrierCall{done: make(chan struct{})}
	}
	c := b.next
	if !b.running {
		if !b.spawn(b.loop) {
			b.mu.Unlock()
			return ErrClosed
		}
		b.running = true
	}
	b.mu.Unlock()
	return c.wait(ctx)
}

// loop issues one barrier per group of waiting reads until none is waiting.
func (b *readBarrier) loop() {
	for {
		b.mu.Lock()
		c := b.next
		b.next = nil
		if c == nil {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()

		c.err = b.barrier()
		close(c.done)
	}
}
