package consensus

import (
	"testing"
	"time"
)

// TestLagState checks the readiness lag rule: trailing by more than the bound
// makes a node unready only once it has lasted longer than the grace, and it
// is ready again as soon as it is back within the bound.
func TestLagState(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	l := lagState{entries: 100, grace: 5 * time.Second}
	steps := []struct {
		at              time.Duration
		commit, applied uint64
		want            bool
	}{
		{0, 50, 50, false},
		{time.Second, 500, 50, false},       // behind, within grace
		{5 * time.Second, 600, 100, false},  // still within grace (4 s)
		{7 * time.Second, 700, 150, true},   // behind for 6 s
		{8 * time.Second, 700, 650, false},  // caught up to within the bound
		{9 * time.Second, 900, 700, false},  // behind again: the grace starts over
		{13 * time.Second, 900, 700, false}, // 4 s
		{15 * time.Second, 900, 700, true},  // 6 s
		{16 * time.Second, 700, 900, false}, // applied ahead of a stale commit index
		{17 * time.Second, 801, 700, false}, // exactly 101 behind: starts the clock
		{17 * time.Second, 800, 700, false}, // exactly the bound: within it
	}
	for i, s := range steps {
		if got := l.sample(t0.Add(s.at), s.commit, s.applied); got != s.want {
			t.Errorf("step %d (%s, commit %d, applied %d): lagging %v, want %v", i, s.at, s.commit, s.applied, got, s.want)
		}
	}
}
