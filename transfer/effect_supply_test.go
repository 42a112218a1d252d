package transfer_test

import (
	"github.com/tokenledger/tokenledger/transfer"
)

// The tables of the instructions that create, destroy or reshape an
// instrument's supply. The fixture is newWorld's.

func mintOf(symbol, to, amount string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeMint, Symbol: symbol, To: to, Amount: amt(amount)}
}

var mintCases = []effectCase{
	{
		name: "to a new holder", actor: "iss",
		ins: mintOf("REG", "acc-de", "5"),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.Supply, reg.HolderCount = dec("110"), 5
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings:    []transfer.Holding{holding("acc-de", "REG", "5", "0", lot("5", now))},
			}
		},
	},
	{
		name: "to a holder: lots past their holding period merge", actor: "iss",
		ins: mintOf("REG", "ret-us", "10"),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.Supply = dec("115")
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings:    []transfer.Holding{holding("ret-us", "REG", "60", "0", lot("60", now))},
			}
		},
	},
	{
		name: "up to max supply exactly, to the issuer", actor: "iss",
		ins: mintOf("REG", "iss", "895"),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.Supply = dec("1000")
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings:    []transfer.Holding{holding("iss", "REG", "935", "0", lot("935", now))},
			}
		},
	},
	{
		name: "acquired earlier, in a regime with a lock-up", actor: "iss",
		ins: func() transfer.Instruction {
			ins := mintOf("LOCK", "acc-de", "5")
			ins.AcquiredAt = new(ago(30))
			return ins
		}(),
		want: func(w *mapView) transfer.Changes {
			lock := w.instrument("LOCK")
			lock.Supply, lock.HolderCount = dec("35"), 2
			return transfer.Changes{
				Instruments: []transfer.Instrument{lock},
				Holdings:    []transfer.Holding{holding("acc-de", "LOCK", "5", "0", lot("5", ago(30)))},
			}
		},
	},
	{
		name: "by the operator", actor: "op",
		ins: mintOf("USD", "ret-us", "0.01"),
		want: func(w *mapView) transfer.Changes {
			usd := w.instrument("USD")
			usd.Supply = dec("2105.01")
			return transfer.Changes{
				Instruments: []transfer.Instrument{usd},
				Holdings:    []transfer.Holding{holding("ret-us", "USD", "100.01", "0", lot("100.01", now))},
			}
		},
	},
	{
		name: "above max supply", actor: "iss",
		ins:     mintOf("REG", "iss", "895.01"),
		refused: []string{"SUPPLY_CAP instrument.max_supply"},
	},
	{
		name: "paused", actor: "iss",
		ins:     mintOf("PAUSED", "acc-de", "1"),
		refused: []string{"INSTRUMENT_PAUSED instrument.paused"},
	},
	{
		name: "paused and above max supply: both, by precedence",
		setup: func(w *mapView) {
			p := w.instrument("PAUSED")
			p.MaxSupply = new(dec("5"))
			w.instruments["PAUSED"] = p
		},
		actor: "iss", ins: mintOf("PAUSED", "acc-de", "1"),
		refused: []string{"INSTRUMENT_PAUSED instrument.paused", "SUPPLY_CAP instrument.max_supply"},
	},
	{
		name: "acquired in the future", actor: "iss",
		ins: func() transfer.Instruction {
			ins := mintOf("REG", "acc-de", "1")
			ins.AcquiredAt = new(ago(-1))
			return ins
		}(),
		refused: []string{"INVALID_INSTRUCTION mint.acquired_at"},
	},
	{
		name: "acquired before the offering", actor: "iss",
		ins: func() transfer.Instruction {
			ins := mintOf("REG", "acc-de", "1")
			ins.AcquiredAt = new(genesis.AddDate(0, 0, -1))
			return ins
		}(),
		refused: []string{"INVALID_INSTRUCTION mint.acquired_at"},
	},
	{
		name: "finer than the decimals", actor: "iss",
		ins:     mintOf("REG", "acc-de", "1.001"),
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "zero", actor: "iss",
		ins:     mintOf("REG", "acc-de", "0"),
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "no amount", actor: "iss",
		ins:     transfer.Instruction{Type: transfer.TypeMint, Symbol: "REG", To: "acc-de"},
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "an instrument that does not exist", actor: "op",
		ins:     mintOf("NOPE", "acc-de", "1"),
		refused: []string{"UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "a receiver not registered", actor: "iss",
		ins:     mintOf("REG", "ghost", "1"),
		refused: []string{"UNKNOWN_PARTY party.exists"},
	},
	{
		name: "neither exists: both, by precedence", actor: "op",
		ins:     mintOf("NOPE", "ghost", "1"),
		refused: []string{"UNKNOWN_PARTY party.exists", "UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "a frozen receiver", actor: "iss",
		ins:     mintOf("REG", "frz", "1"),
		refused: []string{"ACCOUNT_FROZEN account.frozen"},
	},
	{
		name: "a receiver whose KYC lapsed", actor: "iss",
		ins:     mintOf("REG", "lapsed", "1"),
		refused: []string{"KYC_EXPIRED kyc"},
	},
	{
		name: "a retail receiver of a Reg D 506(c) offering", actor: "iss",
		ins:     mintOf("LOCK", "ret-us", "1"),
		refused: []string{"INVESTOR_NOT_ELIGIBLE reg_d_506c.receive"},
	},
	{
		name: "another issuer's instrument", actor: "iss-2",
		ins:     mintOf("REG", "acc-de", "1"),
		refused: []string{"NOT_AUTHORIZED authorization.mint"},
	},
}

func burnOf(symbol, from, amount string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeBurn, Symbol: symbol, From: from, Amount: amt(amount)}
}

