package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestPackedReadsAsPlain writes the same random puts and deletes into a
// plain bbolt bucket and into a packed one: through layers frozen and
// written at random points, in transactions of a random number of keys
// (LayersWriter.Write), and now and then straight into the file (Wrap). After
// every step a Get of every key and a walk of cursor moves read the same
// from both, and the packed bucket's chunks check (CheckPacked). Values of
// up to 300 bytes over 300 keys split chunks, and runs of deletes empty
// them.
func TestPackedReadsAsPlain(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			ref := openTestDB(t, "ref.db")
			db := openTestDB(t, "packed.db")
			keys := make([][]byte, 300)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "p%03d\x00s%d", i, i%7)
			}
			// Some seeds start from a filled plain bucket that Pack
			// rewrites; the others from an empty packed one.
			prefill := seed%3 == 0
			for _, d := range []*bolt.DB{ref, db} {
				if err := d.Update(func(tx *bolt.Tx) error {
					if prefill {
						for i, k := range keys {
							if i%3 != 0 {
								if err := tx.Bucket(testBucket).Put(k, fmt.Appendf(nil, "init%d", i)); err != nil {
									return err
								}
							}
						}
					}
					if d == db {
						return Pack(tx, testBucket)
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			var frozen []*Layer
			top := NewLayer()
			var writer *LayersWriter // writing frozen[0] over several transactions
			value := func(step int) []byte {
				v := fmt.Appendf(nil, "v%d-", step)
				switch rng.IntN(6) {
				case 0:
					return []byte{}
				case 1:
					return append(v, strings.Repeat("x", rng.IntN(300))...)
				}
				return v
			}
			for step := range 400 {
				// A run of neighbouring keys now and then, so that one
				// chunk takes many changes at once.
				n := 1
				if rng.IntN(8) == 0 {
					n = 1 + rng.IntN(40)
				}
				first := rng.IntN(len(keys))
				del := rng.IntN(3) == 0
				direct := rng.IntN(12) == 0 && len(frozen) == 0 && writer == nil && top.Len() == 0
				for i := range n {
					k := keys[(first+i)%len(keys)]
					v := value(step)
					if err := ref.Update(func(tx *bolt.Tx) error {
						if del {
							return tx.Bucket(testBucket).Delete(k)
						}
						return tx.Bucket(testBucket).Put(k, v)
					}); err != nil {
						t.Fatal(err)
					}
					if direct {
						if err := db.Update(func(btx *bolt.Tx) error {
							b := Wrap(btx).Bucket(testBucket)
							if del {
								return b.Delete(k)
							}
							return b.Put(k, v)
						}); err != nil {
							t.Fatal(err)
						}
						continue
					}
					if err := db.View(func(btx *bolt.Tx) error {
						b := Over(btx, frozen, top).Bucket(testBucket)
						if del {
							return b.Delete(k)
						}
						return b.Put(k, v)
					}); err != nil {
						t.Fatal(err)
					}
				}
				switch rng.IntN(6) {
				case 0:
					top.Seal()
					frozen = append(frozen, top)
					top = NewLayer()
				case 1, 2:
					if len(frozen) == 0 {
						break
					}
					if writer == nil {
						writer = NewLayersWriter(frozen[:1])
					}
					var more bool
					if err := db.Update(func(tx *bolt.Tx) error {
						if rng.IntN(2) == 0 {
							var err error
							more, err = writer.Write(tx, 1+rng.IntN(60))
							return err
						}
						return writer.Finish(tx)
					}); err != nil {
						t.Fatal(err)
					}
					if !more {
						frozen, writer = frozen[1:], nil
					}
				}
				if writer != nil {
					// Half written: reads see the layer over the file.
					comparePacked(t, rng, ref, db, frozen, top, keys, step)
					continue
				}
				comparePacked(t, rng, ref, db, frozen, top, keys, step)
				if err := db.View(func(tx *bolt.Tx) error { return CheckPacked(tx.Bucket(testBucket)) }); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
			}
			if err := db.View(func(tx *bolt.Tx) error {
				if !IsPacked(tx.Bucket(testBucket)) {
					t.Fatal("the bucket is no longer packed")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			// Unpacked, the bucket holds ref's keys a bbolt key each.
			for writer != nil || len(frozen) > 0 {
				if writer == nil {
					writer = NewLayersWriter(frozen[:1])
				}
				if err := db.Update(writer.Finish); err != nil {
					t.Fatal(err)
				}
				frozen, writer = frozen[1:], nil
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				if err := top.WriteTo(tx); err != nil {
					return err
				}
				return Unpack(tx, testBucket)
			}); err != nil {
				t.Fatal(err)
			}
			var want, got []string
			_ = ref.View(func(tx *bolt.Tx) error {
				return tx.Bucket(testBucket).ForEach(func(k, v []byte) error { want = append(want, fmt.Sprintf("%q=%q", k, v)); return nil })
			})
			_ = db.View(func(tx *bolt.Tx) error {
				if IsPacked(tx.Bucket(testBucket)) {
					t.Error("unpacked, the bucket is still packed")
				}
				return tx.Bucket(testBucket).ForEach(func(k, v []byte) error { got = append(got, fmt.Sprintf("%q=%q", k, v)); return nil })
			})
			if strings.Join(want, ",") != strings.Join(got, ",") {
				t.Fatalf("unpacked: %d keys unlike the plain bucket's %d", len(got), len(want))
			}
		})
	}
}

// comparePacked reads ref and the packed db alike: every key by Get, keys
// between them by Get, then a walk of cursor moves.
func comparePacked(t *testing.T, rng *rand.Rand, ref, db *bolt.DB, frozen []*Layer, top *Layer, keys [][]byte, step int) {
	t.Helper()
	rtx, btx, done := readBoth(t, ref, db)
	defer done()
	rb := rtx.Bucket(testBucket)
	pb := Over(btx, frozen, top).Bucket(testBucket)
	if len(frozen) == 0 && top.Len() == 0 && rng.IntN(2) == 0 {
		pb = Wrap(btx).Bucket(testBucket)
	}
	probe := func(k []byte) {
		if want, got := rb.Get(k), pb.Get(k); !bytes.Equal(want, got) || (want == nil) != (got == nil) {
			t.Fatalf("step %d: Get(%q) = %q, want %q", step, k, got, want)
		}
	}
	for _, k := range keys {
		probe(k)
		probe(append(k[:len(k):len(k)], 'x'))
	}
	probe([]byte("a"))
	probe([]byte("z"))
	if k, _ := rb.Cursor().First(); (k == nil) != pb.Empty() {
		t.Fatalf("step %d: Empty() = %v, bbolt's first key %q", step, pb.Empty(), k)
	}
	walkAlike(t, rng, step, 60, rb, pb, func() []byte {
		s := keys[rng.IntN(len(keys))]
		if rng.IntN(2) == 0 {
			s = append(s[:len(s):len(s)], 'x')
		}
		return s
	})
	var rn, pn int
	_ = rb.ForEach(func(k, v []byte) error { rn++; return nil })
	_ = pb.ForEach(func(k, v []byte) error { pn++; return nil })
	if rn != pn {
		t.Fatalf("step %d: ForEach found %d keys, want %d", step, pn, rn)
	}
}

// TestPackedChunksStayBounded fills a packed bucket in one commit and
// checks that no chunk is past packedMaxBytes and that the bucket has far
// fewer bbolt keys than keys.
func TestPackedChunksStayBounded(t *testing.T) {
	db := openTestDB(t, "packed.db")
	const n = 5000
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := Pack(tx, testBucket); err != nil {
			return err
		}
		l := NewLayer()
		b := Over(tx, nil, l).Bucket(testBucket)
		for i := range n {
			if err := b.Put(fmt.Appendf(nil, "party-%06d\x00SYM", (i*7919)%n), []byte("a holding's record, about forty bytes..")); err != nil {
				return err
			}
		}
		return l.WriteTo(tx)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(testBucket)
		if err := CheckPacked(b); err != nil {
			return err
		}
		chunks := 0
		if err := b.ForEach(func(k, v []byte) error {
			chunks++
			if len(v) > packedMaxBytes {
				t.Errorf("chunk %q holds %d bytes, past %d", k, len(v), packedMaxBytes)
			}
			return nil
		}); err != nil {
			return err
		}
		if chunks*10 > n {
			t.Errorf("%d keys in %d chunks: fewer than ten a chunk", n, chunks)
		}
		count := 0
		_ = Wrap(tx).Bucket(testBucket).ForEach(func(k, v []byte) error { count++; return nil })
		if count != n {
			t.Errorf("ForEach found %d keys, want %d", count, n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSplicedChunksMatchMerged writes the same random rounds of puts and
// deletes (each a layer over the last, into a packed bucket that holds
// keys already) into two files, one with its chunks' changes spliced into
// their bytes (mergeRaw) and one with every chunk decoded, merged and
// encoded again: the two files' chunks must be the same bytes under the
// same fences, round after round, and check clean. Rounds grow chunks past
// their bound (a split) and empty them (a delete), which splicing leaves
// to the merge.
func TestSplicedChunksMatchMerged(t *testing.T) {
	defer func(on bool) { spliceChunks = on }(spliceChunks)
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 7))
		dbs := [2]*bolt.DB{openTestDB(t, fmt.Sprintf("spliced-%d.db", seed)), openTestDB(t, fmt.Sprintf("merged-%d.db", seed))}
		for _, db := range dbs {
			if err := db.Update(func(tx *bolt.Tx) error { return Pack(tx, testBucket) }); err != nil {
				t.Fatal(err)
			}
		}
		for round := range 30 {
			type change struct {
				key, val []byte
				del      bool
			}
			var changes []change
			for range 1 + rng.IntN(60) {
				c := change{key: fmt.Appendf(nil, "k%04d", rng.IntN(400))}
				if c.del = rng.IntN(4) == 0; !c.del {
					c.val = bytes.Repeat([]byte{byte('a' + round%26)}, rng.IntN(120))
				}
				changes = append(changes, c)
			}
			if rng.IntN(4) == 0 { // a run of deletes, which empties chunks
				from := rng.IntN(360)
				changes = changes[:0]
				for k := from; k < from+40; k++ {
					changes = append(changes, change{key: fmt.Appendf(nil, "k%04d", k), del: true})
				}
			}
			var chunks [2][]string
			for i, db := range dbs {
				spliceChunks = i == 0
				if err := db.Update(func(tx *bolt.Tx) error {
					l := NewLayer()
					b := Over(tx, nil, l).Bucket(testBucket)
					for _, c := range changes {
						var err error
						if c.del {
							err = b.Delete(c.key)
						} else {
							err = b.Put(c.key, c.val)
						}
						if err != nil {
							return err
						}
					}
					if err := l.WriteTo(tx); err != nil {
						return err
					}
					if err := CheckPacked(tx.Bucket(testBucket)); err != nil {
						return err
					}
					return tx.Bucket(testBucket).ForEach(func(k, v []byte) error {
						chunks[i] = append(chunks[i], fmt.Sprintf("%x=%x", k, v))
						return nil
					})
				}); err != nil {
					t.Fatalf("seed %d round %d: %v", seed, round, err)
				}
			}
			if strings.Join(chunks[0], "\n") != strings.Join(chunks[1], "\n") {
				t.Fatalf("seed %d round %d: spliced chunks\n%s\nmerged chunks\n%s", seed, round, strings.Join(chunks[0], "\n"), strings.Join(chunks[1], "\n"))
			}
		}
	}
}

// TestDamagedChunk: a chunk that does not decode panics a reader (as the
// ledger's damaged records do, stopping Apply) and fails CheckPacked; a
// chunk out of order fails CheckPacked.
func TestDamagedChunk(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fence string
		val   []byte
	}{
		{"truncated", "k", appendChunk(nil, []chunkEntry{{[]byte("k"), []byte("value")}})[:5]},
		{"empty", "k", []byte{0}},
		{"below its fence", "m", appendChunk(nil, []chunkEntry{{[]byte("a"), []byte("v")}})},
		{"out of order", "k", appendChunk(nil, []chunkEntry{{[]byte("l"), []byte("v")}, {[]byte("k"), []byte("v")}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t, "packed.db")
			if err := db.Update(func(tx *bolt.Tx) error {
				if err := Pack(tx, testBucket); err != nil {
					return err
				}
				return tx.Bucket(testBucket).Put([]byte(tc.fence), tc.val)
			}); err != nil {
				t.Fatal(err)
			}
			_ = db.View(func(tx *bolt.Tx) error {
				if err := CheckPacked(tx.Bucket(testBucket)); err == nil {
					t.Error("CheckPacked found nothing wrong")
				}
				return nil
			})
		})
	}
	db := openTestDB(t, "packed.db")
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := Pack(tx, testBucket); err != nil {
			return err
		}
		return tx.Bucket(testBucket).Put([]byte("k"), []byte{1, 9})
	}); err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		defer func() {
			if recover() == nil {
				t.Error("a Get of a damaged chunk did not panic")
			}
		}()
		Wrap(tx).Bucket(testBucket).Get([]byte("k"))
		return nil
	})
}

