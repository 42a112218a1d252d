package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
)

// Config configures a Store.
type Config struct {
	// Path of the bbolt state file.
	Path string
	// StrictChecks runs Check after every Apply and panics on a violation.
	// Costly (a full scan); meant for tests and fuzzing, like bbolt's StrictMode.
	StrictChecks bool
	// NoSync skips fsync on commit. Only for benchmarks and tests: the raft
	// log replays what a crash loses, but a power cut could tear the file.
	NoSync bool
	// CommitEvery is how many applied instructions the open write
	// transaction gathers before it commits (0 or 1: every Apply). Larger
	// values write each touched page once per commit instead of once per
	// Apply and keep fsync off the apply path; a crash loses at most that
	// many instructions of state, which raft replays from its log. Use it
	// only under consensus, whose log must keep every log entry after the
	// last commit (Snapshot commits first, so compaction never passes it).
	CommitEvery int
	// CacheBytes bounds the record cache of committed parties, instruments
	// and holdings that Apply reads through (0: DefaultCacheBytes; at least
	// MinCacheBytes). It changes the cost of Apply, never its result: size
	// it to the register's working set (DefaultCacheBytes says how), since a
	// register larger than the cache sends the misses to bbolt.
	CacheBytes int
	// SnapshotBare writes snapshots as the bare page stream, which the last
	// release reads, instead of compressed (snapshot_stream.go). For a
	// rolling upgrade from that release, until every node runs this one: a
	// node of the last release cannot restore a compressed snapshot.
	SnapshotBare bool
	// Logger; nil discards.
	Logger *slog.Logger
	// OnFault, if set, is told once of a storage fault: a write transaction
	// that could not begin, write or commit. From then on reads fail with
	// ErrStorageFault and Apply never returns: OnFault must stop the process,
	// which replays from raft's log after a restart. Nil: Apply panics.
	OnFault func(error)

	// stageFrom is the file size from which commits stage layers (0:
	// stageFromBytes); tests lower it.
	stageFrom int64
	// mergeSlice is how many keys a transaction of a merge writes (0:
	// mergeSliceKeys); tests lower it.
	mergeSlice int
	// mmapBytes is how much of the file Open maps at first (0:
	// mmapFor); tests lower it to make commits remap the file.
	mmapBytes int
}

// cacheBytes is CacheBytes with its default.
func (c Config) cacheBytes() int {
	if c.CacheBytes == 0 {
		return DefaultCacheBytes
	}
	return c.CacheBytes
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("ledger: config: Path is required")
	}
	if c.CacheBytes != 0 && (c.CacheBytes < MinCacheBytes || c.CacheBytes > MaxCacheBytes) {
		return fmt.Errorf("ledger: config: CacheBytes %d outside [%d, %d]", c.CacheBytes, MinCacheBytes, MaxCacheBytes)
	}
	return nil
}

// ErrStorageFault is wrapped by every read after the state file failed a
// write: the state in memory may be ahead of the file, and the node is
// stopping to replay from raft's log.
var ErrStorageFault = errors.New("ledger: state unavailable after a storage fault")

// ErrStateUnsound is wrapped by every read after a state restored from a
// snapshot failed its checks: the disk is fine, the state is not, and the
// node is stopping; the next Open refuses the file (ErrDamaged).
var ErrStateUnsound = errors.New("ledger: state unavailable: the restored snapshot fails its checks")

// FaultError is the error of a failed write to the state file, which matches
// ErrStorageFault, or of a restored state that failed its checks (step
// check), which matches ErrStateUnsound; one the id index's scan could not
// read (step index) matches ErrStorageFault and ErrDamaged.
type FaultError struct {
	Step string // begin, write or commit, restore (the directory after a restore's rename); check: a restored state failed its checks; index: a journal entry the id index read does not decode
	Path string // the state file
	Err  error
}

func (e *FaultError) Error() string {
	switch e.Step {
	case "check":
		return fmt.Sprintf("%v: %s: %v", ErrStateUnsound, e.Path, e.Err)
	case "index":
		return fmt.Sprintf("%v: %v: %s: %v", ErrStorageFault, ErrDamaged, e.Path, e.Err)
	}
	return fmt.Sprintf("%v: %s %s: %v", ErrStorageFault, e.Step, e.Path, e.Err)
}

