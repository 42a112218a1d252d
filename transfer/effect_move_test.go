package transfer_test

import (
	"github.com/tokenledger/tokenledger/transfer"
)

// The tables of the instructions that move holdings between parties, or
// hold them in place. The fixture is newWorld's.

func transferOf(legs ...transfer.Leg) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeTransfer, Legs: legs}
}

var transferCases = []effectCase{
	{
		name: "one leg to a new holder", actor: "ret-us",
		ins: transferOf(leg("REG", "ret-us", "acc-de", "10")),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.HolderCount = 5
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings: []transfer.Holding{
					holding("acc-de", "REG", "10", "0", lot("10", now)),
					holding("ret-us", "REG", "40", "0", lot("40", ago(100))),
				},
			}
		},
	},
	{
		name: "a custodian moves its investor's whole balance", actor: "cus",
		ins: transferOf(leg("REG", "ret-us", "acc-us", "50")),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.HolderCount, reg.NonAccreditedHolders = 3, 0
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings: []transfer.Holding{
					holding("acc-us", "REG", "60", "4", lot("60", now)),
					holding("ret-us", "REG", "0", "0"),
				},
			}
		},
	},
	{
		name: "exactly the unfrozen part", actor: "acc-us",
		ins: transferOf(leg("REG", "acc-us", "acc-de", "6")),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.HolderCount = 5
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings: []transfer.Holding{
					holding("acc-de", "REG", "6", "0", lot("6", now)),
					holding("acc-us", "REG", "4", "4", lot("4", ago(100))),
				},
			}
		},
	},
	{
		name: "delivery versus payment", actor: "cus",
		ins: transferOf(leg("REG", "ret-us", "acc-de", "10"), leg("USD", "acc-de", "ret-us", "100")),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.HolderCount = 5
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings: []transfer.Holding{
					holding("acc-de", "REG", "10", "0", lot("10", now)),
					holding("acc-de", "USD", "100", "0", lot("100", ago(100))),
					holding("ret-us", "REG", "40", "0", lot("40", ago(100))),
					holding("ret-us", "USD", "200", "0", lot("200", now)),
				},
			}
		},
	},
	{
		name: "a later leg spends what an earlier leg received", actor: "cus",
		ins: transferOf(leg("REG", "ret-us", "acc-de", "10"), leg("REG", "acc-de", "acc-us", "10")),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{
				Instruments: []transfer.Instrument{w.instrument("REG")},
				Holdings: []transfer.Holding{
					holding("acc-de", "REG", "0", "0"),
					holding("acc-us", "REG", "20", "4", lot("20", now)),
					holding("ret-us", "REG", "40", "0", lot("40", ago(100))),
				},
			}
		},
	},
	{
		name: "a holder whose KYC lapsed may send back to the issuer", actor: "lapsed",
		ins: transferOf(leg("REG", "lapsed", "iss", "5")),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.HolderCount = 3
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings: []transfer.Holding{
					holding("iss", "REG", "45", "0", lot("45", now)),
					holding("lapsed", "REG", "0", "0"),
				},
			}
		},
	},
	{
		name: "lots past their lock-up move, the rest keep their date", actor: "acc-us",
		ins: transferOf(leg("LOCK", "acc-us", "acc-de", "15")),
		want: func(w *mapView) transfer.Changes {
			lock := w.instrument("LOCK")
			lock.HolderCount = 2
			return transfer.Changes{
				Instruments: []transfer.Instrument{lock},
				Holdings: []transfer.Holding{
					holding("acc-de", "LOCK", "15", "0", lot("15", now)),
					holding("acc-us", "LOCK", "15", "0", lot("15", ago(10))),
				},
			}
		},
	},
	{
		name: "more than the balance", actor: "ret-us",
		ins:     transferOf(leg("REG", "ret-us", "acc-de", "50.01")),
		refused: []string{"INSUFFICIENT_BALANCE account.balance"},
	},
	{
		name: "into the frozen part", actor: "acc-us",
		ins:     transferOf(leg("REG", "acc-us", "acc-de", "6.01")),
		refused: []string{"ACCOUNT_FROZEN account.frozen_amount"},
	},
	{
		name: "from a frozen party", actor: "frz",
		ins:     transferOf(leg("USD", "frz", "acc-de", "1")),
		refused: []string{"ACCOUNT_FROZEN account.frozen"},
	},
	{
		name: "to a frozen party", actor: "ret-us",
		ins:     transferOf(leg("REG", "ret-us", "frz", "1")),
		refused: []string{"ACCOUNT_FROZEN account.frozen"},
	},
	{
		name: "paused", actor: "iss",
		ins:     transferOf(leg("PAUSED", "iss", "acc-de", "1")),
		refused: []string{"INSTRUMENT_PAUSED instrument.paused"},
	},
	{
		name: "a sender whose KYC lapsed", actor: "lapsed",
		ins:     transferOf(leg("REG", "lapsed", "acc-us", "1")),
		refused: []string{"KYC_EXPIRED kyc"},
	},
	{
		name: "a receiver whose KYC lapsed", actor: "ret-us",
		ins:     transferOf(leg("REG", "ret-us", "lapsed", "1")),
		refused: []string{"KYC_EXPIRED kyc"},
	},
	{
		name: "a retail receiver of a Reg D 506(c) offering", actor: "acc-us",
		ins:     transferOf(leg("LOCK", "acc-us", "ret-us", "5")),
		refused: []string{"INVESTOR_NOT_ELIGIBLE reg_d_506c.receive"},
	},
	{
		name: "a lot inside its lock-up", actor: "acc-us",
		ins:     transferOf(leg("LOCK", "acc-us", "acc-de", "16")),
		refused: []string{"LOCKUP_ACTIVE rule_144.holding_period"},
	},
	{
		name:  "a new holder beyond the 12(g) holder limit",
		setup: func(w *mapView) { w.addHolders("LOCK", 1998) },
		actor: "acc-us", ins: transferOf(leg("LOCK", "acc-us", "acc-de", "1")),
		refused: []string{"HOLDER_LIMIT section_12g"},
	},
	{
		name: "equity below the loan's requirement", actor: "bor",
		ins:     transferOf(leg("USD", "bor", "acc-de", "290")),
		refused: []string{"LEVERAGE_EXCEEDED account_leverage"},
	},
	{
		name: "one refused leg refuses them all", actor: "cus",
		ins:     transferOf(leg("REG", "ret-us", "acc-de", "10"), leg("USD", "acc-de", "ret-us", "200.01")),
		refused: []string{"INSUFFICIENT_BALANCE account.balance"},
	},
	{
		name: "every leg's reasons, by precedence", actor: "cus",
		ins:     transferOf(leg("REG", "ret-us", "acc-de", "50.01"), leg("USD", "acc-de", "frz", "1")),
		refused: []string{"ACCOUNT_FROZEN account.frozen", "INSUFFICIENT_BALANCE account.balance"},
	},
	{
		name: "finer than the decimals", actor: "ret-us",
		ins:     transferOf(leg("REG", "ret-us", "acc-de", "0.001")),
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "an instrument and a receiver that do not exist", actor: "ret-us",
		ins:     transferOf(leg("NOPE", "ret-us", "ghost", "1")),
		refused: []string{"UNKNOWN_PARTY party.exists", "UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "someone else's holding", actor: "acc-de",
		ins:     transferOf(leg("REG", "ret-us", "acc-de", "1")),
		refused: []string{"NOT_AUTHORIZED authorization.transfer"},
	},
	{
		name: "another custodian's investor", actor: "cus-2",
		ins:     transferOf(leg("REG", "ret-us", "acc-de", "1")),
		refused: []string{"NOT_AUTHORIZED authorization.transfer"},
	},
}

