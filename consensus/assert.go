package consensus

import "fmt"

// assert panics when cond is false. It guards invariants whose failure is a bug
// in this package or in raft, never a condition a caller can cause.
func assert(cond bool, format string, args ...any) {
	if !cond {
		panic(fmt.Sprintf("consensus: assertion failed: "+format, args...))
	}
}

// Log keys used across the package.
const (
	keyComponent = "component"
	keyIndex     = "raft_index"
	keyTerm      = "raft_term"
	keyLeader    = "leader"
	keyLeaderID  = "leader_id"
	keyPeer      = "peer"
	keyAddr      = "addr"
	keyError     = "error"
	keyItems     = "items"
	keyProposals = "proposals"
	keyBytes     = "bytes"
	keyDataDir   = "data_dir"
	keyLogStore  = "log_store"
	keySelf      = "self"
	keyServers   = "servers"
	keyChange    = "change"
	keyBackoff   = "backoff"
)