// TestSortedWriter puts random runs of ascending keys, some new and some
// already held, through a SortedWriter into a packed bucket and straight
// into a plain one, reading keys past the last put between puts (as the
// journal postings' writer does); after Flush the buckets read the same.
// A key that does not follow the last put is refused.
func TestSortedWriter(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 3))
		ref := openTestDB(t, "ref.db")
		db := openTestDB(t, "packed.db")
		if err := db.Update(func(tx *bolt.Tx) error { return Pack(tx, testBucket) }); err != nil {
			t.Fatal(err)
		}
		for round := range 20 {
			var keys []int
			var vals [][]byte
			for k := rng.IntN(20); k < 3000; k += 1 + rng.IntN(200) {
				keys = append(keys, k)
				vals = append(vals, fmt.Appendf(nil, "r%d-%s", round, strings.Repeat("v", rng.IntN(80))))
			}
			// The packed one first: ref still holds the round before.
			for _, d := range []*bolt.DB{db, ref} {
				if err := d.Update(func(btx *bolt.Tx) error {
					b := Wrap(btx).Bucket(testBucket)
					w := b.SortedWriter()
					for i, k := range keys {
						key := fmt.Appendf(nil, "n%05d", k)
						past := fmt.Appendf(nil, "n%05d", k+1+rng.IntN(50))
						want := btx.Bucket(testBucket).Get(past)
						if d == db {
							want = nil
							_ = ref.View(func(rtx *bolt.Tx) error {
								want = bytes.Clone(rtx.Bucket(testBucket).Get(past))
								return nil
							})
						}
						if got := b.Get(past); d == db && !bytes.Equal(got, want) {
							t.Fatalf("seed %d round %d: Get(%s) between puts = %q, want %q", seed, round, past, got, want)
						}
						if err := w.Put(key, vals[i]); err != nil {
							return err
						}
					}
					return w.Flush()
				}); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.View(func(tx *bolt.Tx) error { return CheckPacked(tx.Bucket(testBucket)) }); err != nil {
				t.Fatal(err)
			}
			probes := make([][]byte, 0, 3200)
			for k := range 3200 {
				probes = append(probes, fmt.Appendf(nil, "n%05d", k))
			}
			comparePacked(t, rng, ref, db, nil, NewLayer(), probes, round)
			var rn, pn []string
			_ = ref.View(func(tx *bolt.Tx) error {
				return tx.Bucket(testBucket).ForEach(func(k, v []byte) error { rn = append(rn, string(k)+"="+string(v)); return nil })
			})
			_ = db.View(func(tx *bolt.Tx) error {
				return Wrap(tx).Bucket(testBucket).ForEach(func(k, v []byte) error { pn = append(pn, string(k)+"="+string(v)); return nil })
			})
			if strings.Join(rn, ",") != strings.Join(pn, ",") {
				t.Fatalf("seed %d round %d: the packed bucket holds %d keys unlike the plain one's %d", seed, round, len(pn), len(rn))
			}
		}
	}
	db := openTestDB(t, "order.db")
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := Pack(tx, testBucket); err != nil {
			return err
		}
		w := Wrap(tx).Bucket(testBucket).SortedWriter()
		if err := w.Put([]byte("b"), []byte("1")); err != nil {
			return err
		}
		if err := w.Put([]byte("b"), []byte("2")); err == nil {
			t.Error("a key put twice was taken")
		}
		if err := w.Put([]byte("a"), []byte("3")); err == nil {
			t.Error("a key before the last was taken")
		}
		return w.Flush()
	}); err != nil {
		t.Fatal(err)
	}
}

