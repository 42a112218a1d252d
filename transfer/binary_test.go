package transfer

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
)

// TestInstructionBinaryMatchesEncode checks, for random valid instructions of
// every type, that the binary encoding round-trips to the same canonical
// JSON, encodes again to the same bytes, and that AppendEncode writes
// Encode's bytes.
func TestInstructionBinaryMatchesEncode(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	valid := map[Type]int{}
	for i := 0; i < 20_000; i++ {
		ins := randomInstruction(r)
		if err := ins.Validate(); err != nil {
			continue
		}
		valid[ins.Type]++
		checkBinaryRoundTrip(t, ins)
	}
	for _, typ := range Types() {
		if valid[typ] == 0 {
			t.Errorf("no valid %s among the random instructions", typ)
		}
	}
}

func TestInstructionBinaryEqualValuesEqualBytes(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	elsewhere := at.In(time.FixedZone("x", 3600))
	a := Instruction{ID: "u", Type: TypeUpdateParty, PartyID: "p", KYCExpiresAt: &at}
	b := Instruction{ID: "u", Type: TypeUpdateParty, PartyID: "p", KYCExpiresAt: &elsewhere}
	if got, want := AppendInstruction(nil, b), AppendInstruction(nil, a); !bytes.Equal(got, want) {
		t.Errorf("the same instant in another zone encodes as %x, want %x", got, want)
	}
}

func TestDecodeInstructionBinaryRefuses(t *testing.T) {
	good := AppendInstruction(nil, Instruction{ID: "m", Type: TypeMint, Symbol: "A", To: "b", Amount: ptr(Amount("1"))})
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"other version", append([]byte{2}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(bytes.Clone(good), 0)},
		{"unknown type code", []byte{1, 1, 'm', 99, 0}},
		{"known type as a string", []byte{1, 1, 'm', 0, 4, 'm', 'i', 'n', 't', 0}},
		{"unknown field bit", []byte{1, 1, 'm', 4, 0x80, 0x80, 0x80, 0x01}},
		{"empty string present", []byte{1, 1, 'm', 10, 1 << 2, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if ins, err := DecodeInstructionBinary(tc.b); err == nil {
				t.Errorf("DecodeInstructionBinary(%x) = %+v, want an error", tc.b, ins)
			}
		})
	}
}

// FuzzInstructionBinary decodes JSON instructions and holds the binary
// encoding to them: it decodes back to the same canonical JSON and encodes
// to the same bytes.
func FuzzInstructionBinary(f *testing.F) {
	addSeeds(f)
	addInstructionFiles(f)
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		if ins := randomInstruction(r); ins.Validate() == nil {
			f.Add(Encode(ins))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, err := Decode(data)
		if err != nil {
			return
		}
		checkBinaryRoundTrip(t, ins)
	})
}

// FuzzDecodeInstructionBinary feeds arbitrary bytes to the decoder: it must
// not panic, and what it accepts must encode to an encoding that decodes to
// the same value.
func FuzzDecodeInstructionBinary(f *testing.F) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 100; i++ {
		f.Add(AppendInstruction(nil, randomInstruction(r)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, err := DecodeInstructionBinary(data)
		if err != nil {
			return
		}
		if id, err := InstructionIDBinary(data); err != nil || string(id) != ins.ID {
			t.Fatalf("InstructionIDBinary(%x) = %q, %v; the instruction decodes with id %q", data, id, err, ins.ID)
		}
		b := AppendInstruction(nil, ins)
		again, err := DecodeInstructionBinary(b)
		if err != nil {
			t.Fatalf("re-encoding of %x does not decode: %v", data, err)
		}
		if c := AppendInstruction(nil, again); !bytes.Equal(c, b) {
			t.Fatalf("encoding %x decodes and encodes as %x", b, c)
		}
	})
}

func checkBinaryRoundTrip(t *testing.T, ins Instruction) {
	t.Helper()
	want := Encode(ins)
	if got := AppendEncode([]byte("x"), ins); !bytes.Equal(got[1:], want) {
		t.Fatalf("AppendEncode = %s, want %s", got[1:], want)
	}
	b := AppendInstruction([]byte("x"), ins)[1:]
	got, err := DecodeInstructionBinary(b)
	if err != nil {
		t.Fatalf("decode the binary encoding of %s: %v", want, err)
	}
	if enc := Encode(got); !bytes.Equal(enc, want) {
		t.Fatalf("binary round trip of %s gives %s", want, enc)
	}
	if again := AppendInstruction(nil, got); !bytes.Equal(again, b) {
		t.Fatalf("binary round trip of %s encodes as %x, first %x", want, again, b)
	}
	if id, err := InstructionIDBinary(b); err != nil || string(id) != ins.ID {
		t.Fatalf("InstructionIDBinary of %s = %q, %v; want %q", want, id, err, ins.ID)
	}
}

