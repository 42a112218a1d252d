//go:build unix

package main_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/client"
)

// raftTerm is node i's current raft term.
func (c *e2eCluster) raftTerm(i int) uint64 {
	c.t.Helper()
	s, err := c.status(i)
	if err != nil {
		c.t.Fatal(err)
	}
	return s.Term
}

// e2eCutTimeout bounds a request sent to a node cut off from the others: it
// can only be refused or time out, and the test waits for either.
const e2eCutTimeout = 3 * time.Second

// TestE2E_Partition cuts one node off from the other two (a blackhole on
// the raft port: bytes stop arriving, nothing is refused), both ways or only
// the way in (the node is heard but hears nothing), while clients write
// through every node, including the cut-off one, which clients can still
// reach. The majority keeps deciding writes; a cut-off follower unseats its
// leader neither while cut off nor when it comes back (pre-vote); the
// cut-off node acknowledges nothing and serves no strong read; once healed it
// follows the majority's leader and catches up. No acknowledged write is lost or applied twice and every node
// serves the same verified journal.
func TestE2E_Partition(t *testing.T) {
	tests := []struct {
		name      string
		cutLeader bool
		deaf      bool // only what the node receives is cut
	}{
		{"leader cut off", true, false},
		{"follower cut off", false, false},
		{"leader deaf", true, true},
		{"follower deaf", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newNetCluster(t)
			leader, h := c.begin()
			w := c.startWriters(h, "pt", e2eWriters, e2eWriterMaxOps, uint64(time.Now().UnixNano()))
			w.waitDecided(20, e2eProgressWait, "writes before the cut")

			cut := c.others(leader)[0]
			if tc.cutLeader {
				cut = leader
			}
			t.Logf("cut %s off (leader %s, deaf %v)", c.procs[cut].id, c.procs[leader].id, tc.deaf)
			if tc.deaf {
				c.net.deafen(cut)
			} else {
				c.net.isolate(cut)
			}
			majority := c.others(cut)
			before := leader
			termBefore := c.raftTerm(before)
			leader = c.waitLeader(majority, e2eElectionWait)
			t.Logf("majority's leader %s", c.procs[leader].id)
			if tc.cutLeader {
				// A leader that cannot reach a quorum steps down when its
				// lease runs out, so no client mistakes it for the leader.
				waitFor(t, e2eElectionWait, c.procs[cut].id+" to stop leading", func() (bool, string) {
					s, err := c.status(cut)
					if err != nil {
						return false, err.Error()
					}
					return s.State != "Leader", s.State
				})
			}
			w.waitDecided(20, e2eProgressWait, "writes with a node cut off")
			if !tc.cutLeader {
				// The others refuse the cut-off follower's votes while they
				// hear a leader.
				if now := c.waitLeader(majority, e2eElectionWait); now != before {
					t.Errorf("leader moved from %s to %s while only a follower was cut off", c.procs[before].id, c.procs[now].id)
				}
			}

			// Decided by the majority while the node is cut off; the cut-off
			// node must neither claim to have it nor claim it does not exist.
			probe := c.mustSubmit(h, transferOp(newRand(11), "probe"), leader, "accepted")
			// Both go to the cut-off node alone, sent once: the client's
			// retry on another node would answer for the majority.
			var got outcome
			status, err := c.onNode(cut, e2eCutTimeout, func(ctx context.Context, cl *client.Client) error {
				return cl.Get(ctx, "/v1/instructions/probe?consistency=strong", &got)
			})
			if !client.IsUnknownOutcome(err) {
				t.Errorf("strong read of %s at cut-off %s: %d %s (%v), want 503 or no answer", describe(probe), c.procs[cut].id, status, describe(got), err)
			}
			h.attempt("cut-write")
			status, err = c.onNode(cut, e2eCutTimeout, func(ctx context.Context, cl *client.Client) error {
				got, err = cl.Submit(ctx, transferOp(newRand(12), "cut-write"))
				return err
			})
			if !client.IsUnknownOutcome(err) {
				t.Errorf("write at cut-off %s: %d %s (%v), want 503 or no answer", c.procs[cut].id, status, describe(got), err)
			}
			h.lost("cut-write") // it may still land once, after the heal

			t.Logf("heal")
			c.net.heal()
			waitFor(t, e2eElectionWait, c.procs[cut].id+" to follow "+c.procs[leader].id, func() (bool, string) {
				s, err := c.status(cut)
				if err != nil {
					return false, err.Error()
				}
				// The leader may change once more as the node rejoins; any
				// leader the others agree on will do.
				l, lerr := c.status(leader)
				if lerr != nil {
					return false, lerr.Error()
				}
				return s.State == "Follower" && s.Leader != "" && s.Leader == l.Leader,
					fmt.Sprintf("%s, leader %q; %s sees leader %q", s.State, s.Leader, c.procs[leader].id, l.Leader)
			})
			if !tc.cutLeader {
				// Pre-vote: the follower's failed elections did not raise its
				// term, so its return deposed no one: the term is the one
				// before the cut (a higher term in its answers would have
				// made the leader step down and the cluster elect again).
				now := c.waitLeader(c.all(), e2eElectionWait)
				if term := c.raftTerm(now); now != before || term != termBefore {
					t.Errorf("after the follower came back: leader %s in term %d, want %s still in term %d",
						c.procs[now].id, term, c.procs[before].id, termBefore)
				}
			}
			w.waitDecided(20, e2eProgressWait, "writes after the heal")
			w.halt()
			c.checkHistory(h, c.all())
		})
	}
}
