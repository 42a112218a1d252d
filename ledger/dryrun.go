package ledger

import (
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// dryRun decides ins as the next apply would, reading tx and writing
// nothing: a distribute or split as the ledger accepts one (record point,
// escrow, the queue of its instrument), which costs at most the accepting
// apply's bounded slice of holders, not the register; anything else by its
// effect, then refused as Apply refuses it while a split of its instrument
// runs.
func (s *Store) dryRun(tx *kv.Tx, actor string, ins transfer.Instruction, now time.Time) []eligibility.Reason {
	a := &applier{tx: tx, view: newTxView(tx, s.rulebookAt(tx, now)), running: *s.corpRunning.Load()}
	if ins.Type == transfer.TypeDistribute || ins.Type == transfer.TypeSplit {
		next := getUint(tx.Bucket(bucketMeta), metaJournalSeq) + 1
		_, reasons, _ := a.acceptCorporateAction(next, actor, ins, now, true)
		return reasons
	}
	delta, reasons := transfer.Effect(a.view, actor, ins, now)
	if delta != nil {
		reasons = a.lockedBy(delta)
	}
	return reasons
}
