//go:build unix

package main_test

// The snapshot end-to-end test: a cluster whose nodes snapshot and compact
// their raft logs every few dozen entries, so a node that was away, or a
// replacement on an empty disk, can only catch up through InstallSnapshot,
// and a node restarting with snapshots on disk (and a durable state file, so
// NoSnapshotRestoreOnStart) must come back with the same journal.

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/client"
)

const (
	// e2eSnapThreshold and e2eSnapTrailing are the nodes' --snapshot-threshold
	// and --trailing-logs: a snapshot every 64 new entries (checked every
	// 1 to 2 s), 32 entries kept behind it.
	e2eSnapThreshold = 64
	e2eSnapTrailing  = 32
	// e2eSnapWALSegmentBytes holds a handful of the tests' log entries, so
	// compaction deletes whole segments well before a follower's last entry.
	e2eSnapWALSegmentBytes = 4 << 10
	// e2eSnapMinWrites is how many instructions the writers get decided, at
	// least, while a node is down.
	e2eSnapMinWrites = 300
	// e2eSnapWriteTimeout bounds writing them and the leader compacting its
	// log past the stopped node.
	e2eSnapWriteTimeout = 90 * time.Second
	// e2eSnapCatchUpTimeout bounds a restarted node installing a snapshot:
	// the leader's replication to a peer that was down backs off for up to
	// about 10 s before it tries again.
	e2eSnapCatchUpTimeout = 45 * time.Second
	// e2eSnapAfterRestart is how many instructions are sent, one by one, after
	// a restart, so the restarted node applies new entries on top.
	e2eSnapAfterRestart = 20

	// Lines raft logs (hashicorp/raft v1.8.0): a follower installed a
	// snapshot sent by the leader; a node restored its own snapshot at start
	// (never with NoSnapshotRestoreOnStart); a node truncated its log.
	logInstalledSnapshot = "Installed remote snapshot"
	logRestoreAtStart    = "starting restore from snapshot"
	logCompacting        = "compacting logs"
	// logStartMarker begins each start's section of a node's log (start).
	logStartMarker = "=== e2e: start "
)

var e2eSnapArgs = []string{
	"--snapshot-threshold", fmt.Sprint(e2eSnapThreshold),
	"--snapshot-interval", "1s",
	"--trailing-logs", fmt.Sprint(e2eSnapTrailing),
	// The WAL drops compacted entries a whole segment at a time; small
	// segments make the leader forget the entries a lagging follower misses,
	// so it catches up through a snapshot as these tests require.
	"--wal-segment-bytes", fmt.Sprint(e2eSnapWALSegmentBytes),
}

