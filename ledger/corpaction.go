package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// Record-date corporate actions (distribute, split) run as bounded steps
// through the log: accepting one records it, escrows the cash it can pay,
// and pays the first inlineHolders holders at once; a register larger than
// that is finished by step items (CorporateActionStepItem) the leader
// proposes, each paying the next slice of holders in party order. See
// DESIGN.md, "Corporate actions".

// inlineHolders is how many holders the accepting apply pays itself: an
// action over no more than that completes in one apply, as it always did.
var inlineHolders = 1000

// corpLineWeight is how many instructions one corporate action line counts
// as toward CommitEvery. A line writes its record, its leaf's hashes, the
// holder's holding, a balance-index entry and a journal posting, mostly new
// pages in party order, where the transfers between steps rewrite pages
// already dirty. The step whose apply ends with the commit is the longest
// apply while an action runs, and the commit's cost grows with the lines it
// holds (BenchmarkCorporateActionAtScale: counted once, the CPU of such an
// apply is about 45-55 ms, the commit's share 40-50; counted twice, about
// 22-28 ms), so lines count double: commits come twice as often during
// an action, each half as long.
const corpLineWeight = 2

// stepScanFactor bounds the parties a step examines (those who ever held
// the symbol, most of whom may not have held at the record point) to this
// many times its holders, so every step is bounded.
const stepScanFactor = 4

// MaxStepHolders bounds the holders one step item may ask for.
const MaxStepHolders = 100_000

// Journal entry types of a corporate action's steps and completion. Their
// entries carry, as the instruction, the event's JSON (as key events do).
const (
	JournalCorporateActionStep = "corporate_action_step"
	JournalCorporateActionDone = "corporate_action_done"
)

// Statuses of a corporate action.
const (
	CorporateActionRunning = "running"
	CorporateActionDone    = "done"
)

// Key prefixes inside bucketCorpActions.
const (
	caAction  byte = 'A' // 'A' seq(8) -> action record
	caByID    byte = 'I' // 'I' instruction id -> seq(8)
	caRunning byte = 'R' // 'R' symbol 0 seq(8) -> type byte ('d', 's'): the queue of an instrument
	caLine    byte = 'L' // 'L' seq(8) party -> line record
)

// caTreeKey is the key in bucketCorpTree of stored hash index of the tree
// of the lines of the action accepted at seq. The tree has a bucket of its
// own so that it and the lines, both appended in order as steps pay
// holders, each grow at the end of their keys: interleaved in one bucket,
// every line would be inserted before all the hashes since the last commit,
// which bbolt pays for by moving them (quadratic in a large action).
func caTreeKey(seq, index uint64) []byte {
	return binary.BigEndian.AppendUint64(seqKey(seq), index)
}

// corpAction is a corporate action's record. Seq, the journal seq of the
// instruction that was accepted, is its key.
type corpAction struct {
	seq       uint64
	id, actor string
	ca        transfer.CorporateAction
	recordSeq uint64
	done      bool
	cursor    string // the last party examined, in party order
	lines     uint64
	total     decimal.Decimal // cash paid
	fractions decimal.Decimal // units of cash (distribute) or of the instrument (split) rounded away
	escrow    decimal.Decimal // cash taken from the issuer and not yet paid
	root      [32]byte        // of the lines, when done
	doneSeq   uint64
}

const tagCorpAction byte = 'A'

func encodeCorpAction(dst []byte, c *corpAction) []byte {
	w := newRecordWriter(dst, tagCorpAction)
	w.Str(c.id)
	w.Str(c.actor)
	w.Str(string(c.ca.Type))
	w.Str(c.ca.Symbol)
	w.Str(c.ca.Issuer)
	w.Varint(int64(c.ca.Decimals))
	w.Str(c.ca.Cash)
	w.Varint(int64(c.ca.CashDecimals))
	w.Decimal(c.ca.PerUnit)
	w.Decimal(c.ca.Ratio)
	w.Decimal(c.ca.Price)
	w.OptDecimal(c.ca.MaxSupply)
	w.Uvarint(c.recordSeq)
	w.Bool(c.done)
	w.Str(c.cursor)
	w.Uvarint(c.lines)
	w.Decimal(c.total)
	w.Decimal(c.fractions)
	w.Decimal(c.escrow)
	w.B = append(w.B, c.root[:]...)
	w.Uvarint(c.doneSeq)
	return w.B
}

