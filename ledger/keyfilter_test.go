package ledger

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

// TestIDFilter holds the filter to what it must never do, deny an id it was
// given, through its growths, and bounds its false positives.
func TestIDFilter(t *testing.T) {
	var nilFilter *keyFilter
	if !nilFilter.mayHold("x") {
		t.Error("a nil filter denies an id")
	}
	nilFilter.addStrings([]string{"x"}) // takes none, without a panic
	defer func(n int) { keyFilterFirst = n }(keyFilterFirst)
	keyFilterFirst = 1 << 12
	f := newKeyFilter(bucketIDs, "instruction ids", 0)
	if !f.mayHold("never-added") {
		t.Error("a filter whose scan has not finished denies an id")
	}
	f.ready.Store(true)
	rng := rand.New(rand.NewPCG(1, 2))
	n := 25 * keyFilterFirst // two fourfold growths
	var strs []string
	for i := range n {
		id := fmt.Sprintf("id-%d-%x", i, rng.Uint64())
		strs = append(strs, id)
		if len(strs) == 100 {
			f.addStrings(strs)
			strs = strs[:0]
		}
	}
	f.addStrings(strs)
	if len(f.filters) < 3 {
		t.Errorf("%d filters after %d ids from a first capacity of %d: it did not grow", len(f.filters), n, keyFilterFirst)
	}
	rng = rand.New(rand.NewPCG(1, 2))
	for i := range n {
		if id := fmt.Sprintf("id-%d-%x", i, rng.Uint64()); !f.mayHold(id) {
			t.Fatalf("id %d (%s) was added and is denied", i, id)
		}
	}
	positives := 0
	for i := range 100_000 {
		if f.mayHold(fmt.Sprintf("other-%d", i)) {
			positives++
		}
	}
	// About 1% a filter, asked in turn.
	if positives > 100_000*len(f.filters)*3/100 {
		t.Errorf("%d of 100,000 ids never added may be held (%d filters)", positives, len(f.filters))
	}
}

