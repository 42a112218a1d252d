package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/fixed"
	"github.com/tokenledger/tokenledger/internal/wire"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
	bolt "go.etcd.io/bbolt"
)

// indexWorld is a random journal and, after each batch, the cap table of
// every symbol as its holdings stood then: the reference the indexes must
// agree with.
type indexWorld struct {
	h      *harness
	r      *rand.Rand
	tables map[uint64]map[string][]Holder // seq -> symbol -> holders (balance > 0), party order
}

// newIndexWorld applies steps random instructions, one batch each, and
// records the reference tables from the holdings each party reads now.
func newIndexWorld(t *testing.T, seed int64, steps int) *indexWorld {
	h := newHarness(t)
	h.propertyWorld()
	w := &indexWorld{h: h, r: rand.New(rand.NewSource(seed)), tables: map[uint64]map[string][]Holder{}}
	w.record()
	g := newGen(seed)
	for range steps {
		actor, body := g.next()
		h.apply(InstructionItem(actor, []byte(body)))
		w.record()
	}
	return w
}

func (w *indexWorld) head() uint64 {
	return mustAnswer(w.h.t, "journal", func() (Verification, error) { return w.h.s.VerifyJournal() }).Length
}

func (w *indexWorld) record() {
	t := w.h.t
	parties := mustAnswer(t, "parties", w.h.s.Parties)
	tables := map[string][]Holder{}
	for _, p := range parties { // in party order
		hs := mustAnswer(t, "holdings", func() (Holdings, error) { return w.h.s.PartyHoldings(p.ID, w.h.now) })
		for _, l := range hs.Holdings {
			if l.Balance.Sign() > 0 {
				tables[l.Symbol] = append(tables[l.Symbol], Holder{Party: p.ID, Balance: l.Balance})
			}
		}
	}
	w.tables[w.head()] = tables
}

// pages reads a whole cap table through HoldersPage with random limits.
func (w *indexWorld) pages(t *testing.T, q HoldersQuery) (all []Holder, supply decimal.Decimal, seq uint64) {
	t.Helper()
	for n := 0; ; n++ {
		q.Limit = 1 + w.r.Intn(4)
		page, err := w.h.s.HoldersPage(q)
		if err != nil {
			t.Fatalf("HoldersPage(%+v): %v", q, err)
		}
		if len(page.Holders) > q.Limit {
			t.Fatalf("HoldersPage(%+v): %d holders, over the limit", q, len(page.Holders))
		}
		if n > 0 && page.Seq != seq {
			t.Fatalf("HoldersPage(%+v): seq %d, the first page's was %d", q, page.Seq, seq)
		}
		all, supply, seq = append(all, page.Holders...), page.Supply, page.Seq
		if page.Next == "" {
			return all, supply, seq
		}
		if page.Next <= q.After {
			t.Fatalf("HoldersPage(%+v): next %q does not move on", q, page.Next)
		}
		q.After, q.At, q.Now = page.Next, page.Seq, false
	}
}

func holderLines(hs []Holder) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.Party+":"+h.Balance.String())
	}
	return out
}

func sumOf(hs []Holder) decimal.Decimal {
	sum := decimal.Zero
	for _, h := range hs {
		sum = sum.Add(h.Balance)
	}
	return sum
}

// TestHoldersPagesAgreeWithHoldings checks, for random seqs of random
// journals, that a cap table read a page at a time with random limits is
// the table the holdings gave at that seq (every party's own holdings, read
// then), with the supply then; now and at the head alike; that at 0 is the
// empty table and a seq beyond the journal ErrSeqAhead.
func TestHoldersPagesAgreeWithHoldings(t *testing.T) {
	seeds, steps := 4, 150
	if testing.Short() {
		seeds, steps = 2, 80
	}
	runSeeds(t, seeds, func(t *testing.T, seed int64) {
		w := newIndexWorld(t, seed, steps)
		head := w.head()
		seqs := make([]uint64, 0, len(w.tables))
		for seq := range w.tables {
			seqs = append(seqs, seq)
		}
		slices.Sort(seqs)
		symbols := []string{"USD", "REG", "PRIV", "CROWD", "SF2", "BTC"}
		for range 40 {
			seq := seqs[w.r.Intn(len(seqs))]
			for _, sym := range symbols {
				want := w.tables[seq][sym]
				got, supply, gotSeq := w.pages(t, HoldersQuery{Symbol: sym, At: seq})
				if !slices.Equal(holderLines(got), holderLines(want)) || gotSeq != seq {
					t.Fatalf("seed %d: %s at %d = %v (seq %d), want %v", seed, sym, seq, holderLines(got), gotSeq, holderLines(want))
				}
				if !supply.Equal(sumOf(want)) {
					t.Fatalf("seed %d: supply of %s at %d = %s, want %s", seed, sym, seq, supply, sumOf(want))
				}
			}
		}
		for _, sym := range symbols {
			want := holderLines(w.tables[head][sym])
			for _, q := range []HoldersQuery{{Symbol: sym, Now: true}, {Symbol: sym, At: head}} {
				if got, _, seq := w.pages(t, q); !slices.Equal(holderLines(got), want) || seq != head {
					t.Fatalf("seed %d: %+v = %v at %d, want %v at %d", seed, q, holderLines(got), seq, want, head)
				}
			}
			empty, err := w.h.s.HoldersPage(HoldersQuery{Symbol: sym, At: 0})
			if err != nil || empty.Seq != 0 || len(empty.Holders) != 0 || !empty.Supply.IsZero() || empty.Next != "" {
				t.Fatalf("seed %d: %s at 0 = %+v, %v; want the empty table", seed, sym, empty, err)
			}
			if _, err := w.h.s.HoldersPage(HoldersQuery{Symbol: sym, At: head + 1}); !errors.Is(err, ErrSeqAhead) {
				t.Fatalf("seed %d: %s at %d (beyond %d): %v, want ErrSeqAhead", seed, sym, head+1, head, err)
			}
		}
		if _, err := w.h.s.HoldersPage(HoldersQuery{Symbol: "NOPE", Now: true}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("HoldersPage of an unknown symbol: %v, want ErrNotFound", err)
		}
	})
}

