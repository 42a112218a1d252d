//go:build unix

package main_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/client"
)

// Timeouts of the fault tests. Raft's election and heartbeat timeouts are 1 s.
const (
	// e2eElectionWait bounds the election of a new leader after a fault.
	e2eElectionWait = 20 * time.Second
	// e2eProgressWait bounds waiting for the writers to make progress.
	e2eProgressWait = 30 * time.Second
	// e2eStaleTimeout bounds a request held by a paused node: long enough to
	// outlast the pause.
	e2eStaleTimeout = 20 * time.Second
	// e2eKillRounds is how often the leader is killed and restarted.
	e2eKillRounds = 2
	// e2eWriters is the number of concurrent clients; e2eWriterMaxOps bounds
	// each. The tests stop them long before: the bound is there so a writer
	// never runs away, and is large enough that a fast machine does not
	// exhaust it before the faults are done.
	e2eWriters      = 3
	e2eWriterMaxOps = 2000
)

// TestE2E_ClusterSurvivesLeaderKill: a write through a follower is accepted;
// then, while clients write through random nodes, the leader is killed with
// SIGKILL; the survivors elect a leader and keep accepting writes; the killed
// node restarts and catches up while writes go on; and again, e2eKillRounds
// times. No acknowledged write is lost or applied twice, every node serves
// the same verified journal, and the cap tables are the journal's fold with
// supply conserved.
func TestE2E_ClusterSurvivesLeaderKill(t *testing.T) {
	c := newCluster(t)
	leader, h := c.begin()

	// A write sent to a follower is forwarded to the leader and acknowledged.
	follower := c.others(leader)[0]
	if s, err := c.status(follower); err != nil || s.State != "Follower" {
		t.Fatalf("%s: state %q (%v), want Follower", c.procs[follower].id, s.State, err)
	}
	// Sent once to the follower alone: the client must not retry it
	// elsewhere, or the test would not know the follower forwarded it.
	h.attempt("via-follower")
	var viaFollower outcome
	status, err := c.onNode(follower, e2eRequestTimeout, func(ctx context.Context, cl *client.Client) error {
		var err error
		viaFollower, err = cl.Submit(ctx, transferOp(newRand(1), "via-follower"))
		return err
	})
	if err != nil || status != http.StatusOK || viaFollower.Status != client.StatusAccepted {
		t.Fatalf("write through follower %s: %d %s (%v), want 200 accepted", c.procs[follower].id, status, describe(viaFollower), err)
	}
	h.ack(viaFollower)
	var onLeader outcome
	if _, err := c.onNode(leader, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
		var err error
		onLeader, err = cl.InstructionOutcome(ctx, "via-follower")
		return err
	}); err != nil {
		t.Fatalf("via-follower on %s: %v", c.procs[leader].id, err)
	}
	if onLeader.Seq != viaFollower.Seq || onLeader.Status != "accepted" {
		t.Fatalf("leader has %s, the follower answered %s", describe(onLeader), describe(viaFollower))
	}

	w := c.startWriters(h, "lk", e2eWriters, e2eWriterMaxOps, uint64(time.Now().UnixNano()))
	w.waitDecided(30, e2eProgressWait, "writes before the fault")
	for round := range e2eKillRounds {
		t.Logf("round %d", round)
		leader = c.killLeaderAndRecover(w, leader, 30)
	}
	w.halt()
	c.checkHistory(h, c.all())
}

// TestE2E_LeaderStopsCleanly: SIGTERM to the leader under load. It hands
// leadership to a follower and exits 0; clients' writes move to the others
// and nothing acknowledged is lost; it restarts and catches up.
func TestE2E_LeaderStopsCleanly(t *testing.T) {
	c := newCluster(t)
	leader, h := c.begin()
	w := c.startWriters(h, "st", e2eWriters, e2eWriterMaxOps, uint64(time.Now().UnixNano()))
	w.waitDecided(30, e2eProgressWait, "writes before the stop")

	old := leader
	t.Logf("SIGTERM leader %s", c.procs[old].id)
	if err := c.term(old); err != nil {
		t.Errorf("%s after SIGTERM: %v, want a clean exit", c.procs[old].id, err)
	}
	if !c.logHas(old, "leadership transferred before shutdown") {
		t.Errorf("%s stopped without handing over leadership (no \"leadership transferred before shutdown\" in its log)", c.procs[old].id)
	}
	leader = c.waitLeader(c.others(old), e2eElectionWait)
	t.Logf("new leader %s", c.procs[leader].id)
	w.waitDecided(30, e2eProgressWait, "writes with the old leader stopped")

	c.start(old)
	c.waitReady(old)
	w.waitDecided(20, e2eProgressWait, "writes after the restart")
	w.halt()
	c.checkHistory(h, c.all())
}

