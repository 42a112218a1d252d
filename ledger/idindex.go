package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tokenledger/tokenledger/internal/hugemem"
	"github.com/tokenledger/tokenledger/ledger/kv"
)

// idIndex finds an instruction id's journal entries in memory, so the
// journal is what answers for an id (schema 11), not a key of the ids
// bucket written for each instruction. That key was a bbolt put of a
// random key at every commit, a quarter of the keys a commit wrote, and
// about 50 bytes of the file an instruction (216 an investor at 1,000,000
// investors); an id here is one 8-byte slot of a table the collector does
// not scan.
//
// A slot holds the top idTagBits bits of the id's 64-bit hash and the seq
// of one entry of the id: every entry whose instruction has that id is
// added, and an id answers with the latest of them whose instruction
// really has it (the caller reads each candidate back from the journal).
// So a hash shared by two ids, or a slot left by a dropped layer, costs a
// read, never a wrong answer; and a held instruction, journaled when held
// and again when decided, answers with its decision, as its id record did.
// A table slot cannot hold a seq of idSeqBits bits or more: those go to a
// map (big), never reached at any rate a ledger applies today.
//
// It fills as the id filter does: a scan of the journal at open (build)
// adds the entries the file held, in read transactions of scanChunk
// entries beside the readers, and Apply adds every entry it journals for
// an id (flushIDs). Apply and the readers that ask it wait for the scan
// (wait): until it ends, an id it lacks may still be in the file.
type idIndex struct {
	seed  maphash.Seed
	upTo  uint64        // the scan adds entries 1 to upTo; Apply, those after
	built chan struct{} // closed when the scan has added them all, or failed
	err   error         // set before built is closed: an entry did not decode
	done  chan struct{} // closed when the scan returns, built or stopped
	stop  atomic.Bool

	mu    sync.RWMutex
	slots []uint64 // tag<<idSeqBits | seq; 0: empty. Linear probing.
	n     int
	big   map[uint64][]uint64 // a hash's seqs of idSeqBits bits or more
}

const (
	idSeqBits = 36 // 68.7 billion entries
	idTagBits = 64 - idSeqBits
	// idIndexFirst is a new table's slots; it doubles at three quarters
	// full, up to 1 << idTagBits slots (the tag is also the home slot).
	idIndexFirst = 1 << 12
)

// idSeqLimit is the first seq a slot cannot hold: a variable, so tests
// reach the map.
var idSeqLimit uint64 = 1 << idSeqBits

// newIDIndex returns an index whose scan adds the entries up to upTo.
func newIDIndex(upTo uint64) *idIndex {
	x := &idIndex{seed: maphash.MakeSeed(), upTo: upTo, built: make(chan struct{}), done: make(chan struct{})}
	size := idIndexFirst
	for uint64(size)*3/4 < upTo && size < 1<<idTagBits {
		size *= 2
	}
	x.slots = hugemem.Make[uint64](size)
	return x
}

// startIDIndex returns the index of db's journal, which holds journalSeq
// entries, filling in a goroutine of its own.
func startIDIndex(db *bolt.DB, journalSeq uint64, log *slog.Logger) *idIndex {
	x := newIDIndex(journalSeq)
	go x.build(db, log)
	return x
}

func (x *idIndex) hash(id []byte) uint64 { return maphash.Bytes(x.seed, id) }

// add records that entry seq's instruction has the id hashed to h.
// Callers hold mu, or own x.
func (x *idIndex) add(h, seq uint64) {
	if seq >= idSeqLimit || (x.n+1 > len(x.slots)*3/4 && len(x.slots) == 1<<idTagBits) {
		if x.big == nil {
			x.big = make(map[uint64][]uint64)
		}
		x.big[h] = append(x.big[h], seq)
		return
	}
	if x.n+1 > len(x.slots)*3/4 {
		x.grow()
	}
	x.put(h>>idSeqBits<<idSeqBits | seq)
	x.n++
}

// put places a slot's value at the first empty slot from its home.
func (x *idIndex) put(v uint64) {
	mask := uint64(len(x.slots) - 1)
	for i := v >> idSeqBits & mask; ; i = (i + 1) & mask {
		if x.slots[i] == 0 {
			x.slots[i] = v
			return
		}
	}
}

