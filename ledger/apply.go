package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// maxPendingCommits bounds the live layer at this many times CommitEvery
// while a commit is in flight: past it Apply waits for the commit.
const maxPendingCommits = 4

// OperatorID is the party of the bootstrap operator key.
const OperatorID = "operator"

// idRecord remembers an instruction id forever: the hash of the body first
// seen with it and the journal seq of the outcome that body got. Outcome is
// the JSON Apply returned: kept in memory for repeats within one call, and
// stored only for an outcome the journal does not hold (Seq 0). BodyServed
// says the body is the instruction its journal entry serves, byte for byte,
// so the stored record need not keep the hash: the entry gives it again.
type idRecord struct {
	BodyHash   [bodyHashSize]byte
	Seq        uint64
	Outcome    []byte
	BodyServed bool
	// Replaces: the id had a record before this call (a held
	// instruction's, now decided), which flushIDs replaces.
	Replaces bool
	// actor and body are those of an id decided in this call whose
	// BodyHash was not taken: the caller's memory, valid for the call
	// (the applier's seenIDs are cleared when it ends).
	actor string
	body  []byte
}

// bodyHash is rec's BodyHash, taken from its body if the call that
// decided it kept the body instead.
func (rec *idRecord) bodyHash() [bodyHashSize]byte {
	if rec.body != nil {
		return bodyHashOf(rec.actor, rec.body)
	}
	return rec.BodyHash
}

// Apply applies every batch above the applied index in the store's write
// transaction, which also records the new applied index, so a crash keeps
// either the whole call or none of it, and raft's replay of the tail after a
// restart finds the batches already applied and skips them.
//
// The write transaction stays open across calls and commits once
// cfg.CommitEvery instructions are pending, or before a snapshot or close
// (see commitLocked). Until then a crash loses the calls since the last
// commit, and raft's log, which is durable before a log entry is applied,
// replays them. Reads see the pending calls: view reads inside the open
// transaction.
//
// A storage fault (a transaction that cannot begin, write or commit) never
// returns: the state in the file is behind what was applied, so no outcome
// may be answered from it. Apply tells Config.OnFault, which stops the
// process, and waits for the end; without OnFault it panics. Either way raft
// replays the lost calls after a restart.
func (s *Store) Apply(batches []Batch) [][][]byte {
	results, err := s.apply(batches)
	if err != nil {
		if s.cfg.OnFault == nil {
			panic(err.Error())
		}
		select {} // OnFault ends the process
	}
	return results
}