func (e *FaultError) Unwrap() []error {
	switch e.Step {
	case "check":
		return []error{ErrStateUnsound, e.Err}
	case "index":
		return []error{ErrStorageFault, ErrDamaged, e.Err}
	}
	return []error{ErrStorageFault, e.Err}
}

// Store is the replicated state machine over bbolt. Apply, Restore and
// Snapshot are called by consensus from one goroutine; reads may run
// concurrently with them from any goroutine.
type Store struct {
	cfg Config
	log *slog.Logger

	// mu guards db against Restore swapping the file; readers and Apply hold it
	// shared, Restore exclusively.
	mu sync.RWMutex
	db *bolt.DB

	// rulebook in force, replaced only by Apply (set_rulebook) and Restore.
	rulebook atomic.Pointer[eligibility.Rulebook]
	applied  atomic.Uint64
	lastTime atomic.Int64 // unix nanos
	// corpRunning is the running corporate actions (corpaction_running.go),
	// replaced only by Apply and Restore.
	corpRunning atomic.Pointer[corpRunning]

	// cacheMu guards cache; Apply holds it throughout (bbolt runs one write
	// transaction at a time anyway), Restore replaces the cache under mu.
	cacheMu sync.Mutex
	cache   *stateCache
	// ids and holdings filter the instruction ids and the holdings the file
	// holds (keyfilter.go); they are replaced with db, under mu.
	ids, holdings *keyFilter
	// idx finds the journal entries of an instruction id (idindex.go);
	// replaced with db, under mu.
	idx *idIndex

	// wmu guards the layers of applied state not yet in the file, the
	// commit of one of them in flight, and the error of a commit that failed,
	// after which the store refuses to go on. committed is signalled, under
	// wmu, when a commit ends.
	//
	// Apply writes into live, in memory (package kv), over the file and the
	// frozen layer; once CommitEvery instructions are pending, live is
	// frozen and a goroutine commits it to the file while Apply goes on in a
	// new live layer. So the commit (bbolt's spill, page writes and fsyncs)
	// is never on the apply path.
	wmu       sync.Mutex
	committed *sync.Cond
	live      *kv.Layer    // nil: nothing applied since the last freeze
	frozen    *frozenLayer // being committed; nil: none
	// staged are the layers committed as records and not yet written into
	// their buckets (stage.go), oldest first; Apply and view read them.
	staged []*frozenLayer
	// merging is set by a caller that waits for every layer to be in its
	// buckets (commitLocked): the next commit writes them there.
	merging bool
	pending int        // instructions in live
	reuse   applyReuse // what one Apply call hands to the next (reuse.go)
	calls   callState  // the meta counters and tree writer, from call to call (callstate.go)
	gen     uint64     // layers frozen so far
	done    uint64     // layers written into their buckets so far
	broken  error
	// postings are the journal index entries applied in live and not yet
	// written to it (postings.go); guarded by wmu. They travel with the layer
	// when it is frozen, and the commit writes them.
	postings postingBuffer
	// sparePostings are the buffers of the last layers written into their
	// buckets, emptied, for the next live layers: a buffer grown anew per
	// layer cost the apply path a growslice of up to a few megabytes a
	// commit, and the collector's assists that come with it (6% of a CPU
	// profile of BenchmarkApplyEntries' 50 instructions an entry). Guarded
	// by wmu.
	sparePostings []postingBuffer
	// applyBase is Apply's read transaction of the file, and applyTx its
	// view with the layers over it, kept across calls (inWriteTx).
	applyBase *bolt.Tx
	applyTx   *kv.Tx

	// restoreCheck is the check of the last restored state while it runs
	// beside Apply (restore_check.go); guarded by mu. unverified is set from
	// a restore until that check passes.
	restoreCheck *restoreCheck
	unverified   atomic.Bool
	// releaseBudget is how many bytes of file pages the process may hold
	// while a restored state is checked (restoreCheckBudget; tests lower
	// it).
	releaseBudget int64

	// rename is os.Rename; tests replace it to fail Restore's swap.
	rename func(oldpath, newpath string) error
	// syncDir makes a directory's entries durable (the package's syncDir);
	// tests replace it to fail the one after Restore's rename.
	syncDir func(dir string) error
	// beforeRestoreCheck, if set, is called as the check of a restored
	// state starts, with the flag that calls it off; tests hold the check
	// there.
	beforeRestoreCheck func(stop *atomic.Bool)
	// commitTx is (*bolt.Tx).Commit; tests replace it to fail a commit as a
	// full disk does.
	commitTx func(*bolt.Tx) error
	// beforeCommitFinish, if set, is called by a commit once it has written
	// the frozen layer into its transaction, before it ends Apply's read
	// transaction and commits; tests hold the commit there.
	beforeCommitFinish func()
	// afterMergeSlice, if set, is called by a merge in slices after it has
	// committed a slice that is not its last; tests copy the file there, as
	// a crash would leave it.
	afterMergeSlice func()
}

