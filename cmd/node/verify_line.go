package main

import (
	"encoding/json"
	"fmt"

	"github.com/tokenledger/tokenledger/ledger"
)

// A holder's line of a corporate action is checked in two links: the line
// is a leaf of the tree whose root the action's completion entry carries as
// lines_root (the line proof, GET /v1/corporate-actions/{id}/proof), and
// that entry is in the journal's tree a signed checkpoint commits to (the
// entry proof, checked by verifyEntry). So no one need read the other
// lines, nor the journal.

// doneEvent is the instruction a corporate_action_done entry carries.
type doneEvent struct {
	Type          string `json:"type"`
	InstructionID string `json:"instruction_id"`
	Symbol        string `json:"symbol"`
	Holders       uint64 `json:"holders"`
	Total         string `json:"total"`
	Fractions     string `json:"fractions"`
	LinesRoot     string `json:"lines_root"`
}

// verifyLine checks the line proof lineJSON against the completion entry
// seq found in entryJSON (which verifyEntry has checked against a
// checkpoint), and returns the line's proof.
func verifyLine(entryJSON []byte, seq uint64, lineJSON []byte) (ledger.CorporateActionLineProof, error) {
	var p ledger.CorporateActionLineProof
	if err := decodeFile(lineJSON, &p); err != nil {
		return p, fmt.Errorf("line: %w", err)
	}
	if p.DoneSeq != seq {
		return p, fmt.Errorf("corporate action %s completed in journal entry %d; give that entry and its proof, not entry %d", p.ID, p.DoneSeq, seq)
	}
	e, err := decodeEntry(entryJSON, seq)
	if err != nil {
		return p, fmt.Errorf("entry: %w", err)
	}
	var done doneEvent
	if err := json.Unmarshal(e.Instruction, &done); err != nil || done.Type != ledger.JournalCorporateActionDone {
		return p, fmt.Errorf("entry %d is not the completion of a corporate action", seq)
	}
	switch {
	case done.InstructionID != p.ID:
		return p, fmt.Errorf("entry %d completes corporate action %s, the line is of %s", seq, done.InstructionID, p.ID)
	case done.LinesRoot != p.Root || done.Holders != p.Size:
		return p, fmt.Errorf("entry %d commits to %d lines with root %s; the line's proof is for %d lines with root %s", seq, done.Holders, done.LinesRoot, p.Size, p.Root)
	}
	if err := ledger.VerifyCorporateActionLine(p); err != nil {
		return p, fmt.Errorf("the line of %s (units %s, amount %s) is not proved under lines_root %s: %w", p.Line.Party, p.Line.Units, p.Line.Amount, p.Root, err)
	}
	return p, nil
}
