package ledger

import (
	"math/bits"

	"github.com/tokenledger/tokenledger/internal/wire"
)

// Check compares sums of millions of stored amounts (a supply's changes
// against its holders' balance changes, a holding against the last entry
// of its balance index). Decoding each into a decimal costs a big.Int; so
// instead it maps each amount, from its bytes, into the integers modulo
// the prime p = 2^61 - 1. An amount is c × 10^-s, and 10 has an inverse
// modulo p, so the map is a ring homomorphism from decimals to that field:
// the image of a sum is the sum of the images, and equal amounts have
// equal images whatever their encoding. Two different amounts share an
// image only when p divides the coefficient of their difference: for
// damage, which chooses no coefficient, a chance of about 2^-61.
const modP = 1<<61 - 1

// addModP, subModP and mulModP are the field's operations on values below p.
func addModP(a, b uint64) uint64 {
	s := a + b
	if s >= modP {
		s -= modP
	}
	return s
}

func subModP(a, b uint64) uint64 {
	if a >= b {
		return a - b
	}
	return a + modP - b
}

func mulModP(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	// a·b = hi·2^64 + lo, and 2^61 ≡ 1: fold the bits above 61 down.
	s := (lo & modP) + (lo>>61 | hi<<3)
	if s >= modP {
		s -= modP
	}
	return s
}

// reduceModP is v modulo p.
func reduceModP(v uint64) uint64 {
	v = (v & modP) + v>>61
	if v >= modP {
		v -= modP
	}
	return v
}

// powModP is b^e modulo p.
func powModP(b, e uint64) uint64 {
	r := uint64(1)
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = mulModP(r, b)
		}
		b = mulModP(b, b)
	}
	return r
}

// inverse10 is the inverse of 10 modulo p (Fermat: 10^(p-2)), and
// inverse10Pow[s] its s-th power, for the scales amounts have.
var (
	inverse10    = powModP(10, modP-2)
	inverse10Pow = func() (t [40]uint64) {
		t[0] = 1
		for i := 1; i < len(t); i++ {
			t[i] = mulModP(t[i-1], inverse10)
		}
		return t
	}()
)

// readDecimalModP reads a decimal as wire.Reader.Decimal does and returns
// its image modulo p and its sign.
func readDecimalModP(r *wire.Reader) (v uint64, sign int) {
	small, mag, neg, scale := r.DecimalParts()
	if mag == nil {
		m := uint64(small)
		if neg {
			m = -m // the magnitude, -MinInt64 included
		}
		v = reduceModP(m)
	} else {
		for _, c := range mag {
			v = addModP(mulModP(v, 256), uint64(c))
		}
	}
	if zero := mag == nil && small == 0 || mag != nil && allZero(mag); zero {
		return 0, 0
	}
	sign = 1
	if neg {
		sign = -1
		v = subModP(0, v)
	}
	if scale < uint64(len(inverse10Pow)) {
		return mulModP(v, inverse10Pow[scale]), sign
	}
	return mulModP(v, powModP(inverse10, scale)), sign
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// balanceModP is a balance record's amount (decodeBalance) modulo p, and
// its sign.
func balanceModP(val []byte) (uint64, int) {
	r := newRecordReader(val, tagBalance, "balance")
	v, sign := readDecimalModP(&r.Reader)
	r.done()
	return v, sign
}

// holdingBalanceModP is a holding record's balance (decodeHolding's first
// field) modulo p, and its sign; the rest of the record is not read.
func holdingBalanceModP(val []byte) (uint64, int) {
	r := newRecordReader(val, tagHolding, "holding")
	v, sign := readDecimalModP(&r.Reader)
	if r.Err() != nil {
		r.fail("balance")
	}
	return v, sign
}
