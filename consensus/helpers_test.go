package consensus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// testLogger discards logs unless CONSENSUS_TEST_LOG is set, in which case
// they go to stderr (t.Log cannot be used: raft logs from its own
// goroutines until Close returns).
func testLogger(id string) *slog.Logger {
	if os.Getenv("CONSENSUS_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", id)
}

// testConfig returns a config with short timeouts for loopback clusters.
func testConfig(id, dir string) Config {
	cfg := DefaultConfig()
	cfg.ID = id
	cfg.DataDir = dir
	// Short enough for quick elections, long enough that a loaded machine
	// running -race does not miss heartbeats and change leaders mid-test.
	cfg.HeartbeatTimeout = 500 * time.Millisecond
	cfg.ElectionTimeout = 500 * time.Millisecond
	cfg.LeaderLeaseTimeout = 250 * time.Millisecond
	cfg.CommitTimeout = 5 * time.Millisecond
	cfg.LeaderWait = time.Second
	cfg.ApplyTimeout = 5 * time.Second
	cfg.TransferTimeout = 2 * time.Second
	cfg.DialTimeout = 2 * time.Second
	cfg.Logger = testLogger(id)
	return cfg
}

// listen opens a listener on addr (":0" style for a fresh port).
func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	return ln
}

// waitFor polls cond every 10ms until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// cluster is a set of nodes on loopback, each with its own fake machine.
type cluster struct {
	t        testing.TB
	cfgs     []Config
	nodes    []*Node // nil while stopped
	machines []*fakeMachine
}

// newCluster starts size nodes bootstrapped together. tweak may adjust each
// node's config.
func newCluster(t testing.TB, size int, tweak func(i int, cfg *Config)) *cluster {
	t.Helper()
	c := newStoppedCluster(t, size, tweak)
	for i := range size {
		c.start(i)
	}
	return c
}

// newStoppedCluster configures size nodes to bootstrap together and starts
// none of them.
func newStoppedCluster(t testing.TB, size int, tweak func(i int, cfg *Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, cfgs: make([]Config, size), nodes: make([]*Node, size), machines: make([]*fakeMachine, size)}
	lns := make([]net.Listener, size)
	peers := make([]Peer, size)
	for i := range size {
		lns[i] = listen(t, "127.0.0.1:0")
		peers[i] = Peer{ID: fmt.Sprintf("n%d", i+1), RaftAddr: lns[i].Addr().String()}
	}
	dir := t.TempDir()
	for i := range size {
		cfg := testConfig(peers[i].ID, filepath.Join(dir, peers[i].ID))
		cfg.RaftAddr = peers[i].RaftAddr
		cfg.Listener = lns[i]
		cfg.Peers = peers
		if tweak != nil {
			tweak(i, &cfg)
		}
		c.cfgs[i] = cfg
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i, false)
		}
		for _, cfg := range c.cfgs {
			if cfg.Listener != nil {
				_ = cfg.Listener.Close()
			}
		}
	})
	return c
}

// start opens node i (again) with a fresh, empty machine.
func (c *cluster) start(i int) *Node {
	c.t.Helper()
	cfg := c.cfgs[i]
	if cfg.Listener == nil {
		cfg.Listener = listen(c.t, cfg.RaftAddr)
	}
	c.cfgs[i].Listener = nil // owned by the node from here on
	m := &fakeMachine{}
	n, err := Open(c.t.Context(), cfg, m)
	if err != nil {
		_ = cfg.Listener.Close()
		c.t.Fatalf("Open(%s) error = %v", cfg.ID, err)
	}
	c.nodes[i], c.machines[i] = n, m
	return n
}

// stop closes node i; graceful lets a leader transfer leadership first.
func (c *cluster) stop(i int, graceful bool) {
	c.t.Helper()
	n := c.nodes[i]
	if n == nil {
		return
	}
	c.nodes[i] = nil
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if graceful {
		err = n.Close(ctx)
	} else {
		n.closeOnce.Do(func() { n.closeErr = n.shutdown(ctx, false) })
		err = n.closeErr
	}
	if err != nil {
		c.t.Errorf("closing %s: %v", c.cfgs[i].ID, err)
	}
}

// leader waits until one running node leads and every running node knows
// it and is ready, and returns its index.
func (c *cluster) leader() int {
	c.t.Helper()
	leader := -1
	waitFor(c.t, 10*time.Second, "a leader every running node knows", func() bool {
		leader = -1
		for i, n := range c.nodes {
			if n != nil && n.IsLeader() {
				leader = i
			}
		}
		if leader < 0 {
			return false
		}
		for _, n := range c.nodes {
			if n != nil && (n.Status().Leader != c.cfgs[leader].ID || !n.Ready()) {
				return false
			}
		}
		return true
	})
	return leader
}

// follower returns the index of a running node other than leader.
func (c *cluster) follower(leader int) int {
	for i, n := range c.nodes {
		if n != nil && i != leader {
			return i
		}
	}
	c.t.Fatalf("no running follower")
	return -1
}

// converged waits until every running machine holds the same items as want.
func (c *cluster) converged(want []string) {
	c.t.Helper()
	waitFor(c.t, 10*time.Second, fmt.Sprintf("all machines to hold %d items", len(want)), func() bool {
		for i, n := range c.nodes {
			if n != nil && !slices.Equal(c.machines[i].items(), want) {
				return false
			}
		}
		return true
	})
}

// propose proposes one item through node i and checks its result.
func (c *cluster) propose(ctx context.Context, i int, item string) {
	c.t.Helper()
	got, err := c.nodes[i].Propose(ctx, [][]byte{[]byte(item)})
	if err != nil {
		c.t.Fatalf("Propose(%q) via %s error = %v", item, c.cfgs[i].ID, err)
	}
	checkResults(c.t, []string{item}, got)
}

// checkResults checks the fake machine's "<index>:<item>" results.
func checkResults(t testing.TB, items []string, got [][]byte) {
	t.Helper()
	if len(got) != len(items) {
		t.Fatalf("got %d results for %d items", len(got), len(items))
	}
	for i, item := range items {
		var index uint64
		var rest string
		if _, err := fmt.Sscanf(string(got[i]), "%d:%s", &index, &rest); err != nil || rest != item || index == 0 {
			t.Errorf("result %d = %q, want \"<index>:%s\"", i, got[i], item)
		}
	}
}

// logCounter is a slog.Handler that counts the records with message msg and
// sums their integer attribute key, so a test can observe what a node did
// through what it logs rather than through counters kept for tests.
type logCounter struct {
	msg, key string

	mu      sync.Mutex // guards records and sum
	records int64
	sum     int64
}

func (h *logCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message != h.msg {
		return nil
	}
	var v int64
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == h.key {
			v = a.Value.Int64()
			return false
		}
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records++
	h.sum += v
	return nil
}

func (h *logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCounter) WithGroup(string) slog.Handler      { return h }

// counts returns how many matching records were logged and the sum of their
// key attribute.
func (h *logCounter) counts() (records, sum int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.records, h.sum
}
