package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/fixed"
	"github.com/tokenledger/tokenledger/internal/wire"
	"github.com/tokenledger/tokenledger/transfer"
)

// TestDecimalCanonical checks that equal values encode to equal bytes whatever
// their representation, and decode to the representation the JSON layout of
// schema 1 gave (decimal.NewFromString of String()).
func TestDecimalCanonical(t *testing.T) {
	big30, _ := new(big.Int).SetString("1000000000000000000000000000000", 10)
	bigOdd, _ := new(big.Int).SetString("-123456789012345678901234567890123", 10)
	groups := [][]decimal.Decimal{
		{{}, decimal.Zero, decimal.New(0, -5), decimal.New(0, 7), decimal.RequireFromString("0.000")},
		{decimal.New(15, -1), decimal.New(150, -2), decimal.New(1500000, -6), decimal.RequireFromString("1.50")},
		{decimal.New(1000000, 0), decimal.New(1, 6), decimal.New(10, 5), decimal.New(100000000, -2)},
		{decimal.New(-125, -2), decimal.New(-1250, -3)},
		{decimal.New(1, 30), decimal.NewFromBigInt(big30, 0), decimal.NewFromBigInt(new(big.Int).Mul(big30, big.NewInt(10)), -1)},
		{decimal.NewFromBigInt(bigOdd, -18), decimal.NewFromBigInt(new(big.Int).Mul(bigOdd, big.NewInt(100)), -20)},
		{decimal.New(999999999999999999, -18), decimal.New(9, -1).Add(decimal.New(99999999999999999, -18))},
		{decimal.New(922337203685477580, 1), decimal.New(9223372036854775800, 0)},
		{decimal.New(9223372036854775807, 0), decimal.New(9223372036854775807, 0).Mul(decimal.New(10, -1))},
		{decimal.New(-9223372036854775808, 0)},
		{decimal.New(3, 40)},
		{decimal.New(1, -18)},
	}
	for _, g := range groups {
		var first []byte
		for i, d := range g {
			w := recordWriter{}
			w.Decimal(d)
			if i == 0 {
				first = w.B
			} else if !bytes.Equal(w.B, first) {
				t.Errorf("decimal %s (coefficient %s, exponent %d) encodes as %x, %s as %x", d, d.Coefficient(), d.Exponent(), w.B, g[0], first)
			}
			r := recordReader{Reader: wire.NewReader(w.B), what: "test"}
			got := r.Decimal()
			r.done()
			want := decimal.RequireFromString(d.String())
			if !got.Equal(d) || got.Exponent() != want.Exponent() || got.Coefficient().Cmp(want.Coefficient()) != 0 {
				t.Errorf("decimal %s decodes as %s (coefficient %s, exponent %d), want coefficient %s exponent %d",
					d, got, got.Coefficient(), got.Exponent(), want.Coefficient(), want.Exponent())
			}
		}
	}
}

