package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// Limits of the read side.
const (
	DefaultJournalPage = 100
	MaxJournalPage     = 1000
	// MaxJournalScan bounds the index seeks of a page filtered by both a
	// party and a symbol; a page that hits it returns what it found with a
	// next cursor.
	MaxJournalScan = 100_000
)

// ErrNotFound is returned by reads of a party, instrument or price that does not exist.
var ErrNotFound = errors.New("ledger: not found")

// Party returns a party.
func (s *Store) Party(id string) (p transfer.Party, err error) {
	err = s.view(func(tx *kv.Tx) error {
		var ok bool
		if p, ok = newTxView(tx, s.Rulebook()).Party(id); !ok {
			return ErrNotFound
		}
		return nil
	})
	return p, err
}

// Parties lists every party, by id.
func (s *Store) Parties() (out []transfer.Party, err error) {
	err = s.view(func(tx *kv.Tx) error {
		return tx.Bucket(bucketParties).ForEach(func(k, v []byte) error {
			out = append(out, *decodeParty(k, v))
			return nil
		})
	})
	return out, err
}

// Instrument returns an instrument.
func (s *Store) Instrument(symbol string) (in transfer.Instrument, err error) {
	err = s.view(func(tx *kv.Tx) error {
		var ok bool
		v := newTxView(tx, s.Rulebook())
		if in, ok = v.Instrument(symbol); !ok {
			return ErrNotFound
		}
		serveInstrument(v, &in)
		return nil
	})
	return in, err
}

// Instruments lists every instrument, by symbol.
func (s *Store) Instruments() (out []transfer.Instrument, err error) {
	err = s.view(func(tx *kv.Tx) error {
		view := newTxView(tx, s.Rulebook())
		return tx.Bucket(bucketInstruments).ForEach(func(k, v []byte) error {
			in := decodeInstrument(k, v)
			serveInstrument(view, in)
			out = append(out, *in)
			return nil
		})
	})
	return out, err
}

// Price returns the last mark of an instrument.
func (s *Store) Price(symbol string) (p transfer.Price, err error) {
	err = s.view(func(tx *kv.Tx) error {
		var ok bool
		if p, ok = newTxView(tx, s.Rulebook()).Price(symbol); !ok {
			return ErrNotFound
		}
		return nil
	})
	return p, err
}

// HoldingLine is one position of a party.
type HoldingLine struct {
	Symbol  string          `json:"symbol"`
	Balance decimal.Decimal `json:"balance"`
	Frozen  decimal.Decimal `json:"frozen"`
	// Locked is the part still inside a holding period at the time of the read.
	Locked decimal.Decimal `json:"locked"`
}

// Holdings is a party's positions and its margin figures.
type Holdings struct {
	Party       string          `json:"party"`
	Holdings    []HoldingLine   `json:"holdings"`
	Loan        decimal.Decimal `json:"loan"`
	Equity      decimal.Decimal `json:"equity"`
	Requirement decimal.Decimal `json:"requirement"`
	// Leverage is exposure ÷ equity; null when equity is not positive (the
	// deficit then says how far the account is short).
	Leverage *decimal.Decimal `json:"leverage"`
	Unpriced []string         `json:"unpriced,omitempty"`
	// The maintenance figures (margin.go).
	MaintenanceRequirement decimal.Decimal `json:"maintenance_requirement"`
	MarginCall             bool            `json:"margin_call"`
	Deficit                decimal.Decimal `json:"deficit"`
	// Lots are the lots still in a holding period, with when each frees up.
	Lots []LockedLot `json:"lots"`
}

// PartyHoldings returns a party's holdings; now dates the lock-up figures.
func (s *Store) PartyHoldings(party string, now time.Time) (out Holdings, err error) {
	err = s.view(func(tx *kv.Tx) error {
		rb := s.Rulebook()
		v := newTxView(tx, rb)
		p, ok := v.Party(party)
		if !ok {
			return ErrNotFound
		}
		out = Holdings{Party: party, Holdings: []HoldingLine{}, Lots: []LockedLot{}}
		for _, h := range v.PartyHoldings(party) {
			in, _ := v.Instrument(h.Symbol)
			period := rb.HoldingPeriod(in.Product())
			locked := decimal.Zero
			for _, l := range h.Lots {
				if period > 0 && l.AcquiredAt.Add(period).After(now) {
					locked = locked.Add(l.Amount.Decimal())
					out.Lots = append(out.Lots, LockedLot{Symbol: h.Symbol, Amount: l.Amount.Decimal(), AcquiredAt: l.AcquiredAt, UnlocksAt: l.AcquiredAt.Add(period)})
				}
			}
			out.Holdings = append(out.Holdings, HoldingLine{Symbol: h.Symbol, Balance: h.Balance.Decimal(), Frozen: h.Frozen.Decimal(), Locked: locked})
		}
		acct := transfer.AccountOf(v, p)
		m := rb.Measure(acct)
		out.Loan, out.Equity, out.Requirement, out.Unpriced = acct.Loan, m.Equity, m.Requirement, m.Unpriced
		out.setMargin(m)
		return nil
	})
	return out, err
}

