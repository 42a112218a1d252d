package transfer

import (
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
)

// Scratch is memory a run of instructions decided one after another shares,
// as the ledger's Apply decides those of a log entry: its Effect reuses one
// delta and its working state from instruction to instruction, and the
// holdings and lots of the Changes each delta returns come from blocks that
// stay where they are until Reset. Effect made six allocations an
// instruction of its own (the delta, its working state and holdings list,
// the Changes' copy, a debit's and a credit's lots), a third of Apply's.
//
// So a caller may keep the Changes of every instruction of the run (and
// what they point to) until it calls Reset, but a Delta only until its next
// call of Effect, which overwrites it. The zero Scratch is ready for use;
// it is not safe for concurrent use.
type Scratch struct {
	d        Delta
	e        effect
	lots     lotBlock
	holdings outBlock[Holding]
	instrs   outBlock[Instrument]
}

// Effect is transfer.Effect over s's memory.
func (s *Scratch) Effect(v View, actor string, ins Instruction, now time.Time) (*Delta, []eligibility.Reason) {
	return effectIn(s, v, actor, ins, now, "")
}

// Reset starts a new run: the Changes of the last one may be overwritten.
func (s *Scratch) Reset() {
	s.lots.reset()
	s.holdings.reset()
	s.instrs.reset()
}

// delta readies s.d as NewDelta(v) makes one, keeping its memory.
func (s *Scratch) delta(v View) *Delta {
	d := &s.d
	*d = Delta{
		base: v, parties: emptiedMap(d.parties), instruments: emptiedList(d.instruments),
		holdings: deltaHoldings{list: emptiedList(d.holdings.list)},
		lots:     &s.lots, holdingsOut: &s.holdings, instrumentsOut: &s.instrs,
	}
	return d
}

// effect readies s.e as effectIn's fresh one, keeping its memory.
func (s *Scratch) effect(d *Delta, actor string, ins Instruction, now time.Time, rb *eligibility.Rulebook, only string) *effect {
	e := &s.e
	*e = effect{d: d, actor: actor, ins: ins, now: now, rb: rb, only: only, touched: emptiedMap(e.touched), pending: emptiedList(e.pending)}
	return e
}

// scratchMax bounds the maps and lists a Scratch keeps: one that a large
// instruction (a distribution's) grew is let go, so that the next ones do
// not clear it.
const scratchMax = 64

// emptiedMap returns m emptied, or nil when it grew past scratchMax.
func emptiedMap[K comparable, V any](m map[K]V) map[K]V {
	if len(m) > scratchMax {
		return nil
	}
	clear(m)
	return m
}

// emptiedList returns l emptied, its elements zeroed so that they hold on
// to nothing, or nil when it grew past scratchMax.
func emptiedList[T any](l []T) []T {
	if cap(l) > scratchMax {
		return nil
	}
	clear(l)
	return l[:0]
}

// lotBlock hands out lot slices from blocks that stay where they are until
// reset, which starts the last block over. A nil lotBlock makes each slice
// on its own.
type lotBlock struct{ block []Lot }

// lotBlockSize is the lots of a block: an instruction's few holdings carry a
// lot or two each.
const lotBlockSize = 256

// make returns a zeroed slice of n lots and capacity c, which an append
// beyond c leaves for a slice of its own.
func (b *lotBlock) make(n, c int) []Lot {
	if b == nil || c > lotBlockSize/4 {
		return make([]Lot, n, c)
	}
	if cap(b.block)-len(b.block) < c {
		b.block = make([]Lot, 0, lotBlockSize)
	}
	i := len(b.block)
	b.block = b.block[:i+c]
	clear(b.block[i : i+c]) // a block reset holds an earlier run's lots
	return b.block[i : i+n : i+c]
}

func (b *lotBlock) reset() { b.block = b.block[:0] }

// outBlock is lotBlock for the holdings and instruments of Changes.
type outBlock[T any] struct{ block []T }

const outBlockSize = 64

// clone returns a copy of xs.
func (b *outBlock[T]) clone(xs []T) []T {
	n := len(xs)
	if b == nil || n > outBlockSize/4 {
		return append([]T(nil), xs...)
	}
	if cap(b.block)-len(b.block) < n {
		b.block = make([]T, 0, outBlockSize)
	}
	i := len(b.block)
	b.block = append(b.block, xs...)
	return b.block[i : i+n : i+n]
}

func (b *outBlock[T]) reset() {
	clear(b.block) // drop the last run's lots and names
	b.block = b.block[:0]
}
