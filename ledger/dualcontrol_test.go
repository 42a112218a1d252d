package ledger

import (
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// dualControlRulebook is the default rulebook with force_transfer and
// recover under dual control, pending for at most two days.
func dualControlRulebook(t testing.TB) string {
	t.Helper()
	y := string(eligibility.Default().YAML()) + "\ndual_control: [force_transfer, recover]\ndual_control_ttl: 2d\n"
	if _, err := eligibility.Parse([]byte(y)); err != nil {
		t.Fatalf("dual control rulebook: %v", err)
	}
	return y
}

func forceBody(from, to, amount string) string {
	return ins("force_transfer", map[string]any{"legal_reference": "order 9",
		"legs": []map[string]any{{"symbol": "REG", "from": from, "to": to, "amount": amount}}})
}

// TestDualControl drives RULES.md's opt-in dual control: a listed
// instruction waits, pending, for another operator's approve; its proposer
// cannot approve it; cancel withdraws it; it expires; each decision is
// journaled with both actors, and the pending id answers its final outcome.
func TestDualControl(t *testing.T) {
	h := newHarness(t)
	h.world()
	h.mustAccept(OperatorID, ins("register_party", party("op-2", "operator")))
	h.mustAccept(OperatorID, setRulebookBody(dualControlRulebook(t), nil))
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "10"))

	body := forceBody("acc-us", "qp-us", "4")
	held := h.do(OperatorID, body)
	if held.Status != StatusPending || held.Seq == 0 {
		t.Fatalf("force_transfer under dual control = %+v, want pending", held)
	}
	if got := h.balance("qp-us", "REG"); got != "0" {
		t.Errorf("a pending force_transfer moved units: qp-us holds %s", got)
	}
	if list, _ := h.s.Pending(); len(list) != 1 || list[0].ID != held.ID || list[0].Actor != OperatorID {
		t.Errorf("Pending() = %+v, want the held force_transfer", list)
	}
	if again := h.do(OperatorID, body); again.Status != StatusPending || again.Seq != held.Seq {
		t.Errorf("repeat of the held instruction = %+v, want its first outcome", again)
	}

	// The dry run answers as the approval would.
	dry := func(actor, body string) Outcome {
		t.Helper()
		instr, err := transfer.Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		o, err := h.s.DryRun(actor, instr, h.now)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if o := dry("op-2", ins("approve", map[string]any{"instruction_id": held.ID})); o.Status != StatusAccepted {
		t.Errorf("dry run of the approval = %+v, want accepted", o)
	}
	if o := dry(OperatorID, ins("approve", map[string]any{"instruction_id": held.ID})); o.Status != StatusRejected {
		t.Errorf("dry run of a self-approval = %+v, want rejected", o)
	}
	if o := dry(OperatorID, forceBody("acc-us", "qp-us", "1")); o.Status != StatusPending {
		t.Errorf("dry run of a force_transfer under dual control = %+v, want pending", o)
	}
	o := h.mustReject(OperatorID, ins("approve", map[string]any{"instruction_id": held.ID}), "NOT_AUTHORIZED")
	if o.Reason.Rule != "dual_control.second_party" {
		t.Errorf("self-approval: rule %q", o.Reason.Rule)
	}
	h.mustReject("iss-1", ins("approve", map[string]any{"instruction_id": held.ID}), "NOT_AUTHORIZED")
	approved := h.mustAccept("op-2", ins("approve", map[string]any{"instruction_id": held.ID}))
	if got := h.balance("qp-us", "REG"); got != "4" {
		t.Errorf("after approval qp-us holds %s, want 4", got)
	}
	final, err := h.s.Outcome(held.ID)
	if err != nil || final.Status != StatusAccepted || final.Seq != approved.Seq+1 {
		t.Errorf("Outcome(%s) after approval = %+v, %v; want accepted at seq %d", held.ID, final, err, approved.Seq+1)
	}
	page, _ := h.s.Journal(JournalQuery{After: approved.Seq - 1, Limit: 2})
	if len(page.Entries) != 2 || page.Entries[0].Actor != "op-2" || page.Entries[1].Actor != OperatorID {
		t.Errorf("journal of the approval = %+v, want the approver's entry then the proposer's", page.Entries)
	}
	h.mustReject("op-2", ins("approve", map[string]any{"instruction_id": held.ID}), "INVALID_INSTRUCTION")

	// Cancel by the proposer.
	second := h.do(OperatorID, forceBody("acc-us", "qp-us", "1"))
	h.mustAccept(OperatorID, ins("cancel", map[string]any{"instruction_id": second.ID}))
	if o, _ := h.s.Outcome(second.ID); o.Status != StatusRejected || o.Reason == nil || o.Reason.Rule != "dual_control.cancelled" {
		t.Errorf("Outcome of a cancelled instruction = %+v", o)
	}
	// A recover that an approval would find refused is refused at approval.
	third := h.do(OperatorID, ins("recover", map[string]any{"from": "inst-us", "to": "ghost"}))
	if third.Status != StatusPending {
		t.Fatalf("recover = %+v, want pending", third)
	}
	h.mustReject("op-2", ins("approve", map[string]any{"instruction_id": third.ID}), "UNKNOWN_PARTY")
	if o, _ := h.s.Outcome(third.ID); o.Status != StatusRejected || o.Reason == nil || o.Reason.Code != eligibility.CodeUnknownParty {
		t.Errorf("Outcome of a recover refused at approval = %+v", o)
	}

	// Expiry: approved too late is refused; the next batch withdraws it.
	fourth := h.do(OperatorID, forceBody("acc-us", "qp-us", "1"))
	h.now = h.now.Add(2 * day)
	h.mustReject("op-2", ins("approve", map[string]any{"instruction_id": fourth.ID}), "INVALID_INSTRUCTION")
	if list, _ := h.s.Pending(); len(list) != 0 {
		t.Errorf("Pending() after expiry = %+v, want none", list)
	}
	if o, _ := h.s.Outcome(fourth.ID); o.Status != StatusRejected || o.Reason == nil || o.Reason.Rule != "dual_control.expired" {
		t.Errorf("Outcome of an expired instruction = %+v", o)
	}
	if errs := h.s.Check(); len(errs) > 0 {
		t.Errorf("Check: %v", errs)
	}
	if v := mustVerifyJournal(t, h.s); !v.OK {
		t.Errorf("journal does not verify: %+v", v)
	}
}