// FuzzPackedChunk: the entries of a chunk decodeChunk reads without
// panicking encode and decode back to themselves, and chunkGet finds each of its keys' values (the
// first of equal keys, in a chunk that CheckPacked would refuse) and
// nothing for a key it lacks; a chunk it refuses, chunkGet refuses too or
// finds nothing past the damage.
func FuzzPackedChunk(f *testing.F) {
	f.Add(appendChunk(nil, []chunkEntry{{[]byte("a"), []byte("1")}, {[]byte("b"), nil}}))
	f.Add(appendChunk(nil, []chunkEntry{{[]byte("party\x00SYM"), []byte("holding record")}}))
	f.Add([]byte{0})
	f.Add([]byte{1, 5, 'a'})
	f.Fuzz(func(t *testing.T, v []byte) {
		var ents []chunkEntry
		if !panics(func() { ents = decodeChunk(nil, []byte("fence"), v) }) {
			// Lengths may take more bytes than they need; the entries
			// encode and decode back to themselves.
			again := decodeChunk(nil, []byte("fence"), appendChunk(nil, ents))
			if len(again) != len(ents) {
				t.Fatalf("decoded %d entries, %d once encoded again", len(ents), len(again))
			}
			for i := range ents {
				if !bytes.Equal(again[i].key, ents[i].key) || !bytes.Equal(again[i].val, ents[i].val) {
					t.Fatalf("entry %d: %q=%q, %q=%q once encoded again", i, ents[i].key, ents[i].val, again[i].key, again[i].val)
				}
			}
			sorted := true
			for i := 1; i < len(ents); i++ {
				sorted = sorted && bytes.Compare(ents[i-1].key, ents[i].key) < 0
			}
			if sorted {
				for _, e := range ents {
					if got := chunkGet([]byte("fence"), v, e.key); !bytes.Equal(got, e.val) || got == nil {
						t.Fatalf("chunkGet(%q) = %q, want %q", e.key, got, e.val)
					}
					if got := chunkGet([]byte("fence"), v, append(bytes.Clone(e.key), 0)); got != nil && !slicesHaveKey(ents, append(bytes.Clone(e.key), 0)) {
						t.Fatalf("chunkGet found %q for a key the chunk lacks", got)
					}
				}
			}
		}
	})
}

