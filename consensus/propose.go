package consensus

// Writes: a proposal is checked here, then queued for the local pipeline
// (pipeline.go) on the leader or forwarded to it (forwarder.go).

import (
	"context"
	"fmt"

	"github.com/hashicorp/raft"
)

// Propose replicates items and returns one result per item, as the Machine
// produced them. On a follower the items are forwarded to the leader. Items
// travel in log entries of at most Config.MaxBatchItems items and
// Config.MaxEntryBytes bytes, shared with concurrent proposals; a larger
// proposal is split across log entries and is then not atomic. Items are not
// copied; the caller must not change them until Propose returns.
//
// Errors: ErrTooLarge, ErrClosed, ErrNoLeader, ErrOverloaded (nothing
// applied) and ErrUnknownOutcome (retry with the same instruction ids).
func (n *Node) Propose(ctx context.Context, items [][]byte) ([][]byte, error) {
	if n.isClosing() {
		return nil, ErrClosed
	}
	size, err := n.checkProposal(items)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return [][]byte{}, nil
	}
	var results [][]byte
	err = n.route(ctx, func(ctx context.Context) error {
		results, err = n.proposeLocal(ctx, items, size)
		return err
	}, func(ctx context.Context, id, addr string) error {
		ctx, cancel := n.withDeadline(ctx)
		defer cancel()
		results, err = n.fwd.propose(ctx, id, addr, items)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// checkProposal returns the bytes items occupy in log entries, or ErrTooLarge.
func (n *Node) checkProposal(items [][]byte) (int, error) {
	size := 0
	for i, it := range items {
		if len(it) > n.cfg.maxItemBytes() {
			return 0, fmt.Errorf("%w: item %d has %d bytes, at most %d fit in a log entry", ErrTooLarge, i, len(it), n.cfg.maxItemBytes())
		}
		size += itemCost(len(it))
		if size > n.cfg.MaxProposalBytes {
			return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, n.cfg.MaxProposalBytes)
		}
	}
	return size, nil
}

// proposeLocal queues items for this node's write pipeline; it refuses with
// errStale unless this node leads.
func (n *Node) proposeLocal(ctx context.Context, items [][]byte, size int) ([][]byte, error) {
	if n.raft.State() != raft.Leader {
		return nil, errStale
	}
	if err := n.pipe.budget.acquire(ctx, n.stop, size); err != nil {
		return nil, err
	}
	pr := newProposal(ctx, items, size)
	select {
	case n.pipe.queue <- pr:
	case <-ctx.Done():
		n.pipe.budget.release(size)
		return nil, fmt.Errorf("%w: queue full: %w", ErrOverloaded, ctx.Err())
	case <-n.stop:
		n.pipe.budget.release(size)
		return nil, ErrClosed
	}
	select {
	case r := <-pr.done:
		return r.results, r.err
	case <-ctx.Done():
	case <-n.stop:
	}
	if pr.state.CompareAndSwap(stateQueued, stateAbandoned) {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: waited in the queue: %w", ErrOverloaded, ctx.Err())
		}
		return nil, ErrClosed
	}
	// The batcher took the proposal; whoever holds it reports soon (raft
	// answers flights at the latest during shutdown), but the
	// caller's context is the limit.
	select {
	case r := <-pr.done:
		return r.results, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	}
}
