package wire

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"math/rand"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/internal/fixed"
)

// TestRoundTrip writes one field of each kind and reads it back; then every
// proper prefix of those bytes must fail, never panic or read past the end.
func TestRoundTrip(t *testing.T) {
	when := time.Date(2024, 2, 29, 12, 30, 0, 7, time.FixedZone("x", 3600))
	price := decimal.RequireFromString("-12.500")
	var w Writer
	w.Uvarint(300)
	w.Varint(-5)
	w.Str("héllo")
	w.Bool(true)
	w.Time(when)
	w.OptTime(nil)
	w.OptTime(&when)
	w.Decimal(decimal.New(3, 40))
	w.OptDecimal(&price)
	w.OptDecimal(nil)

	r := NewReader(w.B)
	if got := r.Uvarint(); got != 300 {
		t.Errorf("uvarint %d, want 300", got)
	}
	if got := r.Varint(); got != -5 {
		t.Errorf("varint %d, want -5", got)
	}
	if got := r.Str(); got != "héllo" {
		t.Errorf("string %q", got)
	}
	if !r.Bool() {
		t.Error("bool false, want true")
	}
	if got := r.Time(); !got.Equal(when) || got.Location() != time.UTC {
		t.Errorf("time %v, want %v in UTC", got, when)
	}
	if got := r.OptTime(); got != nil {
		t.Errorf("absent time %v", got)
	}
	if got := r.OptTime(); got == nil || !got.Equal(when) {
		t.Errorf("present time %v", got)
	}
	if got := r.Decimal(); !got.Equal(decimal.New(3, 40)) {
		t.Errorf("decimal %s", got)
	}
	if got := r.OptDecimal(); got == nil || got.String() != "-12.5" {
		t.Errorf("present decimal %v, want -12.5", got)
	}
	if got := r.OptDecimal(); got != nil {
		t.Errorf("absent decimal %v", got)
	}
	if r.Err() != nil || r.Len() != 0 {
		t.Fatalf("after reading all: err %v, %d bytes left", r.Err(), r.Len())
	}

	for n := range len(w.B) {
		r := NewReader(w.B[:n])
		r.Uvarint()
		r.Varint()
		r.Str()
		r.Bool()
		r.Time()
		r.OptTime()
		r.OptTime()
		r.Decimal()
		r.OptDecimal()
		r.OptDecimal()
		if r.Err() == nil {
			t.Errorf("prefix of %d bytes read without error", n)
		}
	}
}

// TestFailKeepsFirst: the error names the first field that failed, and
// reads after it give zero values.
func TestFailKeepsFirst(t *testing.T) {
	r := NewReader([]byte{5, 'a'}) // a string of 5 bytes, 1 there
	if got := r.Str(); got != "" {
		t.Errorf("truncated string %q", got)
	}
	r.Fail("later")
	if got := r.Uvarint(); got != 0 {
		t.Errorf("read after failure %d", got)
	}
	if got, want := r.Err().Error(), "truncated or malformed string"; got != want {
		t.Errorf("err %q, want %q", got, want)
	}
}

// TestFixedIsDecimal holds Fixed to Decimal: the same bytes for the same
// value, whatever its representation (small with any exponent, as sums
// leave them, or wide), and Reader.Fixed reads back the value.
func TestFixedIsDecimal(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewSource(seed))
		for i := 0; i < 5000; i++ {
			var c *big.Int
			switch r.Intn(4) {
			case 0:
				c = big.NewInt(r.Int63n(2000) - 1000)
			case 1:
				c = big.NewInt(r.Int63() >> uint(r.Intn(63)))
			case 2:
				c = new(big.Int).Lsh(big.NewInt(r.Int63()), uint(r.Intn(80)))
			default:
				c = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(r.Intn(22))), nil)
			}
			if r.Intn(2) == 0 {
				c.Neg(c)
			}
			d := decimal.NewFromBigInt(c, int32(r.Intn(40)-25))
			// Sums keep the exponent of their finer operand: a value with
			// trailing zeros, held small.
			f := fixed.From(d).Add(fixed.New(0, int32(r.Intn(6)-5)))
			var wd, wf Writer
			wd.Decimal(d)
			wf.Fixed(f)
			if !bytes.Equal(wd.B, wf.B) {
				t.Fatalf("seed %d: %s: Fixed wrote %x, Decimal %x", seed, d, wf.B, wd.B)
			}
			rd := NewReader(wf.B)
			if got := rd.Fixed(); rd.Err() != nil || !got.Decimal().Equal(d) {
				t.Fatalf("seed %d: %s read back as %s (%v)", seed, d, got, rd.Err())
			}
		}
	}
}

