package ledger

import (
	"math/rand"
	"testing"

	"github.com/tokenledger/tokenledger/transfer"
)

// TestDryRunCorporateActions checks that POST /v1/check's decision of a
// distribute or split (and of a transfer while a split runs) is the one the
// apply that follows makes, and that the dry run changes nothing.
func TestDryRunCorporateActions(t *testing.T) {
	saved := inlineHolders
	t.Cleanup(func() { inlineHolders = saved })
	h := newHarness(t)
	ids := corpWorld(h, rand.New(rand.NewSource(3)), 12)
	h.mustAccept("iss-1", mintBody("USD", "ret-us", "5"))
	check := func(actor, body, want string) {
		t.Helper()
		ins, err := transfer.Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		before := mustHashes(t, h.s)
		dry, err := h.s.DryRun(actor, ins, h.now)
		if err != nil {
			t.Fatal(err)
		}
		if after := mustHashes(t, h.s); after.State != before.State {
			t.Fatalf("dry run of %s changed the state", body)
		}
		o := h.do(actor, body)
		if dry.Status != o.Status || (o.Reason != nil && (dry.Reason == nil || dry.Reason.Code != o.Reason.Code)) {
			t.Fatalf("%s: dry run %s %+v, apply %s %+v", body, dry.Status, dry.Reason, o.Status, o.Reason)
		}
		if want != "" && (o.Reason == nil || string(o.Reason.Code) != want) {
			t.Fatalf("%s: %s %+v, want %s", body, o.Status, o.Reason, want)
		}
	}
	dist := func(perUnit string, extra map[string]any) string {
		m := map[string]any{"symbol": "REG", "cash_symbol": "USD", "amount_per_unit": perUnit}
		for k, v := range extra {
			m[k] = v
		}
		return ins("distribute", m)
	}
	for _, inline := range []int{1000, 3} {
		inlineHolders = inline
		check("iss-1", dist("0.5", nil), "")
		// Paying nothing is refused when the accepting apply sees every
		// holder; a stepped action escrows the bound and returns it.
		nothing := "INVALID_INSTRUCTION"
		if inline < 12 {
			nothing = ""
		}
		check("iss-1", dist("0.00001", nil), nothing)
		check("iss-1", dist("1000000", nil), "INSUFFICIENT_BALANCE")                                     // more than the issuer has
		check("iss-1", dist("0.5", map[string]any{"record_seq": int64(1) << 40}), "INVALID_INSTRUCTION") // after the journal
		check("ret-us", dist("0.5", nil), "")                                                            // not the issuer
		check("iss-1", dist("0.25", map[string]any{"record_seq": 20}), "")
		drain(t, h)
	}
	inlineHolders = 3
	check("iss-1", ins("split", map[string]any{"symbol": "REG", "ratio": "2", "cash_in_lieu": map[string]any{"cash_symbol": "USD", "price": "1"}}), "")
	check(ids[0], transferBody("REG", ids[0], ids[1], "1"), "CORPORATE_ACTION_RUNNING")
	check("iss-1", dist("0.5", nil), "CORPORATE_ACTION_RUNNING")
	check("iss-1", ins("split", map[string]any{"symbol": "REG", "ratio": "2", "record_seq": 1}), "INVALID_INSTRUCTION")
	drain(t, h)
	check(ids[0], transferBody("REG", ids[0], ids[1], "1"), "")
}

// drain steps every running action to its end.
func drain(t *testing.T, h *harness) {
	t.Helper()
	for range 1000 {
		running := mustAnswer(t, "running", h.s.RunningCorporateActions)
		if len(running) == 0 {
			return
		}
		h.apply(CorporateActionStepItem(running[0], 5))
	}
	t.Fatal("actions still running after 1000 steps")
}
