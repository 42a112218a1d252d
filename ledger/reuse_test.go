package ledger

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"
	"weak"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

// TestApplyResultsOutliveLaterCalls holds Apply's calls to sharing no
// memory with what they return (applyReuse): the outcomes a call returned
// must read the same after any number of later calls, whatever their sizes,
// including calls larger than what applyReuse keeps, repeats of earlier ids
// (whose outcomes come from lookupID) and rejections.
func TestApplyResultsOutliveLaterCalls(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			h := newHarness(t)
			h.propertyWorld()
			g := newGen(seed)
			type kept struct{ got, want []byte }
			var all []kept
			var past [][]byte
			for call := 0; call < 120; call++ {
				n := 1
				switch g.r.Intn(6) {
				case 0:
					n = 2 + g.r.Intn(10)
				case 1:
					n = reuseMaxEntries + 1 + g.r.Intn(50) // more than a small call hands on; the next small one lets its maps go
				}
				items := make([][]byte, n)
				for i := range items {
					if len(past) > 0 && g.r.Intn(8) == 0 {
						items[i] = past[g.r.Intn(len(past))] // a repeat: its first outcome again
						continue
					}
					actor, body := g.next()
					items[i] = InstructionItem(actor, []byte(body))
					past = append(past, items[i])
				}
				h.index++
				res := h.s.Apply([]Batch{{Index: h.index, Term: 1, Time: h.now, Items: items}})
				for _, r := range res[0] {
					all = append(all, kept{got: r, want: bytes.Clone(r)})
				}
			}
			for i, k := range all {
				if !bytes.Equal(k.got, k.want) {
					t.Fatalf("outcome %d changed after later calls: was %s, now %s", i, k.want, k.got)
				}
			}
		})
	}
}