// TestE2E_FullRestart: every node stops cleanly (SIGTERM) and restarts from
// its data directory; then every node crashes at once (SIGKILL) under load
// and restarts. Nothing acknowledged is lost, the journal is unchanged by a
// clean restart, and writes work afterwards.
func TestE2E_FullRestart(t *testing.T) {
	c := newCluster(t)
	_, h := c.begin()
	rng := newRand(2)
	for k := range 30 {
		c.mustSubmit(h, transferOp(rng, fmt.Sprintf("before-term-%d", k)), k%e2eNodes, "accepted")
	}
	before := c.waitConverged(c.all())

	// Phases, not subtests: the cluster's helpers report to the parent test.
	{
		t.Log("clean stop: SIGTERM to every node at once")
		for i, err := range c.termAll() {
			if err != nil {
				t.Errorf("%s after SIGTERM: %v, want a clean exit", c.procs[i].id, err)
			}
		}
		c.startAll()
		c.waitLeader(c.all(), e2eStartTimeout)
		after := c.waitConverged(c.all())
		if after != before {
			t.Errorf("journal after a clean restart %+v, before %+v", after, before)
		}
		for k := range 10 {
			c.mustSubmit(h, transferOp(rng, fmt.Sprintf("after-term-%d", k)), k%e2eNodes, "accepted")
		}
		c.checkHistory(h, c.all())
	}
	{
		w := c.startWriters(h, "crash", e2eWriters, e2eWriterMaxOps, uint64(time.Now().UnixNano()))
		w.waitDecided(40, e2eProgressWait, "writes before the crash")
		t.Log("crash: SIGKILL to every node at once, under load")
		c.killAllNow()
		w.halt()
		acked, unknown := h.counts()
		t.Logf("crashed all nodes: %d acknowledged, %d unknown", acked, unknown)
		c.startAll()
		c.waitLeader(c.all(), e2eStartTimeout)
		for k := range 10 {
			c.mustSubmit(h, transferOp(rng, fmt.Sprintf("after-crash-%d", k)), k%e2eNodes, "accepted")
		}
		c.checkHistory(h, c.all())
	}
}