var _ Machine = (*Store)(nil)

// Open opens (creating if needed) the state file.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: cfg.Logger, rename: os.Rename, syncDir: syncDir, commitTx: (*bolt.Tx).Commit, releaseBudget: restoreCheckBudget}
	s.committed = sync.NewCond(&s.wmu)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "ledger")
	mmapBytes := cfg.mmapBytes
	if mmapBytes == 0 {
		var size int64
		if info, err := os.Stat(cfg.Path); err == nil {
			size = info.Size()
		}
		mmapBytes = mmapFor(size)
	}
	db, err := openDB(cfg.Path, cfg.NoSync, mmapBytes, s.log)
	if err != nil {
		return nil, err
	}
	if err := checkUnverified(db, cfg.Path, s.log); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: open state %s: %w", cfg.Path, err)
	}
	st, err := loadState(db, cfg.cacheBytes())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: load state %s: %w", cfg.Path, err)
	}
	s.db = db
	s.install(st)
	s.startKeyFilters(db, st)
	s.idx = startIDIndex(db, st.journalSeq, s.log)
	return s, nil
}

// startKeyFilters starts the filters of db's ids and holdings, which fill
// in goroutines of their own. The ids are about st.idsHeld; the holdings
// are not counted (a count is a scan), so their filter starts at its
// least size and grows.
func (s *Store) startKeyFilters(db *bolt.DB, st memState) {
	s.ids = startKeyFilter(db, bucketIDs, "instruction ids", st.idsHeld, s.log)
	s.holdings = startKeyFilter(db, bucketHoldings, "holdings", 0, s.log)
}

// startKeyFilter returns the filter of bucket's keys in db, which holds
// about held of them, filling in a goroutine of its own.
func startKeyFilter(db *bolt.DB, bucket []byte, what string, held uint64, log *slog.Logger) *keyFilter {
	f := newKeyFilter(bucket, what, int(min(held, 1<<30)))
	go f.build(db, log)
	return f
}

// ErrDamaged is wrapped by Open's error when the state file is truncated or
// its meta pages are corrupt (bbolt's checksums): the node must not serve it.
// Moving the file aside lets the node rebuild its state from its latest
// raft snapshot and log, or from the leader.
var ErrDamaged = errors.New("ledger: state file is damaged")

// mmapFor is how much of a state file of size bytes Open maps at first:
// the file and room to grow as much again, at least mmapRoom. bbolt maps
// more once the file outgrows it, and to map anew it waits for every read
// transaction and copies every key and value the commit in flight holds
// out of the old map (node.dereference): in a commit that writes four
// layers into their buckets (stage.go), millions of small copies, a
// quarter of the allocations of BenchmarkScale on 10,000 investors until
// Open mapped room. Address space only: nothing is resident until read.
// (etcd maps 10 GB for the same reason.)
func mmapFor(size int64) int {
	return int(min(size+max(size, mmapRoom), math.MaxInt))
}

// mmapRoom is the least room to grow mmapFor maps.
const mmapRoom = 1 << 30