// jsonRoundTrip gives v as the JSON layout stored and read it back.
func jsonRoundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	var out T
	if err := json.Unmarshal(encodeJSON(v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameJSON fails unless got and want serve as the same JSON.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := encodeJSON(got), encodeJSON(want); !bytes.Equal(g, w) {
		t.Errorf("%s round trip:\n got %s\nwant %s", what, g, w)
	}
}

func sameDecimal(t *testing.T, what string, got, want decimal.Decimal) {
	t.Helper()
	if got.Exponent() != want.Exponent() || got.Coefficient().Cmp(want.Coefficient()) != 0 {
		t.Errorf("%s: got %s×10^%d, want %s×10^%d", what, got.Coefficient(), got.Exponent(), want.Coefficient(), want.Exponent())
	}
}

// TestRecordRoundTrip checks every binary record against the JSON layout it
// replaced: the decoded object serves the same JSON and holds the same
// decimal representations.
func TestRecordRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 891011, time.UTC)
	kyc := now.Add(400 * 24 * time.Hour)
	parties := []transfer.Party{
		{ID: "operator", Role: eligibility.RoleOperator, CreatedAt: now},
		{ID: "inv-1", Role: eligibility.RoleInvestor, Status: eligibility.StatusRetail, Jurisdiction: "US", KYCExpiresAt: &kyc, Custodian: "cus-1", Frozen: true, CreatedAt: now},
		{ID: "zero-time", Role: eligibility.RoleIssuer},
	}
	for _, p := range parties {
		got := decodeParty([]byte(p.ID), encodeParty(nil, &p))
		sameJSON(t, "party", *got, jsonRoundTrip(t, p))
		if want := jsonRoundTrip(t, p); !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != want.CreatedAt.Location() {
			t.Errorf("party created_at %v, want %v", got.CreatedAt, want.CreatedAt)
		}
	}
	maxSupply := decimal.New(5000000, -2)
	instruments := []transfer.Instrument{
		{
			Symbol: "SEC1", Name: "SEC1 token", Issuer: "iss-1", Decimals: 2, MaxSupply: &maxSupply, Regime: "registered",
			OfferingDate: now, Attributes: eligibility.Attributes{
				Underlying: "enterprise_equity", Payoff: "linear", EmbeddedLeverage: decimal.New(20, -1), ExpiryDays: 30,
				EconomicPurpose: "capital_formation", EventTopic: "x", CounterpartyIsPlatform: true, FXMajor: true,
			},
			Class: "security", Regulator: "SEC", Category: "investment", ClassificationReasons: []string{"a", "b ü"},
			Paused: true, Supply: decimal.New(123450, -2), HolderCount: 7, NonAccreditedHolders: -1, CreatedAt: now,
		},
		{Symbol: "USD", Name: "cash", Issuer: "op", ClassificationReasons: []string{}, Attributes: eligibility.Attributes{OutcomeControllable: true}},
		{Symbol: "NIL", Name: "nil reasons"},
	}
	for _, in := range instruments {
		got := decodeInstrument([]byte(in.Symbol), encodeInstrument(nil, &in))
		want := jsonRoundTrip(t, in)
		sameJSON(t, "instrument", *got, want)
		sameDecimal(t, "supply", got.Supply, want.Supply)
		sameDecimal(t, "leverage", got.Attributes.EmbeddedLeverage, want.Attributes.EmbeddedLeverage)
		if (got.ClassificationReasons == nil) != (want.ClassificationReasons == nil) {
			t.Errorf("instrument %s reasons nil %v, want nil %v", in.Symbol, got.ClassificationReasons == nil, want.ClassificationReasons == nil)
		}
	}
	holdings := []transfer.Holding{
		{Party: "inv-1", Symbol: "USD", Balance: fixed.New(99999875, -2), Frozen: fixed.Zero,
			Lots: []transfer.Lot{{Amount: fixed.New(1000000, 0), AcquiredAt: now}, {Amount: fixed.New(-125, -2), AcquiredAt: kyc}}},
		{Party: "inv-2", Symbol: "SEC1", Balance: fixed.New(10, 1), Frozen: fixed.New(500, -2)},
		{Party: "inv-3", Symbol: "X", Lots: []transfer.Lot{}},
	}
	for _, h := range holdings {
		got := decodeHoldingKV(join(h.Party, h.Symbol), encodeHolding(nil, &h))
		want := jsonRoundTrip(t, h)
		sameJSON(t, "holding", *got, want)
		sameDecimal(t, "balance", got.Balance.Decimal(), want.Balance.Decimal())
		sameDecimal(t, "frozen", got.Frozen.Decimal(), want.Frozen.Decimal())
		if (got.Lots == nil) != (want.Lots == nil) || len(got.Lots) != len(want.Lots) {
			t.Errorf("holding lots %v, want %v", got.Lots, want.Lots)
		}
		for i := range got.Lots {
			sameDecimal(t, "lot", got.Lots[i].Amount.Decimal(), want.Lots[i].Amount.Decimal())
		}
	}
	l := transfer.Loan{Party: "inv-1", Cash: "USD", Lender: "cus-1", Amount: decimal.New(2500, -1)}
	sameJSON(t, "loan", decodeLoan(join(l.Party, l.Cash, l.Lender), encodeLoan(nil, &l)), l)
	p := transfer.Price{Symbol: "SEC1", Price: decimal.New(1234, -3), Time: now}
	sameJSON(t, "price", *decodePrice([]byte(p.Symbol), encodePrice(nil, &p)), p)
	changes := []balanceChange{{Symbol: "USD", Party: "inv-1", Before: fixed.Zero, After: fixed.New(5, 0)}, {Symbol: "S", Party: "p", Before: fixed.New(125, -2), After: fixed.New(10, 0)}}
	got := decodeHistory(encodeHistory(nil, changes))
	if len(got) != len(changes) {
		t.Fatalf("history %v, want %v", got, changes)
	}
	for i := range got {
		if got[i].Symbol != changes[i].Symbol || got[i].Party != changes[i].Party || !got[i].Before.Equal(changes[i].Before) || !got[i].After.Equal(changes[i].After) {
			t.Errorf("history change %d: %v, want %v", i, got[i], changes[i])
		}
	}
	for _, rec := range []idRecord{
		{Outcome: []byte(`{"id":"x","error":{"code":"MALFORMED","message":"m"}}`)},
		{Seq: 9},
		{Seq: 1 << 40},
		{Seq: 3, BodyServed: true},
	} {
		if !rec.BodyServed {
			rec.BodyHash[0], rec.BodyHash[31] = 7, 9
		}
		if g := decodeIDRecord(encodeIDRecord(nil, &rec)); g.BodyHash != rec.BodyHash || g.Seq != rec.Seq || g.BodyServed != rec.BodyServed || !bytes.Equal(g.Outcome, rec.Outcome) {
			t.Errorf("id record %+v, want %+v", g, rec)
		}
	}
}