var burnCases = []effectCase{
	{
		name: "part of a balance", actor: "iss",
		ins: burnOf("REG", "ret-us", "20"),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.Supply = dec("85")
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings:    []transfer.Holding{holding("ret-us", "REG", "30", "0", lot("30", ago(100)))},
			}
		},
	},
	{
		name: "a whole balance leaves the holder counts", actor: "iss",
		ins: burnOf("REG", "ret-us", "50"),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.Supply, reg.HolderCount, reg.NonAccreditedHolders = dec("55"), 3, 0
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings:    []transfer.Holding{holding("ret-us", "REG", "0", "0")},
			}
		},
	},
	{
		name: "the unfrozen part", actor: "iss",
		ins: burnOf("REG", "acc-us", "6"),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.Supply = dec("99")
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings:    []transfer.Holding{holding("acc-us", "REG", "4", "4", lot("4", ago(100)))},
			}
		},
	},
	{
		name: "by the operator", actor: "op",
		ins: burnOf("USD", "cus", "0.5"),
		want: func(w *mapView) transfer.Changes {
			usd := w.instrument("USD")
			usd.Supply = dec("2104.5")
			return transfer.Changes{
				Instruments: []transfer.Instrument{usd},
				Holdings:    []transfer.Holding{holding("cus", "USD", "499.5", "0", lot("499.5", ago(100)))},
			}
		},
	},
	{
		name: "more than the balance", actor: "iss",
		ins:     burnOf("REG", "ret-us", "50.01"),
		refused: []string{"INSUFFICIENT_BALANCE account.balance"},
	},
	{
		name: "from a party holding none", actor: "iss",
		ins:     burnOf("REG", "acc-de", "1"),
		refused: []string{"INSUFFICIENT_BALANCE account.balance"},
	},
	{
		name: "into the frozen part", actor: "iss",
		ins:     burnOf("REG", "acc-us", "6.01"),
		refused: []string{"ACCOUNT_FROZEN account.frozen_amount"},
	},
	{
		name: "from a frozen party", actor: "iss",
		ins:     burnOf("USD", "frz", "1"),
		refused: []string{"ACCOUNT_FROZEN account.frozen"},
	},
	{
		name: "paused", actor: "iss",
		ins:     burnOf("PAUSED", "iss", "1"),
		refused: []string{"INSTRUMENT_PAUSED instrument.paused"},
	},
	{
		name: "finer than the decimals", actor: "iss",
		ins:     burnOf("LOCK", "acc-us", "0.5"),
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "neither exists: both, by precedence", actor: "op",
		ins:     burnOf("NOPE", "ghost", "1"),
		refused: []string{"UNKNOWN_PARTY party.exists", "UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "another issuer's instrument", actor: "iss-2",
		ins:     burnOf("REG", "ret-us", "1"),
		refused: []string{"NOT_AUTHORIZED authorization.burn"},
	},
}