func forceTransferOf(legs ...transfer.Leg) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeForceTransfer, Legs: legs, LegalReference: "court order 7"}
}

var forceTransferCases = []effectCase{
	{
		name: "lots inside their lock-up", actor: "op",
		ins: forceTransferOf(leg("LOCK", "acc-us", "acc-de", "20")),
		want: func(w *mapView) transfer.Changes {
			lock := w.instrument("LOCK")
			lock.HolderCount = 2
			return transfer.Changes{
				Instruments: []transfer.Instrument{lock},
				Holdings: []transfer.Holding{
					holding("acc-de", "LOCK", "20", "0", lot("20", now)),
					holding("acc-us", "LOCK", "10", "0", lot("10", ago(10))),
				},
			}
		},
	},
	{
		name: "from a holder whose KYC lapsed", actor: "op",
		ins: forceTransferOf(leg("REG", "lapsed", "acc-us", "5")),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.HolderCount = 3
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings: []transfer.Holding{
					holding("acc-us", "REG", "15", "4", lot("15", now)),
					holding("lapsed", "REG", "0", "0"),
				},
			}
		},
	},
	{
		name: "from a frozen party", actor: "op",
		ins:     forceTransferOf(leg("USD", "frz", "acc-de", "1")),
		refused: []string{"ACCOUNT_FROZEN account.frozen"},
	},
	{
		name: "the frozen part", actor: "op",
		ins:     forceTransferOf(leg("REG", "acc-us", "acc-de", "7")),
		refused: []string{"ACCOUNT_FROZEN account.frozen_amount"},
	},
	{
		name: "a retail receiver of a Reg D 506(c) offering", actor: "op",
		ins:     forceTransferOf(leg("LOCK", "acc-us", "ret-us", "5")),
		refused: []string{"INVESTOR_NOT_ELIGIBLE reg_d_506c.receive"},
	},
	{
		name: "a receiver whose KYC lapsed", actor: "op",
		ins:     forceTransferOf(leg("REG", "ret-us", "lapsed", "1")),
		refused: []string{"KYC_EXPIRED kyc"},
	},
	{
		name: "more than the balance", actor: "op",
		ins:     forceTransferOf(leg("REG", "ret-us", "acc-de", "50.01")),
		refused: []string{"INSUFFICIENT_BALANCE account.balance"},
	},
	{
		name: "paused", actor: "op",
		ins:     forceTransferOf(leg("PAUSED", "iss", "acc-de", "1")),
		refused: []string{"INSTRUMENT_PAUSED instrument.paused"},
	},
	{
		name: "by the issuer", actor: "iss",
		ins:     forceTransferOf(leg("REG", "ret-us", "acc-de", "1")),
		refused: []string{"NOT_AUTHORIZED authorization.force_transfer"},
	},
}

