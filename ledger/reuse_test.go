package ledger

import (
	"bytes"
	"fmt"
	"testing"
)

// TestApplyResultsOutliveLaterCalls holds Apply's calls to sharing no
// memory with what they return (applyReuse): the outcomes a call returned
// must read the same after any number of later calls, whatever their sizes,
// including calls larger than what applyReuse keeps, repeats of earlier ids
// (whose outcomes come from lookupID) and rejections.
func TestApplyResultsOutliveLaterCalls(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			h := newHarness(t)
			h.propertyWorld()
			g := newGen(seed)
			type kept struct{ got, want []byte }
			var all []kept
			var past [][]byte
			for call := 0; call < 120; call++ {
				n := 1
				switch g.r.Intn(6) {
				case 0:
					n = 2 + g.r.Intn(10)
				case 1:
					n = reuseMaxEntries + 1 + g.r.Intn(50) // more than a call hands on
				}
				items := make([][]byte, n)
				for i := range items {
					if len(past) > 0 && g.r.Intn(8) == 0 {
						items[i] = past[g.r.Intn(len(past))] // a repeat: its first outcome again
						continue
					}
					actor, body := g.next()
					items[i] = InstructionItem(actor, []byte(body))
					past = append(past, items[i])
				}
				h.index++
				res := h.s.Apply([]Batch{{Index: h.index, Term: 1, Time: h.now, Items: items}})
				for _, r := range res[0] {
					all = append(all, kept{got: r, want: bytes.Clone(r)})
				}
			}
			for i, k := range all {
				if !bytes.Equal(k.got, k.want) {
					t.Fatalf("outcome %d changed after later calls: was %s, now %s", i, k.want, k.got)
				}
			}
		})
	}
}
