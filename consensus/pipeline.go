package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tokenledger/tokenledger/ledger"
)

// The leader's write pipeline. Proposals wait in a bounded queue; one batching
// goroutine takes whatever is queued, up to one log entry's worth, stamps it
// and hands it to raft.Apply without waiting for the outcome: a flight. One
// resolver goroutine waits for the flights in order and hands each proposer
// its results. MaxInFlight tokens bound the flights between the two. While
// the flights are being committed, new proposals pile up in the queue and go
// out together in the next log entry, so batching needs no timer: a lone
// client waits for nothing but its own commit.

// Proposal states: the batcher moves queued to taken, a proposer whose context
// ends first moves queued to abandoned. The winner decides who reports.
const (
	stateQueued int32 = iota
	stateTaken
	stateAbandoned
)

// proposal is one Propose call being served by the leader.
type proposal struct {
	ctx   context.Context
	items [][]byte
	size  int // bytes charged to the queue budget
	state atomic.Int32
	done  chan proposalResult // capacity 1, written once

	// Written by the resolver only, or by the batcher for a proposal that
	// never reached a log entry.
	results [][]byte
	handed  bool  // some part was applied
	safeErr error // first error of a part that surely was not applied
	lostErr error // first error of a part whose outcome is unknown
}

type proposalResult struct {
	results [][]byte
	err     error
}

func newProposal(ctx context.Context, items [][]byte, size int) *proposal {
	return &proposal{
		ctx:     ctx,
		items:   items,
		size:    size,
		done:    make(chan proposalResult, 1),
		results: make([][]byte, len(items)),
	}
}

// isSafe reports errors after which nothing of the part was applied.
func isSafe(err error) bool {
	return errors.Is(err, errStale) || errors.Is(err, ErrOverloaded) || errors.Is(err, ErrClosed)
}

func (p *proposal) record(s segment, results [][]byte) {
	copy(p.results[s.from:s.to], results)
	p.handed = true
}

func (p *proposal) fail(err error) {
	switch {
	case isSafe(err):
		if p.safeErr == nil {
			p.safeErr = err
		}
	case p.lostErr == nil:
		p.lostErr = err
	}
}

func (p *proposal) outcome() proposalResult {
	switch {
	case p.lostErr != nil:
		return proposalResult{err: p.lostErr}
	case p.safeErr != nil && p.handed:
		return proposalResult{err: fmt.Errorf("%w: part of the proposal was applied, part refused: %v", ErrUnknownOutcome, p.safeErr)}
	case p.safeErr != nil:
		return proposalResult{err: p.safeErr}
	default:
		return proposalResult{results: p.results}
	}
}

// segment is the part [from, to) of a proposal's items carried by one flight.
// last marks the proposal's final segment.
type segment struct {
	p        *proposal
	from, to int
	last     bool
}

// flight is one group of proposals (segments of them) on its way through raft
// as one log entry, or one that failed before it got there (err set, future
// nil).
type flight struct {
	future raft.ApplyFuture
	err    error
	segs   []segment
	count  int
	token  bool // holds an in-flight token
}

// cursor is a proposal the batcher has taken and partly put into flights.
type cursor struct {
	p    *proposal
	next int
}

type pipeline struct {
	raft         *raft.Raft
	machine      ledger.Machine // read for its last applied time only
	barrier      *termBarrier
	logger       *slog.Logger
	now          func() time.Time
	maxItems     int
	maxBytes     int
	applyTimeout time.Duration

	queue   chan *proposal
	budget  *budget
	tokens  chan struct{}
	flights chan *flight
	stop    <-chan struct{}
	ctx     context.Context // ends when the node closes

	lastStamp time.Time // batcher goroutine only
}

func newPipeline(ctx context.Context, stop <-chan struct{}, r *raft.Raft, m ledger.Machine, b *termBarrier, cfg *Config, logger *slog.Logger) *pipeline {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &pipeline{
		raft:         r,
		machine:      m,
		barrier:      b,
		logger:       logger,
		now:          now,
		maxItems:     cfg.MaxBatchItems,
		maxBytes:     cfg.MaxEntryBytes,
		applyTimeout: cfg.ApplyTimeout,
		queue:        make(chan *proposal, cfg.QueueDepth),
		budget:       newBudget(cfg.MaxQueueBytes),
		tokens:       make(chan struct{}, cfg.MaxInFlight),
		// One slot more than the tokens, for the flight failed at stop.
		flights: make(chan *flight, cfg.MaxInFlight+1),
		stop:    stop,
		ctx:     ctx,
	}
}

