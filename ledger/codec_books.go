package ledger

import "github.com/tokenledger/tokenledger/transfer"

// Optional fields of the transfer agent's books (numbers 10-19 of each
// record; schema.go lists them with the layouts).
const (
	optPartyAffiliateOf uint64 = 10
	optPartyClosed      uint64 = 11
	optPartyFrozenBy    uint64 = 12

	optHoldingFrozenBy  uint64 = 10
	optHoldingSales     uint64 = 11
	optHoldingPurchased uint64 = 12

	optInstrumentPurchasers uint64 = 10
)

// writePartyBooks appends the party's optional book fields that are set.
func writePartyBooks(w *recordWriter, p *transfer.Party) {
	if len(p.AffiliateOf) > 0 {
		w.Opt(optPartyAffiliateOf)
		w.Uvarint(uint64(len(p.AffiliateOf)))
		for _, s := range p.AffiliateOf {
			w.Str(s)
		}
	}
	if p.Closed {
		w.Opt(optPartyClosed)
		w.Bool(true)
	}
	if p.FrozenBy != "" {
		w.Opt(optPartyFrozenBy)
		w.Str(p.FrozenBy)
	}
}

// readPartyBooks reads optional field n into p, or reports it is not one
// of the books'.
func readPartyBooks(r *recordReader, n uint64, p *transfer.Party) bool {
	switch n {
	case optPartyAffiliateOf:
		c := r.Uvarint()
		if c == 0 || c > uint64(r.Len()) {
			r.fail("affiliate_of")
		}
		p.AffiliateOf = make([]string, c)
		for i := range p.AffiliateOf {
			p.AffiliateOf[i] = r.Str()
		}
	case optPartyClosed:
		p.Closed = r.Bool()
	case optPartyFrozenBy:
		p.FrozenBy = r.Str()
	default:
		return false
	}
	return true
}

// writeHoldingBooks appends the holding's optional book fields that are set.
func writeHoldingBooks(w *recordWriter, h *transfer.Holding) {
	if h.FrozenBy != "" {
		w.Opt(optHoldingFrozenBy)
		w.Str(h.FrozenBy)
	}
	if len(h.Sales) > 0 {
		w.Opt(optHoldingSales)
		w.Uvarint(uint64(len(h.Sales)))
		for i := range h.Sales {
			w.Fixed(h.Sales[i].Amount)
			w.Time(h.Sales[i].AcquiredAt)
		}
	}
	if h.Purchased {
		w.Opt(optHoldingPurchased)
		w.Bool(true)
	}
}

// writeInstrumentBooks appends the instrument's optional book fields that
// are set.
func writeInstrumentBooks(w *recordWriter, in *transfer.Instrument) {
	if in.NonAccreditedPurchasers != 0 {
		w.Opt(optInstrumentPurchasers)
		w.Uvarint(uint64(in.NonAccreditedPurchasers))
	}
}

// readInstrumentBooks reads optional field n into in, or reports it is not
// one of the books'.
func readInstrumentBooks(r *recordReader, n uint64, in *transfer.Instrument) bool {
	switch n {
	case optInstrumentPurchasers:
		in.NonAccreditedPurchasers = int(r.Uvarint())
	default:
		return false
	}
	return true
}

// readHoldingBooks reads optional field n into h, or reports it is not one
// of the books'.
func readHoldingBooks(r *recordReader, n uint64, h *transfer.Holding) bool {
	switch n {
	case optHoldingFrozenBy:
		h.FrozenBy = r.Str()
	case optHoldingSales:
		c := r.Uvarint()
		if c == 0 || c > uint64(r.Len()) {
			r.fail("sales")
		}
		h.Sales = make([]transfer.Lot, c)
		for i := range h.Sales {
			h.Sales[i].Amount = r.Fixed()
			h.Sales[i].AcquiredAt = r.Time()
		}
	case optHoldingPurchased:
		h.Purchased = r.Bool()
	default:
		return false
	}
	return true
}
