package wire

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
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