// run is the batching goroutine. It closes p.flights when it returns, which
// ends the resolver once every flight is resolved.
func (p *pipeline) run() {
	defer close(p.flights)
	var carry *cursor
	for {
		if carry == nil {
			select {
			case pr := <-p.queue:
				carry = p.take(pr)
			case <-p.stop:
				p.drain()
				return
			}
			if carry == nil {
				continue
			}
		}
		// Wait for a token before filling the flight, so proposals arriving
		// meanwhile join it.
		select {
		case p.tokens <- struct{}{}:
		case <-p.stop:
			p.flights <- &flight{
				err:  ErrClosed,
				segs: []segment{{p: carry.p, from: carry.next, to: len(carry.p.items), last: true}},
			}
			p.drain()
			return
		}
		fl := p.fill(&carry)
		p.submit(fl)
	}
}

// take claims a dequeued proposal, or drops it when its proposer gave up.
func (p *pipeline) take(pr *proposal) *cursor {
	if !pr.state.CompareAndSwap(stateQueued, stateTaken) {
		p.budget.release(pr.size)
		return nil
	}
	if err := pr.ctx.Err(); err != nil {
		p.finishUnsent(pr, fmt.Errorf("%w: waited in the queue: %w", ErrOverloaded, err))
		return nil
	}
	return &cursor{p: pr}
}

// fill builds one flight from the carried proposal and whatever else is
// queued, up to maxItems items and maxBytes bytes of log entry. A proposal
// that does not fit is split: the rest stays in *carry for the next flight.
func (p *pipeline) fill(carry **cursor) *flight {
	fl := &flight{token: true}
	size := logEntryHeaderMax
	for {
		if *carry == nil {
			select {
			case pr := <-p.queue:
				*carry = p.take(pr)
			default:
				assert(fl.count > 0, "empty flight")
				return fl
			}
			if *carry == nil {
				continue
			}
		}
		c := *carry
		from := c.next
		for c.next < len(c.p.items) {
			cost := itemCost(len(c.p.items[c.next]))
			if fl.count == p.maxItems || size+cost > p.maxBytes {
				break
			}
			size += cost
			fl.count++
			c.next++
		}
		// checkProposal admits only items that fit in an empty log entry.
		assert(fl.count > 0, "item of %d bytes does not fit in a log entry", len(c.p.items[from]))
		if c.next > from {
			fl.segs = append(fl.segs, segment{p: c.p, from: from, to: c.next, last: c.next == len(c.p.items)})
		}
		if c.next < len(c.p.items) {
			return fl
		}
		*carry = nil
	}
}

// submit stamps the flight's log entry and hands it to raft, then passes the
// flight to the resolver.
func (p *pipeline) submit(fl *flight) {
	if err := p.prepare(); err != nil {
		fl.err = err
		p.flights <- fl
		return
	}
	items := make([][]byte, 0, fl.count)
	timeout := time.Duration(0)
	for _, s := range fl.segs {
		items = append(items, s.p.items[s.from:s.to]...)
		if d, ok := s.p.ctx.Deadline(); ok {
			timeout = max(timeout, time.Until(d))
		} else {
			timeout = p.applyTimeout
		}
	}
	// The proposers' deadlines bound raft's enqueue (a zero timeout would
	// mean none at all).
	timeout = min(max(timeout, time.Millisecond), p.applyTimeout)
	stamp := p.stamp()
	data := encodeLogEntry(stamp, items)
	assert(len(data) <= p.maxBytes, "log entry of %d bytes exceeds %d", len(data), p.maxBytes)
	fl.future = p.raft.Apply(data, timeout)
	p.logger.Debug("log entry submitted", keyItems, fl.count, keyBytes, len(data))
	p.flights <- fl
}

// prepare checks leadership and, on the first log entry of a term, waits for a
// barrier, so the applied time the stamp builds on includes everything the
// previous leaders committed.
func (p *pipeline) prepare() error {
	if p.raft.State() != raft.Leader {
		return errStale
	}
	term := p.raft.CurrentTerm()
	ctx, cancel := context.WithTimeout(p.ctx, p.applyTimeout)
	defer cancel()
	if err := p.barrier.ensure(ctx, term); err != nil {
		if p.ctx.Err() != nil {
			return ErrClosed
		}
		return fmt.Errorf("%w: barrier for term %d: %v", errStale, term, err)
	}
	return nil
}

// stamp returns max(wall clock, last stamp, last applied time), so the log
// entry times this leader writes never go backwards. It is only a best
// effort: the Machine clamps each batch's time to its last applied time, from
// replicated state, which is what guarantees monotonic time on every node.
func (p *pipeline) stamp() time.Time {
	t := p.now().UTC().Round(0)
	if applied := p.machine.LastTime(); t.Before(applied) {
		t = applied
	}
	if t.Before(p.lastStamp) {
		t = p.lastStamp
	}
	p.lastStamp = t
	return t
}

