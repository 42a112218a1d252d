package ledger

import (
	"math/rand"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// randomInstrument gives every stored field of an instrument a random
// value, zero now and then.
func randomInstrument(r *rand.Rand, symbol string) transfer.Instrument {
	str := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	dec := func() decimal.Decimal {
		if r.Intn(5) == 0 {
			return decimal.Zero
		}
		return decimal.New(r.Int63n(1e15)-r.Int63n(1e3), -int32(r.Intn(8)))
	}
	at := func() time.Time {
		if r.Intn(5) == 0 {
			return time.Time{}
		}
		return time.Unix(r.Int63n(4e9), r.Int63n(1e9)).UTC()
	}
	in := transfer.Instrument{
		Symbol: symbol, Name: str("", "Acme common", "Treasury 2030"), Issuer: str("iss-1", "iss-2"),
		Decimals: int32(r.Intn(19)), Regime: str("", "registered", "reg_d_506c"), OfferingDate: at(),
		Attributes: eligibility.Attributes{
			Underlying: str("", "enterprise_equity"), Payoff: str("", "linear", "binary"), EmbeddedLeverage: dec(),
			ExpiryDays: r.Intn(400) - 10, EconomicPurpose: str("", "capital_formation"), EventTopic: str("", "election"),
			CounterpartyIsPlatform: r.Intn(2) == 0, OutcomeControllable: r.Intn(2) == 0, Perpetual: r.Intn(2) == 0, FXMajor: r.Intn(2) == 0,
		},
		Class: str("security", "cash"), Regulator: str("SEC", "CFTC", ""), Category: str("investment", "prohibited"),
		Paused: r.Intn(2) == 0, Supply: dec(), HolderCount: r.Intn(1e6), NonAccreditedHolders: r.Intn(40) - 1,
		CreatedAt: at(), Currency: str("", "USD", "EUR"), Listed: r.Intn(2) == 0, NonAccreditedPurchasers: r.Intn(50),
	}
	if r.Intn(3) > 0 {
		m := dec()
		in.MaxSupply = &m
	}
	switch r.Intn(3) {
	case 0:
		in.ClassificationReasons = []string{}
	case 1:
		in.ClassificationReasons = []string{str("a", "security under Howey"), "b ü"}
	}
	return in
}

// withNewCounters gives next in's fields before the counters and random
// counters: what a mint, a burn or a new holding makes of an instrument.
func withNewCounters(r *rand.Rand, in transfer.Instrument) transfer.Instrument {
	next := randomInstrument(r, in.Symbol)
	copyInstrumentHead(&next, &in)
	return next
}

// TestRedecodeInstrument holds redecodeInstrument to decodeInstrumentAt,
// field for field, over random instruments and random new versions of them:
// some with new counters only (it reuses the old version's fields before
// them), some changed before the counters too (it decodes them). The
// generator must set every stored field, or a field redecodeInstrument
// failed to carry over could go unnoticed: the test checks that it does.
func TestRedecodeInstrument(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	set := map[string]bool{}
	reused := 0
	for i := range 2000 {
		prev := randomInstrument(r, "SEC1")
		markSet(set, reflect.ValueOf(prev), "")
		prevRaw := encodeInstrument(nil, &prev)
		decoded, at := decodeInstrumentAt(prev.Symbol, prevRaw)
		next := randomInstrument(r, prev.Symbol)
		if i%4 != 0 {
			next = withNewCounters(r, prev)
		}
		raw := encodeInstrument(nil, &next)
		got, gotAt := redecodeInstrument(decoded, prevRaw, at, raw)
		want, wantAt := decodeInstrumentAt(prev.Symbol, raw)
		if !reflect.DeepEqual(got, want) || gotAt != wantAt {
			t.Fatalf("case %d: redecodeInstrument = %+v at %d, decodeInstrumentAt = %+v at %d", i, got, gotAt, want, wantAt)
		}
		if got.Name == decoded.Name && len(got.Name) > 0 && unsafeSameString(got.Name, decoded.Name) {
			reused++
		}
	}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(transfer.Instrument{})) {
		// ControlBook, embedded, is never stored; Attributes is checked below.
		if len(f.Index) == 1 && !f.Anonymous && f.Name != "Attributes" && !set[f.Name] {
			t.Errorf("randomInstrument never sets %s", f.Name)
		}
	}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(eligibility.Attributes{})) {
		if !set["Attributes."+f.Name] {
			t.Errorf("randomInstrument never sets Attributes.%s", f.Name)
		}
	}
	// A version with new counters only takes the old version's strings.
	if reused < 1000 {
		t.Errorf("the old version's fields were reused in %d of 2000 cases, want about 1,200", reused)
	}
}

// markSet records which fields of v (a struct) are non-zero, by name.
func markSet(set map[string]bool, v reflect.Value, prefix string) {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() != "time" && f.Type.Name() != "Decimal" {
			markSet(set, v.Field(i), prefix+f.Name+".")
			continue
		}
		if !v.Field(i).IsZero() {
			set[prefix+f.Name] = true
		}
	}
}

// unsafeSameString reports whether a and b share their bytes.
func unsafeSameString(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafe.StringData(a) == unsafe.StringData(b))
}
