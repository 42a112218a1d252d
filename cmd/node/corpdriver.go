package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/tokenledger/tokenledger/ledger"
)

// A corporate action over a large register is finished by step items
// through the log (ledger/corpaction.go): the state machine cannot propose,
// so the leader's driver does. Every node runs one; only the leader's
// proposes. A step the state machine finds stale (its action already done,
// or proposed by a deposed leader) changes nothing, so two drivers racing
// across a leader change pay no one twice.

const (
	// defaultStepHolders is how many holders a step pays. A step's own work
	// grows with it, and so does the commit that follows every few steps:
	// at 500 the step that ends with a commit uses 35-50 ms of CPU, about
	// half what it did at 1,000 (ledger's BenchmarkCorporateActionAtScale,
	// which steps by the same count), and a million-holder action
	// completes in 2,000 steps.
	defaultStepHolders = 500
	// stepIdlePoll is how often an idle driver looks for running actions.
	stepIdlePoll = 200 * time.Millisecond
	// stepProposeTimeout bounds one proposal, so a lost leadership or quorum
	// returns the driver to its poll rather than blocking it.
	stepProposeTimeout = 10 * time.Second
)

// stepProposer is what the driver needs of the raft node.
type stepProposer interface {
	IsLeader() bool
	Propose(ctx context.Context, items [][]byte) ([][]byte, error)
}

// runningActions is what the driver needs of the ledger: the seqs of the
// actions a step may advance now (an in-memory read).
type runningActions interface {
	RunningCorporateActions() ([]uint64, error)
}

// corpDriver proposes corporate action steps while this node leads.
type corpDriver struct {
	node    stepProposer
	store   runningActions
	holders int // per step
	idle    time.Duration
	log     *slog.Logger
}

func newCorpDriver(node stepProposer, store runningActions, holders int, log *slog.Logger) *corpDriver {
	return &corpDriver{node: node, store: store, holders: holders, idle: stepIdlePoll, log: log.With("component", "corporate-actions")}
}

// run drives steps until ctx ends: one proposal per turn, with a step for
// the head action of every instrument, and a poll of the ticker whenever
// there is nothing to do or a proposal failed.
func (d *corpDriver) run(ctx context.Context) {
	tick := time.NewTicker(d.idle)
	defer tick.Stop()
	for ctx.Err() == nil {
		if d.once(ctx) {
			continue
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// once proposes one round of steps. It says whether it did, so run goes
// straight on with the next round while actions are running.
func (d *corpDriver) once(ctx context.Context) bool {
	if !d.node.IsLeader() {
		return false
	}
	seqs, err := d.store.RunningCorporateActions()
	if err != nil || len(seqs) == 0 {
		return false
	}
	items := make([][]byte, len(seqs))
	for i, seq := range seqs {
		items[i] = ledger.CorporateActionStepItem(seq, d.holders)
	}
	pctx, cancel := context.WithTimeout(ctx, stepProposeTimeout)
	results, err := d.node.Propose(pctx, items)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			d.log.Info("corporate action step not replicated; retrying", "err", err)
		}
		return false
	}
	advanced := false
	for i, res := range results {
		out, err := ledger.DecodeOutcome(res)
		switch {
		case err != nil:
			d.log.Warn("corporate action step outcome does not decode", "seq", seqs[i], "err", err)
		case out.Error != nil:
			// Stale: another leader's step finished it first.
			d.log.Debug("corporate action step changed nothing", "seq", seqs[i], "code", out.Error.Code, "message", out.Error.Message)
		default:
			advanced = true
			d.log.Debug("corporate action step", "seq", seqs[i], "id", out.ID, "journal_seq", out.Seq)
		}
	}
	// A round that advanced nothing waits for the ticker, so a step the
	// state machine keeps refusing cannot spin the loop.
	return advanced
}
