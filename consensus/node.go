package consensus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/tokenledger/tokenledger/ledger"
)

const (
	// observationBuffer bounds raft observations not yet handled; dropped
	// ones are harmless because each handling reads raft's current state.
	observationBuffer = 16
	// boltOpenTimeout bounds waiting for raft.db's file lock, so a second
	// process on the same DataDir fails instead of hanging.
	boltOpenTimeout = time.Second
	// shutdownGrace bounds waiting, after raft has shut down, for goroutines
	// still waiting on raft futures.
	shutdownGrace = time.Second
)

// Node is one member of the raft cluster.
type Node struct {
	cfg     Config
	logger  *slog.Logger
	machine ledger.Machine
	fsm     *FSM

	raft *raft.Raft
	// running is raft once started, with the barriers and the pipeline,
	// for the mux's goroutines (admitPeer, resolvePeer, handleRPC), which
	// serve peers before it is: during a start they must not read raft or
	// pipe while open writes them.
	running   atomic.Pointer[raft.Raft]
	store     *raftboltdb.BoltStore
	heard     *heardPeers
	transport *raft.NetworkTransport
	mux       *mux
	rpc       *rpcClient
	pipe      *pipeline
	fwd       *forwarder
	barrier   *termBarrier
	reads     *readBarrier
	observer  *raft.Observer

	ctx    context.Context // ends when Close begins shutting down
	cancel context.CancelFunc
	stop   chan struct{} // closed when Close begins shutting down
	group  *group        // every goroutine the node starts; closed by Close

	leaderMu    sync.Mutex // guards the leader fields
	leaderID    string
	leaderAddr  string
	leaderEpoch uint64
	leaderCh    chan struct{} // closed and replaced when the leader changes

	ready     atomic.Bool
	caughtUp  atomic.Bool   // ready at least once since start; never reset
	readyKick chan struct{} // capacity 1

	closeOnce sync.Once
	closeErr  error
}

// Open starts a node over machine: it opens the stores in cfg.DataDir,
// listens on cfg.RaftAddr (or cfg.Listener), bootstraps the cluster from
// cfg.Peers on the very first start, and starts raft. It returns before a
// leader is known; use Ready or Status to wait for one.
func Open(ctx context.Context, cfg Config, machine ledger.Machine) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if machine == nil {
		return nil, errors.New("consensus: nil machine")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	base := cfg.Logger
	if base == nil {
		base = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg:       cfg,
		logger:    base.With(keyComponent, "consensus"),
		machine:   machine,
		stop:      make(chan struct{}),
		group:     newGroup(),
		leaderCh:  make(chan struct{}),
		readyKick: make(chan struct{}, 1),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.open(base.With(keyComponent, "raft")); err != nil {
		n.cancel()
		n.release()
		return nil, err
	}
	n.logger.Info("node started", keyAddr, cfg.advertise(), keyDataDir, cfg.DataDir)
	return n, nil
}

func (n *Node) open(raftLogger *slog.Logger) error {
	cfg := &n.cfg
	hcl := newHCLogAdapter(raftLogger)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("consensus: data dir: %w", err)
	}
	logs, snaps, err := n.openStores(hcl)
	if err != nil {
		return err
	}
	if err := n.openNetwork(hcl); err != nil {
		return err
	}
	existing, err := raft.HasExistingState(logs, n.store, snaps)
	if err != nil {
		return fmt.Errorf("consensus: inspect raft state: %w", err)
	}
	rc := n.raftConfig(hcl)
	if rc.NoSnapshotRestoreOnStart && !n.stateCoversSnapshot(snaps) {
		// Raft makes a snapshot received from the leader durable before the
		// machine restores it; a crash in between leaves a newer snapshot than
		// the state. Skipping its restore would apply later log entries on top of
		// the old state and diverge, so restore it after all.
		rc.NoSnapshotRestoreOnStart = false
	}
	if !existing {
		ask := cfg.Peers
		if cfg.Join {
			ask = cfg.Contacts
		}
		if err := n.checkRemembered(ask); err != nil {
			return err
		}
	}
	if !existing && !cfg.Join {
		servers := n.bootstrapConfiguration()
		if err := raft.BootstrapCluster(rc, logs, n.store, snaps, n.transport, servers); err != nil {
			return fmt.Errorf("consensus: bootstrap: %w", err)
		}
		n.logger.Info("bootstrapped cluster", keyServers, len(servers.Servers))
	}

	n.fsm = NewFSM(n.machine)
	var trans raft.Transport = n.transport
	if n.cfg.wrapTransport != nil {
		trans = n.cfg.wrapTransport(trans)
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, n.store, snaps, trans)
	if err != nil {
		return fmt.Errorf("consensus: start raft: %w", err)
	}
	n.raft = r
	runner := barrierRunner{raft: r, timeout: cfg.ApplyTimeout, spawn: n.spawn}
	n.barrier = &termBarrier{barrierRunner: runner}
	n.reads = &readBarrier{barrierRunner: runner}
	n.pipe = newPipeline(n.ctx, n.stop, r, n.machine, n.barrier, cfg, n.logger)
	// Published last: a reader that sees it sees the fields set above.
	n.running.Store(r)

	observations := make(chan raft.Observation, observationBuffer)
	n.observer = raft.NewObserver(observations, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState:
			return true
		}
		return false
	})
	r.RegisterObserver(n.observer)
	n.fwd = newForwarder(n)
	n.spawn(n.pipe.run)
	n.spawn(n.fwd.run)
	n.spawn(n.pipe.resolve)
	n.spawn(func() { n.monitor(observations) })
	n.spawn(n.readiness)
	return nil
}

