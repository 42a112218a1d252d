package ledger

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// Check verifies the ledger's invariants over the whole state and returns
// every violation: supply equals the sum of balances per instrument; no
// negative balance; frozen within balance; lots sum to balances; the holders
// index and holder counts match the holdings; holdings refer to existing
// parties and instruments; the journal chains and matches the recorded seq,
// and its Merkle tree holds exactly its entries; the journal, balance and
// supply indexes are those the journal and the balance history give.
func (s *Store) Check() (errs []error) {
	_ = s.viewCommitted(func(tx *kv.Tx) error {
		errs = check(tx)
		return nil
	})
	return errs
}

func check(tx *kv.Tx) []error {
	return append(checkRecovering(func() []error { return checkExceptIndexes(tx) }),
		checkRecovering(func() []error { return checkIndexErrors(tx) })...)
}

// checkRecovering runs a check and reports a panic in it as one more
// finding. Decoding a damaged record panics deep in its reader (an
// assertion, which stops Apply), and a check exists to find damage: on a
// restored snapshot it must refuse the file, not bring the node down.
func checkRecovering(fn func() []error) (errs []error) {
	defer func() {
		if r := recover(); r != nil {
			errs = append(errs, fmt.Errorf("the check stopped at damaged data: %v", r))
		}
	}()
	return fn()
}

// checkIndexErrors is checkIndexes' findings.
func checkIndexErrors(tx *kv.Tx) []error {
	var errs []error
	checkIndexes(tx, func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) })
	return errs
}

// checkDB checks db, which nothing else writes, in two read transactions at
// once (checkTxs).
func checkDB(db *bolt.DB) []error {
	a, b, err := beginCheck(db)
	if err != nil {
		return []error{err}
	}
	defer rollbackCheck(a, b)
	return checkTxs(a, b, nil)
}

// beginCheck begins the two read transactions checkTxs reads. Begun with
// nothing committing to db in between, they see one state.
func beginCheck(db *bolt.DB) (a, b *bolt.Tx, err error) {
	if a, err = db.Begin(false); err != nil {
		return nil, nil, fmt.Errorf("begin check: %w", err)
	}
	if b, err = db.Begin(false); err != nil {
		_ = a.Rollback()
		return nil, nil, fmt.Errorf("begin check: %w", err)
	}
	return a, b, nil
}

func rollbackCheck(a, b *bolt.Tx) {
	_ = a.Rollback()
	_ = b.Rollback()
}

// checkTxs checks the state that a and b, read transactions of one file at
// one state, see: the journal indexes (half the work) in a, everything else
// in b, at once. Once stop (if not nil) is set, their walks of the file end
// early, and what the check found must be discarded.
func checkTxs(a, b *bolt.Tx, stop *atomic.Bool) []error {
	ta, tb := kv.Wrap(a), kv.Wrap(b)
	ta.StopWith(stop)
	tb.StopWith(stop)
	var indexErrs []error
	var wg sync.WaitGroup
	wg.Go(func() {
		indexErrs = checkRecovering(func() []error { return checkIndexErrors(ta) })
	})
	errs := checkRecovering(func() []error { return checkExceptIndexes(tb) })
	wg.Wait()
	return append(errs, indexErrs...)
}

