// Package wire owns the binary primitives the journal's instruction encoding
// (transfer) and the state's records (ledger) are built from, so the two
// formats cannot drift apart field by field:
//
//	uvarint   encoding/binary's variable-length unsigned integer
//	varint    encoding/binary's zig-zag signed integer
//	string    uvarint length, then the bytes
//	bool      one byte, 0 or 1
//	time      varint Unix seconds, uvarint nanoseconds: the instant; it
//	          decodes in UTC
//	X?        a bool (absent or present), then X if present
//	decimal   see Writer.Decimal
//
// Both formats are hashed and kept in golden files: a change to any byte
// written here is a change of both formats.
package wire

import (
	"encoding/binary"
	"errors"
	"math/big"
	"math/bits"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/internal/fixed"
)

// UvarintLen is the bytes binary.AppendUvarint writes for x.
func UvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// Writer appends fields to B.
type Writer struct{ B []byte }

func (w *Writer) Uvarint(v uint64) { w.B = binary.AppendUvarint(w.B, v) }
func (w *Writer) Varint(v int64)   { w.B = binary.AppendVarint(w.B, v) }

func (w *Writer) Str(s string) {
	w.Uvarint(uint64(len(s)))
	w.B = append(w.B, s...)
}

func (w *Writer) Bool(v bool) {
	if v {
		w.B = append(w.B, 1)
	} else {
		w.B = append(w.B, 0)
	}
}

// Time writes seconds and nanoseconds since the Unix epoch; the zone is not
// written, and Reader.Time gives the instant back in UTC.
func (w *Writer) Time(t time.Time) {
	w.Varint(t.Unix())
	w.Uvarint(uint64(t.Nanosecond()))
}

func (w *Writer) OptTime(t *time.Time) {
	w.Bool(t != nil)
	if t != nil {
		w.Time(*t)
	}
}

// Kinds of a decimal's coefficient, in the low two bits of its header.
const (
	decSmall    = 0 // varint coefficient follows
	decBigPlus  = 1 // length-prefixed big-endian magnitude follows
	decBigMinus = 2 // same, negated
)

// Decimal writes d in its canonical form: the coefficient and exponent that
// decimal.NewFromString(d.String()) would give, that is an integer at
// exponent 0, or else no trailing zero in the coefficient. Equal values are
// equal bytes whatever arithmetic produced them, and decoding gives the same
// representation parsing the text would. Header: uvarint(scale<<2 | kind),
// scale = -exponent >= 0.
func (w *Writer) Decimal(d decimal.Decimal) {
	// 18 digits fit an int64 with room for the rescaling in small.
	if d.NumDigits() > 18 || !w.small(d.CoefficientInt64(), d.Exponent()) {
		w.bigDecimal(d)
	}
}

// Fixed writes d exactly as Decimal writes d.Decimal(), without building
// one while its coefficient has at most 18 digits.
func (w *Writer) Fixed(d fixed.Decimal) {
	c, exp, ok := d.Small()
	if !ok || c < -maxSmall || c > maxSmall || !w.small(c, exp) {
		w.bigDecimal(d.Decimal())
	}
}

// maxSmall is the largest coefficient of 18 digits.
const maxSmall = 999_999_999_999_999_999

// small writes c × 10^exp, |c| of at most 18 digits, in the canonical form
// if its coefficient there fits an int64, and reports whether it did.
func (w *Writer) small(c int64, exp int32) bool {
	switch {
	case c == 0:
		exp = 0
	case exp > 0:
		for ; exp > 0 && c > -1e17 && c < 1e17; exp-- {
			c *= 10
		}
	default:
		for ; exp < 0 && c%10 == 0; exp++ {
			c /= 10
		}
	}
	if exp > 0 {
		return false
	}
	w.Uvarint(uint64(-int64(exp))<<2 | decSmall)
	w.Varint(c)
	return true
}

func (w *Writer) bigDecimal(d decimal.Decimal) {
	c, exp := d.Coefficient(), d.Exponent()
	ten := big.NewInt(10)
	switch {
	case c.Sign() == 0:
		exp = 0
	case exp > 0:
		c.Mul(c, new(big.Int).Exp(ten, big.NewInt(int64(exp)), nil))
		exp = 0
	default:
		var q, r big.Int
		for exp < 0 {
			q.QuoRem(c, ten, &r)
			if r.Sign() != 0 {
				break
			}
			c.Set(&q)
			exp++
		}
	}
	kind := uint64(decBigPlus)
	if c.Sign() < 0 {
		kind = decBigMinus
	}
	if c.IsInt64() {
		kind = decSmall
	}
	w.Uvarint(uint64(-int64(exp))<<2 | kind)
	if kind == decSmall {
		w.Varint(c.Int64())
		return
	}
	mag := c.Bytes()
	w.Uvarint(uint64(len(mag)))
	w.B = append(w.B, mag...)
}

