package ledger

import (
	"encoding/binary"
	"maps"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
)

// TestControlBookTermsAtASeq checks that the control book at a seq reports
// the max_supply and the holders' statuses of that seq, not today's: before
// and after an update_instrument and an update_party, and now.
func TestControlBookTermsAtASeq(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept("iss-1", mintBody("REG", "ret-us", "10"))
	minted := h.mustAccept("iss-1", mintBody("REG", "acc-us", "10"))
	capped := h.mustAccept("iss-1", ins("update_instrument", map[string]any{"symbol": "REG", "max_supply": "1000"}))
	accredited := h.mustAccept(OperatorID, ins("update_party", map[string]any{"party_id": "ret-us", "status": "accredited"}))
	lowered := h.mustAccept("iss-1", ins("update_instrument", map[string]any{"symbol": "REG", "max_supply": "500"}))
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "1"))

	for _, c := range []struct {
		name          string
		at            uint64
		now           bool
		authorized    string // "" for no cap
		nonAccredited int
	}{
		{"before REG existed", 1, false, "", 0},
		{"after the mints", minted.Seq, false, "", 1},
		{"after the cap", capped.Seq, false, "1000", 1},
		{"just before the status change", accredited.Seq - 1, false, "1000", 1},
		{"after the status change", accredited.Seq, false, "1000", 0},
		{"after the cap was lowered", lowered.Seq, false, "500", 0},
		{"now", 0, true, "500", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			book, err := h.s.ControlBook("REG", c.at, c.now)
			if err != nil {
				t.Fatal(err)
			}
			if got := capString(book.Authorized); (c.authorized == "" && got != "none") || (c.authorized != "" && got != c.authorized) {
				t.Errorf("authorized = %s, want %q", got, c.authorized)
			}
			if book.NonAccreditedHolders != c.nonAccredited {
				t.Errorf("non_accredited_holders = %d, want %d", book.NonAccreditedHolders, c.nonAccredited)
			}
			if !book.Reconciled {
				t.Errorf("not reconciled: %+v", book)
			}
		})
	}
	if errs := h.s.Check(); len(errs) > 0 {
		t.Errorf("Check: %v", errs)
	}
}

