package transfer

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/strtab"
	"github.com/tokenledger/tokenledger/internal/wire"
)

// The binary encoding of an instruction is what the ledger's journal stores
// and hashes: a fraction of the JSON's size, and read without a parser.
// Layout (version 1), fields with no names and no padding, in package
// wire's primitives (uvarint, varint, string, time, X? for an optional X);
// a string is as in the JSON value, and a time decodes in UTC, which
// Validate gives every instruction time:
//
//	1            version byte
//	id           string
//	type         uvarint code (binaryTypes), or 0 then the type as a string
//	fields       uvarint bit set: bit i is presentFields()[i], the fields
//	             the JSON carries (non-empty strings, non-nil pointers, a
//	             non-nil legs list)
//	then each field present, in that order:
//	  party            string id, role, status, jurisdiction; time?
//	                   kyc_expires_at; string custodian
//	  instrument       string symbol, name, issuer; varint decimals; string?
//	                   max_supply; string regime; time? offering_date;
//	                   attributes: string underlying, payoff; string?
//	                   embedded_leverage; varint expiry_days; string
//	                   economic_purpose, event_topic; uvarint flags (1
//	                   counterparty_is_platform, 2 outcome_controllable, 4
//	                   fx_major, 8 perpetual, 16 listed, 32
//	                   currency); string currency when flag 32
//	  party_id, status, jurisdiction                      string
//	  kyc_expires_at                                      time
//	  symbol, from, to, amount                            string
//	  acquired_at                                         time
//	  legs             uvarint n, n × string symbol, from, to, amount
//	  legal_reference, price, cash_symbol, lender,
//	  amount_per_unit, ratio, rulebook                    string
//	  effective_at                                        time
//	  annual_income, net_worth, consideration             string
//	  legs' considerations   uvarint n (the number of legs), n × string?
//	  party's figures        string? annual_income, string? net_worth
//	  import           no bytes: the bit is the value (true)
//	  record_seq       uvarint
//	  cash_in_lieu     string cash_symbol, string price
//	  name, max_supply                                    string
//	  affiliate_of     uvarint n, n × string
//	  instruction_id                                      string
//
// The fields from effective_at on came later: each has a bit of its own, after every field
// before it, so an instruction without them has the bytes it had before.
// Amounts keep their exact text ("1.50" is not "1.5": both are canonical
// JSON). The encoding is a function of the instruction's value, so equal
// instructions are equal bytes, and for an instruction that passed Validate
// Encode(decoded) equals Encode(original): FuzzInstructionBinary and
// TestInstructionBinaryMatchesEncode hold it to that.
const binaryVersion = 1

// binaryTypes numbers the types in the encoding; codes are never reused.
var binaryTypes = [...]Type{
	1: TypeRegisterParty, 2: TypeUpdateParty, 3: TypeCreateInstrument, 4: TypeMint,
	5: TypeBurn, 6: TypeTransfer, 7: TypeForceTransfer, 8: TypeFreeze, 9: TypeUnfreeze,
	10: TypePause, 11: TypeUnpause, 12: TypeRecover, 13: TypeSetPrice, 14: TypeBorrow,
	15: TypeRepay, 16: TypeDistribute, 17: TypeSplit, 18: TypeSetRulebook,
	19: TypeCloseOut,
	20: TypeUpdateInstrument, 21: TypeApprove, 22: TypeCancel,
}

// binaryTypeCodes finds a type's code (strtab: a map's hash of the type was
// a few per cent of the encoding).
var binaryTypeCodes = func() *strtab.Table[uint64] {
	m := make(map[string]uint64, len(binaryTypes))
	for code, t := range binaryTypes {
		if t != "" {
			m[string(t)] = uint64(code)
		}
	}
	return strtab.New(m)
}()

// binaryTypeCode is t's code, 0 for a type without one.
func binaryTypeCode(t Type) uint64 {
	code, _ := binaryTypeCodes.Get(string(t))
	return code
}

// Bits of the flags of an instrument's attributes.
const (
	binaryCounterpartyIsPlatform = 1 << iota
	binaryOutcomeControllable
	binaryFXMajor
	binaryPerpetual
	binaryListed   // the instrument's listed
	binaryCurrency // the instrument's currency follows the flags, as a string
)

// binaryFlagBits is how many flag bits an instrument may carry.
const binaryFlagBits = 6

