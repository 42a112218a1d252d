package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/consensus"
	"github.com/tokenledger/tokenledger/internal/hugemem"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// Defaults of the embedded single-node ledger (DESIGN.md, Cluster).
const (
	defaultDataDir  = "./data"
	defaultAPIAddr  = "127.0.0.1:8080"
	defaultRaftAddr = "127.0.0.1:7000"
	defaultNodeID   = "node1"
	// defaultCommitEvery: a state commit per 32,768 instructions writes each
	// touched page once instead of once per apply, and the commit runs beside
	// Apply; the raft log, fsynced before anything applies, replays the
	// uncommitted tail after a crash. On a million investors it halves the
	// bytes written per instruction against 8,192 (ledger BenchmarkScale,
	// TOKENLEDGER_BENCH_COMMIT_EVERY; figures in ledger/DESIGN.md).
	defaultCommitEvery = 32768

	bootstrapKeyEnv = "TOKENLEDGER_BOOTSTRAP_KEY"
	operatorKeyFile = "operator.key"
	// raftSubdir of a node's data dir is consensus's DataDir.
	raftSubdir = "raft"

	// shutdownTimeout bounds the whole stop: HTTP drain, leadership
	// transfer, raft and state close.
	shutdownTimeout = 15 * time.Second
	// registerAttempts bounds the background proposals a node makes at
	// start (operator key, its addresses, the configured rulebook).
	registerAttempts = 240
)

// nodeOptions is everything one node needs, from flags or cluster.yaml.
type nodeOptions struct {
	id, dataDir, apiAddr, raftAddr string
	// raftBind is where raft listens when peers dial raftAddr elsewhere.
	raftBind          string
	peers             []consensus.Peer
	contacts          []consensus.Peer // asked by a joining node (--join) whether they remember it
	tls               *consensus.TLSConfig
	apiTLS            *apiTLSFiles // nil: plain HTTP
	rulebookFile      string
	logLevel          slog.Level
	snapshotThreshold uint64
	snapshotInterval  time.Duration
	trailingLogs      uint64
	pprofAddr         string
	maxInFlight       int
	commitEvery       int
	snapshotBare      bool // ledger.Config.SnapshotBare
	join              bool
	// logStore is the raft log store a new data dir gets; empty: the
	// consensus default. An existing data dir keeps its own.
	logStore consensus.LogStore
	// walSegmentBytes sizes the WAL's segment files; 0: raft-wal's default.
	walSegmentBytes int
	noteKey         string // verifier key of the node's checkpoints, published with its addresses
	// stepHolders is how many holders a corporate action step pays.
	stepHolders int
}

func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	config := fs.String("config", "", "cluster.yaml; with --id, runs that node of the cluster")
	id := fs.String("id", "", "node id in the cluster config")
	dataDir := fs.String("data", defaultDataDir, "data directory of the single-node default")
	apiAddr := fs.String("api-addr", defaultAPIAddr, "HTTP API address of the single-node default")
	raftAddr := fs.String("raft-addr", defaultRaftAddr, "Raft address of the single-node default")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	snapThreshold := fs.Uint64("snapshot-threshold", 8192, "log entries between snapshots")
	snapInterval := fs.Duration("snapshot-interval", 2*time.Minute, "how often the snapshot threshold is checked")
	trailing := fs.Uint64("trailing-logs", 10240, "log entries kept after a snapshot for slow followers")
	join := fs.Bool("join", false, "start a new node of the --config cluster that waits to be added with POST /v1/cluster/nodes instead of bootstrapping; a node not listed in the file takes --api-addr and --raft-addr")
	maxInFlight := fs.Int("max-in-flight", 0, "log entries the leader keeps in flight (0: the consensus default)")
	snapshotBare := fs.Bool("snapshot-bare", false, "write snapshots uncompressed, as the last release reads them: for upgrading a cluster from it with followers upgraded after the leader; drop it once every node runs this release")
	commitEvery := fs.Int("commit-every", defaultCommitEvery, "instructions the state file gathers in one write transaction before it commits (1: every apply); raft's log replays the uncommitted tail after a crash")
	logStore := fs.String("log-store", "", "raft log store a new data dir gets: wal or boltdb (default: the cluster file's log_store, else the built-in default); an existing data dir keeps the one it has (see migrate-log)")
	walSegmentBytes := fs.Int("wal-segment-bytes", 0, "size of the raft WAL's segment files (0: 64 MiB); the WAL drops compacted log entries a whole segment at a time")
	stepHolders := fs.Int("corporate-action-step", 0, "holders each step of a large corporate action pays, 1 to 100000 (default: the cluster file's corporate_action_step, else 500)")
	pprofAddr := fs.String("pprof-addr", "", "serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060; off when empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	opts := nodeOptions{id: defaultNodeID, dataDir: *dataDir, apiAddr: *apiAddr, raftAddr: *raftAddr, snapshotThreshold: *snapThreshold, snapshotInterval: *snapInterval, trailingLogs: *trailing, pprofAddr: *pprofAddr, maxInFlight: *maxInFlight, commitEvery: *commitEvery, snapshotBare: *snapshotBare}
	if err := opts.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	if *join && *config == "" {
		// A joining node with no raft state asks the cluster file's nodes
		// whether they remember its id; without them, a member that lost its
		// disk could rejoin under its old id and vote twice in a term.
		return errors.New("--join needs --config: a joining node asks the cluster's nodes whether its id was ever a member")
	}
	if *config != "" {
		if *id == "" {
			return errors.New("--config needs --id")
		}
		c, err := loadCluster(*config)
		if err != nil {
			return err
		}
		self, err := c.node(*id)
		if err != nil {
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			if !*join || !set["api-addr"] || !set["raft-addr"] {
				return fmt.Errorf("%w (a new node joins with --join --api-addr A --raft-addr R)", err)
			}
			self = nodeSpec{ID: *id, APIAddr: *apiAddr, RaftAddr: *raftAddr}
		}
		opts.id, opts.apiAddr, opts.raftAddr, opts.raftBind = self.ID, self.APIAddr, self.RaftAddr, self.RaftBind
		opts.dataDir = filepath.Join(c.DataDir, self.ID)
		opts.rulebookFile = c.Rulebook
		opts.logStore = consensus.LogStore(c.LogStore)
		for _, n := range c.Nodes {
			p := consensus.Peer{ID: n.ID, RaftAddr: n.RaftAddr}
			switch {
			case !*join:
				opts.peers = append(opts.peers, p)
			case n.ID != self.ID:
				// A joining node asks them whether they remember it, so a
				// member whose disk was lost cannot slip back in with --join.
				opts.contacts = append(opts.contacts, p)
			}
		}
		if c.TLS != nil {
			opts.tls = &consensus.TLSConfig{CAFile: forNode(c.TLS.CA, self.ID), CertFile: forNode(c.TLS.Cert, self.ID), KeyFile: forNode(c.TLS.Key, self.ID)}
		}
		opts.apiTLS = c.APITLS.forNode(self.ID)
		opts.stepHolders = c.CorporateActionStep
	} else if *id != "" {
		opts.id = *id
	}
	opts.join = *join
	if *logStore != "" {
		opts.logStore = consensus.LogStore(*logStore)
	}
	opts.walSegmentBytes = *walSegmentBytes
	if *stepHolders != 0 {
		if err := validStepHolders(*stepHolders, false); err != nil {
			return fmt.Errorf("--corporate-action-step: %w", err)
		}
		opts.stepHolders = *stepHolders
	}
	return serveNode(ctx, opts)
}

func serveNode(ctx context.Context, o nodeOptions) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: o.logLevel})).With("node", o.id)
	// Checked before anything opens: a wrong certificate fails the start.
	var apiTLS *tls.Config
	if o.apiTLS != nil {
		var err error
		if apiTLS, err = apiTLSConfig(o.apiTLS, o.apiAddr, time.Now(), log); err != nil {
			return err
		}
	} else {
		warnPlainAPI(o.apiAddr, log)
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	key, generated, err := operatorKey(o.dataDir)
	if err != nil {
		return err
	}
	if generated {
		// Printed once, on the first start; afterwards it is only in the file.
		fmt.Printf("operator key: %s\n(saved to %s; keep it secret)\n", key, filepath.Join(o.dataDir, operatorKeyFile))
	}

	checkpointSigner, noteKey, err := loadNoteKey(o.dataDir, o.id)
	if err != nil {
		return err
	}
	o.noteKey = noteKey

	fs := newFailStop(o.dataDir)
	statePath := filepath.Join(o.dataDir, "state.db")
	store, err := ledger.Open(ledger.Config{Path: statePath, CommitEvery: o.commitEvery, SnapshotBare: o.snapshotBare, Logger: log, OnFault: fs.ledgerFault})
	if errors.Is(err, ledger.ErrDamaged) {
		return damagedStateError(log, statePath, err)
	}
	if err != nil {
		return err
	}
	// After a storage fault the store stays open until the process exits:
	// raft may still hand it a batch, which must block (OnFault), not panic
	// on a closed store. Its uncommitted tail is lost either way and replays.
	faulted := false
	defer func() {
		if !faulted {
			store.Close()
		}
	}()

	ccfg := consensus.DefaultConfig()
	ccfg.ID, ccfg.RaftAddr, ccfg.RaftBind, ccfg.DataDir = o.id, o.raftAddr, o.raftBind, filepath.Join(o.dataDir, raftSubdir)
	ccfg.Peers, ccfg.TLS, ccfg.Logger, ccfg.Join = o.peers, o.tls, log, o.join
	ccfg.Contacts = o.contacts
	ccfg.OnStorageFault = fs.raftFault
	if o.logStore != "" {
		ccfg.LogStore = o.logStore
	}
	ccfg.WALSegmentBytes = o.walSegmentBytes
	ccfg.SnapshotThreshold = o.snapshotThreshold
	if o.snapshotInterval > 0 {
		ccfg.SnapshotInterval = o.snapshotInterval
	}
	if o.maxInFlight > 0 {
		ccfg.MaxInFlight = o.maxInFlight
	}
	if o.trailingLogs > 0 {
		ccfg.TrailingLogs = o.trailingLogs
	}
	// The state file is durable on its own (its commits carry the applied
	// index), so a restart replays only the log after it; a node whose state
	// file is new restores the latest snapshot.
	ccfg.NoSnapshotRestoreOnStart = store.AppliedIndex() > 0
	// A node registers itself as active once it serves (registerNode), so a
	// peer that lost its raft state is recognised when it comes back.
	ccfg.Remembers = func(id string) bool {
		nodes, err := store.Nodes()
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.ID == id && n.Active {
				return true
			}
		}
		return false
	}
	node, err := consensus.Open(ctx, ccfg, stateMachine(store, log))
	if errors.Is(err, consensus.ErrDamaged) {
		return damagedLogError(log, o.id, err)
	}
	if err != nil {
		return err
	}

	repl := newReplicator(node, store, log, fs.Failing)
	srv, err := api.New(api.Config{Reader: store, Replicator: repl, Logger: log, CheckpointSigner: checkpointSigner})
	if err == nil {
		err = exportRaftMetrics(srv.Registry())
	}
	if err == nil {
		err = srv.Registry().Register(fs.errors)
	}
	if err != nil {
		closeNode(node, log)
		return err
	}
	ln, err := net.Listen("tcp", o.apiAddr)
	if err != nil {
		closeNode(node, log)
		return fmt.Errorf("listen api %s: %w", o.apiAddr, err)
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, TLSConfig: apiTLS,
		// net/http's own complaints (a failed TLS handshake) join the node's log.
		ErrorLog: slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelInfo)}
	httpErr := make(chan error, 1)
	go func() { httpErr <- serveAPI(httpSrv, ln) }()
	log.Info("node started", "api_addr", ln.Addr().String(), "raft_addr", o.raftAddr, "raft_bind", o.raftBind, "data_dir", o.dataDir, "tls", o.tls != nil, "api_tls", apiTLS != nil,
		"transparent_hugepage", hugemem.Mode())

	if o.pprofAddr != "" {
		stopProfiles := serveProfiles(o.pprofAddr, log)
		defer stopProfiles()
	}

	regDone := make(chan struct{})
	go func() {
		defer close(regDone)
		registerSelf(ctx, log, node, store, o, key)
	}()
	driverCtx, stopDriver := context.WithCancel(ctx)
	driverDone := make(chan struct{})
	go func() {
		defer close(driverDone)
		holders := o.stepHolders
		if holders == 0 {
			holders = defaultStepHolders
		}
		newCorpDriver(node, store, holders, log).run(driverCtx)
	}()
	defer func() { stopDriver(); <-driverDone }()

	select {
	case <-ctx.Done():
	case err = <-httpErr:
		log.Error("api server stopped", "err", err)
	case fault := <-fs.fault:
		faulted = true
		return failStopNode(log, fs, fault, node, httpSrv)
	}
	log.Info("shutting down")
	// The stop must finish even though ctx is cancelled: it hands leadership over.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		log.Warn("api shutdown", "err", err)
	}
	<-regDone
	stopDriver()
	<-driverDone
	if err := node.Close(sctx); err != nil {
		log.Warn("consensus close", "err", err)
	}
	log.Info("stopped")
	return nil
}