// TestVarintsAsBinary holds the Reader's varints, their one-byte path and
// the general one, to encoding/binary's: every value of one and two bytes
// and the edges of each length, then a truncated varint fails.
func TestVarintsAsBinary(t *testing.T) {
	var values []uint64
	for v := range uint64(1 << 14) {
		values = append(values, v)
	}
	for shift := 14; shift < 64; shift += 7 {
		values = append(values, 1<<shift-1, 1<<shift, 1<<shift+1)
	}
	values = append(values, math.MaxUint64)
	// Each value is read with 0 to 9 bytes after it: a varint that ends
	// in the first eight bytes of eight or more is read by one load
	// (uvarint8), any other a byte at a time.
	tail := []byte{0xAA, 0x80, 0xff, 0x01, 0x7f, 0x80, 0x80, 0x80, 0x00}
	for _, v := range values {
		for extra := 0; extra <= len(tail); extra++ {
			b := binary.AppendUvarint(nil, v)
			r := NewReader(append(b, tail[:extra]...))
			if got := r.Uvarint(); got != v || r.Err() != nil || r.Len() != extra {
				t.Fatalf("Uvarint of %x = %d (%v, %d left), want %d", b, got, r.Err(), r.Len(), v)
			}
			for _, x := range []int64{int64(v), -int64(v)} {
				b := binary.AppendVarint(nil, x)
				r := NewReader(append(b, tail[:extra]...))
				if got := r.Varint(); got != x || r.Err() != nil || r.Len() != extra {
					t.Fatalf("Varint of %x = %d (%v, %d left), want %d", b, got, r.Err(), r.Len(), x)
				}
			}
		}
	}
	for _, b := range [][]byte{nil, {0x80}, {0xff, 0xff}} {
		if r := NewReader(b); r.Uvarint() != 0 || r.Err() == nil {
			t.Errorf("Uvarint of %x did not fail", b)
		}
		if r := NewReader(b); r.Varint() != 0 || r.Err() == nil {
			t.Errorf("Varint of %x did not fail", b)
		}
	}
}

// TestVarintBytesAsBinary reads random bytes, and varints written longer
// than they need (a continuation byte of zeros), as encoding/binary does:
// the same value, the same length, or both fail.
func TestVarintBytesAsBinary(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for range 200_000 {
		b := make([]byte, r.Intn(12))
		for i := range b {
			b[i] = byte(r.Uint32())
			if r.Intn(3) > 0 {
				b[i] |= 0x80 // long runs of continuation bytes
			}
		}
		checkVarintBytes(t, b)
	}
	for n := 1; n <= 11; n++ {
		b := append(bytes.Repeat([]byte{0x80}, n-1), 0)
		checkVarintBytes(t, append(b, 1, 2, 3, 4, 5, 6, 7, 8))
	}
}

// FuzzVarintBytes holds the Reader's varints to encoding/binary's on any
// bytes.
func FuzzVarintBytes(f *testing.F) {
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) { checkVarintBytes(t, b) })
}

func checkVarintBytes(t *testing.T, b []byte) {
	t.Helper()
	wantU, nU := binary.Uvarint(b)
	ru := NewReader(b)
	checkReadAsBinary(t, "Uvarint", b, ru.Uvarint(), &ru, wantU, nU)
	sk := NewReader(b)
	sk.SkipUvarint()
	if (sk.Err() != nil) != (nU <= 0) || (nU > 0 && sk.Len() != len(b)-nU) {
		t.Fatalf("SkipUvarint of %x: %v, %d left; Uvarint: n = %d", b, sk.Err(), sk.Len(), nU)
	}
	wantS, nS := binary.Varint(b)
	rs := NewReader(b)
	checkReadAsBinary(t, "Varint", b, rs.Varint(), &rs, wantS, nS)
}

