package consensus

// Membership: who may connect, whether a peer remembers this node, and
// configuration changes on the leader.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// rememberTimeout bounds asking peers whether they remember this node; a
// peer that does not answer in time is not waited for.
const rememberTimeout = 3 * time.Second

// checkRemembered asks peers (the bootstrap peers, or a joining node's
// contacts), before a node without raft state bootstraps or waits to be
// added, whether their state remembers it as a member that has run. If one
// does, the node's disk was wiped or replaced: it would come back with no
// memory of its term and vote, and could vote twice in one term, so it
// refuses to start (ErrStateLost). A peer remembers a node its ledger
// records as active or one it has exchanged raft traffic with (heardPeers).
// Peers that cannot be reached are passed over: on a new cluster's first
// start they may not be up yet.
func (n *Node) checkRemembered(peers []Peer) error {
	ctx, cancel := context.WithTimeout(n.ctx, rememberTimeout)
	defer cancel()
	body := binary.BigEndian.AppendUint64(nil, uint64(rememberTimeout))
	body = append(body, n.cfg.ID...)
	type answer struct {
		peer       string
		remembered bool
		err        error
	}
	answers := make(chan answer, len(peers))
	asked := 0
	for _, p := range peers {
		if p.ID == n.cfg.ID {
			continue
		}
		asked++
		go func() {
			status, resp, _, err := n.rpc.Call(ctx, p.RaftAddr, p.ID, rpcRemembers, body)
			if err == nil && status != statusOK {
				err = fmt.Errorf("status %d: %s", status, resp)
			}
			answers <- answer{peer: p.ID, remembered: err == nil && len(resp) == 1 && resp[0] == 1, err: err}
		}()
	}
	for range asked {
		a := <-answers
		switch {
		case a.remembered:
			return fmt.Errorf("%w: %s remembers node %s as a member that has run, but %s holds no raft state (wiped or replaced?); "+
				"remove the node (DELETE /v1/cluster/nodes/%s) and add it back under a new id started with --join",
				ErrStateLost, a.peer, n.cfg.ID, n.cfg.DataDir, n.cfg.ID)
		case a.err != nil:
			n.logger.Info("could not ask a peer whether it remembers this node", keyPeer, a.peer, keyError, a.err)
		}
	}
	return nil
}

// admitPeer reports whether peer belongs to the cluster: a server of the
// latest raft configuration or, before raft runs, a bootstrap peer. A node
// with no configuration yet (waiting to be added with --join) admits any
// peer the cluster CA vouches for, since it learns its cluster from the
// leader's first connection.
func (n *Node) admitPeer(peer string) bool {
	if r := n.running.Load(); r != nil {
		f := r.GetConfiguration()
		if f.Error() != nil {
			return false
		}
		servers := f.Configuration().Servers
		return len(servers) == 0 || slices.ContainsFunc(servers, func(s raft.Server) bool { return string(s.ID) == peer })
	}
	return len(n.cfg.Peers) == 0 || slices.ContainsFunc(n.cfg.Peers, func(p Peer) bool { return p.ID == peer })
}

// resolvePeer returns the id of the node at a raft address, from the latest
// raft configuration or, before raft runs, the bootstrap peers.
func (n *Node) resolvePeer(addr string) string {
	if r := n.running.Load(); r != nil {
		if f := r.GetConfiguration(); f.Error() == nil {
			for _, s := range f.Configuration().Servers {
				if string(s.Address) == addr {
					return string(s.ID)
				}
			}
		}
	}
	for _, p := range n.cfg.Peers {
		if p.RaftAddr == addr {
			return p.ID
		}
	}
	return ""
}

func (n *Node) voters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	count := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			count++
		}
	}
	return count
}

// AddVoter adds (or re-adds) a voting member. It must run on the leader;
// elsewhere it returns a *NotLeaderError. A member with the same id or address
// but not both is removed first, as rqlite's join does; adding a voter that is
// already present is a no-op.
func (n *Node) AddVoter(ctx context.Context, id, raftAddr string) error {
	if err := validateID("id", id); err != nil {
		return err
	}
	if err := validateAddr("raftAddr", raftAddr); err != nil {
		return err
	}
	if err := n.leaderOnly(); err != nil {
		return err
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("consensus: add voter %s: configuration: %v", id, err)
	}
	for _, s := range f.Configuration().Servers {
		sameID, sameAddr := string(s.ID) == id, string(s.Address) == raftAddr
		switch {
		case sameID && sameAddr && s.Suffrage == raft.Voter:
			return nil
		case sameID || sameAddr:
			if err := n.changeMembership(ctx, "remove "+string(s.ID), func(t time.Duration) raft.IndexFuture {
				return n.raft.RemoveServer(s.ID, 0, t)
			}); err != nil {
				return err
			}
		}
	}
	return n.changeMembership(ctx, "add voter "+id, func(t time.Duration) raft.IndexFuture {
		return n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, t)
	})
}

// RemoveServer removes a member. It must run on the leader; elsewhere it
// returns a *NotLeaderError. Removing an unknown id is a no-op.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return n.changeMembership(ctx, "remove "+id, func(t time.Duration) raft.IndexFuture {
		return n.raft.RemoveServer(raft.ServerID(id), 0, t)
	})
}

func (n *Node) leaderOnly() error {
	if n.isClosing() {
		return ErrClosed
	}
	if n.raft.State() == raft.Leader {
		return nil
	}
	addr, id := n.raft.LeaderWithID()
	return &NotLeaderError{LeaderID: string(id), LeaderAddr: string(addr)}
}

// changeMembership runs one configuration change with ctx's deadline as
// raft's enqueue timeout.
func (n *Node) changeMembership(ctx context.Context, what string, change func(time.Duration) raft.IndexFuture) error {
	ctx, cancel := n.withDeadline(ctx)
	defer cancel()
	deadline, _ := ctx.Deadline()
	err := n.waitFuture(ctx, change(max(time.Until(deadline), time.Millisecond)))
	switch {
	case err == nil:
		n.logger.Info("membership changed", keyChange, what)
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		return n.leaderOnly()
	case errors.Is(err, ErrClosed):
		return ErrClosed
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %s: %v", ErrOverloaded, what, err)
	default:
		return fmt.Errorf("%w: %s: %v", ErrUnknownOutcome, what, err)
	}
}
