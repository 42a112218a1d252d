package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

// TestCallStateReachesEveryReader applies random calls to two stores: one
// that commits every call, whose meta counters and tree reach the file with
// each, and one that commits none until the end, so that they live in its
// memory (callState) and reach the live layer only when something reads.
// After every call each store's readers of the layers must see the same
// applied index, term, last time, journal seq and head, and tree head, all
// matching the calls; at the end, and after a reopen, the files must hash
// alike.
func TestCallStateReachesEveryReader(t *testing.T) {
	dir := t.TempDir()
	every := openStoreWith(t, Config{Path: filepath.Join(dir, "every.db"), NoSync: true, CommitEvery: 1})
	none := openStoreWith(t, Config{Path: filepath.Join(dir, "none.db"), NoSync: true, CommitEvery: 1 << 30})
	stores := []*Store{every, none}

	type counters struct {
		applied, term, seq uint64
		last               time.Time
		head               [journalHashSize]byte
		tree               TreeHead
	}
	read := func(s *Store) counters {
		t.Helper()
		var c counters
		if err := s.view(func(tx *kv.Tx) error {
			meta := tx.Bucket(bucketMeta)
			c.applied, c.term, c.seq = getUint(meta, metaAppliedIndex), getUint(meta, metaAppliedTerm), getUint(meta, metaJournalSeq)
			c.last, c.head = getTime(meta), getJournalHead(meta)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		th, err := s.TreeHead()
		if err != nil {
			t.Fatal(err)
		}
		c.tree = th
		return c
	}

	const accounts = 20
	setup := fundedAccounts(accounts)
	r := rand.New(rand.NewPCG(7, 8))
	now := epoch
	var seq uint64
	for call := 1; call <= 300; call++ {
		var items [][]byte
		if call == 1 {
			items = setup
		} else {
			for range 1 + r.IntN(3) {
				from, to := r.IntN(accounts), r.IntN(accounts-1)
				if to >= from {
					to++ // a transfer to oneself is malformed, and not journaled
				}
				// Some overdraw and are rejected: they are journaled too.
				items = append(items, InstructionItem(OperatorID, []byte(transferBody("USD", fmt.Sprintf("inv-%d", from), fmt.Sprintf("inv-%d", to), fmt.Sprint(1+r.IntN(1500))))))
			}
		}
		now = now.Add(time.Duration(r.IntN(3)) * time.Second)
		term := uint64(1 + call/100)
		for _, s := range stores {
			s.Apply([]Batch{{Index: uint64(call), Term: term, Time: now, Items: items}})
		}
		seq += uint64(len(items))
		a, b := read(every), read(none)
		if a != b {
			t.Fatalf("call %d: a store committing every call reads %+v, one committing none %+v", call, a, b)
		}
		if a.applied != uint64(call) || a.term != term || a.seq != seq || !a.last.Equal(now) || a.tree.Size != seq {
			t.Fatalf("call %d: readers see %+v, want applied %d, term %d, seq %d, time %v", call, a, call, term, seq, now)
		}
		if call%97 == 0 {
			// A commit in the middle: the next calls go on from it.
			if x, y := mustHashes(t, every), mustHashes(t, none); x != y {
				t.Fatalf("call %d: hashes differ: %+v, %+v", call, x, y)
			}
		}
	}
	// A store committing every call makes each durable when Apply returns:
	// a crash straight after one, with nothing read in between, keeps it.
	last := InstructionItem(OperatorID, []byte(mintBody("USD", "inv-0", "5")))
	for _, s := range stores {
		s.Apply([]Batch{{Index: 301, Term: 4, Time: now, Items: [][]byte{last}}})
	}
	every.crash()
	every = openStoreWith(t, Config{Path: filepath.Join(dir, "every.db"), NoSync: true, CommitEvery: 1})
	want := read(none)
	if got := read(every); got != want || got.applied != 301 {
		t.Fatalf("after a crash a store committing every call reads %+v, want %+v", got, want)
	}
	if x, y := mustHashes(t, every), mustHashes(t, none); x != y {
		t.Fatalf("the files hash differently: %+v, %+v", x, y)
	}
	if err := none.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openStoreWith(t, Config{Path: filepath.Join(dir, "none.db"), NoSync: true, CommitEvery: 1 << 30})
	if got := read(reopened); got != want {
		t.Fatalf("after a reopen readers see %+v, want %+v", got, want)
	}
	if v := mustVerifyJournal(t, reopened); !v.OK || v.Length != seq+1 {
		t.Fatalf("journal after a reopen: %+v, want %d entries verified", v, seq+1)
	}
}

// TestKeepSuppliesOwnsItsMemory: the supplies values a call hands on are
// copies, their symbols too. A call's symbols and values live in memory the
// next call reuses (its decode arena, its journal arena); a kept map key
// whose bytes then changed would no longer be found, or would be found
// under another symbol.
func TestKeepSuppliesOwnsItsMemory(t *testing.T) {
	symbol := []byte("USD")
	key := binary.BigEndian.AppendUint64([]byte("USD\x00"), 7)
	points := []byte{7, 1, 2}
	var c callState
	c.keepSupplies(map[string]supplyTail{unsafe.String(&symbol[0], len(symbol)): {key: key, points: points, n: 1}})
	copy(symbol, "EUR") // the next call reuses the memory
	key[0], points[0] = 'X', 9
	kept := c.supplies["USD"]
	switch {
	case kept == nil || c.supplies["EUR"] != nil:
		t.Fatalf("kept %v: not under USD alone", c.supplies)
	case !bytes.Equal(kept.key, binary.BigEndian.AppendUint64([]byte("USD\x00"), 7)) || !bytes.Equal(kept.points, []byte{7, 1, 2}) || kept.n != 1:
		t.Fatalf("kept %q %v %d, want the values as the call left them", kept.key, kept.points, kept.n)
	}
	// A later call's value of the symbol goes into the same copy.
	c.keepSupplies(map[string]supplyTail{"USD": {key: key, points: []byte{7, 1, 2, 8, 1, 3}, n: 2}})
	if again := c.supplies["USD"]; again != kept || kept.n != 2 || len(kept.points) != 6 {
		t.Fatalf("second keep: %p %v, want the first copy updated", again, again)
	}
}
