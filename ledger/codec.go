package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/wire"
	"github.com/tokenledger/tokenledger/transfer"
)

// The internal records (parties, instruments, holdings, loans, prices, balance
// history, instruction ids) are stored in a compact binary form, not JSON:
// the state machine decodes and encodes thousands of them per batch, and JSON
// cost more than the rules. schema.go documents each layout. Every record is
// a function of the value alone, so equal states are equal bytes on every
// node: decimals are canonical (see wire.Writer.Decimal), times are UTC, lists keep
// their order. Journal entries are binary too (journalRecord); JournalEntry
// is their served form.

// Tags open each record, so a value read from the wrong bucket, or a value of
// another schema, fails loudly instead of decoding into nonsense.
const (
	tagParty      byte = 'P'
	tagInstrument byte = 'N'
	tagHolding    byte = 'H'
	tagLoan       byte = 'L'
	tagPrice      byte = 'R'
	tagHistory    byte = 'B'
	tagID         byte = 'I'
	tagIDHash     byte = 'H'
	tagIDOutcome  byte = 'O'
	tagJournal    byte = 'J'
	tagBalance    byte = 'V'
	tagInvestment byte = 'W'
)

// bodyHashSize is the size of an instruction body hash in an ids record.
const bodyHashSize = 32

// recordWriter appends the fields of a record; wire owns the primitives.
type recordWriter struct{ wire.Writer }

func newRecordWriter(dst []byte, tag byte) recordWriter {
	return recordWriter{wire.Writer{B: append(dst, tag)}}
}

// recordReader reads the fields of a record. Stored records are written by
// this package only, so a record that does not decode is a broken invariant:
// done asserts the whole record decoded, and fail asserts at once where
// reading on would be unsafe.
type recordReader struct {
	wire.Reader
	what string
}

