package transfer

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/internal/fixed"
)

// TestBlocksKeptAcrossRuns holds outBlock and lotBlock to handing out, after
// a reset, the same places the run before filled (no block made again) and
// to copies and lots that read as made: a clone equal to its source, new
// lots zero.
func TestBlocksKeptAcrossRuns(t *testing.T) {
	var ob outBlock[Holding]
	var lb lotBlock
	run := func(tag string) (firsts []*Holding, lots []*Lot) {
		ob.reset()
		lb.reset()
		for i := range 50 { // more than one block of each
			src := []Holding{{Party: fmt.Sprintf("%s-%d", tag, i), Symbol: "X"}, {Party: tag, Symbol: fmt.Sprint(i)}}
			got := ob.clone(src)
			if !slices.EqualFunc(got, src, func(a, b Holding) bool { return a.Party == b.Party && a.Symbol == b.Symbol }) {
				t.Fatalf("%s: clone %d = %+v, want %+v", tag, i, got, src)
			}
			firsts = append(firsts, &got[0])
			l := lb.make(2, 8)
			for j := range l[:cap(l)] {
				if l[:cap(l)][j] != (Lot{}) {
					t.Fatalf("%s: lots %d handed out as %+v, want zero", tag, i, l[:cap(l)])
				}
			}
			l[0].Amount, l[1].Amount = fixed.New(int64(i)+1, 0), fixed.New(1, 0)
			lots = append(lots, &l[0])
		}
		for i, h := range firsts { // nothing moved while the run went on
			if h.Party != fmt.Sprintf("%s-%d", tag, i) {
				t.Fatalf("%s: copy %d reads %q after later clones", tag, i, h.Party)
			}
		}
		return firsts, lots
	}
	h1, l1 := run("a")
	h2, l2 := run("b")
	for i := range h1 {
		if h1[i] != h2[i] || l1[i] != l2[i] {
			t.Fatalf("run b's element %d at a new place: a block made again", i)
		}
	}
}