// TestIDFilterBuild scans a file's ids in several read transactions: every
// id it holds is held once the scan is done, and a stopped scan is never
// ready.
func TestIDFilterBuild(t *testing.T) {
	defer func(n int) { scanChunk = n }(scanChunk)
	scanChunk = 7
	db, err := bolt.Open(filepath.Join(t.TempDir(), "ids.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ids []string
	for i := range 100 {
		ids = append(ids, fmt.Sprintf("%c-%d", 'a'+i%26, i))
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketIDs)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := b.Put([]byte(id), []byte{1}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f := newKeyFilter(bucketIDs, "instruction ids", len(ids))
	f.build(db, slog.New(slog.DiscardHandler))
	if !f.ready.Load() {
		t.Fatal("the scan finished and the filter is not ready")
	}
	for _, id := range ids {
		if !f.mayHold(id) {
			t.Errorf("the file holds %s and the filter denies it", id)
		}
	}
	stopped := newKeyFilter(bucketIDs, "instruction ids", len(ids))
	stopped.stop.Store(true)
	stopped.build(db, slog.New(slog.DiscardHandler))
	if stopped.ready.Load() || stopped.mayHold("never") == false {
		t.Error("a stopped scan made its filter ready")
	}
}

// TestRepeatAfterReopen repeats instructions after a restart, once the
// filter has scanned the file: every id is found in the file (the first
// outcome, or ID_REUSED for another body), and new ids apply.
func TestRepeatAfterReopen(t *testing.T) {
	defer func(n int) { scanChunk = n }(scanChunk)
	scanChunk = 5 // several read transactions
	path := filepath.Join(t.TempDir(), "state.db")
	h := &harness{t: t, s: openStore(t, path, true), now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.world()
	var bodies []string
	var first []Outcome
	for i := range 30 {
		b := fmt.Sprintf(`{"id":"m-%d","type":"mint","symbol":"USD","to":"ret-us","amount":"%d"}`, i, i+1)
		bodies = append(bodies, b)
		first = append(first, h.mustAccept(OperatorID, b))
	}
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	h.s = openStore(t, path, true)
	<-h.s.ids.done
	if !h.s.ids.ready.Load() {
		t.Fatal("the reopened store's filter is not ready after its scan")
	}
	balance := h.balance("ret-us", "USD")
	for i, b := range bodies {
		if o := h.do(OperatorID, b); o.Status != first[i].Status || o.Seq != first[i].Seq {
			t.Errorf("repeat of %s after a restart: %+v, want the first outcome %+v", b, o, first[i])
		}
		if o := h.do(OperatorID, strings.Replace(b, `"ret-us"`, `"acc-us"`, 1)); o.Error == nil || o.Error.Code != ErrCodeIDReused {
			t.Errorf("another body under the id of %s after a restart: %+v, want ID_REUSED", b, o)
		}
	}
	if got := h.balance("ret-us", "USD"); got != balance {
		t.Errorf("repeats moved the balance from %s to %s", balance, got)
	}
	// An id applied after the scan reaches the filter from Apply itself.
	fresh := `{"id":"m-new","type":"mint","symbol":"USD","to":"ret-us","amount":"1"}`
	o := h.mustAccept(OperatorID, fresh)
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	if again := h.do(OperatorID, fresh); again.Seq != o.Seq {
		t.Errorf("repeat of an id applied after the scan: %+v, want the first outcome %+v", again, o)
	}
}

// TestHoldingsFilterAfterReopen reopens a store whose file holds 300
// holdings, waits for the holdings filter's scan (many read transactions
// of the packed bucket), and checks that the filter holds every holding
// the file holds; that Apply reads them (a transfer to each adds to its
// balance, where a holding the filter wrongly denied would be replaced by
// the amount received); that holdings never held are denied, so the file
// is not asked for them; and that a holding Apply writes is held at once.
func TestHoldingsFilterAfterReopen(t *testing.T) {
	defer func(n int) { scanChunk = n }(scanChunk)
	scanChunk = 7
	path := filepath.Join(t.TempDir(), "state.db")
	h := &harness{t: t, s: openStore(t, path, true), now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	const n = 300
	for i, o := range h.apply(fundedAccounts(n)...) {
		if o.Status != StatusAccepted {
			t.Fatalf("set-up item %d: %+v", i, o)
		}
	}
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	h.s = openStore(t, path, true)
	f := h.s.holdings
	<-f.done
	if !f.ready.Load() {
		t.Fatal("the reopened store's holdings filter is not ready after its scan")
	}
	held := 0
	if err := viewKV(h.s.db, func(tx *kv.Tx) error {
		c := tx.Bucket(bucketHoldings).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			held++
			if !f.mayHoldKey(k) {
				t.Errorf("the file holds the holding %q and the filter denies it", k)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if held != n {
		t.Fatalf("the file holds %d holdings, want %d", held, n)
	}
	denied := 0
	for i := range 100 {
		if !f.mayHoldKey(join(fmt.Sprintf("inv-%d", i), "NEVER")) {
			denied++
		}
	}
	if denied < 90 {
		t.Errorf("the filter denies %d of 100 holdings never held, want about all", denied)
	}
	for i := 0; i < n; i += 2 {
		h.mustAccept(OperatorID, transferBody("USD", fmt.Sprintf("inv-%d", i), fmt.Sprintf("inv-%d", i+1), "1"))
	}
	for i := range n {
		want := "999"
		if i%2 == 1 {
			want = "1001"
		}
		if got := h.balance(fmt.Sprintf("inv-%d", i), "USD"); got != want {
			t.Fatalf("inv-%d holds %s USD after the transfers, want %s", i, got, want)
		}
	}
	// The transfers changed 300 holdings the filter held already: none of
	// them took its room, so writes do not grow the filter, holdings do.
	if used := f.cap - f.room; used != n {
		t.Errorf("the filter counts %d keys added after %d holdings and transfers among them, want %d", used, n, n)
	}
	h.mustAccept("cus-1", ins("register_party", investor("late", "retail", "US")))
	h.mustAccept(OperatorID, mintBody("USD", "late", "5"))
	if !f.mayHoldKey(join("late", "USD")) {
		t.Error("a holding Apply wrote is denied by the filter before its commit")
	}
	if errs := h.s.Check(); len(errs) > 0 {
		t.Fatal(errs)
	}
}
