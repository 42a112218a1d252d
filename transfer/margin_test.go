package transfer_test

import (
	"github.com/tokenledger/tokenledger/transfer"
)

func closeOutOf(party, symbol, amount, lender string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeCloseOut, PartyID: party, Symbol: symbol, Amount: amt(amount), Lender: lender}
}

// marginCall puts bor in a margin call: 300 USD and 100 REG marked at 6
// (value 900) against a loan of 1,000: equity -100, requirement 300,
// maintenance 150.
func marginCall(w *mapView) {
	w.hold("bor", "REG", "100")
	w.loans[loanKey{"bor", "USD", "cus"}] = transfer.Loan{Party: "bor", Cash: "USD", Lender: "cus", Amount: dec("1000")}
	w.prices["REG"] = transfer.Price{Symbol: "REG", Price: dec("6"), Time: ago(1)}
}

// deepCall leaves bor 200 REG marked at 4 (value 800) and no cash against a
// loan of 700: equity 100, maintenance 200.
func deepCall(w *mapView) {
	w.hold("bor", "USD", "0")
	w.hold("bor", "REG", "200")
	w.loans[loanKey{"bor", "USD", "cus"}] = transfer.Loan{Party: "bor", Cash: "USD", Lender: "cus", Amount: dec("700")}
	w.prices["REG"] = transfer.Price{Symbol: "REG", Price: dec("4"), Time: ago(1)}
}

// retailUnderwater leaves ret-us 50 REG marked at 1 and no cash against a
// loan of 300: equity -250.
func retailUnderwater(w *mapView) {
	w.hold("ret-us", "USD", "0")
	w.loans[loanKey{"ret-us", "USD", "cus"}] = transfer.Loan{Party: "ret-us", Cash: "USD", Lender: "cus", Amount: dec("300")}
	w.prices["REG"] = transfer.Price{Symbol: "REG", Price: dec("1"), Time: ago(1)}
}

func writtenOff(ws ...transfer.WriteOff) write {
	return func(_ *mapView, c *transfer.Changes) { c.WrittenOff = append(c.WrittenOff, ws...) }
}

var closeOutCases = []effectCase{
	accepted("the lender takes units at their price against the loan", "cus", closeOutOf("bor", "REG", "50", ""),
		writes(instrumentAs("REG", holders(6)), holdings(oneLot("bor", "REG", "50", ago(100)), oneLot("cus", "REG", "50", now)),
			loans(loan("bor", "USD", "cus", "700")))).given(marginCall),
	accepted("the operator names the lender", "op", closeOutOf("bor", "REG", "50", "cus"),
		writes(instrumentAs("REG", holders(6)), holdings(oneLot("bor", "REG", "50", ago(100)), oneLot("cus", "REG", "50", now)),
			loans(loan("bor", "USD", "cus", "700")))).given(marginCall),
	accepted("a retail account left with nothing: the rest of the loan is written off", "cus", closeOutOf("ret-us", "REG", "50", ""),
		writes(instrumentAs("REG", nonAccredited(0)), holdings(holding("cus", "REG", "50", "0", lot("50", now)), holding("ret-us", "REG", "0", "0")),
			loans(loan("ret-us", "USD", "cus", "0")),
			writtenOff(transfer.WriteOff{Party: "ret-us", Lender: "cus", Cash: "USD", Amount: dec("250")}))).given(retailUnderwater),
	refused("an account not in a margin call", "cus", closeOutOf("bor", "USD", "10", ""), "NOT_IN_MARGIN_CALL close_out.margin_call"),
	refused("units worth more than the loan", "cus", closeOutOf("bor", "REG", "200", ""), "CLOSE_OUT_EXCEEDS_LOAN close_out.loan").given(deepCall),
	refused("more units than the party holds", "cus", closeOutOf("bor", "REG", "101", ""), "INSUFFICIENT_BALANCE account.balance").given(marginCall),
	refused("a paused instrument", "cus", closeOutOf("bor", "REG", "50", ""), "INSTRUMENT_PAUSED instrument.paused").
		given(func(w *mapView) { marginCall(w); w.pause("REG") }),
	refused("by a custodian that lent nothing", "cus-2", closeOutOf("bor", "REG", "50", ""), "NO_LOAN close_out.loan").given(marginCall),
	refused("the operator names no lender", "op", closeOutOf("bor", "REG", "50", ""), "NOT_AUTHORIZED authorization.close_out"),
	refused("by an investor", "acc-us", closeOutOf("bor", "REG", "50", ""), "NOT_AUTHORIZED authorization.close_out"),
}