// TestE2E_PausedLeader: the leader is frozen with SIGSTOP for longer than the
// election timeout; the others elect a leader and writes continue. A strong
// read and a write are queued at the frozen node; after SIGCONT the strong
// read must see what the new leader acknowledged meanwhile (a stale leader
// must not answer from its old state), the write is decided at most once, and
// the old leader rejoins as a follower with the same journal.
func TestE2E_PausedLeader(t *testing.T) {
	c := newCluster(t)
	leader, h := c.begin()
	w := c.startWriters(h, "pz", e2eWriters, e2eWriterMaxOps, uint64(time.Now().UnixNano()))
	w.waitDecided(20, e2eProgressWait, "writes before the pause")

	old := leader
	t.Logf("SIGSTOP leader %s", c.procs[old].id)
	c.pause(old)
	leader = c.waitLeader(c.others(old), e2eElectionWait)
	t.Logf("new leader %s", c.procs[leader].id)
	// Writers that pick the frozen node wait out their request timeout, so
	// progress is slower here.
	w.waitDecided(10, e2eProgressWait, "writes with the old leader paused")

	// Acknowledged by the new leader while the old one is frozen.
	probe := c.mustSubmit(h, transferOp(newRand(3), "probe"), leader, "accepted")

	// Queue a strong read of the probe and a write at the frozen node; both
	// are on the wire before it resumes. Each goes through a client of the
	// frozen node alone that sends once: a retry on another node would
	// answer for the new leader, not the stale one.
	type answer struct {
		status int
		out    outcome
		err    error
	}
	read, write := make(chan answer, 1), make(chan answer, 1)
	var sent sync.WaitGroup
	send := func(call func(context.Context, *client.Client) (outcome, error), out chan<- answer) {
		sent.Add(1)
		var once sync.Once
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(sent.Done) }}
		ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.Background(), trace), e2eStaleTimeout)
		go func() {
			defer cancel()
			var a answer
			cl := c.nodeClient(old, e2eStaleTimeout, func(at client.Attempt) { a.status = at.Status })
			a.out, a.err = call(ctx, cl)
			once.Do(sent.Done) // a request that failed before it was written
			out <- a
		}()
	}
	h.attempt("stale-write")
	send(func(ctx context.Context, cl *client.Client) (outcome, error) {
		var o outcome
		err := cl.Get(ctx, "/v1/instructions/probe?consistency=strong", &o)
		return o, err
	}, read)
	send(func(ctx context.Context, cl *client.Client) (outcome, error) {
		return cl.Submit(ctx, transferOp(newRand(4), "stale-write"))
	}, write)
	waitSent := make(chan struct{})
	go func() { sent.Wait(); close(waitSent) }()
	select {
	case <-waitSent:
	case <-time.After(e2eRequestTimeout):
		t.Fatal("requests to the paused node were not written")
	}

	t.Logf("SIGCONT %s", c.procs[old].id)
	c.cont(old)

	r := <-read
	switch {
	case client.IsUnknownOutcome(r.err):
		t.Logf("strong read at the old leader: %d %v (refused, which is allowed)", r.status, r.err)
	case r.err == nil && r.status == http.StatusOK:
		if got := r.out; got.Seq != probe.Seq || got.Status != probe.Status {
			t.Errorf("strong read at the old leader: %s, want %s", describe(got), describe(probe))
		}
		t.Logf("strong read at the old leader: %s", describe(r.out))
	default:
		t.Errorf("strong read at the old leader: %d %v, want 200 with %s or 503 (a 404 is a stale read)", r.status, r.err, describe(probe))
	}
	wr := <-write
	switch {
	case client.IsUnknownOutcome(wr.err):
		h.lost("stale-write")
		t.Logf("write at the old leader: %d %v (unknown outcome)", wr.status, wr.err)
	case wr.err == nil && wr.status == http.StatusOK:
		// Submit checked the outcome is of "stale-write" and agrees with 200.
		h.ack(wr.out)
		t.Logf("write at the old leader: %s", describe(wr.out))
	default:
		t.Errorf("write at the old leader: %d %s (%v), want 200 or 503", wr.status, describe(wr.out), wr.err)
	}

	waitFor(t, e2eElectionWait, c.procs[old].id+" to rejoin as a follower", func() (bool, string) {
		s, err := c.status(old)
		if err != nil {
			return false, err.Error()
		}
		return s.State == "Follower" && s.Leader == c.procs[leader].id, fmt.Sprintf("%s, leader %q", s.State, s.Leader)
	})
	w.waitDecided(20, e2eProgressWait, "writes after the old leader resumed")
	w.halt()
	c.checkHistory(h, c.all())
}