func openDB(path string, noSync bool, mmapBytes int, log *slog.Logger) (*bolt.DB, error) {
	if info, err := os.Stat(path); err == nil && info.Size() > 0 {
		if err := checkComplete(path); err != nil {
			if errors.Is(err, berrors.ErrTimeout) {
				return nil, fmt.Errorf("ledger: state %s is locked by another process: %w", path, err)
			}
			return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         5 * time.Second,
		NoSync:          noSync,
		InitialMmapSize: mmapBytes,
		FreelistType:    bolt.FreelistMapType,
		// The freelist is written with every commit, which runs beside
		// Apply (a few pages on a file that mostly grows), so that Open
		// reads it instead of walking every page of the file to rebuild it:
		// seconds and a map of every page on a file of gigabytes. A file
		// written without it is walked once, and has it from its next commit.
		NoFreelistSync: false,
	})
	if err != nil {
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
			err = fmt.Errorf("%w: %w", ErrDamaged, err)
		}
		return nil, fmt.Errorf("ledger: open state %s: %w", path, err)
	}
	// Before anything reads the buckets: they hold the state as of the
	// last commit only with the layers a crash left staged.
	if err := mergeStaged(db, log); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: open state %s: %w", path, err)
	}
	start := time.Now()
	from := fileSchema(db)
	if from != "" && from != schemaVersion {
		// A migration reads and writes the whole file: minutes for a large
		// register, which the operator should not take for a hang.
		log.Info("migrating the state file", "path", path, "from_schema", from, "to_schema", schemaVersion)
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: open state %s: %w", path, err)
	}
	err = db.Update(func(btx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := btx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		// A new file's packed buckets, and those of a file of schema 11
		// or before, which migrate left as they were.
		for _, name := range packedBuckets {
			if err := kv.Pack(btx, name); err != nil {
				return err
			}
		}
		tx := kv.Wrap(btx)
		// Keys registered before keys had ids get their records, the same
		// on every node.
		if err := indexKeys(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(metaSchema); {
		case v == nil:
			return meta.Put(metaSchema, []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("state schema %q, this build reads %q", v, schemaVersion)
		}
		return nil
	})
	if err == nil {
		err = buildTree(db, log)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: init state %s: %w", path, err)
	}
	if from != "" && from != schemaVersion {
		log.Info("migrated the state file", "path", path, "from_schema", from, "to_schema", schemaVersion, "took", time.Since(start).Round(time.Millisecond))
	}
	return db, nil
}

// fileSchema is the schema a state file records, "" for a new file.
func fileSchema(db *bolt.DB) (schema string) {
	_ = db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			schema = string(meta.Get(metaSchema))
		}
		return nil
	})
	return schema
}

// memState is what the store keeps in memory of a state file: copies of meta
// values that reads and Apply use without a transaction, and the record cache.
type memState struct {
	rulebook *eligibility.Rulebook
	applied  uint64
	lastTime time.Time
	cache    *stateCache
	running  corpRunning
	// journalSeq is the journal's length, which the id index's scan
	// reads; idsHeld about how many records the ids bucket holds (idsHeld).
	journalSeq, idsHeld uint64
}

// loadState reads the memState of db. It changes nothing, so Restore can
// load a new file completely before it gives up the old one.
func loadState(db *bolt.DB, cacheBytes int) (st memState, err error) {
	err = viewKV(db, func(tx *kv.Tx) error {
		meta := tx.Bucket(bucketMeta)
		st.rulebook = eligibility.Default()
		if text := meta.Get(metaRulebook); text != nil {
			rb, err := eligibility.Parse(text)
			if err != nil {
				return fmt.Errorf("stored rulebook does not parse: %w", err)
			}
			st.rulebook = rb
		}
		st.cache = newStateCache(cacheBytes)
		st.cache.warm(tx)
		st.applied = getUint(meta, metaAppliedIndex)
		st.lastTime = getTime(meta)
		st.running = loadCorpRunning(tx)
		st.journalSeq = getUint(meta, metaJournalSeq)
		st.idsHeld = idsHeld(tx.Bucket(bucketIDs), st.journalSeq)
		return nil
	})
	return st, err
}

// install makes st the store's in-memory state. Callers hold mu exclusively
// (or have not published s yet).
func (s *Store) install(st memState) {
	s.cache = st.cache
	// What the last state's calls handed on goes with it: its view points
	// into the caches just replaced, which would stay in memory until the
	// next call.
	s.reuse = applyReuse{}
	s.calls = callState{} // the next call reads the new state's
	s.rulebook.Store(st.rulebook)
	s.applied.Store(st.applied)
	s.lastTime.Store(st.lastTime.UnixNano())
	// A copy of its own: a pointer into st would keep st, its caches
	// included, for as long as the queue stays unchanged.
	running := st.running
	s.corpRunning.Store(&running)
}

