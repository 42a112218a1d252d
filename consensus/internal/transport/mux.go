package transport

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

	"strings"
)

// Connection kinds: the first byte a dialling node writes (inside TLS, when
// configured) on a new connection, followed by a one-byte length and the node
// id it claims. One port then carries both raft and the internal RPC.
const (
	connRaft byte = 1
	connRPC  byte = 2
)

// MaxIDBytes bounds a node id: it travels in the one-byte length prefix of a
// connection's header.
const MaxIDBytes = 255

// ErrClosed is returned by a Mux or Client that has been closed.
var ErrClosed = errors.New("transport: closed")

// CheckID returns why id cannot name a node on the wire, or nil: it must be
// set, at most MaxIDBytes bytes, and free of white space and control
// characters. The error's text is the bare reason ("must be set"), for the
// caller to put after the name of what it checked.
func CheckID(id string) error {
	switch {
	case id == "":
		return errors.New("must be set")
	case len(id) > MaxIDBytes:
		return fmt.Errorf("is longer than %d bytes", MaxIDBytes)
	case strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return errors.New("contains white space or control characters")
	}
	return nil
}

const (
	// raftBacklog bounds raft connections accepted and handshaken but not yet
	// taken by raft's transport.
	raftBacklog = 16
	// acceptBackoffMax caps the pause after a temporary accept error.
	acceptBackoffMax = time.Second
)

// Config configures a Mux.
type Config struct {
	// Listener is where peers connect; the Mux owns and closes it.
	Listener net.Listener
	// Advertise is the address peers reach this node at, raft's address
	// for it.
	Advertise string
	// LocalID is the node id this node claims when it dials.
	LocalID string
	// TLS enables mutual TLS; nil means plain TCP, which authenticates
	// no one.
	TLS *TLS
	// DialTimeout bounds dialling a peer and the TLS handshake and header
	// exchange on a new connection, in both directions.
	DialTimeout time.Duration
	// MaxConns is the most inbound connections served at once.
	MaxConns int
	// MaxRequestBytes is the largest RPC request body served.
	MaxRequestBytes int
	// Logger receives the Mux's logs; nil discards them.
	Logger *slog.Logger

	// Resolve maps a raft address to the node id expected there ("" if
	// unknown). Required.
	Resolve func(addr string) string
	// Handle serves one RPC request from peer. Required.
	Handle Handler
	// Admit reports whether a peer whose certificate proved its id may
	// connect (TLS only: without it an id is a mere claim); nil admits all.
	Admit func(peerID string) bool
	// Heard durably records a peer that exchanged raft traffic with this
	// node; nil records nothing. A raft connection whose peer cannot be
	// recorded is closed before raft reads from it.
	Heard func(peerID string) error
}

// Mux owns the node's listener and every connection on it, inbound and
// outbound. It routes inbound connections by their first byte to raft
// (through NewRaftLayer) or to the RPC server, and verifies peers when TLS is
// on.
type Mux struct {
	ln        net.Listener
	advertise string
	localID   string
	// source is the address peers are dialled from: the listener's host
	// when it names one, so a peer (or a firewall between them) sees the
	// same host for this node's connections in both directions; nil lets
	// the system choose.
	source      *net.TCPAddr
	tls         *TLS // nil means plain TCP
	dialTimeout time.Duration
	maxConns    int
	maxRequest  int
	logger      *slog.Logger
	resolve     func(addr string) string
	handler     Handler
	admit       func(peerID string) bool
	heard       func(peerID string) error

	raftCh chan net.Conn
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex // guards the fields below
	closed  bool
	conns   map[*trackedConn]struct{}
	inbound int

	refused atomic.Uint64 // inbound connections refused at the handshake
}

// NewMux starts accepting connections on cfg.Listener.
func NewMux(cfg Config) *Mux {
	if cfg.Resolve == nil || cfg.Handle == nil {
		// Only consensus builds a Mux, always with both: a bug, not an input.
		panic("transport: mux started without handlers")
	}
	var source *net.TCPAddr
	if a, ok := cfg.Listener.Addr().(*net.TCPAddr); ok && a.IP != nil && !a.IP.IsUnspecified() {
		source = &net.TCPAddr{IP: a.IP, Zone: a.Zone}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Mux{
		ln:          cfg.Listener,
		source:      source,
		advertise:   cfg.Advertise,
		localID:     cfg.LocalID,
		tls:         cfg.TLS,
		dialTimeout: cfg.DialTimeout,
		maxConns:    cfg.MaxConns,
		maxRequest:  cfg.MaxRequestBytes,
		logger:      logger,
		resolve:     cfg.Resolve,
		handler:     cfg.Handle,
		admit:       cfg.Admit,
		heard:       cfg.Heard,
		raftCh:      make(chan net.Conn, raftBacklog),
		done:        make(chan struct{}),
		conns:       make(map[*trackedConn]struct{}),
	}
	m.wg.Go(m.acceptLoop)
	return m
}

// Refused is the number of inbound connections refused so far: at the
// handshake (bad certificate, wrong id, not a member) or for exceeding
// MaxConns.
func (m *Mux) Refused() uint64 { return m.refused.Load() }

func (m *Mux) acceptLoop() {
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
func (m *Mux) handle(c *trackedConn) {
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
func (m *Mux) accept(c *trackedConn) (kind byte, peer string, conn net.Conn, err error) {
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
	if err := CheckID(peer); err != nil {
		return 0, peer, nil, fmt.Errorf("peer id %w", err)
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
func (m *Mux) dial(ctx context.Context, kind byte, addr, expectedID string) (net.Conn, error) {
	if m.tls != nil && expectedID == "" {
		return nil, fmt.Errorf("transport: dial %s: no known node at this address", addr)
	}
	ctx, cancel := context.WithTimeout(ctx, m.dialTimeout)
	defer cancel()
	d := net.Dialer{}
	if m.source != nil {
		d.LocalAddr = m.source
	}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	c, ok := m.track(raw, false)
	if !ok {
		return nil, ErrClosed
	}
	conn, err := m.handshake(ctx, c, kind, expectedID)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("transport: dial %s (%s): %w", addr, expectedID, err)
	}
	return conn, nil
}

func (m *Mux) handshake(ctx context.Context, c *trackedConn, kind byte, expectedID string) (net.Conn, error) {
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
func (m *Mux) track(c net.Conn, inbound bool) (*trackedConn, bool) {
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

func (m *Mux) untrack(tc *trackedConn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.conns[tc]; ok {
		delete(m.conns, tc)
		if tc.inbound {
			m.inbound--
		}
	}
}

func (m *Mux) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Close stops accepting, closes every connection and waits for the mux's
// goroutines. It is idempotent.
func (m *Mux) Close() error {
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
	m       *Mux
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