func distributeOf(symbol, cash, perUnit string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeDistribute, Symbol: symbol, CashSymbol: cash, AmountPerUnit: amt(perUnit)}
}

var distributeCases = []effectCase{
	{
		name: "pro rata to every holder but the issuer, KYC-lapsed ones too", actor: "iss",
		ins: distributeOf("REG", "USD", "0.5"),
		want: func(w *mapView) transfer.Changes {
			usd := w.instrument("USD")
			usd.HolderCount = 8
			return transfer.Changes{
				Instruments: []transfer.Instrument{usd},
				Holdings: []transfer.Holding{
					holding("acc-us", "USD", "5", "0", lot("5", now)),
					holding("iss", "USD", "967.5", "0", lot("967.5", ago(100))),
					holding("lapsed", "USD", "2.5", "0", lot("2.5", now)),
					holding("ret-us", "USD", "125", "0", lot("125", now)),
				},
			}
		},
	},
	{
		name: "rounded down to the cash's decimals, the rest stays with the issuer", actor: "iss",
		ins: distributeOf("REG", "USD", "0.111"),
		want: func(w *mapView) transfer.Changes {
			usd := w.instrument("USD")
			usd.HolderCount = 8
			return transfer.Changes{
				Instruments: []transfer.Instrument{usd},
				Holdings: []transfer.Holding{
					holding("acc-us", "USD", "1.11", "0", lot("1.11", now)),
					holding("iss", "USD", "992.79", "0", lot("992.79", ago(100))),
					holding("lapsed", "USD", "0.55", "0", lot("0.55", now)),
					holding("ret-us", "USD", "105.55", "0", lot("105.55", now)),
				},
			}
		},
	},
	{
		name:  "a frozen holder is paid",
		setup: func(w *mapView) { w.hold("frz", "REG", "2") },
		actor: "op", ins: distributeOf("REG", "USD", "0.5"),
		want: func(w *mapView) transfer.Changes {
			usd := w.instrument("USD")
			usd.HolderCount = 8
			return transfer.Changes{
				Instruments: []transfer.Instrument{usd},
				Holdings: []transfer.Holding{
					holding("acc-us", "USD", "5", "0", lot("5", now)),
					holding("frz", "USD", "6", "0", lot("6", now)),
					holding("iss", "USD", "966.5", "0", lot("966.5", ago(100))),
					holding("lapsed", "USD", "2.5", "0", lot("2.5", now)),
					holding("ret-us", "USD", "125", "0", lot("125", now)),
				},
			}
		},
	},
	{
		name: "no holder's entitlement reaches a cent", actor: "iss",
		ins:     distributeOf("REG", "USD", "0.0001"),
		refused: []string{"INVALID_INSTRUCTION distribute.amount"},
	},
	{
		name: "more than the issuer's cash", actor: "iss",
		ins:     distributeOf("REG", "USD", "100"),
		refused: []string{"INSUFFICIENT_BALANCE account.balance"},
	},
	{
		name: "paid in an instrument that is not cash", actor: "iss",
		ins:     distributeOf("REG", "LOCK", "1"),
		refused: []string{"INVALID_INSTRUCTION distribute.cash"},
	},
	{
		name:  "the cash paused",
		setup: func(w *mapView) { w.pause("USD") },
		actor: "iss", ins: distributeOf("REG", "USD", "0.5"),
		refused: []string{"INSTRUMENT_PAUSED instrument.paused"},
	},
	{
		name: "nineteen fraction digits", actor: "iss",
		ins:     distributeOf("REG", "USD", "0.0000000000000000001"),
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "cash that does not exist", actor: "iss",
		ins:     distributeOf("REG", "NOPE", "1"),
		refused: []string{"UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "another issuer's instrument", actor: "iss-2",
		ins:     distributeOf("REG", "USD", "0.5"),
		refused: []string{"NOT_AUTHORIZED authorization.distribute"},
	},
}

func splitOf(symbol, ratio string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeSplit, Symbol: symbol, Ratio: amt(ratio)}
}

