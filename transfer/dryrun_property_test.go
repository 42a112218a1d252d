package transfer_test

import (
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/transfer"
)

// knownRules are rules an evaluation alone may be asked about though no
// random instruction happened to break them: each must then refuse nothing.
var knownRules = []string{
	"account.balance", "account.closed", "account.frozen", "account.frozen_amount", "account.unfreeze",
	"amount.format", "burn.legal_reference", "freeze.owner", "instrument.exists", "instrument.max_supply",
	"instrument.paused", "party.exists", "loan.balance", "kyc", "account_leverage", "product_leverage",
	"section_12g", "reg_d_506c.receive", "rule_144.holding_period", "reg_d_506c.holding_period",
}

// TestDryRunReasonsAreTheRulesAlone checks, for random instructions against
// random states, that the reasons Effect gives (the dry run's, POST
// /v1/check) are exactly the rules that refuse when each is evaluated
// alone, each reported once: no refusal hides another rule.
func TestDryRunReasonsAreTheRulesAlone(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	actors := []string{"op", "op", "op", "iss", "cus", "ret-us", "acc-us"}
	refusedSeen := 0
	for i := range 3000 {
		w := newWorld(t)
		perturb(r, w)
		ins := randomBooksInstruction(r, i)
		actor := actors[r.Intn(len(actors))]
		_, full := transfer.Effect(w, actor, ins, now)
		got := map[string]int{}
		for _, rs := range full {
			got[rs.Rule]++
		}
		for rule, n := range got {
			if n > 1 {
				t.Errorf("seed %d, %+v by %s: rule %s reported %d times", seed, ins, actor, rule, n)
			}
		}
		if len(full) > 0 {
			refusedSeen++
		}
		rules := slices.Sorted(maps.Keys(got))
		for _, rule := range append(rules, knownRules...) {
			_, alone := transfer.EffectOnly(w, actor, ins, now, rule)
			if refuses := len(alone) > 0; refuses != (got[rule] > 0) {
				t.Errorf("seed %d, %+v by %s: rule %s alone refuses %v (%v); the dry run's reasons are %v",
					seed, ins, actor, rule, refuses, alone, rules)
			}
		}
	}
	if refusedSeen < 300 {
		t.Errorf("only %d of the random instructions were refused; the property is barely exercised", refusedSeen)
	}
}

// perturb changes the fixture at random the ways that make rules refuse:
// frozen parties, lapsed KYC, a paused cash instrument, a closed party.
func perturb(r *rand.Rand, w *mapView) {
	for _, id := range []string{"ret-us", "acc-us", "acc-de", "bor"} {
		p := w.parties[id]
		switch r.Intn(8) {
		case 0:
			p.Frozen, p.FrozenBy = true, "cus"
		case 1:
			k := ago(1)
			p.KYCExpiresAt = &k
		case 2:
			p.Closed = true
		}
		w.parties[id] = p
	}
	if r.Intn(6) == 0 {
		w.pause("USD")
	}
}

func randomBooksInstruction(r *rand.Rand, i int) transfer.Instruction {
	parties := []string{"ret-us", "acc-us", "acc-de", "bor", "lapsed", "frz", "iss", "ghost"}
	symbols := []string{"USD", "REG", "LOCK", "PAUSED", "NOPE"}
	amounts := []string{"1", "5", "20", "0.5", "60", "1000", "0.001"}
	p := func() string { return parties[r.Intn(len(parties))] }
	s := func() string { return symbols[r.Intn(len(symbols))] }
	a := func() string { return amounts[r.Intn(len(amounts))] }
	ins := transfer.Instruction{ID: fmt.Sprintf("p-%d", i)}
	switch r.Intn(8) {
	case 0, 1, 2:
		ins.Type = transfer.TypeTransfer
		for range 1 + r.Intn(3) {
			from, to := p(), p()
			if from == to {
				to = "acc-de"
			}
			ins.Legs = append(ins.Legs, leg(s(), from, to, a()))
		}
		if r.Intn(4) == 0 {
			ins.Type, ins.LegalReference = transfer.TypeForceTransfer, "order"
		}
	case 3:
		ins.Type, ins.Symbol, ins.To, ins.Amount = transfer.TypeMint, s(), p(), amt(a())
	case 4:
		ins.Type, ins.Symbol, ins.From, ins.Amount = transfer.TypeBurn, s(), p(), amt(a())
		if r.Intn(2) == 0 {
			ins.LegalReference = "order"
		}
	case 5:
		ins.Type, ins.From, ins.To = transfer.TypeRecover, p(), p()
	case 6:
		ins.Type, ins.PartyID, ins.CashSymbol, ins.Amount, ins.Lender = transfer.TypeBorrow, p(), "USD", amt(a()), "cus"
	case 7:
		ins.Type, ins.PartyID = transfer.TypeUnfreeze, p()
		if r.Intn(2) == 0 {
			ins.Symbol = s()
		}
	}
	return ins
}
