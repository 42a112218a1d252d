package consensus

import (
	"bytes"
	"testing"
)

// BenchmarkPropose measures committed proposals of one 200-byte item on a
// three-node loopback cluster: from one client, and from many concurrent
// clients sent to the leader or to a follower (which forwards). items/entry,
// items per log entry, shows the batching.
func BenchmarkPropose(b *testing.B) {
	tests := []struct {
		name     string
		follower bool
		parallel bool
	}{
		{"leader/1-client", false, false},
		{"leader/parallel", false, true},
		{"follower/parallel", true, true},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			c := newCluster(b, 3, nil)
			leader := c.leader()
			target := leader
			if tc.follower {
				target = c.follower(leader)
			}
			n := c.nodes[target]
			item := [][]byte{bytes.Repeat([]byte{'x'}, 200)}
			// Every node applies every log entry; the leader's machine
			// counts them.
			entriesBefore, _, _ := c.machines[leader].counts()
			b.ResetTimer()
			if tc.parallel {
				b.SetParallelism(32)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := n.Propose(b.Context(), item); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for range b.N {
					if _, err := n.Propose(b.Context(), item); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			entriesAfter, _, _ := c.machines[leader].counts()
			if entries := entriesAfter - entriesBefore; entries > 0 {
				b.ReportMetric(float64(b.N)/float64(entries), "items/entry")
			}
		})
	}
}
