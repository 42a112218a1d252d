package ledger

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// TestCheckAmountsMatchesEffect holds transfer.CheckAmounts, which the API
// runs before proposing, to the state machine, over random instructions of
// every type that carries an amount, with amounts of every scale: what
// CheckAmounts admits, Effect never refuses as BAD_AMOUNT (else a bad amount
// would be journaled as a 422 instead of refused with a 400), and what it
// refuses, Effect never accepts. An amount added to one and not the other
// fails it.
func TestCheckAmountsMatchesEffect(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", mintBody("USD", "acc-us", "1000"))
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "1000"))

	amounts := []string{"0", "0.0", "1", "1.0", "2.5", "0.01", "1.25", "3.001", "100", "0.000000000000000001", "7.123456789012345678"}
	symbols := []string{"USD", "REG", "NOPE"}
	var admitted, refused, badAmount, accepted int
	for seed := range 600 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		amt := func() string { return amounts[rng.IntN(len(amounts))] }
		sym := func() string { return symbols[rng.IntN(len(symbols))] }
		actor, body := "iss-1", map[string]any{}
		switch rng.IntN(7) {
		case 0:
			body = map[string]any{"type": "mint", "symbol": sym(), "to": "acc-us", "amount": amt()}
		case 1:
			body = map[string]any{"type": "burn", "symbol": sym(), "from": "acc-us", "amount": amt()}
		case 2:
			legs := []map[string]any{{"symbol": sym(), "from": "acc-us", "to": "qp-us", "amount": amt()}}
			if rng.IntN(2) == 0 {
				legs = append(legs, map[string]any{"symbol": sym(), "from": "qp-us", "to": "acc-us", "amount": amt()})
			}
			actor, body = "acc-us", map[string]any{"type": "transfer", "legs": legs}
		case 3:
			actor, body = "oracle", map[string]any{"type": "set_price", "symbol": sym(), "price": amt()}
		case 4:
			body = map[string]any{"type": "distribute", "symbol": sym(), "cash_symbol": "USD", "amount_per_unit": amt()}
		case 5:
			body = map[string]any{"type": "split", "symbol": sym(), "ratio": amt()}
		case 6:
			body = map[string]any{"type": "freeze", "party_id": "acc-us", "symbol": sym(), "amount": amt()}
		}
		body["id"] = fmt.Sprintf("amt-%d", seed)
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		in, err := transfer.Decode(raw)
		if err != nil {
			t.Fatalf("seed %d: %s: %v", seed, raw, err)
		}
		var checkErr error
		if err := h.s.View(func(v transfer.View) error {
			checkErr = transfer.CheckAmounts(v, in)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		out, err := h.s.DryRun(actor, in, h.now.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		hasBad := false
		for _, r := range out.Reasons {
			hasBad = hasBad || r.Code == eligibility.CodeBadAmount
		}
		switch {
		case checkErr == nil && hasBad:
			t.Errorf("seed %d: %s: CheckAmounts admits it, Effect refuses it as BAD_AMOUNT: %+v", seed, raw, out.Reasons)
		case checkErr != nil && out.Status == StatusAccepted:
			t.Errorf("seed %d: %s: CheckAmounts refuses it (%v), Effect accepts it", seed, raw, checkErr)
		}
		if checkErr == nil {
			admitted++
		} else {
			refused++
		}
		if hasBad {
			badAmount++
		}
		if out.Status == StatusAccepted {
			accepted++
		}
	}
	t.Logf("admitted %d, refused %d; Effect: %d accepted, %d with BAD_AMOUNT", admitted, refused, accepted, badAmount)
	// Both sides of each property were exercised.
	if admitted < 100 || refused < 100 || badAmount < 50 || accepted < 50 {
		t.Errorf("too few cases of some kind: admitted %d, refused %d, accepted %d, BAD_AMOUNT %d", admitted, refused, accepted, badAmount)
	}
}
