package ledger

import (
	"bytes"
	"encoding/json"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// txView is transfer.View over a bbolt transaction. In a write transaction it
// also caches what it decoded and what a batch changed, so a batch decodes
// each object once and writes it once, at flush, in key order.
type txView struct {
	tx       *bolt.Tx
	rulebook *eligibility.Rulebook
	writable bool

	parties     map[string]*transfer.Party // nil value: known absent
	instruments map[string]*transfer.Instrument
	holdings    map[string]*transfer.Holding // key: party 0 symbol
	loans       map[string][]transfer.Loan   // by party, complete list
	prices      map[string]*transfer.Price

	dirtyParties     map[string]bool
	dirtyInstruments map[string]bool
	dirtyHoldings    map[string]bool
	dirtyLoans       map[string]bool
	dirtyPrices      map[string]bool
	history          map[uint64][]balanceChange // by journal seq
	newRulebook      *eligibility.Rulebook
}

// balanceChange is one holding's balance before and after a journal entry.
type balanceChange struct {
	Symbol string `json:"s"`
	Party  string `json:"p"`
	Before string `json:"b"`
	After  string `json:"a"`
}

func newTxView(tx *bolt.Tx, rb *eligibility.Rulebook) *txView {
	return &txView{
		tx: tx, rulebook: rb, writable: tx.Writable(),
		parties: map[string]*transfer.Party{}, instruments: map[string]*transfer.Instrument{},
		holdings: map[string]*transfer.Holding{}, loans: map[string][]transfer.Loan{},
		prices:       map[string]*transfer.Price{},
		dirtyParties: map[string]bool{}, dirtyInstruments: map[string]bool{}, dirtyHoldings: map[string]bool{},
		dirtyLoans: map[string]bool{}, dirtyPrices: map[string]bool{}, history: map[uint64][]balanceChange{},
	}
}

var _ transfer.View = (*txView)(nil)

func decodeJSON(b []byte, v any) {
	err := json.Unmarshal(b, v)
	assert(err == nil, "decode stored %T: %v", v, err)
}

func encodeJSON(v any) []byte {
	b, err := json.Marshal(v)
	assert(err == nil, "encode %T: %v", v, err)
	return b
}

func (v *txView) Party(id string) (transfer.Party, bool) {
	if p, ok := v.parties[id]; ok {
		if p == nil {
			return transfer.Party{}, false
		}
		return *p, true
	}
	raw := v.tx.Bucket(bucketParties).Get([]byte(id))
	if raw == nil {
		v.parties[id] = nil
		return transfer.Party{}, false
	}
	p := new(transfer.Party)
	decodeJSON(raw, p)
	v.parties[id] = p
	return *p, true
}

func (v *txView) Instrument(symbol string) (transfer.Instrument, bool) {
	if in, ok := v.instruments[symbol]; ok {
		if in == nil {
			return transfer.Instrument{}, false
		}
		return *in, true
	}
	raw := v.tx.Bucket(bucketInstruments).Get([]byte(symbol))
	if raw == nil {
		v.instruments[symbol] = nil
		return transfer.Instrument{}, false
	}
	in := new(transfer.Instrument)
	decodeJSON(raw, in)
	v.instruments[symbol] = in
	return *in, true
}

func (v *txView) Holding(party, symbol string) (transfer.Holding, bool) {
	key := string(join(party, symbol))
	if h, ok := v.holdings[key]; ok {
		if h == nil {
			return transfer.Holding{}, false
		}
		return *h, true
	}
	raw := v.tx.Bucket(bucketHoldings).Get([]byte(key))
	if raw == nil {
		v.holdings[key] = nil
		return transfer.Holding{}, false
	}
	h := new(transfer.Holding)
	decodeJSON(raw, h)
	v.holdings[key] = h
	return *h, true
}

func (v *txView) PartyHoldings(party string) []transfer.Holding {
	prefix := append([]byte(party), 0)
	seen := map[string]bool{}
	var out []transfer.Holding
	c := v.tx.Bucket(bucketHoldings).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		sym := string(k[len(prefix):])
		seen[sym] = true
		if h, ok := v.Holding(party, sym); ok && (!h.Balance.IsZero() || !h.Frozen.IsZero()) {
			out = append(out, h)
		}
	}
	// Holdings created in this batch are not in the bucket yet.
	for key := range v.dirtyHoldings {
		if !bytes.HasPrefix([]byte(key), prefix) || seen[key[len(prefix):]] {
			continue
		}
		if h := v.holdings[key]; h != nil && (!h.Balance.IsZero() || !h.Frozen.IsZero()) {
			out = append(out, *h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out
}

func (v *txView) Holders(symbol string) []string {
	prefix := append([]byte(symbol), 0)
	set := map[string]bool{}
	c := v.tx.Bucket(bucketHolders).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		set[string(k[len(prefix):])] = true
	}
	for key := range v.dirtyHoldings {
		h := v.holdings[key]
		if h != nil && h.Symbol == symbol {
			set[h.Party] = h.Balance.Sign() > 0
		}
	}
	out := make([]string, 0, len(set))
	for p, ok := range set {
		if ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func (v *txView) Price(symbol string) (transfer.Price, bool) {
	if p, ok := v.prices[symbol]; ok {
		if p == nil {
			return transfer.Price{}, false
		}
		return *p, true
	}
	raw := v.tx.Bucket(bucketPrices).Get([]byte(symbol))
	if raw == nil {
		v.prices[symbol] = nil
		return transfer.Price{}, false
	}
	p := new(transfer.Price)
	decodeJSON(raw, p)
	v.prices[symbol] = p
	return *p, true
}

func (v *txView) Loans(party string) []transfer.Loan {
	all := v.allLoans(party)
	out := make([]transfer.Loan, 0, len(all))
	for _, l := range all {
		if !l.Amount.IsZero() {
			out = append(out, l)
		}
	}
	return out
}

// allLoans includes loans repaid in this batch (zero), which flush deletes.
func (v *txView) allLoans(party string) []transfer.Loan {
	if ls, ok := v.loans[party]; ok {
		return ls
	}
	prefix := append([]byte(party), 0)
	var out []transfer.Loan
	c := v.tx.Bucket(bucketLoans).Cursor()
	for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
		var l transfer.Loan
		decodeJSON(raw, &l)
		out = append(out, l)
	}
	if v.writable {
		v.loans[party] = out
	}
	return out
}

func (v *txView) Rulebook() *eligibility.Rulebook {
	if v.newRulebook != nil {
		return v.newRulebook
	}
	return v.rulebook
}

// commit merges an accepted instruction's changes into the batch cache and
// records balance history under its journal seq.
func (v *txView) commit(c transfer.Changes, seq uint64) {
	for i := range c.Parties {
		p := c.Parties[i]
		v.parties[p.ID] = &p
		v.dirtyParties[p.ID] = true
	}
	for i := range c.Instruments {
		in := c.Instruments[i]
		v.instruments[in.Symbol] = &in
		v.dirtyInstruments[in.Symbol] = true
	}
	for i := range c.Holdings {
		h := c.Holdings[i]
		key := string(join(h.Party, h.Symbol))
		before := "0"
		if old := v.holdings[key]; old != nil {
			before = old.Balance.String()
		}
		if after := h.Balance.String(); after != before {
			v.history[seq] = append(v.history[seq], balanceChange{Symbol: h.Symbol, Party: h.Party, Before: before, After: after})
		}
		v.holdings[key] = &h
		v.dirtyHoldings[key] = true
	}
	touchedLoans := map[string]bool{}
	for _, l := range c.Loans {
		touchedLoans[l.Party] = true
	}
	for party := range touchedLoans {
		merged := map[string]transfer.Loan{}
		for _, l := range v.allLoans(party) {
			merged[l.Cash+"\x00"+l.Lender] = l
		}
		for _, l := range c.Loans {
			if l.Party == party {
				merged[l.Cash+"\x00"+l.Lender] = l
			}
		}
		list := make([]transfer.Loan, 0, len(merged))
		for _, l := range merged {
			list = append(list, l)
		}
		sort.Slice(list, func(i, j int) bool {
			if list[i].Cash != list[j].Cash {
				return list[i].Cash < list[j].Cash
			}
			return list[i].Lender < list[j].Lender
		})
		v.loans[party] = list
		v.dirtyLoans[party] = true
	}
	for i := range c.Prices {
		p := c.Prices[i]
		v.prices[p.Symbol] = &p
		v.dirtyPrices[p.Symbol] = true
	}
	if c.Rulebook != nil {
		v.newRulebook = c.Rulebook
	}
}

// flush writes every changed object, in key order.
func (v *txView) flush() error {
	put := func(bucket []byte, key string, val any) error {
		return v.tx.Bucket(bucket).Put([]byte(key), encodeJSON(val))
	}
	for _, id := range sortedKeys(v.dirtyParties) {
		if err := put(bucketParties, id, v.parties[id]); err != nil {
			return err
		}
	}
	for _, sym := range sortedKeys(v.dirtyInstruments) {
		if err := put(bucketInstruments, sym, v.instruments[sym]); err != nil {
			return err
		}
	}
	holders := v.tx.Bucket(bucketHolders)
	for _, key := range sortedKeys(v.dirtyHoldings) {
		h := v.holdings[key]
		idx := join(h.Symbol, h.Party)
		var err error
		if h.Balance.IsZero() && h.Frozen.IsZero() {
			err = v.tx.Bucket(bucketHoldings).Delete([]byte(key))
		} else {
			err = put(bucketHoldings, key, h)
		}
		if err == nil && h.Balance.Sign() > 0 {
			err = holders.Put(idx, present)
		} else if err == nil {
			err = holders.Delete(idx)
		}
		if err != nil {
			return err
		}
	}
	loans := v.tx.Bucket(bucketLoans)
	for _, party := range sortedKeys(v.dirtyLoans) {
		for _, l := range v.loans[party] {
			key := join(l.Party, l.Cash, l.Lender)
			var err error
			if l.Amount.IsZero() {
				err = loans.Delete(key)
			} else {
				err = loans.Put(key, encodeJSON(l))
			}
			if err != nil {
				return err
			}
		}
	}
	for _, sym := range sortedKeys(v.dirtyPrices) {
		if err := put(bucketPrices, sym, v.prices[sym]); err != nil {
			return err
		}
	}
	// Balance history is appended by seq, so it costs sequential pages, not
	// a random page per holding.
	hist := v.tx.Bucket(bucketHistory)
	seqs := make([]uint64, 0, len(v.history))
	for seq := range v.history {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, seq := range seqs {
		if err := hist.Put(seqKey(seq), encodeJSON(v.history[seq])); err != nil {
			return err
		}
	}
	if v.newRulebook != nil {
		if err := v.tx.Bucket(bucketMeta).Put(metaRulebook, v.newRulebook.YAML()); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
