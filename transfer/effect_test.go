package transfer_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// effectCase is one row of an Effect table: the state (newWorld, changed by
// setup), who submits which instruction, and the outcome. An accepted row
// gives want, the exact writes of the delta built from the state before; a
// refused row gives every reason as "CODE rule", in the order Effect reports
// them. Exactly one of the two is set.
type effectCase struct {
	name    string
	setup   func(w *mapView)
	actor   string
	ins     transfer.Instruction
	want    func(w *mapView) transfer.Changes
	refused []string
}

// effectTables holds a table per instruction type; TestEffect checks that
// every type has one.
var effectTables = map[transfer.Type][]effectCase{
	transfer.TypeRegisterParty:    registerPartyCases,
	transfer.TypeUpdateParty:      updatePartyCases,
	transfer.TypeCreateInstrument: createInstrumentCases,
	transfer.TypeMint:             mintCases,
	transfer.TypeBurn:             burnCases,
	transfer.TypeTransfer:         transferCases,
	transfer.TypeForceTransfer:    forceTransferCases,
	transfer.TypeFreeze:           freezeCases,
	transfer.TypeUnfreeze:         unfreezeCases,
	transfer.TypePause:            pauseCases,
	transfer.TypeUnpause:          unpauseCases,
	transfer.TypeRecover:          recoverCases,
	transfer.TypeSetPrice:         setPriceCases,
	transfer.TypeBorrow:           borrowCases,
	transfer.TypeRepay:            repayCases,
	transfer.TypeDistribute:       distributeCases,
	transfer.TypeSplit:            splitCases,
	transfer.TypeSetRulebook:      setRulebookCases,
	transfer.TypeCloseOut:         closeOutCases,
}

// TestEffect decides every row of every table against a map-backed View:
// the domain core without bbolt.
func TestEffect(t *testing.T) {
	if got, want := slices.Sorted(maps.Keys(effectTables)), transfer.Types(); !slices.Equal(got, want) {
		t.Errorf("tables for %v, want one for each of %v", got, want)
	}
	for _, typ := range transfer.Types() {
		t.Run(string(typ), func(t *testing.T) {
			runEffect(t, typ, effectTables[typ])
		})
	}
}

// Ensure that a type Effect does not know is refused, after authorization.
func TestEffectUnknownType(t *testing.T) {
	bogus := transfer.Instruction{Type: "bogus"}
	runEffect(t, "bogus", []effectCase{
		refused("by the operator", "op", bogus, "INVALID_INSTRUCTION instruction.type"),
		refused("by an issuer", "iss", bogus, "NOT_AUTHORIZED authorization.bogus"),
	})
}

func runEffect(t *testing.T, typ transfer.Type, cases []effectCase) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatalf("no rows for %s", typ)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ins.Type != typ {
				t.Fatalf("a %s row in the %s table", tc.ins.Type, typ)
			}
			if (tc.want == nil) == (tc.refused == nil) {
				t.Fatalf("a row gives either want or refused")
			}
			w := newWorld(t)
			if tc.setup != nil {
				tc.setup(w)
				if errs := w.invariants(); len(errs) > 0 {
					t.Fatalf("setup leaves an inconsistent state: %v", errs)
				}
			}
			before := w.dump()
			d, reasons := transfer.Effect(w, tc.actor, tc.ins, now)
			if after := w.dump(); !slices.Equal(after, before) {
				t.Errorf("Effect wrote through its View:\nbefore\n%s\nafter\n%s", lines(before), lines(after))
			}
			got := reasonKeys(t, reasons)
			if tc.refused != nil {
				if !slices.Equal(got, tc.refused) {
					t.Errorf("Effect(%s by %s) reasons\n%s\nwant\n%s", tc.ins.Type, tc.actor, lines(got), lines(tc.refused))
				}
				if d != nil {
					t.Errorf("Effect(%s by %s) refused with a delta: %s", tc.ins.Type, tc.actor, lines(render(t, d.Changes())))
				}
				return
			}
			if len(reasons) > 0 || d == nil {
				t.Fatalf("Effect(%s by %s) refused (delta %v):\n%s\nwant accepted", tc.ins.Type, tc.actor, d != nil, lines(got))
			}
			changes := d.Changes()
			if got, want := render(t, changes), render(t, tc.want(w)); !slices.Equal(got, want) {
				t.Errorf("Effect(%s by %s) writes\n%s\nwant\n%s", tc.ins.Type, tc.actor, lines(got), lines(want))
			}
			// Committed, the delta must leave a state the ledger's Check
			// would pass: the table's want could share a mistake with Effect.
			w.commit(changes)
			if errs := w.invariants(); len(errs) > 0 {
				t.Errorf("the state after committing the delta is inconsistent:\n%s", lines(errs))
			}
		})
	}
}

