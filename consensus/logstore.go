package consensus

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	gometrics "github.com/hashicorp/go-metrics/compat"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"go.etcd.io/bbolt"
)

// LogStore names the store that keeps raft's log and stable store (current
// term, vote, heard peers) in a data directory.
type LogStore string

const (
	// LogStoreBolt is raft-boltdb: one bbolt file, raft.db. Each append
	// commits a bbolt transaction (two fdatasyncs), and truncated pages go to
	// a freelist that grows after bursts.
	LogStoreBolt LogStore = "boltdb"
	// LogStoreWAL is raft-wal: append-only segment files in wal/ with one
	// fsync per append, truncated by deleting whole segments; the stable
	// store and the segment list live in a small bbolt file beside them.
	LogStoreWAL LogStore = "wal"
)

// File names in Config.DataDir.
const (
	boltFile = "raft.db"
	walDir   = "wal"
	// walLockFile is held for as long as the WAL is open (see openWAL).
	walLockFile = "wal.lock"
	// walMetaFile is raft-wal's own bbolt file in walDir, checked like
	// raft.db before it is opened.
	walMetaFile = "wal-meta.db"
	// walCopyDir receives MigrateLogStore's copy until it is verified; Open
	// never reads it.
	walCopyDir = "wal.migrating"
	// boltRetired is raft.db's name once MigrateLogStore has moved its
	// contents into wal/; Open never reads it.
	boltRetired = "raft.db.migrated"
)

// stableStoreUint64Keys are the stable-store keys raft writes with
// SetUint64. raft-boltdb encodes them big-endian and raft-wal little-endian,
// so they are copied as numbers, never as bytes.
var stableStoreUint64Keys = []string{"CurrentTerm", "LastVoteTerm"}

// stableStoreBytesKey reports whether key is one raft or this package writes
// with Set: raft's vote and heardPeers' records.
func stableStoreBytesKey(key string) bool {
	return key == "LastVoteCand" || strings.HasPrefix(key, heardKeyPrefix)
}

// ErrLogStoreConflict is returned by Open when a data directory holds both a
// raft.db and a wal/: a log store migration stopped between its two renames.
// Running MigrateLogStore again finishes it.
var ErrLogStoreConflict = errors.New("consensus: data dir holds both raft.db and wal/")

// raftStore is what raft needs of a log store, and how the node closes it.
type raftStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

// closers closes several things as one, in order.
type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// walStore is the WAL with the lock that keeps a second process out of it.
type walStore struct {
	*wal.WAL
	lock *bbolt.DB
}

func (w *walStore) Close() error {
	return closers{w.WAL, w.lock}.Close()
}

// DataDirLogStore reports which store dir's raft state is in, and whether
// there is any. A directory keeps the store it was created with: opening the
// other one would start an empty log beside the real one and forget the
// term and vote raft must never forget.
func DataDirLogStore(dir string) (store LogStore, found bool, err error) {
	hasBolt, err := exists(filepath.Join(dir, boltFile))
	if err != nil {
		return "", false, err
	}
	hasWAL, err := exists(filepath.Join(dir, walDir))
	if err != nil {
		return "", false, err
	}
	switch {
	case hasBolt && hasWAL:
		return "", false, fmt.Errorf("%w: %s (a log store migration was interrupted; run it again)", ErrLogStoreConflict, dir)
	case hasBolt:
		return LogStoreBolt, true, nil
	case hasWAL:
		return LogStoreWAL, true, nil
	}
	return "", false, nil
}

// openLogStore opens the store dir already uses, or want if it has none.
// walSegmentBytes sizes the WAL's segment files; 0 is raft-wal's default.
func openLogStore(dir string, want LogStore, hcl *hclogAdapter, walSegmentBytes int) (raftStore, LogStore, error) {
	kind, found, err := DataDirLogStore(dir)
	if err != nil {
		return nil, "", err
	}
	if !found {
		kind = want
	}
	var store raftStore
	switch kind {
	case LogStoreBolt:
		path := filepath.Join(dir, boltFile)
		if err := checkBoltFile(path); err != nil {
			return nil, "", err
		}
		store, err = openBolt(path, false)
	case LogStoreWAL:
		if err := checkBoltFile(filepath.Join(dir, walDir, walMetaFile)); err != nil {
			return nil, "", err
		}
		store, err = openWAL(dir, walDir, hcl, walSegmentBytes)
		if errors.Is(err, wal.ErrCorrupt) {
			// A segment that fails its checksums beyond the tail raft-wal
			// recovers from: the log, and with it the vote, cannot be trusted.
			err = fmt.Errorf("%w: %s: %w", ErrDamaged, filepath.Join(dir, walDir), err)
		}
	default:
		err = fmt.Errorf("unknown log store %q", kind)
	}
	if err != nil {
		return nil, "", fmt.Errorf("consensus: open %s log store: %w", kind, err)
	}
	return store, kind, nil
}

// logStorePath is the file (raft.db) or directory (wal) that holds a log
// store of kind in dir, as storage faults name it.
func logStorePath(dir string, kind LogStore) string {
	if kind == LogStoreWAL {
		return filepath.Join(dir, walDir)
	}
	return filepath.Join(dir, boltFile)
}

func openBolt(path string, readOnly bool) (*raftboltdb.BoltStore, error) {
	return raftboltdb.New(raftboltdb.Options{
		Path: path,
		BoltOptions: &bbolt.Options{
			Timeout:  boltOpenTimeout,
			ReadOnly: readOnly,
			// Skip writing the freelist on every commit (rqlite #968); it is
			// rebuilt when the file opens.
			NoFreelistSync: true,
			FreelistType:   bbolt.FreelistMapType,
		},
	})
}

// openWAL opens (or creates) the WAL in dir/name. raft-wal opens its
// wal-meta.db without a timeout, so a second process on the same directory
// would block on its file lock forever; taking a lock of our own first, with
// boltOpenTimeout, makes that process fail as it does with raft.db.
func openWAL(dir, name string, hcl *hclogAdapter, segmentBytes int) (*walStore, error) {
	lock, err := bbolt.Open(filepath.Join(dir, walLockFile), 0o600, &bbolt.Options{Timeout: boltOpenTimeout})
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", walLockFile, err)
	}
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(path, 0o700); err != nil {
		_ = lock.Close()
		return nil, err
	}
	// Its counters (appends, bytes, truncations, segment rotations) go to
	// go-metrics beside raft's own, which the node exports to Prometheus.
	w, err := wal.Open(path, wal.WithLogger(hcl.Named("wal")), wal.WithSegmentSize(segmentBytes),
		wal.WithMetricsCollector(walMetrics{}))
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	return &walStore{WAL: w, lock: lock}, nil
}

// walMetrics sends raft-wal's counters and gauges to go-metrics' global
// sink as raft_wal_<name>, read at each call: raft-wal's own collector keeps
// the global of the moment it is built, which is before the node installs
// its Prometheus sink.
type walMetrics struct{}

func (walMetrics) IncrementCounter(name string, delta uint64) {
	gometrics.IncrCounter([]string{"raft", "wal", name}, float32(delta))
}

func (walMetrics) SetGauge(name string, val uint64) {
	gometrics.SetGauge([]string{"raft", "wal", name}, float32(val))
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("consensus: inspect %s: %w", path, err)
}