func (w *Writer) OptDecimal(d *decimal.Decimal) {
	w.Bool(d != nil)
	if d != nil {
		w.Decimal(*d)
	}
}

// Reader reads fields from the bytes it was given. It never reads past
// them: a field that does not decode marks the reader failed (Err), and
// from then on every read gives a zero value, so a decoder reads on and
// checks Err once at the end.
type Reader struct {
	b      []byte
	failed string // the first field that did not decode
}

func NewReader(b []byte) Reader { return Reader{b: b} }

// Len is the number of bytes not read yet. A count read from the input is
// at most Len when each of its items takes at least a byte, which bounds
// what a decoder allocates for it.
func (r *Reader) Len() int { return len(r.b) }

// Rest is what is left to read, shared with the reader's input.
func (r *Reader) Rest() []byte { return r.b }

// Fail marks the reader failed at field what, unless it failed already, and
// drops what is left.
func (r *Reader) Fail(what string) {
	if r.failed == "" {
		r.failed = what
	}
	r.b = nil
}

// Err names the first field that did not decode, or is nil.
func (r *Reader) Err() error {
	if r.failed == "" {
		return nil
	}
	return errors.New("truncated or malformed " + r.failed)
}

func (r *Reader) Byte() byte {
	if len(r.b) == 0 {
		r.Fail("byte")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Uvarint reads a uvarint. One of a byte (lengths, small counts, field
// numbers: most of what a record holds) is read inline, without the
// general loop's call.
func (r *Reader) Uvarint() uint64 {
	if b := r.b; len(b) > 0 && b[0] < 0x80 {
		r.b = b[1:]
		return uint64(b[0])
	}
	return r.uvarint()
}

func (r *Reader) uvarint() uint64 {
	if v, n := uvarint8(r.b); n > 0 {
		r.b = r.b[n:]
		return v
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Fail("uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// SkipUvarint passes over a uvarint (or a varint: the same bytes), failing
// as Uvarint does. One that ends in the first eight bytes of eight or more
// is found from one load without decoding it.
func (r *Reader) SkipUvarint() {
	if b := r.b; len(b) >= 8 {
		if stop := ^binary.LittleEndian.Uint64(b) & 0x8080808080808080; stop != 0 {
			r.b = b[bits.TrailingZeros64(stop)/8+1:]
			return
		}
	}
	r.uvarint()
}

// SkipUvarintDecimals passes over n pairs of a uvarint and a decimal (a
// holding's recent balances: a seq and a balance each), failing as
// reading them would. Pairs of short varints and a small decimal, nearly
// all of them, are passed over in one loop over the bytes; from the first
// other pair on, each field is read as SkipUvarint and SkipDecimal read
// it.
func (r *Reader) SkipUvarintDecimals(n int) {
	b, i := r.b, 0
	for ; n > 0; n-- {
		j := i
		for j < len(b) && b[j] >= 0x80 {
			j++
		}
		// Nine bytes or fewer never overflow; longer ones, and a
		// truncated one, are the general path's to judge.
		if j >= len(b) || j-i > 8 {
			break
		}
		j++
		if j >= len(b) || b[j] >= 0x80 || b[j]&3 != decSmall { // a one-byte small decimal's header
			break
		}
		j++
		k := j
		for k < len(b) && b[k] >= 0x80 {
			k++
		}
		if k >= len(b) || k-j > 8 {
			break
		}
		i = k + 1
	}
	r.b = b[i:]
	for ; n > 0; n-- {
		r.SkipUvarint()
		r.SkipDecimal()
	}
}

// SkipDecimal passes over a decimal, failing as DecimalParts does.
func (r *Reader) SkipDecimal() {
	from := r.b
	if h := r.Uvarint(); r.failed == "" && h&3 == decSmall && h>>2 <= 1<<31 {
		r.SkipUvarint()
		return
	}
	r.b = from
	r.DecimalParts()
}

// uvarint8 decodes a uvarint that ends within b's first eight bytes, as
// binary.Uvarint does, from one 64-bit load: the first byte without the
// continuation bit ends it, and the 7-bit groups before it are packed
// together in three steps. It returns n = 0 when b is shorter than eight
// bytes or the varint longer, for binary.Uvarint to decode. Record fields
// of several bytes (times, balances) were a loop of a byte at a time, a
// branch each, and a few percent of a transfer's apply.
func uvarint8(b []byte) (v uint64, n int) {
	if len(b) < 8 {
		return 0, 0
	}
	x := binary.LittleEndian.Uint64(b)
	stop := ^x & 0x8080808080808080
	if stop == 0 {
		return 0, 0
	}
	n = bits.TrailingZeros64(stop)/8 + 1
	x &= (uint64(1)<<(8*uint(n)) - 1) & 0x7f7f7f7f7f7f7f7f // n = 8 shifts to 0: all ones
	x = x&0x007f007f007f007f | x&0x7f007f007f007f00>>1
	x = x&0x00003fff00003fff | x&0x3fff00003fff0000>>2
	x = x&0x000000000fffffff | x&0x0fffffff00000000>>4
	return x, n
}

// Varint reads a varint, one of a byte inline as Uvarint does.
func (r *Reader) Varint() int64 {
	if b := r.b; len(b) > 0 && b[0] < 0x80 {
		r.b = b[1:]
		return int64(b[0]>>1) ^ -int64(b[0]&1) // zigzag
	}
	return r.varint()
}

func (r *Reader) varint() int64 {
	if u, n := uvarint8(r.b); n > 0 {
		r.b = r.b[n:]
		return int64(u>>1) ^ -int64(u&1) // zigzag
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.Fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Bytes reads n bytes; they alias the input.
func (r *Reader) Bytes(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.Fail("bytes")
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

// StrBytes reads a string's bytes, aliasing the input.
func (r *Reader) StrBytes() []byte {
	n := r.Uvarint()
	if uint64(len(r.b)) < n {
		r.Fail("string")
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *Reader) Str() string { return string(r.StrBytes()) }

func (r *Reader) Bool() bool {
	switch r.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.Fail("bool")
	return false
}

func (r *Reader) Time() time.Time {
	sec := r.Varint()
	nsec := r.Uvarint()
	if nsec >= 1e9 {
		r.Fail("time")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (r *Reader) OptTime() *time.Time {
	if !r.Bool() {
		return nil
	}
	t := r.Time()
	return &t
}

// zeroDecimal is 0 as parsing "0" gives it. Decoded decimals share it:
// decimal values are never modified in place.
var zeroDecimal = decimal.New(0, 0)

func (r *Reader) Decimal() decimal.Decimal {
	h := r.Uvarint()
	scale := h >> 2
	if scale > 1<<31 {
		r.Fail("decimal scale")
		return decimal.Decimal{}
	}
	exp := int32(-int64(scale))
	switch h & 3 {
	case decSmall:
		c := r.Varint()
		if c == 0 && exp == 0 {
			return zeroDecimal // the commonest value by far (frozen amounts)
		}
		return decimal.New(c, exp)
	case decBigPlus, decBigMinus:
		c := new(big.Int).SetBytes(r.Bytes(r.Uvarint()))
		if h&3 == decBigMinus {
			c.Neg(c)
		}
		return decimal.NewFromBigInt(c, exp)
	}
	r.Fail("decimal kind")
	return decimal.Decimal{}
}

// Fixed reads what Decimal (or Fixed) wrote, without building a decimal
// while the coefficient is small.
func (r *Reader) Fixed() fixed.Decimal {
	from := r.b
	if h := r.Uvarint(); r.failed == "" && h&3 == decSmall && h>>2 <= 1<<31 {
		return fixed.New(r.Varint(), int32(-int64(h>>2)))
	}
	// A big coefficient, or a bad header: Decimal reads it again, or
	// fails as it does.
	r.b = from
	return fixed.From(r.Decimal())
}

// DecimalParts reads a decimal as Decimal does, without building it: its
// value is ±coefficient × 10^-scale, the coefficient being small when mag
// is nil and mag, big-endian, otherwise. Check sums millions of stored
// amounts, and a decimal is a big.Int allocated for each.
func (r *Reader) DecimalParts() (small int64, mag []byte, neg bool, scale uint64) {
	h := r.Uvarint()
	scale = h >> 2
	if scale > 1<<31 {
		r.Fail("decimal scale")
		return 0, nil, false, 0
	}
	switch h & 3 {
	case decSmall:
		small = r.Varint()
		return small, nil, small < 0, scale
	case decBigPlus, decBigMinus:
		mag = r.Bytes(r.Uvarint())
		return 0, mag, h&3 == decBigMinus, scale
	}
	r.Fail("decimal kind")
	return 0, nil, false, 0
}

func (r *Reader) OptDecimal() *decimal.Decimal {
	if !r.Bool() {
		return nil
	}
	d := r.Decimal()
	return &d
}