// checkExceptIndexes is check without checkIndexes.
func checkExceptIndexes(tx *kv.Tx) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	// The packed buckets' chunks, as the file holds them: a reader of a
	// chunk out of order would miss keys rather than fail.
	for _, name := range packedBuckets {
		if file := tx.Bolt().Bucket(name); !kv.IsPacked(file) {
			bad("the %s bucket is not packed", name)
		} else if err := kv.CheckPacked(file); err != nil {
			bad("%s: %v", name, err)
		}
	}
	type totals struct {
		sum           decSum
		holders       int
		nonAccredited int
	}
	bySymbol := map[string]*totals{}
	parties := tx.Bucket(bucketParties)
	instruments := tx.Bucket(bucketInstruments)
	holders := newHashedKeys()
	_ = tx.Bucket(bucketHolders).ForEach(func(k, _ []byte) error { holders.add(k, 0); return nil })
	holders.seal()
	books := newBookTally(bad)
	indexed := 0
	// Holdings are keyed party first: a party's record is read and decoded
	// once for its run of holdings.
	var party *transfer.Party
	var partyID string
	var key []byte
	_ = tx.Bucket(bucketHoldings).ForEach(func(k, v []byte) error {
		h := decodeHoldingKV(k, v) // the key gives party and symbol
		if h.Party == "" || h.Symbol == "" {
			bad("holding key %q does not name a party and a symbol", k)
		}
		if h.Balance.IsNegative() {
			bad("%s holds a negative %s %s", h.Party, h.Balance, h.Symbol)
		}
		if h.Frozen.IsNegative() || h.Frozen.GreaterThan(h.Balance) {
			bad("%s has %s %s frozen of a balance of %s", h.Party, h.Frozen, h.Symbol, h.Balance)
		}
		var lots decSum
		for _, l := range h.Lots {
			if l.Amount.Sign() <= 0 {
				bad("%s has an empty lot of %s", h.Party, h.Symbol)
			}
			lots.addFixed(l.Amount, false)
		}
		if sum := lots.value(); !sum.Equal(h.Balance.Decimal()) {
			bad("%s's lots of %s sum to %s, its balance is %s", h.Party, h.Symbol, sum, h.Balance)
		}
		if h.Party != partyID {
			partyID, party = h.Party, nil
			if praw := parties.Get([]byte(h.Party)); praw != nil {
				party = decodeParty([]byte(h.Party), praw)
			}
		}
		if party == nil {
			bad("holding of unknown party %s", h.Party)
		}
		raw := instruments.Get([]byte(h.Symbol))
		if raw == nil {
			bad("holding of unknown instrument %s", h.Symbol)
		}
		books.holding(h, party, raw)
		t := bySymbol[h.Symbol]
		if t == nil {
			t = &totals{}
			bySymbol[h.Symbol] = t
		}
		t.sum.addFixed(h.Balance, false)
		key = append(append(append(key[:0], h.Symbol...), 0), h.Party...)
		_, inIndex := holders.find(key)
		if h.IsHolder() {
			t.holders++
			indexed++
			if party != nil && party.NonAccredited() {
				t.nonAccredited++
			}
		}
		if inIndex != h.IsHolder() {
			bad("holders index of %s/%s is %v for a balance of %s", h.Symbol, h.Party, inIndex, h.Balance)
		}
		return nil
	})
	if n := holders.len(); n != indexed {
		bad("holders index has %d entries for %d holdings with a balance", n, indexed)
	}
	escrow := checkCorpActions(tx, bad)
	_ = instruments.ForEach(func(k, v []byte) error {
		in := decodeInstrument(k, v)
		t := bySymbol[in.Symbol]
		if t == nil {
			t = &totals{}
		}
		if e, ok := escrow[in.Symbol]; ok {
			// Cash a running corporate action holds for its holders is
			// nobody's balance yet, and still part of the supply.
			t.sum.add(e, false)
		}
		if sum := t.sum.value(); !in.Supply.Equal(sum) {
			bad("%s supply %s differs from the sum of balances %s", in.Symbol, in.Supply, sum)
		}
		if in.MaxSupply != nil && in.Supply.GreaterThan(*in.MaxSupply) {
			bad("%s supply %s above max_supply %s", in.Symbol, in.Supply, *in.MaxSupply)
		}
		if in.HolderCount != t.holders || in.NonAccreditedHolders != t.nonAccredited {
			bad("%s counts %d holders (%d non-accredited), holdings show %d (%d)", in.Symbol, in.HolderCount, in.NonAccreditedHolders, t.holders, t.nonAccredited)
		}
		delete(bySymbol, in.Symbol)
		return nil
	})
	_ = tx.Bucket(bucketLoans).ForEach(func(k, v []byte) error {
		if l := decodeLoan(k, v); l.Amount.Sign() <= 0 {
			bad("loan %q is not positive", k)
		}
		return nil
	})
	if v := verifyJournal(tx); !v.OK {
		bad("journal: %s at seq %d", v.Message, v.FirstBad)
	}
	checkTree(tx, bad)
	checkIDs(tx, bad)
	checkKeys(tx, bad)
	checkSchedule(tx, bad)
	checkInvestments(tx, bad)
	checkBooks(tx, escrow, books, bad)
	return errs
}

// checkIDs checks that every id record that points into the journal points
// at an entry of that instruction id, so its outcome can be rebuilt.
func checkIDs(tx *kv.Tx, bad func(format string, args ...any)) {
	// Walked as two sorted lists rather than a journal lookup per id: ids
	// sort by id and the journal by seq, so the lookups read the journal
	// at random, and a restore's check of a large register spent most of
	// its time (and of its resident pages) there. Each id is carried as a
	// hash; a mismatch is looked up again to be named.
	type ref struct {
		seq uint64
		id  uint64 // maphash of the id
	}
	seed := maphash.MakeSeed()
	// Sized for the ids a file of schema 10 or before holds, about one an
	// entry, once rather than grown by copies, each a fresh stretch of
	// memory to fault in. A file of schema 11 holds few (the journal
	// answers for the rest): a restore's check of 1,000,000 investors
	// reserved 69 MB for none.
	refs := make([]ref, 0, idsHeld(tx.Bucket(bucketIDs), getUint(tx.Bucket(bucketMeta), metaJournalSeq)))
	_ = tx.Bucket(bucketIDs).ForEach(func(k, v []byte) error {
		if rec := decodeIDRecord(v); rec.Seq != 0 {
			refs = append(refs, ref{rec.Seq, maphash.Bytes(seed, k)})
		}
		return nil
	})
	slices.SortFunc(refs, func(a, b ref) int { return cmp.Compare(a.seq, b.seq) })
	jc := newJournalCursor(tx.Bucket(bucketJournal))
	seq, v := jc.first()
	for _, r := range refs {
		for v != nil && seq < r.seq {
			seq, v = jc.next()
		}
		if v == nil || seq != r.seq {
			bad("%s names journal entry %d, which does not exist", idsNaming(tx, seed, r.id, r.seq), r.seq)
			continue
		}
		if id := journalInstructionID(v); maphash.Bytes(seed, id) != r.id {
			bad("%s names journal entry %d, of instruction %q", idsNaming(tx, seed, r.id, r.seq), r.seq, id)
		}
	}
}

