package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrNoCorporateAction is returned for an instruction id that started no
// corporate action.
var ErrNoCorporateAction = errors.New("ledger: no corporate action with that instruction id")

// ErrCorporateActionRunning is returned for the proof of a line of an
// action that has not completed: its lines have no root yet.
var ErrCorporateActionRunning = errors.New("ledger: the corporate action is still running")

// ErrNoCorporateActionLine is returned for the proof of a party's line that
// the action does not have.
var ErrNoCorporateActionLine = errors.New("ledger: the corporate action has no line of that party")

// CorporateActionLine is one holder's line: units (held at the record
// point for a distribution, after the split for a split) and the cash paid.
type CorporateActionLine struct {
	Party  string          `json:"party"`
	Units  decimal.Decimal `json:"units"`
	Amount decimal.Decimal `json:"amount"`
}

// CorporateActionPage is GET /v1/corporate-actions/{id}: the action's
// summary so far and a page of its lines in party order.
type CorporateActionPage struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Symbol    string `json:"symbol"`
	Issuer    string `json:"issuer"`
	Seq       uint64 `json:"seq"`
	RecordSeq uint64 `json:"record_seq"`
	Status    string `json:"status"`
	// Holders counts the lines so far; Total the cash paid; Fractions what
	// rounding left unpaid (cash) or cancelled (units).
	Holders   uint64          `json:"holders"`
	Total     decimal.Decimal `json:"total"`
	Fractions decimal.Decimal `json:"fractions"`
	// Escrow is the cash still held for the holders not yet paid.
	Escrow decimal.Decimal `json:"escrow"`
	// DoneSeq is the journal entry that completed it, whose instruction
	// carries LinesRoot: the root of the RFC 6962 tree of its lines.
	DoneSeq   uint64                `json:"done_seq,omitempty"`
	LinesRoot string                `json:"lines_root,omitempty"`
	Lines     []CorporateActionLine `json:"lines"`
	Next      string                `json:"next,omitempty"`
}

// CorporateActionQuery selects a page of an action's lines: those after
// party After, at most Limit; Party, when set, only that party's line.
type CorporateActionQuery struct {
	ID    string
	After string
	Limit int
	Party string
}

// CorporateAction answers a page of the corporate action started by the
// instruction q.ID.
func (s *Store) CorporateAction(q CorporateActionQuery) (out CorporateActionPage, err error) {
	err = s.view(func(tx *kv.Tx) error {
		b := tx.Bucket(bucketCorpActions)
		seq := b.Get(append([]byte{caByID}, q.ID...))
		if len(seq) != 8 {
			return ErrNoCorporateAction
		}
		act := loadCorpAction(b, binary.BigEndian.Uint64(seq))
		out = CorporateActionPage{
			ID: act.id, Type: string(act.ca.Type), Symbol: act.ca.Symbol, Issuer: act.ca.Issuer, Seq: act.seq,
			RecordSeq: act.recordSeq, Status: CorporateActionRunning, Holders: act.lines, Total: act.total,
			Fractions: act.fractions, Escrow: act.escrow, Lines: []CorporateActionLine{},
		}
		if act.done {
			out.Status, out.DoneSeq, out.LinesRoot = CorporateActionDone, act.doneSeq, hex.EncodeToString(act.root[:])
		}
		prefix := caKey(caLine, act.seq)
		if q.Party != "" {
			if v := b.Get(append(bytes.Clone(prefix), q.Party...)); v != nil {
				l := decodeCorpLine(q.Party, v)
				out.Lines = append(out.Lines, CorporateActionLine{Party: l.party, Units: l.units, Amount: l.amount})
			}
			return nil
		}
		c := b.Cursor()
		k, v := c.Seek(append(bytes.Clone(prefix), q.After...))
		if k != nil && q.After != "" && string(k[len(prefix):]) == q.After {
			k, v = c.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(out.Lines) == q.Limit {
				out.Next = out.Lines[len(out.Lines)-1].Party
				break
			}
			l := decodeCorpLine(string(k[len(prefix):]), v)
			out.Lines = append(out.Lines, CorporateActionLine{Party: l.party, Units: l.units, Amount: l.amount})
		}
		return nil
	})
	return out, err
}

// CorporateActionLineProof is the inclusion proof of party's line in the
// tree of a completed action's lines, for `node verify`.
type CorporateActionLineProof struct {
	// ID is the action's instruction id; DoneSeq its completion's journal
	// entry, whose instruction carries Root as lines_root.
	ID      string              `json:"id"`
	DoneSeq uint64              `json:"done_seq"`
	Line    CorporateActionLine `json:"line"`
	Index   uint64              `json:"index"`
	Size    uint64              `json:"size"`
	Root    string              `json:"root"`
	Proof   []string            `json:"proof"`
}

// CorporateActionProof proves party's line of the completed action id.
func (s *Store) CorporateActionProof(id, party string) (out CorporateActionLineProof, err error) {
	err = s.view(func(tx *kv.Tx) error {
		b := tx.Bucket(bucketCorpActions)
		seq := b.Get(append([]byte{caByID}, id...))
		if len(seq) != 8 {
			return ErrNoCorporateAction
		}
		act := loadCorpAction(b, binary.BigEndian.Uint64(seq))
		if !act.done {
			return fmt.Errorf("%w: %s", ErrCorporateActionRunning, id)
		}
		v := b.Get(caKey(caLine, act.seq, party))
		if v == nil {
			return fmt.Errorf("%w: %s in %s", ErrNoCorporateActionLine, party, id)
		}
		l := decodeCorpLine(party, v)
		proof, err := tlog.ProveRecord(int64(act.lines), int64(l.index), caHashes{tx.Bucket(bucketCorpTree), act.seq})
		if err != nil {
			return err
		}
		out = CorporateActionLineProof{ID: id, DoneSeq: act.doneSeq, Line: CorporateActionLine{Party: party, Units: l.units, Amount: l.amount},
			Index: l.index, Size: act.lines, Root: hex.EncodeToString(act.root[:])}
		for _, h := range proof {
			out.Proof = append(out.Proof, hex.EncodeToString(h[:]))
		}
		return nil
	})
	return out, err
}

// VerifyCorporateActionLine checks, offline, that line is leaf index of
// the tree of size lines whose root is root (hex), by proof.
func VerifyCorporateActionLine(p CorporateActionLineProof) error {
	rootBytes, err := hex.DecodeString(p.Root)
	if err != nil || len(rootBytes) != tlog.HashSize {
		return fmt.Errorf("root %q is not a hash", p.Root)
	}
	proof := make(tlog.RecordProof, len(p.Proof))
	for i, h := range p.Proof {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			return fmt.Errorf("proof hash %d is not a hash", i)
		}
		proof[i] = tlog.Hash(b)
	}
	leaf := tlog.RecordHash(CorporateActionLeaf(p.Line.Party, p.Line.Units.String(), p.Line.Amount.String()))
	return tlog.CheckRecord(proof, int64(p.Size), tlog.Hash(rootBytes), int64(p.Index), leaf)
}

// RunningCorporateActions lists the accepted seqs of the actions steps may
// advance now: the first running one of each instrument, oldest first.
// It reads the in-memory set Apply publishes, so polling it costs nothing.
func (s *Store) RunningCorporateActions() (out []uint64, err error) {
	r := s.corpRunning.Load()
	if r == nil {
		return nil, errors.New("ledger: store is closed")
	}
	return r.heads(), nil
}
