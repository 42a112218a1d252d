package ledger

import (
	"math/bits"

	"github.com/shopspring/decimal"
	"github.com/tokenledger/tokenledger/internal/fixed"
)

// decSum is the exact sum of decimals added to it. While every term has
// the exponent of the first nonzero one and the sum fits an int64, it is
// that int64 (no big.Int made per term, as decimal's Add and Sub make);
// past that it is a decimal. The balance changes of an entry, which it
// sums per symbol, share their instrument's exponent nearly always.
type decSum struct {
	exp   int32
	small int64
	big   decimal.Decimal
	isBig bool
	set   bool // exp holds the first nonzero term's exponent
}

// add adds d, or subtracts it if neg.
func (s *decSum) add(d decimal.Decimal, neg bool) {
	if d.IsZero() {
		return
	}
	if !s.isBig {
		if !s.set {
			s.exp, s.set = d.Exponent(), true
		}
		if d.Exponent() == s.exp && d.NumDigits() <= 18 {
			c := d.CoefficientInt64()
			if neg {
				c = -c
			}
			if sum, ok := addInt64(s.small, c); ok {
				s.small = sum
				return
			}
		}
		s.big, s.isBig = decimal.New(s.small, s.exp), true
	}
	if neg {
		s.big = s.big.Sub(d)
	} else {
		s.big = s.big.Add(d)
	}
}

// addFixed adds d, or subtracts it if neg, without building a decimal
// while the sum and d are held small. Unlike add, it takes terms at any
// exponent: a balance of 1000000 and one of 999999.99 are stored at
// exponents 0 and -2, and the sum moves to the finer one.
func (s *decSum) addFixed(d fixed.Decimal, neg bool) {
	if d.IsZero() {
		return
	}
	if !s.isBig {
		sum := fixed.New(s.small, s.exp)
		if neg {
			sum = sum.Sub(d)
		} else {
			sum = sum.Add(d)
		}
		if c, exp, small := sum.Small(); small {
			s.small, s.exp, s.set = c, exp, true
			return
		}
	}
	s.add(d.Decimal(), neg)
}

// addInt64 is a+b and whether it did not overflow.
func addInt64(a, b int64) (int64, bool) {
	sum, _ := bits.Add64(uint64(a), uint64(b), 0)
	s := int64(sum)
	// Overflow: both operands of one sign, the result of the other.
	return s, !((a >= 0) == (b >= 0) && (s >= 0) != (a >= 0))
}

func (s *decSum) isZero() bool {
	if s.isBig {
		return s.big.IsZero()
	}
	return s.small == 0
}

// value is the sum as a decimal.
func (s *decSum) value() decimal.Decimal {
	if s.isBig {
		return s.big
	}
	if s.small == 0 {
		return decimal.Zero
	}
	return decimal.New(s.small, s.exp)
}
