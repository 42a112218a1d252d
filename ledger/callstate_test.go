package ledger

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

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