// reasonKeys gives each reason as "CODE rule", checking the parts a key
// leaves out: every reason has a message, and the ERC-1066 byte of its code.
func reasonKeys(tb testing.TB, rs []eligibility.Reason) []string {
	tb.Helper()
	var out []string
	for _, r := range rs {
		if r.Message == "" || r.ERC1066 != eligibility.ERC1066(r.Code) {
			tb.Errorf("reason %+v: no message, or not its code's ERC-1066 byte %s", r, eligibility.ERC1066(r.Code))
		}
		out = append(out, fmt.Sprintf("%s %s", r.Code, r.Rule))
	}
	return out
}

func lines(ss []string) string {
	if len(ss) == 0 {
		return "  (none)"
	}
	return "  " + strings.Join(ss, "\n  ")
}

// The rows are built by accepted and refused, so each reads as one sentence:
// its name, who submits what, and the outcome.

// accepted is a row Effect must accept, writing exactly what want builds
// from the state before.
func accepted(name, actor string, ins transfer.Instruction, want func(w *mapView) transfer.Changes) effectCase {
	return effectCase{name: name, actor: actor, ins: ins, want: want}
}

// refused is a row Effect must refuse with reasons, each "CODE rule", in the
// order Effect reports them.
func refused(name, actor string, ins transfer.Instruction, reasons ...string) effectCase {
	return effectCase{name: name, actor: actor, ins: ins, refused: reasons}
}

// given is the row decided on the fixture as setup changes it.
func (c effectCase) given(setup func(w *mapView)) effectCase {
	c.setup = setup
	return c
}

// A write is one part of a row's want: it appends the objects it names to
// the changes, reading the state before where it starts from the fixture.
type write func(w *mapView, c *transfer.Changes)

// writes is the want made of parts; within a kind of object they come in the
// order Changes lists them.
func writes(parts ...write) func(w *mapView) transfer.Changes {
	return func(w *mapView) transfer.Changes {
		var c transfer.Changes
		for _, part := range parts {
			part(w, &c)
		}
		return c
	}
}

// partyAs writes the fixture's party id as edits leave it; instrumentAs
// does the same for an instrument. Without edits, the write repeats what is
// stored.
func partyAs(id string, edits ...func(p *transfer.Party)) write {
	return func(w *mapView, c *transfer.Changes) { c.Parties = append(c.Parties, edited(w.party(id), edits)) }
}

func instrumentAs(symbol string, edits ...func(in *transfer.Instrument)) write {
	return func(w *mapView, c *transfer.Changes) {
		c.Instruments = append(c.Instruments, edited(w.instrument(symbol), edits))
	}
}

func edited[T any](x T, edits []func(*T)) T {
	for _, edit := range edits {
		edit(&x)
	}
	return x
}

// parties, instruments, holdings, loans and prices write new objects, spelled
// out in full.
func parties(ps ...transfer.Party) write {
	return func(_ *mapView, c *transfer.Changes) { c.Parties = append(c.Parties, ps...) }
}

func instruments(ins ...transfer.Instrument) write {
	return func(_ *mapView, c *transfer.Changes) { c.Instruments = append(c.Instruments, ins...) }
}

func holdings(hs ...transfer.Holding) write {
	return func(_ *mapView, c *transfer.Changes) { c.Holdings = append(c.Holdings, hs...) }
}

func loans(ls ...transfer.Loan) write {
	return func(_ *mapView, c *transfer.Changes) { c.Loans = append(c.Loans, ls...) }
}

func prices(ps ...transfer.Price) write {
	return func(_ *mapView, c *transfer.Changes) { c.Prices = append(c.Prices, ps...) }
}

// The edits of a fixture object that the rows' wants make.

