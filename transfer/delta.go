package transfer

import (
	"cmp"
	"iter"
	"slices"
	"sort"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/fixed"
)

type holdingKey struct{ party, symbol string }

type loanKey struct{ party, cash, lender string }

// Delta is the effect of one instruction: the objects it writes, over the View
// it read. It is itself a View, so a multi-leg transfer sees its own earlier
// legs. Nothing reaches the base until the caller commits the Delta.
type Delta struct {
	base        View
	parties     map[string]Party
	instruments []Instrument // in the order first written
	holdings    deltaHoldings
	loans       map[loanKey]Loan
	prices      map[string]Price
	rulebook    *eligibility.Rulebook
	scheduled   *ScheduledRulebook
	writtenOff  []WriteOff   // margin.go
	investments []Investment // investment.go; in the order made
	// lots, holdingsOut and instrumentsOut hand out the memory of the
	// lots the delta writes and of the holdings and instruments its
	// Changes list; nil (NewDelta) makes each slice on its own (Scratch).
	lots           *lotBlock
	holdingsOut    *outBlock[Holding]
	instrumentsOut *outBlock[Instrument]
	// read is the instrument last read from the base: an instruction
	// reads its instrument four times or more (its leg, the positions it
	// changes, a holder counted), each a copy of the whole instrument
	// through the base's interface. The base does not change while a
	// delta lives: nothing reaches it until the caller commits the delta,
	// and a delta is not used after that.
	read baseInstrument
}

// baseInstrument is a read of the base's instrument symbol: in is what the
// base answered (nil: no such instrument), the base's own
// (InstrumentRefView) or else own.
type baseInstrument struct {
	symbol string
	in     *Instrument
	own    Instrument
	set    bool
}

// deltaHoldings are the holdings a delta writes, in the order first written.
// Most instructions write two to four, found faster in a slice than a map
// and without a map's allocations; a distribution or split writes one per
// holder, so past smallHoldings an index finds them.
type deltaHoldings struct {
	list  []Holding
	index map[holdingKey]int // nil up to smallHoldings
}

// smallHoldings is how many holdings a delta searches in order before it
// indexes them.
const smallHoldings = 16

// find returns the position of party's holding of symbol in the list.
func (dh *deltaHoldings) find(party, symbol string) (int, bool) {
	if dh.index != nil {
		i, ok := dh.index[holdingKey{party, symbol}]
		return i, ok
	}
	for i := range dh.list {
		if dh.list[i].Party == party && dh.list[i].Symbol == symbol {
			return i, true
		}
	}
	return 0, false
}

// put writes h over the holding of its party and symbol, or adds it.
func (dh *deltaHoldings) put(h Holding) {
	if i, ok := dh.find(h.Party, h.Symbol); ok {
		dh.list[i] = h
		return
	}
	if dh.list == nil {
		dh.list = make([]Holding, 0, 4)
	}
	dh.list = append(dh.list, h)
	switch {
	case dh.index != nil:
		dh.index[holdingKey{h.Party, h.Symbol}] = len(dh.list) - 1
	case len(dh.list) > smallHoldings:
		dh.index = make(map[holdingKey]int, 2*len(dh.list))
		for i := range dh.list {
			dh.index[holdingKey{dh.list[i].Party, dh.list[i].Symbol}] = i
		}
	}
}

// NewDelta starts an empty delta over v. Its maps are made on first write:
// most instructions write holdings and an instrument, and nothing else.
func NewDelta(v View) *Delta {
	return &Delta{base: v}
}

var _ View = (*Delta)(nil)

func (d *Delta) Party(id string) (Party, bool) {
	if p, ok := d.parties[id]; ok {
		return p, true
	}
	return d.base.Party(id)
}

func (d *Delta) Instrument(symbol string) (Instrument, bool) {
	in, ok := d.instrumentRef(symbol)
	if !ok {
		return Instrument{}, false
	}
	return *in, true
}

// instrumentRef is Instrument without the copy, for reading only: the
// instrument is the delta's, valid until its next write or its next read of
// an instrument.
func (d *Delta) instrumentRef(symbol string) (*Instrument, bool) {
	// An instruction writes an instrument or two (those it moves); a party's
	// change of status, one per instrument it holds.
	for i := range d.instruments {
		if d.instruments[i].Symbol == symbol {
			return &d.instruments[i], true
		}
	}
	r := &d.read
	if !r.set || r.symbol != symbol {
		r.symbol, r.set, r.in = symbol, true, nil
		if rv, ok := d.base.(InstrumentRefView); ok {
			if in, found := rv.InstrumentRef(symbol); found {
				r.in = in
			}
		} else if in, found := d.base.Instrument(symbol); found {
			r.own = in
			r.in = &r.own
		}
	}
	return r.in, r.in != nil
}

func (d *Delta) Holding(party, symbol string) (Holding, bool) {
	if i, ok := d.holdings.find(party, symbol); ok {
		return d.holdings.list[i], true
	}
	return d.base.Holding(party, symbol)
}

