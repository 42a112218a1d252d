package ledger

import "github.com/tokenledger/tokenledger/ledger/kv"

// CorporateActionSummary is the `corporate_action` of a distribute's or
// split's outcome and accepting journal entry. It says what was known when
// the instruction was accepted, so it never changes afterwards: an action
// that completed in the accepting apply carries its holders, total and
// fractions with status "done"; one that goes on in steps carries only
// status "running" (its totals are in its corporate_action_done entry and
// GET /v1/corporate-actions/{id}).
type CorporateActionSummary struct {
	Holders   *uint64 `json:"holders,omitempty"`
	Total     *string `json:"total,omitempty"`
	Fractions *string `json:"fractions,omitempty"`
	Status    string  `json:"status"`
}

// summaryOf is act's summary as its accepting apply left it.
func summaryOf(act *corpAction) *CorporateActionSummary {
	// An action done in its accepting apply has its completion entry right
	// after the accepting one (journalDone); a stepped one completes in a
	// step's apply, after at least one step entry.
	if !act.done || act.doneSeq > act.seq+1 {
		return &CorporateActionSummary{Status: CorporateActionRunning}
	}
	holders, total, fractions := act.lines, act.total.String(), act.fractions.String()
	return &CorporateActionSummary{Holders: &holders, Total: &total, Fractions: &fractions, Status: CorporateActionDone}
}

// corpSummaryAt is the summary of the action accepted as entry seq, nil if
// that entry started none.
func corpSummaryAt(tx *kv.Tx, seq uint64) *CorporateActionSummary {
	act := loadCorpAction(tx.Bucket(bucketCorpActions), seq)
	if act == nil {
		return nil
	}
	return summaryOf(act)
}

// attachCorpActions gives the accepting entries of corporate actions among
// entries their summaries. A journal with no action costs one seek.
func attachCorpActions(tx *kv.Tx, entries []JournalEntry) {
	if k, _ := tx.Bucket(bucketCorpActions).Cursor().Seek([]byte{caAction}); k == nil || k[0] != caAction {
		return
	}
	for i := range entries {
		if entries[i].Status == StatusAccepted {
			entries[i].CorporateAction = corpSummaryAt(tx, entries[i].Seq)
		}
	}
}

// journaledOutcomeTx is journaledOutcome with the corporate action summary
// the outcome carried.
func journaledOutcomeTx(tx *kv.Tx, id string, seq uint64) Outcome {
	o := journaledOutcome(tx.Bucket(bucketJournal), id, seq)
	if o.Status == StatusAccepted {
		o.CorporateAction = corpSummaryAt(tx, seq)
	}
	return o
}
