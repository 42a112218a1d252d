package consensus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// Ensure a node with no peers bootstraps a cluster of itself, applies
// proposals, survives a restart on the same data, and refuses oversize items.
func TestNode_SingleNode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1")
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	cfg := testConfig("n1", dir)
	cfg.Listener = ln
	m := &fakeMachine{}
	n, err := Open(t.Context(), cfg, m)
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	t.Cleanup(func() { _ = n.Close(context.Background()) })
	waitFor(t, 5*time.Second, "n1 ready", n.Ready)

	items := []string{"a", "b", "c"}
	got, err := n.Propose(t.Context(), [][]byte{[]byte("a"), []byte("b"), []byte("c")})
	if err != nil {
		t.Fatalf("Propose() error = %v", err)
	}
	checkResults(t, items, got)
	if err := n.ReadIndex(t.Context()); err != nil {
		t.Fatalf("ReadIndex() error = %v", err)
	}
	if got := m.items(); !slices.Equal(got, items) {
		t.Errorf("machine items = %q, want %q", got, items)
	}
	st := n.Status()
	if st.ID != "n1" || st.Leader != "n1" || st.LeaderAddr != addr || st.State != "Leader" || !st.Ready {
		t.Errorf("Status() = %+v, want n1 leading itself at %s and ready", st, addr)
	}
	if len(st.Servers) != 1 || st.Servers[0] != (Server{ID: "n1", RaftAddr: addr, Voter: true, Leader: true}) {
		t.Errorf("Status().Servers = %+v, want n1 alone", st.Servers)
	}
	if st.AppliedIndex == 0 || st.AppliedIndex > st.CommitIndex {
		t.Errorf("Status() applied %d, commit %d", st.AppliedIndex, st.CommitIndex)
	}

	empty, err := n.Propose(t.Context(), nil)
	if err != nil || len(empty) != 0 {
		t.Errorf("Propose(nil) = %q, %v; want no results and no error", empty, err)
	}
	tooBig := bytes.Repeat([]byte{'x'}, cfg.maxItemBytes()+1)
	if _, err := n.Propose(t.Context(), [][]byte{tooBig}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Propose(item of %d bytes) error = %v, want ErrTooLarge", len(tooBig), err)
	}
	justFits := bytes.Repeat([]byte{'y'}, cfg.maxItemBytes())
	if _, err := n.Propose(t.Context(), [][]byte{justFits}); err != nil {
		t.Errorf("Propose(item of %d bytes) error = %v, want success", len(justFits), err)
	}
	if err := n.Snapshot(t.Context()); err != nil {
		t.Errorf("Snapshot() error = %v", err)
	}
	if err := n.RemoveServer(t.Context(), "nobody"); err != nil {
		t.Errorf("RemoveServer(unknown) error = %v", err)
	}
	if err := n.Close(t.Context()); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	if _, err := n.Propose(t.Context(), [][]byte{[]byte("late")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Propose after Close error = %v, want ErrClosed", err)
	}

	// Restart on the same data: no second bootstrap, and the snapshot plus
	// the log rebuild the (in-memory) machine.
	cfg.Listener = listen(t, addr)
	m2 := &fakeMachine{}
	n2, err := Open(t.Context(), cfg, m2)
	if err != nil {
		t.Fatalf("reopen error = %v", err)
	}
	t.Cleanup(func() { _ = n2.Close(context.Background()) })
	waitFor(t, 5*time.Second, "restarted n1 ready", n2.Ready)
	want := append(append([]string(nil), items...), string(justFits))
	if got := m2.items(); !slices.Equal(got, want) {
		t.Errorf("after restart machine has %d items, want %d", len(got), len(want))
	}
	got, err = n2.Propose(t.Context(), [][]byte{[]byte("d")})
	if err != nil {
		t.Fatalf("Propose after restart error = %v", err)
	}
	checkResults(t, []string{"d"}, got)
}