// TestTermsHistoryOfOlderStores checks the reads of a history with no key
// for a name (a record written before the history was kept: today's value),
// with a baseline at seq 0, and before a record's first key.
func TestTermsHistoryOfOlderStores(t *testing.T) {
	db, err := bolt.Open(t.TempDir()+"/terms.db", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dec := func(s string) *decimal.Decimal { d := decimal.RequireFromString(s); return &d }
	today := dec("77")
	err = db.Update(func(btx *bolt.Tx) error {
		if _, err := btx.CreateBucket(bucketMaxSupplyHistory); err != nil {
			return err
		}
		b := kv.Wrap(btx).Bucket(bucketMaxSupplyHistory)
		putTerm(b, "OLD", termsBaseline, encodeAuthorized(nil, nil))
		putTerm(b, "OLD", 9, encodeAuthorized(nil, dec("100")))
		putTerm(b, "NEW", 5, encodeAuthorized(nil, dec("50")))
		putTerm(b, "NEWER", 7, encodeAuthorized(nil, nil))
		putTerm(b, "NEWER", 8, encodeAuthorized(nil, dec("80")))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		symbol string
		seq    uint64
		want   string
	}{
		{"UNTOUCHED", 3, "77"}, // no history: today's value
		{"OLD", 0, "none"}, {"OLD", 8, "none"}, {"OLD", 9, "100"}, {"OLD", ^uint64(0), "100"},
		{"NEW", 4, "none"}, {"NEW", 5, "50"}, {"NEW", 100, "50"},
		{"NEWER", 6, "none"}, {"NEWER", 7, "none"}, {"NEWER", 8, "80"}, {"NEWER", ^uint64(0), "80"},
		{"NE", 100, "77"}, // a prefix of other names has no history of its own
	} {
		_ = viewKV(db, func(tx *kv.Tx) error {
			got := capString(authorizedAt(tx.Bucket(bucketMaxSupplyHistory).Cursor(), c.symbol, c.seq, today))
			if got != c.want {
				t.Errorf("authorizedAt(%s, %d) = %s, want %s", c.symbol, c.seq, got, c.want)
			}
			return nil
		})
	}
}

// TestTermsHistoryBeginsInAnOlderStore checks a store whose instruments and
// parties were written before the history was kept: reads fall back to
// today's values, and the first change records the value before it, so
// the seqs before the change keep answering what held then.
func TestTermsHistoryBeginsInAnOlderStore(t *testing.T) {
	h := newHarness(t)
	h.world()
	minted := h.mustAccept("iss-1", mintBody("REG", "ret-us", "10"))
	if err := h.s.commitPending(); err != nil {
		t.Fatal(err)
	}
	err := updateKV(h.s.db, func(tx *kv.Tx) error {
		for _, name := range [][]byte{bucketMaxSupplyHistory, bucketStatusHistory} {
			if err := tx.Bolt().DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.Bolt().CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if book, err := h.s.ControlBook("REG", minted.Seq, false); err != nil || book.Authorized != nil || book.NonAccreditedHolders != 1 {
		t.Errorf("ControlBook without history = %+v, %v; want today's: no cap, 1 non-accredited", book, err)
	}
	capped := h.mustAccept("iss-1", ins("update_instrument", map[string]any{"symbol": "REG", "max_supply": "1000"}))
	accredited := h.mustAccept(OperatorID, ins("update_party", map[string]any{"party_id": "ret-us", "status": "accredited"}))
	for _, c := range []struct {
		at            uint64
		authorized    string
		nonAccredited int
	}{
		{minted.Seq, "none", 1},
		{capped.Seq, "1000", 1},
		{accredited.Seq, "1000", 0},
	} {
		book, err := h.s.ControlBook("REG", c.at, false)
		if err != nil || capString(book.Authorized) != c.authorized || book.NonAccreditedHolders != c.nonAccredited {
			t.Errorf("ControlBook(at %d) = %+v, %v; want authorized %s, %d non-accredited", c.at, book, err, c.authorized, c.nonAccredited)
		}
	}
	if errs := h.s.Check(); len(errs) > 0 {
		t.Errorf("Check: %v", errs)
	}
}

// TestCheckFindsATermsHistoryOffToday checks that Check reports a history
// that does not end at today's max_supply or status.
func TestCheckFindsATermsHistoryOffToday(t *testing.T) {
	for _, c := range []struct {
		bucket []byte
		name   string
		val    []byte
	}{
		{bucketMaxSupplyHistory, "REG", encodeAuthorized(nil, func() *decimal.Decimal { d := decimal.NewFromInt(5); return &d }())},
		{bucketStatusHistory, "ret-us", encodeStatus(nil, "accredited")},
		{bucketStatusHistory, "nobody", encodeStatus(nil, "retail")},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.world()
			if err := h.s.commitPending(); err != nil {
				t.Fatal(err)
			}
			if err := updateKV(h.s.db, func(tx *kv.Tx) error {
				putTerm(tx.Bucket(c.bucket), c.name, 1<<40, c.val)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if errs := h.s.Check(); len(errs) == 0 {
				t.Error("Check found nothing")
			}
			// Put it right again for the cleanup's Check.
			_ = updateKV(h.s.db, func(tx *kv.Tx) error { return tx.Bucket(c.bucket).Delete(termKey(c.name, 1<<40)) })
		})
	}
}

// TestRegistrationWritesNoStatusHistory checks that a party's
// registration leaves the status history without a key for it, and that
// its first status change writes the registered status under seq 0 and the
// new one under the change's seq, which the control book reads at the seqs
// around the change.
func TestRegistrationWritesNoStatusHistory(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, ins("register_party", investor("inv-late", "retail", "US")))
	minted := h.mustAccept("iss-1", mintBody("REG", "inv-late", "10"))
	keysOf := func() map[uint64]string {
		out := map[uint64]string{}
		if err := h.s.view(func(tx *kv.Tx) error {
			prefix := []byte("inv-late\x00")
			c := tx.Bucket(bucketStatusHistory).Cursor()
			for k, v := c.Seek(prefix); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
				out[binary.BigEndian.Uint64(k[len(prefix):])] = string(decodeStatus(v))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := keysOf(); len(got) != 0 {
		t.Fatalf("status history after registering: %v, want none", got)
	}
	changed := h.mustAccept(OperatorID, ins("update_party", map[string]any{"party_id": "inv-late", "status": "accredited"}))
	if got, want := keysOf(), map[uint64]string{termsBaseline: "retail", changed.Seq: "accredited"}; !maps.Equal(got, want) {
		t.Fatalf("status history after the change: %v, want %v", got, want)
	}
	for _, c := range []struct {
		at            uint64
		nonAccredited int
	}{{minted.Seq, 1}, {changed.Seq - 1, 1}, {changed.Seq, 0}} {
		book, err := h.s.ControlBook("REG", c.at, false)
		if err != nil {
			t.Fatal(err)
		}
		// ret-us and acc-us hold none of REG in the world; inv-late alone.
		if book.NonAccreditedHolders != c.nonAccredited {
			t.Errorf("at %d: non_accredited_holders = %d, want %d", c.at, book.NonAccreditedHolders, c.nonAccredited)
		}
	}
	if errs := h.s.Check(); len(errs) > 0 {
		t.Errorf("Check: %v", errs)
	}
}
