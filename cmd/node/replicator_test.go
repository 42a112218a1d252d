package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/consensus"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// fakeRaft is a single-node cluster that applies each proposal as the next
// log entry of a real ledger store. proposeFn, when set, replaces Propose;
// afterAddVoter runs once AddVoter has changed the configuration, as what
// another node commits meanwhile.
type fakeRaft struct {
	store *ledger.Store

	mu            sync.Mutex
	servers       []consensus.Server
	added         []string
	removed       []string
	proposeFn     func(items [][]byte) ([][]byte, error)
	afterAddVoter func(id string)
}

var _ raftNode = (*fakeRaft)(nil)

func newFakeRaft(t *testing.T) *fakeRaft {
	t.Helper()
	store, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true})
	if err != nil {
		t.Fatalf("ledger.Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	return &fakeRaft{store: store, servers: []consensus.Server{{ID: "n1", RaftAddr: "127.0.0.1:7000", Voter: true, Leader: true}}}
}

func (f *fakeRaft) Propose(_ context.Context, items [][]byte) ([][]byte, error) {
	if f.proposeFn != nil {
		return f.proposeFn(items)
	}
	return f.apply(items), nil
}

func (f *fakeRaft) apply(items [][]byte) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	index := f.store.AppliedIndex() + 1
	t := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	return f.store.Apply([]ledger.Batch{{Index: index, Term: 1, Time: t, Items: items}})[0]
}

func (f *fakeRaft) ReadIndex(context.Context) error { return nil }

func (f *fakeRaft) AddVoter(_ context.Context, id, raftAddr string) error {
	f.mu.Lock()
	f.added = append(f.added, id)
	f.servers = append(f.servers, consensus.Server{ID: id, RaftAddr: raftAddr, Voter: true})
	f.mu.Unlock()
	if f.afterAddVoter != nil {
		f.afterAddVoter(id)
	}
	return nil
}

func (f *fakeRaft) RemoveServer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	f.servers = slices.DeleteFunc(f.servers, func(s consensus.Server) bool { return s.ID == id })
	return nil
}

func (f *fakeRaft) Ready() bool    { return true }
func (f *fakeRaft) CaughtUp() bool { return true }

func (f *fakeRaft) Status() consensus.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return consensus.Status{ID: "n1", State: "Leader", Leader: "n1", Servers: slices.Clone(f.servers)}
}

func (f *fakeRaft) member(id string) bool {
	return slices.ContainsFunc(f.Status().Servers, func(s consensus.Server) bool { return s.ID == id })
}

func newTestReplicator(t *testing.T) (*replicator, *fakeRaft) {
	f := newFakeRaft(t)
	return newReplicator(f, f.store, slog.New(slog.DiscardHandler), func() bool { return false }), f
}

// TestReplicatorSubmit checks that instructions reach the ledger as their
// canonical items under the actor, and that outcomes come back in order.
func TestReplicatorSubmit(t *testing.T) {
	r, f := newTestReplicator(t)
	// The operator's first key registers the operator party.
	o, err := r.CreateKey(t.Context(), ledger.KeyRequest{PartyID: ledger.OperatorID, KeyHash: api.HashKey("tl_test-key")})
	if err != nil || o.Error != nil {
		t.Fatalf("CreateKey: %+v, %v", o, err)
	}
	if party, err := f.store.KeyParty(api.HashKey("tl_test-key")); err != nil || party != ledger.OperatorID {
		t.Errorf("key owner %q, %v; want the operator", party, err)
	}
	inss := []transfer.Instruction{
		{ID: "p-1", Type: transfer.TypeRegisterParty, Party: &transfer.PartySpec{ID: "aud", Role: "auditor"}},
		{ID: "p-2", Type: transfer.TypeRegisterParty, Party: &transfer.PartySpec{ID: "aud", Role: "auditor"}},
	}
	keyID := ledger.KeyID(api.HashKey("tl_test-key"))
	outs, err := r.Submit(t.Context(), ledger.OperatorID, keyID, inss)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if len(outs) != 2 || outs[0].ID != "p-1" || outs[0].Status != ledger.StatusAccepted || outs[1].ID != "p-2" || outs[1].Status != ledger.StatusRejected {
		t.Fatalf("outcomes %+v, want p-1 accepted and p-2 (a second aud) rejected", outs)
	}
	if p, err := f.store.Party("aud"); err != nil || p.ID != "aud" {
		t.Errorf("party aud after Submit: %+v, %v", p, err)
	}
	stored, err := f.store.Outcome("p-1")
	if err != nil || stored.Index != outs[0].Index || stored.Seq != outs[0].Seq {
		t.Errorf("recorded outcome of p-1 %+v, %v; answered %+v", stored, err, outs[0])
	}

	// Once the key is revoked, what it submitted is refused where it
	// applies, whatever the node that authenticated it knew, and the id
	// stays free; another of the party's keys may then use it.
	if out, err := r.RevokeKey(t.Context(), ledger.OperatorID, keyID); err != nil || out.Error != nil {
		t.Fatalf("RevokeKey: %+v, %v", out, err)
	}
	late := []transfer.Instruction{{ID: "p-3", Type: transfer.TypeRegisterParty, Party: &transfer.PartySpec{ID: "aud-2", Role: "auditor"}}}
	outs, err = r.Submit(t.Context(), ledger.OperatorID, keyID, late)
	if err != nil || len(outs) != 1 || outs[0].Error == nil || outs[0].Error.Code != ledger.ErrCodeUnauthenticated {
		t.Fatalf("a revoked key's instruction: %+v, %v; want an UNAUTHENTICATED error outcome", outs, err)
	}
	if _, err := f.store.Party("aud-2"); err == nil {
		t.Error("a revoked key's instruction registered aud-2")
	}
	o, err = r.CreateKey(t.Context(), ledger.KeyRequest{Actor: ledger.OperatorID, PartyID: ledger.OperatorID, KeyHash: api.HashKey("tl_second-key")})
	if err != nil || o.Error != nil {
		t.Fatalf("CreateKey: %+v, %v", o, err)
	}
	outs, err = r.Submit(t.Context(), ledger.OperatorID, ledger.KeyID(api.HashKey("tl_second-key")), late)
	if err != nil || len(outs) != 1 || outs[0].Status != ledger.StatusAccepted {
		t.Errorf("the same id through a valid key: %+v, %v; want accepted", outs, err)
	}
}