// Close closes the state file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	s.stopRestoreCheck() // its read transactions too
	s.ids.close()        // and the filters' scans
	s.holdings.close()
	s.idx.close() // and the id index's
	err := s.commitPending()
	s.wmu.Lock()
	s.endApplyTxLocked() // bbolt's Close waits for every read transaction
	s.wmu.Unlock()
	err = errors.Join(err, s.db.Close())
	s.db = nil
	s.cache = nil // a closed store keeps no state in memory
	s.reuse = applyReuse{}
	return err
}

// AppliedIndex is the index of the last applied batch.
func (s *Store) AppliedIndex() uint64 { return s.applied.Load() }

// LastTime is the time of the last applied batch; the leader never stamps
// an earlier one.
func (s *Store) LastTime() time.Time { return time.Unix(0, s.lastTime.Load()).UTC() }

// Rulebook is the rulebook in force.
func (s *Store) Rulebook() *eligibility.Rulebook { return s.rulebook.Load() }

// view runs fn against the latest applied state: the file as committed,
// with the layers applied since over it. It holds Apply off while fn runs
// (fn must only read), and sees every Apply that returned before the call.
func (s *Store) view(fn func(tx *kv.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return errors.New("ledger: store is closed")
	}
	s.wmu.Lock()
	if s.broken != nil {
		s.wmu.Unlock()
		return s.broken
	}
	if err := s.flushCallsLocked(); err != nil {
		s.wmu.Unlock()
		return err
	}
	layers := s.layersLocked()
	if len(layers) == 0 {
		s.wmu.Unlock()
		return viewKV(s.db, fn)
	}
	defer s.wmu.Unlock()
	btx, err := s.db.Begin(false)
	if err != nil {
		return fmt.Errorf("ledger: read state: %w", err)
	}
	defer func() { _ = btx.Rollback() }()
	return fn(kv.Over(btx, layers, nil))
}

// layersLocked lists the layers not yet in the file, oldest first. Callers
// hold wmu.
func (s *Store) layersLocked() []*kv.Layer {
	ls := s.frozenLayersLocked()
	if s.live != nil {
		ls = append(ls, s.live)
	}
	return ls
}

// viewCommitted commits what is pending and runs fn in a read transaction,
// for reads that may scan far (journal walks, cap tables, hashes, checks):
// they must not hold Apply off while they run, as view would.
func (s *Store) viewCommitted(fn func(tx *kv.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return errors.New("ledger: store is closed")
	}
	if err := s.commitPending(); err != nil {
		return err
	}
	return viewKV(s.db, fn)
}

// inWriteTx runs fn over the live layer, making one if none is open, above
// the frozen layer and a read transaction of the file. If fn fails, what it
// wrote is in live, half done, and readers may have seen earlier calls: the
// store is broken (see faultLocked), and raft replays the lost calls after
// a restart. Callers hold wmu.
//
// The read transaction and the view over it (applyTx) are kept from call to
// call, which spares each call opening them and their buckets anew (a third
// of a one-instruction call's allocations), also while a commit writes the
// frozen layer into its write transaction. They end when that commit comes
// to bbolt's Commit (writeFrozen, finishing): one that grows the file remaps it, which
// waits for every open read transaction, so until the commit is over each
// call ends its own. And once it is over, the file is newer than the
// transaction, which still reads the frozen layer (commitFrozen ends it).
func (s *Store) inWriteTx(fn func(tx *kv.Tx) error) error {
	if s.live == nil {
		s.endApplyTxLocked()
		s.live = kv.NewLayer()
	}
	if s.applyTx == nil {
		btx, err := s.db.Begin(false)
		if err != nil {
			return s.faultLocked("begin", err)
		}
		s.applyBase, s.applyTx = btx, kv.Over(btx, s.frozenLayersLocked(), s.live)
	}
	err := fn(s.applyTx)
	if s.frozen != nil && s.frozen.finishing {
		s.endApplyTxLocked()
	}
	if err != nil {
		s.endApplyTxLocked()
		s.live, s.pending = nil, 0
		s.postings.reset()
		return s.faultLocked("write", err)
	}
	return nil
}

