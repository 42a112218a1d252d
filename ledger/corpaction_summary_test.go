package ledger

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"testing"
)

// TestCorporateActionSummary checks the corporate_action an accepted
// distribute carries in its outcome, its recorded outcome and its journal
// entry: the totals when it completed at once, status running when it goes
// on in steps, and the same afterwards; and that every action's completion
// entry, right after the accepting one when it completed at once, names
// its lines' root.
func TestCorporateActionSummary(t *testing.T) {
	saved := inlineHolders
	t.Cleanup(func() { inlineHolders = saved })
	for _, tc := range []struct {
		name    string
		inline  int
		running bool
	}{
		{name: "at once", inline: 1000},
		{name: "in steps", inline: 3, running: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inlineHolders = tc.inline
			h := newHarness(t)
			corpWorld(h, rand.New(rand.NewSource(1)), 10)
			body := ins("distribute", map[string]any{"symbol": "REG", "cash_symbol": "USD", "amount_per_unit": "0.5"})
			o := h.mustAccept("iss-1", body)
			first := EncodeOutcome(o)
			ca := o.CorporateAction
			switch {
			case ca == nil:
				t.Fatalf("outcome %s carries no corporate_action", first)
			case tc.running && (ca.Status != CorporateActionRunning || ca.Holders != nil || ca.Total != nil):
				t.Fatalf("stepped: corporate_action %s, want only status running", first)
			case !tc.running && (ca.Status != CorporateActionDone || ca.Holders == nil || *ca.Holders != 10 || ca.Total == nil || ca.Fractions == nil):
				t.Fatalf("at once: corporate_action %s, want done over 10 holders", first)
			}
			for {
				running := mustAnswer(t, "running", h.s.RunningCorporateActions)
				if len(running) == 0 {
					break
				}
				h.apply(CorporateActionStepItem(running[0], 4))
			}
			// The recorded outcome, and a repeat of the instruction, answer
			// the first outcome's bytes.
			if got := EncodeOutcome(mustAnswer(t, "outcome", func() (Outcome, error) { return h.s.Outcome(o.ID) })); !bytes.Equal(got, first) {
				t.Fatalf("recorded outcome %s, first %s", got, first)
			}
			if got := EncodeOutcome(h.do("iss-1", body)); !bytes.Equal(got, first) {
				t.Fatalf("repeated outcome %s, first %s", got, first)
			}
			page := mustAnswer(t, "journal", func() (JournalPage, error) { return h.s.Journal(JournalQuery{After: o.Seq - 1, Limit: MaxJournalPage}) })
			if e := page.Entries[0]; e.Seq != o.Seq || e.CorporateAction == nil || e.CorporateAction.Status != ca.Status {
				t.Fatalf("accepting entry %+v, want corporate_action %+v", e, ca)
			}
			action := mustAnswer(t, "action", func() (CorporateActionPage, error) {
				return h.s.CorporateAction(CorporateActionQuery{ID: o.ID, Limit: 1})
			})
			if action.Status != CorporateActionDone || action.DoneSeq == 0 || (!tc.running && action.DoneSeq != o.Seq+1) {
				t.Fatalf("action %+v (accepted at %d)", action, o.Seq)
			}
			var done stepEvent
			for _, e := range page.Entries {
				if e.Seq == action.DoneSeq {
					if err := json.Unmarshal(e.Instruction, &done); err != nil {
						t.Fatal(err)
					}
				}
			}
			if done.Type != JournalCorporateActionDone || done.LinesRoot != action.LinesRoot || done.Holders != 10 || done.Total != action.Total.String() {
				t.Fatalf("completion entry %+v, action %+v", done, action)
			}
		})
	}
}