// stateCoversSnapshot reports whether the machine's durable state is at
// least as new as the latest snapshot on disk (or there is none).
func (n *Node) stateCoversSnapshot(snaps raft.SnapshotStore) bool {
	metas, err := snaps.List()
	if err != nil {
		n.logger.Warn("cannot list snapshots; restoring the latest at start", "err", err)
		return false
	}
	if len(metas) == 0 || metas[0].Index <= n.machine.AppliedIndex() {
		return true
	}
	n.logger.Warn("state is older than the latest snapshot; restoring it at start",
		keyIndex, metas[0].Index, "applied_index", n.machine.AppliedIndex())
	return false
}

// openStores opens raft.db (log and stable store, behind a log cache) and the
// snapshot store.
func (n *Node) openStores(hcl *hclogAdapter) (raft.LogStore, raft.SnapshotStore, error) {
	store, err := raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(n.cfg.DataDir, "raft.db"),
		BoltOptions: &bbolt.Options{
			Timeout: boltOpenTimeout,
			// Skip writing the freelist on every commit (rqlite #968); it is
			// rebuilt when the file opens.
			NoFreelistSync: true,
			FreelistType:   bbolt.FreelistMapType,
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("consensus: open log store: %w", err)
	}
	n.store = store
	n.heard = newHeardPeers(store)
	logs, err := raft.NewLogCache(logCacheEntries, store)
	if err != nil {
		return nil, nil, fmt.Errorf("consensus: log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(n.cfg.DataDir, snapshotsRetained, hcl)
	if err != nil {
		return nil, nil, fmt.Errorf("consensus: snapshot store: %w", err)
	}
	return logs, snaps, nil
}

// openNetwork loads TLS, listens, and builds the mux, the RPC client and
// raft's transport.
func (n *Node) openNetwork(hcl *hclogAdapter) error {
	cfg := &n.cfg
	var setup *tlsSetup
	if cfg.TLS != nil {
		var err error
		if setup, err = loadTLS(cfg.TLS, cfg.ID); err != nil {
			return err
		}
	}
	ln := cfg.Listener
	if ln == nil {
		bind := cfg.RaftAddr
		if cfg.RaftBind != "" {
			bind = cfg.RaftBind
		}
		var err error
		if ln, err = net.Listen("tcp", bind); err != nil {
			return fmt.Errorf("consensus: listen: %w", err)
		}
	}
	n.mux = newMux(ln, cfg.advertise(), cfg.ID, setup, cfg, n.logger)
	n.mux.resolve = n.resolvePeer
	n.mux.serveRPC = n.serveRPC
	n.mux.admit = n.admitPeer
	n.mux.heard = n.heard.record
	n.mux.start()
	n.rpc = newRPCClient(n.mux, cfg.MaxForwards, n.maxResponseFrame())
	n.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  newRaftLayer(n.mux),
		MaxPool: transportMaxPool,
		Timeout: transportTimeout,
		Logger:  hcl,
		// 1 turns off pipelined replication. raft v1.8.0's pipeline can
		// deadlock when a follower answers Success=false: pipelineDecode
		// returns while the sender is parked on an unbuffered channel, so
		// that follower gets no more log entries and Shutdown hangs (we hit it
		// in the failover tests; grafana/pyroscope#5518 analyses it). Our
		// log entries carry many items each, so the lost overlap costs little.
		MaxRPCsInFlight: 1,
	})
	return nil
}

