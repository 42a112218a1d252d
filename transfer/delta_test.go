package transfer

import (
	"fmt"
	"testing"

	"github.com/tokenledger/tokenledger/internal/fixed"
)

// TestDeltaHoldingsPastIndex writes more holdings than a delta searches in
// order, overwriting some before and after it starts indexing them, and
// checks that every one reads back at its latest value and that Changes
// lists each once, in key order.
func TestDeltaHoldingsPastIndex(t *testing.T) {
	for _, n := range []int{1, smallHoldings, smallHoldings + 1, 4 * smallHoldings} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var dh deltaHoldings
			put := func(i, v int) {
				dh.put(Holding{Party: fmt.Sprintf("p%03d", n-1-i), Symbol: "S", Balance: fixed.New(int64(v), 0)})
			}
			for i := range n {
				put(i, i)
				put(i/2, 1000+i) // overwrite an earlier one
			}
			d := &Delta{holdings: dh}
			for i := range n {
				want := int64(i) // the last write: put(i, i), then those of steps 2i and 2i+1
				for _, step := range []int{2 * i, 2*i + 1} {
					if step < n && step >= i {
						want = int64(1000 + step)
					}
				}
				got, ok := d.Holding(fmt.Sprintf("p%03d", n-1-i), "S")
				if !ok || got.Balance.Decimal().IntPart() != want {
					t.Errorf("holding %d = %v %v, want %d", i, got.Balance, ok, want)
				}
			}
			c := d.Changes()
			if len(c.Holdings) != n {
				t.Fatalf("Changes lists %d holdings, want %d", len(c.Holdings), n)
			}
			for i := 1; i < n; i++ {
				if c.Holdings[i-1].Party >= c.Holdings[i].Party {
					t.Errorf("Changes out of order at %d: %s then %s", i, c.Holdings[i-1].Party, c.Holdings[i].Party)
				}
			}
		})
	}
}