// Ensure a follower forwards proposals to the leader and every node applies
// the same items in the same order.
func TestCluster_Forwarding(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader()
	follower := c.follower(leader)
	var want []string
	for i := range 10 {
		via := leader
		if i%2 == 0 {
			via = follower
		}
		item := fmt.Sprintf("item-%d", i)
		c.propose(t.Context(), via, item)
		want = append(want, item)
	}
	// A proposal split over several log entries still returns results in order.
	multi := make([][]byte, 50)
	var multiWant []string
	for i := range multi {
		multi[i] = []byte(fmt.Sprintf("multi-%d", i))
		multiWant = append(multiWant, string(multi[i]))
	}
	got, err := c.nodes[follower].Propose(t.Context(), multi)
	if err != nil {
		t.Fatalf("Propose(50 items) via follower error = %v", err)
	}
	checkResults(t, multiWant, got)
	c.converged(append(want, multiWant...))
}

// TestCluster_ForwardGroups: concurrent proposals through a follower travel
// to the leader in shared calls, and each, single or multi-item, still gets
// exactly its own results.
func TestCluster_ForwardGroups(t *testing.T) {
	forwards := make([]*logCounter, 3)
	c := newCluster(t, 3, func(i int, cfg *Config) {
		forwards[i] = &logCounter{msg: "forwarding proposals", key: keyProposals}
		cfg.Logger = slog.New(forwards[i])
	})
	leader := c.leader()
	follower := c.follower(leader)
	const proposers, each = 32, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var want []string
	for p := range proposers {
		wg.Go(func() {
			for k := range each {
				items := []string{fmt.Sprintf("g%d-%d", p, k)}
				if k%3 == 0 {
					items = append(items, fmt.Sprintf("g%d-%d-b", p, k), fmt.Sprintf("g%d-%d-c", p, k))
				}
				raw := make([][]byte, len(items))
				for i, it := range items {
					raw[i] = []byte(it)
				}
				got, err := c.nodes[follower].Propose(t.Context(), raw)
				if err != nil {
					t.Errorf("Propose(%v) via follower error = %v", items, err)
					return
				}
				checkResults(t, items, got)
				mu.Lock()
				want = append(want, items...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	calls, props := forwards[follower].counts()
	t.Logf("%d proposals in %d calls to the leader", props, calls)
	if props != proposers*each {
		t.Errorf("forwarder carried %d proposals, want %d", props, proposers*each)
	}
	if calls >= props {
		t.Errorf("%d calls for %d concurrent proposals: none shared a call", calls, props)
	}
	sort.Strings(want)
	waitFor(t, 10*time.Second, "every machine to hold every item", func() bool {
		for i, n := range c.nodes {
			got := c.machines[i].items()
			sort.Strings(got)
			if n != nil && !slices.Equal(got, want) {
				return false
			}
		}
		return true
	})
}

// Ensure concurrent proposals share log entries: fewer log entries are applied
// than proposals made.
func TestCluster_Coalescing(t *testing.T) {
	c := newCluster(t, 3, func(_ int, cfg *Config) { cfg.MaxInFlight = 2 })
	leader := c.leader()
	follower := c.follower(leader)
	const proposals = 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, proposals)
	for i := range proposals {
		via := leader
		if i%4 == 0 {
			via = follower
		}
		wg.Go(func() {
			<-start
			item := fmt.Sprintf("p-%d", i)
			got, err := c.nodes[via].Propose(t.Context(), [][]byte{[]byte(item)})
			if err == nil && (len(got) != 1 || !bytes.HasSuffix(got[0], []byte(":"+item))) {
				err = fmt.Errorf("result %q for %q", got, item)
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Propose: %v", err)
		}
	}
	entries, _, _ := c.machines[leader].counts()
	if entries >= proposals {
		t.Errorf("%d proposals took %d log entries, want fewer", proposals, entries)
	}
	t.Logf("%d proposals in %d log entries", proposals, entries)
	if got := len(c.machines[leader].items()); got != proposals {
		t.Errorf("leader applied %d items, want %d", got, proposals)
	}
}

// Ensure the cluster elects a new leader when the leader stops, proposals
// continue, and the old leader catches up after a restart.
func TestCluster_Failover(t *testing.T) {
	tests := []struct {
		name     string
		graceful bool // Close with leadership transfer, or stop abruptly
	}{
		{"crash", false},
		{"graceful", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 3, nil)
			old := c.leader()
			var want []string
			for i := range 5 {
				item := fmt.Sprintf("before-%d", i)
				c.propose(t.Context(), old, item)
				want = append(want, item)
			}
			c.stop(old, tc.graceful)
			leader := c.leader()
			if leader == old {
				t.Fatalf("stopped node still leads")
			}
			for i := range 5 {
				item := fmt.Sprintf("after-%d", i)
				c.propose(t.Context(), c.follower(leader), item)
				want = append(want, item)
			}
			c.start(old)
			c.leader()
			c.converged(want)
		})
	}
}

// Ensure proposals made while the leader changes are retried on the new
// leader rather than failing, as long as nothing reached the old one's log.
func TestCluster_ProposeDuringTransfer(t *testing.T) {
	c := newCluster(t, 3, nil)
	old := c.leader()
	via := c.follower(old)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 30 && err == nil; i++ {
			_, err = c.nodes[via].Propose(ctx, [][]byte{[]byte(fmt.Sprintf("t-%d", i))})
		}
		done <- err
	}()
	c.stop(old, true)
	if err := <-done; err != nil && !errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("Propose during a leadership transfer error = %v, want success or ErrUnknownOutcome", err)
	}
}

// Ensure a follower that missed log entries compacted away on the leader catches
// up by installing a snapshot.
func TestCluster_SnapshotCatchUp(t *testing.T) {
	c := newCluster(t, 3, func(_ int, cfg *Config) {
		cfg.SnapshotThreshold = 8
		cfg.SnapshotInterval = 50 * time.Millisecond
		cfg.TrailingLogs = 4
		cfg.WALSegmentBytes = 1 << 10
	})
	leader := c.leader()
	lagging := c.follower(leader)
	var want []string
	for i := range 3 {
		item := fmt.Sprintf("early-%d", i)
		c.propose(t.Context(), leader, item)
		want = append(want, item)
	}
	c.converged(want)
	appliedBefore := c.nodes[lagging].AppliedIndex()
	c.stop(lagging, false)
	for i := range 40 {
		item := fmt.Sprintf("late-%d", i)
		c.propose(t.Context(), leader, item)
		want = append(want, item)
	}
	if err := c.nodes[leader].Snapshot(t.Context()); err != nil {
		t.Fatalf("Snapshot() error = %v", err)
	}
	c.start(lagging)
	c.converged(want)
	_, restores, restoredIndex := c.machines[lagging].counts()
	if restores == 0 || restoredIndex <= appliedBefore {
		t.Errorf("lagging node: %d restores, restored to %d; want a restore past %d", restores, restoredIndex, appliedBefore)
	}
	// The restored node serves linearizable reads and forwards writes.
	c.propose(t.Context(), lagging, "after-restore")
	if err := c.nodes[lagging].ReadIndex(t.Context()); err != nil {
		t.Fatalf("ReadIndex on restored node error = %v", err)
	}
	if !c.machines[lagging].has("after-restore") {
		t.Errorf("restored node does not see its own write after ReadIndex")
	}
}

// Ensure ReadIndex on the leader and on a follower sees a write committed
// just before, whichever node took the write.
func TestCluster_ReadIndex(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader()
	follower := c.follower(leader)
	tests := []struct {
		name           string
		writer, reader int
	}{
		{"leader writes, follower reads", leader, follower},
		{"follower writes, leader reads", follower, leader},
		{"follower writes, other follower reads", follower, 3 - leader - follower},
		{"leader writes, leader reads", leader, leader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 5 {
				item := fmt.Sprintf("%s-%d", tc.name, i)
				item = string(bytes.ReplaceAll([]byte(item), []byte(" "), []byte("_")))
				c.propose(t.Context(), tc.writer, item)
				if err := c.nodes[tc.reader].ReadIndex(t.Context()); err != nil {
					t.Fatalf("ReadIndex() error = %v", err)
				}
				if !c.machines[tc.reader].has(item) {
					t.Fatalf("after ReadIndex, %s does not have %q", c.cfgs[tc.reader].ID, item)
				}
			}
		})
	}
}

// Ensure voters can be added and removed on the leader only.
func TestCluster_Membership(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"mutual TLS", true}} {
		t.Run(tc.name, func(t *testing.T) { testMembership(t, tc.tls) })
	}
}