// TestRecordDecodeRefusesGarbage checks that a truncated or foreign value
// fails an assertion rather than decoding.
func TestRecordDecodeRefusesGarbage(t *testing.T) {
	h := transfer.Holding{Party: "p", Symbol: "S", Balance: fixed.New(5, 0), Frozen: fixed.Zero}
	good := encodeHolding(nil, &h)
	cases := map[string][]byte{
		"empty":     nil,
		"json":      []byte(`{"party":"p"}`),
		"truncated": good[:len(good)-1],
		"trailing":  append(bytes.Clone(good), 0),
		"other tag": encodeLoan(nil, &transfer.Loan{Amount: decimal.Zero}),
	}
	for name, val := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("decodeHolding(%x) did not panic", val)
				}
			}()
			decodeHolding("p", "S", val)
		})
	}
}

// TestJournalEntryJSONMatchesEncodingJSON checks the hand-written journal encoding
// against encoding/json and ComputeHash, plain and awkward inputs alike.
func TestJournalEntryJSONMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 1, 500, time.UTC)
	r := eligibility.NewReason(eligibility.CodeInsufficientBalance, "account.balance", "a <b> & \"c\"")
	entries := []JournalEntry{
		{Seq: 1, Index: 2, Time: now, Actor: "operator", Instruction: json.RawMessage(`{"id":"a","type":"mint"}`), Status: StatusAccepted, PrevHash: ZeroHash},
		{Seq: 18446744073709551615, Index: 7, Time: now, Actor: "inv-1", Instruction: json.RawMessage(`{"id":"a","type":"transfer","legs":[{"symbol":"USD","from":"inv-1","to":"inv-2","amount":"1.25"}]}`),
			Status: StatusRejected, Reason: &r, Reasons: []eligibility.Reason{r, r}, Parties: []string{"inv-1", "inv-2"}, Symbols: []string{"USD"}, PrevHash: "ab"},
		{Seq: 3, Time: now, Actor: "ünï<&>\"\\\x01", Instruction: json.RawMessage("{ \"id\" : \"a<b>&\u2028\u2029\" ,\n\"x\":[1, 2]}"), Status: "", Parties: []string{"<x>", "é"}, PrevHash: "p"},
		{Seq: 4, Time: time.Time{}, Instruction: nil, Reasons: []eligibility.Reason{}, Parties: []string{}},
		{Seq: 5, Time: now, Instruction: json.RawMessage("{\"k\":\"\xe2\x82\xac\",\"v\":\"\xff\"}")},
	}
	for i, e := range entries {
		head := appendJournalEntryHead(nil, &e)
		stored := sealJournalEntry(nil, head, &e)
		if want, err := ComputeHash(e); err != nil || e.Hash != want {
			t.Errorf("entry %d: hash %s, want ComputeHash %s (%v)", i, e.Hash, want, err)
		}
		if want := encodeJSON(e); !bytes.Equal(stored, want) {
			t.Errorf("entry %d:\n got %s\nwant %s", i, stored, want)
		}
	}
}