// TestE2E_SnapshotCatchUp: with small snapshot settings,
//
//  1. a follower is killed; while it is down a few hundred instructions are
//     acknowledged and every live node snapshots and compacts its log past
//     the follower's last entry; the follower restarts with its data and
//     catches up through InstallSnapshot;
//  2. the same follower is killed and its data directory deleted (a replaced
//     machine: no raft log, no state file, no operator key file); it is
//     removed from the cluster, and after more writes a replacement under a
//     new id starts on an empty disk, is added, and restores the leader's
//     snapshot;
//  3. the leader, holding snapshots, is killed and restarted; it comes back
//     from its own state file without restoring a snapshot
//     (NoSnapshotRestoreOnStart) and serves the same journal.
//
// After each phase every node has the same applied index and the same
// verified journal, entry for entry; every acknowledged write is in it
// exactly once; and the cap tables are the journal's fold, supply conserved.
func TestE2E_SnapshotCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts real node processes")
	}
	c := newCluster(t)
	c.serveArgs = e2eSnapArgs
	leader, h := c.begin()
	c.waitConverged(c.all())
	follower := c.others(leader)[0]

	// Phases, not subtests: the cluster's helpers report to the parent test.
	{
		t.Logf("phase 1: SIGKILL follower %s, write, compact, restart it with its data", c.procs[follower].id)
		c.kill(follower)
		target := c.compactionTarget(follower)
		c.writeUntilCompacted(h, "snap1", follower, target)
		c.restartFromSnapshot(follower)
		c.checkHistory(h, c.all())
	}
	{
		old := c.procs[follower]
		t.Logf("phase 2: SIGKILL follower %s, delete its data, remove it, write, add a replacement on an empty disk", old.id)
		c.kill(follower)
		target := c.compactionTarget(follower)
		if err := os.RemoveAll(c.dataDir(follower)); err != nil {
			t.Fatal(err)
		}
		// A node that lost its disk lost its term and vote with it: it goes
		// out of the configuration and a replacement comes in under a new id
		// (TestE2E_WipedNodeRefused: it may not simply start again).
		waitFor(t, e2eStartTimeout, "the leader to remove "+old.id, func() (bool, string) {
			leader = c.waitLeader(c.others(follower), e2eElectionWait)
			status, err := c.onNode(leader, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
				return cl.RemoveNode(ctx, old.id)
			})
			return err == nil && status == http.StatusNoContent, fmt.Sprintf("%d %v", status, err)
		})
		c.writeUntilCompacted(h, "snap2", follower, target)
		addr := freeAddrs(t, 1)[0]
		repl := &e2eProc{
			id: "n4", raftAddr: addr[0], apiAddr: addr[1],
			logPath:   filepath.Join(c.dir, "n4.log"),
			extraArgs: []string{"--join", "--raft-addr", addr[0], "--api-addr", addr[1]},
		}
		c.procs[follower] = repl
		began := time.Now()
		c.start(follower)
		body := client.Node{ID: repl.id, RaftAddr: repl.raftAddr, APIAddr: repl.apiAddr}
		waitFor(t, e2eStartTimeout, "the leader to add "+repl.id, func() (bool, string) {
			leader = c.waitLeader(c.others(follower), e2eElectionWait)
			status, err := c.onNode(leader, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
				return cl.AddNode(ctx, body)
			})
			return err == nil && status == http.StatusOK, fmt.Sprintf("%d %v", status, err)
		})
		waitFor(t, e2eSnapCatchUpTimeout, repl.id+" to install a snapshot from the leader", func() (bool, string) {
			n := c.logCount(follower, logInstalledSnapshot)
			return n > 0, fmt.Sprintf("%d %q line(s) in its log", n, logInstalledSnapshot)
		})
		c.waitReady(follower)
		t.Logf("%s installed a snapshot and was ready %s after its start", repl.id, time.Since(began).Round(time.Millisecond))
		if _, err := os.Stat(filepath.Join(c.dataDir(follower), "operator.key")); err != nil {
			t.Errorf("%s on an empty disk did not save the bootstrap operator key: %v", repl.id, err)
		}
		c.checkHistory(h, c.all())
	}
	{
		leader = c.waitLeader(c.all(), e2eElectionWait)
		snaps, err := c.snapshots(leader)
		if err != nil || len(snaps) == 0 {
			t.Fatalf("leader %s has no snapshot before its restart (%v)", c.procs[leader].id, err)
		}
		before := c.waitConverged(c.all())
		installs := c.logCount(leader, logInstalledSnapshot)
		t.Logf("phase 3: SIGKILL leader %s (latest snapshot at index %d), restart it", c.procs[leader].id, snaps[0].Index)
		c.kill(leader)
		c.waitLeader(c.others(leader), e2eElectionWait)
		c.start(leader)
		c.waitReady(leader)
		if after := c.waitConverged(c.all()); after != before {
			t.Errorf("journal after the leader's restart %+v, before %+v", after, before)
		}
		// Its state file had applied entries, so raft must not have
		// restored a snapshot over it, and nothing was written meanwhile
		// that could make it need one from the new leader.
		if c.sinceLastStart(leader, logRestoreAtStart) {
			t.Errorf("%s restored a snapshot at start (%q in its log since the restart); NoSnapshotRestoreOnStart should skip that", c.procs[leader].id, logRestoreAtStart)
		}
		if n := c.logCount(leader, logInstalledSnapshot); n != installs {
			t.Errorf("%s installed %d snapshot(s) from the new leader after its restart; none was needed", c.procs[leader].id, n-installs)
		}
		rng := newRand(6)
		for k := range e2eSnapAfterRestart {
			c.mustSubmit(h, transferOp(rng, fmt.Sprintf("after-leader-restart-%d", k)), (leader+k)%e2eNodes, "accepted")
		}
		c.checkHistory(h, c.all())
	}
}

// compactionTarget is the first raft index a node that went down now cannot
// have: every live node's commit index plus one. Nothing is written while it
// is read, so the dead node's log ends below it.
func (c *e2eCluster) compactionTarget(down int) uint64 {
	c.t.Helper()
	var target uint64
	for _, i := range c.others(down) {
		s, err := c.status(i)
		if err != nil {
			c.t.Fatal(err)
		}
		target = max(target, s.CommitIndex+1)
	}
	c.t.Logf("%s is down; its raft log ends before index %d", c.procs[down].id, target)
	return target
}

