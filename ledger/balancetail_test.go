package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/internal/fixed"
	"github.com/tokenledger/tokenledger/internal/wire"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// spillTails moves every point of the holdings' tails and of the balances
// chunks to a balances key of its own, as schema 7 kept them: a layout
// schema 8 reads too (a holding keeps its field, with an empty tail). Tests
// that damage one balance key use it to find each point under its own.
func spillTails(tx *kv.Tx) error {
	type point struct {
		key, val []byte
	}
	var points []point
	var chunks [][]byte
	walkBalancePoints(tx, func(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }, storedTail(tx), func(g []byte, seq uint64, r *wire.Reader) {
		points = append(points, point{binary.BigEndian.AppendUint64(bytes.Clone(g), seq), encodeBalance(nil, r.Decimal())})
	}, func(_, _ []byte) {})
	b := tx.Bucket(bucketBalances)
	_ = b.ForEach(func(k, v []byte) error {
		if v[0] == tagBalanceChunk {
			chunks = append(chunks, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range chunks {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for _, p := range points {
		if err := b.Put(p.key, p.val); err != nil {
			return err
		}
	}
	holdings := tx.Bucket(bucketHoldings)
	var keys, vals [][]byte
	_ = holdings.ForEach(func(k, v []byte) error {
		t := holdingTail(v)
		if t.n > 0 {
			t.n, t.raw = 0, nil
			keys, vals = append(keys, bytes.Clone(k)), append(vals, encodeHoldingTail(nil, decodeHoldingKV(k, v), &t))
		}
		return nil
	})
	for i := range keys {
		if err := holdings.Put(keys[i], vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// tailsWorld is a store whose holding ret-us/USD changed often enough to
// fill its tail twice over and leave some in it, and whose acc-us/USD was
// emptied with a tail.
func tailsWorld(t *testing.T) (*Store, *harness, []uint64) {
	t.Helper()
	s, h := openWorld(t, filepath.Join(t.TempDir(), "state.db"))
	t.Cleanup(func() { s.Close() })
	var seqs []uint64
	seqs = append(seqs, h.mustAccept(OperatorID, mintBody("USD", "ret-us", "1000")).Seq)
	for i := range 2*balanceChunk + 3 {
		seqs = append(seqs, h.mustAccept(OperatorID, mintBody("USD", "ret-us", fmt.Sprint(i+1))).Seq)
	}
	h.mustAccept(OperatorID, mintBody("USD", "acc-us", "10"))
	h.mustAccept(OperatorID, mintBody("USD", "acc-us", "5"))
	h.mustAccept("acc-us", transferBody("USD", "acc-us", "ret-us", "15"))
	if errs := s.Check(); len(errs) > 0 {
		t.Fatalf("Check: %v", errs)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	return s, h, seqs
}

// TestBalanceTails checks the layout: the first change of a holding under
// a key of its own, each full tail as one chunk, the rest in the record; an
// emptied holding's tail in the index; and a balance at every seq read
// back, through a cap table at that seq.
func TestBalanceTails(t *testing.T) {
	s, h, seqs := tailsWorld(t)
	err := viewKV(s.db, func(tx *kv.Tx) error {
		var got []string
		_ = tx.Bucket(bucketBalances).ForEach(func(k, v []byte) error {
			parts := splitKey(k[:len(k)-9], 2, "balances")
			n := 1
			if v[0] == tagBalanceChunk {
				r := wire.NewReader(v[1:])
				n = int(r.Uvarint())
			}
			got = append(got, fmt.Sprintf("%s/%s@%d:%d", parts[0], parts[1], binary.BigEndian.Uint64(k[len(k)-8:]), n))
			return nil
		})
		// acc-us: its first mint alone, then the second and the transfer
		// that emptied it as one chunk. ret-us: its first mint alone, two
		// chunks, and the transfer in
		want := []string{
			fmt.Sprintf("USD/acc-us@%d:1", seqs[len(seqs)-1]+1),
			fmt.Sprintf("USD/acc-us@%d:2", seqs[len(seqs)-1]+2),
			fmt.Sprintf("USD/ret-us@%d:1", seqs[0]),
			fmt.Sprintf("USD/ret-us@%d:%d", seqs[1], balanceChunk),
			fmt.Sprintf("USD/ret-us@%d:%d", seqs[1+balanceChunk], balanceChunk),
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("balances keys %v, want %v", got, want)
		}
		tail := holdingTail(tx.Bucket(bucketHoldings).Get(join("ret-us", "USD")))
		if !tail.indexed || tail.n != 4 || firstPointSeq(tail.raw) != seqs[1+2*balanceChunk] {
			t.Errorf("ret-us's tail: %d points from %d (indexed %v), want 4 from %d", tail.n, firstPointSeq(tail.raw), tail.indexed, seqs[1+2*balanceChunk])
		}
		if tx.Bucket(bucketHoldings).Get(join("acc-us", "USD")) != nil {
			t.Error("acc-us's emptied holding is still stored")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := decimal.Zero
	for i, seq := range seqs {
		if i == 0 {
			want = decimal.RequireFromString("1000")
		} else {
			want = want.Add(decimal.NewFromInt(int64(i)))
		}
		page, err := h.s.HoldersPage(HoldersQuery{Symbol: "USD", At: seq})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Holders) != 1 || page.Holders[0].Party != "ret-us" || !page.Holders[0].Balance.Equal(want) {
			t.Fatalf("cap table at %d: %+v, want ret-us %s", seq, page.Holders, want)
		}
	}
	last := seqs[len(seqs)-1]
	for seq, want := range map[uint64]string{last + 1: "10", last + 2: "15", last + 3: "0"} {
		page, err := h.s.HoldersPage(HoldersQuery{Symbol: "USD", At: seq})
		if err != nil {
			t.Fatal(err)
		}
		got := "0"
		for _, hd := range page.Holders {
			if hd.Party == "acc-us" {
				got = hd.Balance.String()
			}
		}
		if got != want {
			t.Errorf("acc-us at %d: %s, want %s", seq, got, want)
		}
	}
}

// TestCheckFindsBalanceTailFaults damages the tails and chunks and checks
// that Check names each fault.
func TestCheckFindsBalanceTailFaults(t *testing.T) {
	retUSD := join("ret-us", "USD")
	setTail := func(tx *kv.Tx, change func(*balanceTail)) error {
		b := tx.Bucket(bucketHoldings)
		v := b.Get(retUSD)
		t := holdingTail(v)
		change(&t)
		return b.Put(retUSD, encodeHoldingTail(nil, decodeHoldingKV(retUSD, v), &t))
	}
	tests := []struct {
		name, want string
		damage     func(tx *kv.Tx, seqs []uint64) error
	}{
		{"a tail point changed", "balances ends at", func(tx *kv.Tx, seqs []uint64) error {
			return setTail(tx, func(t *balanceTail) {
				// The same seqs, the last balance one more.
				r := wire.NewReader(t.raw)
				var raw []byte
				for i := range t.n {
					seq, d := r.Uvarint(), r.Fixed()
					if i == t.n-1 {
						d = d.Add(fixed.New(1, 0))
					}
					raw = appendBalancePoint(raw, seq, d)
				}
				t.raw = raw
			})
		}},
		{"a tail dropped", "balances ends at", func(tx *kv.Tx, _ []uint64) error {
			return setTail(tx, func(t *balanceTail) { t.n, t.raw = 0, nil })
		}},
		{"a tail point the index holds too", "follows entry", func(tx *kv.Tx, seqs []uint64) error {
			return setTail(tx, func(t *balanceTail) {
				t.raw, t.n = appendBalancePoint(nil, seqs[2*balanceChunk], fixed.New(1, 0)), 1
			})
		}},
		{"a tail without the index's keys", "say the balances index holds them", func(tx *kv.Tx, _ []uint64) error {
			b := tx.Bucket(bucketHoldings)
			v := b.Get(retUSD)
			return b.Put(join("ret-us", "REG"), encodeHoldingTail(nil, decodeHoldingKV(join("ret-us", "REG"), v), &balanceTail{indexed: true}))
		}},
		{"a chunk that starts past its key", "starts at entry", func(tx *kv.Tx, seqs []uint64) error {
			b := tx.Bucket(bucketBalances)
			key := binary.BigEndian.AppendUint64(append(join("USD", "ret-us"), 0), seqs[1])
			v := bytes.Clone(b.Get(key))
			if err := b.Delete(key); err != nil {
				return err
			}
			return b.Put(binary.BigEndian.AppendUint64(append(join("USD", "ret-us"), 0), seqs[1]-1), v)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, seqs := tailsWorld(t)
			if err := updateKV(s.db, func(tx *kv.Tx) error { return tc.damage(tx, seqs) }); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(s.Check()); !strings.Contains(got, tc.want) {
				t.Errorf("Check after %s: %s; want %q", tc.name, got, tc.want)
			}
		})
	}
}

// TestBalanceTailsIgnoreCallGrouping applies holdings emptied and refilled
// within a few entries, and tails filled past a chunk, one log entry a call
// and grouped into calls at random, as a node's log hands entries over when
// it is behind: every grouping gives the same state, byte for byte.
func TestBalanceTailsIgnoreCallGrouping(t *testing.T) {
	h := newHarness(t)
	h.propertyWorld()
	var log []Batch
	h.rec = &log
	for i := range 2 * balanceChunk {
		h.mustAccept(OperatorID, mintBody("USD", "ret-us", "10"))
		// Emptied, then refilled at once or after another entry.
		h.mustAccept("ret-us", transferBody("USD", "ret-us", "acc-us", "10"))
		if i%2 == 0 {
			h.mustAccept("acc-us", transferBody("USD", "acc-us", "qp-us", "1"))
		}
		h.mustAccept(OperatorID, mintBody("USD", "ret-us", fmt.Sprint(i+1)))
		h.mustAccept("ret-us", transferBody("USD", "ret-us", "acc-us", fmt.Sprint(i+1)))
	}
	// Emptied for good.
	h.mustAccept("qp-us", transferBody("USD", "qp-us", "acc-us", fmt.Sprint(balanceChunk)))
	want := mustHashes(t, h.s)
	prefix := replayPrefix(t, h)
	for seed := range 12 {
		s := openStore(t, filepath.Join(t.TempDir(), "grouped.db"), true)
		s.Apply(prefix)
		r := rand.New(rand.NewSource(int64(seed)))
		for i := 0; i < len(log); {
			n := min(1+r.Intn(1+seed*2), len(log)-i) // seed 0: one a call
			s.Apply(log[i : i+n])
			i += n
		}
		if got := mustHashes(t, s); got != want {
			t.Fatalf("seed %d: grouped into calls, the state hashes %+v, want %+v", seed, got, want)
		}
		s.Close()
	}
}

// TestHoldingTailSkipsTheRecord checks that holdingTail, which skips a
// holding record's other fields to find its tail, finds what the full
// decoding does, whichever fields the record holds, and that both give
// back the points written.
func TestHoldingTailSkipsTheRecord(t *testing.T) {
	at := epoch.Add(3 * day)
	lots := []transfer.Lot{{Amount: fixed.New(5, 0), AcquiredAt: at}, {Amount: fixed.New(123456789, -4), AcquiredAt: at.Add(day)}}
	var raw []byte
	for i := range 5 {
		raw = appendBalancePoint(raw, uint64(100+i*7), fixed.New(int64(1000*i+1), -2))
	}
	holdings := []transfer.Holding{
		{Balance: fixed.New(17, 0)},
		{Balance: fixed.New(17, 0), Frozen: fixed.New(2, 0), Lots: lots, FrozenBy: "cus-1"},
		{Balance: fixed.New(0, 0), Sales: lots, Purchased: true},
		{Balance: fixed.From(decimal.RequireFromString("123456789012345678901234567890.5")), Lots: lots, Sales: lots[:1], FrozenBy: "x"},
	}
	tails := []*balanceTail{nil, {indexed: true}, {indexed: true, n: 5, raw: raw}}
	for i, h := range holdings {
		for j, tail := range tails {
			v := encodeHoldingTail(nil, &h, tail)
			got := holdingTail(v)
			var full balanceTail
			var dec transfer.Holding
			decodeHoldingInto(&dec, "p", "s", v, nil, &full)
			want := balanceTail{}
			if tail != nil {
				want = *tail
			}
			for name, tl := range map[string]balanceTail{"holdingTail": got, "decodeHoldingInto": full} {
				if tl.indexed != want.indexed || tl.n != want.n || !bytes.Equal(tl.raw, want.raw) {
					t.Errorf("holding %d tail %d: %s gives %+v, want %+v", i, j, name, tl, want)
				}
			}
			if !dec.Balance.Equal(h.Balance) || len(dec.Lots) != len(h.Lots) || dec.FrozenBy != h.FrozenBy || len(dec.Sales) != len(h.Sales) || dec.Purchased != h.Purchased {
				t.Errorf("holding %d tail %d decodes as %+v, want %+v", i, j, dec, h)
			}
		}
	}
	for seq, want := range map[uint64]string{99: "", 100: "0.01", 106: "0.01", 107: "10.01", 128: "40.01", 1 << 40: "40.01"} {
		d, ok := pointAt(raw, 5, seq, "test")
		if got := map[bool]string{true: d.String(), false: ""}[ok]; got != want {
			t.Errorf("point at %d: %q, want %q", seq, got, want)
		}
	}
}

// storedTail is a tailOf for walkBalancePoints that reads the tail of each
// group's holding from tx, a look-up a holding: the tests' walks, which
// need no set of the tails.
func storedTail(tx *kv.Tx) func(group []byte) balanceTail {
	holdings := tx.Bucket(bucketHoldings)
	var key []byte
	return func(group []byte) balanceTail {
		at := bytes.IndexByte(group, 0)
		key = append(append(append(key[:0], group[at+1:len(group)-1]...), 0), group[:at]...)
		return holdingTail(holdings.Get(key))
	}
}
