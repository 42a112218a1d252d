package transfer_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

func withoutReference(ins transfer.Instruction) transfer.Instruction {
	ins.LegalReference = ""
	return ins
}

func frozenBy(owner string) func(*transfer.Party) {
	return func(p *transfer.Party) { p.FrozenBy = owner }
}

func closed(p *transfer.Party) { p.Closed = true }

// closeParty closes id, as a recover of it would.
func closeParty(id string) func(w *mapView) {
	return func(w *mapView) {
		p := w.parties[id]
		p.Closed = true
		w.parties[id] = p
	}
}

// heldREGBy is heldREG with the freeze's owner.
func heldREGBy(party, balance, frozen, owner string) write {
	h := holding(party, "REG", balance, frozen, lot(balance, ago(100)))
	h.FrozenBy = owner
	return holdings(h)
}

// ownFreeze makes owner the placer of acc-us's REG freeze and of frz's
// party freeze.
func ownFreeze(owner string) func(w *mapView) {
	return func(w *mapView) {
		h := w.holdings[holdingKey{"acc-us", "REG"}]
		h.FrozenBy = owner
		w.holdings[holdingKey{"acc-us", "REG"}] = h
		p := w.parties["frz"]
		p.FrozenBy = owner
		w.parties["frz"] = p
	}
}

func updateInstrumentOf(symbol, name, max string) transfer.Instruction {
	ins := transfer.Instruction{Type: transfer.TypeUpdateInstrument, Symbol: symbol, Name: name}
	if max != "" {
		ins.MaxSupply = amt(max)
	}
	return ins
}

func named(n string) func(*transfer.Instrument) {
	return func(in *transfer.Instrument) { in.Name = n }
}