// drain fails every proposal still queued once the node is closing.
func (p *pipeline) drain() {
	for {
		select {
		case pr := <-p.queue:
			if c := p.take(pr); c != nil {
				p.finishUnsent(c.p, ErrClosed)
			}
		default:
			return
		}
	}
}

// finishUnsent reports a taken proposal that never reached a log entry.
func (p *pipeline) finishUnsent(pr *proposal, err error) {
	pr.fail(err)
	p.finish(pr)
}

func (p *pipeline) finish(pr *proposal) {
	pr.done <- pr.outcome()
	p.budget.release(pr.size)
}

// resolve is the resolver goroutine: it waits for each flight in order and
// reports to its proposers.
func (p *pipeline) resolve() {
	for fl := range p.flights {
		err := fl.err
		var resp any
		if err == nil {
			if ferr := fl.future.Error(); ferr != nil {
				err = classifyApplyError(ferr)
			} else {
				resp = fl.future.Response()
			}
		}
		if fl.token {
			<-p.tokens
		}
		results, ok := resp.([][]byte)
		if err == nil && (!ok || len(results) != fl.count) {
			err = fmt.Errorf("%w: log entry %d applied with %d results for %d items", ErrUnknownOutcome, fl.future.Index(), len(results), fl.count)
		}
		if err != nil {
			p.logger.Debug("flight failed", keyItems, fl.count, keyError, err)
		}
		offset := 0
		for _, s := range fl.segs {
			n := s.to - s.from
			if err == nil {
				s.p.record(s, results[offset:offset+n])
			} else {
				s.p.fail(err)
			}
			offset += n
			if s.last {
				p.finish(s.p)
			}
		}
	}
}

// classifyApplyError maps an error from raft.Apply's future to ours. raft
// refuses ErrNotLeader and ErrLeadershipTransferInProgress before the log entry
// is appended, and ErrEnqueueTimeout before raft saw it, so those are safe;
// anything else (ErrLeadershipLost above all) leaves the outcome unknown.
func classifyApplyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", errStale, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", ErrOverloaded, err)
	default:
		return fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
	}
}

// budget bounds the bytes of proposals queued or in flight on the leader.
type budget struct {
	mu    sync.Mutex // guards the fields below
	used  int
	limit int
	freed chan struct{} // closed and replaced on every release
}

func newBudget(limit int) *budget {
	return &budget{limit: limit, freed: make(chan struct{})}
}

// acquire reserves n bytes, waiting for releases while the budget is spent.
func (b *budget) acquire(ctx context.Context, stop <-chan struct{}, n int) error {
	assert(n <= b.limit, "reserving %d bytes of a %d-byte budget", n, b.limit)
	for {
		b.mu.Lock()
		if b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return fmt.Errorf("%w: queue full: %w", ErrOverloaded, ctx.Err())
		case <-stop:
			return ErrClosed
		}
	}
}

func (b *budget) release(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	assert(b.used >= 0, "budget released below zero")
	close(b.freed)
	b.freed = make(chan struct{})
}

// termBarrier runs at most one raft barrier per leadership term, shared by
// everyone who needs it: the batcher before its first log entry of the term, and
// the first linearizable read. A barrier proves that everything committed by
// earlier leaders is applied.
type termBarrier struct {
	barrierRunner

	mu   sync.Mutex // guards done and call
	done uint64     // the last term whose barrier completed
	call *barrierCall
}

type barrierCall struct {
	term uint64
	done chan struct{}
	err  error
}

func (b *termBarrier) ensure(ctx context.Context, term uint64) error {
	b.mu.Lock()
	if b.done == term {
		b.mu.Unlock()
		return nil
	}
	c := b.call
	if c == nil || c.term != term {
		c = &barrierCall{term: term, done: make(chan struct{})}
		if !b.spawn(func() { b.run(c) }) {
			b.mu.Unlock()
			return ErrClosed
		}
		b.call = c
	}
	b.mu.Unlock()
	return c.wait(ctx)
}

// wait returns the call's error once it is done, or ctx's.
func (c *barrierCall) wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// barrierRunner is what the term and read barriers share: raft, the timeout,
// and the node's goroutine spawner.
type barrierRunner struct {
	raft    *raft.Raft
	timeout time.Duration
	spawn   func(func()) bool
}

// barrier commits a raft barrier log entry. When it returns nil, every log
// entry before the barrier has been applied to the Machine. It ends when raft
// answers, which it always does, at the latest when raft shuts down.
func (b barrierRunner) barrier() error {
	return b.raft.Barrier(b.timeout).Error()
}

// run issues the term's barrier.
func (b *termBarrier) run(c *barrierCall) {
	err := b.barrier()
	b.mu.Lock()
	if err == nil {
		b.done = max(b.done, c.term)
	}
	if b.call == c {
		b.call = nil
	}
	b.mu.Unlock()
	c.err = err
	close(c.done)
}