// endApplyTxLocked ends Apply's read transaction, if open. Callers hold wmu.
func (s *Store) endApplyTxLocked() {
	if s.applyBase != nil {
		_ = s.applyBase.Rollback()
	}
	s.applyBase, s.applyTx = nil, nil
}

// faultLocked marks the store broken by a failed write (step: begin, write,
// commit): every later read fails with ErrStorageFault, and Apply stops.
// It reports the fault once, naming the file. Callers hold wmu.
func (s *Store) faultLocked(step string, err error) error {
	if s.broken != nil {
		return s.broken
	}
	s.broken = &FaultError{Step: step, Path: s.cfg.Path, Err: err}
	switch step {
	case "check":
		s.log.Error("the restored state fails its checks; the node must stop, and will not serve this file again", "file", s.cfg.Path, "err", err)
	case "index":
		s.log.Error("the state file's journal does not decode; the node must stop", "file", s.cfg.Path, "err", err)
	default:
		s.log.Error("state write failed; the node must stop, and replays raft's log after a restart", "step", step, "file", s.cfg.Path, "err", err)
	}
	s.committed.Broadcast()
	if s.cfg.OnFault != nil {
		s.cfg.OnFault(s.broken)
	}
	return s.broken
}

// frozenLayersLocked lists the layers not in their buckets that Apply no
// longer writes, oldest first: the staged ones, then the one being
// committed, if any. Callers hold wmu.
func (s *Store) frozenLayersLocked() []*kv.Layer {
	if s.frozen == nil && len(s.staged) == 0 {
		return nil
	}
	ls := make([]*kv.Layer, 0, len(s.staged)+2)
	for _, f := range s.staged {
		ls = append(ls, f.layer)
	}
	if s.frozen != nil {
		ls = append(ls, s.frozen.layer)
	}
	return ls
}

// frozenLayer is a layer no Apply writes any more, with its journal
// postings, on its way into the file.
type frozenLayer struct {
	layer    *kv.Layer
	postings postingBuffer
	gen      uint64
	db       *bolt.DB
	// merge: the commit writes the staged layers (under) and this one into
	// their buckets; otherwise it stages this one (stage.go).
	merge bool
	under []*frozenLayer
	// sliced: the merge writes its keys over several transactions
	// (mergeInSlices), in a file large enough to stage layers.
	sliced bool
	// finishing is set, under wmu, once the commit comes to bbolt's
	// Commit, which may remap the file: Apply holds no read transaction
	// from call to call from then on (inWriteTx).
	finishing bool
}

// freezeLocked hands the live layer to a goroutine that commits it, if it
// holds anything and no other commit is in flight. Callers hold wmu.
func (s *Store) freezeLocked() {
	if s.frozen != nil || s.broken != nil {
		return
	}
	// The layer goes to the file with the counters and tree of the calls
	// that wrote it.
	if s.flushCallsLocked() != nil {
		return // the store is broken
	}
	// StrictChecks checks the postings in the file and live layer.
	stage := !s.cfg.StrictChecks && s.worthStaging()
	merge := s.merging || len(s.staged) >= stagedLayers || !stage
	if s.live == nil && !(merge && len(s.staged) > 0) {
		return
	}
	s.endApplyTxLocked()
	s.gen++
	layer := s.live
	if layer == nil {
		layer = kv.NewLayer() // the staged layers go on their own
	}
	layer.Seal() // Apply reads it from now on, and never writes it
	f := &frozenLayer{layer: layer, postings: s.postings, gen: s.gen, db: s.db, merge: merge, sliced: merge && stage}
	if merge {
		f.under = s.staged
	}
	s.live, s.pending = nil, 0
	s.postings = postingBuffer{}
	if n := len(s.sparePostings); n > 0 {
		s.postings, s.sparePostings = s.sparePostings[n-1], s.sparePostings[:n-1]
	}
	s.frozen = f
	go s.commitFrozen(f)
}