// testMembership: with TLS, the joining node admits the leader before it has
// a configuration, and the leader admits it once it is a member.
func testMembership(t *testing.T, useTLS bool) {
	dir := t.TempDir()
	ln1, ln2 := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	cfg1 := testConfig("n1", filepath.Join(dir, "n1"))
	cfg1.Listener = ln1
	cfg2 := testConfig("n2", filepath.Join(dir, "n2"))
	cfg2.Listener = ln2
	cfg2.Join = true
	if useTLS {
		certs := t.TempDir()
		if err := GenerateDevCerts(certs, []string{"n1", "n2"}, nil); err != nil {
			t.Fatal(err)
		}
		cfg1.TLS, cfg2.TLS = tlsFiles(certs, "n1"), tlsFiles(certs, "n2")
	}
	m1, m2 := &fakeMachine{}, &fakeMachine{}
	n1, err := Open(t.Context(), cfg1, m1)
	if err != nil {
		t.Fatalf("Open(n1) error = %v", err)
	}
	t.Cleanup(func() { _ = n1.Close(context.Background()) })
	n2, err := Open(t.Context(), cfg2, m2)
	if err != nil {
		t.Fatalf("Open(n2) error = %v", err)
	}
	t.Cleanup(func() { _ = n2.Close(context.Background()) })
	waitFor(t, 5*time.Second, "n1 ready", n1.Ready)
	if _, err := n1.Propose(t.Context(), [][]byte{[]byte("first")}); err != nil {
		t.Fatalf("Propose() error = %v", err)
	}

	var notLeader *NotLeaderError
	if err := n2.AddVoter(t.Context(), "n3", "127.0.0.1:1"); !errors.As(err, &notLeader) || !errors.Is(err, ErrNotLeader) {
		t.Errorf("AddVoter on a node outside the cluster error = %v, want *NotLeaderError", err)
	}
	if err := n1.AddVoter(t.Context(), "n2", ln2.Addr().String()); err != nil {
		t.Fatalf("AddVoter(n2) error = %v", err)
	}
	if err := n1.AddVoter(t.Context(), "n2", ln2.Addr().String()); err != nil {
		t.Errorf("AddVoter(n2) again error = %v, want no-op", err)
	}
	waitFor(t, 5*time.Second, "n2 ready", n2.Ready)
	got, err := n2.Propose(t.Context(), [][]byte{[]byte("second")})
	if err != nil {
		t.Fatalf("Propose via joined node error = %v", err)
	}
	checkResults(t, []string{"second"}, got)
	if err := n2.ReadIndex(t.Context()); err != nil {
		t.Fatalf("ReadIndex on joined node error = %v", err)
	}
	if got, want := m2.items(), []string{"first", "second"}; !slices.Equal(got, want) {
		t.Errorf("joined node items = %q, want %q", got, want)
	}
	err = n2.RemoveServer(t.Context(), "n1")
	if !errors.As(err, &notLeader) || notLeader.LeaderID != "n1" {
		t.Errorf("RemoveServer on follower error = %v, want *NotLeaderError naming n1", err)
	}
	if err := n1.RemoveServer(t.Context(), "n2"); err != nil {
		t.Fatalf("RemoveServer(n2) error = %v", err)
	}
	if st := n1.Status(); len(st.Servers) != 1 || st.Servers[0].ID != "n1" {
		t.Errorf("servers after removal = %+v, want n1 only", st.Servers)
	}
}

