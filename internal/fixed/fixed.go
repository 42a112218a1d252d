// Package fixed is the state machine's exact decimal for the amounts it
// holds and moves most: balances, frozen amounts and lots.
//
// A shopspring decimal.Decimal is a big.Int and an exponent, so every sum,
// difference and decoded balance allocates one or two objects. A Decimal
// here is an int64 coefficient and an exponent, with no pointer to follow
// and nothing to allocate, while the coefficient fits: below 10^18 units of
// an instrument's smallest fraction (10^16 dollars in cents). A value that
// does not fit, or an operation whose result would not, goes on exactly as
// a decimal.Decimal, so no amount the API accepts is ever refused, rounded
// or wrapped here: the fast path is an optimisation, never a limit.
//
// Values are compared by value (Cmp, Equal), never with ==: 1.5 and 1.50
// are equal and may be held with different exponents, as with decimal.
package fixed

import (
	"math"
	"math/bits"

	"github.com/shopspring/decimal"
)

// Decimal is coefficient × 10^exp, exactly.
type Decimal struct {
	c   int64
	exp int32
	// wide says the value is d's, the coefficient not fitting an int64
	// (or an operation's result not having fitted).
	wide bool
	d    decimal.Decimal
}

// Zero is 0.
var Zero = Decimal{}

// New returns c × 10^exp.
func New(c int64, exp int32) Decimal { return Decimal{c: c, exp: exp} }

// maxSmall is the largest coefficient From keeps small: 18 digits, the
// bound wire's encoding of decimals uses too.
const maxSmall = 999_999_999_999_999_999

// From returns d as a Decimal.
func From(d decimal.Decimal) Decimal {
	if d.NumDigits() <= 18 {
		return Decimal{c: d.CoefficientInt64(), exp: d.Exponent()}
	}
	return Decimal{wide: true, d: d}
}

// Decimal returns the value as a decimal.Decimal, for the edges: arithmetic
// with prices and rates, rendering, JSON.
func (a Decimal) Decimal() decimal.Decimal {
	if a.wide {
		return a.d
	}
	return decimal.New(a.c, a.exp)
}

// Small returns the coefficient and exponent when the value is held as an
// int64 (ok); wire encodes those without building a decimal.
func (a Decimal) Small() (c int64, exp int32, ok bool) { return a.c, a.exp, !a.wide }

// pow10 holds 10^0 … 10^18, every power of ten an int64 holds.
var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// scaleUp returns c × 10^n, false if it does not fit an int64.
func scaleUp(c int64, n int64) (int64, bool) {
	if n >= int64(len(pow10)) {
		return 0, c == 0
	}
	if c == 0 {
		return 0, true
	}
	hi, lo := bits.Mul64(abs(c), uint64(pow10[n]))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	if c < 0 {
		return -int64(lo), true
	}
	return int64(lo), true
}

// abs is |c| as a uint64, which holds it even for math.MinInt64.
func abs(c int64) uint64 {
	if c < 0 {
		return uint64(-c)
	}
	return uint64(c)
}

// align returns both coefficients at the smaller exponent, false if either
// does not fit an int64 there (or a value is wide).
func align(a, b Decimal) (ac, bc int64, exp int32, ok bool) {
	if a.wide || b.wide {
		return 0, 0, 0, false
	}
	switch {
	case a.exp == b.exp:
		return a.c, b.c, a.exp, true
	case a.exp > b.exp:
		ac, ok = scaleUp(a.c, int64(a.exp)-int64(b.exp))
		return ac, b.c, b.exp, ok
	default:
		bc, ok = scaleUp(b.c, int64(b.exp)-int64(a.exp))
		return a.c, bc, a.exp, ok
	}
}

// Add returns a + b.
func (a Decimal) Add(b Decimal) Decimal {
	if ac, bc, exp, ok := align(a, b); ok {
		if s, overflow := addInt64(ac, bc); !overflow {
			return Decimal{c: s, exp: exp}
		}
	}
	return From(a.Decimal().Add(b.Decimal()))
}

// Sub returns a − b.
func (a Decimal) Sub(b Decimal) Decimal {
	if ac, bc, exp, ok := align(a, b); ok && bc != math.MinInt64 {
		if s, overflow := addInt64(ac, -bc); !overflow {
			return Decimal{c: s, exp: exp}
		}
	}
	return From(a.Decimal().Sub(b.Decimal()))
}

// addInt64 returns a + b and whether it overflowed.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	// Overflow: both operands have one sign and the sum the other.
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}

// Neg returns −a.
func (a Decimal) Neg() Decimal {
	if !a.wide && a.c != math.MinInt64 {
		return Decimal{c: -a.c, exp: a.exp}
	}
	return From(a.Decimal().Neg())
}

// Cmp returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a Decimal) Cmp(b Decimal) int {
	if ac, bc, _, ok := align(a, b); ok {
		switch {
		case ac < bc:
			return -1
		case ac > bc:
			return 1
		}
		return 0
	}
	if sa, sb := a.Sign(), b.Sign(); sa != sb {
		// Different signs need no common exponent (nor allocation).
		if sa < sb {
			return -1
		}
		return 1
	}
	return a.Decimal().Cmp(b.Decimal())
}

// Sign returns -1, 0 or +1 as a is negative, zero or positive.
func (a Decimal) Sign() int {
	if a.wide {
		return a.d.Sign()
	}
	switch {
	case a.c < 0:
		return -1
	case a.c > 0:
		return 1
	}
	return 0
}

func (a Decimal) IsZero() bool                          { return a.Sign() == 0 }
func (a Decimal) IsNegative() bool                      { return a.Sign() < 0 }
func (a Decimal) Equal(b Decimal) bool                  { return a.Cmp(b) == 0 }
func (a Decimal) GreaterThan(b Decimal) bool            { return a.Cmp(b) > 0 }
func (a Decimal) GreaterThanOrEqual(b Decimal) bool     { return a.Cmp(b) >= 0 }
func (a Decimal) LessThan(b Decimal) bool               { return a.Cmp(b) < 0 }
func (a Decimal) LessThanOrEqual(b Decimal) bool        { return a.Cmp(b) <= 0 }
func (a Decimal) String() string                        { return a.Decimal().String() }
func (a Decimal) MarshalJSON() ([]byte, error)          { return a.Decimal().MarshalJSON() }
func (a Decimal) Mul(b decimal.Decimal) decimal.Decimal { return a.Decimal().Mul(b) }

// UnmarshalJSON reads what MarshalJSON writes (decimal's JSON).
func (a *Decimal) UnmarshalJSON(b []byte) error {
	var d decimal.Decimal
	if err := d.UnmarshalJSON(b); err != nil {
		return err
	}
	*a = From(d)
	return nil
}