func status(s eligibility.Status) func(*transfer.Party) {
	return func(p *transfer.Party) { p.Status = s }
}

func frozen(f bool) func(*transfer.Party) {
	return func(p *transfer.Party) { p.Frozen = f }
}

func paused(p bool) func(*transfer.Instrument) {
	return func(in *transfer.Instrument) { in.Paused = p }
}

func supply(s string) func(*transfer.Instrument) {
	return func(in *transfer.Instrument) { in.Supply = dec(s) }
}

func maxSupply(s string) func(*transfer.Instrument) {
	return func(in *transfer.Instrument) { in.MaxSupply = new(dec(s)) }
}

func holders(n int) func(*transfer.Instrument) {
	return func(in *transfer.Instrument) { in.HolderCount = n }
}

func nonAccredited(n int) func(*transfer.Instrument) {
	return func(in *transfer.Instrument) { in.NonAccreditedHolders = n }
}

func leg(symbol, from, to, amount string) transfer.Leg {
	return transfer.Leg{Symbol: symbol, From: from, To: to, Amount: transfer.Amount(amount)}
}

// refusedTaking are the rows of every instruction that takes units from a
// holder (transfer, force_transfer, burn): whoever acts, the holder must
// have them, must not be frozen, and the instrument must not be paused.
// take builds the instruction; actor names who submits it, given the holder.
func refusedTaking(take func(symbol, from, amount string) transfer.Instruction, actor func(from string) string) []effectCase {
	return []effectCase{
		refused("more than the balance", actor("ret-us"), take("REG", "ret-us", "50.01"), "INSUFFICIENT_BALANCE account.balance"),
		refused("from a frozen party", actor("frz"), take("USD", "frz", "1"), "ACCOUNT_FROZEN account.frozen"),
		refused("paused", actor("iss"), take("PAUSED", "iss", "1"), "INSTRUMENT_PAUSED instrument.paused"),
	}
}

// The actors of shared rows: the holder the instruction takes from, or
// always the same party.
func theHolder(from string) string { return from }

func always(actor string) func(from string) string { return func(string) string { return actor } }

func registerOf(spec *transfer.PartySpec) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeRegisterParty, Party: spec}
}

// investorSpec is an investor of ret-us's kind, in custody of custodian;
// registeredInvestor is the party register_party makes of it.
func investorSpec(id, custodian string) *transfer.PartySpec {
	kyc := ago(-365)
	return &transfer.PartySpec{ID: id, Role: eligibility.RoleInvestor, Status: eligibility.StatusRetail,
		Jurisdiction: "FR", KYCExpiresAt: &kyc, Custodian: custodian}
}

func registeredInvestor(id, custodian string) transfer.Party {
	return transfer.Party{ID: id, Role: eligibility.RoleInvestor, Status: eligibility.StatusRetail, Jurisdiction: "FR",
		KYCExpiresAt: new(ago(-365)), Custodian: custodian, CreatedAt: now}
}

var issuerSpec = &transfer.PartySpec{ID: "iss-3", Role: eligibility.RoleIssuer}

const notAuthorizedToRegister = "NOT_AUTHORIZED authorization.register_party"

var registerPartyCases = []effectCase{
	accepted("operator registers an issuer", "op", registerOf(issuerSpec),
		writes(parties(transfer.Party{ID: "iss-3", Role: eligibility.RoleIssuer, CreatedAt: now}))),
	accepted("custodian registers an investor in its custody", "cus", registerOf(investorSpec("ret-fr", "cus")),
		writes(parties(registeredInvestor("ret-fr", "cus")))),
	accepted("operator registers an investor for a custodian", "op", registerOf(investorSpec("ret-fr", "cus-2")),
		writes(parties(registeredInvestor("ret-fr", "cus-2")))),
	refused("an id already registered", "cus", registerOf(investorSpec("acc-us", "cus")), "ALREADY_EXISTS party.unique"),
	refused("a custodian not registered", "op", registerOf(investorSpec("ret-fr", "ghost")), "UNKNOWN_PARTY party.exists"),
	refused("a custodian that is an issuer", "op", registerOf(investorSpec("ret-fr", "iss")), "INVALID_INSTRUCTION party.custodian"),
	refused("custodian registers another custodian's investor", "cus-2", registerOf(investorSpec("ret-fr", "cus")), notAuthorizedToRegister),
	refused("custodian registers an issuer", "cus", registerOf(issuerSpec), notAuthorizedToRegister),
	refused("an actor not registered", "ghost", registerOf(issuerSpec), notAuthorizedToRegister),
}

