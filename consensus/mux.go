package consensus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Connection kinds: the first byte a dialling node writes (inside TLS, when
// configured) on a new connection, followed by a one-byte length and the node
// id it claims. One port then carries both raft and the internal RPC.
const (
	connRaft byte = 1
	connRPC  byte = 2
)

const (
	// raftBacklog bounds raft connections accepted and handshaken but not yet
	// taken by raft's transport.
	raftBacklog = 16
	// acceptBackoffMax caps the pause after a temporary accept error.
	acceptBackoffMax = time.Second
)

// mux owns the node's listener and every connection on it, inbound and
// outbound. It routes inbound connections by their first byte to raft (through
// raftLayer) or to the RPC server, and verifies peers when TLS is on.
type mux struct {
	ln        net.Listener
	advertise string
	localID   string
	// source is the address peers are dialled from: the listener's host
	// when it names one, so a peer (or a firewall between them) sees the
	// same host for this node's connections in both directions; nil lets
	// the system choose.
	source      *net.TCPAddr
	tls         *tlsSetup // nil means plain TCP
	dialTimeout time.Duration
	maxConns    int
	logger      *slog.Logger
	// resolve maps a raft address to the node id expected there ("" if unknown).
	resolve func(addr string) string
	// serveRPC serves one internal RPC connection until it fails or closes.
	serveRPC func(c net.Conn, peerID string)
	// admit reports whether a peer whose certificate proved its id may
	// connect (TLS only: without it an id is a mere claim); nil admits all.
	admit func(peerID string) bool
	// heard durably records a peer that exchanged raft traffic with this
	// node (heardPeers.record); nil records nothing.
	heard func(peerID string) error

	raftCh chan net.Conn
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex // guards the fields below
	closed  bool
	conns   map[*trackedConn]struct{}
	inbound int

	refused atomic.Uint64 // inbound connections refused at the handshake
}

func newMux(ln net.Listener, advertise, localID string, t *tlsSetup, cfg *Config, logger *slog.Logger) *mux {
	var source *net.TCPAddr
	if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP != nil && !a.IP.IsUnspecified() {
		source = &net.TCPAddr{IP: a.IP, Zone: a.Zone}
	}
	return &mux{
		ln:          ln,
		source:      source,
		advertise:   advertise,
		localID:     localID,
		tls:         t,
		dialTimeout: cfg.DialTimeout,
		maxConns:    cfg.MaxConns,
		logger:      logger,
		raftCh:      make(chan net.Conn, raftBacklog),
		done:        make(chan struct{}),
		conns:       make(map[*trackedConn]struct{}),
	}
}

// start begins accepting; resolve and serveRPC must be set.
func (m *mux) start() {
	assert(m.resolve != nil && m.serveRPC != nil, "mux started without handlers")
	m.wg.Go(m.acceptLoop)
}

func (m *mux) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if m.isClosed() {
				return
			}
			if !isTemporary(err) {
				m.logger.Error("accept failed; no longer accepting", keyError, err)
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), acceptBackoffMax)
			m.logger.Warn("accept failed; retrying", keyError, err, keyBackoff, backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-m.done:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		tc, ok := m.track(c, true)
		if !ok {
			continue
		}
		m.wg.Go(func() { m.handle(tc) })
	}
}

// isTemporary reports accept errors worth retrying (such as running out of
// file descriptors), using the deprecated Temporary method that net still
// sets for them.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// handle runs the handshake on an inbound connection and routes it.
func (m *mux) handle(c *trackedConn) {
	kind, peer, conn, err := m.accept(c)
	if err != nil {
		m.refused.Add(1)
		m.logger.Warn("refused inbound connection", keyAddr, c.RemoteAddr().String(), keyPeer, peer, keyError, err)
		_ = c.Close()
		return
	}
	switch kind {
	case connRaft:
		if m.heard != nil {
			if err := m.heard(peer); err != nil {
				m.logger.Error("refused raft connection", keyPeer, peer, keyError, err)
				_ = conn.Close()
				return
			}
		}
		select {
		case m.raftCh <- conn:
		case <-m.done:
			_ = conn.Close()
		}
	case connRPC:
		m.serveRPC(conn, peer)
		_ = conn.Close()
	}
}

