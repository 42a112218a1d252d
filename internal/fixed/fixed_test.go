package fixed

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"testing"

	"github.com/shopspring/decimal"
)

// randomDecimal draws values where the fast path ends: zero, small
// coefficients, coefficients next to the int64 and 18-digit bounds, and
// wide ones, at exponents from −24 to +6.
func randomDecimal(r *rand.Rand) decimal.Decimal {
	exp := int32(r.Intn(31) - 24)
	var c *big.Int
	switch r.Intn(7) {
	case 0:
		c = big.NewInt(0)
	case 1:
		c = big.NewInt(r.Int63n(1000))
	case 2:
		c = big.NewInt(r.Int63())
	case 3:
		c = big.NewInt(maxSmall - r.Int63n(3) + 1) // 10^18 − 2 … 10^18
	case 4:
		c = big.NewInt(math.MaxInt64 - r.Int63n(3))
	case 5:
		c = new(big.Int).Lsh(big.NewInt(r.Int63()), uint(r.Intn(100)))
	default:
		c = big.NewInt(int64(r.Intn(10)) * pow10[r.Intn(len(pow10))])
	}
	if r.Intn(2) == 0 {
		c.Neg(c)
	}
	if r.Intn(20) == 0 {
		c = big.NewInt(math.MinInt64)
	}
	return decimal.NewFromBigInt(c, exp)
}

// TestDecimalMatchesShopspring holds every operation to decimal.Decimal's
// on the same values, over many seeds: results equal by value, and the
// same strings and JSON.
func TestDecimalMatchesShopspring(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewSource(seed))
		for i := 0; i < 2000; i++ {
			x, y := randomDecimal(r), randomDecimal(r)
			a, b := From(x), From(y)
			where := fmt.Sprintf("seed %d: %s and %s", seed, x, y)
			if !a.Decimal().Equal(x) {
				t.Fatalf("%s: From(%s).Decimal() = %s", where, x, a.Decimal())
			}
			checks := []struct {
				op        string
				got, want decimal.Decimal
			}{
				{"add", a.Add(b).Decimal(), x.Add(y)},
				{"sub", a.Sub(b).Decimal(), x.Sub(y)},
				{"neg", a.Neg().Decimal(), x.Neg()},
			}
			for _, c := range checks {
				if !c.got.Equal(c.want) {
					t.Fatalf("%s: %s = %s, want %s", where, c.op, c.got, c.want)
				}
			}
			if got, want := a.Cmp(b), x.Cmp(y); got != want {
				t.Fatalf("%s: cmp = %d, want %d", where, got, want)
			}
			if got, want := a.Sign(), x.Sign(); got != want {
				t.Fatalf("%s: sign = %d, want %d", where, got, want)
			}
			if got, want := a.String(), x.String(); got != want {
				t.Fatalf("%s: string %q, want %q", where, got, want)
			}
			gotJSON, _ := json.Marshal(a)
			wantJSON, _ := json.Marshal(x)
			if string(gotJSON) != string(wantJSON) {
				t.Fatalf("%s: JSON %s, want %s", where, gotJSON, wantJSON)
			}
			var back Decimal
			if err := json.Unmarshal(gotJSON, &back); err != nil || !back.Equal(a) {
				t.Fatalf("%s: JSON round trip %s: %v", where, back, err)
			}
		}
	}
}

// TestDecimalFastPathStaysSmall checks that what fits an int64 is computed
// as one: the point of the type. A wide result is right (the test above)
// but slow.
func TestDecimalFastPathStaysSmall(t *testing.T) {
	cases := []struct {
		name string
		got  Decimal
		want bool // small
	}{
		{"cents plus cents", New(125, -2).Add(New(1000000, 0)), true},
		{"a balance less a lot", New(1000000, 0).Sub(New(1, -2)), true},
		{"the largest small sum", New(math.MaxInt64-1, 0).Add(New(1, 0)), true},
		{"past the largest", New(math.MaxInt64, 0).Add(New(1, 0)), false},
		{"past the smallest", New(math.MinInt64, 0).Sub(New(1, 0)), false},
		{"negating the smallest", New(math.MinInt64, 0).Neg(), false},
		{"an exponent gap that does not fit", New(1, 19).Add(New(1, 0)), false},
		{"back to small", From(decimal.RequireFromString("10000000000000000000")).Sub(New(1, 19)), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, small := c.got.Small(); small != c.want {
				t.Errorf("%s small = %v, want %v", c.got, small, c.want)
			}
		})
	}
}

func TestDecimalFastPathAllocatesNothing(t *testing.T) {
	a, b := New(100000000, -2), New(125, -2)
	var sink Decimal
	n := testing.AllocsPerRun(100, func() {
		sink = a.Sub(b).Add(b)
		if sink.Cmp(a) != 0 || sink.IsNegative() {
			t.Fatal("wrong")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func FuzzDecimalUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`"1.25"`, `"-0"`, `"1e999999"`, `"0.0000000000000000001"`, `1`, `"x"`, `""`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64 {
			return // decimal's own cost on huge exponents is not ours
		}
		var a Decimal
		var d decimal.Decimal
		errA, errD := a.UnmarshalJSON(b), d.UnmarshalJSON(b)
		if (errA == nil) != (errD == nil) {
			t.Fatalf("%q: error %v, decimal's %v", b, errA, errD)
		}
		if errA == nil && !a.Decimal().Equal(d) {
			t.Fatalf("%q: %s, decimal's %s", b, a, d)
		}
	})
}
