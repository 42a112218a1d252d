package ledger

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestWriteOff_OutcomeAndJournal checks that a close-out that writes off a
// loan reports it in its outcome, in a repeat of that outcome, and in its
// journal entry, whose hash an auditor recomputes from the served JSON
// alone; and that an entry without a write-off serves no written_off field.
func TestWriteOff_OutcomeAndJournal(t *testing.T) {
	h := newBorrowerHarness(t)
	h.mustAccept(OperatorID, buyREG("2000"))
	markREG(h, "0.10")
	h.mustAccept("cus-1", closeOutBody("REG", "2000"))
	body := closeOutBody("USD", "500")
	first := h.s.Apply([]Batch{{Index: h.index + 1, Term: 1, Time: h.now, Items: [][]byte{InstructionItem("cus-1", []byte(body))}}})[0][0]
	h.index++
	o, err := DecodeOutcome(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.WrittenOff) != 1 {
		t.Fatalf("written_off = %+v, want one write-off", o.WrittenOff)
	}
	w := o.WrittenOff[0]
	if w.Party != "ret-us" || w.Lender != "cus-1" || w.Cash != "USD" || w.Amount.String() != "800" {
		t.Errorf("written_off = %+v, want 800 USD owed by ret-us to cus-1", w)
	}
	again := h.apply(InstructionItem("cus-1", []byte(body)))
	if got := EncodeOutcome(again[0]); !bytes.Equal(got, first) {
		t.Errorf("repeat outcome = %s, want the first %s", got, first)
	}
	stored, err := h.s.Outcome(o.ID)
	if err != nil || !bytes.Equal(EncodeOutcome(stored), first) {
		t.Errorf("recorded outcome = %s (%v), want %s", EncodeOutcome(stored), err, first)
	}

	page, err := h.s.Journal(JournalQuery{After: o.Seq - 2, Limit: 2})
	if err != nil || len(page.Entries) != 2 {
		t.Fatalf("journal page: %+v, %v", page, err)
	}
	for i, e := range page.Entries {
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var served JournalEntry
		if err := json.Unmarshal(raw, &served); err != nil {
			t.Fatal(err)
		}
		if got, err := ComputeHash(served); err != nil || got != e.Hash {
			t.Errorf("entry %d: ComputeHash = %s (%v), want %s", e.Seq, got, err, e.Hash)
		}
		has := bytes.Contains(raw, []byte(`"written_off"`))
		if want := i == 1; has != want {
			t.Errorf("entry %d serves written_off: %v, want %v: %s", e.Seq, has, want, raw)
		}
	}
	if v := mustVerifyJournal(t, h.s); !v.OK {
		t.Errorf("journal verification: %+v", v)
	}
	// A served entry whose write-off was altered no longer matches its hash.
	e := page.Entries[1]
	e.WrittenOff[0].Amount = e.WrittenOff[0].Amount.Add(e.WrittenOff[0].Amount)
	if got, _ := ComputeHash(e); got == e.Hash {
		t.Error("ComputeHash ignores written_off")
	}
}
