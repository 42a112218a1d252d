package consensus

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// forwarder coalesces the proposals a follower forwards to the leader. A
// proposal waits in a queue while maxGroupsInFlight group calls are under way;
// the next call then carries everything that gathered (no timer), as one
// rpcProposeGroup request. Under load one round trip, one frame and a handful
// of syscalls serve tens of client requests instead of one each, which is what
// the leader's and the follower's CPU went on (accept, read, write and deadline
// syscalls per forwarded request).
//
// Each proposal stays what it was: the leader queues every one separately in
// its pipeline and answers each with its own status, so a group never makes
// proposals atomic together or splits one differently.
type forwarder struct {
	n      *Node
	queue  chan *fwdCall
	tokens chan struct{}
	limit  int // most item bytes of a group (Σ itemCost of the payloads)
}

// maxGroupsInFlight bounds the group calls a follower has open to the leader.
// One more than one keeps the pipe full while an answer travels back.
const maxGroupsInFlight = 4

type fwdCall struct {
	ctx      context.Context
	id, addr string
	payload  []byte // appendItems(items)
	count    int    // items
	done     chan fwdResult
}

type fwdResult struct {
	results [][]byte
	err     error
}

func newForwarder(n *Node) *forwarder {
	return &forwarder{
		n:      n,
		queue:  make(chan *fwdCall, n.cfg.QueueDepth),
		tokens: make(chan struct{}, maxGroupsInFlight),
		limit:  n.cfg.MaxProposalBytes,
	}
}

// propose forwards items to the leader id at addr and waits for their
// results. Errors follow forward's contract.
func (f *forwarder) propose(ctx context.Context, id, addr string, items [][]byte) ([][]byte, error) {
	c := &fwdCall{ctx: ctx, id: id, addr: addr, payload: appendItems(nil, items), count: len(items), done: make(chan fwdResult, 1)}
	select {
	case f.queue <- c:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: forward queue full: %w", ErrOverloaded, ctx.Err())
	case <-f.n.stop:
		return nil, ErrClosed
	}
	select {
	case r := <-c.done:
		return r.results, r.err
	case <-ctx.Done():
		// The group may already be on the wire.
		return nil, fmt.Errorf("%w: forward to %s: %w", ErrUnknownOutcome, id, ctx.Err())
	}
}

// run gathers and sends groups until the node stops.
func (f *forwarder) run() {
	var carry *fwdCall
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-f.queue:
			case <-f.n.stop:
				f.drain(nil)
				return
			}
		}
		select {
		case f.tokens <- struct{}{}:
		case <-f.n.stop:
			f.drain([]*fwdCall{first})
			return
		}
		group := []*fwdCall{first}
		size := itemCost(len(first.payload))
	gather:
		for {
			select {
			case c := <-f.queue:
				if c.id != first.id || c.addr != first.addr || size+itemCost(len(c.payload)) > f.limit {
					carry = c
					break gather
				}
				group = append(group, c)
				size += itemCost(len(c.payload))
			default:
				break gather
			}
		}
		if !f.n.spawn(func() {
			defer func() { <-f.tokens }()
			f.send(group)
		}) {
			<-f.tokens
			f.drain(append(group, carry))
			return
		}
	}
}

// drain fails the calls given and every queued call with ErrClosed: nothing
// of them was sent.
func (f *forwarder) drain(calls []*fwdCall) {
	for _, c := range calls {
		if c != nil {
			c.done <- fwdResult{err: ErrClosed}
		}
	}
	for {
		select {
		case c := <-f.queue:
			c.done <- fwdResult{err: ErrClosed}
		default:
			return
		}
	}
}

// send makes one call for the group: a lone proposal as rpcPropose, several
// as rpcProposeGroup. Calls whose caller has already given up are left out;
// that caller reported an unknown outcome, which stays true.
func (f *forwarder) send(group []*fwdCall) {
	live := group[:0]
	var deadline time.Time
	for _, c := range group {
		if c.ctx.Err() != nil {
			c.done <- fwdResult{err: fmt.Errorf("%w: %w", ErrUnknownOutcome, c.ctx.Err())}
			continue
		}
		live = append(live, c)
		if d, ok := c.ctx.Deadline(); !ok {
			deadline = time.Now().Add(f.n.cfg.ApplyTimeout)
		} else if d.After(deadline) {
			deadline = d
		}
	}
	if len(live) == 0 {
		return
	}
	// The group outlives any one caller's cancellation: others still wait.
	ctx, cancel := context.WithDeadline(f.n.ctx, deadline)
	defer cancel()
	id, addr := live[0].id, live[0].addr
	f.n.logger.Debug("forwarding proposals", keyPeer, id, keyProposals, len(live))
	if len(live) == 1 {
		c := live[0]
		resp, err := f.n.forward(ctx, id, addr, rpcPropose, c.payload)
		c.done <- f.results(id, c, resp, err)
		return
	}
	payloads := make([][]byte, len(live))
	for i, c := range live {
		payloads[i] = c.payload
	}
	resp, err := f.n.forward(ctx, id, addr, rpcProposeGroup, appendItems(nil, payloads))
	if err != nil {
		for _, c := range live {
			c.done <- fwdResult{err: err}
		}
		return
	}
	replies, derr := decodeItems(resp, 0)
	if derr == nil && len(replies) != len(live) {
		derr = fmt.Errorf("%d replies for %d proposals", len(replies), len(live))
	}
	if derr == nil {
		for _, r := range replies {
			if len(r) == 0 {
				derr = fmt.Errorf("empty reply")
				break
			}
		}
	}
	if derr != nil {
		for _, c := range live {
			c.done <- fwdResult{err: fmt.Errorf("%w: leader %s sent a malformed group reply: %v", ErrUnknownOutcome, id, derr)}
		}
		return
	}
	for i, c := range live {
		body, err := f.n.leaderStatus(id, replies[i][0], replies[i][1:])
		c.done <- f.results(id, c, body, err)
	}
}

// results decodes one proposal's results as the leader sent them.
func (f *forwarder) results(id string, c *fwdCall, resp []byte, err error) fwdResult {
	if err != nil {
		return fwdResult{err: err}
	}
	results, err := decodeItems(resp, 0)
	if err != nil {
		return fwdResult{err: fmt.Errorf("%w: leader %s sent malformed results: %v", ErrUnknownOutcome, id, err)}
	}
	if len(results) != c.count {
		return fwdResult{err: fmt.Errorf("%w: leader %s sent %d results for %d items", ErrUnknownOutcome, id, len(results), c.count)}
	}
	return fwdResult{results: results}
}

// proposeGroup is the leader's side of rpcProposeGroup: each proposal goes
// into the pipeline on its own, concurrently, and gets its own status.
func (n *Node) proposeGroup(ctx context.Context, body []byte) (byte, []byte) {
	payloads, err := decodeItems(body, 2)
	if err != nil {
		return statusError, []byte(err.Error())
	}
	replies := make([][]byte, len(payloads))
	var wg sync.WaitGroup
	for i, p := range payloads {
		wg.Go(func() {
			status, resp := n.proposeForwarded(ctx, p)
			replies[i] = append([]byte{status}, resp...)
		})
	}
	wg.Wait()
	return statusOK, appendItems(nil, replies)
}
