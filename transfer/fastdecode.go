package transfer

import (
	"slices"
	"strconv"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/strtab"
)

// decodeFast decodes the canonical encoding (Encode) of the instructions the
// state machine sees most, without reflection: it is a quarter of what
// DecodeCanonical cost. It understands only a strict subset: the fields in
// Encode's order, no whitespace, strings of printable ASCII without escapes,
// amounts in the plain grammar, times in UTC as encoding/json writes them
// (2006-01-02T15:04:05.999999999Z), and only these fields: id, type, party
// (a register_party's, its fields in Encode's order), party_id,
// symbol, from, to, amount, legs, legal_reference, price, cash_symbol, lender,
// amount_per_unit, ratio, consideration (a leg's too), record_seq, cash_in_lieu. ok is false for anything else, valid or not, and
// the caller decodes with encoding/json, which decides. When ok is true, ins
// is exactly what decodeStrict gives (FuzzDecodeFast holds it to that).
func decodeFast(data []byte) (ins Instruction, ok bool) {
	return decodeFastIn(data, nil)
}

// decodeFastIn is decodeFast in arena's memory (nil: its own allocations).
func decodeFastIn(data []byte, arena *DecodeArena) (ins Instruction, ok bool) {
	ins, ok, _ = decodeFastEncoded(data, arena)
	return ins, ok
}

// decodeFastEncoded is decodeFastIn, and reports too whether data is
// exactly AppendEncode of what it decoded (encoded), which a caller would
// otherwise learn by encoding and comparing. encoded is false, and the
// caller compares, when the fast decoder accepted a form AppendEncode does
// not write: a string holding <, > or & (which it escapes), an omitempty
// string field present and empty (which it omits), a time whose fraction
// ends in a zero (which it trims), and a record_seq or cash_in_lieu (which
// AppendEncode leaves to encoding/json). FuzzDecodeFast holds encoded to
// AppendEncode's bytes.
func decodeFastEncoded(data []byte, arena *DecodeArena) (ins Instruction, ok, encoded bool) {
	p := fastParser{b: data, arena: arena, encoded: true}
	if ins, ok = p.instruction(); !ok {
		return Instruction{}, false, false
	}
	return ins, true, p.encoded
}

// instruction reads the whole input as one instruction.
func (p *fastParser) instruction() (ins Instruction, ok bool) {
	if !p.lit(`{"id":`) {
		return Instruction{}, false
	}
	if ins.ID, ok = p.str(); !ok {
		return Instruction{}, false
	}
	if !p.lit(`,"type":`) {
		return Instruction{}, false
	}
	if ins.Type, ok = p.typ(); !ok {
		return Instruction{}, false
	}
	last := -1
	for !p.lit(`}`) {
		if !p.lit(`,"`) {
			return Instruction{}, false
		}
		field, ok := p.field()
		// Encode writes fields in struct order, each once.
		if !ok || field <= last {
			return Instruction{}, false
		}
		last = field
		switch field {
		case fastParty:
			ins.Party, ok = p.party()
		case fastPartyID:
			ins.PartyID, ok = p.omitEmpty()
		case fastSymbol:
			ins.Symbol, ok = p.omitEmpty()
		case fastFrom:
			ins.From, ok = p.omitEmpty()
		case fastTo:
			ins.To, ok = p.omitEmpty()
		case fastAmount:
			ins.Amount, ok = p.amountPtr()
		case fastLegs:
			ins.Legs, ok = p.legs()
		case fastLegalReference:
			ins.LegalReference, ok = p.omitEmpty()
		case fastPrice:
			ins.Price, ok = p.amountPtr()
		case fastCashSymbol:
			ins.CashSymbol, ok = p.omitEmpty()
		case fastLender:
			ins.Lender, ok = p.omitEmpty()
		case fastAmountPerUnit:
			ins.AmountPerUnit, ok = p.amountPtr()
		case fastRatio:
			ins.Ratio, ok = p.amountPtr()
		case fastConsideration:
			ins.Consideration, ok = p.amountPtr()
		case fastRecordSeq:
			ins.RecordSeq, ok = p.uint()
			p.encoded = false
		case fastCashInLieu:
			ins.CashInLieu, ok = p.cashInLieu()
			p.encoded = false
		}
		if !ok {
			return Instruction{}, false
		}
	}
	if p.i != len(p.b) {
		return Instruction{}, false
	}
	return ins, true
}

// Fields decodeFast understands, numbered in Encode's order.
const (
	fastParty = iota
	fastPartyID
	fastSymbol
	fastFrom
	fastTo
	fastAmount
	fastLegs
	fastLegalReference
	fastPrice
	fastCashSymbol
	fastLender
	fastAmountPerUnit
	fastRatio
	fastConsideration
	fastRecordSeq
	fastCashInLieu
)

