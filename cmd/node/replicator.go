package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/consensus"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// raftNode is what the replicator needs of a consensus.Node; the adapter's
// tests stand in for it.
type raftNode interface {
	Propose(ctx context.Context, items [][]byte) ([][]byte, error)
	ReadIndex(ctx context.Context) error
	AddVoter(ctx context.Context, id, raftAddr string) error
	RemoveServer(ctx context.Context, id string) error
	Ready() bool
	CaughtUp() bool
	Status() consensus.Status
}

var _ raftNode = (*consensus.Node)(nil)

// ledgerState is what the replicator reads of the ledger: the replicated
// node list, read before a membership change, and whether the state has
// passed its checks (a restored snapshot's runs beside Apply).
type ledgerState interface {
	Nodes() ([]ledger.NodeInfo, error)
	Verified() bool
}

// replicator adapts a consensus.Node to the typed api.Replicator the handlers
// call: it builds the ledger's log items, decodes their results, runs the
// two steps of a membership change, and translates consensus errors into
// the API's sentinels (wrapped with %w so both stay visible to errors.Is).
type replicator struct {
	node  raftNode
	nodes ledgerState
	log   *slog.Logger
	// failing reports a storage fault the node is stopping for.
	failing func() bool
	// membership serialises the membership changes made through this node,
	// so a removal cannot land between an addition's check of the removed
	// ids and its raft configuration change (see AddNode).
	membership sync.Mutex
}

var _ api.Replicator = (*replicator)(nil)

func newReplicator(node raftNode, nodes ledgerState, log *slog.Logger, failing func() bool) *replicator {
	return &replicator{node: node, nodes: nodes, log: log, failing: failing}
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, consensus.ErrUnknownOutcome):
		return fmt.Errorf("%w: %w", api.ErrUnknownOutcome, err)
	case errors.Is(err, consensus.ErrNotLeader):
		return fmt.Errorf("%w: %w", api.ErrNotLeader, err)
	case errors.Is(err, consensus.ErrOverloaded):
		// The leader is up but its queue stayed full: nothing was applied,
		// and the client should back off rather than look for a leader.
		return fmt.Errorf("%w: %w", api.ErrOverloaded, err)
	case errors.Is(err, consensus.ErrNoLeader), errors.Is(err, consensus.ErrClosed):
		// Nothing was applied; the client retries, with the same ids.
		return fmt.Errorf("%w: %w", api.ErrNoLeader, err)
	case errors.Is(err, consensus.ErrTooLarge):
		return &api.Error{Status: http.StatusRequestEntityTooLarge, Code: api.CodeTooLarge, Message: "the request does not fit in one log entry; send fewer or smaller instructions"}
	}
	return err
}

// propose replicates items in one proposal and decodes their outcomes.
func (r *replicator) propose(ctx context.Context, items [][]byte) ([]ledger.Outcome, error) {
	results, err := r.node.Propose(ctx, items)
	if err != nil {
		return nil, mapErr(err)
	}
	if len(results) != len(items) {
		return nil, fmt.Errorf("propose: %d results for %d items", len(results), len(items))
	}
	outs := make([]ledger.Outcome, len(results))
	for i, res := range results {
		if outs[i], err = ledger.DecodeOutcome(res); err != nil {
			return nil, fmt.Errorf("propose: result %d: %w", i, err)
		}
	}
	return outs, nil
}

func (r *replicator) Submit(ctx context.Context, actor, keyID string, inss []transfer.Instruction) ([]ledger.Outcome, error) {
	items := make([][]byte, len(inss))
	for i, ins := range inss {
		items[i] = ledger.KeyedInstructionItem(actor, keyID, transfer.Encode(ins))
	}
	return r.propose(ctx, items)
}

func (r *replicator) CreateKey(ctx context.Context, req ledger.KeyRequest) (ledger.Outcome, error) {
	return r.proposeOne(ctx, ledger.KeyRequestItem(req))
}

// RevokeKey replicates the revocation, which takes effect on every node as
// it applies the log entry: each refuses the key from then on.
func (r *replicator) RevokeKey(ctx context.Context, actor, keyID string) (ledger.Outcome, error) {
	return r.proposeOne(ctx, ledger.RevokeKeyItem(actor, keyID))
}

