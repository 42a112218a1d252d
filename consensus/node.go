package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tokenledger/tokenledger/consensus/internal/transport"
	"github.com/tokenledger/tokenledger/ledger"
)

const (
	// observationBuffer bounds raft observations not yet handled; dropped
	// ones are harmless because each handling reads raft's current state.
	observationBuffer = 16
	// boltOpenTimeout bounds waiting for the log store's file lock, so a
	// second process on the same DataDir fails instead of hanging.
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
	store     raftStore
	heard     *heardPeers
	transport *raft.NetworkTransport
	mux       *transport.Mux
	rpc       *transport.Client
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

	ready    atomic.Bool
	caughtUp atomic.Bool // ready at least once since start; never reset
	lagging  atomic.Bool // the Machine trails the commit index too far, too long (watchLag)

	logPath   string        // the log store's file or directory, named in storage faults
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
	var stable raft.StableStore = n.store
	if cfg.OnStorageFault != nil {
		f := faults{report: cfg.OnStorageFault}
		logs = faultLogStore{LogStore: logs, file: n.logPath, f: f}
		// The process ends on a fault; until then raft must not go on as if
		// a term or vote were saved.
		stable = faultStableStore{StableStore: stable, file: n.logPath, f: f, hold: func() { select {} }}
		snaps = faultSnapshotStore{SnapshotStore: snaps, dir: filepath.Join(cfg.DataDir, "snapshots"), f: f}
	}
	existing, err := raft.HasExistingState(logs, stable, snaps)
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
		if err := raft.BootstrapCluster(rc, logs, stable, snaps, n.transport, servers); err != nil {
			return fmt.Errorf("consensus: bootstrap: %w", err)
		}
		n.logger.Info("bootstrapped cluster", keyServers, len(servers.Servers))
	}

	n.fsm = NewFSM(n.machine)
	var trans raft.Transport = n.transport
	if n.cfg.wrapTransport != nil {
		trans = n.cfg.wrapTransport(trans)
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, stable, snaps, trans)
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
	n.spawn(n.watchLag)
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

// openStores opens the log store (log and stable store, behind a log cache)
// and the snapshot store.
func (n *Node) openStores(hcl *hclogAdapter) (raft.LogStore, raft.SnapshotStore, error) {
	store, kind, err := openLogStore(n.cfg.DataDir, n.cfg.LogStore, hcl, n.cfg.WALSegmentBytes)
	if err != nil {
		return nil, nil, err
	}
	// A data dir keeps the store it was created with (DataDirLogStore), so
	// the configured one may not be the one in use.
	n.logger.Info("opened log store", keyLogStore, kind, "configured", n.cfg.LogStore)
	n.store, n.logPath = store, logStorePath(n.cfg.DataDir, kind)
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
	var setup *transport.TLS
	if cfg.TLS != nil {
		var err error
		if setup, err = transport.LoadTLS(cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.ID); err != nil {
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
	n.mux = transport.NewMux(transport.Config{
		Listener:        ln,
		Advertise:       cfg.advertise(),
		LocalID:         cfg.ID,
		TLS:             setup,
		DialTimeout:     cfg.DialTimeout,
		MaxConns:        cfg.MaxConns,
		MaxRequestBytes: n.maxRequestFrame(),
		Logger:          n.logger,
		Resolve:         n.resolvePeer,
		Handle:          n.handleRPC,
		Admit:           n.admitPeer,
		Heard:           n.heard.record,
	})
	n.rpc = transport.NewClient(n.mux, cfg.MaxForwards, n.maxResponseFrame())
	n.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  transport.NewRaftLayer(n.mux),
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
		n.rpc.Close()
	}
	if n.transport != nil {
		_ = n.transport.Close()
	}
	if n.mux != nil {
		_ = n.mux.Close()
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
