package kv

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var testBucket = []byte("b")

func openTestDB(t *testing.T, name string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), name), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(testBucket)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestLayersReadAsBolt writes the same random puts and deletes straight into
// one bbolt file and, through layers that are frozen and committed at random
// points, into another, and checks after every step that gets and cursor
// walks (any mix of First, Last, Seek, Next, Prev) read the same from both.
// Half the steps read by gets alone, so layers are also written without a
// cursor having ordered them first.
// Odd seeds mark the layered bucket append-only, a hint that must not change
// what it holds, and write half their keys past every key before, which the
// hint's fast path takes, and write the last key again, which it sets in
// place.
func TestLayersReadAsBolt(t *testing.T) {
	defer func(n int) { sealFrom = n }(sealFrom)
	sealFrom = 0 // every frozen bucket gets its filter
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			ref := openTestDB(t, "ref.db")
			db := openTestDB(t, "layered.db")
			var frozen []*Layer
			top := NewLayer()
			appendOnly := seed%2 == 1
			// Seeds 3 mod 4 write nearly every key past the last, so that
			// most layers hold only ascending keys (a bucket without an
			// index) and some take one out of order late (the index made
			// then).
			ascending := 2
			if seed%4 == 3 {
				ascending = 20
			}
			next := 0
			key := func() []byte {
				if appendOnly && rng.IntN(ascending) != 0 {
					next++
					return fmt.Appendf(nil, "z%04d", next)
				}
				if appendOnly && next > 0 && rng.IntN(4) == 0 {
					return fmt.Appendf(nil, "z%04d", next) // the last key again: set in place
				}
				if appendOnly && next > 0 && rng.IntN(3) == 0 {
					return fmt.Appendf(nil, "z%04d", 1+rng.IntN(next)) // written again
				}
				return fmt.Appendf(nil, "k%02d", rng.IntN(40))
			}
			for step := range 300 {
				var k, v []byte
				k = key()
				del := rng.IntN(3) == 0
				var cur []byte // ref's value of k, as the step begins
				if err := ref.View(func(tx *bolt.Tx) error {
					cur = bytes.Clone(tx.Bucket(testBucket).Get(k))
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if !del {
					v = fmt.Appendf(nil, "v%d", step)
					lastAgain := appendOnly && string(k) == fmt.Sprintf("z%04d", next)
					switch r := rng.IntN(10); {
					case r == 0:
						v = []byte{}
					case cur != nil && (r <= 3 || lastAgain && r <= 7):
						// The value before and more: the last key's is
						// extended in place.
						v = fmt.Appendf(bytes.Clone(cur), "+%d", step)
					}
				}
				var seen []byte // the layered bucket's value of k, handed out before the put
				if err := db.View(func(btx *bolt.Tx) error {
					seen = Over(btx, frozen, top).Bucket(testBucket).Get(k)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if err := ref.Update(func(tx *bolt.Tx) error {
					if del {
						return tx.Bucket(testBucket).Delete(k)
					}
					return tx.Bucket(testBucket).Put(k, v)
				}); err != nil {
					t.Fatal(err)
				}
				if err := db.View(func(btx *bolt.Tx) error {
					b := Over(btx, frozen, top).Bucket(testBucket)
					if appendOnly {
						b.SetAppendOnly()
					}
					if del {
						return b.Delete(k)
					}
					return b.Put(k, v)
				}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(seen, cur) {
					t.Fatalf("step %d: a value of %s handed out before a put is %q after it, want %q", step, k, seen, cur)
				}
				switch rng.IntN(10) {
				case 0: // freeze
					top.Seal()
					frozen = append(frozen, top)
					top = NewLayer()
				case 1: // commit the oldest frozen layer
					if len(frozen) > 0 {
						if err := db.Update(func(tx *bolt.Tx) error { return frozen[0].WriteTo(tx) }); err != nil {
							t.Fatal(err)
						}
						frozen = frozen[1:]
					}
				}
				compare(t, rng, ref, db, frozen, top, step, next)
			}
		})
	}
}

// compare reads ref and the layered db alike: keys k00 to k39 and z0001 to
// z<ascending> by Get, then a walk of cursor moves.
func compare(t *testing.T, rng *rand.Rand, ref, db *bolt.DB, frozen []*Layer, top *Layer, step, ascending int) {
	t.Helper()
	rtx, btx, done := readBoth(t, ref, db)
	defer done()
	rb := rtx.Bucket(testBucket)
	lb := Over(btx, frozen, top).Bucket(testBucket)
	if rng.IntN(2) == 0 {
		// As the store's reads see it: the live layer among the read-only
		// ones, beneath no layer of their own. Puts to it go on after.
		lb = Over(btx, append(slices.Clone(frozen), top), nil).Bucket(testBucket)
	}
	keys := make([][]byte, 0, 41+ascending)
	for i := range 40 {
		keys = append(keys, fmt.Appendf(nil, "k%02d", i))
	}
	for i := range ascending + 1 {
		keys = append(keys, fmt.Appendf(nil, "z%04d", i+1))
	}
	for _, k := range keys {
		if want, got := rb.Get(k), lb.Get(k); !bytes.Equal(want, got) || (want == nil) != (got == nil) {
			t.Fatalf("step %d: Get(%s) = %q, want %q", step, k, got, want)
		}
	}
	if rng.IntN(2) == 0 {
		// Gets alone: a layer no cursor has walked is ordered only when it
		// is written, which must then find its keys' order by itself.
		return
	}
	if k, _ := rb.Cursor().First(); (k == nil) != lb.Empty() {
		t.Fatalf("step %d: Empty() = %v, bbolt's first key %q", step, lb.Empty(), k)
	}
	walkAlike(t, rng, step, 30, rb, lb, func() []byte {
		s := fmt.Appendf(nil, "k%02d", rng.IntN(42))
		if rng.IntN(2) == 0 {
			s = append(s, 'x')
		}
		return s
	})
}

// readBoth begins a read transaction of each db; done rolls both back
// (held open, they would block a later commit that grows the file).
func readBoth(t *testing.T, ref, db *bolt.DB) (rtx, btx *bolt.Tx, done func()) {
	t.Helper()
	rtx, err := ref.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	btx, err = db.Begin(false)
	if err != nil {
		_ = rtx.Rollback()
		t.Fatal(err)
	}
	return rtx, btx, func() { _ = rtx.Rollback(); _ = btx.Rollback() }
}

// walkAlike makes the same random cursor moves (First, Last, Seek to a key
// seekTo picks, Next, Prev) over a bbolt bucket and a kv one, and fails at
// the first that reads otherwise.
func walkAlike(t *testing.T, rng *rand.Rand, step, n int, rb *bolt.Bucket, lb *Bucket, seekTo func() []byte) {
	t.Helper()
	rc, lc := rb.Cursor(), lb.Cursor()
	var moves []string
	for range n {
		var rk, rv, lk, lv []byte
		switch op := rng.IntN(5); op {
		case 0:
			moves = append(moves, "First")
			rk, rv = rc.First()
			lk, lv = lc.First()
		case 1:
			moves = append(moves, "Last")
			rk, rv = rc.Last()
			lk, lv = lc.Last()
		case 2:
			s := seekTo()
			moves = append(moves, "Seek "+string(s))
			rk, rv = rc.Seek(s)
			lk, lv = lc.Seek(s)
		case 3:
			moves = append(moves, "Next")
			rk, rv = rc.Next()
			lk, lv = lc.Next()
		case 4:
			moves = append(moves, "Prev")
			rk, rv = rc.Prev()
			lk, lv = lc.Prev()
		}
		if rk == nil {
			// bbolt's position after running off an end is its own;
			// start again from a known one.
			if lk != nil {
				t.Fatalf("step %d: %v: got %q, want the end", step, moves, lk)
			}
			rc, lc = rb.Cursor(), lb.Cursor()
			continue
		}
		if !bytes.Equal(rk, lk) || !bytes.Equal(rv, lv) {
			t.Fatalf("step %d: %v: got %q=%q, want %q=%q", step, moves, lk, lv, rk, rv)
		}
	}
}

func TestReadOnlyOver(t *testing.T) {
	db := openTestDB(t, "ro.db")
	if err := db.View(func(btx *bolt.Tx) error {
		b := Over(btx, nil, nil).Bucket(testBucket)
		if err := b.Put([]byte("k"), []byte("v")); err != ErrReadOnly {
			t.Errorf("Put on a read-only Tx: %v, want ErrReadOnly", err)
		}
		if b.Tx().Writable() {
			t.Error("read-only Tx says it is writable")
		}
		if Over(btx, nil, nil).Bucket([]byte("none")) != nil {
			t.Error("a bucket the file lacks is not nil")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestPutLimits(t *testing.T) {
	db := openTestDB(t, "limits.db")
	if err := db.View(func(btx *bolt.Tx) error {
		b := Over(btx, nil, NewLayer()).Bucket(testBucket)
		if err := b.Put(nil, []byte("v")); err == nil {
			t.Error("an empty key was accepted")
		}
		if err := b.Put(make([]byte, bolt.MaxKeySize+1), nil); err == nil {
			t.Error("a key beyond bbolt's limit was accepted")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestEmpty: a bucket is empty when neither bbolt nor any layer holds a key
// of it, whether no layer wrote it (one look at bbolt) or layers did (their
// deletions hiding bbolt's keys, their puts filling an empty bucket).
func TestEmpty(t *testing.T) {
	tests := []struct {
		name   string
		base   []string // keys in bbolt
		frozen []string // "+k" put, "-k" delete, in one frozen layer
		top    []string // the same, in the top layer
		want   bool
	}{
		{"nothing anywhere", nil, nil, nil, true},
		{"a key in bbolt", []string{"a"}, nil, nil, false},
		{"a put in the top layer", nil, nil, []string{"+a"}, false},
		{"a put in a frozen layer", nil, []string{"+a"}, nil, false},
		{"bbolt's only key deleted on top", []string{"a"}, nil, []string{"-a"}, true},
		{"a frozen put deleted on top", nil, []string{"+a"}, []string{"-a"}, true},
		{"one of two keys deleted", []string{"a", "b"}, []string{"-a"}, nil, false},
		{"a deletion of a key bbolt lacks", nil, nil, []string{"-a"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t, "e.db")
			if err := db.Update(func(tx *bolt.Tx) error {
				for _, k := range tc.base {
					if err := tx.Bucket(testBucket).Put([]byte(k), []byte("v")); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			apply := func(b *Bucket, ops []string) {
				for _, op := range ops {
					var err error
					if op[0] == '+' {
						err = b.Put([]byte(op[1:]), []byte("v"))
					} else {
						err = b.Delete([]byte(op[1:]))
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			err := db.View(func(btx *bolt.Tx) error {
				frozen := NewLayer()
				apply(Over(btx, nil, frozen).Bucket(testBucket), tc.frozen)
				top := NewLayer()
				b := Over(btx, []*Layer{frozen}, top).Bucket(testBucket)
				apply(b, tc.top)
				if got := b.Empty(); got != tc.want {
					t.Errorf("Empty() = %v, want %v", got, tc.want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStopWith checks that once a Tx's stop flag is set, every cursor over
// the file beneath finds no more keys, and that until then it walks as
// before.
func TestStopWith(t *testing.T) {
	db := openTestDB(t, "stop.db")
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(testBucket)
		for i := range 100 {
			if err := b.Put(fmt.Appendf(nil, "k%03d", i), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, stopAt := range []int{-1, 0, 1, 50, 99} {
		t.Run(fmt.Sprint("stop at ", stopAt), func(t *testing.T) {
			if err := db.View(func(btx *bolt.Tx) error {
				var stop atomic.Bool
				tx := Wrap(btx)
				tx.StopWith(&stop)
				c := tx.Bucket(testBucket).Cursor()
				n := 0
				for k, _ := c.First(); k != nil; k, _ = c.Next() {
					if n == stopAt {
						stop.Store(true)
					}
					n++
				}
				want := 100
				if stopAt >= 0 {
					want = stopAt + 1
				}
				if n != want {
					t.Errorf("walked %d keys, want %d", n, want)
				}
				if stopAt >= 0 {
					if k, _ := c.Seek([]byte("k000")); k != nil {
						t.Errorf("Seek after stop = %q, want nothing", k)
					}
					if k, _ := c.Last(); k != nil {
						t.Errorf("Last after stop = %q, want nothing", k)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestFrozenLayerReadWhileWritten walks a frozen layer with cursors and gets
// while another goroutine writes it into the file, as Apply and the API read
// a layer its commit is writing. Both need the layer's key order, which the
// first to ask makes; under the race detector this shows they share it safely.
func TestFrozenLayerReadWhileWritten(t *testing.T) {
	for _, walkFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("walkFirst=", walkFirst), func(t *testing.T) {
			db := openTestDB(t, "layered.db")
			l := NewLayer()
			want := map[string]string{}
			if err := db.View(func(btx *bolt.Tx) error {
				b := Over(btx, nil, l).Bucket(testBucket)
				rng := rand.New(rand.NewPCG(1, 2))
				for i := range 2000 {
					k := fmt.Sprintf("k%05d", rng.IntN(5000))
					want[k] = fmt.Sprint(i)
					if err := b.Put([]byte(k), []byte(want[k])); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			keys := slices.Sorted(maps.Keys(want))
			walk := func() error {
				return db.View(func(btx *bolt.Tx) error {
					b := Over(btx, []*Layer{l}, nil).Bucket(testBucket)
					c := b.Cursor()
					i := 0
					for k, v := c.First(); k != nil; k, v = c.Next() {
						if i >= len(keys) || string(k) != keys[i] || string(v) != want[keys[i]] {
							return fmt.Errorf("walk: key %d is %q=%q", i, k, v)
						}
						i++
					}
					if i != len(keys) {
						return fmt.Errorf("walk: %d keys, want %d", i, len(keys))
					}
					for _, k := range keys[:100] {
						if got := b.Get([]byte(k)); string(got) != want[k] {
							return fmt.Errorf("Get(%s) = %q, want %q", k, got, want[k])
						}
					}
					return nil
				})
			}
			if walkFirst {
				if err := walk(); err != nil {
					t.Fatal(err)
				}
			}
			written := make(chan error, 1)
			go func() { written <- db.Update(func(tx *bolt.Tx) error { return l.WriteTo(tx) }) }()
			if err := walk(); err != nil {
				t.Fatal(err)
			}
			if err := <-written; err != nil {
				t.Fatal(err)
			}
			if err := db.View(func(btx *bolt.Tx) error {
				c := btx.Bucket(testBucket).Cursor()
				i := 0
				for k, v := c.First(); k != nil; k, v = c.Next() {
					if string(k) != keys[i] || string(v) != want[keys[i]] {
						return fmt.Errorf("file: key %d is %q=%q", i, k, v)
					}
					i++
				}
				if i != len(keys) {
					return fmt.Errorf("file: %d keys, want %d", i, len(keys))
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSortedMatchesKeyOrder holds a layer's write order (sorted, which
// compares eight-byte numbers past the keys' common prefix before whole
// keys) to the keys' byte order, over keys built to tie: long shared
// prefixes, keys that are prefixes of others, zero bytes where a short key's
// number is padded with zeros, and 0xff.
func TestSortedMatchesKeyOrder(t *testing.T) {
	alphabet := []byte{0x00, 0x01, 'a', 'b', 0xff}
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 0))
		shared := make([]byte, r.IntN(12))
		for i := range shared {
			shared[i] = alphabet[r.IntN(len(alphabet))]
		}
		l := NewLayer()
		lb := l.bucket(testBucket, true)
		want := map[string]bool{}
		n := 1 + r.IntN(200)
		if seed%3 == 0 {
			n = radixMin + r.IntN(3000) // sorted by radix
		}
		for range n {
			k := slices.Clone(shared)
			for range r.IntN(14) {
				k = append(k, alphabet[r.IntN(len(alphabet))])
			}
			if len(k) == 0 {
				k = append(k, 'a')
			}
			l.set(lb, k, []byte("v"), false)
			want[string(k)] = true
		}
		lb.appendOnly = seed%2 == 0 // the fast path must not change the order either
		var got []string
		for _, at := range lb.sorted() {
			got = append(got, lb.ents.at(int(at)).key)
		}
		if w := slices.Sorted(maps.Keys(want)); !slices.Equal(got, w) {
			t.Fatalf("seed %d: sorted\n%q\nwant\n%q", seed, got, w)
		}
	}
}

// TestRadixSort holds radixSort to a stable sort by prefix, over prefixes
// whose bytes vary at some positions and are shared at others, so that it
// takes every count of passes, odd and even.
func TestRadixSort(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 1))
		varying := r.Uint64() // a set bit: that byte varies
		fixed := r.Uint64()
		keys := make([]sortKey, 1+r.IntN(2000))
		for i := range keys {
			var p uint64
			for b := 0; b < 64; b += 8 {
				if varying>>b&1 == 1 {
					p |= uint64(r.IntN(4)) << b
				} else {
					p |= fixed & (0xff << b)
				}
			}
			keys[i] = sortKey{prefix: p, at: int32(i)}
		}
		want := slices.Clone(keys)
		slices.SortStableFunc(want, func(x, y sortKey) int { return cmp.Compare(x.prefix, y.prefix) })
		if got := radixSort(keys, make([]sortKey, len(keys))); !slices.Equal(got, want) {
			t.Fatalf("seed %d: radixSort differs from a stable sort by prefix", seed)
		}
	}
}

// BenchmarkSorted orders a bucket of keys shaped like the balance index's
// (symbol, party, seq), as a commit of fifty-instruction entries among
// 1,000 accounts writes them.
//
//	go test ./ledger/kv -run '^$' -bench BenchmarkSorted
func BenchmarkSorted(b *testing.B) {
	for _, n := range []int{1000, 65536} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			l := NewLayer()
			lb := l.bucket(testBucket, true)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range n {
				k := fmt.Appendf(nil, "USD\x00inv-%d\x00", r.IntN(1000))
				k = append(k, 0, 0, 0, 0, 0, byte(i>>16), byte(i>>8), byte(i))
				l.set(lb, k, []byte("v"), false)
			}
			b.ResetTimer()
			for range b.N {
				lb.sorted()
			}
		})
	}
}

// TestBucketByName asks a Tx for buckets by the same slice, by equal
// slices elsewhere in memory and by names the file lacks, and checks each
// name gives one Bucket (so its layer and cursor are shared) or nil.
func TestBucketByName(t *testing.T) {
	db := openTestDB(t, "names.db")
	other := []byte("other")
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(other)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	btx, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer btx.Rollback()
	tx := Over(btx, nil, NewLayer())
	missing := []byte("missing")
	for round := range 3 {
		b := tx.Bucket(testBucket)
		if b == nil || tx.Bucket([]byte(string(testBucket))) != b || tx.Bucket(bytes.Clone(testBucket)) != b {
			t.Fatalf("round %d: bucket %q by another slice is another Bucket or none", round, testBucket)
		}
		o := tx.Bucket(bytes.Clone(other))
		if o == nil || o == b || tx.Bucket(other) != o {
			t.Fatalf("round %d: bucket %q: %p, %q: %p", round, other, o, testBucket, b)
		}
		if tx.Bucket(missing) != nil || tx.Bucket([]byte("missing")) != nil || tx.Bucket(testBucket[:0]) != nil {
			t.Fatalf("round %d: a bucket the file lacks is not nil", round)
		}
	}
	// A write through one slice is read through another.
	if err := tx.Bucket(testBucket).Put([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got := tx.Bucket([]byte("b")).Get([]byte("k")); string(got) != "v" {
		t.Fatalf("read %q through an equal name, want %q", got, "v")
	}
}

// TestWriteLayersToMatchesInTurn writes random layers (puts and deletes,
// keys shared among them, some buckets in only some layers, append-only
// or not) into one file in one pass, into another a layer at a time, and
// into a third in transactions of a few keys each (LayersWriter) with a
// bucket held back for the last, and compares what the files hold. Until
// the last transaction the held-back bucket must hold what it held.
func TestWriteLayersToMatchesInTurn(t *testing.T) {
	names := [][]byte{testBucket, []byte("c"), []byte("d")}
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 9))
		dbs := [3]*bolt.DB{openTestDB(t, "one-pass.db"), openTestDB(t, "in-turn.db"), openTestDB(t, "sliced.db")}
		for _, db := range dbs {
			if err := db.Update(func(tx *bolt.Tx) error {
				for _, n := range names[1:] {
					b, err := tx.CreateBucket(n)
					if err != nil {
						return err
					}
					if err := b.Put([]byte("k000"), []byte("under")); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		layers := make([]*Layer, 1+rng.IntN(5))
		for i := range layers {
			layers[i] = NewLayer()
			for range rng.IntN(400) {
				lb := layers[i].bucket(names[rng.IntN(len(names))], true)
				lb.appendOnly = seed%3 == 0
				key := fmt.Appendf(nil, "k%03d", rng.IntN(120))
				layers[i].set(lb, key, fmt.Appendf(nil, "v%d-%d", i, rng.IntN(1000)), rng.IntN(6) == 0)
			}
		}
		if err := dbs[0].Update(func(tx *bolt.Tx) error { return WriteLayersTo(tx, layers) }); err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			if err := dbs[1].Update(l.WriteTo); err != nil {
				t.Fatal(err)
			}
		}
		held := names[rng.IntN(len(names))]
		heldDump := func() (d []string) {
			if err := dbs[2].View(func(tx *bolt.Tx) error {
				if b := tx.Bucket(held); b != nil {
					return b.ForEach(func(k, v []byte) error {
						d = append(d, fmt.Sprintf("%s=%s", k, v))
						return nil
					})
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return d
		}
		if err := dbs[2].Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(testBucket)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		before := heldDump()
		w := NewLayersWriter(layers, string(held))
		for more := true; more; {
			if err := dbs[2].Update(func(tx *bolt.Tx) (err error) {
				more, err = w.Write(tx, 1+rng.IntN(40))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if got := heldDump(); !slices.Equal(got, before) {
				t.Fatalf("seed %d: bucket %s held back, written before the last transaction: %q, was %q", seed, held, got, before)
			}
		}
		if err := dbs[2].Update(w.Finish); err != nil {
			t.Fatal(err)
		}
		if err := dbs[2].Update(func(tx *bolt.Tx) error { _, err := w.Write(tx, 1); return err }); err == nil {
			t.Fatalf("seed %d: a finished writer wrote again", seed)
		}
		var dumps [3][]string
		for i, db := range dbs {
			if err := db.View(func(tx *bolt.Tx) error {
				for _, n := range names {
					if err := tx.Bucket(n).ForEach(func(k, v []byte) error {
						dumps[i] = append(dumps[i], fmt.Sprintf("%s/%s=%s", n, k, v))
						return nil
					}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(dumps[0], dumps[1]) {
			t.Fatalf("seed %d: one pass wrote\n%q\nin turn\n%q", seed, dumps[0], dumps[1])
		}
		if !slices.Equal(dumps[0], dumps[2]) {
			t.Fatalf("seed %d: one pass wrote\n%q\nin slices\n%q", seed, dumps[0], dumps[2])
		}
	}
}

// TestBloom holds the sealed buckets' filter to no false negative, and to
// false positives near the one in a hundred its size is chosen for.
func TestBloom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 1000, 40_000} {
		f := NewFilter(n)
		held := make(map[uint64]bool, n)
		for range n {
			h := rng.Uint64()
			held[h] = true
			f.Add(h)
		}
		for h := range held {
			if !f.MayHold(h) {
				t.Fatalf("n=%d: a hash added is denied", n)
			}
		}
		const probes = 100_000
		yes := 0
		for range probes {
			if h := rng.Uint64(); !held[h] && f.MayHold(h) {
				yes++
			}
		}
		if rate := float64(yes) / probes; rate > 0.03 {
			t.Errorf("n=%d: false positives %.3f, want about 0.01", n, rate)
		}
	}
}

// TestSealedLayerRefusesWrites: a sealed bucket's filter would deny a key
// written after it, so a write panics instead.
func TestSealedLayerRefusesWrites(t *testing.T) {
	defer func(n int) { sealFrom = n }(sealFrom)
	sealFrom = 0
	l := NewLayer()
	lb := l.bucket(testBucket, true)
	l.set(lb, []byte("a"), []byte("1"), false)
	l.Seal()
	if e, ok := lb.get([]byte("a")); !ok || string(e.val) != "1" {
		t.Fatalf("sealed layer lost a: %v %q", ok, e.val)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a write to a sealed layer did not panic")
		}
	}()
	l.set(lb, []byte("b"), []byte("2"), false)
}

// TestGetLayeredAndFile reads a key from the layers and from the file
// apart: the layers decide a key one of them wrote (a delete too), and say
// nothing of one they did not; the file answers for itself alone.
func TestGetLayeredAndFile(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "kv.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(testBucket)
		if err != nil {
			return err
		}
		for _, k := range []string{"file", "over", "gone"} {
			if err := b.Put([]byte(k), []byte("f-"+k)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	frozen, top := NewLayer(), NewLayer()
	if err := db.View(func(btx *bolt.Tx) error {
		if err := Over(btx, nil, frozen).Bucket(testBucket).Put([]byte("over"), []byte("l-over")); err != nil {
			return err
		}
		return Over(btx, []*Layer{frozen}, top).Bucket(testBucket).Delete([]byte("gone"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(btx *bolt.Tx) error {
		b := Over(btx, []*Layer{frozen}, top).Bucket(testBucket)
		for _, tc := range []struct {
			key          string
			layered      string
			decided      bool
			file, merged string
		}{
			{"file", "", false, "f-file", "f-file"},
			{"over", "l-over", true, "f-over", "l-over"},
			{"gone", "", true, "f-gone", ""},
			{"none", "", false, "", ""},
		} {
			v, ok := b.GetLayered([]byte(tc.key))
			if string(v) != tc.layered || ok != tc.decided {
				t.Errorf("GetLayered(%s) = %q, %v; want %q, %v", tc.key, v, ok, tc.layered, tc.decided)
			}
			if got := string(b.GetFile([]byte(tc.key))); got != tc.file {
				t.Errorf("GetFile(%s) = %q, want %q", tc.key, got, tc.file)
			}
			if got := string(b.Get([]byte(tc.key))); got != tc.merged {
				t.Errorf("Get(%s) = %q, want %q", tc.key, got, tc.merged)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestLastValueExtendedInPlace sets the last key of an append-only bucket
// again and again, each value the one before and more, as Apply puts a
// journal's open chunk once a call: the layer must take only the new bytes
// each time, leave every value it handed out as it was, and read and write
// the last value whole.
func TestLastValueExtendedInPlace(t *testing.T) {
	db := openTestDB(t, "layered.db")
	top := NewLayer()
	type handedOut struct{ got, was []byte } // a value Get returned, and a copy as it was then
	var handed []handedOut
	want := map[string][]byte{}
	err := db.View(func(btx *bolt.Tx) error {
		b := Over(btx, nil, top).Bucket(testBucket)
		b.SetAppendOnly()
		var val []byte
		for i := range 200 {
			key := fmt.Appendf(nil, "z%04d", i/50)
			if i%50 == 0 {
				val = fmt.Appendf(nil, "chunk %d:", i) // the next key, afresh
			}
			more := fmt.Sprintf(" entry %d", i)
			val = append(val, more...)
			arena := func() int {
				if lb := top.bucket(testBucket, false); lb != nil {
					return len(lb.arena)
				}
				return 0
			}
			before := arena()
			if err := b.Put(key, val); err != nil {
				return err
			}
			want[string(key)] = bytes.Clone(val)
			grew := arena() - before
			switch {
			case i%50 == 0 && grew != len(val):
				t.Fatalf("put %d, a new key: the bucket's arena grew by %d bytes, want the value's %d", i, grew, len(val))
			case i%50 != 0 && grew != len(more):
				t.Fatalf("put %d, the last value and more: the bucket's arena grew by %d bytes, want the %d new ones", i, grew, len(more))
			}
			got := b.Get(key)
			if !bytes.Equal(got, val) {
				t.Fatalf("put %d: Get = %q, want %q", i, got, val)
			}
			handed = append(handed, handedOut{got, bytes.Clone(got)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range handed {
		if !bytes.Equal(h.got, h.was) {
			t.Fatalf("value %d handed out: now %q, was %q", i, h.got, h.was)
		}
	}
	top.Seal()
	if err := db.Update(top.WriteTo); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		n := 0
		err := tx.Bucket(testBucket).ForEach(func(k, v []byte) error {
			n++
			if !bytes.Equal(v, want[string(k)]) {
				t.Errorf("file: %s = %q, want %q", k, v, want[string(k)])
			}
			return nil
		})
		if n != len(want) {
			t.Errorf("file holds %d keys, want %d", n, len(want))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestTailKeysFillTheirPages writes layers that append keys past a
// bucket's last (as parties numbered in order are registered) and
// rewrite some before it, once in one transaction and once in slices.
// Both must leave the same keys; in slices the appended keys' pages are
// filled to tailFillPercent, not to bbolt's half, so the bucket takes
// fewer leaf pages, and the keys before the tail were written in a
// transaction of their own.
func TestTailKeysFillTheirPages(t *testing.T) {
	dbs := [2]*bolt.DB{openTestDB(t, "one-pass.db"), openTestDB(t, "sliced.db")}
	for _, db := range dbs {
		if err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(testBucket)
			for i := range 1000 {
				if err := b.Put(fmt.Appendf(nil, "k%06d", i), []byte("under-0123456789")); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	layers := make([]*Layer, 3)
	for i := range layers {
		layers[i] = NewLayer()
		lb := layers[i].bucket(testBucket, true)
		for j := range 4000 {
			layers[i].set(lb, fmt.Appendf(nil, "k%06d", 1000+i*4000+j), []byte("appended-0123456"), false)
		}
		for j := range 50 {
			layers[i].set(lb, fmt.Appendf(nil, "k%06d", j*19), fmt.Appendf(nil, "rewritten-%d", i), false)
		}
	}
	if err := dbs[0].Update(func(tx *bolt.Tx) error { return WriteLayersTo(tx, layers) }); err != nil {
		t.Fatal(err)
	}
	w := NewLayersWriter(layers)
	w.FillTails(string(testBucket))
	var sizes []int
	for more := true; more; {
		if err := dbs[1].Update(func(tx *bolt.Tx) (err error) {
			before := tx.Bucket(testBucket).Stats().KeyN
			more, err = w.Write(tx, 1000)
			sizes = append(sizes, tx.Bucket(testBucket).Stats().KeyN-before)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The 150 rewritten keys, before the tail, end their transaction.
	if len(sizes) < 2 || sizes[0] != 0 {
		t.Fatalf("transactions added %v keys: want the rewrites alone first", sizes)
	}
	var dumps [2][]string
	var leaves [2]int
	for i, db := range dbs {
		if err := db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(testBucket)
			leaves[i] = b.Stats().LeafPageN
			return b.ForEach(func(k, v []byte) error {
				dumps[i] = append(dumps[i], fmt.Sprintf("%s=%s", k, v))
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(dumps[0], dumps[1]) {
		t.Fatal("written in slices, the bucket holds other keys than written in one pass")
	}
	if leaves[1]*10 > leaves[0]*7 {
		t.Fatalf("%d leaf pages in slices against %d in one pass: the appended keys' pages are not filled", leaves[1], leaves[0])
	}
	t.Logf("leaf pages: one pass %d, in slices %d", leaves[0], leaves[1])

	// One transaction (Finish) fills them when the appended keys are all
	// it writes of the bucket.
	appended := make([]*Layer, len(layers))
	for i := range appended {
		appended[i] = NewLayer()
		lb := appended[i].bucket(testBucket, true)
		for j := range 4000 {
			appended[i].set(lb, fmt.Appendf(nil, "k%06d", 1000+i*4000+j), []byte("appended-0123456"), false)
		}
	}
	plain, filled := openTestDB(t, "plain.db"), openTestDB(t, "filled.db")
	for _, db := range []*bolt.DB{plain, filled} {
		if err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(testBucket).Put([]byte("k000000"), []byte("under"))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := plain.Update(func(tx *bolt.Tx) error { return WriteLayersTo(tx, appended) }); err != nil {
		t.Fatal(err)
	}
	fw := NewLayersWriter(appended)
	fw.FillTails(string(testBucket))
	if err := filled.Update(fw.Finish); err != nil {
		t.Fatal(err)
	}
	leafPages := func(db *bolt.DB) (n int) {
		_ = db.View(func(tx *bolt.Tx) error { n = tx.Bucket(testBucket).Stats().LeafPageN; return nil })
		return n
	}
	if p, f := leafPages(plain), leafPages(filled); f*10 > p*7 {
		t.Fatalf("appended in one transaction: %d leaf pages filled against %d plain", f, p)
	}
}

// TestRunsInAGapFillTheirPages checks that keys a transaction writes in
// long runs between two keys a bucket holds fill their pages as keys past
// its last do, in one transaction and in slices, and that keys scattered
// one to a gap are written as bbolt lays them out by default.
func TestRunsInAGapFillTheirPages(t *testing.T) {
	leafPages := func(db *bolt.DB) (n int) {
		_ = db.View(func(tx *bolt.Tx) error { n = tx.Bucket(testBucket).Stats().LeafPageN; return nil })
		return n
	}
	dump := func(db *bolt.DB) (out []string) {
		_ = db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(testBucket).ForEach(func(k, v []byte) error {
				out = append(out, string(k)+"="+string(v))
				return nil
			})
		})
		return out
	}
	for _, tc := range []struct {
		name   string
		held   func(i int) string // the bucket's keys before, 2,000 of them
		fresh  func(i int) string // the layers' keys, 12,000 of them
		filled bool
	}{
		// A register's parties sort before the operator's history key.
		{"one gap", func(i int) string { return fmt.Sprintf("a%06d", i) }, func(i int) string { return fmt.Sprintf("m%06d", i) }, true},
		// Runs of 40 between each pair of held keys.
		{"runs of 40", func(i int) string { return fmt.Sprintf("k%06d", i*1000) }, func(i int) string { return fmt.Sprintf("k%06d", (i/40)*1000+1+i%40) }, true},
		// Runs of 40, but three keys in the first gap: the transaction
		// fills none.
		{"a short gap among runs", func(i int) string { return fmt.Sprintf("k%06d", i*1000) }, func(i int) string {
			if i < 3 {
				return fmt.Sprintf("k%06d", 1+i)
			}
			return fmt.Sprintf("k%06d", ((i-3)/40+1)*1000+1+(i-3)%40)
		}, false},
		// Runs of 40 and one held key rewritten: its page may grow.
		{"a key rewritten among runs", func(i int) string { return fmt.Sprintf("k%06d", i*1000) }, func(i int) string {
			if i == 0 {
				return "k000000"
			}
			return fmt.Sprintf("k%06d", ((i-1)/40+1)*1000+1+(i-1)%40)
		}, false},
		// Six keys a gap: every page the commit touches would split again.
		{"six a gap", func(i int) string { return fmt.Sprintf("k%06d", i*100) }, func(i int) string { return fmt.Sprintf("k%06d", (i/6)*100+1+i%6) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := []string{"plain.db", "one.db", "sliced.db"}
			dbs := make([]*bolt.DB, len(names))
			for i, n := range names {
				dbs[i] = openTestDB(t, n)
				if err := dbs[i].Update(func(tx *bolt.Tx) error {
					b := tx.Bucket(testBucket)
					for j := range 2000 {
						if err := b.Put([]byte(tc.held(j)), []byte("held-0123456789")); err != nil {
							return err
						}
					}
					// The outlier past every key: no fresh key is past the last.
					return b.Put([]byte("zz-operator"), []byte("held"))
				}); err != nil {
					t.Fatal(err)
				}
			}
			layers := make([]*Layer, 2)
			for i := range layers {
				layers[i] = NewLayer()
				lb := layers[i].bucket(testBucket, true)
				for j := i; j < 12000; j += 2 {
					layers[i].set(lb, []byte(tc.fresh(j)), []byte("fresh-0123456789"), false)
				}
			}
			if err := dbs[0].Update(func(tx *bolt.Tx) error { return WriteLayersTo(tx, layers) }); err != nil {
				t.Fatal(err)
			}
			one := NewLayersWriter(layers)
			one.FillRuns(string(testBucket))
			if err := dbs[1].Update(one.Finish); err != nil {
				t.Fatal(err)
			}
			sliced := NewLayersWriter(layers)
			sliced.FillRuns(string(testBucket))
			for more := true; more; {
				if err := dbs[2].Update(func(tx *bolt.Tx) (err error) {
					more, err = sliced.Write(tx, 3000)
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			want := dump(dbs[0])
			if len(want) < 14000 {
				t.Fatalf("%d keys written in one pass, want 14,000 or more", len(want))
			}
			for _, db := range dbs[1:] {
				if got := dump(db); !slices.Equal(got, want) {
					t.Fatalf("%s holds other keys than written in one pass", db.Path())
				}
			}
			plain, one1, sliced1 := leafPages(dbs[0]), leafPages(dbs[1]), leafPages(dbs[2])
			t.Logf("leaf pages: plain %d, one transaction %d, in slices %d", plain, one1, sliced1)
			for _, got := range []int{one1, sliced1} {
				switch {
				case tc.filled && got*10 > plain*7:
					t.Errorf("%d leaf pages against %d plain: the runs' pages are not filled", got, plain)
				case !tc.filled && got != plain:
					t.Errorf("%d leaf pages against %d plain: keys scattered over gaps were filled", got, plain)
				}
			}
		})
	}
}