func (n *Node) raftConfig(hcl *hclogAdapter) *raft.Config {
	cfg := &n.cfg
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.MaxAppendEntries = cfg.MaxAppendEntries
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NoSnapshotRestoreOnStart = cfg.NoSnapshotRestoreOnStart
	rc.Logger = hcl
	return rc
}

func (n *Node) bootstrapConfiguration() raft.Configuration {
	peers := n.cfg.Peers
	if len(peers) == 0 {
		peers = []Peer{{ID: n.cfg.ID, RaftAddr: n.cfg.advertise()}}
	}
	servers := make([]raft.Server, len(peers))
	for i, p := range peers {
		servers[i] = raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)}
	}
	return raft.Configuration{Servers: servers}
}

// rememberTimeout bounds asking peers whether they remember this node; a
// peer that does not answer in time is not waited for.
const rememberTimeout = 3 * time.Second

// checkRemembered asks peers (the bootstrap peers, or a joining node's
// contacts), before a node without raft state bootstraps or waits to be
// added, whether their state remembers it as a member that has run. If one
// does, the node's disk was wiped or replaced: it would come back with no
// memory of its term and vote, and could vote twice in one term, so it
// refuses to start (ErrStateLost). A peer remembers a node its ledger
// records as active or one it has exchanged raft traffic with (heardPeers).
// Peers that cannot be reached are passed over: on a new cluster's first
// start they may not be up yet.
func (n *Node) checkRemembered(peers []Peer) error {
	ctx, cancel := context.WithTimeout(n.ctx, rememberTimeout)
	defer cancel()
	body := binary.BigEndian.AppendUint64(nil, uint64(rememberTimeout))
	body = append(body, n.cfg.ID...)
	type answer struct {
		peer       string
		remembered bool
		err        error
	}
	answers := make(chan answer, len(peers))
	asked := 0
	for _, p := range peers {
		if p.ID == n.cfg.ID {
			continue
		}
		asked++
		go func() {
			status, resp, _, err := n.rpc.call(ctx, p.RaftAddr, p.ID, rpcRemembers, body)
			if err == nil && status != statusOK {
				err = fmt.Errorf("status %d: %s", status, resp)
			}
			answers <- answer{peer: p.ID, remembered: err == nil && len(resp) == 1 && resp[0] == 1, err: err}
		}()
	}
	for range asked {
		a := <-answers
		switch {
		case a.remembered:
			return fmt.Errorf("%w: %s remembers node %s as a member that has run, but %s holds no raft state (wiped or replaced?); "+
				"remove the node (DELETE /v1/cluster/nodes/%s) and add it back under a new id started with --join",
				ErrStateLost, a.peer, n.cfg.ID, n.cfg.DataDir, n.cfg.ID)
		case a.err != nil:
			n.logger.Info("could not ask a peer whether it remembers this node", keyPeer, a.peer, keyError, a.err)
		}
	}
	return nil
}

