package consensus

// Readiness that tells the truth: a node whose Machine has fallen far behind
// the commit index it knows of, for a while, serves reads from an old state
// and should take no traffic until it catches up.

import (
	"context"
	"time"
)

const (
	// ReadyLagEntries is how many log entries the Machine may trail the
	// commit index this node knows of (the leader's, as of its last
	// heartbeat) while the node still counts as ready. Bursts pass it
	// briefly: a follower applies in batches of up to MaxAppendEntries.
	ReadyLagEntries = 10_000
	// ReadyLagGrace is how long the Machine may trail by more than
	// ReadyLagEntries before the node reports itself not ready.
	ReadyLagGrace = 5 * time.Second
	// lagCheckInterval is how often the lag is sampled.
	lagCheckInterval = 250 * time.Millisecond
)

// lagState decides, from samples of the commit and applied indexes, whether
// the node has trailed by more than entries for longer than grace. It holds
// no lock: one goroutine samples it.
type lagState struct {
	entries uint64
	grace   time.Duration
	since   time.Time // when the lag last went above entries; zero: within it
}

// sample records one observation and reports whether the node lags.
func (l *lagState) sample(now time.Time, commit, applied uint64) bool {
	if commit <= applied || commit-applied <= l.entries {
		l.since = time.Time{}
		return false
	}
	if l.since.IsZero() {
		l.since = now
	}
	return now.Sub(l.since) > l.grace
}

// watchLag samples the lag until the node closes and keeps n.lagging current;
// Ready reads it. It recovers by itself once the Machine catches up.
func (n *Node) watchLag() {
	l := lagState{entries: ReadyLagEntries, grace: ReadyLagGrace}
	tick := time.NewTicker(lagCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case now := <-tick.C:
			lagging := l.sample(now, n.raft.CommitIndex(), n.fsm.AppliedIndex())
			if was := n.lagging.Swap(lagging); was != lagging {
				n.logger.Warn("readiness changed: the state machine's lag behind the commit index", "lagging", lagging,
					"commit_index", n.raft.CommitIndex(), "applied_index", n.fsm.AppliedIndex())
			}
		}
	}
}

// HandOver transfers leadership to another voter if this node leads, within
// ctx and Config.TransferTimeout. It is for a node about to stop without
// Close, after a storage fault, whose raft may no longer make progress.
func (n *Node) HandOver(ctx context.Context) { n.transferLeadership(ctx) }
