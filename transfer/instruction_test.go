package transfer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error // nil: accepted
	}{
		{"mint", `{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"100"}`, nil},
		{"transfer", `{"id":"t-1","type":"transfer","legs":[{"symbol":"ACME","from":"a","to":"b","amount":"1.5"}]}`, nil},
		{"register investor", `{"id":"r-1","type":"register_party","party":{"id":"inv-a","role":"investor","status":"retail","jurisdiction":"US","kyc_expires_at":"2030-01-01T00:00:00Z","custodian":"cus-1"}}`, nil},
		{"create", `{"id":"c-1","type":"create_instrument","instrument":{"symbol":"ACME","name":"Acme","issuer":"iss","decimals":0,"regime":"reg_d_506c","attributes":{"underlying":"enterprise_equity","payoff":"linear","embedded_leverage":"1","expiry_days":0,"economic_purpose":"capital_formation"}}}`, nil},
		{"malformed json", `{"id":`, ErrMalformed},
		{"not an object", `[1,2]`, ErrMalformed},
		{"trailing data", `{"id":"m-1","type":"pause","symbol":"ACME"} {}`, ErrMalformed},
		{"unknown field", `{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"100","memo":"x"}`, ErrUnknownField},
		{"field of another type", `{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"100","legs":[]}`, ErrUnknownField},
		{"nested unknown field", `{"id":"t-1","type":"transfer","legs":[{"symbol":"ACME","from":"a","to":"b","amount":"1","fee":"1"}]}`, ErrUnknownField},
		{"number amount", `{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":100}`, ErrBadAmount},
		{"exponent amount", `{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"1e999999999"}`, ErrBadAmount},
		{"negative zero", `{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"-0"}`, ErrBadAmount},
		{"too fine", `{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"0.0000000000000000001"}`, ErrBadAmount},
		{"empty amount", `{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":""}`, ErrBadAmount},
		{"wrong type", `{"id":"m-1","type":"mint","symbol":7,"to":"inv-a","amount":"1"}`, ErrMalformed},
		{"unknown type", `{"id":"m-1","type":"steal"}`, ErrInvalid},
		{"bad id", `{"id":"a b","type":"pause","symbol":"ACME"}`, ErrInvalid},
		{"long id", `{"id":"` + strings.Repeat("a", 129) + `","type":"pause","symbol":"ACME"}`, ErrInvalid},
		{"bad symbol", `{"id":"p","type":"pause","symbol":"acme"}`, ErrInvalid},
		{"missing amount", `{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a"}`, ErrInvalid},
		{"self transfer", `{"id":"t-1","type":"transfer","legs":[{"symbol":"ACME","from":"a","to":"a","amount":"1"}]}`, ErrInvalid},
		{"no legs", `{"id":"t-1","type":"transfer","legs":[]}`, ErrInvalid},
		{"force without reference", `{"id":"f-1","type":"force_transfer","legs":[{"symbol":"ACME","from":"a","to":"b","amount":"1"}]}`, ErrInvalid},
		{"investor without kyc", `{"id":"r-1","type":"register_party","party":{"id":"inv-a","role":"investor","status":"retail","jurisdiction":"US","custodian":"c"}}`, ErrInvalid},
		{"issuer with status", `{"id":"r-1","type":"register_party","party":{"id":"iss","role":"issuer","status":"retail"}}`, ErrInvalid},
		{"bad time", `{"id":"u-1","type":"update_party","party_id":"a","kyc_expires_at":"tomorrow"}`, ErrMalformed},
		{"leverage exponent", `{"id":"c-1","type":"create_instrument","instrument":{"symbol":"X","name":"X","issuer":"iss","decimals":0,"regime":"registered","attributes":{"underlying":"index","payoff":"linear","embedded_leverage":"1e9","expiry_days":0,"economic_purpose":"none"}}}`, ErrBadAmount},
		{"leverage below one", `{"id":"c-1","type":"create_instrument","instrument":{"symbol":"X","name":"X","issuer":"iss","decimals":0,"regime":"registered","attributes":{"underlying":"index","payoff":"linear","embedded_leverage":"0.5","expiry_days":0,"economic_purpose":"none"}}}`, ErrInvalid},
		{"decimals out of range", `{"id":"c-1","type":"create_instrument","instrument":{"symbol":"X","name":"X","issuer":"iss","decimals":19,"regime":"registered","attributes":{}}}`, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.body))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Decode(%s) = %v, want ok", tc.body, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Decode(%s) = %v, want %v", tc.body, err, tc.want)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	body := `{"id":"t-1","type":"transfer","legs":[{"symbol":"ACME","from":"a","to":"b","amount":"1.50"}]}`
	ins, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	enc := Encode(ins)
	again, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode(Encode) = %v", err)
	}
	if string(Encode(again)) != string(enc) {
		t.Errorf("canonical encoding is not stable: %s vs %s", Encode(again), enc)
	}
}

func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/instructions/*.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"m-1","type":"mint","symbol":"ACME","to":"inv-a","amount":"100"}`))
	f.Add([]byte(`{"id":"x","type":"transfer","legs":[{"symbol":"A","from":"a","to":"b","amount":"1e999999"}]}`))
	f.Add([]byte(`{"id":"u-1","type":"update_instrument","symbol":"ACME","name":"Acme","max_supply":"5000"}`))
	f.Add([]byte(`{"id":"u-2","type":"update_party","party_id":"inv-a","affiliate_of":["ACME","B"]}`))
	f.Add([]byte(`{"id":"a-1","type":"approve","instruction_id":"f-1"}`))
	f.Add([]byte(`{"id":"b-1","type":"burn","symbol":"ACME","from":"inv-a","amount":"1","legal_reference":"order"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes canonically and decodes to the same bytes,
		// by the state machine's decoder too.
		enc := Encode(ins)
		if c, err := DecodeCanonical(enc); err != nil || string(Encode(c)) != string(enc) {
			t.Fatalf("DecodeCanonical(Encode(%s)) = %v", data, err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(%s)) = %v", data, err)
		}
		if string(Encode(again)) != string(enc) {
			t.Fatalf("unstable canonical form for %s", data)
		}
	})
}
