package transfer

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// fastSeeds are canonical and nearly canonical bodies: decodeFast must take
// the first kind and may refuse the second, but never decode differently.
var fastSeeds = []string{
	`{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"100"}`,
	`{"id":"b-0-1","type":"transfer","legs":[{"symbol":"USD","from":"inv-000001","to":"inv-000002","amount":"1.25"}]}`,
	`{"id":"dvp","type":"transfer","legs":[{"symbol":"SEC0001","from":"a","to":"b","amount":"1"},{"symbol":"USD","from":"b","to":"a","amount":"10"}]}`,
	`{"id":"f","type":"force_transfer","legs":[{"symbol":"A","from":"a","to":"b","amount":"1"}],"legal_reference":"court order 7/2026"}`,
	`{"id":"l","type":"borrow","party_id":"inv-a","amount":"5","cash_symbol":"USD","lender":"cus-1"}`,
	`{"id":"d","type":"distribute","symbol":"ACME","cash_symbol":"USD","amount_per_unit":"0.01"}`,
	`{"id":"s","type":"split","symbol":"ACME","ratio":"1.5"}`,
	`{"id":"p","type":"set_price","symbol":"ACME","price":"12.5"}`,
	`{"id":"z","type":"freeze","party_id":"inv-a"}`,
	`{"id":"d","type":"distribute","symbol":"ACME","cash_symbol":"USD","amount_per_unit":"0.01","record_seq":12}`,
	`{"id":"s","type":"split","symbol":"ACME","ratio":"0.5","record_seq":0,"cash_in_lieu":{"cash_symbol":"USD","price":"3.25"}}`,
	`{"id":"s","type":"split","symbol":"ACME","ratio":"1.5","cash_in_lieu":{"cash_symbol":"USD","price":"3"}}`,
	`{"id":"r","type":"register_party","party":{"id":"inv-a","role":"investor","status":"retail","jurisdiction":"US","kyc_expires_at":"2030-01-01T00:00:00Z","custodian":"cus-1"}}`,
	`{"id":"r","type":"register_party","party":{"id":"iss-1","role":"issuer"}}`,
	`{"id":"r","type":"register_party","party":{"id":"inv-b","role":"investor","status":"accredited","jurisdiction":"GB","kyc_expires_at":"2031-06-30T23:59:59.123456789Z","custodian":"cus-2","annual_income":"250000","net_worth":"1000000.5"}}`,
	`{"id":"e","type":"transfer","legs":[]}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","kyc_expires_at":"2030-01-01T00:00:00+01:00"}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","kyc_expires_at":"2030-01-01T00:00:00.Z"}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","kyc_expires_at":"2030-01-01T00:00:00.1234567890Z"}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","kyc_expires_at":"2030-01-01T00:00:00,5Z"}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","kyc_expires_at":"2030-02-30T00:00:00Z"}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","kyc_expires_at":"2030-01-01T24:00:00Z"}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","kyc_expires_at":"2030-01-01t00:00:00z"}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","kyc_expires_at":null}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","custodian":"c","status":"retail"}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","net_worth":"1","annual_income":"2"}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","frozen":true}}`,
	`{"id":"r","type":"register_party","party":{"id":"a"}}`,
	`{"id":"r","type":"register_party","party":{"role":"investor","id":"a"}}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","status":""}}`,
	`{"id":"r","type":"register_party","party":null}`,
	`{"id":"r","type":"register_party","party":{"id":"a","role":"investor"},"party_id":"a"}`,
	`{"id":"","type":""}`,
	`{"id":"x","type":"nonsense","symbol":"S"}`,
	`{"id":"x","type":"mint","symbol":"ACME","to":"inv-a","amount":"1e9"}`,
	`{"id":"x","type":"mint","symbol":"ACME","to":"inv-a","amount":"01"}`,
	`{"id":"x","type":"mint","amount":"1","symbol":"ACME","to":"inv-a"}`,
	`{"id":"x","type":"mint","symbol":"A","symbol":"B","to":"inv-a","amount":"1"}`,
	`{"id":"x","type":"mint","Symbol":"ACME","to":"inv-a","amount":"1"}`,
	`{"id":"x","type":"mint","symbol":"AC\u004dE","to":"inv-a","amount":"1"}`,
	`{"id":"x","type":"mint","symbol":"ACMÉ","to":"inv-a","amount":"1"}`,
	`{"id":"x","type":"mint","symbol":"ACME","to":"inv-a","amount":"1"} `,
	`{"id":"x", "type":"mint"}`,
	`{"id":"x","type":"mint","amount":null}`,
	`{"id":"x","type":"transfer","legs":null}`,
	`{"id":"x","type":"transfer","legs":[{"symbol":"A","from":"a","to":"b"}]}`,
	`{"id":"x","type":"transfer","legs":[{"symbol":"A","from":"a","to":"b","amount":"1","x":1}]}`,
	`{"id":"x","type":"transfer","legs":[{"symbol":"A","from":"a","to":"b","amount":"1"},]}`,
	`{"id":"x","type":"pause","symbol":"ACME","unknown":"1"}`,
	`{"id":"x","type":"pause","symbol":"ACME"}{}`,
	`{"id":"x","type":"pause","symbol":"A<B>&C"}`,
	`{"id":"x","type":"pause","symbol":"A\"B"}`,
	`{"id":"x","type":"pause","symbol":"ACME"`,
	`{"id":"x","type":"pause","symbol":`,
	`{"id":"x"}`,
	`{"id":"d","type":"distribute","symbol":"A","record_seq":18446744073709551615}`,
	`{"id":"d","type":"distribute","symbol":"A","record_seq":18446744073709551616}`,
	`{"id":"d","type":"distribute","symbol":"A","record_seq":012}`,
	`{"id":"d","type":"distribute","symbol":"A","record_seq":-1}`,
	`{"id":"d","type":"distribute","symbol":"A","record_seq":1.0}`,
	`{"id":"d","type":"distribute","symbol":"A","record_seq":1e3}`,
	`{"id":"d","type":"distribute","symbol":"A","record_seq":"1"}`,
	`{"id":"d","type":"distribute","symbol":"A","record_seq":null}`,
	`{"id":"s","type":"split","cash_in_lieu":{"price":"1","cash_symbol":"USD"}}`,
	`{"id":"s","type":"split","cash_in_lieu":{"cash_symbol":"USD","price":"1","x":1}}`,
	`{"id":"s","type":"split","cash_in_lieu":{"cash_symbol":"USD"}}`,
	`{"id":"s","type":"split","cash_in_lieu":null}`,
	`{"id":"s","type":"split","cash_in_lieu":{"cash_symbol":"USD","price":"1e2"}}`,
}