func freezeOf(typ transfer.Type, party, symbol string, amount *transfer.Amount) transfer.Instruction {
	return transfer.Instruction{Type: typ, PartyID: party, Symbol: symbol, Amount: amount}
}

var freezeCases = []effectCase{
	{
		name: "a whole party", actor: "cus",
		ins: freezeOf(transfer.TypeFreeze, "ret-us", "", nil),
		want: func(w *mapView) transfer.Changes {
			p := w.party("ret-us")
			p.Frozen = true
			return transfer.Changes{Parties: []transfer.Party{p}}
		},
	},
	{
		name: "a whole holding", actor: "cus",
		ins: freezeOf(transfer.TypeFreeze, "ret-us", "REG", nil),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Holdings: []transfer.Holding{holding("ret-us", "REG", "50", "50", lot("50", ago(100)))}}
		},
	},
	{
		name: "an amount, by the issuer of the symbol", actor: "iss",
		ins: freezeOf(transfer.TypeFreeze, "ret-us", "REG", amt("20")),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Holdings: []transfer.Holding{holding("ret-us", "REG", "50", "20", lot("50", ago(100)))}}
		},
	},
	{
		name: "more, up to the balance", actor: "op",
		ins: freezeOf(transfer.TypeFreeze, "acc-us", "REG", amt("6")),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Holdings: []transfer.Holding{holding("acc-us", "REG", "10", "10", lot("10", ago(100)))}}
		},
	},
	{
		name: "more than is unfrozen", actor: "op",
		ins:     freezeOf(transfer.TypeFreeze, "acc-us", "REG", amt("6.01")),
		refused: []string{"INSUFFICIENT_BALANCE account.balance"},
	},
	{
		name: "finer than the decimals", actor: "op",
		ins:     freezeOf(transfer.TypeFreeze, "acc-us", "LOCK", amt("0.5")),
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "a party not registered", actor: "op",
		ins:     freezeOf(transfer.TypeFreeze, "ghost", "", nil),
		refused: []string{"UNKNOWN_PARTY party.exists"},
	},
	{
		name: "an instrument that does not exist", actor: "op",
		ins:     freezeOf(transfer.TypeFreeze, "ret-us", "NOPE", nil),
		refused: []string{"UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "the issuer, a whole party", actor: "iss",
		ins:     freezeOf(transfer.TypeFreeze, "ret-us", "", nil),
		refused: []string{"NOT_AUTHORIZED authorization.freeze"},
	},
	{
		name: "another issuer's symbol", actor: "iss-2",
		ins:     freezeOf(transfer.TypeFreeze, "ret-us", "REG", nil),
		refused: []string{"NOT_AUTHORIZED authorization.freeze"},
	},
}

