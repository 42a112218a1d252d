package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Staged layers. A commit of a layer into its buckets rewrites every page
// a key of the layer falls on, and the register's randomly written buckets
// (holdings, the balance index, holders) have most of their pages touched
// by each commit of 32,768 instructions: the same pages are rewritten
// commit after commit. So most commits write their layer into the file as
// one record instead (a few sequential pages, with the applied index it
// carries), and every stagedLayers+1-th commit writes the layers staged so
// far and its own into their buckets in one transaction, each page once,
// and drops the records. Apply and readers read the staged layers in
// memory over the file, as they read the layer being committed; readers
// that read the file alone (viewCommitted, Snapshot, Close) have every
// layer written into its buckets first.
//
// A crash keeps the staged records: Open writes them into their buckets
// before anything reads the file (mergeStaged), which gives the state of
// the last commit, as a commit of each layer would have. A record names
// the applied index of the buckets it was staged over, and Open writes
// records only over that same state: a file a release without staged
// layers opened, replayed and committed since has moved on, and its
// records are dropped (the raft log replays what they held).

// stageFromBytes is the file size from which commits stage layers. In a
// smaller file the buckets are a few thousand pages, each commit rewrites
// them whole anyway, and a commit of four layers costs bbolt more than
// four commits of one: keys inserted into one page in one transaction are
// shifted along its list one insert at a time until it is split at the
// commit. Staging every file, BenchmarkApplyEntries (1,000 accounts)
// went from 12.7–13.2 to 14.4–16.5 µs for one instruction an entry, and
// BenchmarkScale on 10,000 investors from 24.2 to 27.3–28.4 µs an
// instruction, while on 100,000 and 1,000,000 investors (files of
// hundreds of megabytes and gigabytes) it spent less (ledger/DESIGN.md).
const stageFromBytes = 256 << 20

// worthStaging reports whether the next commit may stage its layer: the
// file is stageFromBytes or more.
func (s *Store) worthStaging() bool {
	from := s.cfg.stageFrom
	if from == 0 {
		from = stageFromBytes
	}
	info, err := os.Stat(s.cfg.Path)
	return err == nil && info.Size() >= from
}

// bucketStaged holds the staged records: gen(8) part(4) -> up to
// stagedPartBytes of a record. Not in allBuckets: it is not state, and
// is empty whenever a reader of the file alone looks.
var bucketStaged = []byte("staged")

const (
	// stagedLayers is how many layers are staged before a commit writes
	// them all into their buckets.
	stagedLayers = 3
	// stagedPartBytes bounds a record's values: bbolt stores a larger
	// value in that many contiguous pages, which a file's free pages
	// rarely hold.
	stagedPartBytes = 256 << 10
	// stagedVersion opens a record.
	stagedVersion byte = 1
	// stagedSlicedVersion opens the record of a layer staged by the first
	// slice of a merge in slices (mergeInSlices): the same layout. A
	// release that does not know it refuses the file, as it would find
	// the buckets partly merged and some names' postings written already.
	stagedSlicedVersion byte = 2
)

// A staged record is stagedVersion, the applied index of the buckets it
// was staged over and the length of the layer (8 bytes each, big-endian),
// the layer (kv.Layer.AppendTo), then the layer's postings
// (postingBuffer.appendTo).
const stagedHeader = 1 + 8 + 8

// stageTo writes f's layer and postings into tx as a staged record that
// opens with version.
func stageTo(tx *bolt.Tx, f *frozenLayer, version byte) error {
	b, err := tx.CreateBucketIfNotExists(bucketStaged)
	if err != nil {
		return err
	}
	base := uint64(0)
	if v := tx.Bucket(bucketMeta).Get(metaAppliedIndex); len(v) == 8 {
		base = binary.BigEndian.Uint64(v)
	}
	rec := encodeStaged(f, base, version)
	// bbolt reads the values handed to Put until the commit: rec stays.
	for part := 0; len(rec) > 0; part++ {
		n := min(len(rec), stagedPartBytes)
		key := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, f.gen), uint32(part))
		if err := b.Put(key, rec[:n:n]); err != nil {
			return err
		}
		rec = rec[n:]
	}
	return nil
}

// encodeStaged is f's staged record, staged over buckets at applied index
// base, opening with version.
func encodeStaged(f *frozenLayer, base uint64, version byte) []byte {
	rec := make([]byte, 0, stagedHeader+f.layer.AppendSize()+f.postings.appendSize())
	rec = append(rec, version)
	rec = binary.BigEndian.AppendUint64(rec, base)
	rec = append(rec, make([]byte, 8)...) // the layer's length, below
	rec = f.layer.AppendTo(rec)
	binary.BigEndian.PutUint64(rec[9:stagedHeader], uint64(len(rec)-stagedHeader))
	return f.postings.appendTo(rec)
}

