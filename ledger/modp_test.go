package ledger

import (
	"math/big"
	"math/rand"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/internal/fixed"
	"github.com/tokenledger/tokenledger/transfer"
)

// modPOf is a decimal's image modulo p computed with big integers:
// coefficient × (10^scale)^-1 mod p.
func modPOf(d decimal.Decimal) uint64 {
	p := big.NewInt(modP)
	c := new(big.Int).Mod(d.Coefficient(), p)
	e := d.Exponent()
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(e))), p)
	if e < 0 {
		pow.ModInverse(pow, p)
	}
	return c.Mul(c, pow).Mod(c, p).Uint64()
}

func abs(e int32) int32 {
	if e < 0 {
		return -e
	}
	return e
}

// randomAmount is a decimal of the kinds the records hold: small and beyond
// int64, positive, negative and zero, at scales up to beyond the table's.
func randomAmount(r *rand.Rand) decimal.Decimal {
	var c *big.Int
	switch r.Intn(5) {
	case 0:
		c = big.NewInt(0)
	case 1:
		c = big.NewInt(r.Int63n(1000))
	case 2:
		c = big.NewInt(r.Int63())
	case 3: // a multiple of p: its image is 0 but it is not zero
		c = new(big.Int).Mul(big.NewInt(modP), big.NewInt(r.Int63n(4)+1))
	default:
		c = new(big.Int).Rand(r, new(big.Int).Lsh(big.NewInt(1), uint(64+r.Intn(100))))
	}
	if r.Intn(2) == 0 {
		c.Neg(c)
	}
	scale := int32(r.Intn(20))
	if r.Intn(10) == 0 {
		scale = int32(40 + r.Intn(30))
	}
	return decimal.NewFromBigInt(c, -scale)
}

// TestDecimalModP holds the images read from stored bytes to those big
// integers give, signs included, and to the ring laws Check relies on: the
// image of a sum, a difference and a product is the sum, difference and
// product of the images.
func TestDecimalModP(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20_000; i++ {
		a, b := randomAmount(r), randomAmount(r)
		va, sa := balanceModP(encodeBalance(nil, a))
		if va != modPOf(a) || sa != a.Sign() {
			t.Fatalf("%s: image %d sign %d, want %d sign %d", a, va, sa, modPOf(a), a.Sign())
		}
		vb, _ := balanceModP(encodeBalance(nil, b))
		if got := addModP(va, vb); got != modPOf(a.Add(b)) {
			t.Fatalf("%s + %s: %d, want %d", a, b, got, modPOf(a.Add(b)))
		}
		if got := subModP(va, vb); got != modPOf(a.Sub(b)) {
			t.Fatalf("%s - %s: %d, want %d", a, b, got, modPOf(a.Sub(b)))
		}
		if got := mulModP(va, vb); got != modPOf(a.Mul(b)) {
			t.Fatalf("%s × %s: %d, want %d", a, b, got, modPOf(a.Mul(b)))
		}
	}
}

// TestHoldingBalanceModP reads a holding record's balance alone.
func TestHoldingBalanceModP(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 1000; i++ {
		h := randomHolding(r)
		v, sign := holdingBalanceModP(encodeHolding(nil, h))
		if v != modPOf(h.Balance.Decimal()) || sign != h.Balance.Sign() {
			t.Fatalf("%+v: image %d sign %d, want %d sign %d", h, v, sign, modPOf(h.Balance.Decimal()), h.Balance.Sign())
		}
	}
}

func randomHolding(r *rand.Rand) *transfer.Holding {
	h := &transfer.Holding{Party: "p", Symbol: "S", Balance: fixed.From(randomAmount(r)), Frozen: fixed.From(randomAmount(r))}
	for range r.Intn(3) {
		h.Lots = append(h.Lots, transfer.Lot{Amount: fixed.From(randomAmount(r)), AcquiredAt: time.Unix(r.Int63n(1e9), 0).UTC()})
	}
	return h
}
