package transfer_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

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
	runEffect(t, "bogus", []effectCase{
		{name: "by the operator", actor: "op", ins: transfer.Instruction{Type: "bogus"},
			refused: []string{"INVALID_INSTRUCTION instruction.type"}},
		{name: "by an issuer", actor: "iss", ins: transfer.Instruction{Type: "bogus"},
			refused: []string{"NOT_AUTHORIZED authorization.bogus"}},
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

func leg(symbol, from, to, amount string) transfer.Leg {
	return transfer.Leg{Symbol: symbol, From: from, To: to, Amount: transfer.Amount(amount)}
}

// investorSpec is an investor of ret-us's kind, in custody of custodian.
func investorSpec(id, custodian string) *transfer.PartySpec {
	kyc := ago(-365)
	return &transfer.PartySpec{ID: id, Role: eligibility.RoleInvestor, Status: eligibility.StatusRetail,
		Jurisdiction: "FR", KYCExpiresAt: &kyc, Custodian: custodian}
}

var registerPartyCases = []effectCase{
	{
		name: "operator registers an issuer", actor: "op",
		ins: transfer.Instruction{Type: transfer.TypeRegisterParty, Party: &transfer.PartySpec{ID: "iss-3", Role: eligibility.RoleIssuer}},
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Parties: []transfer.Party{{ID: "iss-3", Role: eligibility.RoleIssuer, CreatedAt: now}}}
		},
	},
	{
		name: "custodian registers an investor in its custody", actor: "cus",
		ins: transfer.Instruction{Type: transfer.TypeRegisterParty, Party: investorSpec("ret-fr", "cus")},
		want: func(w *mapView) transfer.Changes {
			kyc := ago(-365)
			return transfer.Changes{Parties: []transfer.Party{{ID: "ret-fr", Role: eligibility.RoleInvestor,
				Status: eligibility.StatusRetail, Jurisdiction: "FR", KYCExpiresAt: &kyc, Custodian: "cus", CreatedAt: now}}}
		},
	},
	{
		name: "operator registers an investor for a custodian", actor: "op",
		ins: transfer.Instruction{Type: transfer.TypeRegisterParty, Party: investorSpec("ret-fr", "cus-2")},
		want: func(w *mapView) transfer.Changes {
			kyc := ago(-365)
			return transfer.Changes{Parties: []transfer.Party{{ID: "ret-fr", Role: eligibility.RoleInvestor,
				Status: eligibility.StatusRetail, Jurisdiction: "FR", KYCExpiresAt: &kyc, Custodian: "cus-2", CreatedAt: now}}}
		},
	},
	{
		name: "an id already registered", actor: "cus",
		ins:     transfer.Instruction{Type: transfer.TypeRegisterParty, Party: investorSpec("acc-us", "cus")},
		refused: []string{"ALREADY_EXISTS party.unique"},
	},
	{
		name: "a custodian not registered", actor: "op",
		ins:     transfer.Instruction{Type: transfer.TypeRegisterParty, Party: investorSpec("ret-fr", "ghost")},
		refused: []string{"UNKNOWN_PARTY party.exists"},
	},
	{
		name: "a custodian that is an issuer", actor: "op",
		ins:     transfer.Instruction{Type: transfer.TypeRegisterParty, Party: investorSpec("ret-fr", "iss")},
		refused: []string{"INVALID_INSTRUCTION party.custodian"},
	},
	{
		name: "custodian registers another custodian's investor", actor: "cus-2",
		ins:     transfer.Instruction{Type: transfer.TypeRegisterParty, Party: investorSpec("ret-fr", "cus")},
		refused: []string{"NOT_AUTHORIZED authorization.register_party"},
	},
	{
		name: "custodian registers an issuer", actor: "cus",
		ins:     transfer.Instruction{Type: transfer.TypeRegisterParty, Party: &transfer.PartySpec{ID: "iss-3", Role: eligibility.RoleIssuer}},
		refused: []string{"NOT_AUTHORIZED authorization.register_party"},
	},
	{
		name: "an actor not registered", actor: "ghost",
		ins:     transfer.Instruction{Type: transfer.TypeRegisterParty, Party: &transfer.PartySpec{ID: "iss-3", Role: eligibility.RoleIssuer}},
		refused: []string{"NOT_AUTHORIZED authorization.register_party"},
	},
}