func (s *Store) apply(batches []Batch) ([][][]byte, error) {
	// One array holds every batch's outcomes (results[i] is a slice of
	// it), so a call allocates twice for them however many entries it has.
	var results [][][]byte
	var outcomes [][]byte
	s.mu.RLock()
	defer s.mu.RUnlock()
	assert(s.db != nil, "apply on a closed store")
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.broken != nil {
		return nil, s.broken
	}
	if !s.idx.isBuilt() {
		// Until the id index holds the file's journal, an id it lacks
		// may have been decided: wait, with no read transaction of
		// Apply's open (a commit that grows the file waits for those,
		// and the scan's next one waits for that commit).
		s.endApplyTxLocked()
		if !s.idx.wait() {
			return nil, errors.New("ledger: apply: the instruction id index was stopped")
		}
	}
	if s.idx.err != nil { // set before the index was built
		return nil, s.faultLocked("index", s.idx.err)
	}
	if s.cfg.StrictChecks || s.pending >= maxPendingCommits*max(s.cfg.CommitEvery, 1) {
		// StrictChecks writes the postings into live before it checks, and
		// they append to chunks the frozen layer's postings may still have
		// to write. And live may not outgrow the commits by far: memory.
		// Either way wait for the commit in flight, before Apply's read
		// transaction begins (a commit that grows the file waits for those).
		if err := s.waitFrozenLocked(); err != nil {
			return nil, err
		}
	}
	var view *txView
	var applied *applier
	var linesPaid int
	var newApplied uint64
	var newTime time.Time
	var newRulebook = s.rulebook.Load()
	runningBefore := *s.corpRunning.Load()
	running := runningBefore
	items, itemBytes := 0, 0
	for _, b := range batches {
		items += len(b.Items)
		for _, it := range b.Items {
			itemBytes += len(it)
		}
	}
	if len(batches) == 1 && items == 1 {
		// A call of one entry of one instruction, the shape of a node
		// serving single-instruction clients: one allocation for both.
		one := new(struct {
			results  [1][][]byte
			outcomes [1][]byte
		})
		results, outcomes = one.results[:], one.outcomes[:]
	} else {
		results, outcomes = make([][][]byte, len(batches)), make([][]byte, items)
	}
	err := s.inWriteTx(func(tx *kv.Tx) error {
		a := s.reuse.takeApplier()
		*a = applier{
			tx: tx, meta: tx.Bucket(bucketMeta), journal: tx.Bucket(bucketJournal), ids: tx.Bucket(bucketIDs),
			view:      s.reuse.takeView(tx, s.rulebook.Load(), items),
			running:   running,
			idsInFile: s.ids,
			ids2seq:   s.idx,
			strict:    s.cfg.StrictChecks,
		}
		// A journal entry carries its instruction and about 300 bytes
		// more; an id record its outcome.
		s.reuse.take(a, items, itemBytes+400*items)
		applied = a
		a.view.presize(items)
		a.view.useCache(s.cache)
		a.view.holdingsInFile = s.holdings
		a.idx.postings = &s.postings
		view = a.view
		// The journal only grows at its end.
		a.journal.SetAppendOnly()
		if !s.calls.valid {
			s.calls.load(a.meta)
		}
		s.calls.take(a)
		for i, b := range batches {
			// Raft replays the committed tail after a restart; applying it
			// again would move the same shares twice.
			if b.Index <= a.applied {
				continue
			}
			out := outcomes[:len(b.Items):len(b.Items)]
			outcomes = outcomes[len(b.Items):]
			a.batch(b, out)
			results[i] = out
		}
		if a.chunk != nil {
			if err := a.chunk.flush(a.journal); err != nil {
				return err
			}
		}
		if err := a.view.flush(); err != nil {
			return err
		}
		if err := a.flushIDs(); err != nil {
			return err
		}
		s.calls.keep(a)
		if s.cfg.StrictChecks {
			if err := s.calls.flushInto(tx); err != nil {
				return err
			}
			if err := s.postings.flush(tx); err != nil {
				return err
			}
			if errs := check(tx); len(errs) > 0 {
				panic(fmt.Sprintf("ledger: state check failed after apply: %v", errs))
			}
			if err := checkCorpRunning(tx, a.running); err != nil {
				panic(fmt.Sprintf("ledger: state check failed after apply: %v", err))
			}
		}
		newApplied, newTime = a.applied, a.lastTime
		running, linesPaid = a.running, a.linesPaid
		if a.view.newRulebook != nil {
			newRulebook = a.view.newRulebook
		}
		return nil
	})
	if err != nil {
		// A node that cannot write its state must not carry on as if it had:
		// it stops, and replays the log after a restart.
		return nil, err
	}
	// What the batch wrote is now the state every later reader sees (in the
	// live layer), so the cache may hold it.
	view.publish()
	s.reuse.keep(applied)
	s.pending += max(items, 1) + corpLineWeight*linesPaid
	if s.cfg.CommitEvery <= 1 {
		// Every Apply is durable when it returns.
		if err := s.commitLocked(); err != nil {
			return nil, err
		}
	} else if s.pending >= s.cfg.CommitEvery {
		s.freezeLocked()
	}
	s.rulebook.Store(newRulebook)
	if !sameRunning(running, runningBefore) {
		// A call rarely starts or ends a corporate action: storing the
		// queue only when it changed keeps the call from allocating it.
		changed := running
		s.corpRunning.Store(&changed)
	}
	s.lastTime.Store(newTime.UnixNano())
	if newApplied > s.applied.Load() {
		s.applied.Store(newApplied)
	}
	return results, nil
}