// admitPeer reports whether peer belongs to the cluster: a server of the
// latest raft configuration or, before raft runs, a bootstrap peer. A node
// with no configuration yet (waiting to be added with --join) admits any
// peer the cluster CA vouches for, since it learns its cluster from the
// leader's first connection.
func (n *Node) admitPeer(peer string) bool {
	if r := n.running.Load(); r != nil {
		f := r.GetConfiguration()
		if f.Error() != nil {
			return false
		}
		servers := f.Configuration().Servers
		return len(servers) == 0 || slices.ContainsFunc(servers, func(s raft.Server) bool { return string(s.ID) == peer })
	}
	return len(n.cfg.Peers) == 0 || slices.ContainsFunc(n.cfg.Peers, func(p Peer) bool { return p.ID == peer })
}

// resolvePeer returns the id of the node at a raft address, from the latest
// raft configuration or, before raft runs, the bootstrap peers.
func (n *Node) resolvePeer(addr string) string {
	if r := n.running.Load(); r != nil {
		if f := r.GetConfiguration(); f.Error() == nil {
			for _, s := range f.Configuration().Servers {
				if string(s.Address) == addr {
					return string(s.ID)
				}
			}
		}
	}
	for _, p := range n.cfg.Peers {
		if p.RaftAddr == addr {
			return p.ID
		}
	}
	return ""
}

// spawn starts fn on a goroutine Close waits for. It refuses once Close has
// begun.
func (n *Node) spawn(fn func()) bool { return n.group.start(fn) }

// Close stops the node: a leader first hands leadership to another voter
// (bounded by Config.TransferTimeout and ctx); then new and queued proposals
// fail with ErrClosed, log entries already handed to raft are waited for (bounded
// by ctx, or Config.ApplyTimeout without a deadline), raft shuts down, and
// connections and stores close. It is safe to call more than once; later
// calls return the first call's result.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(ctx, true) })
	return n.closeErr
}

func (n *Node) shutdown(ctx context.Context, transfer bool) error {
	if transfer {
		n.transferLeadership(ctx)
	}
	n.group.close()
	close(n.stop)
	n.cancel()
	// raft answers the futures of committed log entries only from its FSM
	// goroutine, which at Shutdown drops the batches still queued for it, so
	// their futures are never answered. Goroutines waiting on futures must
	// therefore finish while raft still runs; they do within a commit or a
	// leader-lease timeout.
	drainCtx, cancel := n.withDeadline(ctx)
	left := n.group.wait(drainCtx)
	cancel()
	n.raft.DeregisterObserver(n.observer)
	var errs []error
	// Shutdown must run even if ctx has ended; it answers the futures raft
	// still holds in its main loop. Closing the transport and connections
	// before waiting for it unblocks raft goroutines stuck in RPCs to a
	// stalled peer, which would otherwise hold Shutdown for up to
	// transportTimeout.
	stopped := n.raft.Shutdown()
	n.closeNetwork()
	if err := stopped.Error(); err != nil {
		errs = append(errs, fmt.Errorf("consensus: raft shutdown: %w", err))
	}
	if left > 0 {
		// Cleanup must finish, so this wait ignores ctx's cancellation; it is
		// bounded by shutdownGrace instead.
		graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		left = n.group.wait(graceCtx)
		cancel()
	}
	if left > 0 {
		errs = append(errs, fmt.Errorf("consensus: close: %d goroutines still wait for raft", left))
	}
	n.release()
	n.logger.Info("node stopped")
	return errors.Join(errs...)
}

