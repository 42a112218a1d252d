package transfer_test

import (
	"github.com/tokenledger/tokenledger/transfer"
)

// The tables of the instructions that move holdings between parties, or
// hold them in place. The fixture is newWorld's.

func transferOf(legs ...transfer.Leg) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeTransfer, Legs: legs}
}

// transferCases ends with the rows it shares with forceTransferCases.
var transferCases = append([]effectCase{
	accepted("one leg to a new holder", "ret-us", transferOf(leg("REG", "ret-us", "acc-de", "10")),
		writes(instrumentAs("REG", holders(5)), holdings(oneLot("acc-de", "REG", "10", ago(100)), oneLot("ret-us", "REG", "40", ago(100))))),
	accepted("a custodian moves its investor's whole balance", "cus", transferOf(leg("REG", "ret-us", "acc-us", "50")),
		writes(instrumentAs("REG", holders(3), nonAccredited(0)),
			holdings(holding("acc-us", "REG", "60", "4", lot("60", ago(100))), holding("ret-us", "REG", "0", "0")))),
	accepted("exactly the unfrozen part", "acc-us", transferOf(leg("REG", "acc-us", "acc-de", "6")),
		writes(instrumentAs("REG", holders(5)), holdings(oneLot("acc-de", "REG", "6", ago(100)), holding("acc-us", "REG", "4", "4", lot("4", ago(100)))))),
	accepted("delivery versus payment", "cus", transferOf(leg("REG", "ret-us", "acc-de", "10"), leg("USD", "acc-de", "ret-us", "100")),
		writes(instrumentAs("REG", holders(5)), holdings(oneLot("acc-de", "REG", "10", ago(100)), oneLot("acc-de", "USD", "100", ago(100)),
			oneLot("ret-us", "REG", "40", ago(100)), oneLot("ret-us", "USD", "200", ago(100))))),
	accepted("a later leg spends what an earlier leg received", "cus",
		transferOf(leg("REG", "ret-us", "acc-de", "10"), leg("REG", "acc-de", "acc-us", "10")),
		writes(instrumentAs("REG"), holdings(holding("acc-de", "REG", "0", "0"), holding("acc-us", "REG", "20", "4", lot("20", ago(100))),
			oneLot("ret-us", "REG", "40", ago(100))))),
	accepted("a holder whose KYC lapsed may send back to the issuer", "lapsed", transferOf(leg("REG", "lapsed", "iss", "5")),
		writes(instrumentAs("REG", holders(3)), holdings(oneLot("iss", "REG", "45", now), holding("lapsed", "REG", "0", "0")))),
	accepted("lots past their lock-up move, the rest keep their date", "acc-us", transferOf(leg("LOCK", "acc-us", "acc-de", "15")),
		writes(instrumentAs("LOCK", holders(2)), holdings(oneLot("acc-de", "LOCK", "15", ago(400)), oneLot("acc-us", "LOCK", "15", ago(10))))),
	refused("into the frozen part", "acc-us", transferOf(leg("REG", "acc-us", "acc-de", "6.01")), "ACCOUNT_FROZEN account.frozen_amount"),
	refused("to a frozen party", "ret-us", transferOf(leg("REG", "ret-us", "frz", "1")), "ACCOUNT_FROZEN account.frozen"),
	refused("a sender whose KYC lapsed", "lapsed", transferOf(leg("REG", "lapsed", "acc-us", "1")), "KYC_EXPIRED kyc"),
	refused("a lot inside its lock-up", "acc-us", transferOf(leg("LOCK", "acc-us", "acc-de", "16")), "LOCKUP_ACTIVE rule_144.holding_period"),
	refused("a new holder beyond the 12(g) holder limit", "acc-us", transferOf(leg("LOCK", "acc-us", "acc-de", "1")),
		"HOLDER_LIMIT section_12g").given(func(w *mapView) { w.addHolders("LOCK", 1998) }),
	refused("equity below the loan's requirement", "bor", transferOf(leg("USD", "bor", "acc-de", "290")), "LEVERAGE_EXCEEDED account_leverage"),
	refused("one refused leg refuses them all", "cus", transferOf(leg("REG", "ret-us", "acc-de", "10"), leg("USD", "acc-de", "ret-us", "200.01")),
		"INSUFFICIENT_BALANCE account.balance"),
	refused("every leg's reasons, by precedence", "cus", transferOf(leg("REG", "ret-us", "acc-de", "50.01"), leg("USD", "acc-de", "frz", "1")),
		"ACCOUNT_FROZEN account.frozen", "INSUFFICIENT_BALANCE account.balance"),
	refused("finer than the decimals", "ret-us", transferOf(leg("REG", "ret-us", "acc-de", "0.001")), "BAD_AMOUNT amount.format"),
	refused("an instrument and a receiver that do not exist", "ret-us", transferOf(leg("NOPE", "ret-us", "ghost", "1")),
		"UNKNOWN_PARTY party.exists", "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("someone else's holding", "acc-de", transferOf(leg("REG", "ret-us", "acc-de", "1")), "NOT_AUTHORIZED authorization.transfer"),
	refused("another custodian's investor", "cus-2", transferOf(leg("REG", "ret-us", "acc-de", "1")), "NOT_AUTHORIZED authorization.transfer"),
}, refusedEvenForced(transferOf, theHolder)...)

func forceTransferOf(legs ...transfer.Leg) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeForceTransfer, Legs: legs, LegalReference: "court order 7"}
}

