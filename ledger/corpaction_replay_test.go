package ledger

import (
	"bytes"
	"math/rand"
	"testing"
)

// TestCorporateActionCrashAndRestoreMidAction runs a stepped distribution
// and a stepped split with transfers interleaved, then (a) replays the whole
// log into a store killed at random points, mid-action included, and (b)
// restores a snapshot taken mid-action into a store with other state and
// applies the rest of the log. Both must end with the same hashes and
// journal head, and a state file opened or restored mid-action must know
// which actions run.
func TestCorporateActionCrashAndRestoreMidAction(t *testing.T) {
	runSeeds(t, 3, func(t *testing.T, seed int64) {
		saved := inlineHolders
		t.Cleanup(func() { inlineHolders = saved })
		inlineHolders = 3
		const n = 30
		h := newHarness(t)
		batches := []Batch{{Index: 1, Term: 1, Time: epoch, Items: [][]byte{KeyItem(OperatorID, hashKey("operator-secret"))}}}
		h.rec = &batches
		rng := rand.New(rand.NewSource(seed))
		ids := corpWorld(h, rng, n)
		h.mustAccept("iss-1", ins("create_instrument", instrument("ALT", "registered", "enterprise_equity", 0, nil)))
		for _, id := range ids[:5] {
			h.mustAccept("iss-1", mintBody("ALT", id, "100"))
		}

		var snap []byte
		var snapIndex uint64
		var snapRunning []uint64
		run := func(body, moving string) {
			o := h.mustAccept("iss-1", body)
			if o.CorporateAction == nil || o.CorporateAction.Status != CorporateActionRunning {
				t.Fatalf("%s: corporate_action %+v, want running", body, o.CorporateAction)
			}
			for step := 0; ; step++ {
				running := mustAnswer(t, "running", h.s.RunningCorporateActions)
				if len(running) == 0 {
					return
				}
				if step == 2 && snap == nil {
					snap, snapIndex, snapRunning = snapshotOf(t, h.s), h.index, running
				}
				for range rng.Intn(3) {
					from, to := ids[rng.Intn(5)], ids[rng.Intn(n)]
					h.do(from, transferBody(moving, from, to, "1"))
				}
				h.apply(CorporateActionStepItem(running[0], 1+rng.Intn(4)))
			}
		}
		run(ins("distribute", map[string]any{"symbol": "REG", "cash_symbol": "USD", "amount_per_unit": "0.37"}), "REG")
		run(ins("split", map[string]any{"symbol": "REG", "ratio": "1.5", "cash_in_lieu": map[string]any{"cash_symbol": "USD", "price": "3.33"}}), "ALT")
		want := mustHashes(t, h.s)
		head := mustVerifyJournal(t, h.s).Head

		crashReplay(t, seed, batches, want, head)

		// A state file opened mid-action knows what runs.
		opened := openStore(t, snapshotFile(t, snap), true)
		if got := mustAnswer(t, "running", opened.RunningCorporateActions); !equalSeqs(got, snapRunning) {
			t.Fatalf("opened mid-action: running %v, want %v", got, snapRunning)
		}

		// Restored mid-action over other state, it finishes as the original.
		other := restoreSource(t)
		if err := other.s.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatal(err)
		}
		if got := mustAnswer(t, "running", other.s.RunningCorporateActions); !equalSeqs(got, snapRunning) {
			t.Fatalf("restored mid-action: running %v, want %v", got, snapRunning)
		}
		for _, b := range batches {
			if b.Index > snapIndex {
				other.s.Apply([]Batch{b})
			}
		}
		if got := mustHashes(t, other.s); got != want {
			t.Fatalf("restored mid-action and replayed: %+v, want %+v", got, want)
		}
		if got := mustAnswer(t, "running", other.s.RunningCorporateActions); len(got) != 0 {
			t.Fatalf("after the replay %v still run", got)
		}
	})
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