func newRecordReader(b []byte, tag byte, what string) recordReader {
	if len(b) == 0 || b[0] != tag {
		fail("stored %s: tag %q, want %q", what, firstByte(b), tag)
	}
	return recordReader{Reader: wire.NewReader(b[1:]), what: what}
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// sharedStr reads a string field as a slice of src, the string of the
// bytes the reader started on: no allocation of its own.
func (r *recordReader) sharedStr(src string) string {
	b := r.StrBytes()
	if len(b) == 0 {
		return ""
	}
	end := len(src) - r.Len()
	if end < len(b) || src[end-len(b):end] != string(b) {
		r.fail("shared string")
	}
	return src[end-len(b) : end]
}

// fail asserts, naming the first field that did not decode: an earlier
// primitive's, or else field.
func (r *recordReader) fail(field string) {
	r.Fail(field)
	panic("ledger: assertion failed: stored " + r.what + ": " + r.Err().Error())
}

// word reads a string that is usually one of a few (roles, statuses,
// jurisdictions), sharing one copy of those. A two-letter code is found by
// its letters and the rest by a look down a short list: nearly every party
// read decodes two or three, and a map lookup each (a hash and a compare)
// cost more than the rest of the read.
func (r *recordReader) word() string {
	b := r.StrBytes()
	if len(b) == 2 && isUpper(b[0]) && isUpper(b[1]) {
		return jurisdictionWords[int(b[0]-'A')*26+int(b[1]-'A')]
	}
	for _, w := range namedWords {
		if string(b) == w {
			return w
		}
	}
	return string(b)
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// namedWords are the roles and statuses word shares, and the empty string.
var namedWords = [...]string{
	"",
	string(eligibility.RoleInvestor), string(eligibility.StatusRetail), string(eligibility.StatusAccredited),
	string(eligibility.StatusInstitutional), string(eligibility.StatusQualifiedPurchaser),
	string(eligibility.RoleCustodian), string(eligibility.RoleIssuer), string(eligibility.RoleOperator),
	string(eligibility.RoleAuditor), string(eligibility.RoleOracle),
}

// jurisdictionWords are every two-letter code, AA to ZZ, by their letters.
var jurisdictionWords = func() (t [26 * 26]string) {
	for i := range t {
		t[i] = string([]byte{byte('A' + i/26), byte('A' + i%26)})
	}
	return t
}()

// done asserts the whole record was read, and read without error.
func (r *recordReader) done() {
	if r.Err() != nil || r.Len() != 0 {
		r.fail("record length")
	}
}

// Optional fields. A record may end with optional fields, each written as
// its field number (uvarint) then its value, in increasing field number, and
// only when the value is not the zero value: a record written before a field
// existed decodes as if it held the zero value, so adding a field needs no
// migration, and equal values still give equal bytes. The numbers of each
// record are listed with its layout in schema.go and never reused.

// Opt writes the number of the optional field whose value follows.
func (w *recordWriter) Opt(field uint64) { w.Uvarint(field) }

// Opt reads the number of the next optional field, or 0 at the end of the
// record. Numbers must grow: a repeated or out-of-order field is a record
// this package did not write.
func (r *recordReader) Opt(last uint64) uint64 {
	if r.Err() != nil || r.Len() == 0 {
		return 0
	}
	n := r.Uvarint()
	if n <= last {
		r.fail("optional field order")
	}
	return n
}

// unknownOpt asserts on an optional field number this version does not know.
func (r *recordReader) unknownOpt(n uint64) {
	r.fail("optional field " + strconv.FormatUint(n, 10))
}

// splitKey splits a key of n parts joined by 0x00.
func splitKey(k []byte, n int, what string) []string {
	out := make([]string, 0, n)
	start := 0
	for i, c := range k {
		if c == 0 {
			out = append(out, string(k[start:i]))
			start = i + 1
		}
	}
	out = append(out, string(k[start:]))
	if len(out) != n {
		fail("stored %s key %q has %d parts, want %d", what, k, len(out), n)
	}
	return out
}

// holdingKeyParts splits a holdings key, party 0 symbol, as splitKey does
// (failing the same way), without making strings of its parts.
func holdingKeyParts(k []byte) (party, symbol []byte) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || bytes.IndexByte(k[i+1:], 0) >= 0 {
		splitKey(k, 2, "holding") // fails, naming the key
	}
	return k[:i], k[i+1:]
}

// Party: tag, role, status, jurisdiction, kyc_expires_at?, custodian, frozen,
// created_at. The id is the key.
func encodeParty(dst []byte, p *transfer.Party) []byte {
	w := newRecordWriter(dst, tagParty)
	w.Str(string(p.Role))
	w.Str(string(p.Status))
	w.Str(p.Jurisdiction)
	w.OptTime(p.KYCExpiresAt)
	w.Str(p.Custodian)
	w.Bool(p.Frozen)
	w.Time(p.CreatedAt)
	// Optional fields (schema.go): 1 annual_income, 2 net_worth; written
	// when known, zero included, so unknown stays apart from 0.
	if p.AnnualIncome != nil {
		w.Opt(1)
		w.Decimal(*p.AnnualIncome)
	}
	if p.NetWorth != nil {
		w.Opt(2)
		w.Decimal(*p.NetWorth)
	}
	writePartyBooks(&w, p)
	return w.B
}

func decodeParty(key, val []byte) *transfer.Party {
	p := &partyRecord{}
	decodePartyInto(p, string(key), val, nil)
	return &p.Party
}

// partyRecord is a decoded party with room for its KYC expiry, which the
// party points to: one allocation where there were two.
type partyRecord struct {
	transfer.Party
	kycExpiresAt time.Time
}

// decodePartyInto decodes the party id into p, which must be zero. Its
// custodian's id is shared through names when there is one.
func decodePartyInto(p *partyRecord, id string, val []byte, names *internTable) {
	r := newRecordReader(val, tagParty, "party")
	p.ID = id
	p.Role = eligibility.Role(r.word())
	p.Status = eligibility.Status(r.word())
	p.Jurisdiction = r.word()
	if r.Bool() { // wire's OptTime, into the record
		p.kycExpiresAt = r.Time()
		p.KYCExpiresAt = &p.kycExpiresAt
	}
	p.Custodian = names.of(r.StrBytes())
	p.Frozen = r.Bool()
	p.CreatedAt = r.Time()
	for n := r.Opt(0); n != 0; n = r.Opt(n) {
		switch {
		case n == 1:
			d := r.Decimal()
			p.AnnualIncome = &d
		case n == 2:
			d := r.Decimal()
			p.NetWorth = &d
		case !readPartyBooks(&r, n, &p.Party):
			r.unknownOpt(n)
		}
	}
	r.done()
}

// internTable shares one copy of strings that many records repeat: the
// custodians of investors, a handful for a register of millions. A view
// decodes every party it reads afresh, and the custodian's id was an
// allocation each, about one an instruction. Apply's alone (the record
// cache's), so it needs no lock.
type internTable struct{ m map[string]string }

// maxInterned bounds an internTable: past it, it starts over.
const maxInterned = 256

// of returns b as a string, the table's copy when it has one. A nil table
// shares nothing.
func (t *internTable) of(b []byte) string {
	if t == nil {
		return string(b)
	}
	if s, ok := t.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if t.m == nil || len(t.m) == maxInterned {
		t.m = make(map[string]string)
	}
	t.m[s] = s
	return s
}

// Attribute flags of an instrument record.
const (
	attrCounterpartyIsPlatform = 1 << iota
	attrOutcomeControllable
	attrFXMajor
	attrPerpetual
)

// Instrument: tag, name, issuer, decimals, max_supply?, regime,
// offering_date, attributes (underlying, payoff, embedded_leverage,
// expiry_days, economic_purpose, event_topic, flags), class, regulator,
// category, classification_reasons (count+1, 0 for none), paused, supply,
// holder_count, non_accredited_holders, created_at. The symbol is the key.
func encodeInstrument(dst []byte, in *transfer.Instrument) []byte {
	w := newRecordWriter(dst, tagInstrument)
	w.Str(in.Name)
	w.Str(in.Issuer)
	w.Varint(int64(in.Decimals))
	w.OptDecimal(in.MaxSupply)
	w.Str(in.Regime)
	w.Time(in.OfferingDate)
	a := &in.Attributes
	w.Str(a.Underlying)
	w.Str(a.Payoff)
	w.Decimal(a.EmbeddedLeverage)
	w.Varint(int64(a.ExpiryDays))
	w.Str(a.EconomicPurpose)
	w.Str(a.EventTopic)
	var flags uint64
	if a.CounterpartyIsPlatform {
		flags |= attrCounterpartyIsPlatform
	}
	if a.OutcomeControllable {
		flags |= attrOutcomeControllable
	}
	if a.Perpetual {
		flags |= attrPerpetual
	}
	if a.FXMajor {
		flags |= attrFXMajor
	}
	w.Uvarint(flags)
	w.Str(in.Class)
	w.Str(in.Regulator)
	w.Str(in.Category)
	// nil and empty differ in the JSON the API serves (null and []).
	if in.ClassificationReasons == nil {
		w.Uvarint(0)
	} else {
		w.Uvarint(uint64(len(in.ClassificationReasons)) + 1)
		for _, s := range in.ClassificationReasons {
			w.Str(s)
		}
	}
	w.Bool(in.Paused)
	w.Decimal(in.Supply)
	w.Varint(int64(in.HolderCount))
	w.Varint(int64(in.NonAccreditedHolders))
	w.Time(in.CreatedAt)
	// Optional fields (schema.go): 1 currency, 2 listed.
	if in.Currency != "" {
		w.Opt(1)
		w.Str(in.Currency)
	}
	if in.Listed {
		w.Opt(2)
		w.Bool(true)
	}
	writeInstrumentBooks(&w, in)
	return w.B
}

func decodeInstrument(key, val []byte) *transfer.Instrument {
	return decodeInstrumentNamed(string(key), val)
}

// decodeInstrumentNamed is decodeInstrument with the key as a string.
func decodeInstrumentNamed(symbol string, val []byte) *transfer.Instrument {
	in, _ := decodeInstrumentAt(symbol, val)
	return in
}

// decodeInstrumentAt is decodeInstrumentNamed, and also returns where in
// val the instrument's counters begin (decodeInstrumentCounters).
func decodeInstrumentAt(symbol string, val []byte) (*transfer.Instrument, int) {
	r := newRecordReader(val, tagInstrument, "instrument")
	// The record as one string, whose slices are its string fields: one
	// allocation for a dozen (Apply decodes an instrument per instruction
	// or so).
	src := string(val[1:])
	in := &transfer.Instrument{Symbol: symbol}
	in.Name = r.sharedStr(src)
	in.Issuer = r.sharedStr(src)
	in.Decimals = int32(r.Varint())
	in.MaxSupply = r.OptDecimal()
	in.Regime = r.sharedStr(src)
	in.OfferingDate = r.Time()
	a := &in.Attributes
	a.Underlying = r.sharedStr(src)
	a.Payoff = r.sharedStr(src)
	a.EmbeddedLeverage = r.Decimal()
	a.ExpiryDays = int(r.Varint())
	a.EconomicPurpose = r.sharedStr(src)
	a.EventTopic = r.sharedStr(src)
	flags := r.Uvarint()
	a.CounterpartyIsPlatform = flags&attrCounterpartyIsPlatform != 0
	a.OutcomeControllable = flags&attrOutcomeControllable != 0
	a.FXMajor = flags&attrFXMajor != 0
	a.Perpetual = flags&attrPerpetual != 0
	in.Class = r.sharedStr(src)
	in.Regulator = r.sharedStr(src)
	in.Category = r.sharedStr(src)
	if n := r.Uvarint(); n > 0 {
		if n-1 > uint64(r.Len()) {
			r.fail("classification reasons")
		}
		in.ClassificationReasons = make([]string, n-1)
		for i := range in.ClassificationReasons {
			in.ClassificationReasons[i] = r.sharedStr(src)
		}
	}
	at := len(val) - r.Len()
	decodeInstrumentCounters(&r, in, func() string { return r.sharedStr(src) })
	return in, at
}

// decodeInstrumentCounters decodes the fields that follow the
// classification into in: those a mint, a burn or a new holding changes,
// and the optional fields. str reads a string field.
func decodeInstrumentCounters(r *recordReader, in *transfer.Instrument, str func() string) {
	in.Paused = r.Bool()
	in.Supply = r.Decimal()
	in.HolderCount = int(r.Varint())
	in.NonAccreditedHolders = int(r.Varint())
	in.CreatedAt = r.Time()
	for n := r.Opt(0); n != 0; n = r.Opt(n) {
		switch {
		case n == 1:
			in.Currency = str()
		case n == 2:
			in.Listed = r.Bool()
		case !readInstrumentBooks(r, n, in):
			r.unknownOpt(n)
		}
	}
	r.done()
}

// redecodeInstrument decodes val, a new version of the record prevRaw
// that decoded to prev with its counters at prevAt (decodeInstrumentAt).
// A mint, a burn or a new holding changes only the counters, so when val
// begins with the same bytes as prevRaw up to them, the fields before are
// prev's: decoding them again was four allocations (the record's string,
// the classification's reasons, the maximum supply's two) of the six
// decoding an instrument costs, and Apply decodes an instrument anew about
// every other instruction. The result is what decodeInstrumentAt gives,
// field for field (TestRedecodeInstrument).
func redecodeInstrument(prev *transfer.Instrument, prevRaw []byte, prevAt int, val []byte) (*transfer.Instrument, int) {
	if prevAt <= 0 || prevAt > len(val) || !bytes.Equal(prevRaw[:prevAt], val[:prevAt]) {
		return decodeInstrumentAt(prev.Symbol, val)
	}
	in := &transfer.Instrument{}
	copyInstrumentHead(in, prev)
	// The tag is in the bytes prevRaw shares, checked when it decoded.
	r := recordReader{Reader: wire.NewReader(val[prevAt:]), what: "instrument"}
	decodeInstrumentCounters(&r, in, func() string {
		b := r.StrBytes()
		if string(b) == prev.Currency {
			return prev.Currency
		}
		return string(b)
	})
	return in, prevAt
}

// copyInstrumentHead copies the fields decodeInstrumentAt reads before the
// counters: the record's fields in its order, and the symbol, its key.
func copyInstrumentHead(dst, src *transfer.Instrument) {
	dst.Symbol = src.Symbol
	dst.Name, dst.Issuer, dst.Decimals, dst.MaxSupply = src.Name, src.Issuer, src.Decimals, src.MaxSupply
	dst.Regime, dst.OfferingDate, dst.Attributes = src.Regime, src.OfferingDate, src.Attributes
	dst.Class, dst.Regulator, dst.Category = src.Class, src.Regulator, src.Category
	dst.ClassificationReasons = src.ClassificationReasons
}

// Holding: tag, balance, frozen, lot count, lots (amount, acquired_at). The
// party and symbol are the key.
func encodeHolding(dst []byte, h *transfer.Holding) []byte {
	return encodeHoldingTail(dst, h, nil)
}

// encodeHoldingTail is encodeHolding with the holding's tail of balance
// points (balancetail.go; nil: none).
func encodeHoldingTail(dst []byte, h *transfer.Holding, tail *balanceTail) []byte {
	w := newRecordWriter(dst, tagHolding)
	w.Fixed(h.Balance)
	w.Fixed(h.Frozen)
	w.Uvarint(uint64(len(h.Lots)))
	for i := range h.Lots {
		w.Fixed(h.Lots[i].Amount)
		w.Time(h.Lots[i].AcquiredAt)
	}
	writeHoldingBooks(&w, h)
	if tail != nil {
		tail.write(&w)
	}
	return w.B
}

func decodeHolding(party, symbol string, val []byte) *transfer.Holding {
	h := &transfer.Holding{}
	decodeHoldingInto(h, party, symbol, val, nil, nil)
	return h
}

// decodeHoldingInto decodes into h, which must be zero, its lots into what
// lots returns (nil: a slice of their own), and its tail of balance points
// into tail (nil: skipped).
func decodeHoldingInto(h *transfer.Holding, party, symbol string, val []byte, lots *lotSlab, tail *balanceTail) {
	r := newRecordReader(val, tagHolding, "holding")
	h.Party, h.Symbol = party, symbol
	h.Balance = r.Fixed()
	h.Frozen = r.Fixed()
	if n := r.Uvarint(); n > 0 { // none decodes as nil, as the omitted JSON field did
		if n > uint64(r.Len()) {
			r.fail("lots")
		}
		h.Lots = lots.take(int(n))
		for i := range h.Lots {
			h.Lots[i].Amount = r.Fixed()
			h.Lots[i].AcquiredAt = r.Time()
		}
	}
	for n := r.Opt(0); n != 0; n = r.Opt(n) {
		if n == optHoldingRecent {
			var t balanceTail
			t.read(&r)
			if tail != nil {
				*tail = t
			}
			continue
		}
		if !readHoldingBooks(&r, n, h) {
			r.unknownOpt(n)
		}
	}
	r.done()
}

// lotSlab hands out lots a block at a time: a view decodes a few holdings
// per instruction, each with a lot or two, and one allocation each was a
// tenth of Apply's. A nil slab makes each slice on its own.
type lotSlab struct{ block []transfer.Lot }

// take returns n zero lots. Their capacity is n, so an append to them
// never reaches the next holding's.
func (s *lotSlab) take(n int) []transfer.Lot {
	if s == nil || n > 8 {
		return make([]transfer.Lot, n)
	}
	if cap(s.block)-len(s.block) < n {
		// Blocks double from a few lots, as a call of one instruction
		// decodes a few.
		s.block = make([]transfer.Lot, 0, min(max(2*cap(s.block), 8), lotSlabBlock))
	}
	i := len(s.block)
	s.block = s.block[:i+n]
	lots := s.block[i : i+n : i+n]
	clear(lots) // a reused block (txView.reset) holds an earlier call's
	return lots
}

const lotSlabBlock = 64

func decodeHoldingKV(key, val []byte) *transfer.Holding {
	parts := splitKey(key, 2, "holding")
	return decodeHolding(parts[0], parts[1], val)
}

// Loan: tag, amount. Party, cash symbol and lender are the key.
func encodeLoan(dst []byte, l *transfer.Loan) []byte {
	w := newRecordWriter(dst, tagLoan)
	w.Decimal(l.Amount)
	return w.B
}

func decodeLoan(key, val []byte) transfer.Loan {
	parts := splitKey(key, 3, "loan")
	r := newRecordReader(val, tagLoan, "loan")
	l := transfer.Loan{Party: parts[0], Cash: parts[1], Lender: parts[2], Amount: r.Decimal()}
	r.done()
	return l
}

// Price: tag, price, time. The symbol is the key.
func encodePrice(dst []byte, p *transfer.Price) []byte {
	w := newRecordWriter(dst, tagPrice)
	w.Decimal(p.Price)
	w.Time(p.Time)
	return w.B
}

func decodePrice(key, val []byte) *transfer.Price {
	r := newRecordReader(val, tagPrice, "price")
	p := &transfer.Price{Symbol: string(key), Price: r.Decimal(), Time: r.Time()}
	r.done()
	return p
}

// History: tag, count, changes (symbol, party, before, after).
func encodeHistory(dst []byte, changes []balanceChange) []byte {
	w := newRecordWriter(dst, tagHistory)
	w.Uvarint(uint64(len(changes)))
	for i := range changes {
		c := &changes[i]
		w.Str(c.Symbol)
		w.Str(c.Party)
		w.Fixed(c.Before)
		w.Fixed(c.After)
	}
	return w.B
}

func decodeHistory(val []byte) []balanceChange {
	r := newRecordReader(val, tagHistory, "history")
	n := r.Uvarint()
	if n > uint64(r.Len()) {
		r.fail("history count")
	}
	out := make([]balanceChange, n)
	for i := range out {
		out[i] = balanceChange{Symbol: r.Str(), Party: r.Str(), Before: r.Fixed(), After: r.Fixed()}
	}
	r.done()
	return out
}

// journalRecord is a journal entry as stored: what the API serves, less
// what the key (seq), the previous record (prev_hash) and the instruction
// (its parties and symbols) give. schema.go documents the layout.
type journalRecord struct {
	version byte // HashV1 or HashV2
	index   uint64
	time    time.Time
	actor   string
	status  string
	reasons []eligibility.Reason
	// reasonForm says where the served reason comes from; reason is set for
	// reasonExplicit only. A v2 record is always reasonFirst.
	reasonForm byte
	reason     *eligibility.Reason
	// instruction is the binary encoding (binary) or the served JSON text.
	instruction []byte
	binary      bool
	// namesExplicit records parties and symbols as served (v1 records whose
	// lists the instruction does not give); otherwise they are the
	// instruction's names plus extra, the parties its effect also touched.
	namesExplicit bool
	extra         []string
	// extraSymbols are the symbols the effect also moved that the
	// instruction does not name (a recover's); see namesDerivedSymbols.
	extraSymbols     []string
	parties, symbols []string
	// writtenOff is optional field 1: the loans a close_out wrote off.
	writtenOff []transfer.WriteOff
}

// Forms of a journal record's reason.
const (
	reasonFirst    byte = 0 // the first of the reasons, or none without reasons
	reasonNone     byte = 1 // none, though there are reasons
	reasonExplicit byte = 2 // the reason follows
)

// Statuses of a journal record; any other is written out.
const (
	statusAccepted byte = 0
	statusRejected byte = 1
	statusOther    byte = 2
)

// Kinds of a journal record's instruction and names.
const (
	insBinary     byte = 0
	insJSON       byte = 1
	namesDerived  byte = 0
	namesExplicit byte = 1
	// namesDerivedSymbols is namesDerived with a second list, the symbols
	// beyond those the instruction names. Written only when that list is
	// not empty, so every record before it keeps its bytes and its hash.
	namesDerivedSymbols byte = 2
)

// journalHashSize is the raw hash at the end of every journal record.
const journalHashSize = sha256.Size

// appendJournalBody appends r's record without its hash: the body a v2 hash
// covers.
func appendJournalBody(dst []byte, r *journalRecord) []byte {
	w := newRecordWriter(dst, tagJournal)
	w.B = append(w.B, r.version)
	w.Uvarint(r.index)
	w.Time(r.time)
	w.Str(r.actor)
	switch r.status {
	case StatusAccepted:
		w.B = append(w.B, statusAccepted)
	case StatusRejected:
		w.B = append(w.B, statusRejected)
	default:
		w.B = append(w.B, statusOther)
		w.Str(r.status)
	}
	w.Uvarint(uint64(len(r.reasons)))
	for i := range r.reasons {
		w.reason(&r.reasons[i])
	}
	w.B = append(w.B, r.reasonForm)
	if r.reasonForm == reasonExplicit {
		w.reason(r.reason)
	}
	if r.binary {
		w.B = append(w.B, insBinary)
	} else {
		w.B = append(w.B, insJSON)
	}
	w.Uvarint(uint64(len(r.instruction)))
	w.B = append(w.B, r.instruction...)
	if r.namesExplicit {
		w.B = append(w.B, namesExplicit)
		w.strs(r.parties)
		w.strs(r.symbols)
	} else if len(r.extraSymbols) > 0 {
		w.B = append(w.B, namesDerivedSymbols)
		w.strs(r.extra)
		w.strs(r.extraSymbols)
	} else {
		w.B = append(w.B, namesDerived)
		w.strs(r.extra)
	}
	// Optional fields (schema.go): 1 written_off. A record without them has
	// the bytes, and so the hash, it had before they existed.
	if len(r.writtenOff) > 0 {
		w.Opt(1)
		w.Uvarint(uint64(len(r.writtenOff)))
		for _, wo := range r.writtenOff {
			w.Str(wo.Party)
			w.Str(wo.Lender)
			w.Str(wo.Cash)
			w.Decimal(wo.Amount)
		}
	}
	return w.B
}

func (w *recordWriter) reason(r *eligibility.Reason) {
	w.Str(string(r.Code))
	w.Str(r.Rule)
	w.Str(r.Message)
	w.Str(r.ERC1066)
}

func (w *recordWriter) strs(list []string) {
	w.Uvarint(uint64(len(list)))
	for _, s := range list {
		w.Str(s)
	}
}

// decodeJournalRecord decodes a journal record and returns its hash. The
// instruction aliases val.
func decodeJournalRecord(val []byte) (rec journalRecord, hash [journalHashSize]byte) {
	if len(val) < 2+journalHashSize {
		fail("stored journal record: %d bytes", len(val))
	}
	copy(hash[:], val[len(val)-journalHashSize:])
	r := newRecordReader(val[:len(val)-journalHashSize], tagJournal, "journal record")
	if rec.version = r.Byte(); rec.version != HashV1 && rec.version != HashV2 {
		r.fail("hash version")
	}
	rec.index = r.Uvarint()
	rec.time = r.Time()
	rec.actor = r.word()
	switch r.Byte() {
	case statusAccepted:
		rec.status = StatusAccepted
	case statusRejected:
		rec.status = StatusRejected
	case statusOther:
		rec.status = r.Str()
	default:
		r.fail("status")
	}
	if n := r.Uvarint(); n > 0 {
		if n > uint64(r.Len()) {
			r.fail("reasons")
		}
		rec.reasons = make([]eligibility.Reason, n)
		for i := range rec.reasons {
			rec.reasons[i] = r.reason()
		}
	}
	switch rec.reasonForm = r.Byte(); rec.reasonForm {
	case reasonFirst, reasonNone:
	case reasonExplicit:
		reason := r.reason()
		rec.reason = &reason
	default:
		r.fail("reason form")
	}
	switch r.Byte() {
	case insBinary:
		rec.binary = true
	case insJSON:
	default:
		r.fail("instruction kind")
	}
	rec.instruction = r.Bytes(r.Uvarint())
	switch r.Byte() {
	case namesDerived:
		rec.extra = r.strs()
	case namesDerivedSymbols:
		rec.extra = r.strs()
		if rec.extraSymbols = r.strs(); len(rec.extraSymbols) == 0 {
			r.fail("extra symbols")
		}
	case namesExplicit:
		rec.namesExplicit = true
		rec.parties = r.strs()
		rec.symbols = r.strs()
	default:
		r.fail("names kind")
	}
	for n := r.Opt(0); n != 0; n = r.Opt(n) {
		switch n {
		case 1:
			rec.writtenOff = r.writeOffs()
		default:
			r.unknownOpt(n)
		}
	}
	r.done()
	return rec, hash
}

// writeOffs reads the written_off field of a journal record: a count of at
// least one, then each write-off's party, lender, cash and amount.
func (r *recordReader) writeOffs() []transfer.WriteOff {
	n := r.Uvarint()
	if n == 0 || n > uint64(r.Len()) {
		r.fail("written_off")
		return nil
	}
	out := make([]transfer.WriteOff, n)
	for i := range out {
		out[i] = transfer.WriteOff{Party: r.Str(), Lender: r.Str(), Cash: r.Str(), Amount: r.Decimal()}
	}
	return out
}

func (r *recordReader) reason() eligibility.Reason {
	return eligibility.Reason{Code: eligibility.Code(r.Str()), Rule: r.Str(), Message: r.Str(), ERC1066: r.Str()}
}

func (r *recordReader) strs() []string {
	n := r.Uvarint()
	if n == 0 {
		return nil
	}
	if n > uint64(r.Len()) {
		r.fail("string list")
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.Str()
	}
	return out
}

// servedReason is the reason the entry serves.
func (rec *journalRecord) servedReason() *eligibility.Reason {
	switch {
	case rec.reasonForm == reasonExplicit:
		return rec.reason
	case rec.reasonForm == reasonFirst && len(rec.reasons) > 0:
		r := rec.reasons[0]
		return &r
	}
	return nil
}

// ids record: tag 'I', then the uvarint journal seq of the instruction,
// whose entry gives its outcome and, as it serves the body byte for byte, the
// body hash; tag 'H', the 32-byte sha256 of actor 0 body, then the seq, for a
// body the entry serves otherwise (compacted); or tag 'O', the body hash,
// then the outcome's JSON, for an outcome the journal does not hold (none
// does today; kept so a migrated store loses nothing).
func encodeIDRecord(dst []byte, rec *idRecord) []byte {
	switch {
	case rec.Seq == 0:
		dst = append(dst, tagIDOutcome)
		dst = append(dst, rec.BodyHash[:]...)
		return append(dst, rec.Outcome...)
	case rec.BodyServed:
		return binary.AppendUvarint(append(dst, tagID), rec.Seq)
	}
	dst = append(dst, tagIDHash)
	dst = append(dst, rec.BodyHash[:]...)
	return binary.AppendUvarint(dst, rec.Seq)
}

// decodeIDRecord decodes an ids record. Of the seq forms it gives Seq (the
// caller rebuilds the outcome from the journal, and the body hash too when
// BodyServed), of the other Outcome, which aliases val.
func decodeIDRecord(val []byte) idRecord {
	var rec idRecord
	rest := val
	switch firstByte(val) {
	case tagID:
		rec.BodyServed = true
		rest = val[1:]
	case tagIDHash, tagIDOutcome:
		if len(val) < 1+bodyHashSize {
			fail("stored id record: %d bytes", len(val))
		}
		copy(rec.BodyHash[:], val[1:1+bodyHashSize])
		rest = val[1+bodyHashSize:]
		if val[0] == tagIDOutcome {
			rec.Outcome = rest
			return rec
		}
	default:
		fail("stored id record: tag %q", firstByte(val))
	}
	seq, n := binary.Uvarint(rest)
	if n != len(rest) || seq == 0 {
		fail("stored id record: malformed seq %x", rest)
	}
	rec.Seq = seq
	return rec
}