// commitFrozen writes f into the file in one bbolt transaction with its
// postings and commits it; then the next layer may go, if it is due.
func (s *Store) commitFrozen(f *frozenLayer) {
	step, err := s.writeFrozen(f)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.frozen = nil
	s.endApplyTxLocked() // it reads the frozen layer, over the file as it was
	if err != nil {
		s.faultLocked(step, err)
		return
	}
	if f.merge {
		assert(len(s.staged) == len(f.under), "layers staged during their merge")
		s.staged, s.merging, s.done = nil, false, f.gen
		// bbolt read the postings' values from the buffers' arenas until
		// the commit, which is over.
		s.sparePostings = s.sparePostings[:0]
		for _, u := range append(f.under, f) {
			u.postings.reset()
			s.sparePostings = append(s.sparePostings, u.postings)
			u.postings = postingBuffer{}
		}
	} else {
		// The layer's postings wait in memory, with it, for the merge.
		s.staged = append(s.staged, f)
	}
	if s.pending >= s.cfg.CommitEvery {
		s.freezeLocked()
	}
	s.committed.Broadcast()
}

func (s *Store) writeFrozen(f *frozenLayer) (string, error) {
	layers := append(f.under[:len(f.under):len(f.under)], f)
	keys := s.cfg.mergeSlice
	if keys <= 0 {
		keys = mergeSliceKeys
	}
	most := 0 // what a merge writes at most: keys several layers hold count once a layer
	for _, l := range layers {
		most += l.layer.Len() + len(l.postings.runs)
	}
	if f.sliced && most > keys {
		return s.mergeInSlices(f, layers, keys)
	}
	tx, err := f.db.Begin(true)
	if err != nil {
		return "begin", err
	}
	if f.merge {
		err = mergeTo(tx, layers, false)
	} else {
		err = stageTo(tx, f, stagedVersion)
	}
	if err != nil {
		_ = tx.Rollback()
		return "write", err
	}
	return s.finishWrite(f, tx)
}

// finishWrite commits tx, a transaction writing f. Commit may grow the
// file and remap it, which waits for every read transaction: Apply's,
// kept from call to call, ends here, once the call under way (if any)
// has, and Apply keeps none until f's commit has ended.
func (s *Store) finishWrite(f *frozenLayer, tx *bolt.Tx) (string, error) {
	if s.beforeCommitFinish != nil && !f.finishing {
		s.beforeCommitFinish()
	}
	s.wmu.Lock()
	f.finishing = true
	s.endApplyTxLocked()
	s.wmu.Unlock()
	if err := s.commitTx(tx); err != nil {
		return "commit", err
	}
	return "", nil
}

// mergeSliceKeys is how many keys, and then journal index names, one
// transaction of a merge writes (mergeInSlices).
const mergeSliceKeys = 1 << 15

// mergeInSlices writes the staged layers under f and f itself into their
// buckets, mergeSliceKeys keys a transaction, then their journal postings
// as many names a transaction, and with the last the meta bucket (the
// applied index), dropping the staged records.
//
// Why in slices: bbolt frees a page a commit rewrites only once the commit
// is over, so the file must hold the old and the new copy of every page
// one commit writes, and never gives the room back. A merge of four layers
// rewrites a quarter of a register's pages or more (150,000 pages, 600 MB,
// at 1,000,000 investors), and those pages stayed free in the file for
// good: 23% of it. A slice rewrites a part of them, and the next slices
// reuse the pages it freed.
//
// A crash between two slices leaves the buckets partly merged under an
// applied index that has not moved, with every layer still in its staged
// record: f is staged in the first slice's transaction. Open then writes
// the records over the buckets again (mergeStaged): a key's newest value
// written twice is written once, and a name's postings its chunks hold
// already are skipped. A merge that fits one slice is one transaction
// (writeFrozen).
func (s *Store) mergeInSlices(f *frozenLayer, layers []*frozenLayer, keys int) (string, error) {
	ls := make([]*kv.Layer, len(layers))
	bufs := make([]*postingBuffer, len(layers))
	for i, l := range layers {
		ls[i], bufs[i] = l.layer, &l.postings
	}
	w := newLayersWriter(ls, string(bucketMeta))
	var pw *postingsWriter
	for slice := 0; ; slice++ {
		tx, err := f.db.Begin(true)
		if err != nil {
			return "begin", err
		}
		more, err := mergeSlice(tx, f, slice, w, &pw, bufs, keys)
		if err != nil {
			_ = tx.Rollback()
			return "write", err
		}
		if step, err := s.finishWrite(f, tx); err != nil {
			return step, err
		}
		if !more {
			return "", nil
		}
		if s.afterMergeSlice != nil {
			s.afterMergeSlice()
		}
	}
}