func (r *replicator) proposeOne(ctx context.Context, item []byte) (ledger.Outcome, error) {
	outs, err := r.propose(ctx, [][]byte{item})
	if err != nil {
		return ledger.Outcome{}, err
	}
	return outs[0], nil
}

// AddNode adds the node to raft's configuration, then replicates its
// addresses. The removed-id check runs twice: here, so raft never takes a
// voter the ledger would refuse, and in the state machine, which decides.
// If a removal through another leader commits between the two, the state
// machine refuses the node item, and the voter is taken out again.
func (r *replicator) AddNode(ctx context.Context, n ledger.NodeInfo) error {
	r.membership.Lock()
	defer r.membership.Unlock()
	known, err := r.nodes.Nodes()
	if err != nil {
		return fmt.Errorf("read nodes: %w", err)
	}
	if slices.ContainsFunc(known, func(k ledger.NodeInfo) bool { return k.ID == n.ID && k.Removed }) {
		// The removed node may have voted under this id: a replacement on
		// an empty disk must not inherit it (raft would let it vote twice).
		return fmt.Errorf("%w: %s", api.ErrNodeRemoved, n.ID)
	}
	if err := r.node.AddVoter(ctx, n.ID, n.RaftAddr); err != nil {
		return fmt.Errorf("add voter: %w", mapErr(err))
	}
	code, err := r.proposeNode(ctx, n)
	if code == ledger.ErrCodeIDReused {
		if rerr := r.node.RemoveServer(ctx, n.ID); rerr != nil {
			return fmt.Errorf("undo adding removed node %s: %w", n.ID, mapErr(rerr))
		}
		r.log.Warn("node not added: its id was removed meanwhile", "node", n.ID)
		return fmt.Errorf("%w: %s", api.ErrNodeRemoved, n.ID)
	}
	return err
}

// RemoveNode takes the node out of raft's configuration, then replicates its
// removal, which keeps its id from ever being added again.
func (r *replicator) RemoveNode(ctx context.Context, id string) error {
	r.membership.Lock()
	defer r.membership.Unlock()
	if !slices.ContainsFunc(r.node.Status().Servers, func(s consensus.Server) bool { return s.ID == id }) {
		return fmt.Errorf("%w: %s", api.ErrNotMember, id)
	}
	if err := r.node.RemoveServer(ctx, id); err != nil {
		return fmt.Errorf("remove server: %w", mapErr(err))
	}
	_, err := r.proposeNode(ctx, ledger.NodeInfo{ID: id, Removed: true})
	return err
}

// proposeNode replicates a node's addresses or removal. A refusal by the
// state machine comes back as an error with its code.
func (r *replicator) proposeNode(ctx context.Context, n ledger.NodeInfo) (code string, err error) {
	outs, err := r.propose(ctx, [][]byte{ledger.NodeItem(n)})
	if err != nil {
		return "", err
	}
	if e := outs[0].Error; e != nil {
		return e.Code, fmt.Errorf("node item outcome %s: %s", e.Code, e.Message)
	}
	return "", nil
}

func (r *replicator) ReadIndex(ctx context.Context) error { return mapErr(r.node.ReadIndex(ctx)) }

func (r *replicator) Ready() bool { return !r.Failing() && r.node.Ready() }

func (r *replicator) Failing() bool { return r.failing() }

// CaughtUp is false until the node has caught up with the cluster once,
// and while the state restored from a snapshot is still being checked: a
// read must not serve a state that may yet fail its checks.
func (r *replicator) CaughtUp() bool { return r.node.CaughtUp() && r.nodes.Verified() }

func (r *replicator) Status() api.ClusterStatus {
	s := r.node.Status()
	out := api.ClusterStatus{ID: s.ID, State: s.State, Leader: s.Leader, Term: s.Term, CommitIndex: s.CommitIndex, AppliedIndex: s.AppliedIndex}
	for _, srv := range s.Servers {
		state := "Follower"
		switch {
		case srv.Leader:
			state = "Leader"
		case srv.ID == s.ID:
			state = s.State
		case !srv.Voter:
			state = "Nonvoter"
		}
		out.Nodes = append(out.Nodes, api.NodeStatus{ID: srv.ID, RaftAddr: srv.RaftAddr, State: state, Voter: srv.Voter})
	}
	return out
}
