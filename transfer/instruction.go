package transfer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/strtab"
)

// Type names an instruction.
type Type string

// The instruction types of API.md.
const (
	TypeRegisterParty    Type = "register_party"
	TypeUpdateParty      Type = "update_party"
	TypeCreateInstrument Type = "create_instrument"
	TypeMint             Type = "mint"
	TypeBurn             Type = "burn"
	TypeTransfer         Type = "transfer"
	TypeForceTransfer    Type = "force_transfer"
	TypeFreeze           Type = "freeze"
	TypeUnfreeze         Type = "unfreeze"
	TypePause            Type = "pause"
	TypeUnpause          Type = "unpause"
	TypeRecover          Type = "recover"
	TypeSetPrice         Type = "set_price"
	TypeBorrow           Type = "borrow"
	TypeRepay            Type = "repay"
	TypeDistribute       Type = "distribute"
	TypeSplit            Type = "split"
	TypeSetRulebook      Type = "set_rulebook"
	TypeCloseOut         Type = "close_out"
	TypeUpdateInstrument Type = "update_instrument"
	TypeApprove          Type = "approve"
	TypeCancel           Type = "cancel"
)

// Limits on an instruction's shape.
const (
	MaxLegs         = 16
	MaxRulebookSize = 256 << 10
	MaxTextLen      = 256
)

// fieldsByType lists the JSON fields each type accepts besides id and type.
// A field of another type is as unknown as a typo: it would silently do nothing.
var fieldsByType = map[Type][]string{
	TypeRegisterParty:    {"party"},
	TypeUpdateParty:      {"party_id", "status", "jurisdiction", "kyc_expires_at", "annual_income", "net_worth", "affiliate_of"},
	TypeCreateInstrument: {"instrument"},
	TypeMint:             {"symbol", "to", "amount", "acquired_at", "consideration", "import"},
	TypeBurn:             {"symbol", "from", "amount", "legal_reference"},
	TypeTransfer:         {"legs"},
	TypeForceTransfer:    {"legs", "legal_reference"},
	TypeFreeze:           {"party_id", "symbol", "amount"},
	TypeUnfreeze:         {"party_id", "symbol", "amount"},
	TypePause:            {"symbol"},
	TypeUnpause:          {"symbol"},
	TypeRecover:          {"from", "to"},
	TypeSetPrice:         {"symbol", "price"},
	TypeBorrow:           {"party_id", "cash_symbol", "amount", "lender"},
	TypeRepay:            {"party_id", "cash_symbol", "amount", "lender"},
	TypeDistribute:       {"symbol", "cash_symbol", "amount_per_unit", "record_seq"},
	TypeSplit:            {"symbol", "ratio", "record_seq", "cash_in_lieu"},
	TypeSetRulebook:      {"rulebook", "effective_at"},
	TypeCloseOut:         {"party_id", "symbol", "amount", "lender"},
	TypeUpdateInstrument: {"symbol", "name", "max_supply"},
	TypeApprove:          {"instruction_id"},
	TypeCancel:           {"instruction_id"},
}