// checkReadAsBinary fails t unless reading b gave what encoding/binary
// gives: want, with n bytes read, or an error where n <= 0.
func checkReadAsBinary[T uint64 | int64](t *testing.T, what string, b []byte, got T, r *Reader, want T, n int) {
	t.Helper()
	if n <= 0 {
		if r.Err() == nil {
			t.Fatalf("%s of %x = %d, want an error", what, b, got)
		}
		return
	}
	if got != want || r.Err() != nil || r.Len() != len(b)-n {
		t.Fatalf("%s of %x = %d (%v, %d left), want %d (%d left)", what, b, got, r.Err(), r.Len(), want, len(b)-n)
	}
}

// TestSkipDecimal passes over what DecimalParts reads, stopping where it
// stops and failing where it fails: decimals as written, then random bytes.
func TestSkipDecimal(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var inputs [][]byte
	for _, s := range []string{"0", "-0.01", "1000000.00", "123456789012345678901234567890.5", "-98765432109876543210", "1e-40"} {
		var w Writer
		w.Decimal(decimal.RequireFromString(s))
		inputs = append(inputs, append(w.B, 0xAA, 0x80, 0x01))
	}
	for range 100_000 {
		b := make([]byte, r.Intn(14))
		for i := range b {
			b[i] = byte(r.Uint32())
			if r.Intn(3) > 0 {
				b[i] |= 0x80
			}
		}
		if len(b) > 0 && r.Intn(2) == 0 {
			b[0] &= 0x7c // a small decimal's header: its coefficient follows
		}
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		want := NewReader(b)
		want.DecimalParts()
		got := NewReader(b)
		got.SkipDecimal()
		if (got.Err() == nil) != (want.Err() == nil) || (want.Err() == nil && got.Len() != want.Len()) {
			t.Fatalf("SkipDecimal of %x: %v, %d left; DecimalParts: %v, %d left", b, got.Err(), got.Len(), want.Err(), want.Len())
		}
	}
}

// TestSkipUvarintDecimals passes over pairs of a uvarint and a decimal as
// reading each field in turn does: the same bytes left, or both fail. The
// inputs are pairs as written (short and long varints, small and big
// decimals), cut anywhere, and random bytes.
func TestSkipUvarintDecimals(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	decimals := []string{"0", "1000000", "0.01", "-12.5", "123456789012345678901234567890", "99999999999999999.9"}
	for range 50_000 {
		var w Writer
		pairs := r.Intn(6)
		for range pairs {
			switch r.Intn(4) {
			case 0:
				w.Uvarint(uint64(r.Intn(128)))
			case 1:
				w.Uvarint(uint64(r.Int63()))
			case 2:
				w.Uvarint(math.MaxUint64 >> uint(r.Intn(64)))
			default:
				w.B = append(w.B, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02) // too long: overflows
			}
			w.Decimal(decimal.RequireFromString(decimals[r.Intn(len(decimals))]))
		}
		b := w.B
		switch r.Intn(4) {
		case 0:
			b = b[:r.Intn(len(b)+1)]
		case 1:
			for i := range b {
				if r.Intn(8) == 0 {
					b[i] = byte(r.Uint32())
				}
			}
		}
		b = append(b, 0xAA)
		n := pairs + r.Intn(2) - r.Intn(2)
		if n < 0 {
			n = 0
		}
		want := NewReader(b)
		for range n {
			want.Uvarint()
			want.DecimalParts()
		}
		got := NewReader(b)
		got.SkipUvarintDecimals(n)
		if (got.Err() == nil) != (want.Err() == nil) || (want.Err() == nil && got.Len() != want.Len()) {
			t.Fatalf("%d pairs of %x: skipped to %d left (%v), read to %d left (%v)", n, b, got.Len(), got.Err(), want.Len(), want.Err())
		}
	}
}

// FuzzSkipUvarintDecimals holds SkipUvarintDecimals to reading the fields
// one by one, on any bytes.
func FuzzSkipUvarintDecimals(f *testing.F) {
	f.Add([]byte{0x05, 0x08, 0x02, 0x81, 0x01, 0x00, 0x00}, uint8(2))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 0x00, 0x00}, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, n uint8) {
		want := NewReader(b)
		for range int(n) {
			want.Uvarint()
			want.DecimalParts()
		}
		got := NewReader(b)
		got.SkipUvarintDecimals(int(n))
		if (got.Err() == nil) != (want.Err() == nil) || (want.Err() == nil && got.Len() != want.Len()) {
			t.Fatalf("%d pairs of %x: skipped to %d left (%v), read to %d left (%v)", n, b, got.Len(), got.Err(), want.Len(), want.Err())
		}
	})
}