func statusUpdate(party string, s eligibility.Status) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: party, Status: &s}
}

func relocate(party, jurisdiction string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: party, Jurisdiction: &jurisdiction}
}

var updatePartyCases = []effectCase{
	accepted("retail to accredited lowers the non-accredited counts of what it holds", "cus",
		statusUpdate("ret-us", eligibility.StatusAccredited),
		writes(partyAs("ret-us", status(eligibility.StatusAccredited)), instrumentAs("REG", nonAccredited(0)), instrumentAs("USD", nonAccredited(0)))),
	accepted("accredited to retail raises them", "cus", statusUpdate("acc-us", eligibility.StatusRetail),
		writes(partyAs("acc-us", status(eligibility.StatusRetail)), instrumentAs("LOCK", nonAccredited(1)), instrumentAs("REG", nonAccredited(2)))),
	accepted("accredited to qualified purchaser leaves the counts", "op", statusUpdate("acc-us", eligibility.StatusQualifiedPurchaser),
		writes(partyAs("acc-us", status(eligibility.StatusQualifiedPurchaser)))),
	accepted("jurisdiction and KYC", "cus",
		transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: "lapsed", Jurisdiction: new("CA"), KYCExpiresAt: new(ago(-30))},
		writes(partyAs("lapsed", func(p *transfer.Party) { p.Jurisdiction, p.KYCExpiresAt = "CA", new(ago(-30)) }))),
	refused("a party not registered", "op", relocate("ghost", "CA"), "UNKNOWN_PARTY party.exists"),
	refused("a party that is not an investor", "op", relocate("iss", "CA"), "INVALID_INSTRUCTION party.update"),
	refused("another custodian's investor", "cus-2", relocate("ret-us", "CA"), "NOT_AUTHORIZED authorization.update_party"),
}

func createOf(spec *transfer.InstrumentSpec) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: spec}
}

// instrumentSpec is a new instrument NEW of iss with 2 decimals; equityOf is
// the registered equity one, changed by edit.
func instrumentSpec(regime string, attrs transfer.AttributesSpec) *transfer.InstrumentSpec {
	return &transfer.InstrumentSpec{Symbol: "NEW", Name: "New Co", Issuer: "iss", Decimals: 2, Regime: regime, Attributes: attrs}
}

func equityOf(edit func(s *transfer.InstrumentSpec)) *transfer.InstrumentSpec {
	s := instrumentSpec("registered", equitySpec)
	edit(s)
	return s
}

var equitySpec = transfer.AttributesSpec{Underlying: eligibility.UnderlyingEnterpriseEquity, Payoff: eligibility.PayoffLinear,
	EconomicPurpose: eligibility.PurposeCapitalFormation}

// created is the instrument create_instrument makes of spec, whose
// attributes read as attrs: its classification's reasons are the rulebook's
// text, the rest is spelled out.
func created(spec *transfer.InstrumentSpec, attrs eligibility.Attributes, class, regulator string) transfer.Instrument {
	in := transfer.Instrument{
		Symbol: spec.Symbol, Name: spec.Name, Issuer: spec.Issuer, Decimals: spec.Decimals, Regime: spec.Regime,
		OfferingDate: now, Attributes: attrs, Class: class, Regulator: regulator, Category: eligibility.CategoryInvestment,
		ClassificationReasons: eligibility.Default().Classify(attrs).Reasons, Supply: decimal.Zero, CreatedAt: now,
	}
	if spec.OfferingDate != nil {
		in.OfferingDate = *spec.OfferingDate
	}
	if spec.MaxSupply != nil {
		m := dec(string(*spec.MaxSupply))
		in.MaxSupply = &m
	}
	return in
}

