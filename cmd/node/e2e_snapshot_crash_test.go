//go:build unix

package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestE2E_SnapshotPersistedNotRestored: a follower crashes after raft made a
// snapshot received from the leader durable but before the ledger restored
// it, so its state file is older than its latest snapshot. After a leader
// change (the new leader does not know the follower needs a snapshot) the
// follower must restore that snapshot at start rather than apply later
// entries on top of its old state, and converge with the others.
func TestE2E_SnapshotPersistedNotRestored(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := newCluster(t)
	c.serveArgs = e2eSnapArgs
	leader, h := c.begin()
	c.waitConverged(c.all())
	follower := c.others(leader)[0]
	c.kill(follower)
	target := c.compactionTarget(follower)
	c.writeUntilCompacted(h, "r", follower, target)
	snaps, _ := c.snapshots(leader)
	src := filepath.Join(c.dataDir(leader), "raft", "snapshots", snaps[0].ID)
	dst := filepath.Join(c.dataDir(follower), "raft", "snapshots")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	t.Logf("copied leader snapshot %s (index %d) into %s", snaps[0].ID, snaps[0].Index, dst)
	// A leader change before the follower is back: the new leader does not
	// know the follower needs a snapshot.
	c.kill(leader)
	c.start(follower)
	newLeader := c.waitLeader(c.others(leader), e2eElectionWait)
	t.Logf("new leader %s", c.procs[newLeader].id)
	c.waitReady(follower)
	c.start(leader)
	c.waitReady(leader)
	s, _ := c.status(follower)
	t.Logf("follower status after ready: %+v", s)
	c.checkHistory(h, c.all())
}