// refusedEvenForced are the rows a force transfer refuses as a transfer
// does: the operator's order overrides a lock-up and a sender's lapsed KYC,
// not a missing balance, a frozen sender, a pause or an ineligible receiver.
func refusedEvenForced(of func(legs ...transfer.Leg) transfer.Instruction, actor func(from string) string) []effectCase {
	take := func(symbol, from, amount string) transfer.Instruction { return of(leg(symbol, from, "acc-de", amount)) }
	return append(refusedTaking(take, actor),
		refused("a receiver whose KYC lapsed", actor("ret-us"), of(leg("REG", "ret-us", "lapsed", "1")), "KYC_EXPIRED kyc"),
		refused("a retail receiver of a Reg D 506(c) offering", actor("acc-us"), of(leg("LOCK", "acc-us", "ret-us", "5")),
			"INVESTOR_NOT_ELIGIBLE reg_d_506c.receive"))
}

var forceTransferCases = append([]effectCase{
	accepted("lots inside their lock-up", "op", forceTransferOf(leg("LOCK", "acc-us", "acc-de", "20")),
		writes(instrumentAs("LOCK", holders(2)), holdings(holding("acc-de", "LOCK", "20", "0", lot("15", ago(400)), lot("5", ago(10))),
			oneLot("acc-us", "LOCK", "10", ago(10))))),
	accepted("from a holder whose KYC lapsed", "op", forceTransferOf(leg("REG", "lapsed", "acc-us", "5")),
		writes(instrumentAs("REG", holders(3)), holdings(holding("acc-us", "REG", "15", "4", lot("15", ago(100))), holding("lapsed", "REG", "0", "0")))),
	refused("the frozen part", "op", forceTransferOf(leg("REG", "acc-us", "acc-de", "7")), "ACCOUNT_FROZEN account.frozen_amount"),
	refused("by the issuer", "iss", forceTransferOf(leg("REG", "ret-us", "acc-de", "1")), "NOT_AUTHORIZED authorization.force_transfer"),
}, refusedEvenForced(forceTransferOf, always("op"))...)

// freezeOf and unfreezeOf act on a whole party (no symbol), a whole holding
// (no amount), or an amount of one.
func freezeOf(party, symbol, amount string) transfer.Instruction {
	return holdInPlace(transfer.TypeFreeze, party, symbol, amount)
}

func unfreezeOf(party, symbol, amount string) transfer.Instruction {
	return holdInPlace(transfer.TypeUnfreeze, party, symbol, amount)
}

func holdInPlace(typ transfer.Type, party, symbol, amount string) transfer.Instruction {
	ins := transfer.Instruction{Type: typ, PartyID: party, Symbol: symbol}
	if amount != "" {
		ins.Amount = amt(amount)
	}
	return ins
}