// mergeTo writes layers, oldest first, into their buckets in tx, then
// their postings, name by name, and drops the staged records. With posted,
// postings the index holds already are skipped: a merge in slices may
// have written some before a crash (mergeInSlices).
func mergeTo(tx *bolt.Tx, layers []*frozenLayer, posted bool) error {
	ls := make([]*kv.Layer, len(layers))
	bufs := make([]*postingBuffer, len(layers))
	for i, f := range layers {
		ls[i], bufs[i] = f.layer, &f.postings
	}
	if err := newLayersWriter(ls).Finish(tx); err != nil {
		return err
	}
	// The layers hold no postings chunks (only a strict check writes them
	// into a layer, and it stages nothing), so the postings, appended to
	// the chunks the file holds, come after them all.
	if len(layers) > 0 {
		if _, err := newPostingsWriter(bufs, posted).write(kv.Wrap(tx), math.MaxInt); err != nil {
			return err
		}
	}
	return dropStaged(tx)
}

// newLayersWriter returns a writer of layers into their buckets, holding
// back the buckets named, that fills the pages of the keys appended to
// the buckets whose values are written once (kv.LayersWriter.FillTails):
// ids, status and max_supply history. Postings chunks are rewritten
// larger. Ids, the terms histories and parties also fill runs of keys amid
// the bucket's (FillRuns): a register's new parties sort before
// "operator", and so do their status histories, one run each. A party
// record is rewritten seldom, and bbolt splits a page only when it
// overflows. The packed buckets (packedBuckets: holdings, holders,
// balances) are written a chunk at a time, which fills are no part of;
// a file of schema 11 or before, whose balances and holders filled their
// tails, is packed at open before anything writes it.
func newLayersWriter(ls []*kv.Layer, holdBack ...string) *kv.LayersWriter {
	w := kv.NewLayersWriter(ls, holdBack...)
	w.FillRuns(string(bucketIDs), string(bucketStatusHistory), string(bucketMaxSupplyHistory), string(bucketParties))
	return w
}

func dropStaged(tx *bolt.Tx) error {
	if err := tx.DeleteBucket(bucketStaged); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return err
	}
	return nil
}

// mergeStaged writes the staged records a crash left in db into their
// buckets, or drops them if the buckets have moved on since they were
// staged. A record that does not read is damage: the file is refused.
func mergeStaged(db *bolt.DB, log *slog.Logger) error {
	var found bool
	_ = db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketStaged) != nil
		return nil
	})
	if !found {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		layers, bases, err := readStaged(tx.Bucket(bucketStaged))
		if err != nil {
			return fmt.Errorf("%w: staged layers: %w", ErrDamaged, err)
		}
		applied := uint64(0)
		if meta := tx.Bucket(bucketMeta); meta != nil {
			if v := meta.Get(metaAppliedIndex); len(v) == 8 {
				applied = binary.BigEndian.Uint64(v)
			}
		}
		for i, base := range bases {
			if base != applied {
				log.Warn("dropping staged layers written over an older state: the raft log replays what they held",
					"layer", i, "staged_over_applied_index", base, "applied_index", applied)
				return dropStaged(tx)
			}
		}
		if len(layers) > 0 {
			log.Info("writing the layers staged before a restart into their buckets", "layers", len(layers))
		}
		return mergeTo(tx, layers, true)
	})
}

// readStaged reads the staged records of b, oldest first, with the
// applied index each was staged over.
func readStaged(b *bolt.Bucket) (layers []*frozenLayer, bases []uint64, err error) {
	var rec []byte
	gen, part := uint64(0), uint32(0)
	finish := func() error {
		if rec == nil {
			return nil
		}
		f, base, err := readStagedRecord(rec)
		if err != nil {
			return fmt.Errorf("record %d: %w", gen, err)
		}
		layers, bases = append(layers, f), append(bases, base)
		rec = nil
		return nil
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 12 {
			return nil, nil, fmt.Errorf("key %x: malformed", k)
		}
		g, p := binary.BigEndian.Uint64(k), binary.BigEndian.Uint32(k[8:])
		if rec != nil && g != gen {
			if err := finish(); err != nil {
				return nil, nil, err
			}
		}
		if (rec == nil && p != 0) || (rec != nil && p != part+1) {
			return nil, nil, fmt.Errorf("record %d: part %d out of order", g, p)
		}
		gen, part = g, p
		rec = append(rec, v...)
	}
	if err := finish(); err != nil {
		return nil, nil, err
	}
	return layers, bases, nil
}

func readStagedRecord(rec []byte) (*frozenLayer, uint64, error) {
	if len(rec) == 0 || (rec[0] != stagedVersion && rec[0] != stagedSlicedVersion) {
		return nil, 0, errors.New("not a staged layer of this release")
	}
	if len(rec) < stagedHeader {
		return nil, 0, errors.New("truncated")
	}
	base := binary.BigEndian.Uint64(rec[1:9])
	n := binary.BigEndian.Uint64(rec[9:stagedHeader])
	rest := rec[stagedHeader:]
	if n > uint64(len(rest)) {
		return nil, 0, errors.New("truncated")
	}
	layer, err := kv.ReadLayer(rest[:n])
	if err != nil {
		return nil, 0, err
	}
	f := &frozenLayer{layer: layer}
	if err := f.postings.readFrom(rest[n:]); err != nil {
		return nil, 0, err
	}
	return f, base, nil
}