// addSeeds adds the fast-path seeds and the instruction files of testdata,
// each also in its canonical encoding when it decodes.
func addSeeds(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	seeds, _ := filepath.Glob("testdata/instructions/*.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if ins, err := Decode(b); err == nil {
			f.Add(Encode(ins))
		}
	}
}

func FuzzDecodeFast(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeFast(data)
		checkEncodedFlag(t, data, fast, ok)
		slow, err := decodeStrict(data)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("decodeFast(%s) decoded what decodeStrict refuses: %v", data, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decodeFast(%s) = %+v, decodeStrict = %+v", data, fast, slow)
		}
		var arena DecodeArena
		if inArena, ok := decodeFastIn(data, &arena); !ok || !reflect.DeepEqual(inArena, slow) {
			t.Fatalf("decodeFastIn(%s) = %+v, %v; decodeStrict = %+v", data, inArena, ok, slow)
		}
	})
}

// TestDecodeArenaKeepsWhatItHandedOut decodes thousands of instructions
// into one arena, across many of its blocks, and checks at the end that
// each still reads as it decoded on its own: the arena never writes what
// it handed out. It also checks that an append to a decoded leg list does
// not reach the next instruction's legs.
func TestDecodeArenaKeepsWhatItHandedOut(t *testing.T) {
	var arena DecodeArena
	var kept []Instruction
	var bodies [][]byte
	for i := range 3000 {
		s := fastSeeds[i%15]
		body := Encode(mustDecode(t, s))
		ins, err := arena.DecodeCanonical(body)
		if err != nil {
			t.Fatalf("DecodeCanonical(%s): %v", body, err)
		}
		kept = append(kept, ins)
		bodies = append(bodies, body)
	}
	for _, ins := range kept {
		if len(ins.Legs) > 0 {
			_ = append(ins.Legs, Leg{Symbol: "OVERWRITE", From: "x", To: "y", Amount: "1"})
		}
	}
	for i, ins := range kept {
		want, err := DecodeCanonical(bodies[i])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ins, want) {
			t.Fatalf("instruction %d changed after later decodes: %+v, decoded alone %+v", i, ins, want)
		}
	}
}

