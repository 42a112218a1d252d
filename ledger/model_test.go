package ledger

import (
	"fmt"
	"math/rand"
	"regexp"
	"slices"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
)

// refModel is a plain reference for the ledger's bookkeeping: maps and
// shopspring decimals, with the rules of mints, burns, one-leg transfers,
// freezes and pauses written out again, simply. TestReferenceModel feeds it
// and a Store the same random instructions and compares every outcome and
// every balance, frozen amount and supply: a faster engine (caches, slices
// for maps, fixed-point amounts) must decide exactly as this does.
//
// Its world keeps the rulebook out of the way: cash instruments under the
// unrestricted regime, investors accredited with KYC valid past the test's
// clock, every instruction sent by the operator (always authorized).
type refModel struct {
	decimals map[string]int32
	paused   map[string]bool
	supply   map[string]decimal.Decimal
	frozen   map[string]bool // parties frozen whole
	balance  map[[2]string]decimal.Decimal
	held     map[[2]string]decimal.Decimal // frozen amounts
	// outcomes remembers each decided id's status and first reason code, which
	// a repeat of the same body must get again.
	outcomes map[string]refOutcome
}

// refOutcome is a status and the first reason's code; an instruction that
// does not decode (an amount outside the plain grammar) is no decision: no
// status, and the item's error code.
type refOutcome struct{ status, code string }

var refMalformed = refOutcome{code: ErrCodeMalformed}

