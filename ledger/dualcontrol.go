package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// Dual control (RULES.md, "Separation of duties"): an instruction of a type
// the rulebook lists under dual_control is held, journaled with status
// pending, until another party with role operator approves it (then it is
// decided as its proposer submitted it, at the approval's time) or either
// cancels it. It expires at the rulebook's dual_control_ttl after it was
// held, judged by batch time: an approval after that is refused, and the
// first batch at or after it withdraws it. Each decision is journaled twice:
// the approve or cancel under its actor, and the pending instruction's own
// final outcome under its proposer, which its id then answers with.

// StatusPending is the outcome of an instruction held for a second party's
// approval.
const StatusPending = "pending"

// pendingRecord is a held instruction (bucket pending, JSON).
type pendingRecord struct {
	Actor     string    `json:"actor"`
	Body      []byte    `json:"body"` // the canonical instruction, as applied
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Seq       uint64    `json:"seq"` // the journal entry that held it
}

// PendingInstruction is one instruction held for approval, as served by
// GET /v1/pending.
type PendingInstruction struct {
	ID          string          `json:"id"`
	Actor       string          `json:"actor"`
	Instruction json.RawMessage `json:"instruction"`
	CreatedAt   time.Time       `json:"created_at"`
	ExpiresAt   time.Time       `json:"expires_at"`
	Seq         uint64          `json:"seq"`
}

// Pending lists the instructions held for approval, by id.
func (s *Store) Pending() (out []PendingInstruction, err error) {
	out = []PendingInstruction{}
	err = s.view(func(tx *kv.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
			var rec pendingRecord
			decodeJSON(v, &rec)
			out = append(out, PendingInstruction{ID: string(k), Actor: rec.Actor, Instruction: rec.Body,
				CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt, Seq: rec.Seq})
			return nil
		})
	})
	return out, err
}

// dualControl decides ins when dual control concerns it: it holds an
// instruction of a listed type, and approves or cancels one held. held is
// false for everything else, which takes the ordinary path (an approve or
// cancel of nothing held included: Effect refuses it).
func (a *applier) dualControl(index uint64, now time.Time, actor string, ins transfer.Instruction, body []byte) (result []byte, held bool) {
	rb := a.view.Rulebook()
	switch {
	case ins.Type == transfer.TypeApprove || ins.Type == transfer.TypeCancel:
		rec, ok := a.pending(ins.InstructionID)
		if !ok {
			return nil, false
		}
		return a.decidePending(index, now, actor, ins, body, bodyHashOf(actor, body), rec), true
	case rb.DualControl(string(ins.Type)):
		if transfer.Authorize(a.view, actor, ins) != nil {
			return nil, false // refused as ever, without waiting for anyone
		}
		out := a.record(index, now, actor, ins, body, bodyHashOf(actor, body), Outcome{Status: StatusPending}, touchedNames{})
		a.putPending(ins.ID, pendingRecord{Actor: actor, Body: body, CreatedAt: now, ExpiresAt: rb.PendingExpiry(now), Seq: out.Seq})
		return EncodeOutcome(out), true
	}
	return nil, false
}