var (
	withMaxSupply  = equityOf(func(s *transfer.InstrumentSpec) { s.MaxSupply = amt("500") })
	offeredEarlier = equityOf(func(s *transfer.InstrumentSpec) { s.OfferingDate = new(ago(30)) })
	leveraged      = instrumentSpec("cftc", transfer.AttributesSpec{Underlying: eligibility.UnderlyingCommodity,
		Payoff: eligibility.PayoffLinear, EmbeddedLeverage: amt("5"), EconomicPurpose: eligibility.PurposeHedging})
	leveragedAttrs = eligibility.Attributes{Underlying: eligibility.UnderlyingCommodity, Payoff: eligibility.PayoffLinear,
		EmbeddedLeverage: dec("5"), EconomicPurpose: eligibility.PurposeHedging}
)

var createInstrumentCases = []effectCase{
	accepted("registered equity with a max supply", "iss", createOf(withMaxSupply),
		writes(instruments(created(withMaxSupply, equity, eligibility.ClassSecurity, eligibility.RegulatorSEC)))),
	accepted("an offering date in the past is kept", "op", createOf(offeredEarlier),
		writes(instruments(created(offeredEarlier, equity, eligibility.ClassSecurity, eligibility.RegulatorSEC)))),
	accepted("a leveraged commodity is a derivative", "iss", createOf(leveraged),
		writes(instruments(created(leveraged, leveragedAttrs, eligibility.ClassDerivative, eligibility.RegulatorCFTC)))),
	refused("a symbol in use", "iss", createOf(equityOf(func(s *transfer.InstrumentSpec) { s.Symbol = "REG" })),
		"ALREADY_EXISTS instrument.unique"),
	refused("an issuer not registered", "op", createOf(equityOf(func(s *transfer.InstrumentSpec) { s.Issuer = "ghost" })),
		"UNKNOWN_PARTY party.exists"),
	refused("an issuer that is a custodian", "op", createOf(equityOf(func(s *transfer.InstrumentSpec) { s.Issuer = "cus" })),
		"INVALID_INSTRUCTION instrument.issuer"),
	refused("embedded leverage below 1", "iss", createOf(instrumentSpec("cftc", transfer.AttributesSpec{
		Underlying: eligibility.UnderlyingCommodity, EmbeddedLeverage: amt("0.5")})), "INVALID_INSTRUCTION instrument.attributes"),
	refused("an offering date in the future", "iss", createOf(equityOf(func(s *transfer.InstrumentSpec) { s.OfferingDate = new(ago(-1)) })),
		"INVALID_INSTRUCTION instrument.offering_date"),
	refused("a max supply finer than the decimals", "iss",
		createOf(equityOf(func(s *transfer.InstrumentSpec) { s.Decimals, s.MaxSupply = 0, amt("10.5") })), "BAD_AMOUNT amount.format"),
	refused("a regime the rulebook does not define", "iss", createOf(instrumentSpec("reg_x", equitySpec)), "INVALID_INSTRUCTION regime"),
	refused("a class the regime does not admit", "iss", createOf(instrumentSpec("registered", transfer.AttributesSpec{
		Underlying: eligibility.UnderlyingCash, EconomicPurpose: eligibility.PurposePayment})), "INVALID_INSTRUCTION registered.classes"),
	refused("a prohibited event topic", "iss", createOf(instrumentSpec("cftc", transfer.AttributesSpec{
		Underlying: eligibility.UnderlyingEvent, Payoff: eligibility.PayoffBinary, EventTopic: "war"})), "GAMING_PRODUCT prohibited_topic"),
	refused("an issuer creating for another", "iss-2", createOf(instrumentSpec("registered", equitySpec)),
		"NOT_AUTHORIZED authorization.create_instrument"),
}

func symbolOf(typ transfer.Type, symbol string) transfer.Instruction {
	return transfer.Instruction{Type: typ, Symbol: symbol}
}