// AppendInstruction appends the binary encoding of ins to b.
func AppendInstruction(b []byte, ins Instruction) []byte {
	w := binWriter{wire.Writer{B: append(b, binaryVersion)}}
	w.Str(ins.ID)
	if code, ok := binaryTypeCodes.Get(string(ins.Type)); ok {
		w.Uvarint(code)
	} else {
		w.Uvarint(0)
		w.Str(string(ins.Type))
	}
	w.Uvarint(ins.presentSet())
	if p := ins.Party; p != nil {
		w.Str(p.ID)
		w.Str(string(p.Role))
		w.Str(string(p.Status))
		w.Str(p.Jurisdiction)
		w.OptTime(p.KYCExpiresAt)
		w.Str(p.Custodian)
	}
	if in := ins.Instrument; in != nil {
		w.Str(in.Symbol)
		w.Str(in.Name)
		w.Str(in.Issuer)
		w.Varint(int64(in.Decimals))
		w.optAmount(in.MaxSupply)
		w.Str(in.Regime)
		w.OptTime(in.OfferingDate)
		a := &in.Attributes
		w.Str(a.Underlying)
		w.Str(a.Payoff)
		w.optAmount(a.EmbeddedLeverage)
		w.Varint(int64(a.ExpiryDays))
		w.Str(a.EconomicPurpose)
		w.Str(a.EventTopic)
		var flags uint64
		if a.CounterpartyIsPlatform {
			flags |= binaryCounterpartyIsPlatform
		}
		if a.OutcomeControllable {
			flags |= binaryOutcomeControllable
		}
		if a.FXMajor {
			flags |= binaryFXMajor
		}
		if a.Perpetual {
			flags |= binaryPerpetual
		}
		if in.Listed {
			flags |= binaryListed
		}
		if in.Currency != "" {
			flags |= binaryCurrency
		}
		w.Uvarint(flags)
		if in.Currency != "" {
			w.Str(in.Currency)
		}
	}
	w.strIf(ins.PartyID)
	if ins.Status != nil {
		w.Str(string(*ins.Status))
	}
	if ins.Jurisdiction != nil {
		w.Str(*ins.Jurisdiction)
	}
	if ins.KYCExpiresAt != nil {
		w.Time(*ins.KYCExpiresAt)
	}
	w.strIf(ins.Symbol)
	w.strIf(ins.From)
	w.strIf(ins.To)
	w.amountIf(ins.Amount)
	if ins.AcquiredAt != nil {
		w.Time(*ins.AcquiredAt)
	}
	if ins.Legs != nil {
		w.Uvarint(uint64(len(ins.Legs)))
		for i := range ins.Legs {
			l := &ins.Legs[i]
			w.Str(l.Symbol)
			w.Str(l.From)
			w.Str(l.To)
			w.Str(string(l.Amount))
		}
	}
	w.strIf(ins.LegalReference)
	w.amountIf(ins.Price)
	w.strIf(ins.CashSymbol)
	w.strIf(ins.Lender)
	w.amountIf(ins.AmountPerUnit)
	w.amountIf(ins.Ratio)
	w.strIf(ins.Rulebook)
	if ins.EffectiveAt != nil {
		w.Time(*ins.EffectiveAt)
	}
	w.amountIf(ins.AnnualIncome)
	w.amountIf(ins.NetWorth)
	w.amountIf(ins.Consideration)
	if ins.legConsiderations() {
		w.Uvarint(uint64(len(ins.Legs)))
		for i := range ins.Legs {
			w.optAmount(ins.Legs[i].Consideration)
		}
	}
	if p := ins.Party; p != nil && (p.AnnualIncome != nil || p.NetWorth != nil) {
		w.optAmount(p.AnnualIncome)
		w.optAmount(p.NetWorth)
	}
	if ins.RecordSeq != nil {
		w.Uvarint(*ins.RecordSeq)
	}
	if l := ins.CashInLieu; l != nil {
		w.Str(l.CashSymbol)
		w.Str(string(l.Price))
	}
	w.strIf(ins.Name)
	w.amountIf(ins.MaxSupply)
	if ins.AffiliateOf != nil {
		w.Uvarint(uint64(len(*ins.AffiliateOf)))
		for _, s := range *ins.AffiliateOf {
			w.Str(s)
		}
	}
	w.strIf(ins.InstructionID)
	return w.B
}

