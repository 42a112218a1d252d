package main_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenledger/tokenledger/client"
)

// TestE2E_AddAndRemoveNode grows a running cluster through the API: a fourth
// node started with --join waits, the operator adds it with POST
// /v1/cluster/nodes, it catches up to the same journal and takes part in
// later writes; then DELETE /v1/cluster/nodes/n4 removes it, its id is
// refused from then on, and the three others carry on.
func TestE2E_AddAndRemoveNode(t *testing.T) {
	c := newCluster(t)
	leader, h := c.begin()

	addr := freeAddrs(t, 1)[0]
	n4 := &e2eProc{
		id: "n4", raftAddr: addr[0], apiAddr: addr[1],
		logPath:   filepath.Join(c.dir, "n4.log"),
		extraArgs: []string{"--join", "--raft-addr", addr[0], "--api-addr", addr[1]},
	}
	c.procs = append(c.procs, n4)
	i4 := len(c.procs) - 1
	c.start(i4)

	body := client.Node{ID: "n4", RaftAddr: n4.raftAddr, APIAddr: n4.apiAddr}
	addN4 := func(ctx context.Context, cl *client.Client) error { return cl.AddNode(ctx, body) }
	waitFor(t, e2eStartTimeout, "the leader to add n4", func() (bool, string) {
		leader = c.waitLeader(c.others(i4), e2eStartTimeout)
		status, err := c.onNode(leader, e2ePollTimeout, addN4)
		return err == nil && status == http.StatusOK, fmt.Sprintf("%d %v", status, err)
	})
	c.waitReady(i4)
	waitFor(t, e2eStartTimeout, "n4 listed as a voter with its API address", func() (bool, string) {
		s, err := c.status(leader)
		if err != nil {
			return false, err.Error()
		}
		for _, n := range s.Nodes {
			if n.ID == "n4" && n.Voter && n.APIAddr == n4.apiAddr {
				return len(s.Nodes) == 4, fmt.Sprintf("%+v", s.Nodes)
			}
		}
		return false, fmt.Sprintf("%+v", s.Nodes)
	})
	c.checkHistory(h, c.all())

	// Remove it again; the cluster of three keeps its journal.
	status, err := c.onNode(leader, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
		return cl.RemoveNode(ctx, "n4")
	})
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("DELETE /v1/cluster/nodes/n4 = %d %v, want 204", status, err)
	}
	waitFor(t, e2eStartTimeout, "n4 gone from the configuration", func() (bool, string) {
		s, err := c.status(leader)
		if err != nil {
			return false, err.Error()
		}
		return len(s.Nodes) == 3, fmt.Sprintf("%+v", s.Nodes)
	})
	// Its id is never taken again: a replacement joins under a new one.
	status, err = c.onNode(leader, e2ePollTimeout, addN4)
	if status != http.StatusConflict || !errors.Is(err, client.ErrIDReused) {
		t.Errorf("POST /v1/cluster/nodes n4 again = %d %v, want 409 ID_REUSED", status, err)
	}
	c.kill(i4)
	c.checkHistory(h, c.others(i4))
}

// TestE2E_WipedNodeRefused replaces a follower's disk with an empty one and
// restarts it. Raft must never forget a term or a vote, so the node must not
// bootstrap afresh as if new: a peer remembers it as a member that has run,
// and it refuses to start, naming the remedy. The others carry on.
func TestE2E_WipedNodeRefused(t *testing.T) {
	c := newCluster(t)
	c.startAll()
	leader := c.waitLeader(c.all(), e2eStartTimeout)
	victim := c.others(leader)[0]
	// A node registers itself (with its API address) once it serves; from
	// then on the cluster remembers it.
	waitFor(t, e2eStartTimeout, c.procs[victim].id+" registered", func() (bool, string) {
		s, err := c.status(leader)
		if err != nil {
			return false, err.Error()
		}
		for _, n := range s.Nodes {
			if n.ID == c.procs[victim].id && n.APIAddr == c.procs[victim].apiAddr {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", s.Nodes)
	})

	c.kill(victim)
	if err := os.RemoveAll(c.dataDir(victim)); err != nil {
		t.Fatal(err)
	}
	// Started as it was, and started with --join as if it were new: both
	// are refused.
	for _, args := range [][]string{nil, {"--join"}} {
		c.procs[victim].extraArgs = args
		starts := c.logCount(victim, "raft state is lost")
		c.start(victim)
		err := c.waitExit(victim)
		if err == nil || !c.procs[victim].reaped() {
			t.Fatalf("%s started on an empty disk with %q: exit %v, want a refusal", c.procs[victim].id, args, err)
		}
		if c.logCount(victim, "raft state is lost") == starts || !c.logHas(victim, "--join") {
			t.Fatalf("%s exited (%v) with %q without naming the lost state and the remedy", c.procs[victim].id, err, args)
		}
		if err := os.RemoveAll(c.dataDir(victim)); err != nil {
			t.Fatal(err)
		}
	}

	// The two others still decide writes.
	ins := client.Instruction{ID: "after-wipe", Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: "cus-after-wipe", Role: "custodian"}}
	waitFor(t, e2eStartTimeout, "a write on the remaining two", func() (bool, string) {
		status, err := c.onNode(leader, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
			_, err := cl.Submit(ctx, ins)
			return err
		})
		return err == nil && status == http.StatusOK, fmt.Sprintf("%d %v", status, err)
	})
}

// TestE2E_LateFirstStart starts two nodes of a new cluster, lets them elect
// a leader and register, and only then starts the third for the first time.
// It has no raft state either, like a wiped node, but no peer remembers it
// as having run, so it bootstraps with the same configuration and catches up.
func TestE2E_LateFirstStart(t *testing.T) {
	c := newCluster(t)
	early := []int{0, 1}
	for _, i := range early {
		c.start(i)
	}
	leader := c.waitLeader(early, e2eStartTimeout)
	waitFor(t, e2eStartTimeout, "the early nodes registered", func() (bool, string) {
		s, err := c.status(leader)
		if err != nil {
			return false, err.Error()
		}
		seen := 0
		for _, n := range s.Nodes {
			for _, i := range early {
				if n.ID == c.procs[i].id && n.APIAddr == c.procs[i].apiAddr {
					seen++
				}
			}
		}
		return seen == len(early), fmt.Sprintf("%+v", s.Nodes)
	})
	ins := client.Instruction{ID: "before-n3", Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: "cus-early", Role: "custodian"}}
	if status, err := c.onNode(leader, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
		_, err := cl.Submit(ctx, ins)
		return err
	}); err != nil || status != http.StatusOK {
		t.Fatalf("write before n3 starts: %d %v", status, err)
	}
	c.start(2)
	c.waitReady(2)
	c.waitConverged(c.all())
}