// TestOutcomeJSONMatchesEncodingJSON checks EncodeOutcome against encoding/json.
func TestOutcomeJSONMatchesEncodingJSON(t *testing.T) {
	r := eligibility.NewReason(eligibility.CodeAccountFrozen, "account.frozen", "frozen")
	for i, o := range []Outcome{
		{},
		{ID: "b-1-2", Status: StatusAccepted, Index: 3, Seq: 4},
		{ID: "x<y>", Status: StatusAccepted, Index: 3},
		{Status: StatusAccepted, Seq: 1},
		{ID: "r", Status: StatusRejected, Index: 1, Seq: 2, Reason: &r, Reasons: []eligibility.Reason{r}},
		{ID: "w", Status: StatusAccepted, Index: 1, Seq: 2, WrittenOff: []transfer.WriteOff{{Party: "p", Lender: "l", Cash: "USD", Amount: decimal.RequireFromString("12.5")}}},
		opError(ErrCodeMalformed, "bad %q", "x"),
	} {
		if got, want := EncodeOutcome(o), encodeJSON(o); !bytes.Equal(got, want) {
			t.Errorf("outcome %d: got %s, want %s", i, got, want)
		}
	}
}

// TestOutcomeArena checks that outcomes encoded into one arena, across
// many of its blocks and with ids long and escaped, are EncodeOutcome's
// bytes, and still are once later ones have been encoded.
func TestOutcomeArena(t *testing.T) {
	var arena outcomeArena
	r := eligibility.NewReason(eligibility.CodeAccountFrozen, "account.frozen", "frozen")
	var outs []Outcome
	var got [][]byte
	for i := range 5000 {
		o := Outcome{ID: fmt.Sprintf("id-%d", i), Status: StatusAccepted, Index: uint64(i), Seq: math.MaxUint64 - uint64(i)}
		switch i % 7 {
		case 1:
			o.ID = strings.Repeat("<&>", 40) // escaped: six bytes a byte
		case 2:
			o.Status, o.Reason, o.Reasons = StatusRejected, &r, []eligibility.Reason{r} // not plain
		case 3:
			o.ID = ""
		}
		outs = append(outs, o)
		got = append(got, arena.encode(o))
	}
	for i, o := range outs {
		if want := EncodeOutcome(o); !bytes.Equal(got[i], want) {
			t.Fatalf("outcome %d: %s, want %s", i, got[i], want)
		}
	}
}

// TestOpenRefusesOtherSchema checks that a state file of schema 1 (JSON
// records) is refused rather than misread as binary records.
func TestOpenRefusesOtherSchema(t *testing.T) {
	path := writeSchemaOnly(t, "1")
	if s, err := Open(Config{Path: path, NoSync: true}); err == nil {
		s.Close()
		t.Fatalf("Open of a schema 1 file succeeded, want an error")
	}
}