// transferLeadership hands leadership to another voter before a planned stop,
// so the cluster does not wait out an election timeout.
func (n *Node) transferLeadership(ctx context.Context) {
	if n.raft.State() != raft.Leader || n.voters() < 2 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.TransferTimeout)
	defer cancel()
	if err := n.waitFuture(ctx, n.raft.LeadershipTransfer()); err != nil {
		n.logger.Warn("leadership transfer before shutdown failed", keyError, err)
		return
	}
	n.logger.Info("leadership transferred before shutdown")
}

// closeNetwork closes the RPC client, raft's transport and the mux with every
// connection. It is idempotent.
func (n *Node) closeNetwork() {
	if n.rpc != nil {
		n.rpc.close()
	}
	if n.transport != nil {
		_ = n.transport.Close()
	}
	if n.mux != nil {
		_ = n.mux.close()
	}
}

// release closes what open created, in reverse order.
func (n *Node) release() {
	n.closeNetwork()
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			n.logger.Error("closing log store failed", keyError, err)
		}
	}
}

func (n *Node) voters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	count := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			count++
		}
	}
	return count
}

// waitFuture waits for a raft future or ctx. A future has no channel, so a
// goroutine of the node's group waits for it; while raft runs it answers
// every future, and Close waits for these goroutines before shutting raft
// down.
func (n *Node) waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	if !n.spawn(func() { done <- f.Error() }) {
		return ErrClosed
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withDeadline gives ctx a deadline of Config.ApplyTimeout if it has none.
func (n *Node) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, n.cfg.ApplyTimeout)
}

func (n *Node) isClosing() bool { return n.group.isClosed() }

// Propose replicates items and returns one result per item, as the Machine
// produced them. On a follower the items are forwarded to the leader. Items
// travel in log entries of at most Config.MaxBatchItems items and
// Config.MaxEntryBytes bytes, shared with concurrent proposals; a larger
// proposal is split across log entries and is then not atomic. Items are not
// copied; the caller must not change them until Propose returns.
//
// Errors: ErrTooLarge, ErrClosed, ErrNoLeader, ErrOverloaded (nothing
// applied) and ErrUnknownOutcome (retry with the same instruction ids).
func (n *Node) Propose(ctx context.Context, items [][]byte) ([][]byte, error) {
	if n.isClosing() {
		return nil, ErrClosed
	}
	size, err := n.checkProposal(items)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return [][]byte{}, nil
	}
	var results [][]byte
	err = n.route(ctx, func(ctx context.Context) error {
		results, err = n.proposeLocal(ctx, items, size)
		return err
	}, func(ctx context.Context, id, addr string) error {
		ctx, cancel := n.withDeadline(ctx)
		defer cancel()
		results, err = n.fwd.propose(ctx, id, addr, items)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// checkProposal returns the bytes items occupy in log entries, or ErrTooLarge.
func (n *Node) checkProposal(items [][]byte) (int, error) {
	size := 0
	for i, it := range items {
		if len(it) > n.cfg.maxItemBytes() {
			return 0, fmt.Errorf("%w: item %d has %d bytes, at most %d fit in a log entry", ErrTooLarge, i, len(it), n.cfg.maxItemBytes())
		}
		size += itemCost(len(it))
		if size > n.cfg.MaxProposalBytes {
			return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, n.cfg.MaxProposalBytes)
		}
	}
	return size, nil
}

// proposeLocal queues items for this node's write pipeline; it refuses with
// errStale unless this node leads.
func (n *Node) proposeLocal(ctx context.Context, items [][]byte, size int) ([][]byte, error) {
	if n.raft.State() != raft.Leader {
		return nil, errStale
	}
	if err := n.pipe.budget.acquire(ctx, n.stop, size); err != nil {
		return nil, err
	}
	pr := newProposal(ctx, items, size)
	select {
	case n.pipe.queue <- pr:
	case <-ctx.Done():
		n.pipe.budget.release(size)
		return nil, fmt.Errorf("%w: queue full: %w", ErrOverloaded, ctx.Err())
	case <-n.stop:
		n.pipe.budget.release(size)
		return nil, ErrClosed
	}
	select {
	case r := <-pr.done:
		return r.results, r.err
	case <-ctx.Done():
	case <-n.stop:
	}
	if pr.state.CompareAndSwap(stateQueued, stateAbandoned) {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: waited in the queue: %w", ErrOverloaded, ctx.Err())
		}
		return nil, ErrClosed
	}
	// The batcher took the proposal; whoever holds it reports soon (raft
	// answers flights at the latest during shutdown), but the
	// caller's context is the limit.
	select {
	case r := <-pr.done:
		return r.results, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	}
}

