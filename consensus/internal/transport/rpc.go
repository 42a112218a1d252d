package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Internal RPC between nodes, on connections of kind connRPC. A connection
// carries one request at a time; requests and responses are frames:
//
//	kind or status  byte
//	length          uvarint
//	body            length bytes
//
// The kinds, the statuses and what the bodies hold are the caller's.

const (
	// rpcIdleTimeout closes internal RPC connections idle for this long.
	rpcIdleTimeout = 5 * time.Minute
	// rpcWriteTimeout bounds writing one response.
	rpcWriteTimeout = 10 * time.Second
	// rpcBufferBytes sizes each connection's read and write buffers.
	rpcBufferBytes = 64 << 10
)

// ErrBusy is returned by Client.Call when every call slot stayed taken until
// the caller's context ended. The request was not sent.
var ErrBusy = errors.New("transport: every call slot is taken")

// Handler serves one RPC request of the given kind from peer and returns the
// response's status and body.
type Handler func(peer string, kind byte, body []byte) (status byte, resp []byte)

func writeFrame(w *bufio.Writer, kind byte, body []byte) error {
	var h [1 + binary.MaxVarintLen64]byte
	h[0] = kind
	n := binary.PutUvarint(h[1:], uint64(len(body)))
	if _, err := w.Write(h[:1+n]); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Flush()
}

func readFrame(r *bufio.Reader, maxBytes int) (byte, []byte, error) {
	kind, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	size, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, nil, fmt.Errorf("frame length: %w", noEOF(err))
	}
	if size > uint64(maxBytes) {
		return 0, nil, fmt.Errorf("frame of %d bytes exceeds %d", size, maxBytes)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, fmt.Errorf("frame body: %w", noEOF(err))
	}
	return kind, body, nil
}

// noEOF turns EOF inside a frame into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// serveRPC serves requests on one inbound RPC connection until it fails or
// closes.
func (m *Mux) serveRPC(c net.Conn, peer string) {
	br := bufio.NewReaderSize(c, rpcBufferBytes)
	bw := bufio.NewWriterSize(c, rpcBufferBytes)
	for {
		if err := c.SetReadDeadline(time.Now().Add(rpcIdleTimeout)); err != nil {
			return
		}
		kind, body, err := readFrame(br, m.maxRequest)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				m.logger.Debug("rpc connection ended", keyPeer, peer, keyError, err)
			}
			return
		}
		status, resp := m.handler(peer, kind, body)
		if err := c.SetWriteDeadline(time.Now().Add(rpcWriteTimeout)); err != nil {
			return
		}
		if err := writeFrame(bw, status, resp); err != nil {
			m.logger.Debug("rpc reply failed", keyPeer, peer, keyError, err)
			return
		}
	}
}

// Client calls peers' Handlers. It keeps idle connections per peer and bounds
// concurrent calls.
type Client struct {
	m           *Mux
	sem         chan struct{}
	maxIdle     int // per peer: as many as may be in use at once
	maxResponse int

	mu     sync.Mutex // guards idle and closed
	idle   map[string][]*rpcConn
	closed bool
}

type rpcConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

// NewClient returns a Client dialling through m, with at most maxCalls calls
// at once (and as many idle connections per peer), refusing responses larger
// than maxResponse bytes.
func NewClient(m *Mux, maxCalls, maxResponse int) *Client {
	return &Client{
		m:           m,
		sem:         make(chan struct{}, maxCalls),
		maxIdle:     maxCalls,
		maxResponse: maxResponse,
		idle:        make(map[string][]*rpcConn),
	}
}

// Call sends one request to the node id at addr and reads the response. sent
// reports whether the whole request was written, after which the peer may
// have acted on it. Errors before sending include ErrBusy and ErrClosed.
func (rc *Client) Call(ctx context.Context, addr, id string, kind byte, body []byte) (status byte, resp []byte, sent bool, err error) {
	select {
	case rc.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, nil, false, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
	defer func() { <-rc.sem }()

	conn, err := rc.get(ctx, addr, id)
	if err != nil {
		return 0, nil, false, err
	}
	deadline, _ := ctx.Deadline()
	if err := conn.c.SetDeadline(deadline); err != nil {
		_ = conn.c.Close()
		return 0, nil, false, err
	}
	// A cancelled (rather than expired) context also interrupts the I/O.
	stop := context.AfterFunc(ctx, func() { _ = conn.c.SetDeadline(time.Now()) })
	if err := writeFrame(conn.bw, kind, body); err != nil {
		stop()
		_ = conn.c.Close()
		return 0, nil, false, err
	}
	status, resp, err = readFrame(conn.br, rc.maxResponse)
	fired := !stop()
	if err != nil {
		_ = conn.c.Close()
		return 0, nil, true, err
	}
	// If the context fired, the deadline it set may still be in place.
	if fired || conn.c.SetDeadline(time.Time{}) != nil {
		_ = conn.c.Close()
	} else {
		rc.put(addr, id, conn)
	}
	return status, resp, true, nil
}

func poolKey(addr, id string) string { return addr + "\x00" + id }

// get returns a live idle connection or dials a new one.
func (rc *Client) get(ctx context.Context, addr, id string) (*rpcConn, error) {
	key := poolKey(addr, id)
	for {
		rc.mu.Lock()
		if rc.closed {
			rc.mu.Unlock()
			return nil, ErrClosed
		}
		list := rc.idle[key]
		if len(list) == 0 {
			rc.mu.Unlock()
			break
		}
		conn := list[len(list)-1]
		rc.idle[key] = list[:len(list)-1]
		rc.mu.Unlock()
		if conn.alive() {
			return conn, nil
		}
		_ = conn.c.Close()
	}
	c, err := rc.m.dial(ctx, connRPC, addr, id)
	if err != nil {
		return nil, err
	}
	return &rpcConn{c: c, br: bufio.NewReaderSize(c, rpcBufferBytes), bw: bufio.NewWriterSize(c, rpcBufferBytes)}, nil
}

// alive reports whether an idle connection is still open. A peer that
// restarted closed its end; an immediate read then sees EOF rather than a
// time-out. Without this check the request would be written into a dead
// connection and its outcome would look unknown.
func (c *rpcConn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	if err := c.c.SetReadDeadline(time.Now()); err != nil {
		return false
	}
	var b [1]byte
	n, err := c.c.Read(b[:])
	if n > 0 {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (rc *Client) put(addr, id string, conn *rpcConn) {
	key := poolKey(addr, id)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.closed || len(rc.idle[key]) >= rc.maxIdle {
		_ = conn.c.Close()
		return
	}
	rc.idle[key] = append(rc.idle[key], conn)
}

// Close closes every idle connection; later calls fail with ErrClosed.
func (rc *Client) Close() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.closed = true
	for key, list := range rc.idle {
		for _, conn := range list {
			_ = conn.c.Close()
		}
		delete(rc.idle, key)
	}
}