// Types lists every instruction type, sorted.
func Types() []Type {
	out := make([]Type, 0, len(fieldsByType))
	for t := range fieldsByType {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Valid reports whether t is a known type.
func (t Type) Valid() bool { _, ok := fieldsByType[t]; return ok }

// Instruction is one client instruction. Only the fields of its Type are set.
type Instruction struct {
	ID   string `json:"id"`
	Type Type   `json:"type"`

	Party      *PartySpec      `json:"party,omitempty"`
	Instrument *InstrumentSpec `json:"instrument,omitempty"`

	PartyID      string              `json:"party_id,omitempty"`
	Status       *eligibility.Status `json:"status,omitempty"`
	Jurisdiction *string             `json:"jurisdiction,omitempty"`
	KYCExpiresAt *time.Time          `json:"kyc_expires_at,omitempty"`

	Symbol     string     `json:"symbol,omitempty"`
	From       string     `json:"from,omitempty"`
	To         string     `json:"to,omitempty"`
	Amount     *Amount    `json:"amount,omitempty"`
	AcquiredAt *time.Time `json:"acquired_at,omitempty"`

	Legs           []Leg  `json:"legs,omitempty"`
	LegalReference string `json:"legal_reference,omitempty"`

	Price         *Amount `json:"price,omitempty"`
	CashSymbol    string  `json:"cash_symbol,omitempty"`
	Lender        string  `json:"lender,omitempty"`
	AmountPerUnit *Amount `json:"amount_per_unit,omitempty"`
	Ratio         *Amount `json:"ratio,omitempty"`
	Rulebook      string  `json:"rulebook,omitempty"`
	// EffectiveAt schedules a set_rulebook: the rulebook takes force from
	// the first batch whose time is at or after it (nil: at once).
	EffectiveAt *time.Time `json:"effective_at,omitempty"`
	// AnnualIncome and NetWorth update an investor's figures (update_party),
	// in the base currency.
	AnnualIncome *Amount `json:"annual_income,omitempty"`
	NetWorth     *Amount `json:"net_worth,omitempty"`
	// Consideration is the total a mint's recipient paid, in the base
	// currency: the value of the investment investment limits count.
	Consideration *Amount `json:"consideration,omitempty"`
	// Import marks a mint that brings an existing register in (operator
	// only, with AcquiredAt): the holding existed before the ledger, so
	// receive rules and holder limits, which govern new issuance, do not
	// apply; KYC and the holder's existence still do.
	Import bool `json:"import,omitempty"`
	// RecordSeq is the record point of a distribute or split: the holders
	// and balances as they stood just after that journal entry (nil: the
	// entry before the instruction).
	RecordSeq *uint64 `json:"record_seq,omitempty"`
	// CashInLieu pays a split's fractional units in cash at a price;
	// without it, fractions are cancelled.
	CashInLieu *CashInLieu `json:"cash_in_lieu,omitempty"`

	// Name and MaxSupply are what update_instrument changes.
	Name      string  `json:"name,omitempty"`
	MaxSupply *Amount `json:"max_supply,omitempty"`
	// AffiliateOf replaces the symbols whose issuer an update_party's party
	// controls or is controlled by (Rule 144(a)(1)); an empty list clears it.
	AffiliateOf *[]string `json:"affiliate_of,omitempty"`
	// InstructionID names the pending instruction an approve or cancel
	// decides.
	InstructionID string `json:"instruction_id,omitempty"`
}

// CashInLieu is the cash a split pays for fractional units: price per unit
// of the instrument, in cash_symbol.
type CashInLieu struct {
	CashSymbol string `json:"cash_symbol"`
	Price      Amount `json:"price"`
}

// Leg is one movement of a transfer; a transfer applies all legs or none.
type Leg struct {
	Symbol string `json:"symbol"`
	From   string `json:"from"`
	To     string `json:"to"`
	Amount Amount `json:"amount"`
	// Consideration is the total the receiver paid for the leg's units, in
	// the base currency (investment limits); transfer only.
	Consideration *Amount `json:"consideration,omitempty"`
}

// PartySpec is the party a register_party instruction creates.
type PartySpec struct {
	ID           string             `json:"id"`
	Role         eligibility.Role   `json:"role"`
	Status       eligibility.Status `json:"status,omitempty"`
	Jurisdiction string             `json:"jurisdiction,omitempty"`
	KYCExpiresAt *time.Time         `json:"kyc_expires_at,omitempty"`
	Custodian    string             `json:"custodian,omitempty"`
	// AnnualIncome and NetWorth size an investor's investment limits, in
	// the base currency; absent: unknown, which counts as 0.
	AnnualIncome *Amount `json:"annual_income,omitempty"`
	NetWorth     *Amount `json:"net_worth,omitempty"`
}

// InstrumentSpec is the instrument a create_instrument instruction creates.
type InstrumentSpec struct {
	Symbol       string         `json:"symbol"`
	Name         string         `json:"name"`
	Issuer       string         `json:"issuer"`
	Decimals     int32          `json:"decimals"`
	MaxSupply    *Amount        `json:"max_supply,omitempty"`
	Regime       string         `json:"regime"`
	OfferingDate *time.Time     `json:"offering_date,omitempty"`
	Attributes   AttributesSpec `json:"attributes"`
	// Currency is a cash instrument's ISO 4217 currency; empty: the base
	// currency of the rulebook.
	Currency string `json:"currency,omitempty"`
	// Listed marks an instrument listed on a national exchange.
	Listed bool `json:"listed,omitempty"`
}

// AttributesSpec is eligibility.Attributes as it travels in JSON, with the
// leverage as a checked decimal string so no exponent ever reaches the decimal
// package.
type AttributesSpec struct {
	Underlying             string  `json:"underlying"`
	Payoff                 string  `json:"payoff"`
	EmbeddedLeverage       *Amount `json:"embedded_leverage,omitempty"`
	ExpiryDays             int     `json:"expiry_days"`
	EconomicPurpose        string  `json:"economic_purpose"`
	EventTopic             string  `json:"event_topic,omitempty"`
	CounterpartyIsPlatform bool    `json:"counterparty_is_platform,omitempty"`
	OutcomeControllable    bool    `json:"outcome_controllable,omitempty"`
	FXMajor                bool    `json:"fx_major,omitempty"`
	Perpetual              bool    `json:"perpetual,omitempty"`
}

// MaxEmbeddedLeverage bounds the leverage a product may declare.
var maxEmbeddedLeverage = decimal.NewFromInt(1000)

// Attributes converts the spec; embedded_leverage defaults to 1.
func (a AttributesSpec) Attributes() (eligibility.Attributes, error) {
	lev := decimal.NewFromInt(1)
	if a.EmbeddedLeverage != nil {
		d, err := a.EmbeddedLeverage.Decimal(MaxDecimals)
		if err != nil {
			return eligibility.Attributes{}, fmt.Errorf("attributes.embedded_leverage: %w", err)
		}
		lev = d
	}
	if lev.LessThan(decimal.NewFromInt(1)) || lev.GreaterThan(maxEmbeddedLeverage) {
		return eligibility.Attributes{}, invalid("attributes.embedded_leverage must be between 1 and %s", maxEmbeddedLeverage)
	}
	if a.ExpiryDays < 0 || a.ExpiryDays > 36500 {
		return eligibility.Attributes{}, invalid("attributes.expiry_days must be 0 (none) to 36500")
	}
	if len(a.EventTopic) > MaxTextLen || len(a.Underlying) > MaxTextLen || len(a.Payoff) > MaxTextLen || len(a.EconomicPurpose) > MaxTextLen {
		return eligibility.Attributes{}, invalid("attribute values are at most %d bytes", MaxTextLen)
	}
	return eligibility.Attributes{
		Underlying:             a.Underlying,
		Payoff:                 a.Payoff,
		EmbeddedLeverage:       lev,
		ExpiryDays:             a.ExpiryDays,
		EconomicPurpose:        a.EconomicPurpose,
		EventTopic:             a.EventTopic,
		CounterpartyIsPlatform: a.CounterpartyIsPlatform,
		OutcomeControllable:    a.OutcomeControllable,
		FXMajor:                a.FXMajor,
		Perpetual:              a.Perpetual,
	}, nil
}

// Errors of decoding and shape validation. Each is wrapped with the detail.
var (
	ErrMalformed    = errors.New("transfer: malformed instruction")
	ErrUnknownField = errors.New("transfer: unknown field")
	ErrInvalid      = errors.New("transfer: invalid instruction")
)

// The grammars of ids and symbols. ValidID and ValidSymbol check them by hand
// (the state machine checks several per instruction, and a regexp costs ten
// times more); TestValidIDMatchesRegexp holds them equal.
const (
	idPattern     = `^[A-Za-z0-9._:-]{1,128}$`
	symbolPattern = `^[A-Z0-9][A-Z0-9.-]{0,31}$`
)

var (
	jurisdiction = regexp.MustCompile(`^[A-Z]{2}$`)
	currency     = regexp.MustCompile(`^[A-Z]{3}$`)
)

// ValidID reports whether s is a valid instruction or party id.
func ValidID(s string) bool {
	if len(s) < 1 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isUpperOrDigit(c) && !(c >= 'a' && c <= 'z') && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

// ValidSymbol reports whether s is a valid instrument symbol.
func ValidSymbol(s string) bool {
	if len(s) < 1 || len(s) > 32 || !isUpperOrDigit(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isUpperOrDigit(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isUpperOrDigit(c byte) bool { return (c >= 'A' && c <= 'Z') || isDigit(c) }

// Decode parses one instruction strictly: unknown fields (including fields of
// another type), wrong JSON types, malformed amounts and trailing data are
// errors wrapping ErrMalformed, ErrUnknownField, ErrBadAmount or ErrInvalid.
// The result has passed Validate.
func Decode(data []byte) (Instruction, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return Instruction{}, fmt.Errorf("%w: %v", ErrMalformed, jsonDetail(err))
	}
	var typ Type
	if raw, ok := keys["type"]; ok {
		if err := json.Unmarshal(raw, &typ); err != nil {
			return Instruction{}, fmt.Errorf("%w: type must be a string", ErrMalformed)
		}
	}
	allowed, ok := fieldsByType[typ]
	if !ok {
		return Instruction{}, fmt.Errorf("%w: unknown type %.40q", ErrInvalid, string(typ))
	}
	// The fields of other types in struct order, as checkDecoded reports
	// them, then fields of no type in key order: the error names the same
	// field every time.
	var none Instruction
	for _, f := range none.presentFields() {
		if _, ok := keys[f.name]; ok && !slices.Contains(allowed, f.name) {
			return Instruction{}, fmt.Errorf("%w: %.40q is not a field of %s", ErrUnknownField, f.name, typ)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if k != "id" && k != "type" && !slices.Contains(allowed, k) {
			return Instruction{}, fmt.Errorf("%w: %.40q is not a field of %s", ErrUnknownField, k, typ)
		}
	}
	ins, err := decodeStrict(data)
	if err != nil {
		return Instruction{}, err
	}
	if err := ins.Validate(); err != nil {
		return Instruction{}, err
	}
	if typ == TypeCreateInstrument {
		if err := checkInstrumentAttributes(keys["instrument"]); err != nil {
			return Instruction{}, err
		}
	}
	return ins, nil
}

// DecodeCanonical decodes an instruction the API already decoded strictly and
// re-encoded with Encode, as the state machine receives it: one strict pass,
// then the fields present are checked against the type. On canonical input it
// accepts exactly what Decode accepts, at half the cost.
func DecodeCanonical(data []byte) (Instruction, error) {
	ins, ok := decodeFast(data)
	if !ok {
		var err error
		if ins, err = decodeStrict(data); err != nil {
			return Instruction{}, err
		}
	}
	return checkDecoded(ins)
}

// DecodeEncoded is Decode, and returns Encode of what it decoded too. A body
// that already is its own canonical encoding (Encode's field order, no
// whitespace), as a client that writes fields in API.md's order sends,
// skips Decode's two reflective passes: the fast decoder reads it, and one
// encoding, which the caller needs anyway, proves it canonical.
// FuzzDecodeEncoded holds both paths to Decode's results and errors.
func DecodeEncoded(data []byte) (Instruction, []byte, error) {
	if ins, ok, encoded := decodeFastEncoded(data, nil); ok {
		// AppendEncode writes what Encode does (FuzzInstructionBinary holds
		// it to that) without encoding/json's reflection, which was most of
		// what a request's decoding cost the leader; where the fast decoder
		// saw the body is its encoding, it is not encoded again. A
		// canonical body is as long as its encoding: one allocation.
		var enc []byte
		if encoded {
			enc = bytes.Clone(data)
		} else if enc = AppendEncode(make([]byte, 0, len(data)), ins); !bytes.Equal(enc, data) {
			enc = nil
		}
		if enc != nil {
			ins, err := checkDecoded(ins)
			if err != nil {
				return Instruction{}, nil, err
			}
			return ins, enc, nil
		}
	}
	ins, err := Decode(data)
	if err != nil {
		return Instruction{}, nil, err
	}
	return ins, AppendEncode(nil, ins), nil
}

// checkDecoded refuses the fields ins's type does not have and runs
// Validate. For a canonical encoding, whose keys are exactly the fields set,
// it refuses what Decode's key check refuses.
func checkDecoded(ins Instruction) (Instruction, error) {
	allowed, ok := allowedSets.Get(string(ins.Type))
	if !ok {
		return Instruction{}, fmt.Errorf("%w: unknown type %.40q", ErrInvalid, string(ins.Type))
	}
	// The first field not allowed in presentFields' order, as a loop over
	// them would name it.
	if extra := ins.presentSet() &^ allowed; extra != 0 {
		name := presentFieldNames[bits.TrailingZeros64(extra)]
		return Instruction{}, fmt.Errorf("%w: %.40q is not a field of %s", ErrUnknownField, name, ins.Type)
	}
	if err := ins.Validate(); err != nil {
		return Instruction{}, err
	}
	return ins, nil
}

type presentField struct {
	name string
	set  bool
}

// presentFields tells, for each type-specific field, whether it is set: a
// field's name and bit of presentSet.
func (ins *Instruction) presentFields() (out [32]presentField) {
	set := ins.presentSet()
	for i, name := range presentFieldNames {
		out[i] = presentField{name, set&(1<<i) != 0}
	}
	return out
}

// presentFieldNames names presentSet's bits, in its order. Fields added to
// nested objects after the binary encoding was fixed have a bit each after
// every other field (a leg's consideration under "legs", a party's incomes
// under "party"), so that instructions without them keep their bytes.
var presentFieldNames = [32]string{
	"party", "instrument", "party_id", "status", "jurisdiction", "kyc_expires_at",
	"symbol", "from", "to", "amount", "acquired_at", "legs",
	"legal_reference", "price", "cash_symbol", "lender", "amount_per_unit", "ratio",
	"rulebook", "effective_at", "annual_income", "net_worth", "consideration", "legs",
	"party", "import", "record_seq", "cash_in_lieu", "name", "max_supply",
	"affiliate_of", "instruction_id",
}

// allowedSets is fieldsByType as bit sets over presentFields' order: a
// field named twice there (legs, party) is allowed under both bits.
var allowedSets = func() *strtab.Table[uint64] {
	m := make(map[string]uint64, len(fieldsByType))
	for t, allowed := range fieldsByType {
		var set uint64
		for i, name := range presentFieldNames {
			if slices.Contains(allowed, name) {
				set |= 1 << i
			}
		}
		m[string(t)] = set
	}
	return strtab.New(m)
}()

// presentSet has bit i set when the field presentFieldNames[i] is:
// checkDecoded and AppendInstruction ask it of every instruction, and
// building the names each time cost more than the checks. TestPresentSet
// holds each bit to its field's name.
func (ins *Instruction) presentSet() uint64 {
	return bit(0, ins.Party != nil) | bit(1, ins.Instrument != nil) | bit(2, ins.PartyID != "") |
		bit(3, ins.Status != nil) | bit(4, ins.Jurisdiction != nil) | bit(5, ins.KYCExpiresAt != nil) |
		bit(6, ins.Symbol != "") | bit(7, ins.From != "") | bit(8, ins.To != "") |
		bit(9, ins.Amount != nil) | bit(10, ins.AcquiredAt != nil) | bit(11, ins.Legs != nil) |
		bit(12, ins.LegalReference != "") | bit(13, ins.Price != nil) | bit(14, ins.CashSymbol != "") |
		bit(15, ins.Lender != "") | bit(16, ins.AmountPerUnit != nil) | bit(17, ins.Ratio != nil) |
		bit(18, ins.Rulebook != "") | bit(19, ins.EffectiveAt != nil) | bit(20, ins.AnnualIncome != nil) |
		bit(21, ins.NetWorth != nil) | bit(22, ins.Consideration != nil) | bit(23, ins.legConsiderations()) |
		bit(24, ins.Party != nil && (ins.Party.AnnualIncome != nil || ins.Party.NetWorth != nil)) |
		bit(25, ins.Import) | bit(26, ins.RecordSeq != nil) | bit(27, ins.CashInLieu != nil) |
		bit(28, ins.Name != "") | bit(29, ins.MaxSupply != nil) | bit(30, ins.AffiliateOf != nil) |
		bit(31, ins.InstructionID != "")
}

func bit(i uint, set bool) uint64 {
	if set {
		return 1 << i
	}
	return 0
}

// legConsiderations reports whether any leg names a consideration.
func (ins *Instruction) legConsiderations() bool {
	for i := range ins.Legs {
		if ins.Legs[i].Consideration != nil {
			return true
		}
	}
	return false
}

// decodeStrict decodes into Instruction refusing unknown nested fields.
func decodeStrict(data []byte) (Instruction, error) {
	var ins Instruction
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ins); err != nil {
		if errors.Is(err, ErrBadAmount) {
			return Instruction{}, err
		}
		if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
			return Instruction{}, fmt.Errorf("%w: %s", ErrUnknownField, strings.TrimPrefix(msg, "json: unknown field "))
		}
		return Instruction{}, fmt.Errorf("%w: %v", ErrMalformed, jsonDetail(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Instruction{}, fmt.Errorf("%w: trailing data after the instruction", ErrMalformed)
	}
	return ins, nil
}

// jsonDetail turns encoding/json errors into messages without Go type names.
func jsonDetail(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %s has the wrong JSON type (%s)", te.Field, te.Value)
		}
		return fmt.Sprintf("wrong JSON type (%s)", te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return "times must be RFC 3339, e.g. 2026-01-02T15:04:05Z"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of JSON"
	}
	return "invalid JSON"
}

// Encode gives the canonical bytes of an instruction: the same instruction
// always encodes the same way, so bodies can be compared and hashed.
func Encode(ins Instruction) []byte {
	b, err := json.Marshal(ins)
	assert(err == nil, "encode instruction: %v", err)
	return b
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Validate checks what can be checked without state: ids, symbols, required
// fields and amount grammar. Scale and existence are checked against state.
func (ins *Instruction) Validate() error {
	if !ValidID(ins.ID) {
		return invalid("id must match [A-Za-z0-9._:-]{1,128}")
	}
	need := func(name, v string) error {
		if v == "" {
			return invalid("%s is required for %s", name, ins.Type)
		}
		return nil
	}
	needID := func(name, v string) error {
		if err := need(name, v); err != nil {
			return err
		}
		if !ValidID(v) {
			return invalid("%s %.40q is not a valid party id", name, v)
		}
		return nil
	}
	needSymbol := func(name, v string) error {
		if err := need(name, v); err != nil {
			return err
		}
		if !ValidSymbol(v) {
			return invalid("%s %.40q is not a valid symbol ([A-Z0-9][A-Z0-9.-]{0,31})", name, v)
		}
		return nil
	}
	needAmount := func(name string, a *Amount) error {
		if a == nil {
			return invalid("%s is required for %s", name, ins.Type)
		}
		return nil
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	ins.normalizeTimes()
	switch ins.Type {
	case TypeRegisterParty:
		if ins.Party == nil {
			return invalid("party is required")
		}
		add(ins.Party.validate())
	case TypeUpdateParty:
		add(needID("party_id", ins.PartyID))
		if ins.Status == nil && ins.Jurisdiction == nil && ins.KYCExpiresAt == nil && ins.AnnualIncome == nil && ins.NetWorth == nil && ins.AffiliateOf == nil {
			add(invalid("update_party needs at least one of status, jurisdiction, kyc_expires_at, annual_income, net_worth, affiliate_of"))
		}
		if ins.AffiliateOf != nil {
			add(validAffiliateOf(*ins.AffiliateOf))
		}
		add(baseAmount("annual_income", ins.AnnualIncome))
		add(baseAmount("net_worth", ins.NetWorth))
		if ins.Status != nil && !ins.Status.Valid() {
			add(invalid("status %.40q is not one of retail, accredited, qualified_purchaser, institutional", string(*ins.Status)))
		}
		if ins.Jurisdiction != nil && !jurisdiction.MatchString(*ins.Jurisdiction) {
			add(invalid("jurisdiction must be an ISO 3166-1 alpha-2 code like \"US\""))
		}
	case TypeCreateInstrument:
		if ins.Instrument == nil {
			return invalid("instrument is required")
		}
		add(ins.Instrument.validate())
	case TypeMint:
		add(needSymbol("symbol", ins.Symbol))
		add(needID("to", ins.To))
		add(needAmount("amount", ins.Amount))
		add(baseAmount("consideration", ins.Consideration))
		if ins.Import && ins.AcquiredAt == nil {
			add(invalid("a mint with import: true needs acquired_at, the date the holding was acquired"))
		}
	case TypeBurn:
		add(needSymbol("symbol", ins.Symbol))
		add(needID("from", ins.From))
		add(needAmount("amount", ins.Amount))
		if len(ins.LegalReference) > MaxTextLen {
			add(invalid("legal_reference is longer than %d bytes", MaxTextLen))
		}
	case TypeUpdateInstrument:
		add(needSymbol("symbol", ins.Symbol))
		if ins.Name == "" && ins.MaxSupply == nil {
			add(invalid("update_instrument needs name or max_supply"))
		}
		if len(ins.Name) > MaxTextLen {
			add(invalid("name is longer than %d bytes", MaxTextLen))
		}
	case TypeApprove, TypeCancel:
		add(needID("instruction_id", ins.InstructionID))
	case TypeTransfer, TypeForceTransfer:
		if len(ins.Legs) == 0 || len(ins.Legs) > MaxLegs {
			add(invalid("legs must hold 1 to %d legs", MaxLegs))
		}
		for i, l := range ins.Legs {
			if !ValidSymbol(l.Symbol) || !ValidID(l.From) || !ValidID(l.To) || l.Amount == "" {
				add(invalid("leg %d needs a valid symbol, from, to and amount", i))
			} else if l.From == l.To {
				add(invalid("leg %d moves from %s to itself", i, l.From))
			}
			if l.Consideration != nil && ins.Type == TypeForceTransfer {
				add(invalid("leg %d: consideration is for transfer legs only; a force_transfer is not a sale", i))
			}
			if l.Consideration != nil { // the field's name is formatted only when there is one
				add(baseAmount(fmt.Sprintf("legs[%d].consideration", i), l.Consideration))
			}
		}
		if ins.Type == TypeForceTransfer {
			add(need("legal_reference", ins.LegalReference))
			if len(ins.LegalReference) > MaxTextLen {
				add(invalid("legal_reference is longer than %d bytes", MaxTextLen))
			}
		}
	case TypeFreeze, TypeUnfreeze:
		add(needID("party_id", ins.PartyID))
		if ins.Symbol != "" {
			add(needSymbol("symbol", ins.Symbol))
		}
		if ins.Amount != nil && ins.Symbol == "" {
			add(invalid("amount needs a symbol"))
		}
	case TypePause, TypeUnpause:
		add(needSymbol("symbol", ins.Symbol))
	case TypeRecover:
		add(needID("from", ins.From))
		add(needID("to", ins.To))
		if ins.From == ins.To {
			add(invalid("recover needs two different parties"))
		}
	case TypeSetPrice:
		add(needSymbol("symbol", ins.Symbol))
		add(needAmount("price", ins.Price))
	case TypeBorrow, TypeRepay:
		add(needID("party_id", ins.PartyID))
		add(needSymbol("cash_symbol", ins.CashSymbol))
		add(needAmount("amount", ins.Amount))
		if ins.Lender != "" && !ValidID(ins.Lender) {
			add(invalid("lender %.40q is not a valid party id", ins.Lender))
		}
	case TypeDistribute:
		add(needSymbol("symbol", ins.Symbol))
		add(needSymbol("cash_symbol", ins.CashSymbol))
		add(needAmount("amount_per_unit", ins.AmountPerUnit))
	case TypeSplit:
		add(needSymbol("symbol", ins.Symbol))
		add(needAmount("ratio", ins.Ratio))
		if l := ins.CashInLieu; l != nil {
			add(needSymbol("cash_in_lieu.cash_symbol", l.CashSymbol))
			add(needAmount("cash_in_lieu.price", &l.Price))
		}
	case TypeCloseOut:
		add(needID("party_id", ins.PartyID))
		add(needSymbol("symbol", ins.Symbol))
		add(needAmount("amount", ins.Amount))
		if ins.Lender != "" && !ValidID(ins.Lender) {
			add(invalid("lender %.40q is not a valid party id", ins.Lender))
		}
	case TypeSetRulebook:
		add(need("rulebook", ins.Rulebook))
		if len(ins.Rulebook) > MaxRulebookSize {
			add(invalid("rulebook is larger than %d bytes", MaxRulebookSize))
		}
	default:
		return invalid("unknown type %.40q", string(ins.Type))
	}
	return errors.Join(errs...)
}

func (ins *Instruction) normalizeTimes() {
	utc := func(t *time.Time) {
		if t != nil {
			*t = t.UTC()
		}
	}
	utc(ins.KYCExpiresAt)
	utc(ins.AcquiredAt)
	utc(ins.EffectiveAt)
	if ins.Party != nil {
		utc(ins.Party.KYCExpiresAt)
	}
	if ins.Instrument != nil {
		utc(ins.Instrument.OfferingDate)
	}
}

func (p *PartySpec) validate() error {
	if !ValidID(p.ID) {
		return invalid("party.id must match [A-Za-z0-9._:-]{1,128}")
	}
	if !p.Role.Valid() {
		return invalid("party.role %.40q is not one of operator, issuer, custodian, investor, auditor, oracle", string(p.Role))
	}
	if p.Role != eligibility.RoleInvestor {
		if p.Status != "" || p.KYCExpiresAt != nil || p.Custodian != "" || p.AnnualIncome != nil || p.NetWorth != nil {
			return invalid("status, kyc_expires_at, custodian, annual_income and net_worth are for investors only")
		}
		if p.Jurisdiction != "" && !jurisdiction.MatchString(p.Jurisdiction) {
			return invalid("party.jurisdiction must be an ISO 3166-1 alpha-2 code like \"US\"")
		}
		return nil
	}
	if !p.Status.Valid() {
		return invalid("an investor needs status: retail, accredited, qualified_purchaser or institutional")
	}
	if !jurisdiction.MatchString(p.Jurisdiction) {
		return invalid("an investor needs jurisdiction, an ISO 3166-1 alpha-2 code like \"US\"")
	}
	if p.KYCExpiresAt == nil {
		return invalid("an investor needs kyc_expires_at")
	}
	if !ValidID(p.Custodian) {
		return invalid("an investor needs custodian, the custodian party holding the account")
	}
	if err := baseAmount("party.annual_income", p.AnnualIncome); err != nil {
		return err
	}
	return baseAmount("party.net_worth", p.NetWorth)
}

// baseAmount checks an optional amount in the base currency: a plain
// decimal from 0 to 10^30 with at most MaxDecimals places.
func baseAmount(field string, a *Amount) error {
	if a == nil {
		return nil
	}
	if _, err := ParseAmount(string(*a), MaxDecimals); err != nil {
		return invalid("%s: %v", field, err)
	}
	return nil
}

func (s *InstrumentSpec) validate() error {
	switch {
	case !ValidSymbol(s.Symbol):
		return invalid("instrument.symbol must match [A-Z0-9][A-Z0-9.-]{0,31}")
	case s.Name == "" || len(s.Name) > MaxTextLen:
		return invalid("instrument.name must be 1 to %d bytes", MaxTextLen)
	case !ValidID(s.Issuer):
		return invalid("instrument.issuer must be a party id")
	case s.Decimals < 0 || s.Decimals > MaxDecimals:
		return invalid("instrument.decimals must be 0 to %d", MaxDecimals)
	case s.Regime == "":
		return invalid("instrument.regime is required")
	}
	if _, err := s.Attributes.Attributes(); err != nil {
		return err
	}
	if s.Currency != "" && !currency.MatchString(s.Currency) {
		return invalid("instrument.currency must be an ISO 4217 code like \"JPY\"")
	}
	if s.MaxSupply != nil {
		if _, err := ParsePositive(string(*s.MaxSupply), s.Decimals); err != nil {
			return fmt.Errorf("instrument.max_supply: %w", err)
		}
	}
	return nil
}