func decodeCorpAction(seq uint64, val []byte) *corpAction {
	r := newRecordReader(val, tagCorpAction, "corporate action")
	c := &corpAction{seq: seq}
	c.id = r.Str()
	c.actor = r.Str()
	c.ca.Type = transfer.Type(r.Str())
	c.ca.Symbol = r.Str()
	c.ca.Issuer = r.Str()
	c.ca.Decimals = int32(r.Varint())
	c.ca.Cash = r.Str()
	c.ca.CashDecimals = int32(r.Varint())
	c.ca.PerUnit = r.Decimal()
	c.ca.Ratio = r.Decimal()
	c.ca.Price = r.Decimal()
	c.ca.MaxSupply = r.OptDecimal()
	c.recordSeq = r.Uvarint()
	c.done = r.Bool()
	c.cursor = r.Str()
	c.lines = r.Uvarint()
	c.total = r.Decimal()
	c.fractions = r.Decimal()
	c.escrow = r.Decimal()
	copy(c.root[:], r.Bytes(32))
	c.doneSeq = r.Uvarint()
	r.done()
	return c
}

// corpLine is one holder's line: its index (the leaf of the lines' tree),
// its units (at the record point for a distribution, after the split for a
// split) and the cash it was paid.
type corpLine struct {
	index         uint64
	party         string
	units, amount decimal.Decimal
}

const tagCorpLine byte = 'Y'

func encodeCorpLine(dst []byte, l *corpLine) []byte {
	w := newRecordWriter(dst, tagCorpLine)
	w.Uvarint(l.index)
	w.Decimal(l.units)
	w.Decimal(l.amount)
	return w.B
}

func decodeCorpLine(party string, val []byte) corpLine {
	r := newRecordReader(val, tagCorpLine, "corporate action line")
	l := corpLine{party: party}
	l.index = r.Uvarint()
	l.units = r.Decimal()
	l.amount = r.Decimal()
	r.done()
	return l
}

// CorporateActionLeaf is the data of a line's leaf in the Merkle tree its
// action's completion commits to: party, units and amount as the API
// serves them, each followed by a 0x00 byte. Leaf i is the line of index i,
// lines in party order; the leaf hash is tlog.RecordHash of it (RFC 6962).
func CorporateActionLeaf(party, units, amount string) []byte {
	b := make([]byte, 0, len(party)+len(units)+len(amount)+3)
	b = append(append(b, party...), 0)
	b = append(append(b, units...), 0)
	return append(append(b, amount...), 0)
}

func caKey(prefix byte, seq uint64, rest ...string) []byte {
	k := binary.BigEndian.AppendUint64([]byte{prefix}, seq)
	for _, r := range rest {
		k = append(k, r...)
	}
	return k
}