// filtered reads every page of q with random limits.
func (w *indexWorld) filtered(t *testing.T, q JournalQuery) []uint64 {
	t.Helper()
	return pagedSeqs(t, w.h.s, q, func() int { return 1 + w.r.Intn(7) })
}

// TestJournalIndexesAgreeWithAScan checks that every party's and symbol's
// journal, and their intersections, read from the indexes a page at a
// time, are the entries a scan of the whole journal selects by the parties
// and symbols each serves; that a full page has next exactly when the
// journal goes on; and that the indexes, dropped and rebuilt on Open as a
// schema 3 file gets them (a few entries a transaction, cut short once),
// answer the same.
func TestJournalIndexesAgreeWithAScan(t *testing.T) {
	seeds, steps := 3, 200
	if testing.Short() {
		seeds, steps = 1, 100
	}
	runSeeds(t, seeds, func(t *testing.T, seed int64) {
		w := newIndexWorld(t, seed, steps)
		var all []JournalEntry
		for after := uint64(0); ; {
			page, err := w.h.s.Journal(JournalQuery{After: after, Limit: MaxJournalPage})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.Entries...)
			if page.Next == 0 {
				break
			}
			after = page.Next
		}
		parties, symbols := map[string]bool{"nobody": true}, map[string]bool{"NOPE": true}
		for _, e := range all {
			for _, p := range e.Parties {
				parties[p] = true
			}
			for _, s := range e.Symbols {
				symbols[s] = true
			}
		}
		scan := func(party, symbol string) []uint64 {
			var out []uint64
			for _, e := range all {
				if (party == "" || slices.Contains(e.Parties, party)) && (symbol == "" || slices.Contains(e.Symbols, symbol)) {
					out = append(out, e.Seq)
				}
			}
			return out
		}
		check := func(when string) {
			for p := range parties {
				if got, want := w.filtered(t, JournalQuery{Party: p}), scan(p, ""); !slices.Equal(got, want) {
					t.Fatalf("seed %d %s: party %s: %v, want %v", seed, when, p, got, want)
				}
				for s := range symbols {
					if got, want := w.filtered(t, JournalQuery{Party: p, Symbol: s}), scan(p, s); !slices.Equal(got, want) {
						t.Fatalf("seed %d %s: party %s symbol %s: %v, want %v", seed, when, p, s, got, want)
					}
				}
			}
			for s := range symbols {
				if got, want := w.filtered(t, JournalQuery{Symbol: s}), scan("", s); !slices.Equal(got, want) {
					t.Fatalf("seed %d %s: symbol %s: %v, want %v", seed, when, s, got, want)
				}
			}
		}
		check("as applied")

		// next: a full page has one exactly when the journal goes on.
		last := all[len(all)-1]
		page, err := w.h.s.Journal(JournalQuery{Party: last.Actor, After: last.Seq - 1, Limit: 1})
		if err != nil || len(page.Entries) != 1 || page.Next != 0 {
			t.Fatalf("the last entry's page: %+v, %v; want it alone without next", page, err)
		}
		first := scan(OperatorID, "")[0]
		page, err = w.h.s.Journal(JournalQuery{Party: OperatorID, After: first - 1, Limit: 1})
		if err != nil || len(page.Entries) != 1 || page.Next != first {
			t.Fatalf("the operator's first page of 1: %+v, %v; want next %d", page, err, first)
		}

		// Drop the indexes, as in a schema 3 file, build some, and let Open
		// finish.
		path := w.h.s.cfg.Path
		if err := w.h.s.Close(); err != nil {
			t.Fatal(err)
		}
		dropIndexes(t, path, 7)
		w.h.s = openStore(t, path, true)
		if errs := w.h.s.Check(); len(errs) > 0 {
			t.Fatalf("Check after rebuilding the indexes: %v", errs)
		}
		check("rebuilt")
		head := w.head()
		for _, sym := range []string{"USD", "REG", "BTC"} {
			seq := uint64(1 + w.r.Intn(int(head)))
			for w.tables[seq] == nil {
				seq++
			}
			if got, _, _ := w.pages(t, HoldersQuery{Symbol: sym, At: seq}); !slices.Equal(holderLines(got), holderLines(w.tables[seq][sym])) {
				t.Fatalf("seed %d rebuilt: %s at %d = %v, want %v", seed, sym, seq, holderLines(got), holderLines(w.tables[seq][sym]))
			}
		}
	})
}