var updatePartyCases = []effectCase{
	{
		name: "retail to accredited lowers the non-accredited counts of what it holds", actor: "cus",
		ins: transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: "ret-us", Status: new(eligibility.StatusAccredited)},
		want: func(w *mapView) transfer.Changes {
			p, reg, usd := w.party("ret-us"), w.instrument("REG"), w.instrument("USD")
			p.Status = eligibility.StatusAccredited
			reg.NonAccreditedHolders, usd.NonAccreditedHolders = 0, 0
			return transfer.Changes{Parties: []transfer.Party{p}, Instruments: []transfer.Instrument{reg, usd}}
		},
	},
	{
		name: "accredited to retail raises them", actor: "cus",
		ins: transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: "acc-us", Status: new(eligibility.StatusRetail)},
		want: func(w *mapView) transfer.Changes {
			p, lock, reg := w.party("acc-us"), w.instrument("LOCK"), w.instrument("REG")
			p.Status = eligibility.StatusRetail
			lock.NonAccreditedHolders, reg.NonAccreditedHolders = 1, 2
			return transfer.Changes{Parties: []transfer.Party{p}, Instruments: []transfer.Instrument{lock, reg}}
		},
	},
	{
		name: "accredited to qualified purchaser leaves the counts", actor: "op",
		ins: transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: "acc-us", Status: new(eligibility.StatusQualifiedPurchaser)},
		want: func(w *mapView) transfer.Changes {
			p := w.party("acc-us")
			p.Status = eligibility.StatusQualifiedPurchaser
			return transfer.Changes{Parties: []transfer.Party{p}}
		},
	},
	{
		name: "jurisdiction and KYC", actor: "cus",
		ins: transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: "lapsed", Jurisdiction: new("CA"), KYCExpiresAt: new(ago(-30))},
		want: func(w *mapView) transfer.Changes {
			p := w.party("lapsed")
			kyc := ago(-30)
			p.Jurisdiction, p.KYCExpiresAt = "CA", &kyc
			return transfer.Changes{Parties: []transfer.Party{p}}
		},
	},
	{
		name: "a party not registered", actor: "op",
		ins:     transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: "ghost", Jurisdiction: new("CA")},
		refused: []string{"UNKNOWN_PARTY party.exists"},
	},
	{
		name: "a party that is not an investor", actor: "op",
		ins:     transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: "iss", Jurisdiction: new("CA")},
		refused: []string{"INVALID_INSTRUCTION party.update"},
	},
	{
		name: "another custodian's investor", actor: "cus-2",
		ins:     transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: "ret-us", Jurisdiction: new("CA")},
		refused: []string{"NOT_AUTHORIZED authorization.update_party"},
	},
}

// instrumentSpec is a new instrument NEW of iss with 2 decimals.
func instrumentSpec(regime string, attrs transfer.AttributesSpec) *transfer.InstrumentSpec {
	return &transfer.InstrumentSpec{Symbol: "NEW", Name: "New Co", Issuer: "iss", Decimals: 2, Regime: regime, Attributes: attrs}
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
	withMaxSupply = func() *transfer.InstrumentSpec {
		s := instrumentSpec("registered", equitySpec)
		s.MaxSupply = amt("500")
		return s
	}()
	offeredEarlier = func() *transfer.InstrumentSpec {
		s := instrumentSpec("registered", equitySpec)
		s.OfferingDate = new(ago(30))
		return s
	}()
	leveraged = instrumentSpec("cftc", transfer.AttributesSpec{Underlying: eligibility.UnderlyingCommodity,
		Payoff: eligibility.PayoffLinear, EmbeddedLeverage: amt("5"), EconomicPurpose: eligibility.PurposeHedging})
)