func caRunningKey(symbol string, seq uint64) []byte {
	k := append([]byte{caRunning}, symbol...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func loadCorpAction(b *kv.Bucket, seq uint64) *corpAction {
	v := b.Get(caKey(caAction, seq))
	if v == nil {
		return nil
	}
	return decodeCorpAction(seq, v)
}

func putCorpAction(b *kv.Bucket, c *corpAction) {
	mustPut(b, caKey(caAction, c.seq), encodeCorpAction(nil, c), "corporate action")
}

// queue lists the seqs and types of the running actions on symbol, oldest
// first: the first is the one steps advance.
func corpQueue(b *kv.Bucket, symbol string) (seqs []uint64, types []byte) {
	prefix := append(append([]byte{caRunning}, symbol...), 0)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		seqs = append(seqs, binary.BigEndian.Uint64(k[len(prefix):]))
		types = append(types, firstByte(v))
	}
	return seqs, types
}

// splitRunning says whether a split of symbol runs or waits: its holdings
// may not change until it completes.
func splitRunning(b *kv.Bucket, symbol string) (uint64, bool) {
	seqs, types := corpQueue(b, symbol)
	for i, t := range types {
		if t == 's' {
			return seqs[i], true
		}
	}
	return 0, false
}

func typeByte(t transfer.Type) []byte {
	if t == transfer.TypeSplit {
		return []byte{'s'}
	}
	return []byte{'d'}
}

func refusal(code eligibility.Code, rule, format string, args ...any) []eligibility.Reason {
	return []eligibility.Reason{eligibility.NewReason(code, rule, fmt.Sprintf(format, args...))}
}

// lockedBy refuses an accepted effect that changes a holding or the record
// of an instrument a split runs on: the split reads the holdings as they
// stand, so none may change until it completes.
func (a *applier) lockedBy(d *transfer.Delta) []eligibility.Reason {
	if !a.running.any() {
		return nil // nearly always: one load of the in-memory set
	}
	c := d.Changes()
	seen := map[string]bool{}
	check := func(symbol string) []eligibility.Reason {
		if seen[symbol] {
			return nil
		}
		seen[symbol] = true
		if seq, ok := a.running.splitOf(symbol); ok {
			return refusal(eligibility.CodeCorporateActionRunning, "corporate_action.split_running",
				"a split of %s (journal entry %d) is running; its holdings do not change until it completes", symbol, seq)
		}
		return nil
	}
	for _, h := range c.Holdings {
		if r := check(h.Symbol); r != nil {
			return r
		}
	}
	for _, in := range c.Instruments {
		if r := check(in.Symbol); r != nil {
			return r
		}
	}
	return nil
}

// acceptCorporateAction decides a distribute or split, to be journaled at
// seq. Accepted, it returns the delta (the escrow, and the first holders'
// lines) and the action to record once the entry is appended. dry decides
// only (POST /v1/check): it writes nothing, returns no action, and costs at
// most what the accepting apply does, whatever the register's size.
func (a *applier) acceptCorporateAction(seq uint64, actor string, ins transfer.Instruction, now time.Time, dry bool) (*transfer.Delta, []eligibility.Reason, *corpAction) {
	plan, reasons := transfer.PlanCorporateAction(a.view, actor, ins)
	if reasons != nil {
		return nil, reasons, nil
	}
	prev := seq - 1
	act := &corpAction{seq: seq, id: ins.ID, actor: actor, ca: plan, recordSeq: prev,
		total: decimal.Zero, fractions: decimal.Zero, escrow: decimal.Zero}
	if ins.RecordSeq != nil {
		act.recordSeq = *ins.RecordSeq
	}
	switch {
	case act.recordSeq > prev:
		return nil, refusal(eligibility.CodeInvalidInstruction, "corporate_action.record_seq",
			"record_seq %d is after the last journal entry, %d", act.recordSeq, prev), nil
	case plan.Type == transfer.TypeSplit && act.recordSeq != prev:
		return nil, refusal(eligibility.CodeInvalidInstruction, "split.record_seq",
			"a split applies to the holdings as they stand: its record_seq is the entry before it, %d", prev), nil
	}
	b := a.tx.Bucket(bucketCorpActions)
	queue, _ := corpQueue(b, plan.Symbol)
	if splitSeq, ok := splitRunning(b, plan.Symbol); ok && act.recordSeq >= splitSeq {
		return nil, refusal(eligibility.CodeCorporateActionRunning, "corporate_action.split_running",
			"a split of %s (journal entry %d) is running; choose a record_seq before it or wait until it completes", plan.Symbol, splitSeq), nil
	}
	d := transfer.NewDelta(a.view)
	var first []corpLine
	if len(queue) == 0 {
		lines, exhausted := a.walk(act, d, inlineHolders)
		first = lines
		if exhausted {
			if r := a.payExact(act, d, lines, now); r != nil {
				return nil, r, nil
			}
			if dry {
				return d, nil, nil
			}
			a.recordLines(act, lines)
			a.finish(act, d, now, seq)
			return d, nil, act
		}
	}
	// A larger register, or one an earlier action still runs on: escrow
	// what the action can pay at most, and let steps pay the holders.
	var outstanding decimal.Decimal
	var holders int64
	if plan.Type == transfer.TypeDistribute {
		outstanding = supplyAt(a.tx.Bucket(bucketSupplies).Cursor(), plan.Symbol, act.recordSeq).
			Sub(partyBalanceAt(a.tx.Bucket(bucketBalances).Cursor(), a.view.tailOf(plan.Issuer, plan.Symbol), plan.Symbol, plan.Issuer, act.recordSeq))
	} else {
		in, _ := a.view.Instrument(plan.Symbol)
		holders = int64(in.HolderCount)
	}
	act.escrow = plan.Escrow(outstanding, holders)
	if plan.Type == transfer.TypeDistribute && act.escrow.IsZero() {
		return nil, refusal(eligibility.CodeInvalidInstruction, "distribute.amount",
			"the distribution pays nothing: no holder's entitlement reaches one unit of %s", plan.Cash), nil
	}
	if act.escrow.Sign() > 0 {
		if r := d.CanDebit(plan.Issuer, plan.Cash, act.escrow); r != nil {
			return nil, r, nil
		}
		d.Debit(plan.Issuer, plan.Cash, act.escrow, now)
	}
	if plan.MaxSupply != nil {
		if in, _ := a.view.Instrument(plan.Symbol); in.MaxSupply != nil && plan.MaxSupply.GreaterThan(*in.MaxSupply) {
			d.SetMaxSupply(plan.Symbol, plan.MaxSupply) // room for the split's growth from the start
		}
	}
	if dry {
		return d, nil, nil
	}
	if len(queue) == 0 {
		a.payFromEscrow(act, d, first, now)
		a.recordLines(act, first)
	}
	mustPut(b, caRunningKey(plan.Symbol, seq), typeByte(plan.Type), "corporate action queue")
	a.running = a.running.with(corpRun{symbol: plan.Symbol, seq: seq, split: plan.Type == transfer.TypeSplit})
	return d, nil, act
}

// saveCorporateAction records act, accepted as journal entry act.seq.
func (a *applier) saveCorporateAction(act *corpAction) {
	b := a.tx.Bucket(bucketCorpActions)
	putCorpAction(b, act)
	mustPut(b, append([]byte{caByID}, act.id...), seqKey(act.seq), "corporate action id")
}

// walk reads the next holders of act at its record point after its cursor,
// at most limit of them and stepScanFactor × limit parties examined, and
// moves the cursor past them. exhausted says no party is left. A
// distribution reads each balance at the record point from the balances
// index; a split, the holding as it stands (nothing moves it meanwhile).
func (a *applier) walk(act *corpAction, v transfer.View, limit int) (lines []corpLine, exhausted bool) {
	symbol := act.ca.Symbol
	prefix := append([]byte(symbol), 0)
	bal := a.tx.Bucket(bucketBalances)
	parties, balances := bal.Cursor(), bal.Cursor()
	examined := 0
	for k, _ := firstAfter(parties, prefix, act.cursor); k != nil; {
		p, ok := nameOf(k, prefix)
		if !ok {
			break
		}
		if len(lines) == limit || examined == stepScanFactor*limit {
			return lines, false
		}
		examined++
		var units decimal.Decimal
		if act.ca.Type == transfer.TypeDistribute {
			units = partyBalanceAt(balances, a.view.tailOf(p, symbol), symbol, p, act.recordSeq)
		} else {
			h, _ := v.Holding(p, symbol)
			units = h.Balance.Decimal()
		}
		if units.Sign() > 0 && !(act.ca.Type == transfer.TypeDistribute && p == act.ca.Issuer) {
			lines = append(lines, corpLine{party: p, units: units})
		}
		act.cursor = p
		k, _ = parties.Seek(append(append(bytes.Clone(prefix), p...), 1))
	}
	return lines, true
}

// lineParts fills each line's units and amount and sums them.
func (act *corpAction) lineParts(lines []corpLine) (total decimal.Decimal) {
	total = decimal.Zero
	for i := range lines {
		l := &lines[i]
		newUnits, amount, fraction := act.ca.Line(l.party, l.units)
		l.units, l.amount = newUnits, amount
		total = total.Add(amount)
		act.fractions = act.fractions.Add(fraction)
	}
	return total
}

// payExact pays every line of an action that completes in the accepting
// apply, taking exactly what the lines pay from the issuer, as a
// distribution always did (refused when it pays nothing or the issuer
// lacks it).
func (a *applier) payExact(act *corpAction, d *transfer.Delta, lines []corpLine, now time.Time) []eligibility.Reason {
	ratio := act.ca.Ratio
	total := act.lineParts(lines)
	if act.ca.Type == transfer.TypeDistribute && total.IsZero() {
		return refusal(eligibility.CodeInvalidInstruction, "distribute.amount",
			"the distribution pays nothing: no holder's entitlement reaches one unit of %s", act.ca.Cash)
	}
	if total.Sign() > 0 {
		if r := d.CanDebit(act.ca.Issuer, act.ca.Cash, total); r != nil {
			return r
		}
		d.Debit(act.ca.Issuer, act.ca.Cash, total, now)
	}
	act.escrow = total
	for _, l := range lines {
		if act.ca.Type == transfer.TypeSplit {
			d.SplitHolding(l.party, act.ca.Symbol, ratio)
		}
		if l.amount.Sign() > 0 {
			d.Credit(l.party, act.ca.Cash, l.amount, now)
		}
	}
	act.total, act.escrow = total, decimal.Zero
	return nil
}

// payFromEscrow pays lines out of the action's escrow.
func (a *applier) payFromEscrow(act *corpAction, d *transfer.Delta, lines []corpLine, now time.Time) {
	total := act.lineParts(lines)
	assert(!total.GreaterThan(act.escrow), "corporate action %s pays %s beyond its escrow %s", act.id, total, act.escrow)
	for _, l := range lines {
		if act.ca.Type == transfer.TypeSplit {
			d.SplitHolding(l.party, act.ca.Symbol, act.ca.Ratio)
		}
		if l.amount.Sign() > 0 {
			d.Credit(l.party, act.ca.Cash, l.amount, now)
		}
	}
	act.total = act.total.Add(total)
	act.escrow = act.escrow.Sub(total)
}

// recordLines stores lines, numbered on from act.lines, and their leaves.
func (a *applier) recordLines(act *corpAction, lines []corpLine) {
	b, tree := a.tx.Bucket(bucketCorpActions), a.tx.Bucket(bucketCorpTree)
	tree.SetAppendOnly() // hashes are appended in index order
	for i := range lines {
		l := &lines[i]
		l.index = act.lines
		mustPut(b, caKey(caLine, act.seq, l.party), encodeCorpLine(nil, l), "corporate action line")
		leaf := CorporateActionLeaf(l.party, l.units.String(), l.amount.String())
		hashes, err := tlog.StoredHashes(int64(l.index), leaf, caHashes{tree, act.seq})
		if err != nil { // not assert, whose boxed id would cost each line an allocation
			fail("corporate action %s line tree: %v", act.id, err)
		}
		first := tlog.StoredHashIndex(0, int64(l.index))
		for j := range hashes {
			mustPut(tree, caTreeKey(act.seq, uint64(first+int64(j))), hashes[j][:], "corporate action tree")
		}
		act.lines++
	}
	a.linesPaid += len(lines)
}

// caHashes is tlog's HashReader over an action's line tree.
type caHashes struct {
	b   *kv.Bucket
	seq uint64
}

func (r caHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		v := r.b.Get(caTreeKey(r.seq, uint64(x)))
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("corporate action tree: stored hash %d is missing", x)
		}
		out[i] = tlog.Hash(v)
	}
	return out, nil
}