// InstructionIDBinary is the id of an instruction in AppendInstruction's
// form, read without decoding the rest: a check of every journal entry's
// id need not decode every instruction. It aliases b.
func InstructionIDBinary(b []byte) ([]byte, error) {
	r := binReader{wire.NewReader(b)}
	if v := r.Byte(); v != binaryVersion && r.Err() == nil {
		return nil, fmt.Errorf("%w: binary instruction version %d", ErrMalformed, v)
	}
	id := r.StrBytes()
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: binary instruction: %w", ErrMalformed, err)
	}
	return id, nil
}

// DecodeInstructionBinary decodes what AppendInstruction wrote. Bytes that
// are not exactly one encoding (truncated, trailing data, an unknown version
// or field bit) are an error wrapping ErrMalformed. It does not Validate.
func DecodeInstructionBinary(b []byte) (ins Instruction, err error) {
	r := binReader{wire.NewReader(b)}
	if v := r.Byte(); v != binaryVersion && r.Err() == nil {
		return Instruction{}, fmt.Errorf("%w: binary instruction version %d", ErrMalformed, v)
	}
	ins.ID = r.Str()
	if code := r.Uvarint(); code == 0 {
		// Only a type without a code is written as a string.
		if ins.Type = Type(r.Str()); binaryTypeCode(ins.Type) != 0 {
			r.Fail("type")
		}
	} else if code < uint64(len(binaryTypes)) {
		ins.Type = binaryTypes[code]
	} else {
		r.Fail("type")
	}
	var none Instruction
	fields := len(none.presentFields())
	set := r.Uvarint()
	if set>>fields != 0 {
		r.Fail("field set")
	}
	has := func(i int) bool { return set&(1<<i) != 0 }
	if has(0) {
		p := &PartySpec{}
		p.ID = r.Str()
		p.Role = eligibility.Role(r.Str())
		p.Status = eligibility.Status(r.Str())
		p.Jurisdiction = r.Str()
		p.KYCExpiresAt = r.OptTime()
		p.Custodian = r.Str()
		ins.Party = p
	}
	if has(1) {
		in := &InstrumentSpec{}
		in.Symbol = r.Str()
		in.Name = r.Str()
		in.Issuer = r.Str()
		in.Decimals = int32(r.Varint())
		in.MaxSupply = r.optAmount()
		in.Regime = r.Str()
		in.OfferingDate = r.OptTime()
		a := &in.Attributes
		a.Underlying = r.Str()
		a.Payoff = r.Str()
		a.EmbeddedLeverage = r.optAmount()
		a.ExpiryDays = int(r.Varint())
		a.EconomicPurpose = r.Str()
		a.EventTopic = r.Str()
		flags := r.Uvarint()
		if flags>>binaryFlagBits != 0 {
			r.Fail("attribute flags")
		}
		a.CounterpartyIsPlatform = flags&binaryCounterpartyIsPlatform != 0
		a.OutcomeControllable = flags&binaryOutcomeControllable != 0
		a.FXMajor = flags&binaryFXMajor != 0
		a.Perpetual = flags&binaryPerpetual != 0
		in.Listed = flags&binaryListed != 0
		if flags&binaryCurrency != 0 {
			if in.Currency = r.Str(); in.Currency == "" {
				r.Fail("currency")
			}
		}
		ins.Instrument = in
	}
	ins.PartyID = r.strIf(has(2))
	if has(3) {
		s := eligibility.Status(r.Str())
		ins.Status = &s
	}
	if has(4) {
		s := r.Str()
		ins.Jurisdiction = &s
	}
	if has(5) {
		t := r.Time()
		ins.KYCExpiresAt = &t
	}
	ins.Symbol = r.strIf(has(6))
	ins.From = r.strIf(has(7))
	ins.To = r.strIf(has(8))
	ins.Amount = r.amountIf(has(9))
	if has(10) {
		t := r.Time()
		ins.AcquiredAt = &t
	}
	if has(11) {
		n := r.Uvarint()
		if n > uint64(r.Len()) { // each leg takes at least four bytes
			r.Fail("legs")
			n = 0
		}
		ins.Legs = make([]Leg, n)
		for i := range ins.Legs {
			l := &ins.Legs[i]
			l.Symbol, l.From, l.To, l.Amount = r.Str(), r.Str(), r.Str(), Amount(r.Str())
		}
	}
	ins.LegalReference = r.strIf(has(12))
	ins.Price = r.amountIf(has(13))
	ins.CashSymbol = r.strIf(has(14))
	ins.Lender = r.strIf(has(15))
	ins.AmountPerUnit = r.amountIf(has(16))
	ins.Ratio = r.amountIf(has(17))
	ins.Rulebook = r.strIf(has(18))
	if has(19) {
		t := r.Time()
		ins.EffectiveAt = &t
	}
	ins.AnnualIncome = r.amountIf(has(20))
	ins.NetWorth = r.amountIf(has(21))
	ins.Consideration = r.amountIf(has(22))
	if has(23) {
		if n := r.Uvarint(); n != uint64(len(ins.Legs)) {
			r.Fail("leg considerations")
		} else {
			for i := range ins.Legs {
				ins.Legs[i].Consideration = r.optAmount()
			}
		}
	}
	if has(24) {
		if ins.Party == nil {
			r.Fail("party figures")
		} else {
			ins.Party.AnnualIncome = r.optAmount()
			ins.Party.NetWorth = r.optAmount()
		}
	}
	ins.Import = has(25)
	if has(26) {
		n := r.Uvarint()
		ins.RecordSeq = &n
	}
	if has(27) {
		ins.CashInLieu = &CashInLieu{CashSymbol: r.Str(), Price: Amount(r.Str())}
	}
	ins.Name = r.strIf(has(28))
	ins.MaxSupply = r.amountIf(has(29))
	if has(30) {
		n := r.Uvarint()
		if n > uint64(r.Len()) { // each symbol takes at least one byte
			r.Fail("affiliate_of")
			n = 0
		}
		list := make([]string, n)
		for i := range list {
			list[i] = r.Str()
		}
		ins.AffiliateOf = &list
	}
	ins.InstructionID = r.strIf(has(31))
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("length")
	}
	if err := r.err(); err != nil {
		return Instruction{}, err
	}
	// A string field present but empty is not what AppendInstruction writes:
	// presence of a string field means non-empty.
	for i, f := range ins.presentFields() {
		if f.set != has(i) {
			return Instruction{}, fmt.Errorf("%w: binary instruction field %d present but empty", ErrMalformed, i)
		}
	}
	return ins, nil
}