type applier struct {
	tx      *kv.Tx
	meta    *kv.Bucket
	journal *kv.Bucket
	ids     *kv.Bucket
	// idsInFile says which ids the file may hold (keyfilter.go); nil in an
	// applier whose ids all go to the file (a dry run's: every id may).
	idsInFile *keyFilter
	// ids2seq finds the journal entries of an id (idindex.go), built.
	ids2seq *idIndex
	view    *txView
	counters
	sched schedule // the scheduled rulebook's date (schedule.go)
	applyBuffers
	idx  indexWriter // the journal and balance indexes (index.go)
	tree *treeWriter // the journal's Merkle tree (merkle.go), made on the first entry; kept from call to call (callState)
	// chunk is the journal's last chunk (journalchunk.go), taken up on the
	// first entry; kept from call to call (callState).
	chunk *journalChunk
	// effects decides instructions (Effect) in memory the call reuses;
	// nil: each its own, as a dry run's applier does.
	effects *transfer.Scratch
	// decoded and outcomes hold the decoded instructions and the outcomes'
	// JSON in blocks kept from call to call (applyReuse); nil: each its own.
	decoded  *transfer.DecodeArena
	outcomes *outcomeArena
	keys     *keyMemo // the key records the calls decoded last (nil: none kept)
	// strict is Config.StrictChecks: appendJournal checks what the decoder
	// told it.
	strict bool
	// running is the running corporate actions as this call leaves them
	// (corpaction_running.go).
	running corpRunning
	// linesPaid counts the corporate action lines this call wrote: they
	// count toward CommitEvery, corpLineWeight instructions each.
	linesPaid int
}

// applyBuffers is an applier's working memory. Nothing the call returns or
// keeps points into it, so one call hands it to the next (applyReuse).
type applyBuffers struct {
	// seenIDs finds the ids decided in this call, not yet in the bucket:
	// each one's record in idRecs. The records are apart from the map so
	// that its slots are small: a map of records (some 120 bytes each)
	// spread a call of 10,000 instructions' ids over a megabyte and more,
	// and the look-up of each new id, which nearly always finds nothing,
	// missed the caches.
	seenIDs map[string]int32
	idRecs  []idRecord
	// newIDs are the ids decided in this call, in order, each with its
	// record's place in idRecs (newRefs): an id decided twice (a held
	// instruction submitted and approved in one call) is listed twice,
	// with one record, its last.
	newIDs  []string
	newRefs []int32
	// idHashes and idSeqs are flushIDs' entries for the id index.
	idHashes, idSeqs []uint64
	// arena holds the journal entries and id records of this call;
	// scratch is reused.
	arena, scratch []byte
	key            []byte
	named          []string     // appendJournal's scratch
	namedSymbols   []string     // appendJournal's scratch
	touched        touchedNames // instruction's scratch
}

// emptied returns b emptied for the next call, less what grew too large
// to keep (reuse.go).
//
// limit bounds the entries of the maps and lists kept (reusedMap).
func (b *applyBuffers) emptied(limit int) applyBuffers {
	return applyBuffers{
		seenIDs:  reusedMap(b.seenIDs, limit),
		idRecs:   reusedList(b.idRecs, limit),
		newIDs:   reusedList(b.newIDs, limit),
		newRefs:  reusedList(b.newRefs, limit),
		idHashes: reusedList(b.idHashes, limit), idSeqs: reusedList(b.idSeqs, limit),
		arena: reusedBytes(b.arena), scratch: reusedBytes(b.scratch), key: reusedBytes(b.key),
		named: reusedList(b.named, limit), namedSymbols: reusedList(b.namedSymbols, limit),
		touched: touchedNames{reusedList(b.touched.parties, limit), reusedList(b.touched.symbols, limit)},
	}
}

// batch applies b, writing each item's outcome into out, which is as long.
func (a *applier) batch(b Batch, out [][]byte) {
	// Time comes from the batch of the log entry. The leader never stamps an
	// earlier time, but a new leader's clock may lag; clamping keeps time
	// monotonic and depends only on replicated data.
	now := b.Time.UTC()
	if now.Before(a.lastTime) {
		now = a.lastTime
	}
	a.promoteRulebook(now)
	a.sweepPending(b.Index, now)
	for j, item := range b.Items {
		out[j] = a.item(b.Index, now, item)
	}
	a.applied, a.term, a.lastTime = b.Index, b.Term, now
}

// item decides one item and returns its outcome's JSON.
func (a *applier) item(index uint64, now time.Time, item []byte) []byte {
	if len(item) == 0 {
		return EncodeOutcome(opError(ErrCodeMalformed, "empty item"))
	}
	if item[0] == itemInstruction || item[0] == itemKeyedInstruction {
		return a.instruction(index, now, item)
	}
	return EncodeOutcome(a.otherItem(index, now, item))
}