// finish completes act in the entry doneSeq: the escrow left goes back to
// the issuer, a split's cap takes its final value, and the lines' root is
// fixed.
func (a *applier) finish(act *corpAction, d *transfer.Delta, now time.Time, doneSeq uint64) {
	if act.escrow.Sign() > 0 {
		d.Credit(act.ca.Issuer, act.ca.Cash, act.escrow, now)
		act.escrow = decimal.Zero
	}
	if act.ca.MaxSupply != nil {
		d.SetMaxSupply(act.ca.Symbol, act.ca.MaxSupply)
	}
	root, err := tlog.TreeHash(int64(act.lines), caHashes{a.tx.Bucket(bucketCorpTree), act.seq})
	assert(err == nil, "corporate action %s root: %v", act.id, err)
	act.root, act.done, act.doneSeq = root, true, doneSeq
}

// CorporateActionStepItem encodes a step of the corporate action accepted
// as journal entry seq over at most holders more holders. The leader
// proposes them; the count travels in the item so every node does the same
// work.
func CorporateActionStepItem(seq uint64, holders int) []byte {
	b := []byte{itemCorporateActionStep}
	b = binary.AppendUvarint(b, seq)
	return binary.AppendUvarint(b, uint64(holders))
}

// stepEvent is the instruction a step's or completion's journal entry
// carries.
type stepEvent struct {
	Type          string `json:"type"`
	InstructionID string `json:"instruction_id"`
	Symbol        string `json:"symbol"`
	Holders       uint64 `json:"holders"`
	// The completion's summary and the root of its lines.
	Total     string `json:"total,omitempty"`
	Fractions string `json:"fractions,omitempty"`
	LinesRoot string `json:"lines_root,omitempty"`
}

