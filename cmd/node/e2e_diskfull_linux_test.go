//go:build linux

package main_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// e2eDiskSize is each node's data filesystem: room for the test's
	// writes many times over, small enough to fill in an instant.
	e2eDiskSize = "256m"
	// e2eExitStorageFault is the node's documented exit status after a
	// storage fault (cmd/node exitStorageFault).
	e2eExitStorageFault = 74
	// e2eFaultWait bounds the wait for the node on the full disk to stop.
	e2eFaultWait = 60 * time.Second
)

// TestE2E_DiskFull: each node's data directory is its own size-limited
// filesystem (tmpfs with size=; mounting needs root, and the test skips
// where it is not allowed). Under load, the disk of the leader, then in a
// second run a follower's, fills up. That node must stop by itself with the
// storage-fault status and one clear line saying what to do, no panic and no
// stack trace, and no request anywhere is answered 500 (the writers fail the
// test on any status but 200, 422 or 503). With the space freed, it restarts,
// replays and catches up: every acknowledged instruction is in every node's
// journal exactly once, and the journals agree.
func TestE2E_DiskFull(t *testing.T) {
	for _, victim := range []string{"leader", "follower"} {
		t.Run(victim, func(t *testing.T) { diskFull(t, victim) })
	}
}

func diskFull(t *testing.T, victim string) {
	c := newCluster(t)
	// Frequent state commits, so the state file meets the full disk within
	// seconds of load, as a busy node's does (it commits every 32,768
	// instructions by default), as well as the raft log.
	c.serveArgs = []string{"--commit-every", "64"}
	for _, p := range c.procs {
		mountSmallDisk(t, c, filepath.Join(c.dir, "data", p.id))
	}
	leader, h := c.begin()
	w := c.startWriters(h, "df", e2eWriters, e2eWriterMaxOps, uint64(time.Now().UnixNano()))
	w.waitDecided(30, e2eProgressWait, "writes before the disk fills")

	full := leader
	if victim == "follower" {
		full = c.others(leader)[0]
	}
	p := c.procs[full]
	dataDir := filepath.Join(c.dir, "data", p.id)
	t.Logf("filling the disk of %s %s", victim, p.id)
	ballast := fillDisk(t, dataDir)

	err := c.waitExitWithin(full, e2eFaultWait)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != e2eExitStorageFault {
		t.Fatalf("%s on a full disk: exit %v, want status %d", p.id, err, e2eExitStorageFault)
	}
	line := c.logLine(full, "storage fault: the node stops")
	if line == "" || !strings.Contains(line, "free space on the filesystem of "+dataDir) {
		t.Errorf("%s stopped without the storage-fault line naming its data directory", p.id)
	}
	t.Logf("%s: %s", p.id, line)
	if victim == "leader" {
		leader = c.waitLeader(c.others(full), e2eElectionWait)
		t.Logf("new leader %s", c.procs[leader].id)
	}
	w.waitDecided(30, e2eProgressWait, "writes with the full node stopped")

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	c.start(full)
	c.waitReady(full)
	w.waitDecided(30, e2eProgressWait, "writes after the restart")
	w.halt()
	c.checkHistory(h, c.all())
}

// mountSmallDisk mounts a tmpfs of e2eDiskSize on dir, or skips the test
// where that is not allowed. The mount goes when the test ends, after the
// node processes are killed.
func mountSmallDisk(t *testing.T, c *e2eCluster, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+e2eDiskSize+",mode=0700"); err != nil {
		t.Skipf("cannot mount a size-limited tmpfs on %s (%v): this test needs root and a kernel that allows it", dir, err)
	}
	t.Cleanup(func() {
		c.killAll()
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// fillDisk writes a ballast file into dir until its filesystem is full and
// returns the file's path; removing it frees the space.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	// Bounded by the filesystem's size: a tmpfs of e2eDiskSize takes at most
	// that many chunks before it answers ENOSPC.
	for range 1 << 12 {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatalf("fill %s: %v", dir, err)
		}
	}
	t.Fatalf("fill %s: still not full after %d MiB", dir, 1<<12)
	return ""
}