// TestReplicatorErrors checks how consensus failures and bad results reach
// the API: as its sentinels, so the client learns whether to retry.
func TestReplicatorErrors(t *testing.T) {
	tests := []struct {
		name    string
		propose func(items [][]byte) ([][]byte, error)
		want    error // a sentinel the error must wrap; nil for a fault
		status  int   // for an *api.Error
	}{
		{"no leader", func([][]byte) ([][]byte, error) { return nil, consensus.ErrNoLeader }, api.ErrNoLeader, 0},
		{"closed", func([][]byte) ([][]byte, error) { return nil, consensus.ErrClosed }, api.ErrNoLeader, 0},
		{"overloaded", func([][]byte) ([][]byte, error) {
			return nil, fmt.Errorf("queue full: %w", consensus.ErrOverloaded)
		}, api.ErrOverloaded, 0},
		{"outcome unknown", func([][]byte) ([][]byte, error) { return nil, consensus.ErrUnknownOutcome }, api.ErrUnknownOutcome, 0},
		{"too large", func([][]byte) ([][]byte, error) { return nil, consensus.ErrTooLarge }, nil, http.StatusRequestEntityTooLarge},
		{"wrong result count", func([][]byte) ([][]byte, error) { return nil, nil }, nil, 0},
		{"undecodable result", func([][]byte) ([][]byte, error) { return [][]byte{[]byte("{")}, nil }, nil, 0},
	}
	sentinels := []error{api.ErrNoLeader, api.ErrOverloaded, api.ErrUnknownOutcome, api.ErrNotLeader}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, f := newTestReplicator(t)
			f.proposeFn = tc.propose
			ins := transfer.Instruction{ID: "p-1", Type: transfer.TypeRegisterParty, Party: &transfer.PartySpec{ID: "aud", Role: "auditor"}}
			_, err := r.Submit(t.Context(), ledger.OperatorID, "", []transfer.Instruction{ins})
			if err == nil {
				t.Fatal("Submit succeeded")
			}
			var ae *api.Error
			switch {
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("error %v, want one wrapping %v", err, tc.want)
			case tc.status != 0 && (!errors.As(err, &ae) || ae.Status != tc.status):
				t.Errorf("error %v, want an api.Error with status %d", err, tc.status)
			case tc.want == nil && tc.status == 0 && slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }):
				t.Errorf("a fault %v was given a retry sentinel", err)
			}
		})
	}
}