var unfreezeCases = []effectCase{
	{
		name: "a whole party", actor: "cus",
		ins: freezeOf(transfer.TypeUnfreeze, "frz", "", nil),
		want: func(w *mapView) transfer.Changes {
			p := w.party("frz")
			p.Frozen = false
			return transfer.Changes{Parties: []transfer.Party{p}}
		},
	},
	{
		name: "a whole holding", actor: "cus",
		ins: freezeOf(transfer.TypeUnfreeze, "acc-us", "REG", nil),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Holdings: []transfer.Holding{holding("acc-us", "REG", "10", "0", lot("10", ago(100)))}}
		},
	},
	{
		name: "an amount, by the issuer of the symbol", actor: "iss",
		ins: freezeOf(transfer.TypeUnfreeze, "acc-us", "REG", amt("3")),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Holdings: []transfer.Holding{holding("acc-us", "REG", "10", "1", lot("10", ago(100)))}}
		},
	},
	{
		name: "all that is frozen, by amount", actor: "op",
		ins: freezeOf(transfer.TypeUnfreeze, "acc-us", "REG", amt("4")),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{Holdings: []transfer.Holding{holding("acc-us", "REG", "10", "0", lot("10", ago(100)))}}
		},
	},
	{
		name: "more than is frozen", actor: "op",
		ins:     freezeOf(transfer.TypeUnfreeze, "acc-us", "REG", amt("4.01")),
		refused: []string{"INVALID_INSTRUCTION account.unfreeze"},
	},
	{
		name: "a party not registered", actor: "op",
		ins:     freezeOf(transfer.TypeUnfreeze, "ghost", "", nil),
		refused: []string{"UNKNOWN_PARTY party.exists"},
	},
	{
		name: "another custodian's investor", actor: "cus-2",
		ins:     freezeOf(transfer.TypeUnfreeze, "frz", "", nil),
		refused: []string{"NOT_AUTHORIZED authorization.unfreeze"},
	},
}

func recoverOf(from, to string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeRecover, From: from, To: to}
}

// unfreezeAccUS lets acc-us's holdings be recovered.
func unfreezeAccUS(w *mapView) { w.freezeAmount("acc-us", "REG", "0") }

var recoverCases = []effectCase{
	{
		name: "every holding, keeping its acquisition date", actor: "op",
		ins: recoverOf("ret-us", "new"),
		want: func(w *mapView) transfer.Changes {
			reg, usd := w.instrument("REG"), w.instrument("USD")
			reg.NonAccreditedHolders, usd.NonAccreditedHolders = 0, 0
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg, usd},
				Holdings: []transfer.Holding{
					holding("new", "REG", "50", "0", lot("50", ago(100))),
					holding("new", "USD", "100", "0", lot("100", ago(100))),
					holding("ret-us", "REG", "0", "0"),
					holding("ret-us", "USD", "0", "0"),
				},
			}
		},
	},
	{
		name:  "lots inside their lock-up move and stay inside it",
		setup: unfreezeAccUS, actor: "op", ins: recoverOf("acc-us", "new"),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{
				Instruments: []transfer.Instrument{w.instrument("LOCK"), w.instrument("REG")},
				Holdings: []transfer.Holding{
					holding("acc-us", "LOCK", "0", "0"),
					holding("acc-us", "REG", "0", "0"),
					holding("new", "LOCK", "30", "0", lot("15", ago(400)), lot("15", ago(10))),
					holding("new", "REG", "10", "0", lot("10", ago(100))),
				},
			}
		},
	},
	{
		name: "a loan moves with the holdings", actor: "op",
		ins: recoverOf("bor", "new"),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{
				Instruments: []transfer.Instrument{w.instrument("USD")},
				Holdings: []transfer.Holding{
					holding("bor", "USD", "0", "0"),
					holding("new", "USD", "300", "0", lot("300", ago(100))),
				},
				Loans: []transfer.Loan{
					{Party: "bor", Cash: "USD", Lender: "cus", Amount: dec("0")},
					{Party: "new", Cash: "USD", Lender: "cus", Amount: dec("100")},
				},
			}
		},
	},
	{
		name: "a loan moved onto holdings with no price", actor: "op",
		ins:     recoverOf("bor", "acc-us"),
		refused: []string{"PRICE_UNAVAILABLE account_leverage"},
	},
	{
		name: "from a party whose KYC lapsed", actor: "op",
		ins: recoverOf("lapsed", "new"),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{
				Instruments: []transfer.Instrument{w.instrument("REG")},
				Holdings: []transfer.Holding{
					holding("lapsed", "REG", "0", "0"),
					holding("new", "REG", "5", "0", lot("5", ago(100))),
				},
			}
		},
	},
	{
		name: "a party holding nothing", actor: "op",
		ins:  recoverOf("new", "acc-de"),
		want: func(w *mapView) transfer.Changes { return transfer.Changes{} },
	},
	{
		name: "from a frozen party", actor: "op",
		ins:     recoverOf("frz", "new"),
		refused: []string{"ACCOUNT_FROZEN account.frozen"},
	},
	{
		name: "a frozen amount", actor: "op",
		ins:     recoverOf("acc-us", "new"),
		refused: []string{"ACCOUNT_FROZEN account.frozen_amount"},
	},
	{
		name:  "a holding of a paused instrument",
		setup: func(w *mapView) { w.hold("ret-us", "PAUSED", "1") },
		actor: "op", ins: recoverOf("ret-us", "new"),
		refused: []string{"INSTRUMENT_PAUSED instrument.paused"},
	},
	{
		name:  "to a receiver that may not hold one of the instruments",
		setup: unfreezeAccUS, actor: "op", ins: recoverOf("acc-us", "ret-us"),
		refused: []string{"INVESTOR_NOT_ELIGIBLE reg_d_506c.receive"},
	},
	{
		name: "between parties not registered", actor: "op",
		ins:     recoverOf("ghost", "ghost-2"),
		refused: []string{"UNKNOWN_PARTY party.exists", "UNKNOWN_PARTY party.exists"},
	},
	{
		name: "by a custodian", actor: "cus",
		ins:     recoverOf("ret-us", "new"),
		refused: []string{"NOT_AUTHORIZED authorization.recover"},
	},
}