// Holder is one line of a cap table.
type Holder struct {
	Party   string          `json:"party"`
	Balance decimal.Decimal `json:"balance"`
}

// CapTable is the holders of an instrument at a journal seq, or a page of
// them (HoldersPage): Next is then the After of the following page, empty on
// the last.
type CapTable struct {
	Symbol  string          `json:"symbol"`
	Seq     uint64          `json:"seq"`
	Supply  decimal.Decimal `json:"supply"`
	Holders []Holder        `json:"holders"`
	Next    string          `json:"next,omitempty"`
}

// Holders returns the whole cap table of symbol as it stood just after
// journal entry at (a record date), or now when at is 0 or beyond the
// journal's end, reading every page of HoldersPage.
func (s *Store) Holders(symbol string, at uint64) (CapTable, error) {
	q := HoldersQuery{Symbol: symbol, At: at, Now: at == 0, Limit: MaxHoldersPage}
	out, err := s.HoldersPage(q)
	if errors.Is(err, ErrSeqAhead) {
		q.Now = true
		out, err = s.HoldersPage(q)
	}
	for err == nil && out.Next != "" {
		q.At, q.Now, q.After = out.Seq, false, out.Next
		var page CapTable
		if page, err = s.HoldersPage(q); err == nil {
			out.Holders, out.Next = append(out.Holders, page.Holders...), page.Next
		}
	}
	return out, err
}

// JournalQuery selects a page of the journal.
type JournalQuery struct {
	After  uint64
	Limit  int
	Party  string // entries naming this party
	Symbol string // entries naming this symbol
}

// JournalPage is one page of journal entries; Next is the After of the following page,
// zero on the last page.
type JournalPage struct {
	Entries []JournalEntry `json:"entries"`
	Next    uint64         `json:"next,omitempty"`
}

// Journal reads a page of the journal.
func (s *Store) Journal(q JournalQuery) (out JournalPage, err error) {
	if q.Limit <= 0 {
		q.Limit = DefaultJournalPage
	}
	q.Limit = min(q.Limit, MaxJournalPage)
	out.Entries = []JournalEntry{}
	// A page by seq reads at most q.Limit entries, so it may read through
	// the layers not yet committed, holding Apply off that long, instead of
	// waiting for a commit and its fsyncs: a journal stream polls it. The
	// journal indexes are written behind, at the commit (postings.go), so a
	// filtered page reads the file once it is committed.
	read := s.view
	if q.Party != "" || q.Symbol != "" {
		read = s.viewCommitted
	}
	err = read(func(tx *kv.Tx) error {
		defer func() { attachCorpActions(tx, out.Entries) }()
		if q.Party != "" || q.Symbol != "" {
			journalByIndex(tx, q, &out)
			return nil
		}
		// One cursor gives the hash before the page and its entries.
		jc := newJournalCursor(tx.Bucket(bucketJournal))
		prev, v := jc.withPrev(q.After + 1)
		if v == nil {
			return nil // no entry past q.After
		}
		for seq := q.After + 1; v != nil; seq, v = jc.next() {
			if len(out.Entries) == q.Limit {
				out.Next = out.Entries[len(out.Entries)-1].Seq
				return nil
			}
			out.Entries = append(out.Entries, renderJournalEntry(seq, prev, v))
			copy(prev[:], v[len(v)-journalHashSize:])
		}
		return nil
	})
	return out, err
}

// getJournalHead is the recorded hash of the last journal entry, zeros for
// an empty journal.
func getJournalHead(meta *kv.Bucket) (head [journalHashSize]byte) {
	v := meta.Get(metaJournalHead)
	if v == nil {
		return head
	}
	n, err := hex.Decode(head[:], v)
	if err != nil || n != len(head) {
		fail("stored journal head %q", v)
	}
	return head
}