// decidePending decides an approve or cancel of the held rec.
func (a *applier) decidePending(index uint64, now time.Time, actor string, ins transfer.Instruction, body []byte, bodyHash [bodyHashSize]byte, rec pendingRecord) []byte {
	refuse := func(code eligibility.Code, rule, format string, args ...any) []byte {
		r := eligibility.NewReason(code, rule, fmt.Sprintf(format, args...))
		out := Outcome{Status: StatusRejected, Reason: &r, Reasons: []eligibility.Reason{r}}
		return EncodeOutcome(a.record(index, now, actor, ins, body, bodyHash, out, touchedNames{}))
	}
	id := ins.InstructionID
	approver, _ := a.view.Party(actor)
	held, err := transfer.DecodeCanonical(rec.Body)
	if err != nil {
		fail("pending instruction %s does not decode: %v", id, err)
	}
	if ins.Type == transfer.TypeCancel {
		if actor != rec.Actor && approver.Role != eligibility.RoleOperator {
			return refuse(eligibility.CodeNotAuthorized, "dual_control.cancel", "only %s, which submitted %s, or the operator may cancel it", rec.Actor, id)
		}
		out := EncodeOutcome(a.record(index, now, actor, ins, body, bodyHash, Outcome{Status: StatusAccepted}, touchedNames{}))
		a.closePending(index, now, id, rec, held, nil, "dual_control.cancelled", fmt.Sprintf("%s was cancelled by %s", id, actor))
		return out
	}
	switch {
	case approver.Role != eligibility.RoleOperator || approver.Closed:
		return refuse(eligibility.CodeNotAuthorized, "authorization.approve", "only a party with role operator may approve %s", id)
	case actor == rec.Actor:
		return refuse(eligibility.CodeNotAuthorized, "dual_control.second_party", "%s submitted %s; a second party with role operator must approve it", actor, id)
	case !now.Before(rec.ExpiresAt):
		return refuse(eligibility.CodeInvalidInstruction, "dual_control.expired", "%s expired at %s unapproved", id, rec.ExpiresAt.Format(time.RFC3339))
	}
	// Decided as its proposer submitted it, against the state now.
	delta, reasons := transfer.Effect(a.view, rec.Actor, held, now)
	out := Outcome{Status: StatusAccepted}
	var touched touchedNames
	if delta == nil {
		r := reasons[0]
		out = Outcome{Status: StatusRejected, Reason: &r, Reasons: reasons}
	} else {
		changes := delta.Changes()
		// The approval's entry, recorded next, carries the balance history.
		a.view.commit(changes, a.seq+1)
		a.replaceSchedule(changes)
		touched = touchedBy(changes)
	}
	result := EncodeOutcome(a.record(index, now, actor, ins, body, bodyHash, out, touched))
	a.closePending(index, now, id, rec, held, &out, "", "")
	return result
}

// closePending journals the held instruction's final outcome (decided, or
// else rejected under rule with message), points its id at that entry and
// drops it from the pending bucket.
func (a *applier) closePending(index uint64, now time.Time, id string, rec pendingRecord, held transfer.Instruction, decided *Outcome, rule, message string) {
	out := Outcome{}
	if decided != nil {
		out.Status, out.Reason, out.Reasons = decided.Status, decided.Reason, decided.Reasons
	} else {
		r := eligibility.NewReason(eligibility.CodeInvalidInstruction, rule, message)
		out.Status, out.Reason, out.Reasons = StatusRejected, &r, []eligibility.Reason{r}
	}
	a.record(index, now, rec.Actor, held, rec.Body, bodyHashOf(rec.Actor, rec.Body), out, touchedNames{})
	if r := a.seen(id); r != nil { // record decided it: the held body's id is id
		r.Replaces = true
	}
	if err := a.tx.Bucket(bucketPending).Delete([]byte(id)); err != nil {
		panic(fmt.Sprintf("ledger: delete pending %s: %v", id, err))
	}
}

// record journals ins, decided as out, at the next seq, and makes its id
// answer with that entry.
func (a *applier) record(index uint64, now time.Time, actor string, ins transfer.Instruction, body []byte, bodyHash [bodyHashSize]byte, out Outcome, touched touchedNames) Outcome {
	a.seq++
	out.ID, out.Index, out.Seq = ins.ID, index, a.seq
	bodyServed := a.appendJournal(index, now, actor, ins, body, false, out, touched)
	a.decided(ins.ID, idRecord{BodyHash: bodyHash, Seq: a.seq, Outcome: EncodeOutcome(out), BodyServed: bodyServed})
	return out
}

