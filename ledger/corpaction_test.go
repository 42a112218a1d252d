package ledger

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/shopspring/decimal"
)

// corpWorld registers n investors holding random amounts of REG, and gives
// the issuer cash to pay them.
func corpWorld(h *harness, rng *rand.Rand, n int) []string {
	h.t.Helper()
	h.world()
	h.mustAccept(OperatorID, ins("register_party", party("op-2", "custodian")))
	var ids []string
	for i := range n {
		id := fmt.Sprintf("inv-%03d", i)
		ids = append(ids, id)
		h.mustAccept("cus-1", ins("register_party", investor(id, "accredited", "US")))
		h.mustAccept("iss-1", mintBody("REG", id, fmt.Sprint(1+rng.Intn(500))))
	}
	h.mustAccept("iss-1", mintBody("REG", "iss-1", "1000"))
	h.mustAccept(OperatorID, mintBody("USD", "iss-1", "10000000"))
	return ids
}

// TestCorporateActionSteppedMatchesOneShot runs a distribution and a split
// over the same register twice: once in the accepting apply, once in steps
// of a few holders with random transfers interleaved (of the instrument
// while the distribution runs: it pays record-point balances; of another
// while the split runs, which locks its instrument). Balances must agree,
// every holder must get exactly its record-point entitlement, and Check
// (StrictChecks) holds after every apply.
func TestCorporateActionSteppedMatchesOneShot(t *testing.T) {
	runSeeds(t, 8, func(t *testing.T, seed int64) {
		const n = 40
		saved := inlineHolders
		t.Cleanup(func() { inlineHolders = saved })
		one, stepped := newHarness(t), newHarness(t)
		ids := corpWorld(one, rand.New(rand.NewSource(seed)), n)
		corpWorld(stepped, rand.New(rand.NewSource(seed)), n)
		record := map[string]decimal.Decimal{}
		for _, id := range ids {
			record[id] = decimal.RequireFromString(one.balance(id, "REG"))
		}
		both := func(actor, body string, small bool) (Outcome, Outcome) {
			inlineHolders = 1 << 30
			a := one.do(actor, body)
			if small {
				inlineHolders = 3
			}
			b := stepped.do(actor, body)
			inlineHolders = saved
			if a.Status != b.Status {
				t.Fatalf("%s: one-shot %s, stepped %s (%+v)", body, a.Status, b.Status, b.Reason)
			}
			return a, b
		}
		rng := rand.New(rand.NewSource(seed * 7))
		run := func(body string, moving string) {
			_, o := both("iss-1", body, true)
			if o.Status != StatusAccepted {
				t.Fatalf("%s: %+v", body, o)
			}
			for range 1000 {
				for range rng.Intn(3) {
					from, to := ids[rng.Intn(n)], ids[rng.Intn(n)]
					both(from, transferBody(moving, from, to, "1"), false)
				}
				running, err := stepped.s.RunningCorporateActions()
				if err != nil {
					t.Fatal(err)
				}
				if len(running) == 0 {
					return
				}
				out := stepped.apply(CorporateActionStepItem(running[0], 1+rng.Intn(5)))[0]
				if out.Status != StatusAccepted {
					t.Fatalf("step: %+v", out.Error)
				}
				// A duplicate of a step from an old leader may arrive after completion.
				stepped.apply(CorporateActionStepItem(running[0], 2))
			}
			t.Fatal("the action never completed")
		}
		dist := ins("distribute", map[string]any{"symbol": "REG", "cash_symbol": "USD", "amount_per_unit": "0.37"})
		run(dist, "REG")
		for _, id := range ids {
			want := record[id].Mul(decimal.RequireFromString("0.37")).RoundDown(2)
			for _, h := range []*harness{one, stepped} {
				if got := h.balance(id, "USD"); got != want.String() {
					t.Fatalf("%s holds %s USD, want %s", id, got, want)
				}
			}
		}
		// ALT moves while the split of REG runs.
		both("iss-1", ins("create_instrument", instrument("ALT", "registered", "enterprise_equity", 0, nil)), false)
		for _, id := range ids {
			both("iss-1", mintBody("ALT", id, "100"), false)
		}
		split := ins("split", map[string]any{"symbol": "REG", "ratio": "1.5", "cash_in_lieu": map[string]any{"cash_symbol": "USD", "price": "3.33"}})
		run(split, "ALT")
		for _, id := range append(ids, "iss-1") {
			for _, sym := range []string{"REG", "USD", "ALT"} {
				if a, b := one.balance(id, sym), stepped.balance(id, sym); a != b {
					t.Fatalf("%s %s: one-shot %s, stepped %s", id, sym, a, b)
				}
			}
		}
		id := splitID(split)
		a := mustAnswer(t, "action", func() (CorporateActionPage, error) {
			return one.s.CorporateAction(CorporateActionQuery{ID: id, Limit: 1000})
		})
		b := mustAnswer(t, "action", func() (CorporateActionPage, error) {
			return stepped.s.CorporateAction(CorporateActionQuery{ID: id, Limit: 1000})
		})
		if a.Status != CorporateActionDone || b.Status != CorporateActionDone || a.LinesRoot != b.LinesRoot || !a.Total.Equal(b.Total) {
			t.Fatalf("one-shot %+v, stepped %+v", a, b)
		}
		p := mustAnswer(t, "proof", func() (CorporateActionLineProof, error) { return stepped.s.CorporateActionProof(id, ids[n/2]) })
		if err := VerifyCorporateActionLine(p); err != nil {
			t.Fatalf("line proof: %v", err)
		}
		p.Line.Amount = p.Line.Amount.Add(decimal.New(1, -2))
		if VerifyCorporateActionLine(p) == nil {
			t.Fatal("a tampered line verified")
		}
	})
}

func splitID(body string) string {
	var m struct {
		ID string `json:"id"`
	}
	decodeJSON([]byte(body), &m)
	return m.ID
}

// TestSplitLocksItsInstrument checks that while a split runs, a transfer of
// its instrument is refused with CORPORATE_ACTION_RUNNING, changing nothing.
func TestSplitLocksItsInstrument(t *testing.T) {
	saved := inlineHolders
	t.Cleanup(func() { inlineHolders = saved })
	h := newHarness(t)
	ids := corpWorld(h, rand.New(rand.NewSource(1)), 10)
	inlineHolders = 2
	h.mustAccept("iss-1", ins("split", map[string]any{"symbol": "REG", "ratio": "2"}))
	h.mustReject(ids[0], transferBody("REG", ids[0], ids[1], "1"), "CORPORATE_ACTION_RUNNING")
	h.mustReject("iss-1", ins("distribute", map[string]any{"symbol": "REG", "cash_symbol": "USD", "amount_per_unit": "1"}), "CORPORATE_ACTION_RUNNING")
}