// route runs a request on the leader: local when this node leads, remote
// otherwise. It tries again, up to maxRouteAttempts times, when the node it
// tried refused with errStale (nothing happened there), waiting for the leader
// to change in between.
func (n *Node) route(ctx context.Context, local func(context.Context) error, remote func(ctx context.Context, id, addr string) error) error {
	var last error
	for range maxRouteAttempts {
		changed := n.leaderChanged()
		addr, id := n.raft.LeaderWithID()
		var err error
		switch {
		case id == "":
			err = fmt.Errorf("%w: no leader known", errStale)
		case string(id) == n.cfg.ID:
			err = local(ctx)
		default:
			err = remote(ctx, string(id), string(addr))
		}
		if !errors.Is(err, errStale) {
			return err
		}
		last = err
		if err := n.awaitLeaderChange(ctx, changed); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: %v", ErrNoLeader, last)
}

// awaitLeaderChange waits until changed is closed or Config.LeaderWait passes.
func (n *Node) awaitLeaderChange(ctx context.Context, changed <-chan struct{}) error {
	t := time.NewTimer(n.cfg.LeaderWait)
	defer t.Stop()
	select {
	case <-changed:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
	case <-n.stop:
		return ErrClosed
	}
}

// ReadIndex returns once this node's Machine reflects every write committed
// before the call, so a local read that follows is linearizable. The leader
// commits a barrier log entry appended after the call (shared by concurrent
// reads); a follower asks the leader for its read index and waits until it
// has applied that far.
//
// Errors: ErrNoLeader (also when ctx ends before the leader answered),
// ErrClosed, or ctx's error while waiting to apply.
func (n *Node) ReadIndex(ctx context.Context) error {
	_, err := n.readIndex(ctx)
	return err
}

func (n *Node) readIndex(ctx context.Context) (uint64, error) {
	if n.isClosing() {
		return 0, ErrClosed
	}
	var index uint64
	err := n.route(ctx, func(ctx context.Context) error {
		var err error
		index, err = n.readIndexLocal(ctx)
		return err
	}, func(ctx context.Context, id, addr string) error {
		resp, err := n.forward(ctx, id, addr, rpcReadIndex, nil)
		if err != nil {
			// A read changes nothing, so an unknown outcome is just a failure.
			if errors.Is(err, ErrUnknownOutcome) {
				return fmt.Errorf("%w: %v", errStale, err)
			}
			return err
		}
		if len(resp) != 8 {
			return fmt.Errorf("%w: leader %s sent a malformed read index", errStale, id)
		}
		index = binary.BigEndian.Uint64(resp)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := n.WaitApplied(ctx, index); err != nil {
		return 0, err
	}
	return index, nil
}

// readIndexLocal runs the leader's side of a read: commit a barrier log entry
// appended after the read arrived (see readBarrier for why not a heartbeat
// round), check the term did not change, and return the applied index to
// wait for. That index counts only log entries the Machine sees, so a follower
// can reach it.
func (n *Node) readIndexLocal(ctx context.Context) (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, errStale
	}
	term := n.raft.CurrentTerm()
	if err := n.reads.wait(ctx); err != nil {
		return 0, n.readError(ctx, err)
	}
	if n.raft.CurrentTerm() != term {
		return 0, fmt.Errorf("%w: term changed during read", errStale)
	}
	return n.fsm.AppliedIndex(), nil
}

func (n *Node) readError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrClosed), n.isClosing():
		return ErrClosed
	case ctx.Err() != nil:
		return fmt.Errorf("%w: read index: %w", ErrNoLeader, ctx.Err())
	default:
		return fmt.Errorf("%w: read index: %v", errStale, err)
	}
}