// step applies a step item: the next holders of the action at the head of
// its instrument's queue, and its completion when none is left. A step of
// an action that is done, unknown or still queued changes nothing (an old
// leader's duplicate pays no one twice).
func (a *applier) step(index uint64, now time.Time, item []byte) Outcome {
	seq, w := binary.Uvarint(item[1:])
	n, w2 := uint64(0), 0
	if w > 0 {
		n, w2 = binary.Uvarint(item[1+w:])
	}
	if w <= 0 || w2 <= 0 || 1+w+w2 != len(item) || n == 0 || n > MaxStepHolders {
		return opError(ErrCodeMalformed, "malformed corporate action step")
	}
	b := a.tx.Bucket(bucketCorpActions)
	act := loadCorpAction(b, seq)
	if act == nil || act.done {
		return opError(ErrCodeNotFound, "no running corporate action at journal entry %d", seq)
	}
	if queue, _ := corpQueue(b, act.ca.Symbol); len(queue) == 0 || queue[0] != seq {
		return opError(ErrCodeNotFound, "the corporate action at journal entry %d waits for an earlier one on %s", seq, act.ca.Symbol)
	}
	d := transfer.NewDelta(a.view)
	lines, exhausted := a.walk(act, d, int(n))
	a.payFromEscrow(act, d, lines, now)
	a.recordLines(act, lines)
	a.seq++
	out := Outcome{ID: act.id, Status: StatusAccepted, Index: index, Seq: a.seq}
	changes := d.Changes()
	a.view.commit(changes, a.seq)
	a.journalStep(index, now, act, stepEvent{Type: JournalCorporateActionStep, InstructionID: act.id, Symbol: act.ca.Symbol, Holders: uint64(len(lines))}, touchedBy(changes))
	if exhausted {
		d = transfer.NewDelta(a.view)
		a.finish(act, d, now, a.seq+1)
		changes := d.Changes()
		a.view.commit(changes, a.seq+1)
		assert(b.Delete(caRunningKey(act.ca.Symbol, act.seq)) == nil, "corporate action %s: dequeue", act.id)
		a.running = a.running.without(act.ca.Symbol, act.seq)
		a.journalDone(index, now, act, touchedBy(changes))
		out.Seq = a.seq
	}
	putCorpAction(b, act)
	return out
}