// heldREG is party's REG holding, one lot acquired 100 days ago, with frozen
// of it frozen.
func heldREG(party, balance, frozen string) write {
	return holdings(holding(party, "REG", balance, frozen, lot(balance, ago(100))))
}

// freeze and unfreeze mirror each other, so their rows share a table, each
// act beside its inverse where both have one; byType deals them out.
var freezeCases, unfreezeCases = byType(freezingCases, transfer.TypeFreeze), byType(freezingCases, transfer.TypeUnfreeze)

var freezingCases = []effectCase{
	accepted("a whole party", "cus", freezeOf("ret-us", "", ""), writes(partyAs("ret-us", frozen(true), frozenBy("cus")))),
	accepted("a whole party", "cus", unfreezeOf("frz", "", ""), writes(partyAs("frz", frozen(false)))),
	accepted("a whole holding", "cus", freezeOf("ret-us", "REG", ""), writes(heldREGBy("ret-us", "50", "50", "cus"))),
	accepted("a whole holding", "cus", unfreezeOf("acc-us", "REG", ""), writes(heldREG("acc-us", "10", "0"))),
	accepted("an amount, by the issuer of the symbol", "iss", freezeOf("ret-us", "REG", "20"), writes(heldREGBy("ret-us", "50", "20", "iss"))),
	accepted("an amount, by the issuer of the symbol", "iss", unfreezeOf("acc-us", "REG", "3"), writes(heldREG("acc-us", "10", "1"))),
	accepted("more, up to the balance", "op", freezeOf("acc-us", "REG", "6"), writes(heldREG("acc-us", "10", "10"))),
	accepted("all that is frozen, by amount", "op", unfreezeOf("acc-us", "REG", "4"), writes(heldREG("acc-us", "10", "0"))),
	refused("more than is unfrozen", "op", freezeOf("acc-us", "REG", "6.01"), "INSUFFICIENT_BALANCE account.balance"),
	refused("more than is frozen", "op", unfreezeOf("acc-us", "REG", "4.01"), "INVALID_INSTRUCTION account.unfreeze"),
	refused("a party not registered", "op", freezeOf("ghost", "", ""), "UNKNOWN_PARTY party.exists"),
	refused("a party not registered", "op", unfreezeOf("ghost", "", ""), "UNKNOWN_PARTY party.exists"),
	refused("finer than the decimals", "op", freezeOf("acc-us", "LOCK", "0.5"), "BAD_AMOUNT amount.format"),
	refused("an instrument that does not exist", "op", freezeOf("ret-us", "NOPE", ""), "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("the issuer, a whole party", "iss", freezeOf("ret-us", "", ""), "NOT_AUTHORIZED authorization.freeze"),
	refused("another issuer's symbol", "iss-2", freezeOf("ret-us", "REG", ""), "NOT_AUTHORIZED authorization.freeze"),
	refused("another custodian's investor", "cus-2", unfreezeOf("frz", "", ""), "NOT_AUTHORIZED authorization.unfreeze"),
}

func byType(cases []effectCase, typ transfer.Type) []effectCase {
	var out []effectCase
	for _, c := range cases {
		if c.ins.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

func recoverOf(from, to string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeRecover, From: from, To: to}
}

// unfreezeAccUS lets acc-us's holdings be recovered.
func unfreezeAccUS(w *mapView) { w.freezeAmount("acc-us", "REG", "0") }

func loan(party, cash, lender, amount string) transfer.Loan {
	return transfer.Loan{Party: party, Cash: cash, Lender: lender, Amount: dec(amount)}
}

var recoverCases = []effectCase{
	accepted("every holding, keeping its acquisition date", "op", recoverOf("ret-us", "new"),
		writes(partyAs("ret-us", closed), instrumentAs("REG", nonAccredited(0)), instrumentAs("USD", nonAccredited(0)), holdings(oneLot("new", "REG", "50", ago(100)),
			oneLot("new", "USD", "100", ago(100)), holding("ret-us", "REG", "0", "0"), holding("ret-us", "USD", "0", "0")))),
	accepted("lots inside their lock-up move and stay inside it", "op", recoverOf("acc-us", "new"),
		writes(partyAs("acc-us", closed), instrumentAs("LOCK"), instrumentAs("REG"), holdings(holding("acc-us", "LOCK", "0", "0"), holding("acc-us", "REG", "0", "0"),
			holding("new", "LOCK", "30", "0", lot("15", ago(400)), lot("15", ago(10))), oneLot("new", "REG", "10", ago(100))))).given(unfreezeAccUS),
	accepted("a loan moves with the holdings", "op", recoverOf("bor", "new"),
		writes(partyAs("bor", closed), instrumentAs("USD"), holdings(holding("bor", "USD", "0", "0"), oneLot("new", "USD", "300", ago(100))),
			loans(loan("bor", "USD", "cus", "0"), loan("new", "USD", "cus", "100")))),
	refused("a loan moved onto holdings with no price", "op", recoverOf("bor", "acc-us"), "PRICE_UNAVAILABLE account_leverage"),
	accepted("from a party whose KYC lapsed", "op", recoverOf("lapsed", "new"),
		writes(partyAs("lapsed", closed), instrumentAs("REG"), holdings(holding("lapsed", "REG", "0", "0"), oneLot("new", "REG", "5", ago(100))))),
	accepted("a party holding nothing", "op", recoverOf("new", "acc-de"), writes(partyAs("new", closed))),
	refused("from a party already closed", "op", recoverOf("new", "acc-de"), "ACCOUNT_CLOSED account.closed").given(closeParty("new")),
	refused("to a closed party", "op", recoverOf("ret-us", "new"), "ACCOUNT_CLOSED account.closed").given(closeParty("new")),
	refused("from a frozen party", "op", recoverOf("frz", "new"), "ACCOUNT_FROZEN account.frozen"),
	refused("a frozen amount", "op", recoverOf("acc-us", "new"), "ACCOUNT_FROZEN account.frozen_amount"),
	refused("a holding of a paused instrument", "op", recoverOf("ret-us", "new"),
		"INSTRUMENT_PAUSED instrument.paused").given(func(w *mapView) { w.hold("ret-us", "PAUSED", "1") }),
	refused("to a receiver that may not hold one of the instruments", "op", recoverOf("acc-us", "ret-us"),
		"INVESTOR_NOT_ELIGIBLE reg_d_506c.receive").given(unfreezeAccUS),
	refused("between parties not registered", "op", recoverOf("ghost", "ghost-2"), "UNKNOWN_PARTY party.exists"),
	refused("by a custodian", "cus", recoverOf("ret-us", "new"), "NOT_AUTHORIZED authorization.recover"),
}

func loanOf(typ transfer.Type, party, cash, amount, lender string) transfer.Instruction {
	return transfer.Instruction{Type: typ, PartyID: party, CashSymbol: cash, Amount: amt(amount), Lender: lender}
}

var borrowCases = []effectCase{
	accepted("the custodian lends its investor cash", "cus", loanOf(transfer.TypeBorrow, "acc-de", "USD", "50", ""),
		writes(holdings(oneLot("acc-de", "USD", "250", now), oneLot("cus", "USD", "450", ago(100))), loans(loan("acc-de", "USD", "cus", "50")))),
	accepted("a loan grows", "cus", loanOf(transfer.TypeBorrow, "bor", "USD", "20", "cus"),
		writes(holdings(oneLot("bor", "USD", "320", now), oneLot("cus", "USD", "480", ago(100))), loans(loan("bor", "USD", "cus", "120")))),
	accepted("the operator names the lender", "op", loanOf(transfer.TypeBorrow, "acc-de", "USD", "10", "cus"),
		writes(holdings(oneLot("acc-de", "USD", "210", now), oneLot("cus", "USD", "490", ago(100))), loans(loan("acc-de", "USD", "cus", "10")))),
	refused("a borrower holding an instrument with no price", "cus", loanOf(transfer.TypeBorrow, "acc-us", "USD", "10", ""),
		"PRICE_UNAVAILABLE account_leverage"),
	refused("more than the lender holds", "cus", loanOf(transfer.TypeBorrow, "acc-de", "USD", "500.01", ""), "INSUFFICIENT_BALANCE account.balance"),
	refused("in an instrument that is not cash", "cus", loanOf(transfer.TypeBorrow, "acc-de", "REG", "1", ""), "INVALID_INSTRUCTION loan.cash"),
	refused("from a lender that is not a custodian", "op", loanOf(transfer.TypeBorrow, "acc-de", "USD", "1", "iss"), "INVALID_INSTRUCTION loan.lender"),
	refused("the cash paused", "cus", loanOf(transfer.TypeBorrow, "acc-de", "USD", "1", ""),
		"INSTRUMENT_PAUSED instrument.paused").given(func(w *mapView) { w.pause("USD") }),
	refused("finer than the cash's decimals", "cus", loanOf(transfer.TypeBorrow, "acc-de", "USD", "0.001", ""), "BAD_AMOUNT amount.format"),
	refused("a frozen borrower", "cus", loanOf(transfer.TypeBorrow, "frz", "USD", "1", ""), "ACCOUNT_FROZEN account.frozen"),
	refused("a borrower whose KYC lapsed", "cus", loanOf(transfer.TypeBorrow, "lapsed", "USD", "1", ""), "KYC_EXPIRED kyc"),
	refused("a borrower and cash that do not exist", "op", loanOf(transfer.TypeBorrow, "ghost", "NOPE", "1", "cus"),
		"UNKNOWN_PARTY party.exists", "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("the operator names no lender", "op", loanOf(transfer.TypeBorrow, "acc-de", "USD", "1", ""), "NOT_AUTHORIZED authorization.borrow"),
	refused("another custodian's investor", "cus-2", loanOf(transfer.TypeBorrow, "acc-de", "USD", "1", ""), "NOT_AUTHORIZED authorization.borrow"),
}

var repayCases = []effectCase{
	accepted("part of a loan", "cus", loanOf(transfer.TypeRepay, "bor", "USD", "40", ""),
		writes(holdings(oneLot("bor", "USD", "260", ago(100)), oneLot("cus", "USD", "540", now)), loans(loan("bor", "USD", "cus", "60")))),
	accepted("the whole loan", "op", loanOf(transfer.TypeRepay, "bor", "USD", "100", "cus"),
		writes(holdings(oneLot("bor", "USD", "200", ago(100)), oneLot("cus", "USD", "600", now)), loans(loan("bor", "USD", "cus", "0")))),
	refused("more than is owed", "cus", loanOf(transfer.TypeRepay, "bor", "USD", "100.01", ""), "NO_LOAN loan.balance"),
	refused("no loan at all", "cus", loanOf(transfer.TypeRepay, "acc-de", "USD", "1", ""), "NO_LOAN loan.balance"),
	refused("to a lender that lent nothing", "op", loanOf(transfer.TypeRepay, "bor", "USD", "1", "cus-2"), "NO_LOAN loan.balance"),
	refused("more cash than the borrower holds", "cus", loanOf(transfer.TypeRepay, "bor", "USD", "80", ""),
		"INSUFFICIENT_BALANCE account.balance").given(func(w *mapView) { w.hold("bor", "USD", "50") }),
	refused("a frozen borrower", "cus", loanOf(transfer.TypeRepay, "bor", "USD", "1", ""),
		"ACCOUNT_FROZEN account.frozen").given(func(w *mapView) { w.freezeParty("bor") }),
	refused("the cash paused", "cus", loanOf(transfer.TypeRepay, "bor", "USD", "1", ""),
		"INSTRUMENT_PAUSED instrument.paused").given(func(w *mapView) { w.pause("USD") }),
	refused("in an instrument that is not cash", "cus", loanOf(transfer.TypeRepay, "bor", "REG", "1", ""), "INVALID_INSTRUCTION loan.cash"),
	refused("the operator names no lender", "op", loanOf(transfer.TypeRepay, "bor", "USD", "1", ""), "NOT_AUTHORIZED authorization.repay"),
}