func (a *applier) otherItem(index uint64, now time.Time, item []byte) Outcome {
	switch item[0] {
	case itemKey:
		return a.createKey(index, now, item)
	case itemRevokeKey:
		return a.revokeKey(index, now, item)
	case itemCorporateActionStep:
		return a.step(index, now, item)
	case itemNode:
		var n NodeInfo
		if err := json.Unmarshal(item[1:], &n); err != nil || n.ID == "" {
			return opError(ErrCodeMalformed, "malformed node item")
		}
		nodes := a.tx.Bucket(bucketNodes)
		var prev NodeInfo
		known := false
		if raw := nodes.Get([]byte(n.ID)); raw != nil {
			decodeJSON(raw, &prev)
			known = true
		}
		switch {
		case known && prev.Removed && !n.Removed:
			// A removed id stays removed: the node that had it may have
			// voted under it, so a replacement takes a new id.
			return opError(ErrCodeIDReused, "node %s was removed from the cluster; a replacement takes a new id", n.ID)
		case n.Removed:
			// Kept as a tombstone (with what was known of the node), so the
			// id is never taken again.
			if known {
				prev.Removed = true
				n = prev
			}
		}
		if known && n.NoteKey == "" {
			n.NoteKey = prev.NoteKey // an operator's record of the addresses does not know the key
		}
		if err := nodes.Put([]byte(n.ID), encodeJSON(n)); err != nil {
			panic(fmt.Sprintf("ledger: put node: %v", err))
		}
		return Outcome{Status: StatusAccepted, Index: index}
	default:
		return opError(ErrCodeMalformed, "unknown item kind %q", item[0])
	}
}

func (a *applier) instruction(index uint64, now time.Time, item []byte) []byte {
	actor, keyID, body, err := decodeInstructionItem(item, a.decoded)
	if err != nil {
		return EncodeOutcome(opError(ErrCodeMalformed, "%v", err))
	}
	if keyID != "" {
		// The key is checked where the instruction applies, on every node
		// alike, so a revocation or an expiry holds even for a request a
		// follower authenticated before it learnt of it. Nothing is
		// recorded: the id stays free for a retry with a valid key.
		if why := a.keyRefuses(keyID, actor, now); why != "" {
			return EncodeOutcome(opError(ErrCodeUnauthenticated, "%s", why))
		}
	}
	ins, encoded, err := a.decode(body)
	if err != nil {
		return EncodeOutcome(opError(ErrCodeMalformed, "%v", err))
	}
	// The body's hash is taken only where something compares or keeps it:
	// a repeated id, a held instruction, an id record (about a fortieth
	// of a transfer's apply, taken for every instruction, was this hash).
	if rec, ok := a.lookupID(ins.ID); ok {
		if rec.BodyHash != bodyHashOf(actor, body) {
			return EncodeOutcome(opError(ErrCodeIDReused, "instruction id %s was already used with another body", ins.ID))
		}
		return rec.Outcome // the first outcome, unchanged: nothing is applied twice
	}
	if result, held := a.dualControl(index, now, actor, ins, body); held {
		return result
	}

	var delta *transfer.Delta
	var reasons []eligibility.Reason
	var action *corpAction // a distribute or split accepted (corpaction.go)
	if ins.Type == transfer.TypeDistribute || ins.Type == transfer.TypeSplit {
		delta, reasons, action = a.acceptCorporateAction(a.seq+1, actor, ins, now, false)
	} else if delta, reasons = a.effect(actor, ins, now); delta != nil {
		if reasons = a.lockedBy(delta); reasons != nil {
			delta = nil
		}
	}
	a.seq++
	out := Outcome{ID: ins.ID, Index: index, Seq: a.seq}
	var touched touchedNames // what the effect changed, named by ins or not
	if delta == nil {
		out.Status = StatusRejected
		if len(reasons) == 0 {
			fail("rejection of %s without a reason", ins.ID)
		}
		r := reasons[0]
		out.Reason, out.Reasons = &r, reasons
	} else {
		out.Status = StatusAccepted
		changes := delta.Changes()
		out.WrittenOff = changes.WrittenOff
		a.view.commit(changes, a.seq)
		a.replaceSchedule(changes)
		// Read before the next instruction: one pair of buffers serves all.
		if a.touched.parties == nil {
			a.touched = touchedNames{make([]string, 0, 8), make([]string, 0, 4)}
		}
		a.touched = appendTouched(touchedNames{a.touched.parties[:0], a.touched.symbols[:0]}, changes)
		touched = a.touched
		if action != nil {
			a.saveCorporateAction(action)
			out.CorporateAction = summaryOf(action)
		}
	}
	bodyServed := a.appendJournal(index, now, actor, ins, body, encoded, out, touched)
	result := a.outcomes.encode(out)
	rec := idRecord{Seq: a.seq, Outcome: result, BodyServed: bodyServed}
	if bodyServed {
		// No record keeps its hash (flushIDs): the id's entry gives it.
		rec.actor, rec.body = actor, body
	} else {
		rec.BodyHash = bodyHashOf(actor, body)
	}
	a.decided(ins.ID, rec)
	if action != nil && delta != nil && action.done {
		a.journalDone(index, now, action, touchedNames{}) // after the id's record, which names the accepting entry
	}
	return result
}

