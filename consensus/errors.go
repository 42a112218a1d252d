package consensus

import (
	"errors"
	"fmt"
)

// Operational errors. Test for them with errors.Is; the text may change.
//
// Precedence when several apply to one Propose call: ErrTooLarge and ErrClosed
// are decided before anything is queued; ErrUnknownOutcome wins over every
// other error once any part of the proposal was handed to raft.
var (
	// ErrNoLeader is returned when no leader is known, or when the leader that
	// was tried refused before the items reached the raft log, and a new leader
	// did not appear in time. Nothing was applied; retrying is safe.
	ErrNoLeader = errors.New("consensus: no leader")

	// ErrNotLeader is returned by leader-only operations (AddVoter,
	// RemoveServer) on a node that is not the leader. The error is a
	// *NotLeaderError naming the leader, if one is known.
	ErrNotLeader = errors.New("consensus: not leader")

	// ErrUnknownOutcome is returned once items were handed to raft but their
	// fate is unknown: the caller's deadline passed, leadership was lost, the
	// node shut down, or the connection to the leader broke after the request
	// was sent. The items may still be applied; retry with the same
	// instruction ids.
	ErrUnknownOutcome = errors.New("consensus: outcome unknown")

	// ErrOverloaded is returned when the proposal queue stayed full, or the
	// proposal waited in it, until the caller's context ended. Nothing was
	// applied; retrying later is safe.
	ErrOverloaded = errors.New("consensus: overloaded")

	// ErrClosed is returned by a node that is closing or closed, before the
	// items reached raft. Nothing was applied.
	ErrClosed = errors.New("consensus: node closed")

	// ErrTooLarge is returned when one item does not fit in a log entry
	// (Config.MaxEntryBytes) or a proposal exceeds Config.MaxProposalBytes.
	// Nothing was applied; retrying the same request cannot succeed.
	ErrTooLarge = errors.New("consensus: proposal too large")

	// ErrStateLost is returned by Start when the node has no raft state but a
	// bootstrap peer remembers it as a member that has run (Config.Remembers,
	// or raft traffic the peer exchanged with it):
	// its data directory was wiped or replaced, and with it the term and vote
	// raft must never forget. Starting anyway could let it vote twice in one
	// term. The node must be removed and added back under a new id.
	ErrStateLost = errors.New("consensus: this node's raft state is lost")
)

// errStale marks a request that a node refused before handing it to raft
// because it is not (or no longer) the leader. Propose and ReadIndex retry it
// against the next leader and report ErrNoLeader when they give up.
var errStale = errors.New("consensus: not the leader any more")

// NotLeaderError is returned by leader-only operations on a follower. It
// matches ErrNotLeader with errors.Is. LeaderID and LeaderAddr are empty when
// no leader is known.
type NotLeaderError struct {
	LeaderID   string
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return "consensus: not leader (no leader known)"
	}
	return fmt.Sprintf("consensus: not leader (leader is %s at %s)", e.LeaderID, e.LeaderAddr)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }
