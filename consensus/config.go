package consensus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/tokenledger/tokenledger/consensus/internal/transport"
)

// Limits that are not configurable.
const (
	// MaxNodeIDBytes bounds a node id: it travels in a one-byte length prefix
	// when a connection opens.
	MaxNodeIDBytes = transport.MaxIDBytes

	// minEntryBytes is the smallest MaxEntryBytes that leaves room for the
	// log entry header and a useful item.
	minEntryBytes = 256

	// maxEntryBytesLimit keeps log entries well below what raft's transport and
	// log store handle comfortably; raft suggests 512 KiB (SuggestedMaxDataSize).
	// It leaves room under raft-wal's 64 MiB record limit (segment.MaxEntrySize)
	// for the record's index, term and time: a longer record is written but
	// refused as corrupt when read back.
	maxEntryBytesLimit = 63 << 20

	// logCacheEntries is the number of recent log entries kept in memory in
	// front of the log store (Vault and rqlite use 512).
	logCacheEntries = 512

	// minWALSegmentBytes and maxWALSegmentBytes bound WALSegmentBytes: a
	// segment holds a header and an index besides its entries, and raft-wal
	// records a segment's size in 32 bits.
	minWALSegmentBytes = 1 << 10
	maxWALSegmentBytes = 1 << 30

	// snapshotsRetained is how many snapshots the file snapshot store keeps.
	snapshotsRetained = 2

	// transportMaxPool is the number of idle raft connections kept per peer
	// (Vault's value).
	transportMaxPool = 3

	// transportTimeout bounds raft RPC I/O; InstallSnapshot scales it by size.
	transportTimeout = 10 * time.Second

	// maxRouteAttempts bounds how often Propose and ReadIndex try a new leader
	// after the previous one refused.
	maxRouteAttempts = 5
)

// Peer is one member of the bootstrap configuration.
type Peer struct {
	ID       string
	RaftAddr string
}

// TLSConfig names the PEM files for mutual TLS between nodes. Every node's
// certificate must be signed by the CA and name the node's id as a DNS SAN or
// as the common name.
type TLSConfig struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Config configures a Node. Start from DefaultConfig and set ID, RaftAddr and
// DataDir at least.
type Config struct {
	// ID is the node's stable raft server id; at most MaxNodeIDBytes bytes, no
	// white space.
	ID string

	// RaftAddr is the host:port the node listens on for raft and internal RPC
	// traffic, and the address it advertises to peers, so it must be reachable
	// from them (not 0.0.0.0). It may be empty when Listener is set.
	RaftAddr string

	// RaftBind, if set, is the host:port the node listens on when peers reach
	// it at another address: behind NAT, a port forward or a proxy. RaftAddr
	// stays the address it advertises. Empty: listen on RaftAddr.
	RaftBind string

	// DataDir holds the log store (raft.db, or wal/ with wal.lock) and
	// snapshots/.
	DataDir string

	// LogStore is the store a DataDir with no raft state gets. A DataDir
	// that has one keeps it whatever LogStore says (DataDirLogStore);
	// MigrateLogStore moves a raft.db into a WAL.
	LogStore LogStore

	// Peers is the bootstrap configuration, used only on the very first start
	// (no existing raft state). It must include this node. Empty means a
	// single-node cluster of this node alone, the embedded default.
	Peers []Peer

	// Join makes a fresh node skip bootstrap and wait to be added by the
	// leader's AddVoter. Peers must then be empty.
	Join bool

	// Remembers reports whether this node's replicated state records id as a
	// member that has run. A node that starts with no raft state asks its
	// bootstrap peers (with Join, its Contacts) first, and refuses to start
	// (ErrStateLost) if one remembers it. A peer also remembers any node it
	// exchanged raft traffic with, whatever Remembers answers; nil answers
	// false.
	Remembers func(id string) bool

	// Contacts are the nodes a joining node (Join) with no raft state asks
	// whether they remember it, as a bootstrapping node asks its Peers; the
	// cluster file's nodes. Without them a joining node asks no one.
	Contacts []Peer

	// TLS enables mutual TLS 1.3 between nodes. Nil means plain TCP.
	TLS *TLSConfig

	// OnStorageFault, if set, is told of the first failed write to raft's
	// log, stable store or snapshots, and must stop the process: the node
	// cannot go on with a log or a vote it could not make durable. A failed
	// term or vote write never returns to raft. Nil: raft's own handling
	// (a follower that cannot append carries on; a vote it cannot save
	// panics).
	OnStorageFault func(*StorageFault)

	// Listener, if set, is used instead of listening on RaftAddr; the node
	// takes ownership and closes it. Tests and socket activation use it.
	Listener net.Listener

	// wrapTransport lets tests interpose on raft's RPCs to inject faults
	// (stale answers, one-way cuts) that a real network cannot be made to
	// produce on demand.
	wrapTransport func(raft.Transport) raft.Transport

	// Raft timing; the defaults are raft's LAN defaults. Tests may shorten them.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	CommitTimeout      time.Duration
	LeaderLeaseTimeout time.Duration // must be <= HeartbeatTimeout

	// MaxAppendEntries is the most log entries sent in one AppendEntries RPC
	// and applied in one ApplyBatch (1..1024).
	MaxAppendEntries int

	// WALSegmentBytes is the size of the WAL's segment files; 0 means
	// raft-wal's 64 MiB, otherwise minWALSegmentBytes..maxWALSegmentBytes. A
	// log entry larger than a segment still goes in one. The WAL drops
	// compacted log entries only a whole segment at a time and still serves
	// the rest of a segment, so beyond TrailingLogs a lagging follower gets
	// entries rather than a snapshot as long as the leader's segments hold
	// them. Unused with raft-boltdb.
	WALSegmentBytes int

	// SnapshotThreshold is the number of new log entries that triggers a
	// snapshot, checked every SnapshotInterval.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration

	// TrailingLogs is the number of log entries kept after a snapshot so slow
	// followers can catch up without a snapshot transfer.
	TrailingLogs uint64

	// NoSnapshotRestoreOnStart skips restoring the latest snapshot at start.
	// Set it only if the Machine is durable on its own and its state is at
	// least as new as the latest snapshot; raft then replays the log after the
	// snapshot and the Machine skips what it already applied.
	NoSnapshotRestoreOnStart bool

	// MaxBatchItems is the most items in one log entry.
	MaxBatchItems int

	// MaxEntryBytes is the most bytes of one encoded log entry. A single item
	// larger than MaxEntryBytes-MaxItemOverhead is refused with ErrTooLarge.
	MaxEntryBytes int

	// MaxProposalBytes is the most item bytes in one Propose call; larger
	// proposals are refused with ErrTooLarge. A proposal larger than one
	// log entry is split across log entries.
	MaxProposalBytes int

	// MaxInFlight is the most log entries handed to raft and not yet applied.
	// While they commit, new proposals queue up and leave together in the
	// next log entry, so a small value gives bigger log entries. On a 2-core loopback
	// cluster 1 or 2 gave the best throughput (BenchmarkPropose) and 8 or
	// more the worst.
	MaxInFlight int

	// QueueDepth is the most proposals waiting for the leader's batching loop.
	QueueDepth int

	// MaxQueueBytes is the most item bytes held by proposals that are queued
	// or in flight on the leader; further proposals wait (with their context).
	MaxQueueBytes int

	// MaxForwards is the most proposals and read-index requests this node
	// forwards to the leader at once.
	MaxForwards int

	// MaxConns is the most inbound connections served at once.
	MaxConns int

	// ApplyTimeout bounds a request to raft or to the leader when the caller's
	// context has no deadline, and raft's enqueue of a log entry.
	ApplyTimeout time.Duration

	// LeaderWait is how long Propose and ReadIndex wait for a leader to appear
	// (per attempt) before giving up with ErrNoLeader.
	LeaderWait time.Duration

	// TransferTimeout bounds the leadership transfer Close does on a leader.
	TransferTimeout time.Duration

	// DialTimeout bounds dialling a peer and the TLS handshake and header
	// exchange on a new connection, in both directions.
	DialTimeout time.Duration

	// Logger receives the package's logs and raft's (through an adapter).
	// Nil discards them.
	Logger *slog.Logger

	// Now is the leader's clock for log entry time stamps. Nil means time.Now;
	// tests inject a clock.
	Now func() time.Time
}

// DefaultConfig returns a Config with every limit and timeout set. The caller
// still sets ID, RaftAddr (or Listener), DataDir and usually Peers and TLS.
func DefaultConfig() Config {
	return Config{
		// raft-wal is faster but does not yet recover from a full disk
		// (DESIGN.md, Log store); it is opt-in until it does.
		LogStore:           LogStoreBolt,
		HeartbeatTimeout:   time.Second,
		ElectionTimeout:    time.Second,
		CommitTimeout:      50 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		MaxAppendEntries:   64,
		SnapshotThreshold:  8192,
		SnapshotInterval:   120 * time.Second,
		TrailingLogs:       10240,
		MaxBatchItems:      10_000,
		MaxEntryBytes:      1 << 20,
		MaxProposalBytes:   8 << 20,
		MaxInFlight:        2,
		QueueDepth:         1024,
		MaxQueueBytes:      64 << 20,
		MaxForwards:        64,
		MaxConns:           256,
		ApplyTimeout:       10 * time.Second,
		LeaderWait:         2 * time.Second,
		TransferTimeout:    5 * time.Second,
		DialTimeout:        5 * time.Second,
	}
}

// Validate checks ranges and the relations between fields, naming the first
// field that is wrong.
func (c *Config) Validate() error {
	if err := validateID("ID", c.ID); err != nil {
		return err
	}
	advertise := c.advertise()
	if err := validateAddr("RaftAddr", advertise); err != nil {
		return err
	}
	if c.RaftBind != "" {
		if c.Listener != nil {
			return configError("RaftBind", "must be empty when Listener is set")
		}
		if _, _, err := net.SplitHostPort(c.RaftBind); err != nil {
			return configError("RaftBind", fmt.Sprintf("%q is not host:port", c.RaftBind))
		}
	}
	if c.DataDir == "" {
		return configError("DataDir", "must be set")
	}
	if c.LogStore != LogStoreBolt && c.LogStore != LogStoreWAL {
		return configError("LogStore", fmt.Sprintf("%q is neither %q nor %q", c.LogStore, LogStoreBolt, LogStoreWAL))
	}
	if c.WALSegmentBytes != 0 && (c.WALSegmentBytes < minWALSegmentBytes || c.WALSegmentBytes > maxWALSegmentBytes) {
		return configError("WALSegmentBytes", fmt.Sprintf("must be 0 or in %d..%d", minWALSegmentBytes, maxWALSegmentBytes))
	}
	if err := c.validatePeers(advertise); err != nil {
		return err
	}
	if c.TLS != nil && (c.TLS.CAFile == "" || c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		return configError("TLS", "needs CAFile, CertFile and KeyFile")
	}
	if err := c.validateTiming(); err != nil {
		return err
	}
	return c.validateLimits()
}

func (c *Config) validatePeers(advertise string) error {
	if c.Join && len(c.Peers) > 0 {
		return configError("Peers", "must be empty when Join is set")
	}
	if len(c.Peers) == 0 {
		return nil
	}
	ids := make(map[string]bool, len(c.Peers))
	addrs := make(map[string]bool, len(c.Peers))
	self := false
	for i, p := range c.Peers {
		field := fmt.Sprintf("Peers[%d]", i)
		if err := validateID(field+".ID", p.ID); err != nil {
			return err
		}
		if err := validateAddr(field+".RaftAddr", p.RaftAddr); err != nil {
			return err
		}
		if ids[p.ID] || addrs[p.RaftAddr] {
			return configError(field, "repeats an id or address")
		}
		ids[p.ID], addrs[p.RaftAddr] = true, true
		if p.ID == c.ID {
			if p.RaftAddr != advertise {
				return configError(field+".RaftAddr", fmt.Sprintf("%q differs from this node's address %q", p.RaftAddr, advertise))
			}
			self = true
		}
	}
	if !self {
		return configError("Peers", fmt.Sprintf("must include this node %q", c.ID))
	}
	return nil
}