// TestDualControlRoles is the role × instruction table of approve and
// cancel: who may decide an instruction an issuer's burn left pending.
func TestDualControlRoles(t *testing.T) {
	tests := []struct {
		name   string
		typ    string
		actor  string
		status string
		rule   string
	}{
		{"the proposer approves", "approve", "iss-1", StatusRejected, "authorization.approve"},
		{"the operator approves", "approve", OperatorID, StatusAccepted, ""},
		{"a second operator approves", "approve", "op-2", StatusAccepted, ""},
		{"a custodian approves", "approve", "cus-1", StatusRejected, "authorization.approve"},
		{"an investor approves", "approve", "acc-us", StatusRejected, "authorization.approve"},
		{"the proposer cancels", "cancel", "iss-1", StatusAccepted, ""},
		{"the operator cancels", "cancel", OperatorID, StatusAccepted, ""},
		{"a second operator cancels", "cancel", "op-2", StatusAccepted, ""},
		{"a custodian cancels", "cancel", "cus-1", StatusRejected, "dual_control.cancel"},
		{"another issuer cancels", "cancel", "iss-2", StatusRejected, "dual_control.cancel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.world()
			h.mustAccept(OperatorID, ins("register_party", party("op-2", "operator")))
			h.mustAccept(OperatorID, ins("register_party", party("iss-2", "issuer")))
			y := string(eligibility.Default().YAML()) + "\ndual_control: [burn]\n"
			h.mustAccept(OperatorID, setRulebookBody(y, nil))
			h.mustAccept("iss-1", mintBody("REG", "acc-us", "10"))
			held := h.do("iss-1", ins("burn", map[string]any{"symbol": "REG", "from": "acc-us", "amount": "2", "legal_reference": "order 4"}))
			if held.Status != StatusPending {
				t.Fatalf("burn = %+v, want pending", held)
			}
			o := h.do(tc.actor, ins(tc.typ, map[string]any{"instruction_id": held.ID}))
			if o.Status != tc.status || (tc.rule != "" && (o.Reason == nil || o.Reason.Rule != tc.rule)) {
				t.Errorf("%s by %s = %+v (reason %+v), want %s %s", tc.typ, tc.actor, o, o.Reason, tc.status, tc.rule)
			}
			pending, _ := h.s.Pending()
			if stays := tc.status == StatusRejected; stays != (len(pending) == 1) {
				t.Errorf("after %s by %s, pending = %+v", tc.typ, tc.actor, pending)
			}
		})
	}
}
