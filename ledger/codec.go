package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// The internal records (parties, instruments, holdings, loans, prices, balance
// history, instruction ids) are stored in a compact binary form, not JSON:
// the state machine decodes and encodes thousands of them per batch, and JSON
// cost more than the rules. schema.go documents each layout. Every record is
// a function of the value alone, so equal states are equal bytes on every
// node: decimals are canonical (see putDecimal), times are UTC, lists keep
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
)

// bodyHashSize is the size of an instruction body hash in an ids record.
const bodyHashSize = 32

// recordWriter appends the fields of a record to b.
type recordWriter struct{ b []byte }

func (w *recordWriter) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *recordWriter) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }

func (w *recordWriter) str(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *recordWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// time writes seconds and nanoseconds since the Unix epoch; every time the
// state holds is UTC, and decoding gives it back in UTC.
func (w *recordWriter) time(t time.Time) {
	w.int(t.Unix())
	w.uint(uint64(t.Nanosecond()))
}

func (w *recordWriter) optTime(t *time.Time) {
	w.bool(t != nil)
	if t != nil {
		w.time(*t)
	}
}

// Kinds of a decimal's coefficient, in the low two bits of its header.
const (
	decSmall    = 0 // varint coefficient follows
	decBigPlus  = 1 // length-prefixed big-endian magnitude follows
	decBigMinus = 2 // same, negated
)

// decimal writes d in its canonical form: the coefficient and exponent that
// decimal.NewFromString(d.String()) would give, that is an integer at
// exponent 0, or else no trailing zero in the coefficient. Equal values are
// equal bytes whatever arithmetic produced them, and decoding gives the same
// representation the JSON layout gave. Header: uvarint(scale<<2 | kind),
// scale = -exponent >= 0.
func (w *recordWriter) decimal(d decimal.Decimal) {
	exp := d.Exponent()
	if d.NumDigits() <= 18 { // fits an int64 with room for the rescaling below
		c := d.CoefficientInt64()
		switch {
		case c == 0:
			exp = 0
		case exp > 0:
			for ; exp > 0 && c > -1e17 && c < 1e17; exp-- {
				c *= 10
			}
		default:
			for ; exp < 0 && c%10 == 0; exp++ {
				c /= 10
			}
		}
		if exp <= 0 {
			w.uint(uint64(-int64(exp))<<2 | decSmall)
			w.int(c)
			return
		}
	}
	w.bigDecimal(d)
}

func (w *recordWriter) bigDecimal(d decimal.Decimal) {
	c, exp := d.Coefficient(), d.Exponent()
	ten := big.NewInt(10)
	switch {
	case c.Sign() == 0:
		exp = 0
	case exp > 0:
		c.Mul(c, new(big.Int).Exp(ten, big.NewInt(int64(exp)), nil))
		exp = 0
	default:
		var q, r big.Int
		for exp < 0 {
			q.QuoRem(c, ten, &r)
			if r.Sign() != 0 {
				break
			}
			c.Set(&q)
			exp++
		}
	}
	kind := uint64(decBigPlus)
	if c.Sign() < 0 {
		kind = decBigMinus
	}
	if c.IsInt64() {
		kind = decSmall
	}
	w.uint(uint64(-int64(exp))<<2 | kind)
	if kind == decSmall {
		w.int(c.Int64())
		return
	}
	mag := c.Bytes()
	w.uint(uint64(len(mag)))
	w.b = append(w.b, mag...)
}

func (w *recordWriter) optDecimal(d *decimal.Decimal) {
	w.bool(d != nil)
	if d != nil {
		w.decimal(*d)
	}
}

// recordReader reads the fields of a record. Stored records are written by
// this package only, so a record that does not decode is a broken invariant:
// the reader asserts, as decodeJSON did.
type recordReader struct {
	b    []byte
	what string
}

func newRecordReader(b []byte, tag byte, what string) recordReader {
	if len(b) == 0 || b[0] != tag {
		fail("stored %s: tag %q, want %q", what, firstByte(b), tag)
	}
	return recordReader{b: b[1:], what: what}
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func (r *recordReader) fail(field string) {
	panic("ledger: assertion failed: stored " + r.what + ": truncated or malformed " + field)
}

func (r *recordReader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("uvarint")
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) int() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) bytes(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.fail("bytes")
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *recordReader) str() string { return string(r.bytes(r.uint())) }

// word reads a string that is usually one of a few (roles, statuses,
// jurisdictions), sharing one copy of those.
func (r *recordReader) word() string {
	b := r.bytes(r.uint())
	if w, ok := words[string(b)]; ok {
		return w
	}
	return string(b)
}

// words are the strings word shares: every role and status, and every
// two-letter jurisdiction. Built once; only read after.
var words = func() map[string]string {
	m := map[string]string{"": ""}
	for _, w := range []string{
		string(eligibility.RoleOperator), string(eligibility.RoleIssuer), string(eligibility.RoleCustodian),
		string(eligibility.RoleInvestor), string(eligibility.RoleAuditor), string(eligibility.RoleOracle),
		string(eligibility.StatusRetail), string(eligibility.StatusAccredited),
		string(eligibility.StatusQualifiedPurchaser), string(eligibility.StatusInstitutional),
	} {
		m[w] = w
	}
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			w := string([]rune{a, b})
			m[w] = w
		}
	}
	return m
}()