// binWriter adds the instruction's optional fields to wire's primitives.
type binWriter struct{ wire.Writer }

// strIf writes s if it is set (non-empty): presence is in the field set.
func (w *binWriter) strIf(s string) {
	if s != "" {
		w.Str(s)
	}
}

// amountIf writes a if it is set (non-nil): presence is in the field set.
func (w *binWriter) amountIf(a *Amount) {
	if a != nil {
		w.Str(string(*a))
	}
}

func (w *binWriter) optAmount(a *Amount) {
	w.Bool(a != nil)
	if a != nil {
		w.Str(string(*a))
	}
}

// binReader reads fields; after the first that does not decode every read
// gives a zero value, and err reports it.
type binReader struct{ wire.Reader }

func (r *binReader) err() error {
	if err := r.Err(); err != nil {
		return fmt.Errorf("%w: binary instruction: %v", ErrMalformed, err)
	}
	return nil
}

func (r *binReader) strIf(present bool) string {
	if !present {
		return ""
	}
	return r.Str()
}

func (r *binReader) amountIf(present bool) *Amount {
	if !present {
		return nil
	}
	a := Amount(r.Str())
	return &a
}

func (r *binReader) optAmount() *Amount {
	return r.amountIf(r.Bool())
}

// AppendEncode appends Encode(ins) to b. The shapes the state machine sees
// most (no nested party or instrument, no times, printable strings that need
// no escaping) are written by hand; anything else goes through Encode.
// TestInstructionBinaryMatchesEncode and FuzzInstructionBinary hold it to
// Encode's bytes.
func AppendEncode(b []byte, ins Instruction) []byte {
	if !encodePlain(&ins) {
		return append(b, Encode(ins)...)
	}
	b = append(b, `{"id":"`...)
	b = append(b, ins.ID...)
	b = append(b, `","type":"`...)
	b = append(b, ins.Type...)
	b = append(b, '"')
	if ps := ins.Party; ps != nil {
		b = append(b, `,"party":{"id":"`...)
		b = append(b, ps.ID...)
		b = append(b, `","role":"`...)
		b = append(b, ps.Role...)
		b = append(b, '"')
		b = appendField(b, "status", string(ps.Status))
		b = appendField(b, "jurisdiction", ps.Jurisdiction)
		if ps.KYCExpiresAt != nil {
			b = append(b, `,"kyc_expires_at":"`...)
			b = ps.KYCExpiresAt.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		}
		b = appendField(b, "custodian", ps.Custodian)
		b = appendAmount(b, "annual_income", ps.AnnualIncome)
		b = appendAmount(b, "net_worth", ps.NetWorth)
		b = append(b, '}')
	}
	b = appendField(b, "party_id", ins.PartyID)
	b = appendField(b, "symbol", ins.Symbol)
	b = appendField(b, "from", ins.From)
	b = appendField(b, "to", ins.To)
	b = appendAmount(b, "amount", ins.Amount)
	if ins.Legs != nil {
		b = append(b, `,"legs":[`...)
		for i, l := range ins.Legs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"symbol":"`...)
			b = append(b, l.Symbol...)
			b = append(b, `","from":"`...)
			b = append(b, l.From...)
			b = append(b, `","to":"`...)
			b = append(b, l.To...)
			b = append(b, `","amount":"`...)
			b = append(b, l.Amount...)
			b = append(b, '"')
			b = appendAmount(b, "consideration", l.Consideration)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendField(b, "legal_reference", ins.LegalReference)
	b = appendAmount(b, "price", ins.Price)
	b = appendField(b, "cash_symbol", ins.CashSymbol)
	b = appendField(b, "lender", ins.Lender)
	b = appendAmount(b, "amount_per_unit", ins.AmountPerUnit)
	b = appendAmount(b, "ratio", ins.Ratio)
	b = appendAmount(b, "consideration", ins.Consideration)
	return append(b, '}')
}

// encodePlain reports whether AppendEncode writes ins by hand.
func encodePlain(ins *Instruction) bool {
	if ps := ins.Party; ps != nil {
		for _, s := range [...]string{ps.ID, string(ps.Role), string(ps.Status), ps.Jurisdiction, ps.Custodian} {
			if !jsonPlain(s) {
				return false
			}
		}
		for _, a := range [...]*Amount{ps.AnnualIncome, ps.NetWorth} {
			if a != nil && !jsonPlain(string(*a)) {
				return false
			}
		}
		// encoding/json writes a time as AppendFormat does, but refuses a
		// year outside 0-9999; and only UTC is written here.
		if t := ps.KYCExpiresAt; t != nil && (t.Location() != time.UTC || t.Year() < 0 || t.Year() > 9999) {
			return false
		}
	}
	if ins.Instrument != nil || ins.Status != nil || ins.Jurisdiction != nil ||
		ins.KYCExpiresAt != nil || ins.AcquiredAt != nil || ins.Rulebook != "" || ins.EffectiveAt != nil ||
		ins.AnnualIncome != nil || ins.NetWorth != nil || ins.Import ||
		ins.RecordSeq != nil || ins.CashInLieu != nil ||

		ins.Name != "" || ins.MaxSupply != nil || ins.AffiliateOf != nil || ins.InstructionID != "" {
		return false
	}
	for _, s := range [...]string{ins.ID, string(ins.Type), ins.PartyID, ins.Symbol, ins.From, ins.To, ins.LegalReference, ins.CashSymbol, ins.Lender} {
		if !jsonPlain(s) {
			return false
		}
	}
	for _, a := range [...]*Amount{ins.Amount, ins.Price, ins.AmountPerUnit, ins.Ratio, ins.Consideration} {
		if a != nil && !jsonPlain(string(*a)) {
			return false
		}
	}
	for _, l := range ins.Legs {
		if !jsonPlain(l.Symbol) || !jsonPlain(l.From) || !jsonPlain(l.To) || !jsonPlain(string(l.Amount)) {
			return false
		}
		if l.Consideration != nil && !jsonPlain(string(*l.Consideration)) {
			return false
		}
	}
	return true
}

// jsonPlain reports whether encoding/json writes s as is between quotes:
// printable ASCII other than the quote, the backslash and the HTML-sensitive
// <, > and &, which it escapes.
func jsonPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendField writes an omitempty string field whose value is plain.
func appendField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = append(b, v...)
	return append(b, '"')
}

func appendAmount(b []byte, name string, a *Amount) []byte {
	if a == nil {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return strconv.AppendQuote(b, string(*a)) // plain: no escapes, so Quote writes it as is
}