func mustDecode(t *testing.T, s string) Instruction {
	t.Helper()
	ins, err := Decode([]byte(s))
	if err != nil {
		t.Fatalf("Decode(%s): %v", s, err)
	}
	return ins
}

// TestDecodeFastTakesCanonical checks that the canonical encodings of the
// common instructions take the fast path at all.
func TestDecodeFastTakesCanonical(t *testing.T) {
	for _, s := range fastSeeds[:15] {
		ins, err := Decode([]byte(s))
		if err != nil {
			t.Fatalf("Decode(%s): %v", s, err)
		}
		enc := Encode(ins)
		if _, ok := decodeFast(enc); !ok {
			t.Errorf("decodeFast refuses the canonical %s", enc)
		}
	}
}

// grammarProbes are strings around the edges of the id, symbol and amount
// grammars.
func grammarProbes() []string {
	probes := []string{"", "0", "00", "01", "0.", ".5", "0.5", "1.", "1.0", "+1", "-1", "1e3", "1 ", " 1", "1_0",
		"A", "a", "Z9", "9Z", "A.B", "A-B", "A_B", "A:B", "a.b-c_d:e", "É", "\xff", "A\x00", "A\n", "ÿ",
		strings.Repeat("9", 31), strings.Repeat("9", 32), "1." + strings.Repeat("0", 18), "1." + strings.Repeat("0", 19),
		strings.Repeat("9", 31) + "." + strings.Repeat("9", 18), strings.Repeat("A", 32), strings.Repeat("A", 33),
		strings.Repeat("a", 128), strings.Repeat("a", 129), "-A", ".A", "A.", "inv-000001", "SEC0001", "USD"}
	const alphabet = "09AZaz.-_:+eE \x00\xc3\xa9"
	for _, a := range alphabet {
		for _, b := range alphabet {
			probes = append(probes, string(a)+string(b), "1"+string(a)+string(b), "A"+string(a)+"1"+string(b))
		}
	}
	return probes
}

func TestPlainDecimalMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(plainAmount)
	for _, s := range grammarProbes() {
		if got, want := plainDecimal(s), re.MatchString(s); got != want {
			t.Errorf("plainDecimal(%q) = %v, regexp %v", s, got, want)
		}
		if got, want := plainDecimal([]byte(s)), re.MatchString(s); got != want {
			t.Errorf("plainDecimal([]byte(%q)) = %v, regexp %v", s, got, want)
		}
	}
}

func TestValidIDMatchesRegexp(t *testing.T) {
	id, sym := regexp.MustCompile(idPattern), regexp.MustCompile(symbolPattern)
	for _, s := range grammarProbes() {
		if got, want := ValidID(s), id.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, regexp %v", s, got, want)
		}
		if got, want := ValidSymbol(s), sym.MatchString(s); got != want {
			t.Errorf("ValidSymbol(%q) = %v, regexp %v", s, got, want)
		}
	}
}

func FuzzGrammars(f *testing.F) {
	for _, s := range grammarProbes() {
		f.Add(s)
	}
	amount, id, sym := regexp.MustCompile(plainAmount), regexp.MustCompile(idPattern), regexp.MustCompile(symbolPattern)
	f.Fuzz(func(t *testing.T, s string) {
		if plainDecimal(s) != amount.MatchString(s) || ValidID(s) != id.MatchString(s) || ValidSymbol(s) != sym.MatchString(s) {
			t.Fatalf("grammars disagree on %q", s)
		}
	})
}

