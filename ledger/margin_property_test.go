package ledger

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// TestMarginProperties drives borrowers of every status through random price
// paths, with borrows, purchases, repayments and close-outs in between, and
// checks after every instruction (RULES.md, "Maintenance margin, margin
// calls, close-out"):
//
//   - an account's margin call, in holdings and in MarginCalls, is exactly
//     equity < maintenance requirement;
//   - an accepted close-out never raises the loan or the requirement;
//   - a write-off happens only for a protected status (retail) left with
//     nothing priced, and always then while some of that loan is left;
//   - POST /v1/check's dry run gives the outcome the instruction then gets,
//     reason codes included.
//
// Each seed is a subtest named by it, so a failure can be run again alone.
func TestMarginProperties(t *testing.T) {
	seeds, steps := 12, 150
	if testing.Short() {
		seeds, steps = 3, 80
	}
	runSeeds(t, seeds, func(t *testing.T, seed int64) {
		t.Parallel()
		runMarginProperties(t, seed, steps)
	})
}

// marginBorrowers are the accounts the property test lends to.
var marginBorrowers = []string{"ret-us", "acc-us", "qp-us"}

func runMarginProperties(t *testing.T, seed int64, steps int) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", ins("create_instrument", instrument("BTC", "cftc", "digital_commodity", 8, map[string]any{"attributes": map[string]any{"economic_purpose": "none"}})))
	h.mustAccept(OperatorID, mintBody("USD", "cus-1", "10000000"))
	h.mustAccept("iss-1", mintBody("REG", "iss-1", "1000000"))
	h.mustAccept("iss-1", mintBody("BTC", "iss-1", "1000"))
	prices := map[string]decimal.Decimal{"REG": decimal.NewFromInt(1), "BTC": decimal.NewFromInt(100)}
	for _, sym := range []string{"REG", "BTC"} {
		h.mustAccept("oracle", ins("set_price", map[string]any{"symbol": sym, "price": prices[sym].String()}))
	}
	// Each borrower starts as RULES.md's worked example does: 1,000 USD,
	// 1,500 borrowed, 2,000 spent on a product capped at 2:1, so equity is
	// exactly the requirement and any fall in price nears a margin call.
	for i, p := range marginBorrowers {
		h.mustAccept(OperatorID, mintBody("USD", p, "1000"))
		h.mustAccept("cus-1", ins("borrow", map[string]any{"party_id": p, "cash_symbol": "USD", "amount": "1500"}))
		sym, units := "REG", "2000"
		if i == 2 {
			sym, units = "BTC", "20"
		}
		h.mustAccept(OperatorID, ins("transfer", map[string]any{"legs": []map[string]any{
			{"symbol": sym, "from": "iss-1", "to": p, "amount": units},
			{"symbol": "USD", "from": p, "to": "iss-1", "amount": "2000"},
		}}))
	}
	r := rand.New(rand.NewSource(seed))
	var seen marginSeen
	for step := 0; step < steps; step++ {
		party := marginBorrowers[r.Intn(len(marginBorrowers))]
		sym := []string{"REG", "BTC"}[r.Intn(2)]
		var actor, body string
		switch k := r.Intn(10); {
		case k < 3: // a step of the price path: -40% to +30%, now and then a crash to a tenth or a return to the start
			f := decimal.New(int64(60+r.Intn(71)), -2)
			p := prices[sym].Mul(f).Round(4)
			switch r.Intn(10) {
			case 0:
				p = prices[sym].Mul(decimal.New(1, -1)).Round(4)
			case 1:
				p = map[string]decimal.Decimal{"REG": decimal.NewFromInt(1), "BTC": decimal.NewFromInt(100)}[sym]
			}
			if p.Sign() <= 0 {
				p = decimal.New(1, -4)
			}
			prices[sym] = p
			actor, body = "oracle", ins("set_price", map[string]any{"symbol": sym, "price": p.String()})
		case k < 5:
			actor, body = "cus-1", ins("borrow", map[string]any{"party_id": party, "cash_symbol": "USD", "amount": fmt.Sprint(100 + r.Intn(2000))})
		case k < 7:
			units := fmt.Sprint(1 + r.Intn(500))
			if sym == "BTC" {
				units = decimal.New(int64(1+r.Intn(2000)), -2).String()
			}
			cost := prices[sym].Mul(decimal.RequireFromString(units)).RoundUp(2)
			actor, body = OperatorID, ins("transfer", map[string]any{"legs": []map[string]any{
				{"symbol": sym, "from": "iss-1", "to": party, "amount": units},
				{"symbol": "USD", "from": party, "to": "iss-1", "amount": cost.StringFixed(2)},
			}})
		case k < 8:
			actor, body = "cus-1", ins("repay", map[string]any{"party_id": party, "cash_symbol": "USD", "amount": fmt.Sprint(1 + r.Intn(500))})
		default:
			closeSym := heldSymbol(h, r, party)
			amount := closeOutAmount(h, r, party, closeSym)
			actor, body = "cus-1", ins("close_out", map[string]any{"party_id": party, "symbol": closeSym, "amount": amount})
		}
		checkMarginStep(t, h, actor, body, &seen)
	}
	t.Logf("seed %d: %+v", seed, seen)
}

// marginSeen counts what a run exercised, for its log.
type marginSeen struct {
	Calls, CloseOuts, WriteOffs, NotInCall int
}