func loanOf(typ transfer.Type, party, cash, amount, lender string) transfer.Instruction {
	return transfer.Instruction{Type: typ, PartyID: party, CashSymbol: cash, Amount: amt(amount), Lender: lender}
}

var borrowCases = []effectCase{
	{
		name: "the custodian lends its investor cash", actor: "cus",
		ins: loanOf(transfer.TypeBorrow, "acc-de", "USD", "50", ""),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{
				Holdings: []transfer.Holding{
					holding("acc-de", "USD", "250", "0", lot("250", now)),
					holding("cus", "USD", "450", "0", lot("450", ago(100))),
				},
				Loans: []transfer.Loan{{Party: "acc-de", Cash: "USD", Lender: "cus", Amount: dec("50")}},
			}
		},
	},
	{
		name: "a loan grows", actor: "cus",
		ins: loanOf(transfer.TypeBorrow, "bor", "USD", "20", "cus"),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{
				Holdings: []transfer.Holding{
					holding("bor", "USD", "320", "0", lot("320", now)),
					holding("cus", "USD", "480", "0", lot("480", ago(100))),
				},
				Loans: []transfer.Loan{{Party: "bor", Cash: "USD", Lender: "cus", Amount: dec("120")}},
			}
		},
	},
	{
		name: "the operator names the lender", actor: "op",
		ins: loanOf(transfer.TypeBorrow, "acc-de", "USD", "10", "cus"),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{
				Holdings: []transfer.Holding{
					holding("acc-de", "USD", "210", "0", lot("210", now)),
					holding("cus", "USD", "490", "0", lot("490", ago(100))),
				},
				Loans: []transfer.Loan{{Party: "acc-de", Cash: "USD", Lender: "cus", Amount: dec("10")}},
			}
		},
	},
	{
		name: "a borrower holding an instrument with no price", actor: "cus",
		ins:     loanOf(transfer.TypeBorrow, "acc-us", "USD", "10", ""),
		refused: []string{"PRICE_UNAVAILABLE account_leverage"},
	},
	{
		name: "more than the lender holds", actor: "cus",
		ins:     loanOf(transfer.TypeBorrow, "acc-de", "USD", "500.01", ""),
		refused: []string{"INSUFFICIENT_BALANCE account.balance"},
	},
	{
		name: "in an instrument that is not cash", actor: "cus",
		ins:     loanOf(transfer.TypeBorrow, "acc-de", "REG", "1", ""),
		refused: []string{"INVALID_INSTRUCTION loan.cash"},
	},
	{
		name: "from a lender that is not a custodian", actor: "op",
		ins:     loanOf(transfer.TypeBorrow, "acc-de", "USD", "1", "iss"),
		refused: []string{"INVALID_INSTRUCTION loan.lender"},
	},
	{
		name:  "the cash paused",
		setup: func(w *mapView) { w.pause("USD") },
		actor: "cus", ins: loanOf(transfer.TypeBorrow, "acc-de", "USD", "1", ""),
		refused: []string{"INSTRUMENT_PAUSED instrument.paused"},
	},
	{
		name: "finer than the cash's decimals", actor: "cus",
		ins:     loanOf(transfer.TypeBorrow, "acc-de", "USD", "0.001", ""),
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "a frozen borrower", actor: "cus",
		ins:     loanOf(transfer.TypeBorrow, "frz", "USD", "1", ""),
		refused: []string{"ACCOUNT_FROZEN account.frozen"},
	},
	{
		name: "a borrower whose KYC lapsed", actor: "cus",
		ins:     loanOf(transfer.TypeBorrow, "lapsed", "USD", "1", ""),
		refused: []string{"KYC_EXPIRED kyc"},
	},
	{
		name: "a borrower and cash that do not exist", actor: "op",
		ins:     loanOf(transfer.TypeBorrow, "ghost", "NOPE", "1", "cus"),
		refused: []string{"UNKNOWN_PARTY party.exists", "UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "the operator names no lender", actor: "op",
		ins:     loanOf(transfer.TypeBorrow, "acc-de", "USD", "1", ""),
		refused: []string{"NOT_AUTHORIZED authorization.borrow"},
	},
	{
		name: "another custodian's investor", actor: "cus-2",
		ins:     loanOf(transfer.TypeBorrow, "acc-de", "USD", "1", ""),
		refused: []string{"NOT_AUTHORIZED authorization.borrow"},
	},
}