// dropIndexes makes the state file at path a schema 3 file, as the release
// before the indexes wrote it, with the first steps of the index build done
// (limit entries each), as an Open cut short leaves it.
func dropIndexes(t *testing.T, path string, limit uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = updateKV(db, func(tx *kv.Tx) error {
		if err := writeHistory(tx); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketJournalParty, bucketJournalSymbol, bucketBalances, bucketSupplies} {
			if err := tx.Bolt().DeleteBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, []byte(schemaBinaryJournal))
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := db.Update(func(tx *bolt.Tx) error { _, err := buildIndexesStep(tx, limit, false); return err }); err != nil {
			t.Fatal(err)
		}
	}
	_ = viewKV(db, func(tx *kv.Tx) error {
		if got := getUint(tx.Bucket(bucketMeta), metaIndexSeq); got != 2*limit {
			t.Errorf("index_seq after two steps of %d = %d", limit, got)
		}
		return nil
	})
}

// writeHistory writes the history bucket schemas 3 to 5 kept, each entry's
// balance changes under its seq, from the balances index and the holdings'
// tails that hold them too, and takes the tails out of the holdings, as a
// schema 3 file has them.
func writeHistory(tx *kv.Tx) error {
	bySeq := map[uint64][]balanceChange{}
	var group []byte
	before := decimal.Zero
	walkBalancePoints(tx, func(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }, storedTail(tx), func(g []byte, seq uint64, r *wire.Reader) {
		if !bytes.Equal(g, group) {
			group, before = bytes.Clone(g), decimal.Zero
		}
		parts := splitKey(g[:len(g)-1], 2, "balances")
		after := r.Decimal()
		bySeq[seq] = append(bySeq[seq], balanceChange{Symbol: parts[0], Party: parts[1], Before: fixed.From(before), After: fixed.From(after)})
		before = after
	}, func(_, _ []byte) {})
	holdings := tx.Bucket(bucketHoldings)
	var keys, vals [][]byte
	_ = holdings.ForEach(func(k, v []byte) error {
		keys, vals = append(keys, bytes.Clone(k)), append(vals, encodeHolding(nil, decodeHoldingKV(k, v)))
		return nil
	})
	for i := range keys {
		if err := holdings.Put(keys[i], vals[i]); err != nil {
			return err
		}
	}
	hist, err := tx.Bolt().CreateBucketIfNotExists(bucketHistory)
	if err != nil {
		return err
	}
	for _, seq := range slices.Sorted(maps.Keys(bySeq)) {
		if err := hist.Put(seqKey(seq), encodeHistory(nil, bySeq[seq])); err != nil {
			return err
		}
	}
	return nil
}

// TestRecoverListsTheSymbolsItMoved checks that a recover's journal entry
// lists the symbols it moved (the instruction names none), that the symbol's
// journal finds it, and that its hash is recomputed from what it serves.
func TestRecoverListsTheSymbolsItMoved(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "10"))
	h.mustAccept(OperatorID, mintBody("USD", "acc-us", "5"))
	o := h.mustAccept(OperatorID, ins("recover", map[string]any{"from": "acc-us", "to": "qp-us"}))
	page, err := h.s.Journal(JournalQuery{After: o.Seq - 1, Limit: 1})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("Journal: %+v, %v", page, err)
	}
	e := page.Entries[0]
	if want := []string{"REG", "USD"}; !slices.Equal(e.Symbols, want) {
		t.Errorf("recover's symbols = %v, want %v", e.Symbols, want)
	}
	if got, err := ComputeHash(e); err != nil || got != e.Hash {
		t.Errorf("ComputeHash(recover) = %s, %v; want %s", got, err, e.Hash)
	}
	raw, _ := json.Marshal(e)
	var served JournalEntry
	_ = json.Unmarshal(raw, &served)
	served.Symbols = []string{"REG"}
	if got, err := ComputeHash(served); err == nil && got == e.Hash {
		t.Error("dropping a moved symbol keeps the hash")
	}
	for _, sym := range []string{"REG", "USD"} {
		page, err := h.s.Journal(JournalQuery{Symbol: sym, After: o.Seq - 1})
		if err != nil || len(page.Entries) != 1 || page.Entries[0].Seq != o.Seq {
			t.Errorf("Journal(symbol %s) = %+v, %v; want the recover", sym, page, err)
		}
	}
}