// heldSymbol picks a symbol the party holds, or any when it holds none.
func heldSymbol(h *harness, r *rand.Rand, party string) string {
	var held []string
	for _, s := range []string{"REG", "BTC", "USD"} {
		if decimal.RequireFromString(h.balance(party, s)).Sign() > 0 {
			held = append(held, s)
		}
	}
	if len(held) == 0 {
		return []string{"REG", "BTC", "USD"}[r.Intn(3)]
	}
	return held[r.Intn(len(held))]
}

// closeOutAmount picks an amount of symbol to close out: often all the
// party holds, so write-offs happen, else a part.
func closeOutAmount(h *harness, r *rand.Rand, party, symbol string) string {
	bal := decimal.RequireFromString(h.balance(party, symbol))
	if bal.Sign() <= 0 {
		return "1"
	}
	if r.Intn(2) == 0 {
		return bal.String()
	}
	places := map[string]int32{"REG": 0, "BTC": 8, "USD": 2}[symbol]
	part := bal.Mul(decimal.New(int64(1+r.Intn(99)), -2)).RoundDown(places)
	if part.Sign() <= 0 {
		return bal.String()
	}
	return part.String()
}

// checkMarginStep dry-runs and applies one instruction and checks the
// properties of TestMarginProperties around it.
func checkMarginStep(t *testing.T, h *harness, actor, body string, seen *marginSeen) {
	t.Helper()
	ins, err := transfer.Decode([]byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	dry, err := h.s.DryRun(actor, ins, h.now)
	if err != nil {
		t.Fatal(err)
	}
	before := accountsOf(t, h)
	o := h.do(actor, body)
	if o.Status != dry.Status || !slices.Equal(reasonCodes(o.Reasons), reasonCodes(dry.Reasons)) {
		t.Fatalf("%s by %s: dry run %s %v, applied %s %v", body, actor, dry.Status, reasonCodes(dry.Reasons), o.Status, reasonCodes(o.Reasons))
	}
	after := accountsOf(t, h)
	for _, a := range after {
		if a.MarginCall {
			seen.Calls++
		}
	}
	if o.Status == StatusRejected && o.Reason.Code == eligibility.CodeNotInMarginCall {
		seen.NotInCall++
	}
	if ins.Type == transfer.TypeCloseOut && o.Status == StatusAccepted {
		seen.CloseOuts++
		seen.WriteOffs += len(o.WrittenOff)
		b, a := before[ins.PartyID], after[ins.PartyID]
		if a.Loan.GreaterThan(b.Loan) || a.Requirement.GreaterThan(b.Requirement) {
			t.Fatalf("%s raised loan %s -> %s or requirement %s -> %s", body, b.Loan, a.Loan, b.Requirement, a.Requirement)
		}
		p, err := h.s.Party(ins.PartyID)
		if err != nil {
			t.Fatal(err)
		}
		protected := h.s.Rulebook().ProtectsFromNegative(p.Eligibility().EffectiveStatus())
		empty := !holdsAny(a)
		switch {
		case len(o.WrittenOff) > 0 && (!protected || !empty):
			t.Fatalf("%s wrote off %v for %s (protected %v, holding %+v)", body, o.WrittenOff, p.Status, protected, a.Holdings)
		case len(o.WrittenOff) == 0 && protected && empty && a.Loan.Sign() > 0:
			t.Fatalf("%s left protected %s with nothing and a loan of %s, written off: none", body, p.ID, a.Loan)
		}
	}
	if o.Status == StatusRejected && !mapsEqual(before, after) {
		t.Fatalf("rejected %s changed an account", body)
	}
}

// accountsOf reads every borrower's holdings and checks that its margin
// call is exactly equity < maintenance, in holdings and MarginCalls alike.
func accountsOf(t *testing.T, h *harness) map[string]Holdings {
	t.Helper()
	calls, err := h.s.MarginCalls()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Holdings{}
	for _, p := range marginBorrowers {
		hs, err := h.s.PartyHoldings(p, h.now)
		if err != nil {
			t.Fatal(err)
		}
		want := hs.Equity.LessThan(hs.MaintenanceRequirement)
		if hs.MarginCall != want {
			t.Fatalf("%s: margin_call %v with equity %s and maintenance %s", p, hs.MarginCall, hs.Equity, hs.MaintenanceRequirement)
		}
		listed := slices.ContainsFunc(calls, func(a MarginAccount) bool { return a.Party == p })
		if listed != want {
			t.Fatalf("%s: listed in margin calls %v, in a call %v", p, listed, want)
		}
		if hs.Deficit.IsNegative() || (want && !hs.Deficit.Equal(hs.MaintenanceRequirement.Sub(hs.Equity))) {
			t.Fatalf("%s: deficit %s with equity %s and maintenance %s", p, hs.Deficit, hs.Equity, hs.MaintenanceRequirement)
		}
		if hs.Leverage != nil && hs.Leverage.IsNegative() {
			t.Fatalf("%s: negative leverage %s", p, hs.Leverage)
		}
		out[p] = hs
	}
	return out
}

func holdsAny(hs Holdings) bool {
	return slices.ContainsFunc(hs.Holdings, func(l HoldingLine) bool { return l.Balance.Sign() > 0 })
}

func reasonCodes(rs []eligibility.Reason) []eligibility.Code {
	var out []eligibility.Code
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func mapsEqual(a, b map[string]Holdings) bool {
	for k, x := range a {
		y := b[k]
		if !x.Loan.Equal(y.Loan) || !x.Equity.Equal(y.Equity) || len(x.Holdings) != len(y.Holdings) {
			return false
		}
	}
	return true
}
