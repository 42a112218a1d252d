package consensus

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Ensure Close stops every goroutine the nodes started: a three-node cluster
// that forwarded, read and failed over leaves nothing running.
func TestNode_CloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		c := newCluster(t, 3, nil)
		leader := c.leader()
		follower := c.follower(leader)
		c.propose(t.Context(), follower, "x")
		if err := c.nodes[follower].ReadIndex(t.Context()); err != nil {
			t.Fatalf("ReadIndex() error = %v", err)
		}
		c.stop(leader, true)
		c.leader()
		for i := range c.nodes {
			c.stop(i, true)
		}
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for runtime.NumGoroutine() > before {
		select {
		case <-tick.C:
			continue
		case <-deadline.C:
		}
		break
	}
	if runtime.NumGoroutine() <= before {
		return
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	var ours []string
	for g := range strings.SplitSeq(stacks, "\n\n") {
		if strings.Contains(g, "tokenledger") || strings.Contains(g, "hashicorp/raft") {
			ours = append(ours, g)
		}
	}
	t.Errorf("%d goroutines before, %d after Close; leaked:\n%s", before, runtime.NumGoroutine(), strings.Join(ours, "\n\n"))
}