// TestReplicatorMembership checks the two steps of a membership change and
// their compensation.
func TestReplicatorMembership(t *testing.T) {
	r, f := newTestReplicator(t)
	ctx := t.Context()
	n3 := ledger.NodeInfo{ID: "n3", RaftAddr: "127.0.0.1:7002", APIAddr: "127.0.0.1:8082"}
	if err := r.AddNode(ctx, n3); err != nil {
		t.Fatalf("AddNode n3: %v", err)
	}
	if nodes, err := f.store.Nodes(); err != nil || len(nodes) != 1 || nodes[0] != n3 || !f.member("n3") {
		t.Fatalf("after adding n3: replicated %+v %v, member %v", nodes, err, f.member("n3"))
	}

	if err := r.RemoveNode(ctx, "n9"); !errors.Is(err, api.ErrNotMember) {
		t.Errorf("removing a non-member: %v, want ErrNotMember", err)
	}
	if err := r.RemoveNode(ctx, "n3"); err != nil {
		t.Fatalf("RemoveNode n3: %v", err)
	}
	tomb := n3
	tomb.Removed = true
	if nodes, _ := f.store.Nodes(); len(nodes) != 1 || nodes[0] != tomb || f.member("n3") {
		t.Fatalf("after removing n3: replicated %+v, member %v; want the tombstone %+v", nodes, f.member("n3"), tomb)
	}

	// A removed id is refused before raft's configuration changes.
	if err := r.AddNode(ctx, ledger.NodeInfo{ID: "n3", RaftAddr: "127.0.0.1:7009", APIAddr: "127.0.0.1:8089"}); !errors.Is(err, api.ErrNodeRemoved) {
		t.Errorf("adding removed n3 again: %v, want ErrNodeRemoved", err)
	}
	if len(f.added) != 1 || len(f.removed) != 1 {
		t.Errorf("AddVoter %v, RemoveServer %v; want one each", f.added, f.removed)
	}

	// A removal of n4 that commits (through another leader) between the
	// check and the node item: the state machine refuses n4, so the
	// replicator takes it out of raft's configuration again.
	f.afterAddVoter = func(id string) {
		res := f.apply([][]byte{ledger.NodeItem(ledger.NodeInfo{ID: id, Removed: true})})
		if o, err := ledger.DecodeOutcome(res[0]); err != nil || o.Status != ledger.StatusAccepted {
			t.Errorf("tombstone for %s: %s", id, res[0])
		}
	}
	if err := r.AddNode(ctx, ledger.NodeInfo{ID: "n4", RaftAddr: "127.0.0.1:7003", APIAddr: "127.0.0.1:8083"}); !errors.Is(err, api.ErrNodeRemoved) {
		t.Errorf("adding n4 removed meanwhile: %v, want ErrNodeRemoved", err)
	}
	if len(f.removed) != 2 || f.removed[1] != "n4" || f.member("n4") {
		t.Errorf("RemoveServer calls %v, member n4 %v; want n4 taken out again", f.removed, f.member("n4"))
	}
}

// TestReplicatorBootstrapKeyIdempotent: the registrations a node proposes on
// every start include its operator key only until the ledger knows it, and
// proposing it again anyway journals nothing more; once revoked, a restart
// does not bring it back.
func TestReplicatorBootstrapKeyIdempotent(t *testing.T) {
	r, f := newTestReplicator(t)
	o := nodeOptions{id: "n1", apiAddr: "127.0.0.1:8080", raftAddr: "127.0.0.1:7000"}
	hash := api.HashKey("tl_bootstrap")
	first := pendingRegistrations(f.store, o, hash, nil)
	if len(first) != 2 {
		t.Fatalf("first start proposes %d items, want the key and the node", len(first))
	}
	f.apply(first)
	again := pendingRegistrations(f.store, o, hash, nil)
	if len(again) != 0 {
		t.Errorf("a second start proposes %d items, want none", len(again))
	}
	journal := func() uint64 {
		v, err := f.store.VerifyJournal()
		if err != nil || !v.OK {
			t.Fatalf("VerifyJournal: %+v, %v", v, err)
		}
		return v.Length
	}
	before := journal()
	if out, err := r.CreateKey(t.Context(), ledger.KeyRequest{PartyID: ledger.OperatorID, KeyHash: hash}); err != nil || out.Error != nil || out.Seq != 0 {
		t.Errorf("proposing the known key again: %+v, %v; want accepted, journaling nothing", out, err)
	}
	if out, err := r.RevokeKey(t.Context(), ledger.OperatorID, ledger.KeyID(hash)); err != nil || out.Status != ledger.StatusAccepted || out.Seq == 0 {
		t.Fatalf("RevokeKey: %+v, %v", out, err)
	}
	if got := journal(); got != before+1 {
		t.Errorf("journal length %d, want %d: one revoke_key", got, before+1)
	}
	if items := pendingRegistrations(f.store, o, hash, nil); len(items) != 0 {
		t.Errorf("after revocation a start proposes %d items, want none (the key stays revoked)", len(items))
	}
	if _, err := f.store.KeyOwner(hash); !errors.Is(err, ledger.ErrKeyRevoked) {
		t.Errorf("KeyOwner of the revoked bootstrap key: %v, want ErrKeyRevoked", err)
	}
}