// idsHeld is about how many records the ids bucket holds, for what sizes
// itself by them: counted, when fewer than idsCounted (schema 11 leaves
// most ids to the journal); otherwise entries, the journal's length, as a
// file of schema 10 or before holds a record of about every entry.
func idsHeld(ids *kv.Bucket, entries uint64) uint64 {
	n := uint64(0)
	c := ids.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if n++; n == idsCounted {
			return max(entries, n)
		}
	}
	return n
}

const idsCounted = 4096

// idsNaming names the id of the ids bucket whose hash is h and whose record
// names seq, for a finding of checkIDs: a walk, as findings are rare.
func idsNaming(tx *kv.Tx, seed maphash.Seed, h, seq uint64) string {
	name := fmt.Sprintf("an id (hash %x)", h)
	_ = tx.Bucket(bucketIDs).ForEach(func(k, v []byte) error {
		if maphash.Bytes(seed, k) == h && decodeIDRecord(v).Seq == seq {
			name = "id " + string(k)
			return errStopWalk
		}
		return nil
	})
	return name
}

// errStopWalk ends a ForEach early.
var errStopWalk = errors.New("ledger: walk stopped")

// journalInstructionID is the id of a journal record's instruction, read
// without decoding the rest of it: a restore checks every id, and decoding
// each whole instruction was a third of that check (of instructions held
// as JSON text, register_party bodies and migrated entries), then half of
// what was left of it (of binary ones). It may alias val.
func journalInstructionID(val []byte) []byte {
	instruction, binary := journalInstruction(val)
	if binary {
		id, err := transfer.InstructionIDBinary(instruction)
		if err != nil {
			fail("stored journal instruction: %v", err)
		}
		return id
	}
	var ins struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(instruction, &ins); err != nil {
		return nil
	}
	return []byte(ins.ID)
}

// journalInstruction is a journal record's instruction and whether it is
// held binary, read past the fields before it without decoding them: the
// id index's scan reads every entry's id at open, and a whole decode (the
// reasons and names it allocates) was most of that. It aliases val. A
// record that ends before its instruction does fails.
func journalInstruction(val []byte) (instruction []byte, binary bool) {
	if len(val) < 2+journalHashSize {
		fail("stored journal record: %d bytes", len(val))
	}
	r := newRecordReader(val[:len(val)-journalHashSize], tagJournal, "journal record")
	if v := r.Byte(); v != HashV1 && v != HashV2 {
		r.fail("hash version")
	}
	r.Uvarint() // index
	r.Time()
	r.StrBytes() // actor
	switch r.Byte() {
	case statusAccepted, statusRejected:
	case statusOther:
		r.StrBytes()
	default:
		r.fail("status")
	}
	skipReason := func() {
		for range 4 { // code, rule, message, ERC-1066
			r.StrBytes()
		}
	}
	n := r.Uvarint()
	if n > uint64(r.Len()) {
		r.fail("reasons")
	}
	for range n {
		skipReason()
	}
	switch r.Byte() {
	case reasonFirst, reasonNone:
	case reasonExplicit:
		skipReason()
	default:
		r.fail("reason form")
	}
	switch r.Byte() {
	case insBinary:
		binary = true
	case insJSON:
	default:
		r.fail("instruction kind")
	}
	instruction = r.Bytes(r.Uvarint())
	if r.Err() != nil {
		r.fail("instruction")
	}
	return instruction, binary
}

// Hashes identify the state of a replica.
type Hashes struct {
	// State covers the business state (parties, instruments, holdings,
	// holders, loans, prices): a rejected instruction leaves it unchanged.
	State string `json:"state"`
	// Full covers every bucket, journal and meta included: equal on replicas
	// that applied the same log.
	Full string `json:"full"`
	// AppliedIndex at which they were taken.
	AppliedIndex uint64 `json:"applied_index"`
}