// accept runs the server side of the handshake: TLS (if on), then the header.
func (m *mux) accept(c *trackedConn) (kind byte, peer string, conn net.Conn, err error) {
	if err := c.SetDeadline(time.Now().Add(m.dialTimeout)); err != nil {
		return 0, "", nil, err
	}
	conn = c
	var tc *tls.Conn
	if m.tls != nil {
		tc = tls.Server(c, m.tls.serverConfig())
		if err := tc.Handshake(); err != nil {
			return 0, "", nil, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	var h [2]byte
	if _, err := io.ReadFull(conn, h[:]); err != nil {
		return 0, "", nil, fmt.Errorf("read header: %w", err)
	}
	kind = h[0]
	if kind != connRaft && kind != connRPC {
		return 0, "", nil, fmt.Errorf("unknown connection kind %d", kind)
	}
	id := make([]byte, h[1])
	if _, err := io.ReadFull(conn, id); err != nil {
		return 0, "", nil, fmt.Errorf("read header: %w", err)
	}
	peer = string(id)
	if err := validateID("peer id", peer); err != nil {
		return 0, peer, nil, err
	}
	if tc != nil && !certMatchesID(tc.ConnectionState().PeerCertificates[0], peer) {
		return 0, peer, nil, fmt.Errorf("%w: claims %q", errPeerIdentity, peer)
	}
	if tc != nil && m.admit != nil && !m.admit(peer) {
		return 0, peer, nil, fmt.Errorf("%w: %q", errNotMember, peer)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return 0, peer, nil, err
	}
	return kind, peer, conn, nil
}

// dial opens a connection of the given kind to the node expectedID at addr.
// With TLS the peer's certificate must name expectedID.
func (m *mux) dial(ctx context.Context, kind byte, addr, expectedID string) (net.Conn, error) {
	if m.tls != nil && expectedID == "" {
		return nil, fmt.Errorf("consensus: dial %s: no known node at this address", addr)
	}
	ctx, cancel := context.WithTimeout(ctx, m.dialTimeout)
	defer cancel()
	d := net.Dialer{}
	if m.source != nil {
		d.LocalAddr = m.source
	}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("consensus: dial %s: %w", addr, err)
	}
	c, ok := m.track(raw, false)
	if !ok {
		return nil, ErrClosed
	}
	conn, err := m.handshake(ctx, c, kind, expectedID)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("consensus: dial %s (%s): %w", addr, expectedID, err)
	}
	return conn, nil
}

func (m *mux) handshake(ctx context.Context, c *trackedConn, kind byte, expectedID string) (net.Conn, error) {
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	var conn net.Conn = c
	if m.tls != nil {
		tc := tls.Client(c, m.tls.clientConfig(expectedID))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	header := append([]byte{kind, byte(len(m.localID))}, m.localID...)
	if _, err := conn.Write(header); err != nil {
		return nil, fmt.Errorf("write header: %w", err)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return conn, nil
}

// track registers c so close can reach it. Inbound connections beyond
// maxConns, and any connection after close, are closed at once.
func (m *mux) track(c net.Conn, inbound bool) (*trackedConn, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || (inbound && m.inbound >= m.maxConns) {
		if inbound && !m.closed {
			m.refused.Add(1)
			m.logger.Warn("too many inbound connections; refusing", keyAddr, c.RemoteAddr().String())
		}
		_ = c.Close()
		return nil, false
	}
	tc := &trackedConn{Conn: c, m: m, inbound: inbound}
	m.conns[tc] = struct{}{}
	if inbound {
		m.inbound++
	}
	return tc, true
}

func (m *mux) untrack(tc *trackedConn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.conns[tc]; ok {
		delete(m.conns, tc)
		if tc.inbound {
			m.inbound--
		}
	}
}

func (m *mux) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// close stops accepting, closes every connection and waits for the mux's
// goroutines.
func (m *mux) close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	err := m.ln.Close()
	conns := make([]*trackedConn, 0, len(m.conns))
	for tc := range m.conns {
		conns = append(conns, tc)
	}
	m.mu.Unlock()
	for _, tc := range conns {
		_ = tc.Close()
	}
	m.wg.Wait()
	// Connections handed to raft's channel but never accepted.
	for {
		select {
		case c := <-m.raftCh:
			_ = c.Close()
		default:
			return err
		}
	}
}

// trackedConn removes itself from the mux when closed.
type trackedConn struct {
	net.Conn
	m       *mux
	inbound bool
	once    sync.Once
	err     error
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.err = c.Conn.Close()
		c.m.untrack(c)
	})
	return c.err
}

// raftLayer is the raft.StreamLayer over the mux.
type raftLayer struct {
	m         *mux
	closeOnce sync.Once
	closed    chan struct{}
}

var _ raft.StreamLayer = (*raftLayer)(nil)

func newRaftLayer(m *mux) *raftLayer {
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