// FuzzDecodeOutcome holds DecodeOutcome's reflection-free path to
// encoding/json: whatever it accepts, json.Unmarshal decodes the same.
func FuzzDecodeOutcome(f *testing.F) {
	r := eligibility.NewReason(eligibility.CodeAccountFrozen, "account.frozen", "frozen")
	for _, o := range []Outcome{
		{}, {ID: "b-1-2", Status: StatusAccepted, Index: 3, Seq: 4}, {Status: StatusAccepted, Seq: 1},
		{ID: "x<y>", Status: StatusAccepted, Index: 3}, {ID: "r", Status: StatusRejected, Index: 1, Seq: 2, Reason: &r},
		opError(ErrCodeMalformed, "bad %q", "x"),
	} {
		f.Add(EncodeOutcome(o))
	}
	f.Add([]byte(`{"id":"a","seq":01}`))
	f.Add([]byte(`{"id":"a","index":18446744073709551616}`))
	f.Add([]byte(`{"status":"accepted","id":"a"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodePlainOutcome(b)
		if !ok {
			return
		}
		var want Outcome
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("fast path took %s, which encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%s: fast %+v, encoding/json %+v", b, fast, want)
		}
	})
}

// TestDecodeOutcomePlain checks that the outcomes the state machine writes
// most take the fast path and read back as written.
func TestDecodeOutcomePlain(t *testing.T) {
	for _, o := range []Outcome{
		{ID: "b-1-2", Status: StatusAccepted, Index: 3, Seq: 4},
		{ID: "t", Status: StatusRejected, Index: 18446744073709551615, Seq: 9},
		{Status: StatusAccepted, Index: 7},
	} {
		got, ok := decodePlainOutcome(EncodeOutcome(o))
		if !ok || !reflect.DeepEqual(got, o) {
			t.Errorf("%s: got %+v (fast %v), want %+v", EncodeOutcome(o), got, ok, o)
		}
	}
}

// TestKeyOwner resolves keys to their parties in one read: a known key, an
// unknown one, and a key whose party was never registered (refused at apply).
func TestKeyOwner(t *testing.T) {
	h := newHarness(t)
	h.apply(KeyItem("ghost", hashKey("ghost-secret")))
	for _, tc := range []struct {
		name, key string
		want      string // party id; "" for ErrNotFound
	}{
		{"operator", "operator-secret", OperatorID},
		{"unknown key", "nobody", ""},
		{"key of an unregistered party", "ghost-secret", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := h.s.KeyOwner(hashKey(tc.key))
			switch {
			case tc.want == "" && !errors.Is(err, ErrNotFound):
				t.Fatalf("got %+v, %v; want ErrNotFound", p, err)
			case tc.want != "" && (err != nil || p.ID != tc.want):
				t.Fatalf("got %+v, %v; want party %s", p, err, tc.want)
			}
		})
	}
}

// TestWordsShared checks that word reads each role, status and two-letter
// code as the one shared copy, and anything else as itself.
func TestWordsShared(t *testing.T) {
	read := func(s string) string {
		w := newRecordWriter(nil, tagParty)
		w.Str(s)
		r := newRecordReader(w.B, tagParty, "word")
		return r.word()
	}
	shared := []string{"", "US", "GB", "AA", "ZZ", string(eligibility.RoleInvestor), string(eligibility.RoleOperator),
		string(eligibility.StatusRetail), string(eligibility.StatusQualifiedPurchaser)}
	for _, s := range shared {
		a, b := read(s), read(s)
		if a != s || (s != "" && unsafe.StringData(a) != unsafe.StringData(b)) {
			t.Errorf("word(%q) = %q, read twice as two copies", s, a)
		}
	}
	for _, s := range []string{"us", "U", "USA", "A1", "investors", "retai", "Z["} {
		if got := read(s); got != s {
			t.Errorf("word(%q) = %q", s, got)
		}
	}
}

// TestInternTable holds the table to handing out the bytes' string, one
// copy of each while it is within its bound, and to starting over past it.
func TestInternTable(t *testing.T) {
	var nilTable *internTable
	if got := nilTable.of([]byte("cus-1")); got != "cus-1" {
		t.Fatalf("nil table: %q", got)
	}
	var tab internTable
	buf := []byte("cus-1")
	first := tab.of(buf)
	buf[4] = '2' // the table's copy must not alias the bytes it was given
	if first != "cus-1" {
		t.Fatalf("first = %q after its bytes changed", first)
	}
	second := tab.of([]byte("cus-1"))
	if second != "cus-1" || unsafe.StringData(second) != unsafe.StringData(first) {
		t.Fatalf("the same bytes again gave another copy")
	}
	if got := tab.of(buf); got != "cus-2" || unsafe.StringData(got) == unsafe.StringData(first) {
		t.Fatalf("other bytes gave %q", got)
	}
	for i := range 3 * maxInterned {
		s := tab.of(fmt.Appendf(nil, "p-%d", i))
		if s != fmt.Sprintf("p-%d", i) {
			t.Fatalf("%d: %q", i, s)
		}
		if len(tab.m) > maxInterned {
			t.Fatalf("%d strings held, bound %d", len(tab.m), maxInterned)
		}
	}
}