var createInstrumentCases = []effectCase{
	{
		name: "registered equity with a max supply", actor: "iss",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: withMaxSupply},
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Instruments: []transfer.Instrument{created(withMaxSupply, equity, eligibility.ClassSecurity, eligibility.RegulatorSEC)}}
		},
	},
	{
		name: "an offering date in the past is kept", actor: "op",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: offeredEarlier},
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Instruments: []transfer.Instrument{created(offeredEarlier, equity, eligibility.ClassSecurity, eligibility.RegulatorSEC)}}
		},
	},
	{
		name: "a leveraged commodity is a derivative", actor: "iss",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: leveraged},
		want: func(w *mapView) transfer.Changes {
			attrs := eligibility.Attributes{Underlying: eligibility.UnderlyingCommodity, Payoff: eligibility.PayoffLinear,
				EmbeddedLeverage: dec("5"), EconomicPurpose: eligibility.PurposeHedging}
			return transfer.Changes{Instruments: []transfer.Instrument{created(leveraged, attrs, eligibility.ClassDerivative, eligibility.RegulatorCFTC)}}
		},
	},
	{
		name: "a symbol in use", actor: "iss",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: func() *transfer.InstrumentSpec {
			s := instrumentSpec("registered", equitySpec)
			s.Symbol = "REG"
			return s
		}()},
		refused: []string{"ALREADY_EXISTS instrument.unique"},
	},
	{
		name: "an issuer not registered", actor: "op",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: func() *transfer.InstrumentSpec {
			s := instrumentSpec("registered", equitySpec)
			s.Issuer = "ghost"
			return s
		}()},
		refused: []string{"UNKNOWN_PARTY party.exists"},
	},
	{
		name: "an issuer that is a custodian", actor: "op",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: func() *transfer.InstrumentSpec {
			s := instrumentSpec("registered", equitySpec)
			s.Issuer = "cus"
			return s
		}()},
		refused: []string{"INVALID_INSTRUCTION instrument.issuer"},
	},
	{
		name: "embedded leverage below 1", actor: "iss",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: instrumentSpec("cftc", transfer.AttributesSpec{
			Underlying: eligibility.UnderlyingCommodity, EmbeddedLeverage: amt("0.5")})},
		refused: []string{"INVALID_INSTRUCTION instrument.attributes"},
	},
	{
		name: "an offering date in the future", actor: "iss",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: func() *transfer.InstrumentSpec {
			s := instrumentSpec("registered", equitySpec)
			s.OfferingDate = new(ago(-1))
			return s
		}()},
		refused: []string{"INVALID_INSTRUCTION instrument.offering_date"},
	},
	{
		name: "a max supply finer than the decimals", actor: "iss",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: func() *transfer.InstrumentSpec {
			s := instrumentSpec("registered", equitySpec)
			s.Decimals, s.MaxSupply = 0, amt("10.5")
			return s
		}()},
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "a regime the rulebook does not define", actor: "iss",
		ins:     transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: instrumentSpec("reg_x", equitySpec)},
		refused: []string{"INVALID_INSTRUCTION regime"},
	},
	{
		name: "a class the regime does not admit", actor: "iss",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: instrumentSpec("registered", transfer.AttributesSpec{
			Underlying: eligibility.UnderlyingCash, EconomicPurpose: eligibility.PurposePayment})},
		refused: []string{"INVALID_INSTRUCTION registered.classes"},
	},
	{
		name: "a prohibited event topic", actor: "iss",
		ins: transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: instrumentSpec("cftc", transfer.AttributesSpec{
			Underlying: eligibility.UnderlyingEvent, Payoff: eligibility.PayoffBinary, EventTopic: "war"})},
		refused: []string{"GAMING_PRODUCT prohibited_topic"},
	},
	{
		name: "an issuer creating for another", actor: "iss-2",
		ins:     transfer.Instruction{Type: transfer.TypeCreateInstrument, Instrument: instrumentSpec("registered", equitySpec)},
		refused: []string{"NOT_AUTHORIZED authorization.create_instrument"},
	},
}

var pauseCases = []effectCase{
	{
		name: "an instrument", actor: "iss",
		ins: transfer.Instruction{Type: transfer.TypePause, Symbol: "REG"},
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.Paused = true
			return transfer.Changes{Instruments: []transfer.Instrument{reg}}
		},
	},
	{
		name: "an instrument already paused", actor: "op",
		ins: transfer.Instruction{Type: transfer.TypePause, Symbol: "PAUSED"},
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Instruments: []transfer.Instrument{w.instrument("PAUSED")}}
		},
	},
	{
		name: "an instrument that does not exist", actor: "op",
		ins:     transfer.Instruction{Type: transfer.TypePause, Symbol: "NOPE"},
		refused: []string{"UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "another issuer's instrument", actor: "iss-2",
		ins:     transfer.Instruction{Type: transfer.TypePause, Symbol: "REG"},
		refused: []string{"NOT_AUTHORIZED authorization.pause"},
	},
}