// pauseCases and unpauseCases mirror each other: each sets the flag, and
// setting it to what it is already is accepted, a write of the same
// instrument, so a retried instruction does not fail.
var pauseCases = []effectCase{
	accepted("an instrument", "iss", symbolOf(transfer.TypePause, "REG"), writes(instrumentAs("REG", paused(true)))),
	accepted("an instrument already paused", "op", symbolOf(transfer.TypePause, "PAUSED"), writes(instrumentAs("PAUSED"))),
	refused("an instrument that does not exist", "op", symbolOf(transfer.TypePause, "NOPE"), "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("another issuer's instrument", "iss-2", symbolOf(transfer.TypePause, "REG"), "NOT_AUTHORIZED authorization.pause"),
}

var unpauseCases = []effectCase{
	accepted("a paused instrument", "iss", symbolOf(transfer.TypeUnpause, "PAUSED"), writes(instrumentAs("PAUSED", paused(false)))),
	accepted("an instrument not paused", "op", symbolOf(transfer.TypeUnpause, "REG"), writes(instrumentAs("REG"))),
	refused("an instrument that does not exist", "op", symbolOf(transfer.TypeUnpause, "NOPE"), "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("by a custodian", "cus", symbolOf(transfer.TypeUnpause, "PAUSED"), "NOT_AUTHORIZED authorization.unpause"),
}

func priceOf(symbol, price string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeSetPrice, Symbol: symbol, Price: amt(price)}
}

// priceNow writes symbol's price, stamped with the instant of the decision.
func priceNow(symbol, price string) write {
	return prices(transfer.Price{Symbol: symbol, Price: dec(price), Time: now})
}

var setPriceCases = []effectCase{
	accepted("by the oracle", "orc", priceOf("REG", "12.5"), writes(priceNow("REG", "12.5"))),
	accepted("eighteen fraction digits, by the operator", "op", priceOf("LOCK", "0.000000000000000001"),
		writes(priceNow("LOCK", "0.000000000000000001"))),
	refused("nineteen fraction digits", "orc", priceOf("REG", "0.0000000000000000001"), "BAD_AMOUNT amount.format"),
	refused("zero", "orc", priceOf("REG", "0"), "BAD_AMOUNT amount.format"),
	refused("cash", "orc", priceOf("USD", "1"), "INVALID_INSTRUCTION price.cash"),
	refused("an instrument that does not exist", "orc", priceOf("NOPE", "1"), "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("by an investor", "ret-us", priceOf("REG", "1"), "NOT_AUTHORIZED authorization.set_price"),
}

// nextRulebook is the default rulebook under another version.
var nextRulebook = string(bytes.Replace(eligibility.Default().YAML(),
	[]byte(`version: "2026-12-default-1"`), []byte(`version: "effect-test-2"`), 1))

func rulebookOf(yaml string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeSetRulebook, Rulebook: yaml}
}

var setRulebookCases = []effectCase{
	accepted("a rulebook that parses", "op", rulebookOf(nextRulebook), func(w *mapView) transfer.Changes {
		rb, err := eligibility.Parse([]byte(nextRulebook))
		if err != nil || rb.Version() != "effect-test-2" {
			w.tb.Fatalf("the next rulebook: version %v, %v; want effect-test-2", rb, err)
		}
		return transfer.Changes{Rulebook: rb}
	}),
	refused("YAML that does not parse", "op", rulebookOf("schema: ["), "RULEBOOK_INVALID rulebook.parse"),
	refused("a rulebook with no rules", "op", rulebookOf("schema: 1\nversion: empty\n"), "RULEBOOK_INVALID rulebook.parse"),
	refused("by an issuer", "iss", rulebookOf(nextRulebook), "NOT_AUTHORIZED authorization.set_rulebook"),
	accepted("scheduled for a later date", "op", rulebookAt(nextRulebook, now.Add(time.Hour)), func(w *mapView) transfer.Changes {
		rb, err := eligibility.Parse([]byte(nextRulebook))
		if err != nil {
			w.tb.Fatalf("the next rulebook: %v", err)
		}
		return transfer.Changes{Scheduled: &transfer.ScheduledRulebook{Rulebook: rb, EffectiveAt: now.Add(time.Hour)}}
	}),
	refused("scheduled for the batch's own time", "op", rulebookAt(nextRulebook, now), "INVALID_INSTRUCTION set_rulebook.effective_at"),
	refused("scheduled in the past", "op", rulebookAt(nextRulebook, now.Add(-time.Second)), "INVALID_INSTRUCTION set_rulebook.effective_at"),
	refused("scheduled, but does not parse", "op", rulebookAt("schema: [", now.Add(time.Hour)), "RULEBOOK_INVALID rulebook.parse"),
}

func rulebookAt(yaml string, at time.Time) transfer.Instruction {
	ins := rulebookOf(yaml)
	ins.EffectiveAt = &at
	return ins
}
