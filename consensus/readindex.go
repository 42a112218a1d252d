package consensus

// Linearizable reads: a read index from the leader, then waiting for the
// Machine to apply that far.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// ReadIndex returns once this node's Machine reflects every write committed
// before the call, so a local read that follows is linearizable. The leader
// commits a barrier log entry appended after the call (shared by concurrent
// reads); a follower asks the leader for its read index and waits until it
// has applied that far.
//
// Errors: ErrNoLeader (also when ctx ends before the leader answered),
// ErrClosed, or ctx's error while waiting to apply.
func (n *Node) ReadIndex(ctx context.Context) error {
	_, err := n.readIndex(ctx)
	return err
}

func (n *Node) readIndex(ctx context.Context) (uint64, error) {
	if n.isClosing() {
		return 0, ErrClosed
	}
	var index uint64
	err := n.route(ctx, func(ctx context.Context) error {
		var err error
		index, err = n.readIndexLocal(ctx)
		return err
	}, func(ctx context.Context, id, addr string) error {
		resp, err := n.forward(ctx, id, addr, rpcReadIndex, nil)
		if err != nil {
			// A read changes nothing, so an unknown outcome is just a failure.
			if errors.Is(err, ErrUnknownOutcome) {
				return fmt.Errorf("%w: %v", errStale, err)
			}
			return err
		}
		if len(resp) != 8 {
			return fmt.Errorf("%w: leader %s sent a malformed read index", errStale, id)
		}
		index = binary.BigEndian.Uint64(resp)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := n.WaitApplied(ctx, index); err != nil {
		return 0, err
	}
	return index, nil
}

// readIndexLocal runs the leader's side of a read: commit a barrier log entry
// appended after the read arrived (see readBarrier for why not a heartbeat
// round), check the term did not change, and return the applied index to
// wait for. That index counts only log entries the Machine sees, so a follower
// can reach it.
func (n *Node) readIndexLocal(ctx context.Context) (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, errStale
	}
	term := n.raft.CurrentTerm()
	if err := n.reads.wait(ctx); err != nil {
		return 0, n.readError(ctx, err)
	}
	if n.raft.CurrentTerm() != term {
		return 0, fmt.Errorf("%w: term changed during read", errStale)
	}
	return n.fsm.AppliedIndex(), nil
}

func (n *Node) readError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrClosed), n.isClosing():
		return ErrClosed
	case ctx.Err() != nil:
		return fmt.Errorf("%w: read index: %w", ErrNoLeader, ctx.Err())
	default:
		return fmt.Errorf("%w: read index: %v", errStale, err)
	}
}

// WaitApplied blocks until this node's Machine has applied the raft log up to
// index, or ctx ends.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.fsm.waitApplied(ctx, index)
}

// AppliedIndex is the raft index of the last log entry this node's Machine
// reflects: the last command, since configuration log entries never reach it.
func (n *Node) AppliedIndex() uint64 { return n.fsm.AppliedIndex() }