// FuzzDecodeEncoded holds DecodeEncoded to Decode and Encode on any input:
// the same instruction, the same encoding, the same error. The seeds include
// canonical bodies with empty fields and fields of another type, which the
// fast path must refuse as Decode does.
func FuzzDecodeEncoded(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(`{"id":"t-1","type":"transfer","legs":[{"symbol":"A","from":"a","to":"b","amount":"1"}]}`))
	f.Add([]byte(`{"id":"t-1","type":"transfer","from":"a","legs":[{"symbol":"A","from":"a","to":"b","amount":"1"}]}`))
	f.Add([]byte(`{"id":"t-1","type":"transfer","party_id":"","legs":[{"symbol":"A","from":"a","to":"b","amount":"1"}]}`))
	f.Add([]byte(`{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"0"}`))
	f.Add([]byte(`{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"-0"}`))
	f.Add([]byte(`{"id":"m-1","type":"mint","symbol":"ACME","from":"x","to":"inv-a","amount":"1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, enc, err := DecodeEncoded(data)
		want, wantErr := Decode(data)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("DecodeEncoded(%s): error %v, Decode: %v", data, err, wantErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeEncoded(%s) = %+v, Decode = %+v", data, got, want)
		}
		if !bytes.Equal(enc, Encode(want)) {
			t.Fatalf("DecodeEncoded(%s) encoded %s, Encode gives %s", data, enc, Encode(want))
		}
	})
}

// TestDecodeEncodedTakesCanonical checks that a canonical body is its own
// encoding (the fast path's answer), not a new one.
func TestDecodeEncodedTakesCanonical(t *testing.T) {
	body := []byte(`{"id":"t-1","type":"transfer","legs":[{"symbol":"A","from":"a","to":"b","amount":"1"}]}`)
	_, enc, err := DecodeEncoded(body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, body) {
		t.Fatalf("canonical body re-encoded as %s", enc)
	}
	if _, ok := decodeFast(body); !ok {
		t.Fatal("decodeFast refuses a canonical transfer")
	}
}

// BenchmarkDecodeEncoded is what the API spends on an instruction's body
// before it proposes it: a canonical one-leg transfer, as node bench sends.
//
//	go test ./transfer -run '^$' -bench DecodeEncoded -benchmem
func BenchmarkDecodeEncoded(b *testing.B) {
	body := []byte(`{"id":"b1796623165-123-456","type":"transfer","legs":[{"symbol":"USD","from":"inv-12","to":"inv-345","amount":"0.01"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, enc, err := DecodeEncoded(body); err != nil || len(enc) != len(body) {
			b.Fatalf("DecodeEncoded = %s, %v", enc, err)
		}
	}
}

// checkEncodedFlag holds decodeFastEncoded's encoded to AppendEncode's bytes
// for data, which decodeFast read as fast (ok): set only when AppendEncode
// writes data exactly, and set whenever it does, a record_seq or a
// cash_in_lieu aside (left to the caller's comparison on purpose).
func checkEncodedFlag(t *testing.T, data []byte, fast Instruction, ok bool) {
	t.Helper()
	_, okE, encoded := decodeFastEncoded(data, nil)
	if okE != ok {
		t.Fatalf("decodeFastEncoded(%s) ok = %v, decodeFast's %v", data, okE, ok)
	}
	if !ok {
		if encoded {
			t.Fatalf("decodeFastEncoded(%s) refused the body and called it encoded", data)
		}
		return
	}
	enc := AppendEncode(nil, fast)
	same := bytes.Equal(enc, data)
	if encoded && !same {
		t.Fatalf("decodeFastEncoded(%s) says encoded; AppendEncode writes %s", data, enc)
	}
	if same && !encoded && fast.RecordSeq == nil && fast.CashInLieu == nil {
		t.Fatalf("decodeFastEncoded(%s) is AppendEncode's bytes but says not encoded", data)
	}
}

// TestDecodeFastEncoded names the forms the fast decoder reads that
// AppendEncode writes otherwise, and some it writes as they are.
func TestDecodeFastEncoded(t *testing.T) {
	for _, tc := range []struct {
		body    string
		encoded bool
	}{
		{`{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"100"}`, true},
		{`{"id":"dvp","type":"transfer","legs":[{"symbol":"SEC0001","from":"a","to":"b","amount":"1","consideration":"10"},{"symbol":"USD","from":"b","to":"a","amount":"10"}]}`, true},
		{`{"id":"e","type":"transfer","legs":[]}`, true},
		{`{"id":"r","type":"register_party","party":{"id":"inv-b","role":"investor","status":"accredited","jurisdiction":"GB","kyc_expires_at":"2031-06-30T23:59:59.123456789Z","custodian":"cus-2","annual_income":"250000","net_worth":"1000000.5"}}`, true},
		{`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","status":"retail","kyc_expires_at":"2030-01-01T00:00:10Z"}}`, true},
		// Escaped by AppendEncode.
		{`{"id":"a<b","type":"mint","symbol":"ACME","to":"inv-a","amount":"100"}`, false},
		{`{"id":"f","type":"force_transfer","legs":[{"symbol":"A","from":"a","to":"b","amount":"1"}],"legal_reference":"Smith & Co"}`, false},
		{`{"id":"m","type":"mint","symbol":"ACME","to":"in>v","amount":"100"}`, false},
		// Omitted by AppendEncode when empty.
		{`{"id":"z","type":"freeze","party_id":""}`, false},
		{`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","status":""}}`, false},
		{`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","custodian":""}}`, false},
		// Trimmed by AppendEncode.
		{`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","kyc_expires_at":"2030-01-01T00:00:00.500Z"}}`, false},
		{`{"id":"r","type":"register_party","party":{"id":"a","role":"investor","kyc_expires_at":"2030-01-01T00:00:00.0Z"}}`, false},
		// Left to encoding/json by AppendEncode.
		{`{"id":"d","type":"distribute","symbol":"ACME","cash_symbol":"USD","amount_per_unit":"0.01","record_seq":12}`, false},
		{`{"id":"s","type":"split","symbol":"ACME","ratio":"1.5","cash_in_lieu":{"cash_symbol":"USD","price":"3"}}`, false},
	} {
		data := []byte(tc.body)
		fast, ok := decodeFast(data)
		if !ok {
			t.Fatalf("decodeFast(%s) refused it", data)
		}
		checkEncodedFlag(t, data, fast, ok)
		if _, _, encoded := decodeFastEncoded(data, nil); encoded != tc.encoded {
			t.Errorf("decodeFastEncoded(%s) encoded = %v, want %v", data, encoded, tc.encoded)
		}
		// DecodeCanonicalEncoded passes it on for a valid instruction.
		var arena DecodeArena
		ins, encoded, err := arena.DecodeCanonicalEncoded(data)
		if want := tc.encoded && err == nil; encoded != want {
			t.Errorf("DecodeCanonicalEncoded(%s) encoded = %v, want %v (err %v)", data, encoded, want, err)
		}
		if err == nil && !reflect.DeepEqual(ins, fast) {
			t.Errorf("DecodeCanonicalEncoded(%s) = %+v, decodeFast = %+v", data, ins, fast)
		}
	}
}

// TestTypeTablesSeparated checks that the tables of types and field names
// the decoder, the checks and the binary encoding look up every
// instruction find their keys without a map (strtab), and hold every type.
func TestTypeTablesSeparated(t *testing.T) {
	for name, sep := range map[string]bool{
		"knownTypes": knownTypes.Separated(), "allowedSets": allowedSets.Separated(),
		"binaryTypeCodes": binaryTypeCodes.Separated(), "fastFields": fastFields.Separated(),
	} {
		if !sep {
			t.Errorf("%s falls back to a map", name)
		}
	}
	for typ := range fieldsByType {
		if got, ok := knownTypes.Get(string(typ)); !ok || got != typ {
			t.Errorf("knownTypes(%s) = %q, %v", typ, got, ok)
		}
		if _, ok := allowedSets.Get(string(typ)); !ok {
			t.Errorf("allowedSets has no %s", typ)
		}
	}
	for code, typ := range binaryTypes {
		if typ != "" && binaryTypeCode(typ) != uint64(code) {
			t.Errorf("binaryTypeCode(%s) = %d, want %d", typ, binaryTypeCode(typ), code)
		}
	}
}
