package consensus

// A point-in-time view of the node for operators and the API.

import (
	"time"

	"github.com/hashicorp/raft"
)

// Status is a point-in-time view of the node.
type Status struct {
	ID           string
	State        string // Follower, Candidate, Leader or Shutdown
	Leader       string // leader's id; empty when unknown
	LeaderAddr   string
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64    // last (command) log entry reflected in the Machine
	LastContact  time.Time // last contact with the leader; zero on the leader
	Ready        bool
	Servers      []Server
}

// Server is one member of the latest raft configuration.
type Server struct {
	ID       string
	RaftAddr string
	Voter    bool
	Leader   bool
}

// Status reports the node's view of the cluster.
func (n *Node) Status() Status {
	addr, id := n.raft.LeaderWithID()
	s := Status{
		ID:           n.cfg.ID,
		State:        n.raft.State().String(),
		Leader:       string(id),
		LeaderAddr:   string(addr),
		Term:         n.raft.CurrentTerm(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.fsm.AppliedIndex(),
		LastContact:  n.raft.LastContact(),
		Ready:        n.Ready(),
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			s.Servers = append(s.Servers, Server{
				ID:       string(srv.ID),
				RaftAddr: string(srv.Address),
				Voter:    srv.Suffrage == raft.Voter,
				Leader:   srv.ID == id,
			})
		}
	}
	return s
}