// sweepPending withdraws, at the first batch at or after its expiry, every
// instruction held too long: the same batch on every node.
func (a *applier) sweepPending(index uint64, now time.Time) {
	b := a.tx.Bucket(bucketPending)
	if b.Empty() {
		return
	}
	type expired struct {
		id  string
		rec pendingRecord
	}
	var due []expired
	_ = b.ForEach(func(k, v []byte) error {
		var rec pendingRecord
		decodeJSON(v, &rec)
		if !now.Before(rec.ExpiresAt) {
			due = append(due, expired{string(k), rec})
		}
		return nil
	})
	for _, d := range due { // in id order, as ForEach read them
		held, err := transfer.DecodeCanonical(d.rec.Body)
		if err != nil {
			fail("pending instruction %s does not decode: %v", d.id, err)
		}
		a.closePending(index, now, d.id, d.rec, held, nil, "dual_control.expired",
			fmt.Sprintf("%s expired at %s unapproved", d.id, d.rec.ExpiresAt.Format(time.RFC3339)))
	}
}

func (a *applier) pending(id string) (pendingRecord, bool) {
	var rec pendingRecord
	raw := a.tx.Bucket(bucketPending).Get([]byte(id))
	if raw == nil {
		return rec, false
	}
	decodeJSON(raw, &rec)
	return rec, true
}

func (a *applier) putPending(id string, rec pendingRecord) {
	if err := a.tx.Bucket(bucketPending).Put([]byte(id), encodeJSON(rec)); err != nil {
		panic(fmt.Sprintf("ledger: put pending %s: %v", id, err))
	}
}

// bodyHashOf is the idempotency hash of an instruction body by actor.
func bodyHashOf(actor string, body []byte) (h [bodyHashSize]byte) {
	s := sha256.New()
	s.Write([]byte(actor))
	s.Write([]byte{0})
	s.Write(body)
	s.Sum(h[:0])
	return h
}

// dryRunDualControl is DryRun where dual control decides: an instruction of
// a listed type would be held pending; an approve of a held instruction
// answers as the approval would (the held instruction decided now). ok is
// false where Effect alone answers.
func dryRunDualControl(tx *kv.Tx, v *txView, actor string, ins transfer.Instruction, now time.Time) (out Outcome, ok bool) {
	out.ID = ins.ID
	reject := func(rs ...eligibility.Reason) (Outcome, bool) {
		out.Status, out.Reason, out.Reasons = StatusRejected, &rs[0], rs
		return out, true
	}
	switch {
	case ins.Type == transfer.TypeApprove || ins.Type == transfer.TypeCancel:
		raw := tx.Bucket(bucketPending).Get([]byte(ins.InstructionID))
		if raw == nil {
			return out, false
		}
		var rec pendingRecord
		decodeJSON(raw, &rec)
		p, _ := v.Party(actor)
		if ins.Type == transfer.TypeCancel {
			if actor != rec.Actor && p.Role != eligibility.RoleOperator {
				return reject(eligibility.NewReason(eligibility.CodeNotAuthorized, "dual_control.cancel", "only "+rec.Actor+" or the operator may cancel it"))
			}
			out.Status = StatusAccepted
			return out, true
		}
		switch {
		case p.Role != eligibility.RoleOperator:
			return reject(eligibility.NewReason(eligibility.CodeNotAuthorized, "authorization.approve", "only a party with role operator may approve"))
		case actor == rec.Actor:
			return reject(eligibility.NewReason(eligibility.CodeNotAuthorized, "dual_control.second_party", "a second party with role operator must approve it"))
		case !now.Before(rec.ExpiresAt):
			return reject(eligibility.NewReason(eligibility.CodeInvalidInstruction, "dual_control.expired", ins.InstructionID+" has expired"))
		}
		held, err := transfer.DecodeCanonical(rec.Body)
		if err != nil {
			fail("pending instruction %s does not decode: %v", ins.InstructionID, err)
		}
		if _, reasons := transfer.Effect(v, rec.Actor, held, now); len(reasons) > 0 {
			return reject(reasons...)
		}
		out.Status = StatusAccepted
		return out, true
	case v.Rulebook().DualControl(string(ins.Type)) && transfer.Authorize(v, actor, ins) == nil:
		out.Status = StatusPending
		return out, true
	}
	return out, false
}