var fastFields = strtab.New(map[string]int{
	"party": fastParty, "party_id": fastPartyID, "symbol": fastSymbol, "from": fastFrom, "to": fastTo,
	"amount": fastAmount, "legs": fastLegs, "legal_reference": fastLegalReference,
	"price": fastPrice, "cash_symbol": fastCashSymbol, "lender": fastLender,
	"amount_per_unit": fastAmountPerUnit, "ratio": fastRatio, "consideration": fastConsideration,
	"record_seq": fastRecordSeq, "cash_in_lieu": fastCashInLieu,
})

// knownTypes maps a type's bytes to its constant without allocating.
var knownTypes = func() *strtab.Table[Type] {
	m := map[string]Type{}
	for t := range fieldsByType {
		m[string(t)] = t
	}
	return strtab.New(m)
}()

type fastParser struct {
	b []byte
	i int
	// s is b as one string, made on the first string field: the fields
	// are slices of it, one allocation for all of an instruction's ids,
	// symbols and amounts rather than one each.
	s string
	// arena, when set, holds s, the legs and the amounts.
	arena *DecodeArena
	// encoded stays true while what was read is as AppendEncode writes it
	// (decodeFastEncoded).
	encoded bool
}

// lit consumes s if the input continues with it.
func (p *fastParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// raw consumes a string of printable ASCII other than quote and backslash,
// quotes included, and returns its contents: exactly what encoding/json
// decodes such a string to.
func (p *fastParser) raw() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	for j := p.i + 1; j < len(p.b); j++ {
		switch strBytes[p.b[j]] {
		case strQuote:
			s := p.b[p.i+1 : j]
			p.i = j + 1
			return s, true
		case strRefused:
			return nil, false
		case strEscaped:
			p.encoded = false
		}
	}
	return nil, false
}

// What raw makes of a byte of a string: most are plain; the quote ends it;
// control bytes, the backslash and non-ASCII send the string to
// encoding/json; <, > and & it reads, but AppendEncode writes them escaped.
const (
	strPlain = iota
	strQuote
	strRefused
	strEscaped
)

var strBytes = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == '"':
			t[c] = strQuote
		case c < 0x20 || c > 0x7e || c == '\\':
			t[c] = strRefused
		case c == '<' || c == '>' || c == '&':
			t[c] = strEscaped
		}
	}
	return t
}()

// omitEmpty is str for a field AppendEncode omits when empty.
func (p *fastParser) omitEmpty() (string, bool) {
	s, ok := p.str()
	if s == "" {
		p.encoded = false
	}
	return s, ok
}

func (p *fastParser) str() (string, bool) {
	start := p.i + 1
	s, ok := p.raw()
	if !ok {
		return "", false
	}
	return p.slice(start, len(s)), true
}

// slice returns b[start:start+n] as a string sharing p.s.
func (p *fastParser) slice(start, n int) string {
	if p.s == "" {
		if p.arena != nil {
			p.s = p.arena.String(p.b)
		} else {
			p.s = string(p.b)
		}
	}
	return p.s[start : start+n]
}

func (p *fastParser) typ() (Type, bool) {
	s, ok := p.raw()
	if !ok {
		return "", false
	}
	if t, known := knownTypes.GetBytes(s); known {
		return t, true
	}
	return Type(s), true
}

// field consumes a key (its opening quote already consumed) and the colon.
func (p *fastParser) field() (int, bool) {
	for j := p.i; j < len(p.b); j++ {
		if p.b[j] == '"' {
			f, known := fastFields.GetBytes(p.b[p.i:j])
			if !known || j+1 >= len(p.b) || p.b[j+1] != ':' {
				return 0, false
			}
			p.i = j + 2
			return f, true
		}
	}
	return 0, false
}

// amount consumes an amount; one outside the plain grammar is left to
// encoding/json, whose error names it.
func (p *fastParser) amount() (Amount, bool) {
	start := p.i + 1
	s, ok := p.raw()
	if !ok || !plainDecimal(s) {
		return "", false
	}
	return Amount(p.slice(start, len(s))), true
}

func (p *fastParser) amountPtr() (*Amount, bool) {
	a, ok := p.amount()
	if !ok {
		return nil, false
	}
	if p.arena != nil {
		return p.arena.amount(a), true
	}
	own := a // a of its own, or a would escape on the arena's path too
	return &own, true
}

