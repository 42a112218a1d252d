package transport

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// raftLayer is the raft.StreamLayer over the mux.
type raftLayer struct {
	m         *Mux
	closeOnce sync.Once
	closed    chan struct{}
}

var _ raft.StreamLayer = (*raftLayer)(nil)

// NewRaftLayer returns the raft.StreamLayer over m: raft's NetworkTransport
// accepts the raft connections m hands it and dials peers through m.
func NewRaftLayer(m *Mux) raft.StreamLayer {
	return &raftLayer{m: m, closed: make(chan struct{})}
}

func (l *raftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.m.raftCh:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.m.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept; the mux owns and closes the listener itself.
func (l *raftLayer) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Addr is the advertised address, which raft uses as this node's address.
func (l *raftLayer) Addr() net.Addr { return advertisedAddr(l.m.advertise) }

func (l *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	addr := string(address)
	id := l.m.resolve(addr)
	conn, err := l.m.dial(ctx, connRaft, addr, id)
	if err != nil || l.m.heard == nil || id == "" {
		return conn, err
	}
	return &heardConn{Conn: conn, id: id, record: l.m.heard}, nil
}

// advertisedAddr is a net.Addr for the configured advertise address.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// heardConn records its peer on the first bytes it reads, before handing
// them to raft: a raft connection this node dialled and the peer answered.
type heardConn struct {
	net.Conn
	id     string
	record func(id string) error
	done   atomic.Bool
}

func (c *heardConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.done.Load() {
		if rerr := c.record(c.id); rerr != nil {
			_ = c.Conn.Close()
			return 0, rerr
		}
		c.done.Store(true)
	}
	return n, err
}
