package consensus

import (
	"context"
	"sync"
)

// group owns the node's goroutines. Unlike a sync.WaitGroup, waiting for it
// takes a context, because some of its goroutines wait on raft futures, which
// raft may never answer once it has shut down (see Node.shutdown).
type group struct {
	mu      sync.Mutex // guards the fields below
	running int
	closed  bool
	idle    chan struct{} // closed while running == 0
}

func newGroup() *group {
	idle := make(chan struct{})
	close(idle)
	return &group{idle: idle}
}

// start runs fn on a new goroutine unless the group is closed.
func (g *group) start(fn func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	if g.running == 0 {
		g.idle = make(chan struct{})
	}
	g.running++
	go func() {
		defer g.done()
		fn()
	}()
	return true
}

func (g *group) done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running--
	assert(g.running >= 0, "group count below zero")
	if g.running == 0 {
		close(g.idle)
	}
}

// close refuses new goroutines from now on.
func (g *group) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

func (g *group) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// wait blocks until no goroutine of the group runs or ctx ends, and returns
// how many still run.
func (g *group) wait(ctx context.Context) int {
	g.mu.Lock()
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return 0
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running
}
