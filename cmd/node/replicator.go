package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/consensus"
)

// replicator adapts a consensus.Node to the api.Replicator the handlers call,
// translating consensus errors into the API's sentinels (wrapped with %w so
// both stay visible to errors.Is).
type replicator struct {
	node *consensus.Node
}

var _ api.Replicator = replicator{}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, consensus.ErrUnknownOutcome):
		return fmt.Errorf("%w: %w", api.ErrUnknownOutcome, err)
	case errors.Is(err, consensus.ErrNotLeader):
		return fmt.Errorf("%w: %w", api.ErrNotLeader, err)
	case errors.Is(err, consensus.ErrNoLeader), errors.Is(err, consensus.ErrOverloaded), errors.Is(err, consensus.ErrClosed):
		// Nothing was applied; the client retries, with the same ids.
		return fmt.Errorf("%w: %w", api.ErrNoLeader, err)
	case errors.Is(err, consensus.ErrTooLarge):
		return &api.Error{Status: http.StatusRequestEntityTooLarge, Code: "TOO_LARGE", Message: "the request does not fit in one log entry; send fewer or smaller instructions"}
	}
	return err
}

func (r replicator) Propose(ctx context.Context, items [][]byte) ([][]byte, error) {
	out, err := r.node.Propose(ctx, items)
	return out, mapErr(err)
}

func (r replicator) ReadIndex(ctx context.Context) error { return mapErr(r.node.ReadIndex(ctx)) }

func (r replicator) AddVoter(ctx context.Context, id, raftAddr string) error {
	return mapErr(r.node.AddVoter(ctx, id, raftAddr))
}

func (r replicator) RemoveServer(ctx context.Context, id string) error {
	return mapErr(r.node.RemoveServer(ctx, id))
}

func (r replicator) Ready() bool { return r.node.Ready() }

func (r replicator) CaughtUp() bool { return r.node.CaughtUp() }

func (r replicator) Status() api.ClusterStatus {
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