var repayCases = []effectCase{
	{
		name: "part of a loan", actor: "cus",
		ins: loanOf(transfer.TypeRepay, "bor", "USD", "40", ""),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{
				Holdings: []transfer.Holding{
					holding("bor", "USD", "260", "0", lot("260", ago(100))),
					holding("cus", "USD", "540", "0", lot("540", now)),
				},
				Loans: []transfer.Loan{{Party: "bor", Cash: "USD", Lender: "cus", Amount: dec("60")}},
			}
		},
	},
	{
		name: "the whole loan", actor: "op",
		ins: loanOf(transfer.TypeRepay, "bor", "USD", "100", "cus"),
		want: func(w *mapView) transfer.Changes {
			return transfer.Changes{
				Holdings: []transfer.Holding{
					holding("bor", "USD", "200", "0", lot("200", ago(100))),
					holding("cus", "USD", "600", "0", lot("600", now)),
				},
				Loans: []transfer.Loan{{Party: "bor", Cash: "USD", Lender: "cus", Amount: dec("0")}},
			}
		},
	},
	{
		name: "more than is owed", actor: "cus",
		ins:     loanOf(transfer.TypeRepay, "bor", "USD", "100.01", ""),
		refused: []string{"NO_LOAN loan.balance"},
	},
	{
		name: "no loan at all", actor: "cus",
		ins:     loanOf(transfer.TypeRepay, "acc-de", "USD", "1", ""),
		refused: []string{"NO_LOAN loan.balance"},
	},
	{
		name: "to a lender that lent nothing", actor: "op",
		ins:     loanOf(transfer.TypeRepay, "bor", "USD", "1", "cus-2"),
		refused: []string{"NO_LOAN loan.balance"},
	},
	{
		name:  "more cash than the borrower holds",
		setup: func(w *mapView) { w.hold("bor", "USD", "50") },
		actor: "cus", ins: loanOf(transfer.TypeRepay, "bor", "USD", "80", ""),
		refused: []string{"INSUFFICIENT_BALANCE account.balance"},
	},
	{
		name:  "a frozen borrower",
		setup: func(w *mapView) { w.freezeParty("bor") },
		actor: "cus", ins: loanOf(transfer.TypeRepay, "bor", "USD", "1", ""),
		refused: []string{"ACCOUNT_FROZEN account.frozen"},
	},
	{
		name:  "the cash paused",
		setup: func(w *mapView) { w.pause("USD") },
		actor: "cus", ins: loanOf(transfer.TypeRepay, "bor", "USD", "1", ""),
		refused: []string{"INSTRUMENT_PAUSED instrument.paused"},
	},
	{
		name: "in an instrument that is not cash", actor: "cus",
		ins:     loanOf(transfer.TypeRepay, "bor", "REG", "1", ""),
		refused: []string{"INVALID_INSTRUCTION loan.cash"},
	},
	{
		name: "the operator names no lender", actor: "op",
		ins:     loanOf(transfer.TypeRepay, "bor", "USD", "1", ""),
		refused: []string{"NOT_AUTHORIZED authorization.repay"},
	},
}
