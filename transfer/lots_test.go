package transfer

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/tokenledger/tokenledger/internal/fixed"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func lot(amount string, days int) Lot {
	return Lot{Amount: fixed.From(decimal.RequireFromString(amount)), AcquiredAt: t0.Add(time.Duration(days) * 24 * time.Hour)}
}

func TestSeasonLots(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name   string
		lots   []Lot
		period time.Duration
		now    int // days after t0
		want   []Lot
	}{
		{"none", nil, 10 * day, 100, nil},
		{"one seasoned lot stays", []Lot{lot("5", 0)}, 10 * day, 100, []Lot{lot("5", 0)}},
		{"none seasoned", []Lot{lot("1", 95), lot("2", 96)}, 10 * day, 100, []Lot{lot("1", 95), lot("2", 96)}},
		{"seasoned prefix merges at the latest date", []Lot{lot("1", 0), lot("2", 50), lot("3", 90), lot("4", 95)}, 10 * day, 100,
			[]Lot{lot("6", 90), lot("4", 95)}},
		{"exactly at the end of the period is seasoned", []Lot{lot("1", 0), lot("2", 90)}, 10 * day, 100, []Lot{lot("3", 90)}},
		{"no holding period: one lot", []Lot{lot("1", 0), lot("2", 50), lot("3", 100)}, 0, 100, []Lot{lot("6", 100)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := seasonLots(nil, tc.lots, tc.period, t0.Add(time.Duration(tc.now)*day))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("seasonLots() = %v, want %v", got, tc.want)
			}
		})
	}
}

// locked is what of lots is still inside period at q.
func locked(lots []Lot, period time.Duration, q time.Time) fixed.Decimal {
	sum := fixed.Zero
	for _, l := range lots {
		if l.AcquiredAt.Add(period).After(q) {
			sum = sum.Add(l.Amount)
		}
	}
	return sum
}

func total(lots []Lot) fixed.Decimal {
	sum := fixed.Zero
	for _, l := range lots {
		sum = sum.Add(l.Amount)
	}
	return sum
}

// TestSeasonLotsProperties runs random receipts and sends over time on two
// copies of a holding, one seasoned after every change and one not, and
// checks: the totals agree; under the period in force the same amount is
// locked now and at any later time, and a send takes the same locked amount;
// under any longer period the seasoned copy never locks less (merging never
// releases what a lengthened rulebook would lock).
func TestSeasonLotsProperties(t *testing.T) {
	day := 24 * time.Hour
	for seed := int64(1); seed <= 50; seed++ {
		r := rand.New(rand.NewSource(seed))
		period := time.Duration(r.Intn(4)) * 30 * day
		longer := period + time.Duration(1+r.Intn(200))*day
		var plain, seasoned []Lot
		var block lotBlock // the seasoned copy's lots come from blocks, as an Apply call's do
		now := t0
		for step := range 300 {
			now = now.Add(time.Duration(r.Intn(5*24)) * time.Hour)
			if r.Intn(3) > 0 || total(plain).IsZero() {
				l := Lot{Amount: fixed.New(int64(1+r.Intn(100)), 0), AcquiredAt: now}
				plain = addLot(nil, plain, l)
				seasoned = seasonLots(&block, addLot(&block, seasoned, l), period, now)
			} else {
				amt := fixed.New(int64(1+r.Intn(int(total(plain).Decimal().IntPart()))), 0)
				var tp, ts []Lot
				plain, tp = takeLots(nil, plain, amt, nil)
				seasoned, ts = takeLots(&block, seasoned, amt, nil)
				seasoned = seasonLots(&block, seasoned, period, now)
				if !locked(tp, period, now).Equal(locked(ts, period, now)) {
					t.Fatalf("seed %d step %d: a send of %s takes %s locked, %s with seasoned lots", seed, step, amt, locked(tp, period, now), locked(ts, period, now))
				}
			}
			if !total(plain).Equal(total(seasoned)) {
				t.Fatalf("seed %d step %d: totals %s and %s", seed, step, total(plain), total(seasoned))
			}
			for _, ahead := range []time.Duration{0, day, 45 * day, 400 * day} {
				q := now.Add(ahead)
				if a, b := locked(plain, period, q), locked(seasoned, period, q); !a.Equal(b) {
					t.Fatalf("seed %d step %d: locked at +%v: %s, seasoned %s", seed, step, ahead, a, b)
				}
				if a, b := locked(plain, longer, q), locked(seasoned, longer, q); b.LessThan(a) {
					t.Fatalf("seed %d step %d: under a longer period the seasoned lots lock %s < %s", seed, step, b, a)
				}
			}
		}
		if period == 0 && len(seasoned) > 1 {
			t.Fatalf("seed %d: with no holding period %d lots remain", seed, len(seasoned))
		}
	}
}