// mergeSlice writes the next slice of a merge into tx: f's staged record
// first if it is the first slice, then up to keys keys of the layers, and
// once they are written up to keys names of their postings; the last
// slice writes the meta bucket and drops the staged records.
func mergeSlice(tx *bolt.Tx, f *frozenLayer, slice int, w *kv.LayersWriter, pw **postingsWriter, bufs []*postingBuffer, keys int) (more bool, err error) {
	if slice == 0 {
		if err := stageTo(tx, f, stagedSlicedVersion); err != nil { // before any slice is in the file
			return false, err
		}
	}
	if *pw == nil {
		if more, err = w.Write(tx, keys); err != nil || more {
			return more, err
		}
		*pw = newPostingsWriter(bufs, false)
	}
	if more, err = (*pw).write(kv.Wrap(tx), keys); err != nil || more {
		return more, err
	}
	if err := w.Finish(tx); err != nil {
		return false, err
	}
	return false, dropStaged(tx)
}

// commitLocked commits everything applied so far and waits until it is in
// the file. A failed commit loses applied state that the store has already
// reported, so the store refuses every later read and Apply (faultLocked).
// Callers hold wmu; it is released while waiting.
func (s *Store) commitLocked() error {
	want := s.gen
	if s.live != nil {
		want++ // the live layer's gen once frozen: layers freeze in turn
	}
	for s.broken == nil && s.done < want {
		s.merging = true
		s.freezeLocked()
		s.committed.Wait()
	}
	return s.broken
}

// waitFrozenLocked waits until no commit is in flight. Callers hold wmu;
// it is released while waiting.
func (s *Store) waitFrozenLocked() error {
	for s.broken == nil && s.frozen != nil {
		s.committed.Wait()
	}
	return s.broken
}

// Commit makes everything applied so far durable in the state file.
func (s *Store) Commit() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return errors.New("ledger: store is closed")
	}
	return s.commitPending()
}

// commitPending commits what is pending and waits for it. Callers hold mu.
func (s *Store) commitPending() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.commitLocked()
}

// dropPendingLocked drops the live layer, losing what it holds, after any
// commit in flight has ended. Callers hold wmu.
func (s *Store) dropPendingLocked() {
	s.endApplyTxLocked()
	for s.frozen != nil {
		s.committed.Wait()
	}
	s.live, s.pending = nil, 0
	s.postings.reset()
	s.staged, s.merging = nil, false // in the file, if it stays
}

func getUint(b *kv.Bucket, key []byte) uint64 {
	v := b.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putUint(b *kv.Bucket, key []byte, v uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	return b.Put(key, buf[:])
}

func getTime(meta *kv.Bucket) time.Time {
	v := meta.Get(metaLastTime)
	if v == nil {
		return time.Unix(0, 0).UTC()
	}
	// Parse keeps nothing of its input, which Apply's calls read from the
	// layer every time: no copy.
	t, err := time.Parse(time.RFC3339Nano, unsafe.String(unsafe.SliceData(v), len(v)))
	assert(err == nil, "stored last_time %q: %v", v, err)
	return t
}

func seqKey(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return b[:]
}

// assert panics when an invariant the code guarantees does not hold.
//
// Its arguments are evaluated, and boxed, even when cond holds: on hot paths
// test the condition first and call fail.
func assert(cond bool, format string, args ...any) {
	if !cond {
		fail(format, args...)
	}
}

// fail panics as a failed assertion.
func fail(format string, args ...any) {
	panic(fmt.Sprintf("ledger: assertion failed: "+format, args...))
}

// removeIfExists removes a file, ignoring absence.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// viewKV runs fn in a read transaction of db.
func viewKV(db *bolt.DB, fn func(tx *kv.Tx) error) error {
	return db.View(func(tx *bolt.Tx) error { return fn(kv.Wrap(tx)) })
}

// updateKV runs fn in a write transaction of db, writing straight to it.
func updateKV(db *bolt.DB, fn func(tx *kv.Tx) error) error {
	return db.Update(func(tx *bolt.Tx) error { return fn(kv.Wrap(tx)) })
}