// Hashes computes both hashes in one read transaction.
func (s *Store) Hashes() (h Hashes, err error) {
	err = s.viewCommitted(func(tx *kv.Tx) error {
		h.State = hashBuckets(tx, stateBuckets)
		h.Full = hashBuckets(tx, allBuckets)
		h.AppliedIndex = getUint(tx.Bucket(bucketMeta), metaAppliedIndex)
		return nil
	})
	return h, err
}

// hashBuckets hashes bucket names, keys and values in order, each
// length-prefixed so no two layouts hash alike.
func hashBuckets(tx *kv.Tx, buckets [][]byte) string {
	h := sha256.New()
	var n [8]byte
	write := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, name := range buckets {
		if k, _ := tx.Bucket(name).Cursor().First(); k == nil && addedLater(name) {
			// An empty bucket added after a release hashes as its absence,
			// so a store that never used it keeps the hashes it had.
			continue
		}
		write(name)
		_ = tx.Bucket(name).ForEach(func(k, v []byte) error {
			write(k)
			write(v)
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DryRun decides ins for actor at now against the current state, applying
// nothing: the answer of POST /v1/check.
func (s *Store) DryRun(actor string, ins transfer.Instruction, now time.Time) (out Outcome, err error) {
	if lt := s.LastTime(); now.Before(lt) {
		now = lt
	}
	err = s.view(func(tx *kv.Tx) error {
		if o, ok := dryRunDualControl(tx, newTxView(tx, s.rulebookAt(tx, now)), actor, ins, now); ok {
			out = o
			return nil
		}
		reasons := s.dryRun(tx, actor, ins, now)
		out = Outcome{ID: ins.ID, Status: StatusAccepted}
		if len(reasons) > 0 {
			r := reasons[0]
			out.Status, out.Reason, out.Reasons = StatusRejected, &r, reasons
		}
		return nil
	})
	return out, err
}

// hashedKeys is a set of keys, each held as 128 bits of hash with a 64-bit
// value, sorted in memory. Check uses it where it would otherwise look up,
// for each key of one bucket, a key of another in a different order:
// lookups that read the other bucket at random, which in a restore of a
// large register meant faulting its pages back in each time they were let
// go (releaseMappedPages). A binary search of millions of sorted hashes
// missed the processor's caches at each of its twenty-odd steps, so a
// directory of where each value of the hashes' top bits begins (4 bytes a
// key) takes a lookup to the one or two keys it compares. Two keys share
// a hash with a chance of about n²/2^129.
type hashedKeys struct {
	seed1, seed2 maphash.Seed
	items        []hashedKey
	dir          []uint32 // dir[j]: the first item whose h1 >> shift is j or more
	shift        uint
}

type hashedKey struct{ h1, h2, val uint64 }

func newHashedKeys() *hashedKeys {
	return &hashedKeys{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
}

func (k *hashedKeys) add(key []byte, val uint64) {
	k.items = append(k.items, hashedKey{maphash.Bytes(k.seed1, key), maphash.Bytes(k.seed2, key), val})
}

// seal readies the set for find, once every key is added. Keys come from a
// bucket's, once each; one added twice is held once, with either value.
func (k *hashedKeys) seal() {
	slices.SortFunc(k.items, compareHashed)
	kept := k.items[:0]
	for i, it := range k.items {
		if i+1 == len(k.items) || compareHashed(it, k.items[i+1]) != 0 {
			kept = append(kept, it)
		}
	}
	k.items = kept
	assert(uint64(len(k.items)) < math.MaxUint32, "%d keys, beyond the check's bound", len(k.items))
	b := uint(bits.Len(uint(len(k.items)))) // about a key for each value of the top b bits
	k.shift = 64 - b
	k.dir = make([]uint32, 1<<b+1)
	i := 0
	for j := range k.dir {
		for i < len(k.items) && k.items[i].h1>>k.shift < uint64(j) {
			i++
		}
		k.dir[j] = uint32(i)
	}
}

func compareHashed(a, b hashedKey) int {
	if c := cmp.Compare(a.h1, b.h1); c != 0 {
		return c
	}
	return cmp.Compare(a.h2, b.h2)
}

// len is the number of keys in the set, once sealed.
func (k *hashedKeys) len() int { return len(k.items) }

// find returns key's value and whether the set holds key.
func (k *hashedKeys) find(key []byte) (uint64, bool) {
	h1, h2 := maphash.Bytes(k.seed1, key), maphash.Bytes(k.seed2, key)
	j := h1 >> k.shift
	for _, e := range k.items[k.dir[j]:k.dir[j+1]] {
		if e.h1 == h1 && e.h2 == h2 {
			return e.val, true
		}
	}
	return 0, false
}
