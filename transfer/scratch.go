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

// blocks are fixed-size blocks of Ts that stay where they are until
// reset, which starts again at the first: a run keeps the blocks the runs
// before it made (up to blocksKept), so one as large as the last allocates
// none. Until they were kept, each run made again every block but the
// last: the holdings of Changes alone were some 15 MB of Apply's 290 over
// 41 batches of 1,000.
type blocks[T any] struct {
	all [][]T // all[cur] is being filled
	cur int
}

// blocksKept bounds the blocks a reset keeps, so that one large run (a
// distribution's) does not keep its memory for good.
const blocksKept = 64

// room returns the block to take c more Ts from, of size elements, moving
// on to the next (made if need be) when the current one lacks room.
func (b *blocks[T]) room(c, size int) *[]T {
	if b.cur < len(b.all) {
		if cur := &b.all[b.cur]; cap(*cur)-len(*cur) >= c {
			return cur
		}
	}
	return b.move(size)
}

// move is room's way on: the first block, or the one after the current.
func (b *blocks[T]) move(size int) *[]T {
	if len(b.all) > 0 {
		b.cur++
	}
	if b.cur == len(b.all) {
		b.all = append(b.all, make([]T, 0, size))
	}
	return &b.all[b.cur]
}

// reset starts b again at its first block; clearUsed zeroes the blocks
// the run used, so that they hold on to nothing of it.
func (b *blocks[T]) reset(clearUsed bool) {
	if len(b.all) == 0 {
		return
	}
	used := min(b.cur+1, len(b.all))
	for i := range used {
		if clearUsed {
			clear(b.all[i])
		}
		b.all[i] = b.all[i][:0]
	}
	if len(b.all) > blocksKept {
		clear(b.all[blocksKept:])
		b.all = b.all[:blocksKept]
	}
	b.cur = 0
}

// lotBlock hands out lot slices from blocks. A nil lotBlock makes each
// slice on its own.
type lotBlock struct{ blocks[Lot] }

// lotBlockSize is the lots of a block: an instruction's few holdings carry a
// lot or two each.
const lotBlockSize = 256

// make returns a zeroed slice of n lots and capacity c, which an append
// beyond c leaves for a slice of its own.
func (b *lotBlock) make(n, c int) []Lot {
	if b == nil || c > lotBlockSize/4 {
		return make([]Lot, n, c)
	}
	block := b.room(c, lotBlockSize)
	i := len(*block)
	*block = (*block)[:i+c]
	clear((*block)[i : i+c]) // a block reset holds an earlier run's lots
	return (*block)[i : i+n : i+c]
}

func (b *lotBlock) reset() { b.blocks.reset(false) }

// outBlock is lotBlock for the holdings and instruments of Changes.
type outBlock[T any] struct{ blocks[T] }

const outBlockSize = 64

// clone returns a copy of xs.
func (b *outBlock[T]) clone(xs []T) []T {
	n := len(xs)
	if b == nil || n > outBlockSize/4 {
		return append([]T(nil), xs...)
	}
	block := b.room(n, outBlockSize)
	i := len(*block)
	*block = append(*block, xs...)
	return (*block)[i : i+n : i+n]
}

func (b *outBlock[T]) reset() { b.blocks.reset(true) } // drop the last run's lots and names
