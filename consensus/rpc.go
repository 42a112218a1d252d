package consensus

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
// Request bodies start with the time the caller will wait (8 bytes, big-endian
// nanoseconds), so the leader gives up before the caller does.
const (
	rpcPropose   byte = 1 // body: timeout, items (appendItems); response: results (appendItems)
	rpcReadIndex byte = 2 // body: timeout; response: 8-byte read index
	// rpcProposeGroup carries several proposals (forwarder.go). Body:
	// timeout, then appendItems of each proposal's rpcPropose payload.
	// Response: appendItems of one reply per proposal, each its status byte
	// followed by what rpcPropose would have answered.
	rpcProposeGroup byte = 3
	// rpcRemembers asks any node, leader or not, whether its state
	// remembers a node as a member that has run (Config.Remembers). Body:
	// timeout, node id. Response: one byte, 1 for yes.
	rpcRemembers byte = 4
)

// Response statuses.
const (
	statusOK         byte = 0
	statusStale      byte = 1 // not the leader; nothing reached raft
	statusUnknown    byte = 2 // ErrUnknownOutcome
	statusOverloaded byte = 3 // ErrOverloaded
	statusClosed     byte = 4 // ErrClosed on the leader; nothing reached raft
	statusTooLarge   byte = 5 // ErrTooLarge
	statusError      byte = 6 // malformed request; body is the message
)

const (
	// rpcWriteTimeout bounds writing one response.
	rpcWriteTimeout = 10 * time.Second
	// rpcBufferBytes sizes each connection's read and write buffers.
	rpcBufferBytes = 64 << 10
	// forwardMargin is the most time the leader's timeout is shortened by,
	// so its answer reaches the follower before the follower gives up.
	forwardMargin = 100 * time.Millisecond
)

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

// maxRequestFrame is the largest request body a node accepts.
func (n *Node) maxRequestFrame() int {
	return 8 + binary.MaxVarintLen64 + n.cfg.MaxProposalBytes
}

// maxResponseFrame is the largest response body a node accepts. Results are
// produced by the Machine and are not bounded by consensus; this is a sanity
// limit.
func (n *Node) maxResponseFrame() int {
	return 4*n.cfg.MaxProposalBytes + (1 << 20)
}

// serveRPC serves requests on one inbound RPC connection until it fails or
// closes.
func (n *Node) serveRPC(c net.Conn, peer string) {
	br := bufio.NewReaderSize(c, rpcBufferBytes)
	bw := bufio.NewWriterSize(c, rpcBufferBytes)
	for {
		if err := c.SetReadDeadline(time.Now().Add(rpcIdleTimeout)); err != nil {
			return
		}
		kind, body, err := readFrame(br, n.maxRequestFrame())
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				n.logger.Debug("rpc connection ended", keyPeer, peer, keyError, err)
			}
			return
		}
		status, resp := n.handleRPC(kind, body)
		if err := c.SetWriteDeadline(time.Now().Add(rpcWriteTimeout)); err != nil {
			return
		}
		if err := writeFrame(bw, status, resp); err != nil {
			n.logger.Debug("rpc reply failed", keyPeer, peer, keyError, err)
			return
		}
	}
}

// handleRPC runs one request on this node, which the caller believes leads
// (but for rpcRemembers, which any node answers).
func (n *Node) handleRPC(kind byte, body []byte) (byte, []byte) {
	if len(body) < 8 {
		return statusError, []byte("consensus: short request")
	}
	if kind != rpcRemembers && n.running.Load() == nil {
		// A peer took this node for the leader while it is still starting.
		return statusStale, []byte("consensus: starting")
	}
	timeout := time.Duration(binary.BigEndian.Uint64(body[:8]))
	timeout = min(max(timeout, time.Millisecond), 2*n.cfg.ApplyTimeout)
	ctx, cancel := context.WithTimeout(n.ctx, timeout)
	defer cancel()
	switch kind {
	case rpcPropose:
		return n.proposeForwarded(ctx, body[8:])
	case rpcProposeGroup:
		return n.proposeGroup(ctx, body[8:])
	case rpcRemembers:
		id := string(body[8:])
		if (n.cfg.Remembers != nil && n.cfg.Remembers(id)) || n.heard.has(id) {
			return statusOK, []byte{1}
		}
		return statusOK, []byte{0}
	case rpcReadIndex:
		index, err := n.readIndexLocal(ctx)
		if err != nil {
			return statusFor(err)
		}
		return statusOK, binary.BigEndian.AppendUint64(nil, index)
	default:
		return statusError, fmt.Appendf(nil, "consensus: unknown request kind %d", kind)
	}
}