func (r *recordReader) bool() bool {
	b := r.bytes(1)[0]
	if b > 1 {
		r.fail("bool")
	}
	return b == 1
}

func (r *recordReader) time() time.Time {
	sec := r.int()
	nsec := r.uint()
	if nsec >= 1e9 {
		r.fail("time")
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (r *recordReader) optTime() *time.Time {
	if !r.bool() {
		return nil
	}
	t := r.time()
	return &t
}

func (r *recordReader) decimal() decimal.Decimal {
	h := r.uint()
	scale := h >> 2
	if scale > 1<<31 {
		r.fail("decimal scale")
	}
	exp := int32(-int64(scale))
	switch h & 3 {
	case decSmall:
		c := r.int()
		if c == 0 && exp == 0 {
			return zeroDecimal // most frozen amounts; decimals are never modified in place
		}
		return decimal.New(c, exp)
	case decBigPlus, decBigMinus:
		c := new(big.Int).SetBytes(r.bytes(r.uint()))
		if h&3 == decBigMinus {
			c.Neg(c)
		}
		return decimal.NewFromBigInt(c, exp)
	}
	r.fail("decimal kind")
	return decimal.Decimal{}
}

// zeroDecimal is 0 as decoding "0" gives it.
var zeroDecimal = decimal.New(0, 0)

func (r *recordReader) optDecimal() *decimal.Decimal {
	if !r.bool() {
		return nil
	}
	d := r.decimal()
	return &d
}

// done asserts the whole record was read.
func (r *recordReader) done() {
	if len(r.b) != 0 {
		r.fail("record length")
	}
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

// Party: tag, role, status, jurisdiction, kyc_expires_at?, custodian, frozen,
// created_at. The id is the key.
func encodeParty(dst []byte, p *transfer.Party) []byte {
	w := recordWriter{b: append(dst, tagParty)}
	w.str(string(p.Role))
	w.str(string(p.Status))
	w.str(p.Jurisdiction)
	w.optTime(p.KYCExpiresAt)
	w.str(p.Custodian)
	w.bool(p.Frozen)
	w.time(p.CreatedAt)
	return w.b
}

func decodeParty(key, val []byte) *transfer.Party {
	r := newRecordReader(val, tagParty, "party")
	p := &transfer.Party{ID: string(key)}
	p.Role = eligibility.Role(r.word())
	p.Status = eligibility.Status(r.word())
	p.Jurisdiction = r.word()
	p.KYCExpiresAt = r.optTime()
	p.Custodian = r.str()
	p.Frozen = r.bool()
	p.CreatedAt = r.time()
	r.done()
	return p
}

// Attribute flags of an instrument record.
const (
	attrCounterpartyIsPlatform = 1 << iota
	attrOutcomeControllable
	attrFXMajor
)

// Instrument: tag, name, issuer, decimals, max_supply?, regime,
// offering_date, attributes (underlying, payoff, embedded_leverage,
// expiry_days, economic_purpose, event_topic, flags), class, regulator,
// category, classification_reasons (count+1, 0 for none), paused, supply,
// holder_count, non_accredited_holders, created_at. The symbol is the key.
func encodeInstrument(dst []byte, in *transfer.Instrument) []byte {
	w := recordWriter{b: append(dst, tagInstrument)}
	w.str(in.Name)
	w.str(in.Issuer)
	w.int(int64(in.Decimals))
	w.optDecimal(in.MaxSupply)
	w.str(in.Regime)
	w.time(in.OfferingDate)
	a := &in.Attributes
	w.str(a.Underlying)
	w.str(a.Payoff)
	w.decimal(a.EmbeddedLeverage)
	w.int(int64(a.ExpiryDays))
	w.str(a.EconomicPurpose)
	w.str(a.EventTopic)
	var flags uint64
	if a.CounterpartyIsPlatform {
		flags |= attrCounterpartyIsPlatform
	}
	if a.OutcomeControllable {
		flags |= attrOutcomeControllable
	}
	if a.FXMajor {
		flags |= attrFXMajor
	}
	w.uint(flags)
	w.str(in.Class)
	w.str(in.Regulator)
	w.str(in.Category)
	// nil and empty differ in the JSON the API serves (null and []).
	if in.ClassificationReasons == nil {
		w.uint(0)
	} else {
		w.uint(uint64(len(in.ClassificationReasons)) + 1)
		for _, s := range in.ClassificationReasons {
			w.str(s)
		}
	}
	w.bool(in.Paused)
	w.decimal(in.Supply)
	w.int(int64(in.HolderCount))
	w.int(int64(in.NonAccreditedHolders))
	w.time(in.CreatedAt)
	return w.b
}

func decodeInstrument(key, val []byte) *transfer.Instrument {
	r := newRecordReader(val, tagInstrument, "instrument")
	in := &transfer.Instrument{Symbol: string(key)}
	in.Name = r.str()
	in.Issuer = r.str()
	in.Decimals = int32(r.int())
	in.MaxSupply = r.optDecimal()
	in.Regime = r.str()
	in.OfferingDate = r.time()
	a := &in.Attributes
	a.Underlying = r.str()
	a.Payoff = r.str()
	a.EmbeddedLeverage = r.decimal()
	a.ExpiryDays = int(r.int())
	a.EconomicPurpose = r.str()
	a.EventTopic = r.str()
	flags := r.uint()
	a.CounterpartyIsPlatform = flags&attrCounterpartyIsPlatform != 0
	a.OutcomeControllable = flags&attrOutcomeControllable != 0
	a.FXMajor = flags&attrFXMajor != 0
	in.Class = r.str()
	in.Regulator = r.str()
	in.Category = r.str()
	if n := r.uint(); n > 0 {
		if n-1 > uint64(len(r.b)) {
			r.fail("classification reasons")
		}
		in.ClassificationReasons = make([]string, n-1)
		for i := range in.ClassificationReasons {
			in.ClassificationReasons[i] = r.str()
		}
	}
	in.Paused = r.bool()
	in.Supply = r.decimal()
	in.HolderCount = int(r.int())
	in.NonAccreditedHolders = int(r.int())
	in.CreatedAt = r.time()
	r.done()
	return in
}

// Holding: tag, balance, frozen, lot count, lots (amount, acquired_at). The
// party and symbol are the key.
func encodeHolding(dst []byte, h *transfer.Holding) []byte {
	w := recordWriter{b: append(dst, tagHolding)}
	w.decimal(h.Balance)
	w.decimal(h.Frozen)
	w.uint(uint64(len(h.Lots)))
	for i := range h.Lots {
		w.decimal(h.Lots[i].Amount)
		w.time(h.Lots[i].AcquiredAt)
	}
	return w.b
}

func decodeHolding(party, symbol string, val []byte) *transfer.Holding {
	r := newRecordReader(val, tagHolding, "holding")
	h := &transfer.Holding{Party: party, Symbol: symbol}
	h.Balance = r.decimal()
	h.Frozen = r.decimal()
	if n := r.uint(); n > 0 { // none decodes as nil, as the omitted JSON field did
		if n > uint64(len(r.b)) {
			r.fail("lots")
		}
		h.Lots = make([]transfer.Lot, n)
		for i := range h.Lots {
			h.Lots[i].Amount = r.decimal()
			h.Lots[i].AcquiredAt = r.time()
		}
	}
	r.done()
	return h
}

func decodeHoldingKV(key, val []byte) *transfer.Holding {
	parts := splitKey(key, 2, "holding")
	return decodeHolding(parts[0], parts[1], val)
}

// Loan: tag, amount. Party, cash symbol and lender are the key.
func encodeLoan(dst []byte, l *transfer.Loan) []byte {
	w := recordWriter{b: append(dst, tagLoan)}
	w.decimal(l.Amount)
	return w.b
}

func decodeLoan(key, val []byte) transfer.Loan {
	parts := splitKey(key, 3, "loan")
	r := newRecordReader(val, tagLoan, "loan")
	l := transfer.Loan{Party: parts[0], Cash: parts[1], Lender: parts[2], Amount: r.decimal()}
	r.done()
	return l
}

// Price: tag, price, time. The symbol is the key.
func encodePrice(dst []byte, p *transfer.Price) []byte {
	w := recordWriter{b: append(dst, tagPrice)}
	w.decimal(p.Price)
	w.time(p.Time)
	return w.b
}

func decodePrice(key, val []byte) *transfer.Price {
	r := newRecordReader(val, tagPrice, "price")
	p := &transfer.Price{Symbol: string(key), Price: r.decimal(), Time: r.time()}
	r.done()
	return p
}

// History: tag, count, changes (symbol, party, before, after).
func encodeHistory(dst []byte, changes []balanceChange) []byte {
	w := recordWriter{b: append(dst, tagHistory)}
	w.uint(uint64(len(changes)))
	for i := range changes {
		c := &changes[i]
		w.str(c.Symbol)
		w.str(c.Party)
		w.decimal(c.Before)
		w.decimal(c.After)
	}
	return w.b
}

func decodeHistory(val []byte) []balanceChange {
	r := newRecordReader(val, tagHistory, "history")
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.fail("history count")
	}
	out := make([]balanceChange, n)
	for i := range out {
		out[i] = balanceChange{Symbol: r.str(), Party: r.str(), Before: r.decimal(), After: r.decimal()}
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
	w := recordWriter{b: append(dst, tagJournal, r.version)}
	w.uint(r.index)
	w.time(r.time)
	w.str(r.actor)
	switch r.status {
	case StatusAccepted:
		w.b = append(w.b, statusAccepted)
	case StatusRejected:
		w.b = append(w.b, statusRejected)
	default:
		w.b = append(w.b, statusOther)
		w.str(r.status)
	}
	w.uint(uint64(len(r.reasons)))
	for i := range r.reasons {
		w.reason(&r.reasons[i])
	}
	w.b = append(w.b, r.reasonForm)
	if r.reasonForm == reasonExplicit {
		w.reason(r.reason)
	}
	if r.binary {
		w.b = append(w.b, insBinary)
	} else {
		w.b = append(w.b, insJSON)
	}
	w.uint(uint64(len(r.instruction)))
	w.b = append(w.b, r.instruction...)
	if r.namesExplicit {
		w.b = append(w.b, namesExplicit)
		w.strs(r.parties)
		w.strs(r.symbols)
	} else if len(r.extraSymbols) > 0 {
		w.b = append(w.b, namesDerivedSymbols)
		w.strs(r.extra)
		w.strs(r.extraSymbols)
	} else {
		w.b = append(w.b, namesDerived)
		w.strs(r.extra)
	}
	return w.b
}

func (w *recordWriter) reason(r *eligibility.Reason) {
	w.str(string(r.Code))
	w.str(r.Rule)
	w.str(r.Message)
	w.str(r.ERC1066)
}

func (w *recordWriter) strs(list []string) {
	w.uint(uint64(len(list)))
	for _, s := range list {
		w.str(s)
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
	if rec.version = r.bytes(1)[0]; rec.version != HashV1 && rec.version != HashV2 {
		r.fail("hash version")
	}
	rec.index = r.uint()
	rec.time = r.time()
	rec.actor = r.word()
	switch r.bytes(1)[0] {
	case statusAccepted:
		rec.status = StatusAccepted
	case statusRejected:
		rec.status = StatusRejected
	case statusOther:
		rec.status = r.str()
	default:
		r.fail("status")
	}
	if n := r.uint(); n > 0 {
		if n > uint64(len(r.b)) {
			r.fail("reasons")
		}
		rec.reasons = make([]eligibility.Reason, n)
		for i := range rec.reasons {
			rec.reasons[i] = r.reason()
		}
	}
	switch rec.reasonForm = r.bytes(1)[0]; rec.reasonForm {
	case reasonFirst, reasonNone:
	case reasonExplicit:
		reason := r.reason()
		rec.reason = &reason
	default:
		r.fail("reason form")
	}
	switch r.bytes(1)[0] {
	case insBinary:
		rec.binary = true
	case insJSON:
	default:
		r.fail("instruction kind")
	}
	rec.instruction = r.bytes(r.uint())
	switch r.bytes(1)[0] {
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
	r.done()
	return rec, hash
}

func (r *recordReader) reason() eligibility.Reason {
	return eligibility.Reason{Code: eligibility.Code(r.str()), Rule: r.str(), Message: r.str(), ERC1066: r.str()}
}

func (r *recordReader) strs() []string {
	n := r.uint()
	if n == 0 {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("string list")
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
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