// WaitApplied blocks until this node's Machine has applied the raft log up to
// index, or ctx ends.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.fsm.waitApplied(ctx, index)
}

// AppliedIndex is the raft index of the last log entry this node's Machine
// reflects: the last command, since configuration log entries never reach it.
func (n *Node) AppliedIndex() uint64 { return n.fsm.AppliedIndex() }

// IsLeader reports whether this node is the leader right now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Ready reports whether the node knows a leader and has applied everything
// that was committed when it learnt of that leader (checked with a read
// index). /readyz should use it.
func (n *Node) Ready() bool {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderID != "" && n.ready.Load()
}

// CaughtUp reports whether the node has been Ready at least once since it
// started: its Machine then holds everything committed before the start,
// including what it had applied before a crash but not yet made durable.
// Until then its local state may be older than what it showed before, so
// the API refuses to serve from it.
func (n *Node) CaughtUp() bool { return n.caughtUp.Load() }

// leaderChanged returns a channel that is closed at the next change of leader
// (including to "no leader"). Take a new channel after each change.
func (n *Node) leaderChanged() chan struct{} {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderCh
}

// monitor follows leader changes reported by raft.
func (n *Node) monitor(observations <-chan raft.Observation) {
	n.observeLeader()
	for {
		select {
		case <-observations:
			n.observeLeader()
		case <-n.stop:
			return
		}
	}
}

func (n *Node) observeLeader() {
	addr, id := n.raft.LeaderWithID()
	n.leaderMu.Lock()
	if string(id) == n.leaderID && string(addr) == n.leaderAddr {
		n.leaderMu.Unlock()
		return
	}
	n.leaderID, n.leaderAddr = string(id), string(addr)
	n.leaderEpoch++
	n.ready.Store(false)
	close(n.leaderCh)
	n.leaderCh = make(chan struct{})
	n.leaderMu.Unlock()
	if id == "" {
		n.logger.Info("no leader", keyTerm, n.raft.CurrentTerm())
	} else {
		n.logger.Info("leader changed", keyLeaderID, string(id), keyLeader, string(addr), keyTerm, n.raft.CurrentTerm(), keySelf, string(id) == n.cfg.ID)
	}
	select {
	case n.readyKick <- struct{}{}:
	default:
	}
}

// readiness sets ready once a read index succeeds under the current leader,
// retrying every heartbeat timeout until it does.
func (n *Node) readiness() {
	var retry <-chan time.Time
	for {
		select {
		case <-n.readyKick:
		case <-retry:
		case <-n.stop:
			return
		}
		retry = nil
		n.leaderMu.Lock()
		epoch, leader := n.leaderEpoch, n.leaderID
		n.leaderMu.Unlock()
		if leader == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ApplyTimeout)
		_, err := n.readIndex(ctx)
		cancel()
		n.leaderMu.Lock()
		current := n.leaderEpoch == epoch
		if err == nil && current {
			n.ready.Store(true)
			n.caughtUp.Store(true)
		}
		n.leaderMu.Unlock()
		if err != nil && current && !n.isClosing() {
			n.logger.Debug("not ready yet", keyError, err)
			retry = time.After(n.cfg.HeartbeatTimeout)
		}
	}
}