// TestCheckFindsBalanceIndexFaults damages the balances and supplies
// indexes one way at a time and checks that Check reports each.
func TestCheckFindsBalanceIndexFaults(t *testing.T) {
	type seqs struct{ m1, m2, t1, t2, m3 uint64 }
	bal := func(party string, seq uint64) []byte {
		return binary.BigEndian.AppendUint64(append(join("USD", party), 0), seq)
	}
	sup := func(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte("USD\x00"), seq) }
	amount := func(s string) []byte { return encodeBalance(nil, decimal.RequireFromString(s)) }
	tests := []struct {
		name   string
		damage func(tx *kv.Tx, q seqs) error
	}{
		{"a balance changed", func(tx *kv.Tx, q seqs) error {
			return tx.Bucket(bucketBalances).Put(bal("ret-us", q.t1), amount("91"))
		}},
		{"a balance dropped before the last", func(tx *kv.Tx, q seqs) error {
			return tx.Bucket(bucketBalances).Delete(bal("ret-us", q.t2))
		}},
		{"a holding's balances dropped", func(tx *kv.Tx, q seqs) error {
			b := tx.Bucket(bucketBalances)
			for _, seq := range []uint64{q.m2, q.t1, q.t2} {
				if err := b.Delete(bal("acc-us", seq)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"a balance recorded again, unchanged", func(tx *kv.Tx, q seqs) error {
			return tx.Bucket(bucketBalances).Put(bal("acc-us", q.m3), amount("55"))
		}},
		{"a change moved to an entry that does not serve the party", func(tx *kv.Tx, q seqs) error {
			b := tx.Bucket(bucketBalances)
			if err := b.Delete(bal("ret-us", q.t1)); err != nil {
				return err
			}
			return b.Put(bal("ret-us", q.m2), amount("90"))
		}},
		{"a supply changed", func(tx *kv.Tx, q seqs) error {
			return tx.Bucket(bucketSupplies).Put(sup(q.m2), amount("151"))
		}},
		{"a supply dropped", func(tx *kv.Tx, q seqs) error {
			return tx.Bucket(bucketSupplies).Delete(sup(q.m2))
		}},
		{"a supply added where the balances sum to no change", func(tx *kv.Tx, q seqs) error {
			return tx.Bucket(bucketSupplies).Put(sup(q.t1), amount("151"))
		}},
		{"a mint's supply change moved to another mint", func(tx *kv.Tx, q seqs) error {
			b := tx.Bucket(bucketSupplies)
			if err := b.Delete(sup(q.m2)); err != nil {
				return err
			}
			// m1 now adds 150 at once, m3 still ends at 157.
			return b.Put(sup(q.m1), amount("150"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, h := openWorld(t, filepath.Join(t.TempDir(), "state.db"))
			defer s.Close()
			var q seqs
			q.m1 = h.mustAccept(OperatorID, mintBody("USD", "ret-us", "100")).Seq
			q.m2 = h.mustAccept(OperatorID, mintBody("USD", "acc-us", "50")).Seq
			q.t1 = h.mustAccept("ret-us", transferBody("USD", "ret-us", "acc-us", "10")).Seq
			q.t2 = h.mustAccept("acc-us", transferBody("USD", "acc-us", "ret-us", "5")).Seq
			q.m3 = h.mustAccept(OperatorID, mintBody("USD", "ret-us", "7")).Seq
			if errs := s.Check(); len(errs) > 0 {
				t.Fatalf("Check before the damage: %v", errs)
			}
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			// Each balance and supply under a key of its own, for the
			// damage to find.
			if err := updateKV(s.db, func(tx *kv.Tx) error {
				if err := spillTails(tx); err != nil {
					return err
				}
				return spillSupplies(tx)
			}); err != nil {
				t.Fatal(err)
			}
			if errs := s.Check(); len(errs) > 0 {
				t.Fatalf("Check of the balances each under its key: %v", errs)
			}
			if err := updateKV(s.db, func(tx *kv.Tx) error { return tc.damage(tx, q) }); err != nil {
				t.Fatal(err)
			}
			errs := s.Check()
			if len(errs) == 0 {
				t.Fatalf("Check after %s found nothing", tc.name)
			}
			t.Logf("%s: %v", tc.name, errs)
		})
	}
}

// supplyPoint is one change in the supplies index.
type supplyPoint struct {
	key    []byte // symbol 0 seq
	supply decimal.Decimal
}

// supplyPoints is the supplies index, change by change.
func supplyPoints(tx *kv.Tx) []supplyPoint {
	var out []supplyPoint
	_ = tx.Bucket(bucketSupplies).ForEach(func(k, v []byte) error {
		if v[0] != tagBalanceChunk {
			out = append(out, supplyPoint{bytes.Clone(k), decodeBalance(v)})
			return nil
		}
		r := wire.NewReader(v[1:])
		for range r.Uvarint() {
			seq := r.Uvarint()
			out = append(out, supplyPoint{binary.BigEndian.AppendUint64(bytes.Clone(k[:len(k)-8]), seq), r.Decimal()})
		}
		return nil
	})
	return out
}

// putSupplies replaces the supplies index with values: each a key and its
// points, one point giving a value of one change (schema 9) unless chunk.
func putSupplies(tx *kv.Tx, values [][]supplyPoint, chunk bool) error {
	b := tx.Bucket(bucketSupplies)
	var old [][]byte
	_ = b.ForEach(func(k, _ []byte) error { old = append(old, bytes.Clone(k)); return nil })
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for _, ps := range values {
		var v []byte
		if len(ps) == 1 && !chunk {
			v = encodeBalance(nil, ps[0].supply)
		} else {
			w := wire.Writer{B: binary.AppendUvarint([]byte{tagBalanceChunk}, uint64(len(ps)))}
			for _, p := range ps {
				w.B = binary.AppendUvarint(w.B, binary.BigEndian.Uint64(p.key[len(p.key)-8:]))
				w.Decimal(p.supply)
			}
			v = w.B
		}
		if err := b.Put(ps[0].key, v); err != nil {
			return err
		}
	}
	return nil
}

// spillSupplies puts each supply change under a key of its own, as schema
// 9 kept them.
func spillSupplies(tx *kv.Tx) error {
	var values [][]supplyPoint
	for _, p := range supplyPoints(tx) {
		values = append(values, []supplyPoint{p})
	}
	return putSupplies(tx, values, false)
}

// supplyWorld mints USD 2·supplyChunk+5 times, with a transfer after
// each, and commits. It returns the mints' seqs.
func supplyWorld(t *testing.T) (*Store, *harness, []uint64) {
	t.Helper()
	s, h := openWorld(t, filepath.Join(t.TempDir(), "state.db"))
	t.Cleanup(func() { s.Close() })
	var seqs []uint64
	for i := range 2*supplyChunk + 5 {
		seqs = append(seqs, h.mustAccept(OperatorID, mintBody("USD", "ret-us", fmt.Sprint(i+1))).Seq)
		h.mustAccept("ret-us", transferBody("USD", "ret-us", "acc-us", "1"))
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	return s, h, seqs
}

// usdSupplies is the USD values of the supplies index: their keys, and
// each change.
func usdSupplies(t *testing.T, s *Store) (keys [][]byte, points []supplyPoint) {
	t.Helper()
	usd := []byte("USD\x00")
	if err := viewKV(s.db, func(tx *kv.Tx) error {
		_ = tx.Bucket(bucketSupplies).ForEach(func(k, _ []byte) error {
			if bytes.HasPrefix(k, usd) {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		for _, p := range supplyPoints(tx) {
			if bytes.HasPrefix(p.key, usd) {
				points = append(points, p)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys, points
}

// TestSupplyChunks checks the supplies index's layout: a symbol's changes
// supplyChunk to a value under the seq of its first; that the supply at
// each seq reads as minted; and that a file whose supplies were kept a key
// a change (schema 9) goes on in chunks after them, Check passing
// throughout.
func TestSupplyChunks(t *testing.T) {
	s, h, seqs := supplyWorld(t)
	keys, usd := usdSupplies(t, s)
	if len(usd) < len(seqs) {
		t.Fatalf("%d USD supply changes, %d mints", len(usd), len(seqs))
	}
	if want := (len(usd) + supplyChunk - 1) / supplyChunk; len(keys) != want {
		t.Errorf("%d USD supplies values for %d changes, want %d", len(keys), len(usd), want)
	}
	for i, k := range keys {
		if !bytes.Equal(k, usd[i*supplyChunk].key) {
			t.Errorf("value %d at %x, its first change at %x", i, k, usd[i*supplyChunk].key)
		}
	}
	supplyAtSeq := func(seq uint64) decimal.Decimal {
		var d decimal.Decimal
		if err := viewKV(s.db, func(tx *kv.Tx) error {
			d = supplyAt(tx.Bucket(bucketSupplies).Cursor(), "USD", seq)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Before the first mint the supply was the set-up's; each mint i adds
	// i+1, the transfer after it nothing.
	base := supplyAtSeq(seqs[0] - 1)
	for i, seq := range seqs {
		want := base.Add(decimal.NewFromInt(int64((i + 1) * (i + 2) / 2)))
		for _, at := range []uint64{seq, seq + 1} {
			if got := supplyAtSeq(at); !got.Equal(want) {
				t.Fatalf("supply of USD at %d: %s, want %s", at, got, want)
			}
		}
	}
	if errs := s.Check(); len(errs) > 0 {
		t.Fatalf("Check: %v", errs)
	}

	// A schema 9 file: a key a change. New changes go into chunks after.
	if err := updateKV(s.db, func(tx *kv.Tx) error { return spillSupplies(tx) }); err != nil {
		t.Fatal(err)
	}
	// The file changed under the store, as only an upgrade changes it: the
	// state Apply keeps from call to call (the supplies' last values with
	// it) is the old file's, so it goes, as it does at Open.
	s.wmu.Lock()
	s.calls = callState{}
	s.wmu.Unlock()
	if errs := s.Check(); len(errs) > 0 {
		t.Fatalf("Check of the supplies a key a change: %v", errs)
	}
	_, before := usdSupplies(t, s)
	more := supplyChunk + 2
	for i := range more {
		h.mustAccept(OperatorID, mintBody("USD", "acc-us", fmt.Sprint(i+1)))
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if errs := s.Check(); len(errs) > 0 {
		t.Fatalf("Check after changes in chunks: %v", errs)
	}
	keys, after := usdSupplies(t, s)
	if want := len(before) + 2; len(keys) != want || len(after) != len(before)+more {
		t.Errorf("%d values for %d changes, want %d for %d", len(keys), len(after), want, len(before)+more)
	}
	if got, want := supplyAtSeq(math.MaxUint32), after[len(after)-1].supply; !got.Equal(want) {
		t.Errorf("supply of USD now %s, want %s", got, want)
	}
}

// TestCheckFindsSupplyChunkFaults lays the supplies index out wrongly, one
// way at a time, and checks that Check names each.
func TestCheckFindsSupplyChunkFaults(t *testing.T) {
	// chunks lays points out as the writer does, supplyChunk to a value.
	chunks := func(ps []supplyPoint) [][]supplyPoint {
		var out [][]supplyPoint
		for i, p := range ps {
			sym := p.key[:len(p.key)-8]
			if i == 0 || !bytes.Equal(sym, ps[i-1].key[:len(ps[i-1].key)-8]) || len(out[len(out)-1]) == supplyChunk {
				out = append(out, nil)
			}
			out[len(out)-1] = append(out[len(out)-1], p)
		}
		return out
	}
	full := func(v [][]supplyPoint) int {
		i := slices.IndexFunc(v, func(c []supplyPoint) bool { return len(c) == supplyChunk })
		if i < 0 || i+1 >= len(v) {
			panic("no full chunk with one after it")
		}
		return i
	}
	tests := []struct {
		name, want string
		damage     func(v [][]supplyPoint) [][]supplyPoint
	}{
		{"as written", "", func(v [][]supplyPoint) [][]supplyPoint { return v }},
		{"a chunk split", "ends before it is full", func(v [][]supplyPoint) [][]supplyPoint {
			i := full(v)
			c := v[i]
			return slices.Insert(slices.Delete(v, i, i+1), i, c[:3], c[3:])
		}},
		{"two chunks in one", "holds", func(v [][]supplyPoint) [][]supplyPoint {
			i := full(v)
			v[i] = append(slices.Clone(v[i]), v[i+1]...)
			return slices.Delete(v, i+1, i+2)
		}},
		{"a change dropped", "do not change where and by what", func(v [][]supplyPoint) [][]supplyPoint {
			i := full(v)
			v[i] = slices.Delete(slices.Clone(v[i]), 5, 6)
			return v
		}},
		{"a change altered", "do not change where and by what", func(v [][]supplyPoint) [][]supplyPoint {
			i := full(v)
			v[i] = slices.Clone(v[i])
			v[i][5].supply = v[i][5].supply.Add(decimal.NewFromInt(1))
			return v
		}},
		{"a change recorded twice", "records no change", func(v [][]supplyPoint) [][]supplyPoint {
			// In the symbol's last chunk, which has room.
			i := full(v)
			sym := v[i][0].key[:len(v[i][0].key)-8]
			for i+1 < len(v) && bytes.HasPrefix(v[i+1][0].key, sym) {
				i++
			}
			c := v[i]
			p := c[len(c)-1]
			seq := binary.BigEndian.Uint64(p.key[len(p.key)-8:])
			p.key = binary.BigEndian.AppendUint64(bytes.Clone(p.key[:len(p.key)-8]), seq+1)
			v[i] = append(slices.Clone(c), p)
			return v
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := supplyWorld(t)
			if err := updateKV(s.db, func(tx *kv.Tx) error {
				return putSupplies(tx, tc.damage(chunks(supplyPoints(tx))), true)
			}); err != nil {
				t.Fatal(err)
			}
			errs := fmt.Sprint(s.Check())
			if tc.want == "" {
				if errs != "[]" {
					t.Fatalf("Check of the layout rewritten as written: %s", errs)
				}
				return
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("Check after %s: %s; want %q", tc.name, errs, tc.want)
			}
		})
	}
}

// TestCheckFindsIDFaults points an id at the wrong journal entry, or at
// none, and checks that Check names the id.
func TestCheckFindsIDFaults(t *testing.T) {
	tests := []struct {
		name, want string
		seq        func(own, other uint64) uint64
	}{
		{"another instruction's entry", "of instruction", func(_, other uint64) uint64 { return other }},
		{"an entry beyond the journal", "which does not exist", func(_, _ uint64) uint64 { return 1 << 30 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, h := openWorld(t, filepath.Join(t.TempDir(), "state.db"))
			defer s.Close()
			own := h.mustAccept(OperatorID, ins("mint", map[string]any{"id": "mint-a", "symbol": "USD", "to": "ret-us", "amount": "1"}))
			other := h.mustAccept(OperatorID, mintBody("USD", "ret-us", "2"))
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := updateKV(s.db, func(tx *kv.Tx) error {
				// The journal answers for mint-a (schema 11); a record as
				// schema 10 wrote one, damaged, answers first.
				ids := tx.Bucket(bucketIDs)
				if raw := ids.Get([]byte("mint-a")); raw != nil {
					return fmt.Errorf("id mint-a has a record %x; want none", raw)
				}
				rec := idRecord{Seq: tc.seq(own.Seq, other.Seq), BodyServed: true}
				return ids.Put([]byte("mint-a"), encodeIDRecord(nil, &rec))
			}); err != nil {
				t.Fatal(err)
			}
			errs := s.Check()
			if len(errs) == 0 {
				t.Fatalf("Check after pointing an id at %s found nothing", tc.name)
			}
			if got := fmt.Sprint(errs); !strings.Contains(got, "id mint-a") || !strings.Contains(got, tc.want) {
				t.Errorf("Check: %s; want it to name id mint-a and say %q", got, tc.want)
			}
		})
	}
}

// TestCheckFindsHoldingIndexFaults damages what Check compares each holding
// with through in-memory sets (hashedKeys) and checks the finding names it.
func TestCheckFindsHoldingIndexFaults(t *testing.T) {
	tests := []struct {
		name, want string
		damage     func(tx *kv.Tx, last uint64) error
	}{
		{"the last balance changed", "balances ends at 103 USD for ret-us", func(tx *kv.Tx, last uint64) error {
			key := binary.BigEndian.AppendUint64(append(join("USD", "ret-us"), 0), last)
			return tx.Bucket(bucketBalances).Put(key, encodeBalance(nil, decimal.RequireFromString("103")))
		}},
		{"a holder dropped from the holders index", "holders index of USD/ret-us is false", func(tx *kv.Tx, _ uint64) error {
			return tx.Bucket(bucketHolders).Delete(join("USD", "ret-us"))
		}},
		{"a holder the holdings do not have", "holders index has", func(tx *kv.Tx, _ uint64) error {
			return tx.Bucket(bucketHolders).Put(join("USD", "qp-us"), present)
		}},
		// What Check reads of a holding's party, which it decodes once for
		// the party's run of holdings (ret-us holds USD and REG).
		{"a party that holds closed", "closed party ret-us holds 102 USD", func(tx *kv.Tx, _ uint64) error {
			return changeParty(tx, "ret-us", func(p *transfer.Party) { p.Closed = true })
		}},
		{"a holder no longer non-accredited", "USD counts 1 holders (1 non-accredited), holdings show 1 (0)", func(tx *kv.Tx, _ uint64) error {
			return changeParty(tx, "ret-us", func(p *transfer.Party) { p.Status = eligibility.StatusAccredited })
		}},
		{"a holder's party gone", "holding of unknown party ret-us", func(tx *kv.Tx, _ uint64) error {
			return tx.Bucket(bucketParties).Delete([]byte("ret-us"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, h := openWorld(t, filepath.Join(t.TempDir(), "state.db"))
			defer s.Close()
			h.mustAccept(OperatorID, mintBody("USD", "ret-us", "100"))
			last := h.mustAccept(OperatorID, mintBody("USD", "ret-us", "2")).Seq
			h.mustAccept("iss-1", mintBody("REG", "ret-us", "3"))
			if errs := s.Check(); len(errs) > 0 {
				t.Fatalf("Check before the damage: %v", errs)
			}
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := updateKV(s.db, func(tx *kv.Tx) error { return spillTails(tx) }); err != nil {
				t.Fatal(err)
			}
			if err := updateKV(s.db, func(tx *kv.Tx) error { return tc.damage(tx, last) }); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(s.Check()); !strings.Contains(got, tc.want) {
				t.Errorf("Check after %s: %s; want %q", tc.name, got, tc.want)
			}
		})
	}
}

// changeParty rewrites party id's record with change made to it.
func changeParty(tx *kv.Tx, id string, change func(*transfer.Party)) error {
	b := tx.Bucket(bucketParties)
	p := decodeParty([]byte(id), b.Get([]byte(id)))
	change(p)
	return b.Put([]byte(id), encodeParty(nil, p))
}

// TestSupplyIndexSeeksOnceApart: the supplies index takes an entry's supply
// from its instrument only while the instrument has moved with the
// balances at every entry of the view. Once an entry moved a symbol's
// balances without its instrument, a later entry whose instrument moved by
// exactly its own balances still has its supply sought: the instrument is
// behind the index by the first entry's change.
func TestSupplyIndexSeeksOnceApart(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := decimal.RequireFromString
	fd := func(s string) fixed.Decimal { return fixed.From(d(s)) }
	err = db.Update(func(btx *bolt.Tx) error {
		for _, name := range [][]byte{bucketBalances, bucketSupplies} {
			if _, err := btx.CreateBucket(name); err != nil {
				return err
			}
		}
		tx := kv.Wrap(btx)
		var w indexWriter
		w.open(tx)
		if err := tx.Bucket(bucketSupplies).Put(binary.BigEndian.AppendUint64([]byte("USD\x00"), 1), encodeBalance(nil, d("100"))); err != nil {
			return err
		}
		var sought map[string]bool
		entries := []historyRecord{
			// Balances move by 10, the instrument (not in the entry) does not.
			{seq: 2, changes: []balanceChange{{Symbol: "USD", Party: "a", Before: fd("0"), After: fd("10")}}},
			// Balances and instrument both move by 5; the instrument is
			// still 10 behind the index.
			{seq: 3, changes: []balanceChange{{Symbol: "USD", Party: "b", Before: fd("0"), After: fd("5")}},
				supplies: []symbolSupply{{symbol: "USD", before: d("100"), after: d("105")}}},
		}
		for i := range entries {
			if _, err := w.changes(nil, entries[i].seq, &entries[i], &sought, nil); err != nil {
				return err
			}
		}
		for seq, want := range map[uint64]string{2: "110", 3: "115"} {
			if got := supplyAt(tx.Bucket(bucketSupplies).Cursor(), "USD", seq); !got.Equal(d(want)) {
				t.Errorf("supply at %d = %s, want %s", seq, got, want)
			}
		}
		// In a fresh view, an instrument that moves with its balances gives
		// the supply without a seek: here one that disagrees with the
		// index, so the answer shows which was taken.
		sought = nil
		r := historyRecord{seq: 4, changes: []balanceChange{{Symbol: "USD", Party: "b", Before: fd("5"), After: fd("6")}},
			supplies: []symbolSupply{{symbol: "USD", before: d("200"), after: d("201")}}}
		if _, err := w.changes(nil, r.seq, &r, &sought, nil); err != nil {
			return err
		}
		if got := supplyAt(tx.Bucket(bucketSupplies).Cursor(), "USD", 4); !got.Equal(d("201")) {
			t.Errorf("supply at 4 = %s, want the instrument's 201", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSupplyTailsAcrossCalls: the supplies values Apply keeps from call to
// call (callState.supplies) give the bucket the file alone would. The same
// random mints of three symbols and transfers go into one store a call
// each, with a close and reopen, and a restore of an
// older snapshot that the calls after it then replay (so values kept of
// the later state would be stale), and into another in a single call, which
// seeks every symbol's last value once. Their supplies buckets must match
// key for key and value for value, and both must check clean.
func TestSupplyTailsAcrossCalls(t *testing.T) {
	runSeeds(t, 6, func(t *testing.T, seed int64) {
		rng := rand.New(rand.NewSource(seed))
		items := append([][]byte{KeyItem(OperatorID, hashKey("operator-secret"))}, fundedAccounts(4)...)
		for _, sym := range []string{"EUR", "GBP"} {
			items = append(items, InstructionItem(OperatorID, []byte(ins("create_instrument", instrument(sym, "unrestricted", "cash", 2, nil)))))
		}
		symbols := []string{"USD", "EUR", "GBP"}
		for range 40 + rng.Intn(4*supplyChunk) {
			sym, to := symbols[rng.Intn(3)], fmt.Sprintf("inv-%d", rng.Intn(4))
			if rng.Intn(3) == 0 {
				from := fmt.Sprintf("inv-%d", (rng.Intn(3)+1+int(to[4]-'0'))%4) // not to itself
				items = append(items, InstructionItem(from, []byte(transferBody("USD", from, to, "1"))))
				continue
			}
			items = append(items, InstructionItem(OperatorID, []byte(mintBody(sym, to, fmt.Sprint(1+rng.Intn(50))))))
		}

		dir := t.TempDir()
		open := func(name string) *Store {
			s, err := Open(Config{Path: filepath.Join(dir, name), NoSync: true, CommitEvery: 1 + rng.Intn(8)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		apply := func(s *Store, index uint64, items ...[]byte) {
			t.Helper()
			for _, raw := range s.Apply([]Batch{{Index: index, Term: 1, Time: epoch, Items: items}})[0] {
				if o, err := DecodeOutcome(raw); err != nil || o.Status != StatusAccepted {
					t.Fatalf("outcome %s (%v)", raw, err)
				}
			}
		}

		whole := open("whole.db")
		defer whole.Close()
		apply(whole, 1, items...)

		calls := open("calls.db")
		reopenAt, snapAt := 1+rng.Intn(len(items)-2), rng.Intn(len(items)-1)
		restoreAt := snapAt + 1 + rng.Intn(len(items)-1-snapAt)
		var snap []byte
		for i := 0; i < len(items); i++ {
			apply(calls, uint64(i+1), items[i])
			switch i {
			case snapAt:
				snap = snapshotOf(t, calls)
			case reopenAt:
				if err := calls.Close(); err != nil {
					t.Fatal(err)
				}
				calls = open("calls.db")
			}
			if i == restoreAt && snap != nil {
				if err := calls.Restore(bytes.NewReader(snap)); err != nil {
					t.Fatal(err)
				}
				i, snap = snapAt, nil // raft replays what follows the snapshot
			}
		}
		defer calls.Close()

		dump := func(s *Store) (out []string) {
			t.Helper()
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			if errs := s.Check(); len(errs) > 0 {
				t.Fatalf("Check: %v", errs)
			}
			if err := viewKV(s.db, func(tx *kv.Tx) error {
				return tx.Bucket(bucketSupplies).ForEach(func(k, v []byte) error {
					out = append(out, fmt.Sprintf("%x=%x", k, v))
					return nil
				})
			}); err != nil {
				t.Fatal(err)
			}
			return out
		}
		want, got := dump(whole), dump(calls)
		if len(want) <= len(symbols) {
			t.Fatalf("%d supplies values: the mints never filled a chunk", len(want))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("supplies a call at a time:\n%s\nin one call:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
