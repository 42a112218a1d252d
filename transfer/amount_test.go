package transfer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in       string
		decimals int32
		want     string // "" means refused
	}{
		{"0", 2, "0"},
		{"1250.5", 2, "1250.5"},
		{"1250.50", 2, "1250.5"},
		{"1250.505", 2, ""},
		{"0.000000000000000001", 18, "0.000000000000000001"},
		{"0.0000000000000000001", 18, ""},
		{"1000000000000000000000000000000", 0, "1000000000000000000000000000000"},
		{"1000000000000000000000000000001", 0, ""},
		{"10000000000000000000000000000000", 0, ""},
		{"1e5", 2, ""},
		{"1e999999", 2, ""},
		{"1e999999999", 2, ""},
		{"-1", 2, ""},
		{"-0", 2, ""},
		{"+1", 2, ""},
		{"", 2, ""},
		{".5", 2, ""},
		{"5.", 2, ""},
		{"01", 2, ""},
		{"1.5", 0, ""},
		{" 1", 2, ""},
		{"1_000", 2, ""},
		{"NaN", 2, ""},
		{"0x10", 2, ""},
		{"١", 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAmount(tc.in, tc.decimals)
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrBadAmount) {
					t.Errorf("ParseAmount(%q, %d) = %v, %v; want ErrBadAmount", tc.in, tc.decimals, got, err)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Errorf("ParseAmount(%q, %d) = %v, %v; want %s", tc.in, tc.decimals, got, err, tc.want)
			}
		})
	}
}

func TestParsePositiveRefusesZero(t *testing.T) {
	for _, in := range []string{"0", "0.0", "0.000"} {
		if _, err := ParsePositive(in, 3); !errors.Is(err, ErrBadAmount) {
			t.Errorf("ParsePositive(%q) err = %v, want ErrBadAmount", in, err)
		}
	}
}

func TestAmountJSON(t *testing.T) {
	tests := []struct {
		json string
		ok   bool
	}{
		{`"12.5"`, true},
		{`12.5`, false},
		{`"1e5"`, false},
		{`null`, false},
		{`"1\u0030"`, false}, // escapes are refused rather than interpreted
		{`true`, false},
		{`""`, false},
	}
	for _, tc := range tests {
		var a Amount
		err := json.Unmarshal([]byte(tc.json), &a)
		if (err == nil) != tc.ok {
			t.Errorf("unmarshal %s: err = %v, want ok=%v", tc.json, err, tc.ok)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0", "1", "1250.5", "1e999999", "-0", "0.0000000000000000001", strings.Repeat("9", 40), "1.", ".1", "+1", "1.50", "0.10", "123456789012345678", "1234567890123456789", "999999999999999999.9"} {
		f.Add(s, int32(2))
	}
	f.Fuzz(func(t *testing.T, s string, decimals int32) {
		decimals = decimals % (MaxDecimals + 1)
		if decimals < 0 {
			decimals = -decimals
		}
		// The fixed parse gives ParsePositive's answer: value or error.
		pd, perr := ParsePositive(s, decimals)
		pf, ferr := ParsePositiveFixed(s, decimals)
		if (perr == nil) != (ferr == nil) || (perr != nil && perr.Error() != ferr.Error()) || (perr == nil && !pf.Decimal().Equal(pd)) {
			t.Fatalf("ParsePositiveFixed(%q, %d) = %s, %v; ParsePositive gives %s, %v", s, decimals, pf, ferr, pd, perr)
		}
		d, err := ParseAmount(s, decimals)
		if err != nil {
			return
		}
		// Accepted amounts are non-negative, bounded, within scale and round-trip.
		if d.IsNegative() || d.GreaterThan(maxAmount) || d.Exponent() < -MaxDecimals {
			t.Fatalf("ParseAmount(%q) accepted out-of-range %s", s, d)
		}
		back, err := ParseAmount(d.String(), decimals)
		if err != nil || !back.Equal(d) {
			t.Fatalf("round trip of %q: %s -> %v, %v", s, d, back, err)
		}
	})
}