// TestApplyKeepsItsTransactionWhileACommitWrites holds a commit after it
// wrote the frozen layer into its transaction: Apply's calls meanwhile keep
// one read transaction from call to call; released, the commit grows the
// file past what is mapped, so bbolt remaps it, which waits for every read
// transaction: the commit must end Apply's itself and finish, with no call
// of Apply after it to end it.
func TestApplyKeepsItsTransactionWhileACommitWrites(t *testing.T) {
	const commitEvery = 500
	s := openStoreWith(t, Config{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true, CommitEvery: commitEvery, mmapBytes: 1 << 16})
	h := &harness{t: t, s: s, now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.mustAccept(OperatorID, ins("register_party", party("cus-1", "custodian")))
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	small := fileSize(t, s.cfg.Path)

	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.beforeCommitFinish = func() {
		once.Do(func() { // the first commit only
			close(held)
			<-release
		})
	}
	var regs [][]byte
	for i := range commitEvery + 1500 {
		regs = append(regs, InstructionItem("cus-1", []byte(ins("register_party", investor(fmt.Sprintf("grow-%d", i), "accredited", "US")))))
	}
	for _, o := range h.apply(regs...) { // freezes the live layer: a commit starts
		if o.Status != StatusAccepted {
			t.Fatalf("register: %+v", o)
		}
	}
	<-held
	var txs []*kv.Tx
	for i := range 3 {
		h.mustAccept("cus-1", ins("register_party", investor(fmt.Sprintf("after-%d", i), "accredited", "US")))
		s.wmu.Lock()
		txs = append(txs, s.applyTx)
		s.wmu.Unlock()
	}
	if txs[0] == nil || txs[1] != txs[0] || txs[2] != txs[0] {
		t.Errorf("Apply's transactions during the commit: %p %p %p, want one, kept", txs[0], txs[1], txs[2])
	}
	close(release)
	committed := make(chan error, 1)
	go func() { committed <- s.Commit() }()
	select {
	case err := <-committed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the commit waited for Apply's read transaction: bbolt's remap hangs")
	}
	if big := fileSize(t, s.cfg.Path); big < 4*small || big < 4<<16 {
		t.Errorf("the file grew from %d to %d bytes: too little to have remapped a map of %d", small, big, 1<<16)
	}
	for i := range 3 {
		if _, err := s.Party(fmt.Sprintf("after-%d", i)); err != nil {
			t.Errorf("after-%d: %v", i, err)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// TestRestoreAndCloseLetTheOldCachesGo checks that what Apply's calls hand
// on does not keep a state's record caches in memory once a restore has
// replaced them or Close has dropped them: a view kept its caches, which
// at a million investors held a restore's peak 0.9 GB higher.
func TestRestoreAndCloseLetTheOldCachesGo(t *testing.T) {
	src := restoreSource(t)
	snap := snapshotOf(t, src.s)

	s, h, _, _ := restoreTarget(t)
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "1")) // a call hands its view on
	s.mu.RLock()
	before := weak.Make(s.cache.holdings)
	s.mu.RUnlock()
	if err := s.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if err := s.awaitRestoreCheck(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	if before.Value() != nil {
		t.Error("the record cache a restore replaced is still reachable")
	}

	h.mustAccept("iss-1", mintBody("REG", "acc-us", "1"))
	s.mu.RLock()
	before = weak.Make(s.cache.holdings)
	s.mu.RUnlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	if before.Value() != nil {
		t.Error("the record cache of a closed store is still reachable")
	}
}

func TestAppendPooled(t *testing.T) {
	pool := make([]int, 0, 16) // room: nothing reallocates
	a := appendPooled(&pool, nil, 1, 2)
	b := appendPooled(&pool, nil, 3)
	// Extending a list whose array the next list shares must not write
	// over the next list's elements.
	a = appendPooled(&pool, a, 9)
	c := appendPooled(&pool, nil, 4, 5)
	for _, tc := range []struct {
		name      string
		got, want []int
	}{
		{"a", a, []int{1, 2, 9}},
		{"b", b, []int{3}},
		{"c", c, []int{4, 5}},
		{"pool", pool, []int{1, 2, 3, 4, 5}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

// TestOneTransferAllocations counts what a call of one transfer allocates
// once the store has warmed up: a count (testing.AllocsPerRun), not a
// time. A buffer Apply keeps from call to call that stops being kept, or
// a step that starts to allocate for every instruction, shows here: the
// journal hash's scratch space, once not kept, made it four a call.
func TestOneTransferAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	path := filepath.Join(t.TempDir(), "s.db")
	cfg := Config{Path: path, NoSync: true, CommitEvery: 1 << 30}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var index uint64
	apply := func(items [][]byte) [][]byte {
		index++
		return s.Apply([]Batch{{Index: index, Term: 1, Time: epoch.Add(time.Duration(index) * time.Millisecond), Items: items}})[0]
	}
	apply([][]byte{KeyItem(OperatorID, hashKey("k"))})
	apply(fundedAccounts(100))
	// Opened again, Apply's buffers start empty and grow only by what
	// canonical transfers ask of them, as a node's do.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStoreWith(t, cfg)
	const warm, runs = 1000, 2000
	items := make([][]byte, warm+runs+1)
	for i := range items {
		body := fmt.Sprintf(`{"id":"t-%d","type":"transfer","legs":[{"symbol":"USD","from":"inv-%d","to":"inv-%d","amount":"0.01"}]}`, i, i%100, (i+1+i/100)%100)
		items[i] = InstructionItem(OperatorID, []byte(body))
	}
	accepted := []byte(`"status":"accepted"`)
	for i := range warm {
		if r := apply(items[i : i+1]); !bytes.Contains(r[0], accepted) {
			t.Fatalf("transfer %d: %s", i, r[0])
		}
	}
	n := warm
	got := testing.AllocsPerRun(runs, func() {
		if r := apply(items[n : n+1]); !bytes.Contains(r[0], accepted) {
			t.Fatalf("transfer %d: %s", n, r[0])
		}
		n++
	})
	t.Logf("%.2f allocations a call", got)
	if got > maxOneTransferAllocs {
		t.Errorf("a call of one transfer makes %.2f allocations, more than %.1f", got, maxOneTransferAllocs)
	}
}

// maxOneTransferAllocs is what TestOneTransferAllocations allows: the call's
// result list, with room for the blocks that fill now and then.
const maxOneTransferAllocs = 1.5

func TestHandOnLimit(t *testing.T) {
	for _, tc := range []struct {
		before, items     int
		wantLimit, handOn int
	}{
		{0, 1, reuseMaxEntries, reuseMaxEntries},
		{reuseMaxEntries, 1, reuseMaxEntries, reuseMaxEntries},
		{reuseMaxEntries, 1000, 4000, 4000},
		{4000, 1000, 4000, 4000},
		{4000, 250, 1000, 1000}, // a quarter the size: still kept
		{4000, 249, 996, 0},     // smaller: let go
		{4000, 1, reuseMaxEntries, 0},
		{reuseMaxEntries, 100_000, reuseMaxEntriesLarge, reuseMaxEntriesLarge},
		{reuseMaxEntriesLarge, 1000, 4000, 0},
	} {
		limit, handOn := handOnLimit(tc.before, tc.items)
		if limit != tc.wantLimit || handOn != tc.handOn {
			t.Errorf("handOnLimit(%d, %d) = %d, %d; want %d, %d", tc.before, tc.items, limit, handOn, tc.wantLimit, tc.handOn)
		}
	}
	for _, tc := range []struct{ before, items, want int }{
		{0, 1, reuseMaxEntries},
		{4000, 1000, 4000},
		{reuseMaxEntries, 1000, 4000}, // a larger call keeps the small maps, to grow
		{4000, 250, 4000},             // a quarter the size: its maps are cleared
		{4000, 249, 0},                // smaller: let go uncleared
		{4000, 1, 0},
	} {
		if got := viewLimit(tc.before, tc.items); got != tc.want {
			t.Errorf("viewLimit(%d, %d) = %d, want %d", tc.before, tc.items, got, tc.want)
		}
	}
	m := map[int]bool{}
	for i := range 300 {
		m[i] = true
	}
	if reusedMap(m, 299) != nil {
		t.Error("a map of 300 entries kept under a limit of 299")
	}
	if got := reusedMap(m, 300); got == nil || len(got) != 0 {
		t.Errorf("a map of 300 entries under a limit of 300: %v, want it emptied", got)
	}
	if reusedMap(m, 0) != nil {
		t.Error("an empty map kept under a limit of 0")
	}
	l := make([]*int, 5, 300)
	if reusedList(l, 299) != nil {
		t.Error("a list with room for 300 kept under a limit of 299")
	}
	if got := reusedList(l, 300); got == nil || len(got) != 0 || cap(got) != 300 {
		t.Errorf("a list with room for 300 under a limit of 300: len %d cap %d, want it emptied", len(got), cap(got))
	}
}

// TestCallsHandOnInProportion follows the id map Apply hands from call to
// call (applyBuffers.seenIDs) through calls of different sizes: a call of a
// thousand instructions hands it on, and the next such call fills the
// same map instead of growing a new one from nothing; a call of one after
// them lets it go (clearing it would cost every small call the size it
// grew to), and the next small call hands on a small one again.
func TestCallsHandOnInProportion(t *testing.T) {
	s := openStoreWith(t, Config{Path: filepath.Join(t.TempDir(), "s.db"), NoSync: true, CommitEvery: 1 << 30})
	var index uint64
	next := 0
	apply := func(n int) {
		t.Helper()
		items := make([][]byte, n)
		for i := range items {
			body := fmt.Sprintf(`{"id":"p-%d","type":"transfer","legs":[{"symbol":"USD","from":"inv-%d","to":"inv-%d","amount":"0.01"}]}`, next, next%100, (next+1)%100)
			items[i] = InstructionItem(OperatorID, []byte(body))
			next++
		}
		index++
		for i, r := range s.Apply([]Batch{{Index: index, Term: 1, Time: epoch.Add(time.Duration(index) * time.Millisecond), Items: items}})[0] {
			if !bytes.Contains(r, []byte(`"status":"accepted"`)) {
				t.Fatalf("item %d: %s", i, r)
			}
		}
	}
	index++
	s.Apply([]Batch{{Index: index, Term: 1, Time: epoch, Items: [][]byte{KeyItem(OperatorID, hashKey("k"))}}})
	index++
	s.Apply([]Batch{{Index: index, Term: 1, Time: epoch, Items: fundedAccounts(100)}})
	handedOn := func() uintptr {
		if s.reuse.bufs.seenIDs == nil {
			return 0
		}
		return reflect.ValueOf(s.reuse.bufs.seenIDs).Pointer()
	}
	// The view's history, a record an instruction, is emptied when the
	// next call takes the view: the same array filled again, or let go.
	history := func() (uintptr, int) {
		h := s.reuse.view.history
		return uintptr(unsafe.Pointer(unsafe.SliceData(h))), cap(h)
	}
	apply(1000)
	first := handedOn()
	if first == 0 {
		t.Fatal("a call of 1,000 instructions handed on no id map")
	}
	firstHistory, _ := history()
	if firstHistory == 0 {
		t.Fatal("a call of 1,000 instructions left its view no history")
	}
	apply(1000)
	if got := handedOn(); got != first {
		t.Errorf("the next call of 1,000 handed on another id map (%#x, was %#x)", got, first)
	}
	if got, _ := history(); got != firstHistory {
		t.Errorf("the next call of 1,000 filled another history (%#x, was %#x)", got, firstHistory)
	}
	apply(1)
	if got := handedOn(); got != 0 {
		t.Errorf("a call of one after calls of 1,000 handed on their id map (%#x)", got)
	}
	smallHistory, c := history()
	if smallHistory == 0 {
		t.Fatal("a call of one left its view no history")
	}
	if smallHistory == firstHistory || c > reuseMaxEntries {
		t.Errorf("a call of one after calls of 1,000 kept their history (room for %d)", c)
	}
	apply(1)
	if handedOn() == 0 {
		t.Error("a call of one after a call of one handed on no id map")
	}
	if got, _ := history(); got != smallHistory {
		t.Errorf("a call of one after a call of one filled another history (%#x, was %#x)", got, smallHistory)
	}
}

func TestBlockList(t *testing.T) {
	var l blockList[[2]int]
	var ps []*[2]int
	for i := range 100 {
		p := l.next(4, 32)
		if *p != [2]int{} {
			t.Fatalf("element %d handed out as %v, want zero", i, *p)
		}
		p[0], p[1] = i, -i
		ps = append(ps, p)
	}
	for i, p := range ps { // nothing moved while the list grew
		if *p != [2]int{i, -i} {
			t.Fatalf("element %d reads %v after more were handed out", i, *p)
		}
	}
	// Blocks of 4, 8, 16, 32, 32: 92 elements, and a sixth of 32 for the rest.
	if got := len(l.blocks); got != 6 {
		t.Errorf("100 elements in %d blocks, want 6", got)
	}
	// Kept within the limit, the blocks hand out the same places again,
	// zeroed.
	l.reset(1 << 10)
	for i := range 100 {
		p := l.next(4, 32)
		if p != ps[i] {
			t.Fatalf("after reset, element %d at a new place", i)
		}
		if *p != [2]int{} {
			t.Fatalf("after reset, element %d handed out as %v, want zero", i, *p)
		}
	}
	// A limit keeps the blocks that fit it, from the first.
	l.reset(4 + 8 + 16)
	if got := len(l.blocks); got != 3 {
		t.Errorf("reset(28) kept %d blocks, want the first 3", got)
	}
	if p := l.next(4, 32); p != ps[0] {
		t.Error("after reset(28), the first element at a new place")
	}
	l.reset(0)
	if len(l.blocks) != 0 {
		t.Errorf("reset(0) kept %d blocks", len(l.blocks))
	}
	if p := l.next(4, 32); p == ps[0] || *p != [2]int{} {
		t.Error("after reset(0), the first element reused a dropped block or is not zero")
	}
}