func (d *Delta) PartyHoldings(party string) []Holding {
	base := d.base.PartyHoldings(party)
	if len(d.holdings.list) == 0 {
		return base
	}
	bySymbol := make(map[string]Holding, len(base))
	for _, h := range base {
		bySymbol[h.Symbol] = h
	}
	for _, h := range d.holdings.list {
		if h.Party == party {
			bySymbol[h.Symbol] = h
		}
	}
	out := make([]Holding, 0, len(bySymbol))
	for _, h := range bySymbol {
		if !h.Balance.IsZero() || !h.Frozen.IsZero() {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out
}

func (d *Delta) Holders(symbol string) []string {
	return MergeHolders(d.base.Holders(symbol), func(yield func(Holding) bool) {
		for _, h := range d.holdings.list {
			if h.Symbol == symbol && !yield(h) {
				return
			}
		}
	})
}

// MergeHolders returns base, the holders of one symbol sorted by id, as the
// changed holdings of that symbol (each party at most once, in any order)
// leave it: a party is a holder while its holding IsHolder. Every view that
// lays writes over a base (Delta over its View, the ledger's batch over its
// bucket) answers Holders with it, so the rule has one owner. With nothing
// changed it returns base itself.
func MergeHolders(base []string, changed iter.Seq[Holding]) []string {
	var set map[string]bool
	for h := range changed {
		if set == nil {
			set = make(map[string]bool, len(base)+1)
			for _, p := range base {
				set[p] = true
			}
		}
		set[h.Party] = h.IsHolder()
	}
	if set == nil {
		return base
	}
	out := make([]string, 0, len(set))
	for p, holds := range set {
		if holds {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (d *Delta) Price(symbol string) (Price, bool) {
	if p, ok := d.prices[symbol]; ok {
		return p, true
	}
	return d.base.Price(symbol)
}

func (d *Delta) Loans(party string) []Loan {
	base := d.base.Loans(party)
	if len(d.loans) == 0 {
		return base
	}
	byKey := map[loanKey]Loan{}
	for _, l := range base {
		byKey[loanKey{l.Party, l.Cash, l.Lender}] = l
	}
	for k, l := range d.loans {
		if k.party == party {
			byKey[k] = l
		}
	}
	out := make([]Loan, 0, len(byKey))
	for _, l := range byKey {
		if !l.Amount.IsZero() {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cash != out[j].Cash {
			return out[i].Cash < out[j].Cash
		}
		return out[i].Lender < out[j].Lender
	})
	return out
}

func (d *Delta) Rulebook() *eligibility.Rulebook {
	if d.rulebook != nil {
		return d.rulebook
	}
	return d.base.Rulebook()
}

func (d *Delta) putParty(p Party) {
	if d.parties == nil {
		d.parties = map[string]Party{}
	}
	d.parties[p.ID] = p
}

func (d *Delta) putInstrument(in Instrument) {
	for i := range d.instruments {
		if d.instruments[i].Symbol == in.Symbol {
			d.instruments[i] = in
			return
		}
	}
	d.instruments = append(d.instruments, in)
}

func (d *Delta) putPrice(p Price) {
	if d.prices == nil {
		d.prices = map[string]Price{}
	}
	d.prices[p.Symbol] = p
}

func (d *Delta) putLoan(l Loan) {
	if d.loans == nil {
		d.loans = map[loanKey]Loan{}
	}
	d.loans[loanKey{l.Party, l.Cash, l.Lender}] = l
}

// putHolding writes a holding and keeps the instrument's holder counts and
// supply-independent totals in step with the change of balance.
func (d *Delta) putHolding(h Holding) {
	if h.Balance.IsNegative() {
		fail("negative balance %s for %s/%s", h.Balance, h.Party, h.Symbol)
	}
	if h.Frozen.GreaterThan(h.Balance) {
		fail("frozen %s above balance %s", h.Frozen, h.Balance)
	}
	old, _ := d.Holding(h.Party, h.Symbol)
	wasHolder, isHolder := old.IsHolder(), h.IsHolder()
	if wasHolder != isHolder {
		in, ok := d.Instrument(h.Symbol)
		if !ok {
			fail("holding of unknown instrument %s", h.Symbol)
		}
		p, _ := d.Party(h.Party)
		step := 1
		if wasHolder {
			step = -1
		}
		in.HolderCount += step
		if p.NonAccredited() {
			in.NonAccreditedHolders += step
		}
		d.putInstrument(in)
	}
	d.holdings.put(h)
}

// Changes lists what the delta writes, each kind sorted by key, so a caller
// commits them in the same order on every node.
type Changes struct {
	Parties     []Party
	Instruments []Instrument
	Holdings    []Holding
	Loans       []Loan
	Prices      []Price
	Rulebook    *eligibility.Rulebook
	// Scheduled is a rulebook set to take force later; the rulebook in
	// force is unchanged. Rulebook and Scheduled are never both set, and
	// either replaces a schedule not yet in force.
	Scheduled *ScheduledRulebook
	// WrittenOff lists the loans a close_out wrote off (margin.go).
	WrittenOff []WriteOff
	// Investments lists the investments the instruction made under
	// investment limits (investment.go), by party, symbol and time.
	Investments []Investment
}

// ScheduledRulebook is a rulebook that takes force from the first batch
// whose time is at or after EffectiveAt.
type ScheduledRulebook struct {
	Rulebook    *eligibility.Rulebook
	EffectiveAt time.Time
}

// Changes returns the writes of the delta in key order.
func (d *Delta) Changes() Changes {
	var c Changes
	if len(d.parties) > 0 {
		c.Parties = make([]Party, 0, len(d.parties))
		for _, p := range d.parties {
			c.Parties = append(c.Parties, p)
		}
		slices.SortFunc(c.Parties, func(a, b Party) int { return cmp.Compare(a.ID, b.ID) })
	}
	if len(d.instruments) > 0 {
		c.Instruments = d.instrumentsOut.clone(d.instruments)
		slices.SortFunc(c.Instruments, func(a, b Instrument) int { return cmp.Compare(a.Symbol, b.Symbol) })
	}
	if len(d.holdings.list) > 0 {
		c.Holdings = d.holdingsOut.clone(d.holdings.list)
		slices.SortFunc(c.Holdings, func(a, b Holding) int {
			if c := cmp.Compare(a.Party, b.Party); c != 0 {
				return c
			}
			return cmp.Compare(a.Symbol, b.Symbol)
		})
	}
	if len(d.loans) > 0 {
		c.Loans = make([]Loan, 0, len(d.loans))
		for _, l := range d.loans {
			c.Loans = append(c.Loans, l)
		}
		slices.SortFunc(c.Loans, func(a, b Loan) int {
			if c := cmp.Compare(a.Party, b.Party); c != 0 {
				return c
			}
			if c := cmp.Compare(a.Cash, b.Cash); c != 0 {
				return c
			}
			return cmp.Compare(a.Lender, b.Lender)
		})
	}
	if len(d.prices) > 0 {
		c.Prices = make([]Price, 0, len(d.prices))
		for _, p := range d.prices {
			c.Prices = append(c.Prices, p)
		}
		slices.SortFunc(c.Prices, func(a, b Price) int { return cmp.Compare(a.Symbol, b.Symbol) })
	}
	c.Rulebook = d.rulebook
	c.Scheduled = d.scheduled
	c.WrittenOff = slices.Clone(d.writtenOff)
	c.Investments = sortedInvestments(d.investments)
	return c
}

// takeLots removes amount from the lots oldest first and returns what was
// taken, appended to taken (which may be a caller's scratch: rest is new).
func takeLots(b *lotBlock, lots []Lot, amount fixed.Decimal, taken []Lot) (rest, _ []Lot) {
	rest = b.make(0, len(lots))
	left := amount
	for _, l := range lots {
		switch {
		case left.IsZero():
			rest = append(rest, l)
		case l.Amount.LessThanOrEqual(left):
			taken = append(taken, l)
			left = left.Sub(l.Amount)
		default:
			taken = append(taken, Lot{Amount: left, AcquiredAt: l.AcquiredAt})
			rest = append(rest, Lot{Amount: l.Amount.Sub(left), AcquiredAt: l.AcquiredAt})
			left = fixed.Zero
		}
	}
	if !left.IsZero() {
		fail("lots short of balance by %s", left)
	}
	return rest, taken
}

// seasonLots merges the lots already past the holding period at now (a
// prefix: lots are kept oldest first) into one lot, dated at the latest of
// them. Without it a holding keeps a lot per receipt forever, and a cash
// account paid thousands of times drags thousands of lots through every
// transfer. Dating the merged lot at the latest, not the earliest, keeps it
// conservative: if a later rulebook lengthens the period, the merged shares
// are never treated as older than they are, so nothing a longer period
// would lock is released. With no holding period every lot is seasoned
// and the holding keeps one.
func seasonLots(b *lotBlock, lots []Lot, period time.Duration, now time.Time) []Lot {
	n := 0
	for n < len(lots) && !lots[n].AcquiredAt.Add(max(period, 0)).After(now) {
		n++
	}
	if n < 2 {
		return lots
	}
	merged := Lot{Amount: lots[0].Amount, AcquiredAt: lots[n-1].AcquiredAt}
	for _, l := range lots[1:n] {
		merged.Amount = merged.Amount.Add(l.Amount)
	}
	out := b.make(0, len(lots)-n+1)
	out = append(out, merged)
	return append(out, lots[n:]...)
}

// addLot appends a lot, merging with the last one when acquired at the same time.
func addLot(b *lotBlock, lots []Lot, l Lot) []Lot {
	out := b.make(len(lots), len(lots)+1)
	copy(out, lots)
	if n := len(out); n > 0 && out[n-1].AcquiredAt.Equal(l.AcquiredAt) {
		out[n-1].Amount = out[n-1].Amount.Add(l.Amount)
		return out
	}
	// Keep lots ordered by acquisition so "oldest first" is the slice order.
	i := sort.Search(len(out), func(i int) bool { return out[i].AcquiredAt.After(l.AcquiredAt) })
	out = append(out, Lot{})
	copy(out[i+1:], out[i:])
	out[i] = l
	return out
}