var updateInstrumentCases = []effectCase{
	accepted("the issuer raises its authorized units", "iss", updateInstrumentOf("REG", "", "5000"),
		writes(instrumentAs("REG", maxSupply("5000")))),
	accepted("down to exactly what is issued", "op", updateInstrumentOf("REG", "", "105"),
		writes(instrumentAs("REG", maxSupply("105")))),
	accepted("a new name, and a first cap", "iss", updateInstrumentOf("LOCK", "Lock Corp", "1000"),
		writes(instrumentAs("LOCK", named("Lock Corp"), maxSupply("1000")))),
	refused("below what is issued", "iss", updateInstrumentOf("REG", "", "104.99"), "SUPPLY_CAP instrument.max_supply"),
	refused("finer than the decimals", "iss", updateInstrumentOf("LOCK", "", "1.5"), "BAD_AMOUNT amount.format"),
	refused("an instrument that does not exist", "op", updateInstrumentOf("NOPE", "x", ""), "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("another issuer's instrument", "iss-2", updateInstrumentOf("REG", "x", ""), "NOT_AUTHORIZED authorization.update_instrument"),
	refused("a custodian", "cus", updateInstrumentOf("REG", "x", ""), "NOT_AUTHORIZED authorization.update_instrument"),
}

func affiliateOf(party string, symbols ...string) transfer.Instruction {
	list := append([]string{}, symbols...)
	return transfer.Instruction{Type: transfer.TypeUpdateParty, PartyID: party, AffiliateOf: &list}
}

func affiliates(symbols ...string) func(*transfer.Party) {
	return func(p *transfer.Party) { p.AffiliateOf = symbols }
}

// makeAffiliate makes party an affiliate of REG's issuer, with earlier
// sales of REG.
func makeAffiliate(party string, sales ...transfer.Lot) func(w *mapView) {
	return func(w *mapView) {
		p := w.parties[party]
		p.AffiliateOf = []string{"REG"}
		w.parties[party] = p
		h := w.holdings[holdingKey{party, "REG"}]
		h.Sales = sales
		w.holdings[holdingKey{party, "REG"}] = h
	}
}

// soldREG is ret-us's REG holding after an affiliate's sale, with the sales
// on record.
func soldREG(balance string, sales ...transfer.Lot) transfer.Holding {
	h := oneLot("ret-us", "REG", balance, ago(100))
	h.Sales = sales
	return h
}

var affiliateCases = []effectCase{
	accepted("the operator names an affiliate", "op", affiliateOf("acc-us", "REG", "LOCK"),
		writes(partyAs("acc-us", affiliates("LOCK", "REG")))),
	accepted("the issuer names an affiliate of its own symbol", "iss", affiliateOf("ret-us", "REG"),
		writes(partyAs("ret-us", affiliates("REG")))),
	accepted("an empty list clears it", "op", affiliateOf("ret-us"), writes(partyAs("ret-us", affiliates()))).given(makeAffiliate("ret-us")),
	refused("an issuer for another's symbol", "iss-2", affiliateOf("ret-us", "REG"), "NOT_AUTHORIZED authorization.update_party"),
	refused("a custodian", "cus", affiliateOf("ret-us", "REG"), "NOT_AUTHORIZED authorization.update_party"),
	refused("a symbol that does not exist", "op", affiliateOf("ret-us", "NOPE"), "UNKNOWN_INSTRUMENT instrument.exists"),
}

// REG's outstanding units are 65 (105 issued, 40 in treasury): an
// affiliate may sell 0.65 in 90 days.
var affiliateTransferCases = []effectCase{
	accepted("an affiliate's sale within 1% of the outstanding starts a new period and is recorded", "ret-us",
		transferOf(leg("REG", "ret-us", "acc-de", "0.5")),
		writes(instrumentAs("REG", holders(5)), holdings(oneLot("acc-de", "REG", "0.5", now), soldREG("49.5", lot("0.5", now))))).
		given(makeAffiliate("ret-us")),
	refused("an affiliate's sale above 1% of the outstanding", "ret-us", transferOf(leg("REG", "ret-us", "acc-de", "0.66")),
		"VOLUME_LIMIT rule_144.volume_limit").given(makeAffiliate("ret-us")),
	refused("an affiliate's sales add up over 90 days", "ret-us", transferOf(leg("REG", "ret-us", "acc-de", "0.2")),
		"VOLUME_LIMIT rule_144.volume_limit").given(makeAffiliate("ret-us", lot("0.5", ago(89)))),
	accepted("sales older than 90 days no longer count", "ret-us", transferOf(leg("REG", "ret-us", "acc-de", "0.6")),
		writes(instrumentAs("REG", holders(5)), holdings(oneLot("acc-de", "REG", "0.6", now), soldREG("49.4", lot("0.6", now))))).
		given(makeAffiliate("ret-us", lot("0.5", ago(91)))),
	accepted("back to the issuer is not a sale the limit counts", "ret-us", transferOf(leg("REG", "ret-us", "iss", "10")),
		writes(holdings(oneLot("iss", "REG", "50", now), oneLot("ret-us", "REG", "40", ago(100))))).given(makeAffiliate("ret-us")),
	accepted("the issuer's treasury is no holder of record under 12(g)", "acc-us", transferOf(leg("LOCK", "acc-us", "acc-de", "1")),
		writes(instrumentAs("LOCK", holders(2000)), holdings(oneLot("acc-de", "LOCK", "1", ago(400)),
			holding("acc-us", "LOCK", "29", "0", lot("14", ago(400)), lot("15", ago(10)))))).
		given(func(w *mapView) { w.addHolders("LOCK", 1997); w.hold("iss", "LOCK", "5") }),
	accepted("to an affiliate, a new holding period", "acc-us", transferOf(leg("LOCK", "acc-us", "acc-de", "15")),
		writes(instrumentAs("LOCK", holders(2)), holdings(oneLot("acc-de", "LOCK", "15", now), oneLot("acc-us", "LOCK", "15", ago(10))))).
		given(func(w *mapView) { p := w.parties["acc-de"]; p.AffiliateOf = []string{"LOCK"}; w.parties["acc-de"] = p }),
}

func decideOf(typ transfer.Type, id string) transfer.Instruction {
	return transfer.Instruction{Type: typ, InstructionID: id}
}

func init() {
	// The ledger decides what it holds pending; Effect sees only the rest.
	effectTables[transfer.TypeApprove] = []effectCase{
		refused("nothing pending", "op", decideOf(transfer.TypeApprove, "x-1"), "INVALID_INSTRUCTION dual_control.pending"),
		refused("by an issuer", "iss", decideOf(transfer.TypeApprove, "x-1"), "NOT_AUTHORIZED authorization.approve"),
	}
	effectTables[transfer.TypeCancel] = []effectCase{
		refused("nothing pending", "iss", decideOf(transfer.TypeCancel, "x-1"), "INVALID_INSTRUCTION dual_control.pending"),
	}
	effectTables[transfer.TypeUpdateParty] = append(updatePartyCases, affiliateCases...)
	effectTables[transfer.TypeTransfer] = append(transferCases, affiliateTransferCases...)
	effectTables[transfer.TypeUpdateInstrument] = updateInstrumentCases
	freezeCases = append(freezeCases,
		refused("more on a freeze another placed", "cus", freezeOf("acc-us", "REG", "1"), "NOT_AUTHORIZED freeze.owner").given(ownFreeze("iss")),
		accepted("more on a freeze another placed, by the operator, which keeps its owner", "op", freezeOf("acc-us", "REG", "1"),
			writes(heldREGBy("acc-us", "10", "5", "iss"))).given(ownFreeze("iss")),
	)
	unfreezeCases = append(unfreezeCases,
		refused("the issuer of cash lifts a custodian's freeze", "iss", unfreezeOf("acc-us", "REG", ""), "NOT_AUTHORIZED freeze.owner").given(ownFreeze("cus")),
		refused("the custodian lifts the issuer's freeze", "cus", unfreezeOf("acc-us", "REG", "1"), "NOT_AUTHORIZED freeze.owner").given(ownFreeze("iss")),
		refused("a party's freeze by another custodian's placer", "cus", unfreezeOf("frz", "", ""), "NOT_AUTHORIZED freeze.owner").given(ownFreeze("op")),
		accepted("its placer lifts it", "iss", unfreezeOf("acc-us", "REG", "1"), writes(heldREGBy("acc-us", "10", "3", "iss"))).given(ownFreeze("iss")),
		accepted("the operator lifts anyone's", "op", unfreezeOf("acc-us", "REG", ""), writes(heldREG("acc-us", "10", "0"))).given(ownFreeze("cus")),
		accepted("a party's, by its placer", "op", unfreezeOf("frz", "", ""), writes(partyAs("frz", frozen(false), frozenBy("")))).given(ownFreeze("op")),
	)
	effectTables[transfer.TypeFreeze] = freezeCases
	effectTables[transfer.TypeUnfreeze] = unfreezeCases
}

// Ensure that who may place and lift freezes, burn others' units and
// update instruments follows the roles: a role × instruction table, each
// cell decided by Authorize as the API does before proposing.
func TestBooksRoles(t *testing.T) {
	type cell struct {
		name  string
		actor string
		ins   transfer.Instruction
		setup func(w *mapView)
		ok    bool
	}
	burnRef := burnOf("REG", "ret-us", "1")
	cells := []cell{
		{"operator freezes", "op", freezeOf("ret-us", "", ""), nil, true},
		{"custodian freezes its investor", "cus", freezeOf("ret-us", "", ""), nil, true},
		{"other custodian freezes", "cus-2", freezeOf("ret-us", "", ""), nil, false},
		{"issuer freezes its symbol", "iss", freezeOf("ret-us", "REG", ""), nil, true},
		{"issuer freezes a whole party", "iss", freezeOf("ret-us", "", ""), nil, false},
		{"investor freezes", "ret-us", freezeOf("ret-us", "", ""), nil, false},
		{"auditor-like oracle freezes", "orc", freezeOf("ret-us", "", ""), nil, false},
		{"placer lifts", "cus", unfreezeOf("acc-us", "REG", ""), ownFreeze("cus"), true},
		{"operator lifts another's", "op", unfreezeOf("acc-us", "REG", ""), ownFreeze("cus"), true},
		{"issuer lifts custodian's", "iss", unfreezeOf("acc-us", "REG", ""), ownFreeze("cus"), false},
		{"custodian lifts issuer's", "cus", unfreezeOf("acc-us", "REG", ""), ownFreeze("iss"), false},
		{"issuer burns with reference", "iss", burnRef, nil, true},
		{"issuer burns without reference", "iss", withoutReference(burnRef), nil, false},
		{"issuer burns its own", "iss", burnOf("REG", "iss", "1"), nil, true},
		{"custodian burns", "cus", burnRef, nil, false},
		{"investor burns", "ret-us", burnRef, nil, false},
		{"issuer updates its instrument", "iss", updateInstrumentOf("REG", "x", ""), nil, true},
		{"investor updates an instrument", "ret-us", updateInstrumentOf("REG", "x", ""), nil, false},
		{"closed party acts", "ret-us", transfer.Instruction{Type: transfer.TypeTransfer, Legs: []transfer.Leg{leg("USD", "ret-us", "acc-de", "1")}}, closeParty("ret-us"), false},
	}
	for _, c := range cells {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			if c.setup != nil {
				c.setup(w)
			}
			r := transfer.Authorize(w, c.actor, c.ins)
			if got := r == nil; got != c.ok {
				t.Errorf("Authorize(%s by %s) = %v, want allowed %v", c.ins.Type, c.actor, r, c.ok)
			}
			if r != nil && r.Code != eligibility.CodeNotAuthorized {
				t.Errorf("Authorize refused with %s, want NOT_AUTHORIZED", r.Code)
			}
		})
	}
}