// effect is transfer.Effect over the view, in a.effects' memory when the
// applier has some: the Delta is good until the next instruction, and its
// Changes until the next call.
func (a *applier) effect(actor string, ins transfer.Instruction, now time.Time) (*transfer.Delta, []eligibility.Reason) {
	if a.effects != nil {
		return a.effects.Effect(a.view, actor, ins, now)
	}
	return transfer.Effect(a.view, actor, ins, now)
}

// decode decodes an instruction's body, in the call's arena when it has
// one, and reports whether the body is known to be AppendEncode's bytes of
// it (transfer.DecodeArena.DecodeCanonicalEncoded).
func (a *applier) decode(body []byte) (ins transfer.Instruction, encoded bool, err error) {
	if a.decoded != nil {
		return a.decoded.DecodeCanonicalEncoded(body)
	}
	ins, err = transfer.DecodeCanonical(body)
	return ins, false, err
}

// EncodeOutcome is json.Marshal(o), by hand for the common outcomes (no
// reason, no error): one per instruction, so it is worth the few lines. The
// API writes an accepted write's answer with it too.
// TestOutcomeJSONMatchesEncodingJSON holds it to encoding/json's bytes.
func EncodeOutcome(o Outcome) []byte {
	if !plainOutcome(o) {
		return encodeJSON(o)
	}
	return appendPlainOutcome(make([]byte, 0, 64+len(o.ID)), o)
}

// plainOutcome reports whether o has only the fields appendPlainOutcome writes.
func plainOutcome(o Outcome) bool {
	return o.Reason == nil && len(o.Reasons) == 0 && o.Error == nil && len(o.WrittenOff) == 0 && o.CorporateAction == nil
}

// outcomeArena holds outcomes' JSON in blocks, so an outcome is not an
// allocation of its own: one an instruction was a fifteenth of what Apply
// allocated. What it hands out is never written again (a full block is left
// to the collector), so callers keep outcomes as long as they like.
type outcomeArena struct{ buf []byte }

// outcomeBlock is about 200 plain outcomes.
const outcomeBlock = 16 << 10

