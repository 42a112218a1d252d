package consensus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tokenledger/tokenledger/consensus/internal/transport"
)

// Internal RPC between nodes: the requests and what they mean. The transport
// package carries them as frames of a kind or status byte and a body, one
// request at a time per connection.
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

// forwardMargin is the most time the leader's timeout is shortened by, so its
// answer reaches the follower before the follower gives up.
const forwardMargin = 100 * time.Millisecond

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

// handleRPC runs one request from peer on this node, which the caller
// believes leads (but for rpcRemembers, which any node answers).
func (n *Node) handleRPC(_ string, kind byte, body []byte) (byte, []byte) {
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

	status, resp, sent, err := n.rpc.Call(ctx, leaderAddr, leaderID, kind, body)
	switch {
	case err == nil:
	case errors.Is(err, transport.ErrBusy):
		return nil, fmt.Errorf("%w: waiting to forward: %w", ErrOverloaded, err)
	case errors.Is(err, transport.ErrClosed):
		return nil, ErrClosed
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