func TestConfig_Validate(t *testing.T) {
	base := func() Config {
		cfg := DefaultConfig()
		cfg.ID, cfg.RaftAddr, cfg.DataDir = "n1", "127.0.0.1:7000", "/tmp/x"
		return cfg
	}
	tests := []struct {
		name   string
		modify func(*Config)
		ok     bool
	}{
		{"default with address", func(*Config) {}, true},
		{"peers including self", func(c *Config) {
			c.Peers = []Peer{{"n1", "127.0.0.1:7000"}, {"n2", "127.0.0.1:7001"}}
		}, true},
		{"no id", func(c *Config) { c.ID = "" }, false},
		{"id with space", func(c *Config) { c.ID = "n 1" }, false},
		{"no data dir", func(c *Config) { c.DataDir = "" }, false},
		{"boltdb log store", func(c *Config) { c.LogStore = LogStoreBolt }, true},
		{"unknown log store", func(c *Config) { c.LogStore = "rocksdb" }, false},
		{"small WAL segments", func(c *Config) { c.WALSegmentBytes = minWALSegmentBytes }, true},
		{"tiny WAL segments", func(c *Config) { c.WALSegmentBytes = minWALSegmentBytes - 1 }, false},
		{"huge WAL segments", func(c *Config) { c.WALSegmentBytes = maxWALSegmentBytes + 1 }, false},
		{"no log store", func(c *Config) { c.LogStore = "" }, false},
		{"unspecified address", func(c *Config) { c.RaftAddr = "0.0.0.0:7000" }, false},
		{"port zero", func(c *Config) { c.RaftAddr = "127.0.0.1:0" }, false},
		{"bind elsewhere", func(c *Config) { c.RaftBind = "0.0.0.0:7100" }, true},
		{"bind not host:port", func(c *Config) { c.RaftBind = "7100" }, false},
		{"bind and listener", func(c *Config) { c.RaftBind = "127.0.0.1:7100"; c.Listener = &net.TCPListener{} }, false},
		{"peers without self", func(c *Config) { c.Peers = []Peer{{"n2", "127.0.0.1:7001"}} }, false},
		{"self at another address", func(c *Config) { c.Peers = []Peer{{"n1", "127.0.0.1:7009"}} }, false},
		{"duplicate peer", func(c *Config) {
			c.Peers = []Peer{{"n1", "127.0.0.1:7000"}, {"n1", "127.0.0.1:7001"}}
		}, false},
		{"join with peers", func(c *Config) { c.Join = true; c.Peers = []Peer{{"n1", "127.0.0.1:7000"}} }, false},
		{"half TLS", func(c *Config) { c.TLS = &TLSConfig{CAFile: "ca.pem"} }, false},
		{"lease above heartbeat", func(c *Config) { c.LeaderLeaseTimeout = 2 * c.HeartbeatTimeout }, false},
		{"election below heartbeat", func(c *Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 }, false},
		{"tiny entries", func(c *Config) { c.MaxEntryBytes = 10 }, false},
		{"proposal below entry", func(c *Config) { c.MaxProposalBytes = c.MaxEntryBytes - 1 }, false},
		{"queue below proposal", func(c *Config) { c.MaxQueueBytes = c.MaxProposalBytes - 1 }, false},
		{"no in-flight entries", func(c *Config) { c.MaxInFlight = 0 }, false},
		{"too many append entries", func(c *Config) { c.MaxAppendEntries = 2000 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.modify(&cfg)
			err := cfg.Validate()
			if tc.ok && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrConfig) {
				t.Errorf("Validate() = %v, want ErrConfig", err)
			}
		})
	}
}