// encode is EncodeOutcome(o), in a's blocks when a is set and o is plain.
func (a *outcomeArena) encode(o Outcome) []byte {
	if a == nil || !plainOutcome(o) {
		return EncodeOutcome(o)
	}
	need := plainOutcomeMax + 6*len(o.ID)
	if cap(a.buf)-len(a.buf) < need {
		a.buf = make([]byte, 0, max(outcomeBlock, need))
	}
	start := len(a.buf)
	a.buf = appendPlainOutcome(a.buf, o)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// plainOutcomeMax bounds a plain outcome's bytes besides its id's: the
// fixed names, the status and two uint64s. encode reserves it and six
// bytes an id byte (appendJSONString's longest escape), so appending never
// moves the block.
const plainOutcomeMax = 96

// appendPlainOutcome appends o's JSON, o plain (plainOutcome).
func appendPlainOutcome(b []byte, o Outcome) []byte {
	start := len(b)
	b = append(b, '{')
	if o.ID != "" {
		b = append(b, `"id":`...)
		b = appendJSONString(b, o.ID)
		b = append(b, ',')
	}
	if o.Status != "" {
		b = append(b, `"status":`...)
		b = appendJSONString(b, o.Status)
		b = append(b, ',')
	}
	if o.Index != 0 {
		b = append(b, `"index":`...)
		b = strconv.AppendUint(b, o.Index, 10)
		b = append(b, ',')
	}
	if o.Seq != 0 {
		b = append(b, `"seq":`...)
		b = strconv.AppendUint(b, o.Seq, 10)
		b = append(b, ',')
	}
	if len(b) > start+1 {
		b = b[:len(b)-1] // the last comma
	}
	return append(b, '}')
}

// appendJournal appends the journal entry of an instruction decided as out
// (at a.seq), and makes it the head, with its index entries. touched lists
// the parties and symbols whose holdings it changed (a distribution's
// payees, the symbols a recover moved), so each finds the entry when it
// reads its journal: the record keeps those the instruction does not name.
// bodyServed says whether the journal serves body as it is, not compacted:
// what the id's record notes, without a second scan of the body. encoded
// says the decoder saw that body is AppendEncode's bytes of ins; false: not
// known.
func (a *applier) appendJournal(index uint64, now time.Time, actor string, ins transfer.Instruction, body []byte, encoded bool, out Outcome, touched touchedNames) (bodyServed bool) {
	rec := journalRecord{
		version: HashV2, index: index, time: now, actor: actor, status: out.Status, reasons: out.Reasons,
		writtenOff: out.WrittenOff,
	}
	// The served instruction is the body as encoding/json serves a raw
	// message; a canonical body (what the API proposes) is stored binary,
	// anything else as that text. A body the decoder saw is AppendEncode's
	// bytes (encoded) is both: it has no whitespace outside its strings, no
	// <, > or & and no byte past ASCII, so encoding/json serves it as it
	// is. It is neither scanned for what a compaction would change nor
	// encoded again to compare, which were a twentieth of a transfer's
	// apply; under StrictChecks both are done, and must agree.
	served, bodyServed, canonical := body, true, encoded
	if !encoded || a.strict {
		s, sameServed := body, !needsCompact(body)
		if !sameServed {
			// A space or an ampersand inside a string (a party's name, a
			// legal reference) survives the compaction: such a body is
			// served as it came too, and its id needs no record (flushIDs).
			s = appendRawJSON(nil, body)
			sameServed = bytes.Equal(s, body)
		}
		a.scratch = transfer.AppendEncode(a.scratch[:0], ins)
		same := bytes.Equal(a.scratch, s)
		if encoded && !(sameServed && same) {
			fail("instruction %s: the decoder called its body encoded; served as %s, AppendEncode writes %s", ins.ID, s, a.scratch)
		}
		served, bodyServed, canonical = s, sameServed, same
	}
	binStart := len(a.arena)
	if canonical {
		a.arena = transfer.AppendInstruction(a.arena, ins)
		rec.instruction, rec.binary = a.arena[binStart:], true
	} else {
		rec.instruction = served
	}
	// The lists are read before the next entry: one buffer serves every entry.
	if a.named == nil {
		a.named, a.namedSymbols = make([]string, 0, 8), make([]string, 0, 4)
	}
	named, namedSymbols := appendNames(a.named[:0], a.namedSymbols[:0], actor, ins)
	a.named, a.namedSymbols = named, namedSymbols
	if len(touched.parties) > 0 {
		rec.extra, _ = extraParties(touched.parties, named)
		rec.extraSymbols, _ = extraParties(touched.symbols, namedSymbols)
	}
	if a.chunk == nil {
		a.chunk = loadJournalChunk(a.journal, a.seq-1, a.head)
	}
	start := len(a.arena)
	a.arena = appendJournalBody(a.arena, &rec)
	a.head = hashV2Into(&a.scratch, a.head, a.seq, a.arena[start:])
	a.arena = append(a.arena, a.head[:]...)
	if err := a.chunk.add(a.journal, a.seq, a.arena[start:]); err != nil {
		panic(fmt.Sprintf("ledger: append journal: %v", err))
	}
	if a.tree == nil {
		a.tree = newTreeWriter(a.tx.Bucket(bucketTree))
	}
	if err := a.tree.append(a.seq, a.head); err != nil {
		panic(fmt.Sprintf("ledger: append journal tree: %v", err))
	}
	if err := a.index(named, namedSymbols, &rec); err != nil {
		panic(fmt.Sprintf("ledger: index journal entry %d: %v", a.seq, err))
	}
	return bodyServed
}

// lookupID finds the record of an instruction id decided before, in this
// call or an earlier one, with the outcome Apply returned for it.
func (a *applier) lookupID(id string) (idRecord, bool) {
	if rec := a.seen(id); rec != nil {
		return idRecord{BodyHash: rec.bodyHash(), Seq: rec.Seq, Outcome: bytes.Clone(rec.Outcome)}, true
	}
	a.key = append(a.key[:0], id...)
	raw, decided := a.ids.GetLayered(a.key)
	if !decided && a.idsInFile.mayHold(id) {
		raw = a.ids.GetFile(a.key)
	}
	var rec idRecord
	if raw != nil {
		rec = decodeIDRecord(raw)
		if rec.Seq == 0 {
			rec.Outcome = bytes.Clone(rec.Outcome) // raw is bbolt's, valid only in this transaction
			return rec, true
		}
	} else {
		// The journal answers for an id whose entry serves its body as it
		// came (flushIDs).
		seq := a.ids2seq.latest(a.key, func(seq uint64) bool { return journalEntryHasID(a.journal, seq, a.key) })
		if seq == 0 {
			return idRecord{}, false
		}
		rec = idRecord{Seq: seq, BodyServed: true}
	}
	if rec.BodyServed {
		rec.BodyHash = journaledBodyHash(a.journal, rec.Seq)
	}
	rec.Outcome = EncodeOutcome(journaledOutcomeTx(a.tx, id, rec.Seq))
	return rec, true
}

// decided records rec as the record of id, decided in this call.
func (a *applier) decided(id string, rec idRecord) {
	i, ok := a.seenIDs[id]
	if ok {
		a.idRecs[i] = rec
	} else {
		i = int32(len(a.idRecs))
		a.seenIDs[id] = i
		a.idRecs = append(a.idRecs, rec)
	}
	a.newIDs, a.newRefs = append(a.newIDs, id), append(a.newRefs, i)
}

// seen returns the record of id if this call decided it, else nil. It
// stays valid until the call decides another id.
func (a *applier) seen(id string) *idRecord {
	if i, ok := a.seenIDs[id]; ok {
		return &a.idRecs[i]
	}
	return nil
}

// flushIDs records the ids decided in this call: in the id index those
// whose journal entry serves the body as it came (a canonical body: what
// the API proposes), and in the ids bucket, in key order, the others,
// whose body hash or outcome the journal cannot give back.
func (a *applier) flushIDs() error {
	filed, indexed := a.newIDs[:0], a.idHashes[:0]
	a.idSeqs = a.idSeqs[:0]
	for i, id := range a.newIDs {
		// filed takes newIDs' memory, never past i: newRefs stays as it was.
		rec := &a.idRecs[a.newRefs[i]]
		if rec.Seq == 0 || !rec.BodyServed {
			filed = append(filed, id)
			continue
		}
		indexed = append(indexed, a.ids2seq.hash(unsafe.Slice(unsafe.StringData(id), len(id))))
		a.idSeqs = append(a.idSeqs, rec.Seq)
		if !rec.Replaces {
			continue // lookupID found no record of it
		}
		// A record of the id written before schema 11 (a held
		// instruction's, now decided) would answer first: it goes.
		a.key = append(a.key[:0], id...)
		raw, decided := a.ids.GetLayered(a.key)
		if !decided && a.idsInFile.mayHold(id) {
			raw = a.ids.GetFile(a.key)
		}
		if raw != nil {
			if err := a.ids.Delete(a.key); err != nil {
				return err
			}
		}
	}
	a.idHashes = indexed
	a.ids2seq.addAll(indexed, a.idSeqs)
	slices.Sort(filed)
	// Before the file holds them: the filter may hold more than the file,
	// never less.
	a.idsInFile.addStrings(filed)
	for _, id := range filed {
		start := len(a.arena)
		a.arena = encodeIDRecord(a.arena, a.seen(id))
		a.key = append(a.key[:0], id...) // Put copies the key
		if err := a.ids.Put(a.key, a.arena[start:len(a.arena):len(a.arena)]); err != nil {
			return err
		}
	}
	return nil
}
