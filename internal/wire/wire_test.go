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
	for _, v := range values {
		b := binary.AppendUvarint(nil, v)
		r := NewReader(append(b, 0xAA))
		if got := r.Uvarint(); got != v || r.Err() != nil || r.Len() != 1 {
			t.Fatalf("Uvarint of %x = %d (%v, %d left), want %d", b, got, r.Err(), r.Len(), v)
		}
		for _, x := range []int64{int64(v), -int64(v)} {
			b := binary.AppendVarint(nil, x)
			r := NewReader(append(b, 0xAA))
			if got := r.Varint(); got != x || r.Err() != nil || r.Len() != 1 {
				t.Fatalf("Varint of %x = %d (%v, %d left), want %d", b, got, r.Err(), r.Len(), x)
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