// Verification is the result of walking the journal's hash chain.
type Verification struct {
	OK     bool   `json:"ok"`
	Length uint64 `json:"length"`
	Head   string `json:"head"`
	// FirstBad is the first seq whose hash or link does not check, if any.
	FirstBad uint64 `json:"first_bad,omitempty"`
	Message  string `json:"message,omitempty"`
}

// VerifyJournal recomputes every hash from the first journal entry and checks
// the links.
func (s *Store) VerifyJournal() (out Verification, err error) {
	err = s.viewCommitted(func(tx *kv.Tx) error {
		out = verifyJournal(tx)
		return nil
	})
	return out, err
}

// verifyJournal walks the stored records: a v2 hash is recomputed over the
// record's bytes as they lie in the file, without decoding them (the record
// is the canonical body); a v1 entry is rendered and hashed as JSON. Each
// hash covers the previous one, so the chain links by construction. The
// entries of a chunk that stores no hashes get theirs from the cursor,
// which recomputes them so: there the test is that the chunk's stored hash
// of the entry before it is that entry's, and at the end, as everywhere,
// that the last hash is the head the meta bucket records.
func verifyJournal(tx *kv.Tx) Verification {
	var prev [journalHashSize]byte
	var n uint64
	var newForm bool // a chunk of this release's form was seen
	buf := make([]byte, 0, 512)
	jc := newJournalCursor(tx.Bucket(bucketJournal))
	for seq, v := jc.first(); v != nil; seq, v = jc.next() {
		n++
		if seq != n {
			return badJournal(n, prev, "journal seqs are not contiguous")
		}
		if len(v) < 2+journalHashSize || v[0] != tagJournal {
			return badJournal(n, prev, "journal record is malformed")
		}
		// This release writes chunks of one form only, after whatever an
		// older one left.
		if jc.kind == tagJournalChunk {
			newForm = true
		} else if newForm {
			return badJournal(n, prev, "journal value of an older form after a chunk of this one")
		}
		// Where chunks end is the entries' alone (journalchunk.go).
		stored := jc.stored
		if jc.kind == tagJournalChunk && jc.opens {
			stored = jc.joinLen()
		}
		if jc.opens && jc.kind != 0 && jc.prevKind == jc.kind && chunkJoins(jc.prevLen, stored) {
			return badJournal(n, prev, "journal chunk ends before the entry that would fill it")
		}
		// An entry whose index and time repeat its chunk's entry before it
		// is stored short (journalchunk.go).
		if jc.kind == tagJournalChunk && !jc.opens && jc.sameIT && !jc.short {
			return badJournal(n, prev, "journal entry stored whole where its index and time repeat the entry's before it")
		}
		if !jc.opens && jc.kind != 0 && jc.valueLen > journalChunkBytes {
			return badJournal(n, prev, "journal chunk holds more entries than fit in it")
		}
		body, hash := v[:len(v)-journalHashSize], v[len(v)-journalHashSize:]
		switch {
		case jc.kind == tagJournalChunk && v[1] == HashV2:
			// The cursor recomputed the hash over the body, from the hash
			// before it in the chunk: only where the chunk opens can it
			// differ from prev, its stored hash of the entry before.
			if jc.opens && jc.chunkPrev != prev {
				return badJournal(n, prev, "journal chunk's hash of the entry before it does not match that entry")
			}
		case v[1] == HashV2:
			buf = append(buf[:0], prev[:]...)
			buf = binary.BigEndian.AppendUint64(buf, seq)
			buf = append(buf, body...)
			if sha256.Sum256(buf) != [journalHashSize]byte(hash) {
				return badJournal(n, prev, "hash does not match the entry")
			}
		case v[1] == HashV1:
			e := renderJournalEntry(n, prev, v)
			if hashV1(e) != e.Hash {
				return badJournal(n, prev, "hash does not match the entry")
			}
		default:
			return badJournal(n, prev, "unknown hash version")
		}
		copy(prev[:], hash)
	}
	head := hex.EncodeToString(prev[:])
	meta := tx.Bucket(bucketMeta)
	if getUint(meta, metaJournalSeq) != n {
		return Verification{Length: n, Head: head, FirstBad: n + 1, Message: "journal length differs from the recorded seq"}
	}
	if n > 0 && getJournalHead(meta) != prev {
		return Verification{Length: n, Head: head, FirstBad: n, Message: "recorded head differs from the last hash"}
	}
	return Verification{OK: true, Length: n, Head: head}
}