// Ensure the limits fit together: an item that passes the size check always
// fits in a log entry, and a full proposal fits in a forwarded request.
func TestConfig_LimitRelations(t *testing.T) {
	cfg := DefaultConfig()
	if got := cfg.maxItemBytes(); got <= 0 || got+MaxItemOverhead != cfg.MaxEntryBytes {
		t.Errorf("maxItemBytes() = %d with MaxEntryBytes %d", got, cfg.MaxEntryBytes)
	}
	if cfg.MaxEntryBytes > maxEntryBytesLimit || cfg.MaxProposalBytes < cfg.MaxEntryBytes || cfg.MaxQueueBytes < cfg.MaxProposalBytes {
		t.Errorf("default byte limits out of order: entry %d, proposal %d, queue %d", cfg.MaxEntryBytes, cfg.MaxProposalBytes, cfg.MaxQueueBytes)
	}
	if cfg.LeaderLeaseTimeout > cfg.HeartbeatTimeout || cfg.ElectionTimeout < cfg.HeartbeatTimeout {
		t.Errorf("default timing out of order: %+v", cfg)
	}
	n := &Node{cfg: cfg}
	if n.maxRequestFrame() < 8+cfg.MaxProposalBytes+binaryMaxVarint {
		t.Errorf("request frame %d cannot carry a full proposal of %d bytes", n.maxRequestFrame(), cfg.MaxProposalBytes)
	}
}