func (p *fastParser) legs() ([]Leg, bool) {
	if !p.lit(`[`) {
		return nil, false
	}
	if p.lit(`]`) {
		return []Leg{}, true // present and empty, as encoding/json decodes it
	}
	// Gathered here, then copied to the arena, whose legs are never
	// written once handed out.
	var buf [4]Leg
	legs := buf[:0]
	done := func() ([]Leg, bool) {
		if p.arena != nil {
			return p.arena.legSlice(legs), true
		}
		return slices.Clone(legs), true
	}
	for {
		var l Leg
		var ok bool
		if !p.lit(`{"symbol":`) {
			return nil, false
		}
		if l.Symbol, ok = p.str(); !ok || !p.lit(`,"from":`) {
			return nil, false
		}
		if l.From, ok = p.str(); !ok || !p.lit(`,"to":`) {
			return nil, false
		}
		if l.To, ok = p.str(); !ok || !p.lit(`,"amount":`) {
			return nil, false
		}
		if l.Amount, ok = p.amount(); !ok {
			return nil, false
		}
		if p.lit(`,"consideration":`) {
			if l.Consideration, ok = p.amountPtr(); !ok {
				return nil, false
			}
		}
		if !p.lit(`}`) {
			return nil, false
		}
		legs = append(legs, l)
		if p.lit(`]`) {
			return done()
		}
		if !p.lit(`,`) || len(legs) > MaxLegs { // more legs fail Validate; let encoding/json say so
			return nil, false
		}
	}
}

// uint consumes a JSON number that is a uint64 as encoding/json reads one:
// digits without a leading zero (0 itself aside), sign, fraction or
// exponent, within range; anything else is left to encoding/json.
func (p *fastParser) uint() (*uint64, bool) {
	j := p.i
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		j++
	}
	digits := p.b[p.i:j]
	if len(digits) == 0 || (len(digits) > 1 && digits[0] == '0') {
		return nil, false
	}
	n, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		return nil, false
	}
	p.i = j
	return &n, true
}

// cashInLieu consumes {"cash_symbol":S,"price":P}, its fields in Encode's
// order.
func (p *fastParser) cashInLieu() (*CashInLieu, bool) {
	var l CashInLieu
	var ok bool
	if !p.lit(`{"cash_symbol":`) {
		return nil, false
	}
	if l.CashSymbol, ok = p.str(); !ok || !p.lit(`,"price":`) {
		return nil, false
	}
	if l.Price, ok = p.amount(); !ok || !p.lit(`}`) {
		return nil, false
	}
	return &l, true
}

// party consumes a register_party's party: id and role, then any of status,
// jurisdiction, kyc_expires_at, custodian, annual_income and net_worth, in
// Encode's order.
func (p *fastParser) party() (*PartySpec, bool) {
	var ps PartySpec
	var role, status string
	str := func(field string, dst *string) bool {
		if !p.lit(field) {
			return true // absent
		}
		var ok bool
		*dst, ok = p.omitEmpty()
		return ok
	}
	amount := func(field string, dst **Amount) bool {
		if !p.lit(field) {
			return true
		}
		var ok bool
		*dst, ok = p.amountPtr()
		return ok
	}
	if !p.lit(`{"id":`) {
		return nil, false
	}
	var ok bool
	if ps.ID, ok = p.str(); !ok || !p.lit(`,"role":`) {
		return nil, false
	}
	if role, ok = p.str(); !ok || !str(`,"status":`, &status) || !str(`,"jurisdiction":`, &ps.Jurisdiction) {
		return nil, false
	}
	if p.lit(`,"kyc_expires_at":`) {
		if ps.KYCExpiresAt, ok = p.time(); !ok {
			return nil, false
		}
	}
	if !str(`,"custodian":`, &ps.Custodian) || !amount(`,"annual_income":`, &ps.AnnualIncome) ||
		!amount(`,"net_worth":`, &ps.NetWorth) || !p.lit(`}`) {
		return nil, false
	}
	ps.Role, ps.Status = eligibility.Role(role), eligibility.Status(status)
	return &ps, true
}

// time consumes a time in UTC as encoding/json writes one
// (2006-01-02T15:04:05, then a fraction of one to nine digits or none, then
// Z); any other form, valid or not, is left to encoding/json.
func (p *fastParser) time() (*time.Time, bool) {
	s, ok := p.raw()
	if !ok || !utcTime(s) {
		return nil, false
	}
	if fractionEndsInZero(s) {
		p.encoded = false // AppendEncode trims the fraction's zeros
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return nil, false
	}
	return &t, true
}

// utcTime reports whether s is digits and separators in the form
// 2006-01-02T15:04:05[.fraction]Z.
func utcTime(s []byte) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(layout)+1 || s[len(s)-1] != 'Z' {
		return false
	}
	for i := range len(layout) {
		if c := s[i]; layout[i] == 'd' && !isDigit(c) || layout[i] != 'd' && c != layout[i] {
			return false
		}
	}
	frac := s[len(layout) : len(s)-1]
	if len(frac) == 0 {
		return true
	}
	if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
		return false
	}
	for _, c := range frac[1:] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// fractionEndsInZero reports whether the time s (utcTime's form) has a
// fraction whose last digit is 0.
func fractionEndsInZero(s []byte) bool {
	const seconds = len("2006-01-02T15:04:05")
	return len(s) > seconds+1 && s[len(s)-2] == '0'
}