func slicesHaveKey(ents []chunkEntry, key []byte) bool {
	for _, e := range ents {
		if bytes.Equal(e.key, key) {
			return true
		}
	}
	return false
}

// panics reports whether fn panics.
func panics(fn func()) (did bool) {
	defer func() { did = recover() != nil }()
	fn()
	return false
}

// TestSortedWriterFloor writes as the journal postings' writer does: for
// names in order, the greatest key at or below the name's last possible
// key (Floor), then, when that key is the name's, the key again with a
// longer value and, now and then, keys past it. A packed bucket and a
// plain one, each through its SortedWriter, answer every Floor alike and
// end up alike, their chunks in order: a name's last key may lie in the
// chunk before the one its Floor loaded.
func TestSortedWriterFloor(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 5))
		ref := openTestDB(t, "ref.db")
		db := openTestDB(t, "packed.db")
		if err := db.Update(func(tx *bolt.Tx) error { return Pack(tx, testBucket) }); err != nil {
			t.Fatal(err)
		}
		for round := range 15 {
			// Each name's puts: a longer value for its last key, then
			// some new keys past it.
			type step struct {
				name   string
				grow   []byte
				extras int
			}
			var steps []step
			for n := rng.IntN(5); n < 400; n += 1 + rng.IntN(30) {
				steps = append(steps, step{fmt.Sprintf("name%04d", n), []byte(strings.Repeat("s", 1+rng.IntN(40))), rng.IntN(3)})
			}
			var floors [2][]string
			for i, d := range []*bolt.DB{ref, db} {
				if err := d.Update(func(btx *bolt.Tx) error {
					w := Wrap(btx).Bucket(testBucket).SortedWriter()
					for _, st := range steps {
						prefix := []byte(st.name + "\x00")
						k, v, err := w.Floor(append(bytes.Clone(prefix), 0xff, 0xff))
						if err != nil {
							return err
						}
						// A floor of another name's may be its key as it
						// stood before the puts or after them; only the
						// name's own is the caller's.
						if k != nil && bytes.HasPrefix(k, prefix) {
							floors[i] = append(floors[i], fmt.Sprintf("%q=%q", k, v))
						} else {
							floors[i] = append(floors[i], "none")
						}
						last := 0
						if k != nil && bytes.HasPrefix(k, prefix) {
							fmt.Sscanf(string(k[len(prefix):]), "%d", &last)
							if err := w.Put(bytes.Clone(k), append(bytes.Clone(v), st.grow...)); err != nil {
								return err
							}
						}
						for e := range st.extras {
							if err := w.Put(fmt.Appendf(bytes.Clone(prefix), "%06d", last+1+e), []byte(fmt.Sprintf("r%d", round))); err != nil {
								return err
							}
						}
					}
					return w.Flush()
				}); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := strings.Join(floors[1], " "), strings.Join(floors[0], " "); got != want {
				t.Fatalf("seed %d round %d: floors %s, want %s", seed, round, got, want)
			}
			if err := db.View(func(tx *bolt.Tx) error { return CheckPacked(tx.Bucket(testBucket)) }); err != nil {
				t.Fatalf("seed %d round %d: %v", seed, round, err)
			}
			var rn, pn []string
			_ = ref.View(func(tx *bolt.Tx) error {
				return tx.Bucket(testBucket).ForEach(func(k, v []byte) error { rn = append(rn, fmt.Sprintf("%q=%q", k, v)); return nil })
			})
			_ = db.View(func(tx *bolt.Tx) error {
				return Wrap(tx).Bucket(testBucket).ForEach(func(k, v []byte) error { pn = append(pn, fmt.Sprintf("%q=%q", k, v)); return nil })
			})
			if strings.Join(rn, ",") != strings.Join(pn, ",") {
				t.Fatalf("seed %d round %d: the packed bucket holds %d keys unlike the plain one's %d", seed, round, len(pn), len(rn))
			}
		}
	}
}