var splitCases = []effectCase{
	{
		name: "two for one: balances, frozen amounts, lots, supply and max supply", actor: "iss",
		ins: splitOf("REG", "2"),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.Supply, reg.MaxSupply = dec("210"), new(dec("2000"))
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings: []transfer.Holding{
					holding("acc-us", "REG", "20", "8", lot("20", ago(100))),
					holding("iss", "REG", "80", "0", lot("80", ago(100))),
					holding("lapsed", "REG", "10", "0", lot("10", ago(100))),
					holding("ret-us", "REG", "100", "0", lot("100", ago(100))),
				},
			}
		},
	},
	{
		name: "a reverse split rounds down to the decimals", actor: "iss",
		ins: splitOf("REG", "0.333"),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.Supply, reg.MaxSupply = dec("34.96"), new(dec("333"))
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings: []transfer.Holding{
					holding("acc-us", "REG", "3.33", "1.33", lot("3.33", ago(100))),
					holding("iss", "REG", "13.32", "0", lot("13.32", ago(100))),
					holding("lapsed", "REG", "1.66", "0", lot("1.66", ago(100))),
					holding("ret-us", "REG", "16.65", "0", lot("16.65", ago(100))),
				},
			}
		},
	},
	{
		name: "the newest lot takes the rounding", actor: "iss",
		ins: splitOf("LOCK", "0.1"),
		want: func(w *mapView) transfer.Changes {
			lock := w.instrument("LOCK")
			lock.Supply = dec("3")
			return transfer.Changes{
				Instruments: []transfer.Instrument{lock},
				Holdings:    []transfer.Holding{holding("acc-us", "LOCK", "3", "0", lot("1", ago(400)), lot("2", ago(10)))},
			}
		},
	},
	{
		name: "a lot rounded to nothing is dropped", actor: "iss",
		ins: splitOf("LOCK", "0.05"),
		want: func(w *mapView) transfer.Changes {
			lock := w.instrument("LOCK")
			lock.Supply = dec("1")
			return transfer.Changes{
				Instruments: []transfer.Instrument{lock},
				Holdings:    []transfer.Holding{holding("acc-us", "LOCK", "1", "0", lot("1", ago(10)))},
			}
		},
	},
	{
		name: "a holding rounded to nothing leaves the holder count", actor: "iss",
		ins: splitOf("REG", "0.001"),
		want: func(w *mapView) transfer.Changes {
			reg := w.instrument("REG")
			reg.Supply, reg.MaxSupply, reg.HolderCount = dec("0.1"), new(dec("1")), 3
			return transfer.Changes{
				Instruments: []transfer.Instrument{reg},
				Holdings: []transfer.Holding{
					holding("acc-us", "REG", "0.01", "0", lot("0.01", ago(100))),
					holding("iss", "REG", "0.04", "0", lot("0.04", ago(100))),
					holding("lapsed", "REG", "0", "0"),
					holding("ret-us", "REG", "0.05", "0", lot("0.05", ago(100))),
				},
			}
		},
	},
	{
		name: "cash", actor: "iss",
		ins:     splitOf("USD", "2"),
		refused: []string{"INVALID_INSTRUCTION split.cash"},
	},
	{
		name: "a zero ratio", actor: "iss",
		ins:     splitOf("REG", "0"),
		refused: []string{"BAD_AMOUNT amount.format"},
	},
	{
		name: "an instrument that does not exist", actor: "op",
		ins:     splitOf("NOPE", "2"),
		refused: []string{"UNKNOWN_INSTRUMENT instrument.exists"},
	},
	{
		name: "another issuer's instrument", actor: "iss-2",
		ins:     splitOf("REG", "2"),
		refused: []string{"NOT_AUTHORIZED authorization.split"},
	},
}