// TestE2E_RetrySameIDAcrossNodes: the same instruction sent to all three
// nodes at once is decided once: one journal entry, and every node answers
// with the same outcome. The same id with another body is refused everywhere.
func TestE2E_RetrySameIDAcrossNodes(t *testing.T) {
	c := newCluster(t)
	_, h := c.begin()

	kyc := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		ins        func(id string) client.Instruction
		wantStatus int
	}{
		{"accepted transfer", func(id string) client.Instruction { return transferOp(newRand(5), id) }, http.StatusOK},
		{"rejected transfer", func(id string) client.Instruction {
			return client.Instruction{ID: id, Type: client.TypeTransfer, Legs: []client.Leg{
				{Symbol: "USD", From: investor(0), To: investor(1), Amount: amount("99999999.00")}}}
		}, http.StatusUnprocessableEntity},
		{"register party", func(id string) client.Instruction {
			return client.Instruction{ID: id, Type: client.TypeRegisterParty, Party: &client.PartySpec{
				ID: "p-" + id, Role: "investor", Status: "accredited", Jurisdiction: "US",
				KYCExpiresAt: &kyc, Custodian: "cus"}}
		}, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 5 {
				id := fmt.Sprintf("same-%s-%d", slug(tc.name), round)
				ins := tc.ins(id)
				h.attempt(id)
				got := c.sendEverywhere(ins)
				for i, g := range got {
					// A rejection is an error of Submit; anything else is not
					// the decision every node must give.
					var rejected *client.RejectedError
					decided := g.err == nil || (errors.As(g.err, &rejected) && g.status == http.StatusUnprocessableEntity)
					if !decided || g.status != tc.wantStatus {
						t.Fatalf("%s on %s: %d %s (%v), want %d", id, c.procs[i].id, g.status, describe(g.out), g.err, tc.wantStatus)
					}
				}
				first := got[0].out
				for i, g := range got[1:] {
					if o := g.out; o.ID != first.ID || o.Status != first.Status || o.Seq != first.Seq || o.Index != first.Index {
						t.Errorf("%s: %s answered %s, %s answered %s", id, c.procs[0].id, describe(first), c.procs[i+1].id, describe(o))
					}
				}
				h.ack(first)

				// The same id with another body: 409 everywhere, nothing applied.
				other := client.Instruction{ID: id, Type: client.TypeFreeze, PartyID: investor(2)}
				for i := range c.procs {
					status, err := c.onNode(i, e2eRequestTimeout, func(ctx context.Context, cl *client.Client) error {
						_, err := cl.Submit(ctx, other)
						return err
					})
					if status != http.StatusConflict || !errors.Is(err, client.ErrIDReused) {
						t.Errorf("%s reused with another body on %s: %d (%v), want 409 ID_REUSED", id, c.procs[i].id, status, err)
					}
				}
			}
		})
	}
	c.checkHistory(h, c.all())
}

// reply is one node's answer.
type reply struct {
	status int
	out    outcome
	err    error
}

// sendEverywhere posts ins to every node at once, released together, each
// through a client of that node alone that sends once: the point is that
// three nodes answer the same id, not that one client retries it.
func (c *e2eCluster) sendEverywhere(ins client.Instruction) []reply {
	out := make([]reply, len(c.procs))
	clients := make([]*client.Client, len(c.procs))
	for i := range c.procs {
		clients[i] = c.nodeClient(i, e2eRequestTimeout, func(a client.Attempt) { out[i].status = a.Status })
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range c.procs {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), e2eRequestTimeout)
			defer cancel()
			out[i].out, out[i].err = clients[i].Submit(ctx, ins)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// newRand returns a deterministic source for the instructions a test sends
// outside the writers.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0)) }

// slug turns a subtest name into an id part.
func slug(name string) string { return strings.ReplaceAll(name, " ", "-") }

// killLeaderAndRecover SIGKILLs the leader while w writes: the others elect
// a leader and decide n more writes; the old leader restarts and catches up
// while writes go on, and n more are decided. It returns the new leader.
func (c *e2eCluster) killLeaderAndRecover(w *writers, old, n int) int {
	c.t.Helper()
	c.t.Logf("SIGKILL leader %s", c.procs[old].id)
	c.kill(old)
	leader := c.waitLeader(c.others(old), e2eElectionWait)
	c.t.Logf("new leader %s", c.procs[leader].id)
	w.waitDecided(int64(n), e2eProgressWait, "writes with the old leader dead")

	c.start(old)
	c.waitReady(old)
	// The restarted node catches up while writes go on: it learns the
	// leader's commit index and applies what the leader had applied.
	// (applied_index is compared with applied_index, not commit_index:
	// the commit index also counts the new leader's no-op entry, which
	// no ledger applies, so an idle follower may never apply up to it.)
	s, err := c.status(leader)
	if err != nil {
		c.t.Fatal(err)
	}
	waitFor(c.t, e2eConvergeTimeout, c.procs[old].id+" to catch up", func() (bool, string) {
		r, err := c.status(old)
		if err != nil {
			return false, err.Error()
		}
		return r.CommitIndex >= s.CommitIndex && r.AppliedIndex >= s.AppliedIndex,
			fmt.Sprintf("commit %d of %d, applied %d of %d", r.CommitIndex, s.CommitIndex, r.AppliedIndex, s.AppliedIndex)
	})
	w.waitDecided(int64(n), e2eProgressWait, "writes after the restart")
	return leader
}