var unpauseCases = []effectCase{
	{
		name: "a paused instrument", actor: "iss",
		ins: transfer.Instruction{Type: transfer.TypeUnpause, Symbol: "PAUSED"},
		want: func(w *mapView) transfer.Changes {
			p := w.instrument("PAUSED")
			p.Paused = false
			return transfer.Changes{Instruments: []transfer.Instrument{p}}
		},
	},
	{
		name: "an instrument not paused", actor: "op",
		ins: transfer.Instruction{Type: transfer.TypeUnpause, Symbol: "REG"},
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Instruments: []transfer.Instrument{w.instrument("REG")}}
		},
	},
	{
		name: "an instrument that does not exist", actor: "op",
		ins:     transfer.Instruction{Type: transfer.TypeUnpause, Symbol: "NOPE"},
		refused: []string{"UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "by a custodian", actor: "cus",
		ins:     transfer.Instruction{Type: transfer.TypeUnpause, Symbol: "PAUSED"},
		refused: []string{"NOT_AUTHORIZED authorization.unpause"},
	},
}

var setPriceCases = []effectCase{
	{
		name: "by the oracle", actor: "orc",
		ins: transfer.Instruction{Type: transfer.TypeSetPrice, Symbol: "REG", Price: amt("12.5")},
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Prices: []transfer.Price{{Symbol: "REG", Price: dec("12.5"), Time: now}}}
		},
	},
	{
		name: "eighteen fraction digits, by the operator", actor: "op",
		ins: transfer.Instruction{Type: transfer.TypeSetPrice, Symbol: "LOCK", Price: amt("0.000000000000000001")},
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Prices: []transfer.Price{{Symbol: "LOCK", Price: dec("0.000000000000000001"), Time: now}}}
		},
	},
	{
		name: "nineteen fraction digits", actor: "orc",
		ins:     transfer.Instruction{Type: transfer.TypeSetPrice, Symbol: "REG", Price: amt("0.0000000000000000001")},
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "zero", actor: "orc",
		ins:     transfer.Instruction{Type: transfer.TypeSetPrice, Symbol: "REG", Price: amt("0")},
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "cash", actor: "orc",
		ins:     transfer.Instruction{Type: transfer.TypeSetPrice, Symbol: "USD", Price: amt("1")},
		refused: []string{"INVALID_INSTRUCTION price.cash"},
	},
	{
		name: "an instrument that does not exist", actor: "orc",
		ins:     transfer.Instruction{Type: transfer.TypeSetPrice, Symbol: "NOPE", Price: amt("1")},
		refused: []string{"UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "by an investor", actor: "ret-us",
		ins:     transfer.Instruction{Type: transfer.TypeSetPrice, Symbol: "REG", Price: amt("1")},
		refused: []string{"NOT_AUTHORIZED authorization.set_price"},
	},
}

// nextRulebook is the default rulebook under another version.
var nextRulebook = string(bytes.Replace(eligibility.Default().YAML(),
	[]byte(`version: "2026-11-default-1"`), []byte(`version: "effect-test-2"`), 1))

var setRulebookCases = []effectCase{
	{
		name: "a rulebook that parses", actor: "op",
		ins: transfer.Instruction{Type: transfer.TypeSetRulebook, Rulebook: nextRulebook},
		want: func(w *mapView) transfer.Changes {
			rb, err := eligibility.Parse([]byte(nextRulebook))
			if err != nil || rb.Version() != "effect-test-2" {
				w.tb.Fatalf("the next rulebook: version %v, %v; want effect-test-2", rb, err)
			}
			return transfer.Changes{Rulebook: rb}
		},
	},
	{
		name: "YAML that does not parse", actor: "op",
		ins:     transfer.Instruction{Type: transfer.TypeSetRulebook, Rulebook: "schema: ["},
		refused: []string{"RULEBOOK_INVALID rulebook.parse"},
	},
	{
		name: "a rulebook with no rules", actor: "op",
		ins:     transfer.Instruction{Type: transfer.TypeSetRulebook, Rulebook: "schema: 1\nversion: empty\n"},
		refused: []string{"RULEBOOK_INVALID rulebook.parse"},
	},
	{
		name: "by an issuer", actor: "iss",
		ins:     transfer.Instruction{Type: transfer.TypeSetRulebook, Rulebook: nextRulebook},
		refused: []string{"NOT_AUTHORIZED authorization.set_rulebook"},
	},
}