func badJournal(n uint64, prev [journalHashSize]byte, msg string) Verification {
	return Verification{Length: n - 1, Head: hex.EncodeToString(prev[:]), FirstBad: n, Message: msg}
}

// Nodes lists the cluster members' addresses as replicated, and the nodes
// removed from it (Removed), whose ids are never taken again.
func (s *Store) Nodes() (out []NodeInfo, err error) {
	err = s.view(func(tx *kv.Tx) error {
		return tx.Bucket(bucketNodes).ForEach(func(_, v []byte) error {
			var n NodeInfo
			decodeJSON(v, &n)
			out = append(out, n)
			return nil
		})
	})
	return out, err
}

// journaledBodyHash is sha256(actor 0 body) of the instruction journaled at
// seq, whose entry serves its body byte for byte.
func journaledBodyHash(journal *kv.Bucket, seq uint64) [bodyHashSize]byte {
	v := journalRecordAtWith(journal, seq, true) // its served instruction is all it reads
	if v == nil {
		fail("an id names journal entry %d, which does not exist", seq)
	}
	rec, _ := decodeJournalRecord(v)
	h := sha256.New()
	h.Write([]byte(rec.actor))
	h.Write([]byte{0})
	h.Write(rec.servedInstruction())
	var sum [bodyHashSize]byte
	h.Sum(sum[:0])
	return sum
}

// Outcome returns the recorded outcome of an instruction id.
func (s *Store) Outcome(id string) (o Outcome, err error) {
	// The id index is waited for with no read transaction open: a commit
	// that grows the file waits for those, and the index's scan for it.
	for range 8 { // a restore starts a new index: each try waits for one
		var building *idIndex
		err = s.outcome(id, &o, &building)
		if building == nil {
			return o, err
		}
		building.wait()
	}
	return Outcome{}, errors.New("ledger: outcome: the instruction id index is still being built")
}

// outcome is Outcome's try: it sets building, and reads nothing, while the
// id index is not built.
func (s *Store) outcome(id string, o *Outcome, building **idIndex) error {
	return s.view(func(tx *kv.Tx) error {
		raw := tx.Bucket(bucketIDs).Get([]byte(id))
		if raw == nil {
			// The journal answers for most ids (flushIDs). Entries
			// newer than this view are not in it, and do not answer.
			if !s.idx.isBuilt() {
				*building = s.idx
				return nil
			}
			if s.idx.err != nil {
				return s.idx.err
			}
			journal := tx.Bucket(bucketJournal)
			seq := s.idx.latest([]byte(id), func(seq uint64) bool { return journalEntryHasID(journal, seq, []byte(id)) })
			if seq == 0 {
				return ErrNotFound
			}
			*o = journaledOutcomeTx(tx, id, seq)
			return nil
		}
		rec := decodeIDRecord(raw)
		if rec.Seq != 0 {
			*o = journaledOutcomeTx(tx, id, rec.Seq)
			return nil
		}
		var err error
		*o, err = DecodeOutcome(rec.Outcome)
		assert(err == nil, "stored outcome of %s: %v", id, err)
		return nil
	})
}

// journaledOutcome rebuilds the outcome Apply returned for instruction id,
// journaled at seq: the same fields, so EncodeOutcome gives the same bytes.
func journaledOutcome(journal *kv.Bucket, id string, seq uint64) Outcome {
	v := journalRecordAtWith(journal, seq, true) // an outcome holds no hash
	if v == nil {
		fail("id %s names journal entry %d, which does not exist", id, seq)
	}
	rec, _ := decodeJournalRecord(v)
	o := Outcome{ID: id, Status: rec.status, Index: rec.index, Seq: seq, Reasons: rec.reasons, WrittenOff: rec.writtenOff}
	o.Reason = rec.servedReason()
	return o
}

// View gives a read-only transfer.View to fn, for checks before proposing
// (authorization, dry runs). It must not be used after fn returns.
func (s *Store) View(fn func(v transfer.View) error) error {
	return s.view(func(tx *kv.Tx) error { return fn(newTxView(tx, s.Rulebook())) })
}