var (
	refParties     = []string{"cus-1", "iss-1", "inv-a", "inv-b", "inv-c", "inv-d"}
	refInstruments = map[string]int32{"USD": 2, "JPY": 0, "GBP": 4}
	refPlain       = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]+)?$`)
)

func newRefModel() *refModel {
	m := &refModel{
		decimals: map[string]int32{}, paused: map[string]bool{}, supply: map[string]decimal.Decimal{},
		frozen: map[string]bool{}, balance: map[[2]string]decimal.Decimal{}, held: map[[2]string]decimal.Decimal{},
		outcomes: map[string]refOutcome{},
	}
	for sym, d := range refInstruments {
		m.decimals[sym] = d
		m.supply[sym] = decimal.Zero
	}
	return m
}

func (m *refModel) known(party string) bool { return slices.Contains(refParties, party) }

// amount parses a positive amount with at most the instrument's decimals.
func (m *refModel) amount(s, symbol string) (decimal.Decimal, bool) {
	if !refPlain.MatchString(s) {
		return decimal.Decimal{}, false
	}
	d := decimal.RequireFromString(s)
	if d.Sign() <= 0 || !d.Truncate(m.decimals[symbol]).Equal(d) {
		return decimal.Decimal{}, false
	}
	return d, true
}

// first is the reason a client sees: the code of highest precedence.
func first(codes []eligibility.Code) refOutcome {
	if len(codes) == 0 {
		return refOutcome{status: StatusAccepted}
	}
	best := codes[0]
	for _, c := range codes[1:] {
		if c.Precedence() < best.Precedence() {
			best = c
		}
	}
	return refOutcome{status: StatusRejected, code: string(best)}
}

// resolve names the parties and instrument an instruction needs, refusing
// the unknown ones.
func (m *refModel) resolve(symbol string, parties ...string) []eligibility.Code {
	var codes []eligibility.Code
	if _, ok := m.decimals[symbol]; !ok {
		codes = append(codes, eligibility.CodeUnknownInstrument)
	}
	for _, p := range parties {
		if !m.known(p) {
			codes = append(codes, eligibility.CodeUnknownParty)
		}
	}
	return codes
}

// canSend is what may leave from's account: nothing when it is frozen, else
// what is not frozen of its balance.
func (m *refModel) canSend(from, symbol string, amt decimal.Decimal) []eligibility.Code {
	k := [2]string{from, symbol}
	switch {
	case m.frozen[from]:
		return []eligibility.Code{eligibility.CodeAccountFrozen}
	case m.balance[k].Sub(m.held[k]).GreaterThanOrEqual(amt):
		return nil
	case m.balance[k].GreaterThanOrEqual(amt):
		return []eligibility.Code{eligibility.CodeAccountFrozen}
	}
	return []eligibility.Code{eligibility.CodeInsufficientBalance}
}

func (m *refModel) add(party, symbol string, amt decimal.Decimal) {
	k := [2]string{party, symbol}
	m.balance[k] = m.balance[k].Add(amt)
}

// movable makes the checks every movement makes first: the names resolve
// and the amount parses. Unless ok, refused is the outcome.
func (m *refModel) movable(symbol, amount string, parties ...string) (amt decimal.Decimal, refused refOutcome, ok bool) {
	if codes := m.resolve(symbol, parties...); len(codes) > 0 {
		return decimal.Decimal{}, first(codes), false
	}
	if amt, ok = m.amount(amount, symbol); !ok {
		return decimal.Decimal{}, first([]eligibility.Code{eligibility.CodeBadAmount}), false
	}
	return amt, refOutcome{}, true
}

func (m *refModel) mint(symbol, to, amount string) refOutcome {
	amt, refused, ok := m.movable(symbol, amount, to)
	if !ok {
		return refused
	}
	var codes []eligibility.Code
	if m.paused[symbol] {
		codes = append(codes, eligibility.CodeInstrumentPaused)
	}
	if m.frozen[to] {
		codes = append(codes, eligibility.CodeAccountFrozen)
	}
	if len(codes) > 0 {
		return first(codes)
	}
	m.add(to, symbol, amt)
	m.supply[symbol] = m.supply[symbol].Add(amt)
	return first(nil)
}

func (m *refModel) burn(symbol, from, amount string) refOutcome {
	amt, refused, ok := m.movable(symbol, amount, from)
	if !ok {
		return refused
	}
	if m.paused[symbol] {
		return first([]eligibility.Code{eligibility.CodeInstrumentPaused})
	}
	if codes := m.canSend(from, symbol, amt); len(codes) > 0 {
		return first(codes)
	}
	m.add(from, symbol, amt.Neg())
	m.supply[symbol] = m.supply[symbol].Sub(amt)
	return first(nil)
}

func (m *refModel) transfer(symbol, from, to, amount string) refOutcome {
	amt, refused, ok := m.movable(symbol, amount, from, to)
	if !ok {
		return refused
	}
	var codes []eligibility.Code
	if m.paused[symbol] {
		codes = append(codes, eligibility.CodeInstrumentPaused)
	}
	codes = append(codes, m.canSend(from, symbol, amt)...)
	if m.frozen[to] {
		codes = append(codes, eligibility.CodeAccountFrozen)
	}
	if len(codes) > 0 {
		return first(codes)
	}
	m.add(from, symbol, amt.Neg())
	m.add(to, symbol, amt)
	return first(nil)
}

// freeze freezes (or unfreezes) a party whole (symbol ""), all of one
// holding (amount ""), or an amount of it.
func (m *refModel) freeze(freeze bool, party, symbol, amount string) refOutcome {
	if !m.known(party) {
		return first([]eligibility.Code{eligibility.CodeUnknownParty})
	}
	if symbol == "" {
		m.frozen[party] = freeze
		return first(nil)
	}
	if _, ok := m.decimals[symbol]; !ok {
		return first([]eligibility.Code{eligibility.CodeUnknownInstrument})
	}
	k := [2]string{party, symbol}
	switch {
	case amount == "" && freeze:
		m.held[k] = m.balance[k]
	case amount == "":
		m.held[k] = decimal.Zero
	default:
		amt, ok := m.amount(amount, symbol)
		if !ok {
			return first([]eligibility.Code{eligibility.CodeBadAmount})
		}
		if freeze {
			if m.held[k].Add(amt).GreaterThan(m.balance[k]) {
				return first([]eligibility.Code{eligibility.CodeInsufficientBalance})
			}
			m.held[k] = m.held[k].Add(amt)
		} else {
			if amt.GreaterThan(m.held[k]) {
				return first([]eligibility.Code{eligibility.CodeInvalidInstruction})
			}
			m.held[k] = m.held[k].Sub(amt)
		}
	}
	return first(nil)
}

func (m *refModel) pause(pause bool, symbol string) refOutcome {
	if _, ok := m.decimals[symbol]; !ok {
		return first([]eligibility.Code{eligibility.CodeUnknownInstrument})
	}
	m.paused[symbol] = pause
	return first(nil)
}

// refGen draws instructions for the model test: mostly valid, with unknown
// names, malformed and oversized amounts, and repeats mixed in.
type refGen struct {
	r    *rand.Rand
	n    int
	past []refStep
}

// refStep is one instruction: its body for the ledger and how the model
// decides it.
type refStep struct {
	id, body string
	amount   string // "" when it has none
	decide   func(*refModel) refOutcome
}

func (g *refGen) party() string {
	if g.r.Intn(25) == 0 {
		return "ghost"
	}
	return refParties[2+g.r.Intn(len(refParties)-2)]
}

func (g *refGen) symbol() string {
	if g.r.Intn(30) == 0 {
		return "NOPE"
	}
	return []string{"USD", "JPY", "GBP"}[g.r.Intn(3)]
}

// amount is one in eight times out of range or malformed, else a plain
// positive amount, some with more decimals than JPY or USD take.
func (g *refGen) amount() string {
	if g.r.Intn(8) == 0 {
		bad := []string{"0", "0.00001", "-1", "1e3", "007", ".5"}
		return bad[g.r.Intn(len(bad))]
	}
	good := []string{"1", "2", "5", "10", "25", "100", "1000", "0.5", "0.25", "12.34", "0.0001", "3.1415", "999999999999"}
	return good[g.r.Intn(len(good))]
}

func (g *refGen) next() refStep {
	if len(g.past) > 0 && g.r.Intn(20) == 0 {
		return g.past[g.r.Intn(len(g.past))] // the same id and body again
	}
	g.n++
	id := fmt.Sprintf("ref-%d", g.n)
	body := func(typ string, fields map[string]any) string {
		f := map[string]any{"id": id}
		for k, v := range fields {
			f[k] = v
		}
		return ins(typ, f)
	}
	var s refStep
	switch k := g.r.Intn(20); {
	case k < 5:
		sym, to, amt := g.symbol(), g.party(), g.amount()
		s = refStep{body: body("mint", map[string]any{"symbol": sym, "to": to, "amount": amt}), amount: amt,
			decide: func(m *refModel) refOutcome { return m.mint(sym, to, amt) }}
	case k < 7:
		sym, from, amt := g.symbol(), g.party(), g.amount()
		s = refStep{body: body("burn", map[string]any{"symbol": sym, "from": from, "amount": amt, "legal_reference": "order 1"}), amount: amt,
			decide: func(m *refModel) refOutcome { return m.burn(sym, from, amt) }}
	case k < 15:
		sym, from, to, amt := g.symbol(), g.party(), g.party(), g.amount()
		for to == from {
			to = g.party()
		}
		legs := []map[string]any{{"symbol": sym, "from": from, "to": to, "amount": amt}}
		s = refStep{body: body("transfer", map[string]any{"legs": legs}), amount: amt,
			decide: func(m *refModel) refOutcome { return m.transfer(sym, from, to, amt) }}
	case k < 19:
		freeze, p, sym, amt := g.r.Intn(2) == 0, g.party(), "", ""
		fields := map[string]any{"party_id": p}
		if g.r.Intn(4) > 0 {
			sym = g.symbol()
			fields["symbol"] = sym
			if g.r.Intn(3) > 0 {
				amt = g.amount()
				fields["amount"] = amt
			}
		}
		typ := "unfreeze"
		if freeze {
			typ = "freeze"
		}
		s = refStep{body: body(typ, fields), amount: amt,
			decide: func(m *refModel) refOutcome { return m.freeze(freeze, p, sym, amt) }}
	default:
		pause, sym := g.r.Intn(2) == 0, g.symbol()
		typ := "unpause"
		if pause {
			typ = "pause"
		}
		s = refStep{body: body(typ, map[string]any{"symbol": sym}),
			decide: func(m *refModel) refOutcome { return m.pause(pause, sym) }}
	}
	s.id = id
	if a := s.amount; a != "" && !refPlain.MatchString(a) {
		s.decide = func(*refModel) refOutcome { return refMalformed }
	}
	g.past = append(g.past, s)
	return s
}

// TestReferenceModel runs random sequences of mints, burns, transfers,
// freezes and pauses (repeats of earlier ids among them) through a Store and
// through refModel, in batches of up to eight, and after every batch
// compares each outcome's status and first reason code, and every balance,
// frozen amount and supply. Its seed is in the subtest's name.
func TestReferenceModel(t *testing.T) {
	seeds, steps := 6, 400
	if testing.Short() || raceEnabled {
		seeds, steps = 2, 150
	}
	runSeeds(t, seeds, func(t *testing.T, seed int64) {
		t.Parallel()
		runReferenceModel(t, seed, steps)
	})
}

func runReferenceModel(t *testing.T, seed int64, steps int) {
	// Odd seeds run over layers: a live layer of several calls and one
	// being committed beside Apply; even seeds check the state after every
	// Apply.
	h := newHarness(t)
	if seed%2 == 1 {
		h = newLayeredHarness(t, 2+int(seed*7%23))
	}
	h.mustAccept(OperatorID, ins("register_party", party("cus-1", "custodian")))
	h.mustAccept(OperatorID, ins("register_party", party("iss-1", "issuer")))
	for _, p := range refParties[2:] {
		h.mustAccept("cus-1", ins("register_party", investor(p, "accredited", "US")))
	}
	for sym, d := range refInstruments {
		h.mustAccept(OperatorID, ins("create_instrument", instrument(sym, "unrestricted", "cash", int(d), nil)))
	}
	m := newRefModel()
	g := &refGen{r: rand.New(rand.NewSource(seed))}
	byCode := map[string]int{}
	for done := 0; done < steps; {
		batch := make([]refStep, 1+g.r.Intn(8))
		items := make([][]byte, len(batch))
		for i := range batch {
			batch[i] = g.next()
			items[i] = InstructionItem(OperatorID, []byte(batch[i].body))
		}
		done += len(batch)
		got := h.apply(items...)
		for i, s := range batch {
			want, repeat := m.outcomes[s.id]
			if !repeat {
				want = s.decide(m)
				m.outcomes[s.id] = want
			}
			o := got[i]
			code := ""
			switch {
			case o.Reason != nil:
				code = string(o.Reason.Code)
			case o.Error != nil:
				code = o.Error.Code
			}
			if o.Status != want.status || code != want.code {
				t.Fatalf("seed %d: %s: ledger %s %s (%+v), model %s %s", seed, s.body, o.Status, code, o.Error, want.status, want.code)
			}
			byCode[o.Status+" "+code]++
		}
		compareWithModel(t, seed, h, m)
	}
	// A generator that drifted into refusing nearly everything would compare
	// little: a good share of instructions must move something.
	t.Logf("seed %d outcomes: %v", seed, byCode)
	if accepted := byCode[StatusAccepted+" "]; accepted < steps/6 {
		t.Errorf("seed %d: %d of %d instructions accepted, want a sixth at least", seed, accepted, steps)
	}
}

// compareWithModel checks every balance, frozen amount and supply.
func compareWithModel(t *testing.T, seed int64, h *harness, m *refModel) {
	t.Helper()
	for _, p := range refParties {
		hs, err := h.s.PartyHoldings(p, h.now)
		if err != nil {
			t.Fatalf("holdings of %s: %v", p, err)
		}
		got := map[string]HoldingLine{}
		for _, l := range hs.Holdings {
			got[l.Symbol] = l
		}
		for sym := range refInstruments {
			k := [2]string{p, sym}
			l := got[sym]
			if !l.Balance.Equal(m.balance[k]) || !l.Frozen.Equal(m.held[k]) {
				t.Fatalf("seed %d: %s %s: ledger balance %s frozen %s, model %s frozen %s", seed, p, sym, l.Balance, l.Frozen, m.balance[k], m.held[k])
			}
		}
	}
	for sym := range refInstruments {
		in, err := h.s.Instrument(sym)
		if err != nil {
			t.Fatalf("instrument %s: %v", sym, err)
		}
		if !in.Supply.Equal(m.supply[sym]) || in.Paused != m.paused[sym] {
			t.Fatalf("seed %d: %s: ledger supply %s paused %v, model %s paused %v", seed, sym, in.Supply, in.Paused, m.supply[sym], m.paused[sym])
		}
	}
}