func closeNode(n *consensus.Node, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		log.Warn("consensus close", "err", err)
	}
}

// operatorKey returns the node's operator key: from the data dir if a
// previous start saved it, else $TOKENLEDGER_BOOTSTRAP_KEY, else a new one.
// generated reports a new random key, which the caller prints once.
func operatorKey(dataDir string) (key string, generated bool, err error) {
	path := filepath.Join(dataDir, operatorKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("read operator key: %w", err)
	}
	key = os.Getenv(bootstrapKeyEnv)
	if key == "" {
		if key, err = api.NewKey(); err != nil {
			return "", false, err
		}
		generated = true
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write operator key: %w", err)
	}
	return key, generated, nil
}

// registerSelf makes sure, once a leader exists, that the replicated state
// holds this node's operator key hash, its addresses and the configured
// rulebook. Each proposal is idempotent, so every start simply checks again.
func registerSelf(ctx context.Context, log *slog.Logger, node *consensus.Node, store *ledger.Store, o nodeOptions, key string) {
	var rulebookItem []byte
	if o.rulebookFile != "" {
		text, err := os.ReadFile(o.rulebookFile)
		if err != nil {
			log.Error("read rulebook file", "path", o.rulebookFile, "err", err)
		} else {
			sum := sha256.Sum256(text)
			// The id is derived from the text, so every node proposes the same
			// instruction and it applies once.
			ins := transfer.Instruction{ID: "bootstrap-rulebook-" + hex.EncodeToString(sum[:8]), Type: transfer.TypeSetRulebook, Rulebook: string(text)}
			rulebookItem = ledger.InstructionItem(ledger.OperatorID, transfer.Encode(ins))
		}
	}
	keyHash := api.HashKey(key)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for attempt := 0; attempt < registerAttempts; attempt++ {
		items := pendingRegistrations(store, o, keyHash, rulebookItem)
		if len(items) == 0 {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := node.Propose(pctx, items)
		cancel()
		if err == nil {
			rulebookItem = nil // an outcome was recorded; accepted or not, it is not retried
			continue
		}
		log.Debug("registration not yet replicated", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	log.Warn("could not register this node's operator key and addresses; is there a quorum?")
}

func pendingRegistrations(store *ledger.Store, o nodeOptions, keyHash string, rulebookItem []byte) [][]byte {
	var items [][]byte
	if party, err := store.KeyParty(keyHash); err != nil || party != ledger.OperatorID {
		items = append(items, ledger.KeyItem(ledger.OperatorID, keyHash))
	}
	known := false
	if nodes, err := store.Nodes(); err == nil {
		for _, n := range nodes {
			// A removed node never registers again (the ledger would refuse
			// it anyway).
			known = known || (n.ID == o.id && (n.Removed || n.APIAddr == o.apiAddr && n.RaftAddr == o.raftAddr && n.Active && n.NoteKey == o.noteKey))
		}
	}
	if !known {
		items = append(items, ledger.NodeItem(ledger.NodeInfo{ID: o.id, RaftAddr: o.raftAddr, APIAddr: o.apiAddr, Active: true, NoteKey: o.noteKey}))
	}
	if rulebookItem != nil {
		items = append(items, rulebookItem)
	}
	return items
}
