//go:build unix

package main_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// e2eNemesisRounds is how many faults TestE2E_Nemesis injects, one at a time.
const e2eNemesisRounds = 8

// nemesisFault is one fault the nemesis can inject into one node and undo.
type nemesisFault struct {
	name string
	do   func(c *e2eCluster, i int)
	undo func(c *e2eCluster, i int)
}

var nemesisFaults = []nemesisFault{
	{"SIGKILL", func(c *e2eCluster, i int) { c.kill(i) }, func(c *e2eCluster, i int) { c.start(i) }},
	{"SIGSTOP", func(c *e2eCluster, i int) { c.pause(i) }, func(c *e2eCluster, i int) { c.cont(i) }},
	{"cut off", func(c *e2eCluster, i int) { c.net.isolate(i) }, func(c *e2eCluster, _ int) { c.net.heal() }},
	{"deaf", func(c *e2eCluster, i int) { c.net.deafen(i) }, func(c *e2eCluster, _ int) { c.net.heal() }},
}

// TestE2E_Nemesis injects a random sequence of faults while clients write
// through every node: each round picks a fault (SIGKILL and restart, SIGSTOP
// and SIGCONT, cut off both ways, deaf) and a node (the leader or a
// follower), waits for the others to agree on a leader and decide writes,
// undoes the fault, and waits for the node to serve and the writes to go on.
// At the end no acknowledged write is lost or applied twice and every node
// serves the same verified journal. It runs over plain TCP and over mutual
// TLS. The sequence comes from a seed it logs; TOKENLEDGER_E2E_SEED replays
// one.
func TestE2E_Nemesis(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TOKENLEDGER_E2E_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("TOKENLEDGER_E2E_SEED: %v", err)
		}
	}
	t.Logf("nemesis seed %d (TOKENLEDGER_E2E_SEED=%d replays it)", seed, seed)
	for _, tc := range []struct {
		name string
		opts clusterOpts
	}{
		{"plain", clusterOpts{net: true}},
		// Reconnecting, re-admitting and re-handshaking peers under faults.
		{"mutual TLS", clusterOpts{net: true, tlsIDs: []string{"n1", "n2", "n3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { runNemesis(t, tc.opts, seed) })
	}
}

func runNemesis(t *testing.T, opts clusterOpts, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0))
	c := newClusterWith(t, opts)
	leader, h := c.begin()
	w := c.startWriters(h, "nm", e2eWriters, e2eWriterMaxOps, seed)
	w.waitDecided(10, e2eProgressWait, "writes before the faults")
	for round := range e2eNemesisRounds {
		f := nemesisFaults[rng.IntN(len(nemesisFaults))]
		target := leader
		if rng.IntN(2) == 0 {
			others := c.others(leader)
			target = others[rng.IntN(len(others))]
		}
		what := fmt.Sprintf("round %d: %s %s (leader %s)", round, f.name, c.procs[target].id, c.procs[leader].id)
		t.Log(what)
		f.do(c, target)
		leader = c.waitLeader(c.others(target), e2eElectionWait)
		w.waitDecided(5, e2eProgressWait, what+": writes during the fault")
		f.undo(c, target)
		c.waitReady(target)
		leader = c.waitLeader(c.all(), e2eElectionWait)
		w.waitDecided(5, e2eProgressWait, what+": writes after it")
	}
	w.halt()
	c.checkHistory(h, c.all())
}