// writeUntilCompacted runs the workload's writers until at least
// e2eSnapMinWrites more instructions are decided and every node but down has
// a snapshot covering target and has deleted its log up to target at least,
// so down can only catch up from a snapshot; then it stops them.
func (c *e2eCluster) writeUntilCompacted(h *history, prefix string, down int, target uint64) {
	c.t.Helper()
	began := time.Now()
	w := c.startWriters(h, prefix, e2eWriters, e2eWriterMaxOps, uint64(time.Now().UnixNano()))
	start := w.decided.Load()
	err := poll(e2eSnapWriteTimeout, func() (bool, string) {
		if got := w.decided.Load() - start; got < e2eSnapMinWrites {
			return false, fmt.Sprintf("%d of %d instructions decided", got, e2eSnapMinWrites)
		}
		for _, i := range c.others(down) {
			if ok, detail := c.compactedPast(i, target); !ok {
				return false, detail
			}
		}
		return true, ""
	})
	w.halt()
	if err != nil {
		c.t.Fatalf("waiting for the live nodes to compact past index %d: %v", target, err)
	}
	c.t.Logf("%d instructions decided and the live nodes compacted past index %d in %s",
		w.decided.Load()-start, target, time.Since(began).Round(time.Millisecond))
	for _, i := range c.others(down) {
		snaps, _ := c.snapshots(i)
		c.t.Logf("%s: %d snapshot(s), latest at index %d; log compacted to %d", c.procs[i].id, len(snaps), snaps[0].Index, c.compactedTo(i))
	}
}

// compactedPast reports whether node i has a complete snapshot at index
// target or later and has deleted its raft log up to target.
func (c *e2eCluster) compactedPast(i int, target uint64) (bool, string) {
	snaps, err := c.snapshots(i)
	switch {
	case err != nil:
		return false, err.Error()
	case len(snaps) == 0:
		return false, c.procs[i].id + " has no snapshot yet"
	case snaps[0].Index < target:
		return false, fmt.Sprintf("%s's latest snapshot is at index %d, below %d", c.procs[i].id, snaps[0].Index, target)
	}
	if to := c.compactedTo(i); to < target {
		return false, fmt.Sprintf("%s's log is compacted to index %d, below %d", c.procs[i].id, to, target)
	}
	return true, ""
}

// restartFromSnapshot starts node i, which is behind the others' compacted
// logs, and waits until it has installed a snapshot from the leader and is
// ready.
func (c *e2eCluster) restartFromSnapshot(i int) {
	c.t.Helper()
	installs := c.logCount(i, logInstalledSnapshot)
	began := time.Now()
	c.start(i)
	waitFor(c.t, e2eSnapCatchUpTimeout, c.procs[i].id+" to install a snapshot from the leader", func() (bool, string) {
		n := c.logCount(i, logInstalledSnapshot)
		return n > installs, fmt.Sprintf("%d %q line(s) in its log, %d before the start", n, logInstalledSnapshot, installs)
	})
	installed := time.Since(began)
	c.waitReady(i)
	c.t.Logf("%s installed a snapshot %s after its start, ready after %s", c.procs[i].id,
		installed.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// dataDir is node i's data directory (cluster.yaml's data_dir/<id>).
func (c *e2eCluster) dataDir(i int) string {
	return filepath.Join(c.dir, "data", c.procs[i].id)
}

// snapMeta is the part of raft's file snapshot store meta.json the test reads.
type snapMeta struct {
	ID    string
	Index uint64
	Term  uint64
}

// snapshots lists node i's complete snapshots (<data>/raft/snapshots/*/meta.json),
// newest first. A snapshot still being written (its directory ends in .tmp)
// is not listed.
func (c *e2eCluster) snapshots(i int) ([]snapMeta, error) {
	dir := filepath.Join(c.dataDir(i), "raft", "snapshots")
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []snapMeta
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if err != nil {
			continue // removed by the store's retention meanwhile
		}
		var m snapMeta
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s snapshot %s: meta.json: %v", c.procs[i].id, e.Name(), err)
		}
		out = append(out, m)
	}
	// Newest first, by index (ReadDir's name order is term-index-time, which
	// a later term with a lower index would break).
	slices.SortFunc(out, func(a, b snapMeta) int { return cmp.Compare(b.Index, a.Index) })
	return out, nil
}

// compactedTo is the highest index up to which node i's log says raft
// deleted log entries ("compacting logs", "to"), over every start; 0 if none.
func (c *e2eCluster) compactedTo(i int) uint64 {
	var to uint64
	c.scanLog(i, func(line string) {
		if !strings.Contains(line, logCompacting) {
			return
		}
		var l struct {
			Msg string `json:"msg"`
			To  uint64 `json:"to"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == logCompacting {
			to = max(to, l.To)
		}
	})
	return to
}

// logCount is how many lines of node i's log, over every start, contain s.
func (c *e2eCluster) logCount(i int, s string) int {
	n := 0
	c.scanLog(i, func(line string) {
		if strings.Contains(line, s) {
			n++
		}
	})
	return n
}

// sinceLastStart reports whether a line of node i's log after its latest
// start contains s.
func (c *e2eCluster) sinceLastStart(i int, s string) bool {
	found := false
	c.scanLog(i, func(line string) {
		switch {
		case strings.HasPrefix(line, logStartMarker):
			found = false
		case strings.Contains(line, s):
			found = true
		}
	})
	return found
}

// scanLog calls fn with each line of node i's log; a missing log has none.
func (c *e2eCluster) scanLog(i int, fn func(line string)) {
	f, err := os.Open(c.procs[i].logPath)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
}