// AddVoter adds (or re-adds) a voting member. It must run on the leader;
// elsewhere it returns a *NotLeaderError. A member with the same id or address
// but not both is removed first, as rqlite's join does; adding a voter that is
// already present is a no-op.
func (n *Node) AddVoter(ctx context.Context, id, raftAddr string) error {
	if err := validateID("id", id); err != nil {
		return err
	}
	if err := validateAddr("raftAddr", raftAddr); err != nil {
		return err
	}
	if err := n.leaderOnly(); err != nil {
		return err
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("consensus: add voter %s: configuration: %v", id, err)
	}
	for _, s := range f.Configuration().Servers {
		sameID, sameAddr := string(s.ID) == id, string(s.Address) == raftAddr
		switch {
		case sameID && sameAddr && s.Suffrage == raft.Voter:
			return nil
		case sameID || sameAddr:
			if err := n.changeMembership(ctx, "remove "+string(s.ID), func(t time.Duration) raft.IndexFuture {
				return n.raft.RemoveServer(s.ID, 0, t)
			}); err != nil {
				return err
			}
		}
	}
	return n.changeMembership(ctx, "add voter "+id, func(t time.Duration) raft.IndexFuture {
		return n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, t)
	})
}

// RemoveServer removes a member. It must run on the leader; elsewhere it
// returns a *NotLeaderError. Removing an unknown id is a no-op.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return n.changeMembership(ctx, "remove "+id, func(t time.Duration) raft.IndexFuture {
		return n.raft.RemoveServer(raft.ServerID(id), 0, t)
	})
}

func (n *Node) leaderOnly() error {
	if n.isClosing() {
		return ErrClosed
	}
	if n.raft.State() == raft.Leader {
		return nil
	}
	addr, id := n.raft.LeaderWithID()
	return &NotLeaderError{LeaderID: string(id), LeaderAddr: string(addr)}
}

// changeMembership runs one configuration change with ctx's deadline as
// raft's enqueue timeout.
func (n *Node) changeMembership(ctx context.Context, what string, change func(time.Duration) raft.IndexFuture) error {
	ctx, cancel := n.withDeadline(ctx)
	defer cancel()
	deadline, _ := ctx.Deadline()
	err := n.waitFuture(ctx, change(max(time.Until(deadline), time.Millisecond)))
	switch {
	case err == nil:
		n.logger.Info("membership changed", keyChange, what)
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		return n.leaderOnly()
	case errors.Is(err, ErrClosed):
		return ErrClosed
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %s: %v", ErrOverloaded, what, err)
	default:
		return fmt.Errorf("%w: %s: %v", ErrUnknownOutcome, what, err)
	}
}

// Snapshot takes a snapshot now. Having nothing new to snapshot is not an error.
func (n *Node) Snapshot(ctx context.Context) error {
	if n.isClosing() {
		return ErrClosed
	}
	err := n.waitFuture(ctx, n.raft.Snapshot())
	if err == nil || errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil
	}
	return fmt.Errorf("consensus: snapshot: %w", err)
}

// Status is a point-in-time view of the node.
type Status struct {
	ID           string
	State        string // Follower, Candidate, Leader or Shutdown
	Leader       string // leader's id; empty when unknown
	LeaderAddr   string
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64    // last (command) log entry reflected in the Machine
	LastContact  time.Time // last contact with the leader; zero on the leader
	Ready        bool
	Servers      []Server
}

// Server is one member of the latest raft configuration.
type Server struct {
	ID       string
	RaftAddr string
	Voter    bool
	Leader   bool
}

// Status reports the node's view of the cluster.
func (n *Node) Status() Status {
	addr, id := n.raft.LeaderWithID()
	s := Status{
		ID:           n.cfg.ID,
		State:        n.raft.State().String(),
		Leader:       string(id),
		LeaderAddr:   string(addr),
		Term:         n.raft.CurrentTerm(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.fsm.AppliedIndex(),
		LastContact:  n.raft.LastContact(),
		Ready:        n.Ready(),
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			s.Servers = append(s.Servers, Server{
				ID:       string(srv.ID),
				RaftAddr: string(srv.Address),
				Voter:    srv.Suffrage == raft.Voter,
				Leader:   srv.ID == id,
			})
		}
	}
	return s
}
