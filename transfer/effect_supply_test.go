package transfer_test

import (
	"time"

	"github.com/tokenledger/tokenledger/transfer"
)

// The tables of the instructions that create, destroy or reshape an
// instrument's supply. The fixture is newWorld's.

func mintOf(symbol, to, amount string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeMint, Symbol: symbol, To: to, Amount: amt(amount)}
}

// acquiredAt is a mint whose lot dates from at rather than from the mint.
func acquiredAt(ins transfer.Instruction, at time.Time) transfer.Instruction {
	ins.AcquiredAt = &at
	return ins
}

// pausedCappedAt5 caps the paused instrument's supply at the 5 it has, so
// any mint would exceed it.
func pausedCappedAt5(w *mapView) {
	p := w.instrument("PAUSED")
	p.MaxSupply = new(dec("5"))
	w.instruments["PAUSED"] = p
}

var mintCases = []effectCase{
	accepted("to a new holder", "iss", mintOf("REG", "acc-de", "5"),
		writes(instrumentAs("REG", supply("110"), holders(5)), holdings(oneLot("acc-de", "REG", "5", now)))),
	accepted("to a holder: lots past their holding period merge", "iss", mintOf("REG", "ret-us", "10"),
		writes(instrumentAs("REG", supply("115")), holdings(oneLot("ret-us", "REG", "60", now)))),
	accepted("up to max supply exactly, to the issuer", "iss", mintOf("REG", "iss", "895"),
		writes(instrumentAs("REG", supply("1000")), holdings(oneLot("iss", "REG", "935", now)))),
	accepted("acquired earlier, in a regime with a lock-up", "iss", acquiredAt(mintOf("LOCK", "acc-de", "5"), ago(30)),
		writes(instrumentAs("LOCK", supply("35"), holders(2)), holdings(oneLot("acc-de", "LOCK", "5", ago(30))))),
	accepted("by the operator", "op", mintOf("USD", "ret-us", "0.01"),
		writes(instrumentAs("USD", supply("2105.01")), holdings(oneLot("ret-us", "USD", "100.01", now)))),
	refused("above max supply", "iss", mintOf("REG", "iss", "895.01"), "SUPPLY_CAP instrument.max_supply"),
	refused("paused", "iss", mintOf("PAUSED", "acc-de", "1"), "INSTRUMENT_PAUSED instrument.paused"),
	refused("paused and above max supply: both, by precedence", "iss", mintOf("PAUSED", "acc-de", "1"),
		"INSTRUMENT_PAUSED instrument.paused", "SUPPLY_CAP instrument.max_supply").given(pausedCappedAt5),
	refused("acquired in the future", "iss", acquiredAt(mintOf("REG", "acc-de", "1"), ago(-1)), "INVALID_INSTRUCTION mint.acquired_at"),
	refused("acquired before the offering", "iss", acquiredAt(mintOf("REG", "acc-de", "1"), genesis.AddDate(0, 0, -1)),
		"INVALID_INSTRUCTION mint.acquired_at"),
	refused("finer than the decimals", "iss", mintOf("REG", "acc-de", "1.001"), "BAD_AMOUNT amount.format"),
	refused("zero", "iss", mintOf("REG", "acc-de", "0"), "BAD_AMOUNT amount.format"),
	refused("no amount", "iss", transfer.Instruction{Type: transfer.TypeMint, Symbol: "REG", To: "acc-de"}, "BAD_AMOUNT amount.format"),
	refused("an instrument that does not exist", "op", mintOf("NOPE", "acc-de", "1"), "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("a receiver not registered", "iss", mintOf("REG", "ghost", "1"), "UNKNOWN_PARTY party.exists"),
	refused("neither exists: both, by precedence", "op", mintOf("NOPE", "ghost", "1"),
		"UNKNOWN_PARTY party.exists", "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("a frozen receiver", "iss", mintOf("REG", "frz", "1"), "ACCOUNT_FROZEN account.frozen"),
	refused("a receiver whose KYC lapsed", "iss", mintOf("REG", "lapsed", "1"), "KYC_EXPIRED kyc"),
	refused("a retail receiver of a Reg D 506(c) offering", "iss", mintOf("LOCK", "ret-us", "1"), "INVESTOR_NOT_ELIGIBLE reg_d_506c.receive"),
	refused("another issuer's instrument", "iss-2", mintOf("REG", "acc-de", "1"), "NOT_AUTHORIZED authorization.mint"),
}

// burnOf gives units held by anyone but the issuer a legal reference, which
// burning them needs.
func burnOf(symbol, from, amount string) transfer.Instruction {
	ins := transfer.Instruction{Type: transfer.TypeBurn, Symbol: symbol, From: from, Amount: amt(amount)}
	if from != "iss" {
		ins.LegalReference = "court order 2026-17"
	}
	return ins
}

// burnCases ends with the rows every instruction taking from a holder shares.
var burnCases = append([]effectCase{
	accepted("part of a balance", "iss", burnOf("REG", "ret-us", "20"),
		writes(instrumentAs("REG", supply("85")), holdings(oneLot("ret-us", "REG", "30", ago(100))))),
	accepted("a whole balance leaves the holder counts", "iss", burnOf("REG", "ret-us", "50"),
		writes(instrumentAs("REG", supply("55"), holders(3), nonAccredited(0)), holdings(holding("ret-us", "REG", "0", "0")))),
	accepted("the unfrozen part", "iss", burnOf("REG", "acc-us", "6"),
		writes(instrumentAs("REG", supply("99")), holdings(holding("acc-us", "REG", "4", "4", lot("4", ago(100)))))),
	accepted("by the operator", "op", burnOf("USD", "cus", "0.5"),
		writes(instrumentAs("USD", supply("2104.5")), holdings(oneLot("cus", "USD", "499.5", ago(100))))),
	refused("from a party holding none", "iss", burnOf("REG", "acc-de", "1"), "INSUFFICIENT_BALANCE account.balance"),
	refused("into the frozen part", "iss", burnOf("REG", "acc-us", "6.01"), "ACCOUNT_FROZEN account.frozen_amount"),
	refused("finer than the decimals", "iss", burnOf("LOCK", "acc-us", "0.5"), "BAD_AMOUNT amount.format"),
	refused("neither exists: both, by precedence", "op", burnOf("NOPE", "ghost", "1"),
		"UNKNOWN_PARTY party.exists", "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("another issuer's instrument", "iss-2", burnOf("REG", "ret-us", "1"), "NOT_AUTHORIZED authorization.burn"),
	accepted("the issuer's own units need no legal reference", "iss", burnOf("REG", "iss", "10"),
		writes(instrumentAs("REG", supply("95")), holdings(oneLot("iss", "REG", "30", ago(100))))),
	refused("an investor's units without a legal reference, by the issuer", "iss", withoutReference(burnOf("REG", "ret-us", "1")),
		"NOT_AUTHORIZED authorization.burn"),
	refused("an investor's units without a legal reference, by the operator", "op", withoutReference(burnOf("REG", "ret-us", "1")),
		"NOT_AUTHORIZED burn.legal_reference"),
}, refusedTaking(burnOf, always("iss"))...)

func distributeOf(symbol, cash, perUnit string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeDistribute, Symbol: symbol, CashSymbol: cash, AmountPerUnit: amt(perUnit)}
}

var distributeCases = []effectCase{
	accepted("pro rata to every holder but the issuer, KYC-lapsed ones too", "iss", distributeOf("REG", "USD", "0.5"),
		writes(instrumentAs("USD", holders(8)), holdings(oneLot("acc-us", "USD", "5", now), oneLot("iss", "USD", "967.5", ago(100)),
			oneLot("lapsed", "USD", "2.5", now), oneLot("ret-us", "USD", "125", now)))),
	accepted("rounded down to the cash's decimals, the rest stays with the issuer", "iss", distributeOf("REG", "USD", "0.111"),
		writes(instrumentAs("USD", holders(8)), holdings(oneLot("acc-us", "USD", "1.11", now), oneLot("iss", "USD", "992.79", ago(100)),
			oneLot("lapsed", "USD", "0.55", now), oneLot("ret-us", "USD", "105.55", now)))),
	accepted("a frozen holder is paid", "op", distributeOf("REG", "USD", "0.5"),
		writes(instrumentAs("USD", holders(8)), holdings(oneLot("acc-us", "USD", "5", now), oneLot("frz", "USD", "6", now),
			oneLot("iss", "USD", "966.5", ago(100)), oneLot("lapsed", "USD", "2.5", now), oneLot("ret-us", "USD", "125", now)))).
		given(func(w *mapView) { w.hold("frz", "REG", "2") }),
	refused("no holder's entitlement reaches a cent", "iss", distributeOf("REG", "USD", "0.0001"), "INVALID_INSTRUCTION distribute.amount"),
	refused("more than the issuer's cash", "iss", distributeOf("REG", "USD", "100"), "INSUFFICIENT_BALANCE account.balance"),
	refused("paid in an instrument that is not cash", "iss", distributeOf("REG", "LOCK", "1"), "INVALID_INSTRUCTION distribute.cash"),
	refused("the cash paused", "iss", distributeOf("REG", "USD", "0.5"),
		"INSTRUMENT_PAUSED instrument.paused").given(func(w *mapView) { w.pause("USD") }),
	refused("nineteen fraction digits", "iss", distributeOf("REG", "USD", "0.0000000000000000001"), "BAD_AMOUNT amount.format"),
	refused("cash that does not exist", "iss", distributeOf("REG", "NOPE", "1"), "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("another issuer's instrument", "iss-2", distributeOf("REG", "USD", "0.5"), "NOT_AUTHORIZED authorization.distribute"),
}

func splitOf(symbol, ratio string) transfer.Instruction {
	return transfer.Instruction{Type: transfer.TypeSplit, Symbol: symbol, Ratio: amt(ratio)}
}

// splitREG is what a split of REG leaves of its four holdings, each still
// one lot acquired 100 days ago: acc-us's with its frozen part.
func splitREG(accUS, accUSFrozen, iss, lapsed, retUS string) write {
	return holdings(holding("acc-us", "REG", accUS, accUSFrozen, lot(accUS, ago(100))), oneLot("iss", "REG", iss, ago(100)),
		oneLot("lapsed", "REG", lapsed, ago(100)), oneLot("ret-us", "REG", retUS, ago(100)))
}

var splitCases = []effectCase{
	accepted("two for one: balances, frozen amounts, lots, supply and max supply", "iss", splitOf("REG", "2"),
		writes(instrumentAs("REG", supply("210"), maxSupply("2000")), splitREG("20", "8", "80", "10", "100"))),
	accepted("a reverse split rounds down to the decimals", "iss", splitOf("REG", "0.333"),
		writes(instrumentAs("REG", supply("34.96"), maxSupply("333")), splitREG("3.33", "1.33", "13.32", "1.66", "16.65"))),
	accepted("the newest lot takes the rounding", "iss", splitOf("LOCK", "0.1"),
		writes(instrumentAs("LOCK", supply("3")), holdings(holding("acc-us", "LOCK", "3", "0", lot("1", ago(400)), lot("2", ago(10)))))),
	accepted("a lot rounded to nothing is dropped", "iss", splitOf("LOCK", "0.05"),
		writes(instrumentAs("LOCK", supply("1")), holdings(oneLot("acc-us", "LOCK", "1", ago(10))))),
	accepted("a holding rounded to nothing leaves the holder count", "iss", splitOf("REG", "0.001"),
		writes(instrumentAs("REG", supply("0.1"), maxSupply("1"), holders(3)), holdings(oneLot("acc-us", "REG", "0.01", ago(100)),
			oneLot("iss", "REG", "0.04", ago(100)), holding("lapsed", "REG", "0", "0"), oneLot("ret-us", "REG", "0.05", ago(100))))),
	refused("cash", "iss", splitOf("USD", "2"), "INVALID_INSTRUCTION split.cash"),
	refused("a zero ratio", "iss", splitOf("REG", "0"), "BAD_AMOUNT amount.format"),
	refused("an instrument that does not exist", "op", splitOf("NOPE", "2"), "UNKNOWN_INSTRUMENT instrument.exists"),
	refused("another issuer's instrument", "iss-2", splitOf("REG", "2"), "NOT_AUTHORIZED authorization.split"),
}