func (x *idIndex) grow() {
	old := x.slots
	x.slots = hugemem.Make[uint64](2 * len(old))
	for _, v := range old {
		if v != 0 {
			x.put(v)
		}
	}
}

// addAll adds entries, each the hash of an id and the seq of an entry of it.
func (x *idIndex) addAll(hashes, seqs []uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, h := range hashes {
		x.add(h, seqs[i])
	}
}

// latest is the greatest seq recorded for id for which has(seq) holds (the
// caller's test that entry seq's instruction has id), 0 if none. It reads
// a snapshot of the candidates, so has may take as long as it likes.
func (x *idIndex) latest(id []byte, has func(seq uint64) bool) uint64 {
	h := x.hash(id)
	var buf [8]uint64
	cands := buf[:0]
	x.mu.RLock()
	mask := uint64(len(x.slots) - 1)
	tag := h >> idSeqBits
	for i := tag & mask; ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			break
		}
		if v>>idSeqBits == tag {
			cands = append(cands, v&(1<<idSeqBits-1))
		}
	}
	cands = append(cands, x.big[h]...)
	x.mu.RUnlock()
	var best uint64
	for _, seq := range cands {
		if seq > best && has(seq) {
			best = seq
		}
	}
	return best
}

// len is how many entries the index holds.
func (x *idIndex) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := x.n
	for _, seqs := range x.big {
		n += len(seqs)
	}
	return n
}

// wait returns once the scan has added every entry up to upTo, true; false
// if it was stopped first (the store is closing or restoring).
func (x *idIndex) wait() bool {
	select {
	case <-x.built:
		return true
	case <-x.done:
		select {
		case <-x.built:
			return true
		default:
			return false
		}
	}
}

// isBuilt says whether wait would return at once, true.
func (x *idIndex) isBuilt() bool {
	select {
	case <-x.built:
		return true
	default:
		return false
	}
}

// build adds the entries 1 to upTo of db's journal, then closes built,
// unless stopped first.
func (x *idIndex) build(db *bolt.DB, log *slog.Logger) {
	defer close(x.done)
	start := time.Now() // for the log line alone
	next := uint64(1)
	hashes := make([]uint64, 0, 1024)
	seqs := make([]uint64, 0, 1024)
	flush := func() {
		x.addAll(hashes, seqs)
		hashes, seqs = hashes[:0], seqs[:0]
	}
	for next <= x.upTo && !x.stop.Load() {
		err := viewKV(db, func(tx *kv.Tx) (err error) {
			defer func() {
				// A damaged entry: the store faults (Apply) rather than
				// answer for ids without it.
				if r := recover(); r != nil {
					err = fmt.Errorf("id index: journal entry %d: %v", next, r)
				}
			}()
			jc := newJournalCursor(tx.Bucket(bucketJournal))
			jc.noHash = true // the records' ids are all the scan reads
			n := 0
			for seq, v := jc.seek(next); v != nil && seq <= x.upTo && n < scanChunk; seq, v = jc.next() {
				if id := journalInstructionID(v); len(id) > 0 {
					hashes = append(hashes, x.hash(id))
					seqs = append(seqs, seq)
					if len(hashes) == cap(hashes) {
						flush()
					}
				}
				next, n = seq+1, n+1
			}
			flush()
			if n == 0 {
				next = x.upTo + 1 // the journal ends before upTo: nothing more to add
			}
			return nil
		})
		if errors.Is(err, berrors.ErrDatabaseNotOpen) {
			return // the store is closing, and stop follows
		}
		if err != nil {
			x.err = err
			break
		}
	}
	if x.stop.Load() {
		return
	}
	close(x.built)
	log.Debug("instruction id index ready", "entries", x.upTo, "ids", x.len(), "seconds", time.Since(start).Seconds())
}

// close stops build and waits for it to return.
func (x *idIndex) close() {
	x.stop.Store(true)
	<-x.done
}

// journalEntryHasID says whether the journal holds entry seq and its
// instruction's id is id.
func journalEntryHasID(journal *kv.Bucket, seq uint64, id []byte) bool {
	v := journalRecordAtWith(journal, seq, true) // the id is all it reads
	return v != nil && bytes.Equal(journalInstructionID(v), id)
}
