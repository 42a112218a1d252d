package consensus

import (
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
)

// heardKeyPrefix prefixes, in raft's stable store, the ids of the peers this
// node has exchanged raft traffic with.
const heardKeyPrefix = "tokenledger/heard/"

// heardPeers durably remembers every peer this node has exchanged raft
// traffic with: one that dialled it for raft, or answered on a raft
// connection it dialled. Such a peer was running raft on its state, so it
// may have voted or acknowledged log entries. If it later comes back without
// that state, this node remembers it (rpcRemembers) even when the ledger has
// not yet recorded it as active: that registration commits only once the
// node serves, seconds after its first vote.
//
// The record is written before the traffic reaches raft, so no vote or
// acknowledgement is ever counted from a peer this node could forget.
type heardPeers struct {
	store raft.StableStore
	mu    sync.Mutex // serialises writes, and guards known
	known map[string]bool
}

func newHeardPeers(store raft.StableStore) *heardPeers {
	return &heardPeers{store: store, known: map[string]bool{}}
}

// record makes id remembered, durably, before it returns nil.
func (h *heardPeers) record(id string) error {
	if id == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known[id] {
		return nil
	}
	if err := h.store.Set([]byte(heardKeyPrefix+id), []byte{1}); err != nil {
		return fmt.Errorf("consensus: record raft traffic from %s: %w", id, err)
	}
	h.known[id] = true
	return nil
}

// has reports whether this node ever exchanged raft traffic with id.
func (h *heardPeers) has(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known[id] {
		return true
	}
	v, err := h.store.Get([]byte(heardKeyPrefix + id))
	if err != nil || len(v) == 0 {
		return false
	}
	h.known[id] = true
	return true
}