func (c *Config) validateTiming() error {
	durations := []struct {
		name string
		d    time.Duration
		min  time.Duration
	}{
		{"HeartbeatTimeout", c.HeartbeatTimeout, 5 * time.Millisecond},
		{"ElectionTimeout", c.ElectionTimeout, 5 * time.Millisecond},
		{"CommitTimeout", c.CommitTimeout, time.Millisecond},
		{"LeaderLeaseTimeout", c.LeaderLeaseTimeout, 5 * time.Millisecond},
		{"SnapshotInterval", c.SnapshotInterval, 5 * time.Millisecond},
		{"ApplyTimeout", c.ApplyTimeout, time.Millisecond},
		{"LeaderWait", c.LeaderWait, time.Millisecond},
		{"TransferTimeout", c.TransferTimeout, time.Millisecond},
		{"DialTimeout", c.DialTimeout, time.Millisecond},
	}
	for _, d := range durations {
		if d.d < d.min {
			return configError(d.name, fmt.Sprintf("%v is below %v", d.d, d.min))
		}
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		return configError("LeaderLeaseTimeout", "must not exceed HeartbeatTimeout")
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		return configError("ElectionTimeout", "must be at least HeartbeatTimeout")
	}
	return nil
}

func (c *Config) validateLimits() error {
	if c.MaxAppendEntries < 1 || c.MaxAppendEntries > 1024 {
		return configError("MaxAppendEntries", "must be in 1..1024")
	}
	if c.SnapshotThreshold < 1 {
		return configError("SnapshotThreshold", "must be positive")
	}
	if c.MaxBatchItems < 1 {
		return configError("MaxBatchItems", "must be positive")
	}
	if c.MaxEntryBytes < minEntryBytes || c.MaxEntryBytes > maxEntryBytesLimit {
		return configError("MaxEntryBytes", fmt.Sprintf("must be in %d..%d", minEntryBytes, maxEntryBytesLimit))
	}
	if c.MaxProposalBytes < c.MaxEntryBytes {
		return configError("MaxProposalBytes", "must be at least MaxEntryBytes")
	}
	if c.MaxQueueBytes < c.MaxProposalBytes {
		return configError("MaxQueueBytes", "must be at least MaxProposalBytes")
	}
	counts := []struct {
		name string
		n    int
	}{
		{"MaxInFlight", c.MaxInFlight},
		{"QueueDepth", c.QueueDepth},
		{"MaxForwards", c.MaxForwards},
		{"MaxConns", c.MaxConns},
	}
	for _, n := range counts {
		if n.n < 1 {
			return configError(n.name, "must be positive")
		}
	}
	return nil
}

// advertise is the address peers use to reach this node.
func (c *Config) advertise() string {
	if c.RaftAddr == "" && c.Listener != nil {
		return c.Listener.Addr().String()
	}
	return c.RaftAddr
}

// maxItemBytes is the largest single item that fits in one log entry.
func (c *Config) maxItemBytes() int {
	return c.MaxEntryBytes - MaxItemOverhead
}

// validateID checks a node id as the transport will carry it.
func validateID(field, id string) error {
	if err := transport.CheckID(id); err != nil {
		return configError(field, err.Error())
	}
	return nil
}

func validateAddr(field, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return configError(field, fmt.Sprintf("%q is not host:port", addr))
	}
	if port == "" || port == "0" {
		return configError(field, fmt.Sprintf("%q needs a fixed port", addr))
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return configError(field, fmt.Sprintf("%q is not an address peers can reach", addr))
	}
	return nil
}

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("consensus: invalid config")

func configError(field, msg string) error {
	return fmt.Errorf("%w: %s %s", ErrConfig, field, msg)
}