// journalDone appends the completion entry of act, which finish has
// completed, as the next seq: its summary and the root of its lines, so the
// hash chain and the journal's tree commit to every line. An action that
// completes in its accepting apply gets one too, right after the accepting
// entry, so every action's lines are checkable the same way.
func (a *applier) journalDone(index uint64, now time.Time, act *corpAction, touched touchedNames) {
	a.seq++
	act.doneSeq = a.seq
	a.journalStep(index, now, act, stepEvent{
		Type: JournalCorporateActionDone, InstructionID: act.id, Symbol: act.ca.Symbol, Holders: act.lines,
		Total: act.total.String(), Fractions: act.fractions.String(), LinesRoot: fmt.Sprintf("%x", act.root),
	}, touched)
	putCorpAction(a.tx.Bucket(bucketCorpActions), act)
}

// journalStep appends a step's or completion's entry, naming the parties
// it paid.
func (a *applier) journalStep(index uint64, now time.Time, act *corpAction, ev stepEvent, touched touchedNames) {
	body, err := json.Marshal(ev)
	assert(err == nil, "encode corporate action event: %v", err)
	ins, decoded := decodeServedInstruction(body)
	assert(decoded, "corporate action event %s does not decode as a served instruction", body)
	out := Outcome{Status: StatusAccepted, Index: index, Seq: a.seq}
	a.appendJournal(index, now, act.actor, ins, body, false, out, touched)
}

