package transfer_test

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/transfer"
)

// TestScratchMatchesEffect runs the same random instructions through
// Effect and through one Scratch, over two copies of a random world that
// commit what each accepts, and checks that they decide alike, with equal
// Changes. Within a run (until Reset) the Changes of every instruction must
// still read as they did when returned: the Scratch reuses its delta and
// starts its blocks over only at Reset.
func TestScratchMatchesEffect(t *testing.T) {
	actors := []string{"op", "op", "op", "iss", "cus", "ret-us", "acc-us"}
	for seed := int64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewSource(seed))
		plain, reused := newWorld(t), newWorld(t)
		perturb(rand.New(rand.NewSource(seed)), plain)
		perturb(rand.New(rand.NewSource(seed)), reused)
		var s transfer.Scratch
		accepted := 0
		for run := 0; run < 30; run++ {
			type kept struct {
				c    transfer.Changes
				want string
			}
			var runChanges []kept
			for i := range 1 + r.Intn(12) {
				ins := randomBooksInstruction(r, run*100+i)
				actor := actors[r.Intn(len(actors))]
				d1, reasons1 := transfer.Effect(plain, actor, ins, now)
				d2, reasons2 := s.Effect(reused, actor, ins, now)
				if fmt.Sprint(reasons1) != fmt.Sprint(reasons2) || (d1 == nil) != (d2 == nil) {
					t.Fatalf("seed %d run %d: %+v by %s: Effect %v, Scratch %v", seed, run, ins, actor, reasons1, reasons2)
				}
				if d1 == nil {
					continue
				}
				c1, c2 := d1.Changes(), d2.Changes()
				if a, b := fmt.Sprintf("%+v", c1), fmt.Sprintf("%+v", c2); a != b {
					t.Fatalf("seed %d run %d: %+v: Effect's changes\n%s\nScratch's\n%s", seed, run, ins, a, b)
				}
				plain.commit(c1)
				reused.commit(ownLots(c2)) // the world outlives the run, as the ledger's encoded records do
				runChanges = append(runChanges, kept{c2, fmt.Sprintf("%+v", c2)})
				accepted++
			}
			for i, k := range runChanges {
				if got := fmt.Sprintf("%+v", k.c); got != k.want {
					t.Fatalf("seed %d run %d: changes %d were\n%s\nand read at the end of the run\n%s", seed, run, i, k.want, got)
				}
			}
			s.Reset()
		}
		if accepted == 0 {
			t.Fatalf("seed %d: nothing accepted: the test compares no changes", seed)
		}
	}
}

// ownLots returns c with its holdings' lots copied out of the Scratch's
// blocks.
func ownLots(c transfer.Changes) transfer.Changes {
	hs := make([]transfer.Holding, len(c.Holdings))
	for i, h := range c.Holdings {
		h.Lots = slices.Clone(h.Lots)
		hs[i] = h
	}
	c.Holdings = hs
	return c
}
