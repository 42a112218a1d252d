//go:build unix

package main_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// e2eCutTimeout bounds a request sent to a node cut off from the others: it
// can only be refused or time out, and the test waits for either.
const e2eCutTimeout = 6 * time.Second

// TestE2E_Partition cuts one node off from the other two (a blackhole on
// the raft port: bytes stop arriving, nothing is refused) while clients
// write through every node, including the cut-off one, which clients can
// still reach. The majority keeps deciding writes; the cut-off node
// acknowledges nothing and serves no strong read; once healed it follows the
// majority's leader and catches up. No acknowledged write is lost or applied
// twice and every node serves the same verified journal.
func TestE2E_Partition(t *testing.T) {
	tests := []struct {
		name      string
		cutLeader bool
	}{
		{"leader cut off", true},
		{"follower cut off", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newNetCluster(t)
			c.startAll()
			leader := c.waitLeader(c.all(), e2eStartTimeout)
			h := newHistory()
			c.setup(h, leader)
			w := c.startWriters(h, "pt", e2eWriters, e2eWriterMaxOps, uint64(time.Now().UnixNano()))
			w.waitDecided(20, e2eProgressWait, "writes before the cut")

			cut := c.others(leader)[0]
			if tc.cutLeader {
				cut = leader
			}
			t.Logf("cut %s off (leader %s)", c.procs[cut].id, c.procs[leader].id)
			c.net.isolate(cut)
			majority := c.others(cut)
			leader = c.waitLeader(majority, e2eElectionWait)
			t.Logf("majority's leader %s", c.procs[leader].id)
			// A leader that cannot reach a quorum steps down when its lease
			// runs out, so no client mistakes it for the leader.
			waitFor(t, e2eElectionWait, c.procs[cut].id+" to stop leading", func() (bool, string) {
				s, err := c.status(cut)
				if err != nil {
					return false, err.Error()
				}
				return s.State != "Leader", s.State
			})
			w.waitDecided(20, e2eProgressWait, "writes with a node cut off")

			// Decided by the majority while the node is cut off; the cut-off
			// node must neither claim to have it nor claim it does not exist.
			probe := c.mustSubmit(h, transferOp(newRand(11), "probe"), leader, "accepted")
			status, body, err := c.request(context.Background(), cut, http.MethodGet,
				"/v1/instructions/probe?consistency=strong", nil, e2eCutTimeout)
			if err == nil && status != http.StatusServiceUnavailable {
				t.Errorf("strong read of %v at cut-off %s: %d %s, want 503 or no answer", probe, c.procs[cut].id, status, body)
			}
			h.attempt("cut-write")
			status, body, err = c.request(context.Background(), cut, http.MethodPost, "/v1/instructions",
				transferOp(newRand(12), "cut-write"), e2eCutTimeout)
			if err == nil && status != http.StatusServiceUnavailable {
				t.Errorf("write at cut-off %s: %d %s, want 503 or no answer", c.procs[cut].id, status, body)
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
			w.waitDecided(20, e2eProgressWait, "writes after the heal")
			w.halt()
			c.checkHistory(h, c.all())
		})
	}
}