// checkCorpActions checks every corporate action: a running one is queued
// on its instrument and a done one is not; its lines are numbered 0 to
// lines-1 and their tree's root is the recorded one once done; its id
// finds it. It returns the cash the running ones hold in escrow, by
// symbol, which the supply check counts.
func checkCorpActions(tx *kv.Tx, bad func(format string, args ...any)) map[string]decimal.Decimal {
	b := tx.Bucket(bucketCorpActions)
	escrow := map[string]decimal.Decimal{}
	running := map[uint64]bool{}
	c := b.Cursor()
	for k, _ := c.Seek([]byte{caRunning}); k != nil && k[0] == caRunning; k, _ = c.Next() {
		running[binary.BigEndian.Uint64(k[len(k)-8:])] = true
	}
	for k, v := c.Seek([]byte{caAction}); k != nil && k[0] == caAction; k, v = c.Next() {
		act := decodeCorpAction(binary.BigEndian.Uint64(k[1:]), v)
		if act.done == running[act.seq] {
			bad("corporate action %s: done %v but queued %v", act.id, act.done, running[act.seq])
		}
		delete(running, act.seq)
		if act.escrow.IsNegative() || act.done && !act.escrow.IsZero() {
			bad("corporate action %s holds an escrow of %s", act.id, act.escrow)
		}
		if act.escrow.Sign() > 0 {
			e, ok := escrow[act.ca.Cash]
			if !ok {
				e = decimal.Zero
			}
			escrow[act.ca.Cash] = e.Add(act.escrow)
		}
		if got := b.Get(append([]byte{caByID}, act.id...)); !bytes.Equal(got, seqKey(act.seq)) {
			bad("corporate action %s is not found by its id", act.id)
		}
		checkCorpLines(b, act, bad)
	}
	for seq := range running {
		bad("corporate action queue names entry %d, which has no action", seq)
	}
	return escrow
}

// checkCorpLines checks that act's lines are its leaves, in party order.
func checkCorpLines(b *kv.Bucket, act *corpAction, bad func(format string, args ...any)) {
	prefix := caKey(caLine, act.seq)
	c := b.Cursor()
	n := uint64(0)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		l := decodeCorpLine(string(k[len(prefix):]), v)
		if l.index != n {
			bad("corporate action %s: line of %s has index %d, want %d", act.id, l.party, l.index, n)
			return
		}
		n++
	}
	if n != act.lines {
		bad("corporate action %s has %d lines, its record counts %d", act.id, n, act.lines)
		return
	}
	if act.done {
		root, err := tlog.TreeHash(int64(n), caHashes{b.Tx().Bucket(bucketCorpTree), act.seq})
		if err != nil || root != act.root {
			bad("corporate action %s: the root of its lines is not the recorded one (%v)", act.id, err)
		}
	}
}

// corpEscrow is the cash running corporate actions hold, by symbol.
func corpEscrow(tx *kv.Tx) map[string]decimal.Decimal {
	escrow := map[string]decimal.Decimal{}
	c := tx.Bucket(bucketCorpActions).Cursor()
	for k, v := c.Seek([]byte{caAction}); k != nil && k[0] == caAction; k, v = c.Next() {
		act := decodeCorpAction(binary.BigEndian.Uint64(k[1:]), v)
		if act.escrow.Sign() > 0 {
			e, ok := escrow[act.ca.Cash]
			if !ok {
				e = decimal.Zero
			}
			escrow[act.ca.Cash] = e.Add(act.escrow)
		}
	}
	return escrow
}
