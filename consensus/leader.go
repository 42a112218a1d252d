package consensus

// Following the leader: raft's observations, routing a request to the
// leader, and readiness once this node has caught up under it.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// route runs a request on the leader: local when this node leads, remote
// otherwise. It tries again, up to maxRouteAttempts times, when the node it
// tried refused with errStale (nothing happened there), waiting for the leader
// to change in between.
func (n *Node) route(ctx context.Context, local func(context.Context) error, remote func(ctx context.Context, id, addr string) error) error {
	var last error
	for range maxRouteAttempts {
		changed := n.leaderChanged()
		addr, id := n.raft.LeaderWithID()
		var err error
		switch {
		case id == "":
			err = fmt.Errorf("%w: no leader known", errStale)
		case string(id) == n.cfg.ID:
			err = local(ctx)
		default:
			err = remote(ctx, string(id), string(addr))
		}
		if !errors.Is(err, errStale) {
			return err
		}
		last = err
		if err := n.awaitLeaderChange(ctx, changed); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: %v", ErrNoLeader, last)
}

// awaitLeaderChange waits until changed is closed or Config.LeaderWait passes.
func (n *Node) awaitLeaderChange(ctx context.Context, changed <-chan struct{}) error {
	t := time.NewTimer(n.cfg.LeaderWait)
	defer t.Stop()
	select {
	case <-changed:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
	case <-n.stop:
		return ErrClosed
	}
}

// IsLeader reports whether this node is the leader right now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Ready reports whether the node knows a leader, has applied everything
// that was committed when it learnt of that leader (checked with a read
// index), and has not trailed the commit index by more than ReadyLagEntries
// for longer than ReadyLagGrace since. /readyz should use it.
func (n *Node) Ready() bool {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderID != "" && n.ready.Load() && !n.lagging.Load()
}

// CaughtUp reports whether the node has been Ready at least once since it
// started: its Machine then holds everything committed before the start,
// including what it had applied before a crash but not yet made durable.
// Until then its local state may be older than what it showed before, so
// the API refuses to serve from it.
func (n *Node) CaughtUp() bool { return n.caughtUp.Load() }

// leaderChanged returns a channel that is closed at the next change of leader
// (including to "no leader"). Take a new channel after each change.
func (n *Node) leaderChanged() chan struct{} {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderCh
}

// monitor follows leader changes reported by raft.
func (n *Node) monitor(observations <-chan raft.Observation) {
	n.observeLeader()
	for {
		select {
		case <-observations:
			n.observeLeader()
		case <-n.stop:
			return
		}
	}
}

func (n *Node) observeLeader() {
	addr, id := n.raft.LeaderWithID()
	n.leaderMu.Lock()
	if string(id) == n.leaderID && string(addr) == n.leaderAddr {
		n.leaderMu.Unlock()
		return
	}
	n.leaderID, n.leaderAddr = string(id), string(addr)
	n.leaderEpoch++
	n.ready.Store(false)
	close(n.leaderCh)
	n.leaderCh = make(chan struct{})
	n.leaderMu.Unlock()
	if id == "" {
		n.logger.Info("no leader", keyTerm, n.raft.CurrentTerm())
	} else {
		n.logger.Info("leader changed", keyLeaderID, string(id), keyLeader, string(addr), keyTerm, n.raft.CurrentTerm(), keySelf, string(id) == n.cfg.ID)
	}
	select {
	case n.readyKick <- struct{}{}:
	default:
	}
}

// readiness sets ready once a read index succeeds under the current leader,
// retrying every heartbeat timeout until it does.
func (n *Node) readiness() {
	var retry <-chan time.Time
	for {
		select {
		case <-n.readyKick:
		case <-retry:
		case <-n.stop:
			return
		}
		retry = nil
		n.leaderMu.Lock()
		epoch, leader := n.leaderEpoch, n.leaderID
		n.leaderMu.Unlock()
		if leader == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ApplyTimeout)
		_, err := n.readIndex(ctx)
		cancel()
		n.leaderMu.Lock()
		current := n.leaderEpoch == epoch
		if err == nil && current {
			n.ready.Store(true)
			n.caughtUp.Store(true)
		}
		n.leaderMu.Unlock()
		if err != nil && current && !n.isClosing() {
			n.logger.Debug("not ready yet", keyError, err)
			retry = time.After(n.cfg.HeartbeatTimeout)
		}
	}
}