// addInstructionFiles adds the example instructions of testdata as seeds.
func addInstructionFiles(f *testing.F) {
	files, _ := filepath.Glob("testdata/instructions/*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// randomInstruction builds an instruction of a random type with random
// values for its fields, most of them valid: Validate sorts them.
func randomInstruction(r *rand.Rand) Instruction {
	types := Types()
	ins := Instruction{ID: randomID(r), Type: types[r.Intn(len(types))]}
	opt := func() bool { return r.Intn(3) > 0 }
	switch ins.Type {
	case TypeRegisterParty:
		p := &PartySpec{ID: randomID(r), Role: eligibility.RoleInvestor, Status: eligibility.StatusRetail,
			Jurisdiction: "US", KYCExpiresAt: ptr(randomTime(r)), Custodian: randomID(r)}
		if opt() {
			p.AnnualIncome = randomAmount(r)
		}
		if !opt() {
			p.NetWorth = ptr(Amount("0"))
		}
		if !opt() {
			p = &PartySpec{ID: randomID(r), Role: eligibility.RoleIssuer}
			if opt() {
				p.Jurisdiction = "DE"
			}
		}
		ins.Party = p
	case TypeUpdateParty:
		ins.PartyID = randomID(r)
		if opt() {
			ins.Status = ptr(eligibility.StatusAccredited)
		}
		if opt() {
			ins.Jurisdiction = ptr("GB")
		}
		if opt() {
			ins.KYCExpiresAt = ptr(randomTime(r))
		}
		if !opt() {
			ins.AnnualIncome = randomAmount(r)
		}
		if !opt() {
			ins.NetWorth = randomAmount(r)
		}
		if opt() {
			list := []string{}
			for range r.Intn(3) {
				list = append(list, randomSymbol(r))
			}
			ins.AffiliateOf = &list
		}
	case TypeApprove, TypeCancel:
		ins.InstructionID = randomID(r)
	case TypeUpdateInstrument:
		ins.Symbol = randomSymbol(r)
		if opt() {
			ins.Name = randomText(r)
		}
		if opt() {
			ins.MaxSupply = randomAmount(r)
		}
	case TypeCreateInstrument:
		in := &InstrumentSpec{Symbol: randomSymbol(r), Name: randomText(r), Issuer: randomID(r),
			Decimals: int32(r.Intn(MaxDecimals + 1)), Regime: randomText(r)}
		if opt() {
			in.MaxSupply = ptr(Amount(fmt.Sprint(1 + r.Intn(1e9))))
		}
		if opt() {
			in.OfferingDate = ptr(randomTime(r))
		}
		in.Attributes = AttributesSpec{Underlying: randomText(r), Payoff: randomText(r), ExpiryDays: r.Intn(400),
			EconomicPurpose: randomText(r), CounterpartyIsPlatform: opt(), OutcomeControllable: opt(), FXMajor: opt(), Perpetual: !opt()}
		if opt() {
			in.Attributes.EmbeddedLeverage = ptr(Amount("2.50"))
			in.Attributes.EventTopic = randomText(r)
		}
		if !opt() {
			in.Currency = "JPY"
		}
		in.Listed = !opt()
		ins.Instrument = in
	case TypeMint:
		ins.Symbol, ins.To, ins.Amount = randomSymbol(r), randomID(r), randomAmount(r)
		if opt() {
			ins.AcquiredAt = ptr(randomTime(r))
			ins.Import = opt()
		}
		if !opt() {
			ins.Consideration = randomAmount(r)
		}
	case TypeBurn:
		ins.Symbol, ins.From, ins.Amount = randomSymbol(r), randomID(r), randomAmount(r)
		if opt() {
			ins.LegalReference = randomText(r)
		}
	case TypeTransfer, TypeForceTransfer:
		ins.Legs = make([]Leg, 1+r.Intn(3))
		for i := range ins.Legs {
			ins.Legs[i] = Leg{Symbol: randomSymbol(r), From: randomID(r), To: randomID(r), Amount: *randomAmount(r)}
			if ins.Type == TypeTransfer && !opt() {
				ins.Legs[i].Consideration = randomAmount(r)
			}
		}
		if ins.Type == TypeForceTransfer {
			ins.LegalReference = randomText(r)
		}
	case TypeFreeze, TypeUnfreeze:
		ins.PartyID = randomID(r)
		if opt() {
			ins.Symbol = randomSymbol(r)
			if opt() {
				ins.Amount = randomAmount(r)
			}
		}
	case TypePause, TypeUnpause:
		ins.Symbol = randomSymbol(r)
	case TypeRecover:
		ins.From, ins.To = randomID(r), randomID(r)
	case TypeSetPrice:
		ins.Symbol, ins.Price = randomSymbol(r), randomAmount(r)
	case TypeBorrow, TypeRepay:
		ins.PartyID, ins.CashSymbol, ins.Amount = randomID(r), randomSymbol(r), randomAmount(r)
		if opt() {
			ins.Lender = randomID(r)
		}
	case TypeCloseOut:
		ins.PartyID, ins.Symbol, ins.Amount = randomID(r), randomSymbol(r), randomAmount(r)
		if opt() {
			ins.Lender = randomID(r)
		}
	case TypeDistribute:
		ins.Symbol, ins.CashSymbol, ins.AmountPerUnit = randomSymbol(r), randomSymbol(r), randomAmount(r)
		if opt() {
			ins.RecordSeq = ptr(randomSeq(r))
		}
	case TypeSplit:
		ins.Symbol, ins.Ratio = randomSymbol(r), randomAmount(r)
		if opt() {
			ins.RecordSeq = ptr(randomSeq(r))
		}
		if opt() {
			ins.CashInLieu = &CashInLieu{CashSymbol: randomSymbol(r), Price: *randomAmount(r)}
		}
	case TypeSetRulebook:
		ins.Rulebook = randomText(r) + "\n" + randomText(r)
		if opt() {
			t := time.Unix(r.Int63n(1<<33), r.Int63n(1e9)).UTC()
			ins.EffectiveAt = &t
		}
	}
	return ins
}

// randomSeq is a journal seq, 0 and the largest uint64 among them.
func randomSeq(r *rand.Rand) uint64 {
	switch r.Intn(4) {
	case 0:
		return 0
	case 1:
		return ^uint64(0) - uint64(r.Intn(2))
	}
	return uint64(r.Int63n(1 << uint(1+r.Intn(62))))
}

func randomID(r *rand.Rand) string {
	const alphabet = "abcXYZ019._:-"
	b := make([]byte, 1+r.Intn(12))
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return string(b)
}

func randomSymbol(r *rand.Rand) string {
	const alphabet = "ABZ09.-"
	b := []byte{"ACME0"[r.Intn(5)]}
	for range r.Intn(6) {
		b = append(b, alphabet[r.Intn(len(alphabet))])
	}
	return string(b)
}

func randomAmount(r *rand.Rand) *Amount {
	s := fmt.Sprint(r.Intn(1_000_000))
	if r.Intn(2) == 0 {
		s += "." + fmt.Sprint(r.Intn(10))[:1] + "0"[:r.Intn(2)]
	}
	return ptr(Amount(s))
}

// randomText mixes plain words with what JSON escapes: quotes, backslashes,
// HTML characters, control characters and line separators.
func randomText(r *rand.Rand) string {
	words := []string{"fund", "A&B", "<x>", `q"uote`, `back\slash`, "tab\t", "é", "\u2028", "plain text", "\x01"}
	s := words[r.Intn(len(words))]
	for range r.Intn(3) {
		s += " " + words[r.Intn(len(words))]
	}
	return s
}

// randomTime is a time in some zone, to nanoseconds.
func randomTime(r *rand.Rand) time.Time {
	t := time.Date(2000+r.Intn(60), time.Month(1+r.Intn(12)), 1+r.Intn(28), r.Intn(24), r.Intn(60), r.Intn(60), r.Intn(3)*r.Intn(1e9), time.UTC)
	return t.In(time.FixedZone("z", 3600*(r.Intn(5)-2)))
}