// TestFloorInTheChunkBefore: a chunk whose fence is below its first key
// (its first keys deleted) sends a Floor between the two to the chunk
// before, and a put of a key below the fence goes into that chunk, not
// the one Floor loaded.
func TestFloorInTheChunkBefore(t *testing.T) {
	db := openTestDB(t, "packed.db")
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := Pack(tx, testBucket); err != nil {
			return err
		}
		b := tx.Bucket(testBucket)
		if err := b.Put([]byte("a"), appendChunk(nil, []chunkEntry{{[]byte("a"), []byte("1")}, {[]byte("c"), []byte("2")}})); err != nil {
			return err
		}
		return b.Put([]byte("m"), appendChunk(nil, []chunkEntry{{[]byte("p"), []byte("3")}}))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		w := Wrap(tx).Bucket(testBucket).SortedWriter()
		k, v, err := w.Floor([]byte("n"))
		if err != nil {
			return err
		}
		if string(k) != "c" || string(v) != "2" {
			t.Errorf("Floor(n) = %q=%q, want c=2", k, v)
		}
		if err := w.Put([]byte("d"), []byte("4")); err != nil {
			return err
		}
		if err := w.Put([]byte("q"), []byte("5")); err != nil {
			return err
		}
		return w.Flush()
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if err := CheckPacked(tx.Bucket(testBucket)); err != nil {
			return err
		}
		b := Wrap(tx).Bucket(testBucket)
		for k, want := range map[string]string{"a": "1", "c": "2", "d": "4", "p": "3", "q": "5"} {
			if got := b.Get([]byte(k)); string(got) != want {
				t.Errorf("Get(%s) = %q, want %q", k, got, want)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