// proposeForwarded proposes one forwarded proposal (appendItems) here.
func (n *Node) proposeForwarded(ctx context.Context, payload []byte) (byte, []byte) {
	items, err := decodeItems(payload, 1)
	if err != nil {
		return statusError, []byte(err.Error())
	}
	size, err := n.checkProposal(items)
	if err != nil {
		return statusFor(err)
	}
	results, err := n.proposeLocal(ctx, items, size)
	if err != nil {
		return statusFor(err)
	}
	return statusOK, appendItems(nil, results)
}

// statusFor maps an error of proposeLocal or readIndexLocal to a status.
func statusFor(err error) (byte, []byte) {
	msg := []byte(err.Error())
	switch {
	case errors.Is(err, ErrUnknownOutcome):
		return statusUnknown, msg
	case errors.Is(err, errStale), errors.Is(err, ErrNoLeader):
		return statusStale, msg
	case errors.Is(err, ErrOverloaded):
		return statusOverloaded, msg
	case errors.Is(err, ErrClosed):
		return statusClosed, msg
	case errors.Is(err, ErrTooLarge):
		return statusTooLarge, msg
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// Only reads get here: nothing was written, so another leader may
		// answer.
		return statusStale, msg
	default:
		return statusError, msg
	}
}

// forward sends a request to the leader and returns the response body. Errors
// follow Propose's contract: errStale when the request surely did not reach
// the leader's raft log (the caller may try another leader), ErrUnknownOutcome
// when it may have.
func (n *Node) forward(ctx context.Context, leaderID, leaderAddr string, kind byte, payload []byte) ([]byte, error) {
	ctx, cancel := n.withDeadline(ctx)
	defer cancel()
	deadline, _ := ctx.Deadline()
	remaining := time.Until(deadline)
	leaderTimeout := remaining - min(remaining/10, forwardMargin)
	body := make([]byte, 0, 8+len(payload))
	body = binary.BigEndian.AppendUint64(body, uint64(max(leaderTimeout, 0)))
	body = append(body, payload...)

	status, resp, sent, err := n.rpc.call(ctx, leaderAddr, leaderID, kind, body)
	switch {
	case err == nil:
	case errors.Is(err, ErrOverloaded), errors.Is(err, ErrClosed):
		return nil, err
	case !sent && ctx.Err() != nil:
		return nil, fmt.Errorf("%w: forward to %s: %w", ErrNoLeader, leaderID, ctx.Err())
	case !sent:
		return nil, fmt.Errorf("%w: forward to %s: %v", errStale, leaderID, err)
	default:
		return nil, fmt.Errorf("%w: forward to %s: %v", ErrUnknownOutcome, leaderID, err)
	}
	return n.leaderStatus(leaderID, status, resp)
}

// leaderStatus turns the leader's status and body into forward's result.
func (n *Node) leaderStatus(leaderID string, status byte, resp []byte) ([]byte, error) {
	msg := string(resp)
	switch status {
	case statusOK:
		return resp, nil
	case statusStale, statusClosed:
		return nil, fmt.Errorf("%w: %s refused: %s", errStale, leaderID, msg)
	case statusUnknown:
		return nil, fmt.Errorf("%w: at leader %s: %s", ErrUnknownOutcome, leaderID, msg)
	case statusOverloaded:
		return nil, fmt.Errorf("%w: at leader %s: %s", ErrOverloaded, leaderID, msg)
	case statusTooLarge:
		return nil, fmt.Errorf("%w: at leader %s: %s", ErrTooLarge, leaderID, msg)
	default:
		return nil, fmt.Errorf("consensus: leader %s: %s", leaderID, msg)
	}
}

// rpcClient keeps idle RPC connections per peer and bounds concurrent calls.
type rpcClient struct {
	m           *mux
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

func newRPCClient(m *mux, maxCalls, maxResponse int) *rpcClient {
	return &rpcClient{
		m:           m,
		sem:         make(chan struct{}, maxCalls),
		maxIdle:     maxCalls,
		maxResponse: maxResponse,
		idle:        make(map[string][]*rpcConn),
	}
}

// call sends one request and reads the response. sent reports whether the
// whole request was written, after which the peer may have acted on it.
func (rc *rpcClient) call(ctx context.Context, addr, id string, kind byte, body []byte) (status byte, resp []byte, sent bool, err error) {
	select {
	case rc.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, nil, false, fmt.Errorf("%w: waiting to forward: %w", ErrOverloaded, ctx.Err())
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
func (rc *rpcClient) get(ctx context.Context, addr, id string) (*rpcConn, error) {
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

func (rc *rpcClient) put(addr, id string, conn *rpcConn) {
	key := poolKey(addr, id)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.closed || len(rc.idle[key]) >= rc.maxIdle {
		_ = conn.c.Close()
		return
	}
	rc.idle[key] = append(rc.idle[key], conn)
}

func (rc *rpcClient) close() {
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
