package ledger

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/tokenledger/tokenledger/internal/fixed"
)

// TestDecSumIsExact adds random sequences of decimals to a decSum and to a
// plain decimal sum and compares them after every term: mostly terms of one
// exponent (a symbol's balances), some of another, zeros of any exponent,
// and coefficients near the int64 bounds, so the fast path, its overflow
// and the change of exponent are all taken. Half the terms go through
// addFixed, which moves the sum to a finer exponent where add goes big.
func TestDecSumIsExact(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewSource(seed))
		var s decSum
		want := decimal.Zero
		for i := range 50 {
			var c int64
			switch r.Intn(6) {
			case 0:
				c = math.MaxInt64 - r.Int63n(1000)
			case 1:
				c = math.MinInt64 + r.Int63n(1000)
			case 2:
				c = 0
			default:
				c = r.Int63n(2_000_000) - 1_000_000
			}
			exp := int32(-2)
			if r.Intn(8) == 0 {
				exp = int32(r.Intn(7) - 4)
			}
			d := decimal.New(c, exp)
			if r.Intn(10) == 0 {
				// A coefficient beyond int64.
				d = d.Mul(decimal.New(1, 0).Shift(20))
			}
			neg := r.Intn(2) == 0
			if r.Intn(2) == 0 {
				s.add(d, neg)
			} else {
				// As the index and the check add balances: fixed, at any
				// exponent the record kept.
				s.addFixed(fixed.From(d), neg)
			}
			if neg {
				want = want.Sub(d)
			} else {
				want = want.Add(d)
			}
			if got := s.value(); !got.Equal(want) || s.isZero() != want.IsZero() {
				t.Fatalf("seed %d term %d: sum %s (zero %v), want %s", seed, i, got, s.isZero(), want)
			}
		}
	}
}

func TestAddInt64(t *testing.T) {
	tests := []struct {
		a, b int64
		ok   bool
	}{
		{1, 2, true},
		{math.MaxInt64, 0, true},
		{math.MaxInt64, 1, false},
		{math.MinInt64, -1, false},
		{math.MinInt64, math.MaxInt64, true},
		{-5, 3, true},
		{math.MaxInt64, math.MaxInt64, false},
		{math.MinInt64, math.MinInt64, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.a, "+", tc.b), func(t *testing.T) {
			sum, ok := addInt64(tc.a, tc.b)
			if ok != tc.ok || (ok && sum != tc.a+tc.b) {
				t.Errorf("addInt64(%d, %d) = %d, %v; want ok %v", tc.a, tc.b, sum, ok, tc.ok)
			}
		})
	}
}