const binaryMaxVarint = 10

// Ensure log entry time stamps never go backwards, even when the leader's clock
// does: each log entry is stamped max(clock, previous stamp).
func TestNode_StampsNeverGoBackwards(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := []time.Time{t0.Add(10 * time.Second), t0, t0.Add(20 * time.Second)}
	want := []time.Time{t0.Add(10 * time.Second), t0.Add(10 * time.Second), t0.Add(20 * time.Second)}
	var mu sync.Mutex
	reads := 0
	cfg := testConfig("n1", filepath.Join(t.TempDir(), "n1"))
	cfg.Listener = listen(t, "127.0.0.1:0")
	cfg.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now := clock[min(reads, len(clock)-1)]
		reads++
		return now
	}
	m := &fakeMachine{}
	n, err := Open(t.Context(), cfg, m)
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	t.Cleanup(func() { _ = n.Close(context.Background()) })
	waitFor(t, 5*time.Second, "n1 ready", n.Ready)
	for i := range clock {
		if _, err := n.Propose(t.Context(), [][]byte{[]byte(fmt.Sprint(i))}); err != nil {
			t.Fatalf("Propose(%d) error = %v", i, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.records) != len(want) {
		t.Fatalf("machine has %d records, want %d", len(m.records), len(want))
	}
	for i, r := range m.records {
		if !r.Time.Equal(want[i]) {
			t.Errorf("log entry %d stamped %v, want %v", i, r.Time, want[i])
		}
	}
}

// TestCluster_RemembersPeersHeard: a node that has exchanged raft traffic and
// comes back without its raft state is refused, even though no replicated
// state records it (Remembers is nil here, as in a cluster's first seconds,
// before a node's registration commits), and even after its peers restart.
// A node that never ran starts late without a false refusal.
func TestCluster_RemembersPeersHeard(t *testing.T) {
	c := newStoppedCluster(t, 3, nil)
	c.start(0)
	c.start(1)
	leader := c.leader()
	c.propose(t.Context(), leader, "before-n3")

	// n3 never ran: nobody remembers it, so it bootstraps and catches up.
	c.start(2)
	c.converged([]string{"before-n3"})
	c.propose(t.Context(), c.leader(), "with-n3")
	c.converged([]string{"before-n3", "with-n3"})

	// n3 loses its disk; its peers restart in the meantime.
	c.stop(2, false)
	if err := os.RemoveAll(c.cfgs[2].DataDir); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		c.stop(i, false)
		c.start(i)
	}
	c.leader()

	cfg := c.cfgs[2]
	cfg.Listener = listen(t, cfg.RaftAddr)
	n, err := Open(t.Context(), cfg, &fakeMachine{})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Close(ctx)
		t.Fatal("n3 restarted on an empty disk; want ErrStateLost")
	}
	_ = cfg.Listener.Close()
	if !errors.Is(err, ErrStateLost) {
		t.Fatalf("Open(n3 on an empty disk) error = %v, want ErrStateLost", err)
	}
}
